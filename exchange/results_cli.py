"""`python -m exchange results --db game.db --out DIR`: a game's final results as files
(what they are: `exchange/results.py`).

The numbers are the server's own: the game's `Exchange` is rebuilt from a consistent copy
of the database (a running game's file is only read) and its scores are asked.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from exchange.results import Results, archived, backup, collect, write
from exchange.store.db import Database


def add_parser(commands: Any) -> None:
    results = commands.add_parser(
        "results", help="write a game's leaderboard, KPIs, analytics and an HTML report"
    )
    results.add_argument("--db", required=True, metavar="FILE", help="the game's database")
    results.add_argument("--out", required=True, metavar="DIR", help="where to write")
    results.add_argument(
        "--round", type=int, metavar="N", help="an earlier round (default: the current one)"
    )
    results.set_defaults(run=cmd_results)


def cmd_results(args: argparse.Namespace) -> int:
    current = args.round is None
    results = results_from_db(args.db) if current else archived(args.db, args.round)
    for path in write(results, Path(args.out)):
        print(path)
    return 0


def results_from_db(path: str | Path) -> Results:
    """The current round's results, rebuilt from a copy of the database."""
    from exchange.app import Exchange  # the server stack, only for this command
    from exchange.config import load_config

    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "game.db"
        backup(Path(path), copy)
        with Database.open(copy, readonly=True) as db:
            state = db.load_game_state()
        if "config" not in state:
            raise ValueError(f"{path}: the game's config is not recorded")
        exchange = Exchange(load_config(overrides=state["config"]), db_path=str(copy))
        return collect(exchange.scores, exchange.clock.now(), copy, exchange.control.round)
