"""`python -m exchange replay FILE`: play a scenario, write its report, check it.

Exit status: 0 when every expectation holds, 1 when one does not (each is printed),
2 for a file that cannot be read. `--update` writes the run's digest into the file.
A recorded game's database (`replay game.db`) is played again from its arrivals log and
must reproduce its trades exactly: "reproduced: N trades", or the first divergence and
status 1. With `--swap TEAM=module:Class(...)` the game (a scenario, or a database made
into one) is played twice, as recorded and with the team's bot replaced, and the two
results are shown side by side.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from exchange.replay.engine import Replay
from exchange.replay.logged import reproduce
from exchange.replay.quality import summary as quality_summary
from exchange.replay.recorded import is_database, scenario_from_db
from exchange.replay.report import Report, build_report
from exchange.replay.scenario import Scenario, load_scenario, seconds
from exchange.replay.strategies import parse_swap

DIGEST_LINE = re.compile(r'^(\s*)digest:\s*"?[0-9a-f]*"?\s*$', re.MULTILINE)


def add_parser(commands: Any) -> None:
    replay = commands.add_parser(
        "replay", help="play a scenario on the virtual clock and report on it"
    )
    replay.add_argument("scenario", metavar="FILE",
                        help="a scenario YAML file, or a recorded game's database")  # fmt: skip
    replay.add_argument("--swap", action="append", default=[], metavar="TEAM=STRATEGY",
                        help="replace a team's bot, e.g. 'Maker=bots.market_maker:"
                        "MarketMaker(levels=3)'; plays the day twice and compares")  # fmt: skip
    replay.add_argument("--out", metavar="DIR", default="replays",
                        help="where the report goes (default: replays/)")  # fmt: skip
    replay.add_argument("--update", action="store_true",
                        help="write this run's digest into the scenario file")  # fmt: skip
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(run=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from_db = is_database(args.scenario)
    if from_db and args.update:
        raise ValueError("--update writes into a scenario file, not a database")
    swaps = {team: (target, params) for team, target, params in map(parse_swap, args.swap)}
    if from_db and not swaps:
        return reproduce_game(args.scenario)
    scenario = scenario_from_db(args.scenario) if from_db else load_scenario(args.scenario)
    report = play(scenario, {}, args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{scenario.name}.report.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(report)))
    print(summary(report))
    print(f"report: {path}")
    if swaps:
        swapped = play(scenario, swaps, args.quiet)
        swapped_path = out / f"{scenario.name}.swapped.report.json"
        swapped_path.write_bytes(msgspec.json.format(msgspec.json.encode(swapped)))
        print(compare(report, swapped, list(swaps)))
        print(f"swapped report: {swapped_path}")
    if args.update:
        write_digest(Path(args.scenario), report.digest)
        print(f"digest written to {args.scenario}")
        report.failures = [f for f in report.failures if not f.startswith("digest ")]
    for failure in report.failures:
        print(f"EXPECTATION FAILED: {failure}", file=sys.stderr)
    return 1 if report.failures else 0


def reproduce_game(path: str) -> int:
    """Replay a recorded game from its arrivals log: 0 if every trade came out as recorded."""
    outcome = reproduce(path)
    if outcome.reproduced:
        print(f"reproduced: {outcome.trades} trades ({outcome.arrivals} arrivals)")
        return 0
    print(f"diverged: {outcome.divergence}")
    for refusal in outcome.refusals:
        print(f"  refused in the replay: {refusal}")
    return 1


def play(scenario: Scenario, swaps: dict[str, tuple[str, dict[str, Any]]], quiet: bool) -> Report:
    replay = Replay(scenario, swaps)
    label = scenario.name + (" (swapped)" if swaps else "")
    began = time.perf_counter()
    total = seconds(scenario.duration)
    with tqdm(
        total=total, unit="game s", desc=label, disable=True if quiet else None, leave=False
    ) as bar:
        replay.run(bar.update)
    report = build_report(replay)
    report.wall_seconds = round(time.perf_counter() - began, 2)
    if swaps:
        report.failures = []  # a counterfactual day has no expectations of its own
    return report


def summary(report: Report) -> str:
    lines = [
        f"{report.scenario}: seed {report.seed}, {report.start} .. {report.end}",
        f"  {report.game_seconds} game seconds in {report.wall_seconds} s wall; "
        f"{report.trades} trades, volume {report.volume}, {report.news} news, "
        f"signals {report.signals}",
        f"  rejections {report.rejections or '{}'}",
        f"  {'team':<22} {'role':<13} {'fills':>6} {'P&L':>12} {'penalties':>10} {'score':>12}",
    ]
    for t in report.teams:
        s = t.score
        lines.append(
            f"  {t.name:<22} {t.role:<13} {t.fills:>6} {s['pnl']:>12,.2f} "
            f"{s['penalties']:>10,.2f} {s['score']:>12,.2f}"
        )
    if report.market_quality is not None:
        lines += quality_summary(report.market_quality)
    lines.append(f"  invariants: {'hold' if not report.invariants else report.invariants}")
    lines.append(f"  digest {report.digest}")
    return "\n".join(lines)


def compare(before: Report, after: Report, teams: list[str]) -> str:
    """The swapped teams' results as recorded and with their new bot, on the same day."""
    old = {t.name: t for t in before.teams}
    lines = [f"counterfactual: {', '.join(teams)} with another bot on the same day"]
    for new in after.teams:
        if new.name not in teams:
            continue
        was = old[new.name]
        lines.append(
            f"  {new.name}: P&L {was.score['pnl']:,.2f} -> {new.score['pnl']:,.2f}, "
            f"score {was.score['score']:,.2f} -> {new.score['score']:,.2f}, "
            f"fills {was.fills} -> {new.fills}"
        )
    return "\n".join(lines)


def write_digest(path: Path, digest: str) -> None:
    """Put the digest into the file's `expect:` block, keeping everything else as written."""
    text = path.read_text()
    if DIGEST_LINE.search(text):
        text = DIGEST_LINE.sub(lambda m: f'{m.group(1)}digest: "{digest}"', text, count=1)
    elif re.search(r"^expect:\s*$", text, re.MULTILINE):
        text = re.sub(r"^expect:\s*$", f'expect:\n  digest: "{digest}"', text, count=1,
                      flags=re.MULTILINE)  # fmt: skip
    else:
        text = text.rstrip("\n") + f'\nexpect:\n  digest: "{digest}"\n'
    path.write_text(text)
