"""The command line every example bot shares: where the exchange is, whose key to use
(a fresh team of the bot's role when none is given), how long to run.

    python -m bots.market_maker --url http://127.0.0.1:8000 [--key KEY | --team NAME]
                                [--seconds N] [--interval S] [--set levels=4 ...]

The last line a bot prints is one JSON object: what the run did (for scripts and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from exchange.client import Client, ExchangeError, RemoteRunner
from exchange.domain.strategy import TradingStrategy

DEFAULT_URL = "http://127.0.0.1:8000"


def arguments(description: str, *, strategy: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the exchange (default {DEFAULT_URL})")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--key", help="the team's API key (default: register a fresh team)")
    who.add_argument("--team", help="register a team of this name (default: a generated one)")
    parser.add_argument(
        "--seconds", type=float, default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )  # fmt: skip
    if strategy:
        parser.add_argument(
            "--interval", type=float, default=1.0,
            help="seconds between market snapshots shown to the strategy",
        )  # fmt: skip
        parser.add_argument(
            "--set", action="append", default=[], metavar="NAME=VALUE",
            help="a strategy parameter, e.g. --set size=20 (repeatable)",
        )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="log only warnings")
    return parser


def parameters(pairs: Sequence[str]) -> dict[str, Any]:
    """`["size=20", "width=0.03", "underlying=SPY"]` -> keyword arguments (numbers where
    they read as numbers)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"--set wants NAME=VALUE, not {pair!r}")
        out[name] = _number(text)
    return out


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


async def team_key(url: str, key: str | None, team: str | None, role: str) -> str:
    """The key to use: the given one, or a freshly registered team's."""
    if key is not None:
        return key
    name = team or f"{role}-{secrets.token_hex(3)}"
    registered = await Client.register(url, name, role)
    print(f"registered {registered.team_name!r} as {registered.team_id} ({role}); "
          f"key {registered.api_key}", flush=True)  # fmt: skip
    return registered.api_key


def loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def run_strategy(
    name: str,
    make: Callable[..., TradingStrategy],
    role: str,
    description: str,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the command line, build the strategy, run it remotely; print a JSON summary."""
    args = arguments(description).parse_args(argv)
    configure_logging(args.quiet)
    try:
        strategy = make(**parameters(args.set))
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"{name}: bad parameters: {exc}") from None
    try:
        key = asyncio.run(team_key(args.url, args.key, args.team, role))
        runner = RemoteRunner(strategy, args.url, key, interval=args.interval)
        try:
            asyncio.run(runner.run(args.seconds))
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    except ExchangeError as exc:
        print(f"{name}: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError) as exc:
        print(f"{name}: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"bot": name, **msgspec.to_builtins(runner.stats)}), flush=True)
    return 0
