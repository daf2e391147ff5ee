"""The command line: `python -m exchange <command>` (or `exchange <command>`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from exchange import __version__, results_cli
from exchange.admin_cli import add_parser as add_admin_parser
from exchange.config import GameConfig, load_config, preset_names
from exchange.domain.instruments import build_chain
from exchange.domain.ticks import to_price
from exchange.replay import cli as replay_cli
from exchange.replay import dbreport
from exchange.store.schema import StoreError
from exchange.tournament import cli as tournament_cli
from exchange.wire.admin import MAX_SPEED, MIN_SPEED


def config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", action="append", default=[], metavar="FILE",
                        help="a game config YAML file (repeatable; later files win)")  # fmt: skip
    parser.add_argument("--preset", choices=preset_names(), help="a named preset")
    parser.add_argument("--seed", type=int, help="the game's seed (overrides the config)")


def load(args: argparse.Namespace) -> GameConfig:
    overrides: dict[str, Any] = {} if args.seed is None else {"seed": args.seed}
    clock = clock_overrides(args)
    if clock:
        overrides["clock"] = clock
    return load_config(args.config, args.preset, overrides)


def clock_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """`serve --speed` and `--start-paused` over the config's `clock` section."""
    clock: dict[str, Any] = {}
    if getattr(args, "speed", None) is not None:
        clock["speed"] = args.speed
    if getattr(args, "start_paused", False):
        clock["start_paused"] = True
    return clock


def speed_factor(text: str) -> float:
    """A clock speed, game seconds per wall second: the range `admin speed` allows."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not MIN_SPEED <= value <= MAX_SPEED:  # NaN fails both
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_SPEED:g} to {MAX_SPEED:g}, not {text}"
        )
    return value


def cmd_instruments(args: argparse.Namespace) -> int:
    config = load(args)
    for i in build_chain(config.instruments, args.date):
        strike = "" if i.strike is None else f"{to_price(i.strike):.2f}"
        expiry = "" if i.expiry is None else i.expiry.isoformat()
        print(f"{i.id:<28} {i.underlying:<4} {i.kind or 'UNDERLYING':<10} {strike:>8} {expiry}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    sys.stdout.write(msgspec.yaml.encode(load(args)).decode())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from exchange import logs
    from exchange.app import Exchange
    from exchange.web.server import create_app, uvicorn_config

    config = load(args)
    logs.configure(args.log_level)
    app = create_app(Exchange(config, db_path=args.db))
    settings = uvicorn_config(app, args.host, args.port)
    server = uvicorn.Server(settings)
    server.run()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from exchange.store.export import export

    for path in export(args.db, args.out):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exchange", description="Exchange server for trading games."
    )
    parser.add_argument("--version", action="version", version=f"exchange {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    instruments = commands.add_parser("instruments", help="list the instruments a game lists")
    config_arguments(instruments)
    instruments.add_argument("--date", type=dt.date.fromisoformat, default=dt.date.today(),
                             help="the listing date, YYYY-MM-DD (default: today)")  # fmt: skip
    instruments.set_defaults(run=cmd_instruments)
    serve = commands.add_parser("serve", help="run the exchange server")
    config_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", metavar="FILE", help="SQLite database; restarts restore from it "
                       "(default: keep nothing)")  # fmt: skip
    serve.add_argument("--speed", type=speed_factor, metavar="FACTOR",
                       help="game seconds per wall second, e.g. 60 (clock.speed)")  # fmt: skip
    serve.add_argument("--start-paused", action="store_true",
                       help="wait, the clock stopped, for `admin start`")  # fmt: skip
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"])  # fmt: skip
    serve.set_defaults(run=cmd_serve)
    exporter = commands.add_parser(
        "export", help="write a game's trades, orders, prices, events and positions as CSV"
    )
    exporter.add_argument("--db", required=True, metavar="FILE", help="the game's database")
    exporter.add_argument("--out", required=True, metavar="DIR", help="where to write")
    exporter.set_defaults(run=cmd_export)
    replay_cli.add_parser(commands)
    dbreport.add_parser(commands)
    results_cli.add_parser(commands)
    tournament_cli.add_parser(commands)
    config = commands.add_parser("config", help="print the effective game config as YAML")
    config_arguments(config)
    config.set_defaults(run=cmd_config)
    add_admin_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, StoreError) as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
