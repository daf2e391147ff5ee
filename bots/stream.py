"""A WebSocket market data streamer: prints the market as it comes.

Prints each `market_data` for the instruments asked for (SPX and SPY unless told
otherwise, `--all` for every book), every public print from `trade`, news (`event`),
the role's `signal`s, phase changes and the team's own fills. The stream resumes by
itself after a drop, without a message lost or repeated.

    python -m bots.stream --url http://127.0.0.1:8000 --seconds 30
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Sequence

from bots.cli import arguments, configure_logging, team_key
from exchange.client import Client, Message, typed
from exchange.wire.messages import Event, ExecutionReport, MarketData, PhaseChange, Signal, Tape


def describe(message: Message, books: set[str] | None) -> str | None:
    """One line for a message worth printing, None for the rest."""
    data = typed(message)
    if isinstance(data, MarketData):
        if books is not None and data.instrument_id not in books:
            return None
        fair = "" if data.fair_value is None else f"  fair {data.fair_value}"
        return (f"{data.instrument_id:<24} {data.bid_size:>5} x {data.bid} / "
                f"{data.ask} x {data.ask_size}  last {data.last}{fair}")  # fmt: skip
    if isinstance(data, Tape):
        return "\n".join(f"trade {p.instrument_id} {p.quantity} @ {p.price} ({p.aggressor})"
                         for p in data.trades)  # fmt: skip
    if isinstance(data, Event):
        return f"NEWS {data.game_time}: {data.headline}"
    if isinstance(data, Signal):
        return f"SIGNAL {data.kind}: {json.dumps(data.details)}"
    if isinstance(data, PhaseChange):
        return f"PHASE {data.previous} -> {data.phase} at {data.game_time}"
    if isinstance(data, ExecutionReport) and data.exec_type == "trade":
        return f"FILL {data.side} {data.last_quantity} {data.instrument_id} @ {data.last_price}"
    return None


async def watch(
    url: str, key: str, seconds: float | None, books: set[str] | None
) -> dict[str, object]:
    """Print until `seconds` pass; what arrived, by type, and the reconnections."""
    counts: Counter[str] = Counter()
    async with Client(url, key) as client:
        stream = client.stream()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for message in stream:
                    counts[message.type] += 1
                    line = describe(message, books)
                    if line:
                        print(line, flush=True)
    return {"messages": dict(counts), "reconnects": stream.reconnects}


def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments(__doc__ or "", strategy=False)
    parser.add_argument("--role", default="retail", help="role of a registered team")
    parser.add_argument("--instrument", action="append", default=[],
                        help="print market data for this book (repeatable)")  # fmt: skip
    parser.add_argument("--all", action="store_true", help="print market data for every book")
    args = parser.parse_args(argv)
    configure_logging(args.quiet)
    books = None if args.all else set(args.instrument or ["SPX", "SPY"])
    key = asyncio.run(team_key(args.url, args.key, args.team, args.role))
    started = time.monotonic()
    try:
        seen = asyncio.run(watch(args.url, key, args.seconds, books))
    except KeyboardInterrupt:
        return 130
    seconds = round(time.monotonic() - started, 1)
    print(json.dumps({"bot": "stream", "seconds": seconds, **seen}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
