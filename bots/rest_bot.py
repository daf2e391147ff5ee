"""The smallest bot: plain REST calls, no stream, no strategy interface.

Each round it reads the prices, buys one contract at the best ask (a limit order at
the touch, so it trades at once), polls `GET /fills` until the fill shows, rests a sell
a little above the ask, cancels it, then sells back at the best bid to end flat. The
instrument is the SPX call nearest the money in the nearest expiry (or `--instrument`).

    python -m bots.rest_bot --url http://127.0.0.1:8000 --seconds 30
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import msgspec

from bots.cli import arguments, configure_logging, team_key
from exchange.client import Client, ExchangeError
from exchange.wire.models import FillView, PriceLine

ROLE = "hedge_fund"


async def pick_instrument(client: Client, wanted: str | None) -> str:
    """The `wanted` instrument, or the nearest-the-money SPX call with a two-sided book."""
    if wanted is not None:
        return wanted
    prices = await client.prices()
    spot = prices.underlyings.get("SPX") or 4400.0
    lines = {p.instrument_id: p for p in prices.instruments if p.bid and p.ask}
    listed = await client.instruments()
    calls = [i for i in listed if i.kind == "CALL" and i.underlying == "SPX"]
    calls = [i for i in calls if i.instrument_id in lines]
    if not calls:
        return "SPX"
    nearest = min(calls, key=lambda i: (i.expiry or "", abs((i.strike or 0.0) - spot)))
    return nearest.instrument_id


async def top(client: Client, instrument: str) -> PriceLine | None:
    prices = await client.prices()
    return next((p for p in prices.instruments if p.instrument_id == instrument), None)


async def wait_for_fill(client: Client, since: int, timeout: float = 5.0) -> list[FillView]:
    """Poll `GET /fills` (a REST-only bot has no stream) until a new fill shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fills = await client.fills(since_trade_id=since)
        if fills:
            return fills
        await asyncio.sleep(0.2)
    return []


class Tally(msgspec.Struct):
    orders: int = 0
    fills: int = 0
    cancels: int = 0
    errors: dict[str, int] = {}
    last_trade_id: int = 0


async def one_round(client: Client, instrument: str, tally: Tally) -> None:
    await client.cancel_all(instrument)  # a hedge fund may not rest a bid and an ask
    line = await top(client, instrument)
    if line is None or line.ask is None or line.bid is None:
        print(f"{instrument}: no two-sided market yet", flush=True)
        return
    buy = await client.place_order(instrument, "buy", 1, price=line.ask, client_order_id="buy")
    tally.orders += 1
    print(f"order {buy.order_id}: buy 1 {instrument} @ {line.ask}: {buy.status}")
    for f in await wait_for_fill(client, tally.last_trade_id):
        print(f"fill: {f.side} {f.quantity} @ {f.price} ({f.liquidity_type}), "
              f"position {f.position_after}")  # fmt: skip
        tally.fills += 1
        tally.last_trade_id = max(tally.last_trade_id, f.trade_id)
    await client.cancel_all(instrument)  # whatever of the buy did not fill
    rest_price = round(line.ask * 1.01, 2)
    resting = await client.place_order(instrument, "sell", 1, price=rest_price)
    tally.orders += 1
    print(f"order {resting.order_id}: sell 1 @ {rest_price} rests")
    cancelled = await client.cancel(resting.order_id)
    tally.cancels += 1
    print(f"order {cancelled.order_id}: cancelled ({cancelled.cancelled_quantity} left)")
    line = await top(client, instrument)
    if line is not None and line.bid is not None:
        sell = await client.place_order(instrument, "sell", 1, price=line.bid)
        tally.orders += 1
        print(f"order {sell.order_id}: sell 1 @ {line.bid} to flatten: {sell.status}", flush=True)


async def trade(url: str, key: str, seconds: float | None, instrument: str | None) -> Tally:
    tally = Tally()
    until = None if seconds is None else time.monotonic() + seconds
    async with Client(url, key) as client:
        chosen = await pick_instrument(client, instrument)
        print(f"trading {chosen}", flush=True)
        while until is None or time.monotonic() < until:
            try:
                await one_round(client, chosen, tally)
            except ExchangeError as exc:
                tally.errors[exc.code] = tally.errors.get(exc.code, 0) + 1
                print(f"refused: {exc.code}: {exc.message}", flush=True)
            await asyncio.sleep(1.0)
        await client.cancel_all()
        account = await client.positions()
        held = {p.instrument_id: p.quantity for p in account.positions if p.quantity}
        print(f"positions {held}, cash {account.cash:.2f}, P&L {account.total_pnl:.2f}")
    return tally


def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments(__doc__ or "", strategy=False)
    parser.add_argument("--instrument", help="trade this instrument (default: an SPX call)")
    args = parser.parse_args(argv)
    configure_logging(args.quiet)
    key = asyncio.run(team_key(args.url, args.key, args.team, ROLE))
    try:
        tally = asyncio.run(trade(args.url, key, args.seconds, args.instrument))
    except KeyboardInterrupt:
        return 130
    print(json.dumps({"bot": "rest_bot", **msgspec.to_builtins(tally)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
