"""`python -m exchange tournament FILE`: play every day of a tournament file on a Dask
cluster and write its standings (CSV, JSON and an HTML report) to `--out`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import msgspec

from exchange.tournament.days import build_days
from exchange.tournament.report import html_report
from exchange.tournament.results import TournamentResults, days_csv, results, standings_csv
from exchange.tournament.run import play
from exchange.tournament.spec import load_tournament


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "tournament", help="play every team's bot over many seeded days, on Dask"
    )
    parser.add_argument("file", metavar="FILE", help="a tournament YAML file")
    parser.add_argument("--workers", type=_count, metavar="N",
                        help="worker processes of a local cluster (default: one per core; "
                        "0: play in this process)")  # fmt: skip
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                        "(default: $DASK_SCHEDULER_ADDRESS, else a local cluster)")  # fmt: skip
    parser.add_argument("--out", metavar="DIR", default="tournaments",
                        help="where the results go (default: tournaments/)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_tournament)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("cannot be negative")
    return value


def cmd_tournament(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tournament = load_tournament(args.file)
    days = build_days(tournament)
    played = play(days, args.workers, args.scheduler, args.quiet)
    outcome = results(tournament.name, tournament.seed, played)
    for path in write(outcome, Path(args.out)):
        print(path)
    print(table(outcome))
    return 0


def write(r: TournamentResults, out: Path) -> list[Path]:
    """`NAME.standings.csv`, `NAME.days.csv`, `NAME.json` and `NAME.html` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / f"{r.tournament}.standings.csv": standings_csv(r).encode(),
        out / f"{r.tournament}.days.csv": days_csv(r).encode(),
        out / f"{r.tournament}.json": msgspec.json.format(msgspec.json.encode(r)),
        out / f"{r.tournament}.html": html_report(r).encode(),
    }
    for path, data in files.items():
        path.write_bytes(data)
    return list(files)


def table(r: TournamentResults) -> str:
    lines = [f"{'format':<7} {'rank':>5} {'team':<20} {'role':<13} {'days':>4} {'lost':>4} "
             f"{'score mean':>12} {'95% interval':>25}"]  # fmt: skip
    for s in r.standings:
        rank = f"{s.rank}{'=' if s.tied_with else ''}"
        lines.append(f"{s.format:<7} {rank:>5} {s.team:<20} {s.role:<13} {s.days:>4} "
                     f"{s.lost_days:>4} {s.score_mean:>12,.2f} "
                     f"{s.ci_low:>12,.2f}..{s.ci_high:<12,.2f}")  # fmt: skip
    return "\n".join(lines)
