"""The load generator: N client bots, each its own team, at a target total order rate.

Each bot keeps one request in flight on its own `Client` (keep-alive HTTP) and listens
on its own stream. It sends, at its share of the rate, a mix drawn from a seeded
generator: resting limit orders a few ticks off the mid (50%), crossing orders that
trade against them (30%), and cancels of its oldest resting order (20%). Measured:
*accept latency*, from sending an order to its HTTP answer (validated, not yet matched),
and *fill latency*, from sending a crossing order to its own `execution_report` on the
stream. Printed: a histogram of each, then one JSON line with orders/s, p50/p90/p99/max
and errors by code. Bounded in time, and loopback only.

    python -m bots.load --url http://127.0.0.1:8000 --bots 10 --rate 200 --seconds 8

Against `serve --preset bench` (no rate or position limits) it measures the server; on
other presets each market maker team may send 10 orders a second, so keep
rate / bots under 10. The generator runs on the same machine as the server and shares
its cores: its figures include the client's own time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
import numpy as np

from bots.cli import DEFAULT_URL, loopback
from exchange.client import Client, ExchangeError, OrderNotFoundError, Stream
from exchange.domain.ticks import TICKS_PER_UNIT, to_price
from exchange.wire.messages import Message

INSTRUMENT = "SPX"
ROLE = "market_maker"
MAX_RESTING = 20
"""Resting orders a bot keeps at most; past it, it cancels instead of adding."""
EDGES_MS = (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


class LoadStats(msgspec.Struct):
    orders: int = 0
    """Orders the exchange accepted."""
    cancels: int = 0
    cancels_too_late: int = 0
    """Cancels that found the order already filled (404 `ORDER_NOT_FOUND`)."""
    errors: dict[str, int] = {}
    accept_ms: list[float] = []
    fill_ms: list[float] = []

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class LoadBot:
    """One team sending its share of the load, one request at a time."""

    def __init__(
        self, n: int, client: Client, mid: int, stats: LoadStats, rng: np.random.Generator
    ) -> None:
        self.n, self.client, self.mid, self.stats, self.rng = n, client, mid, stats, rng
        self.step = max(1, mid // 10_000)
        """One basis point of the mid, in ticks: the grid the bots quote on."""
        self.resting: deque[str] = deque()
        self.crossing: dict[str, float] = {}
        """client_order_id -> when the crossing order was sent (perf_counter)."""
        self.count = 0

    async def run(self, until: float, interval: float) -> None:
        stream = self.client.stream()
        listener = asyncio.create_task(self.listen(stream))
        due = time.perf_counter()
        try:
            while (now := time.perf_counter()) < until:
                if due > now:
                    await asyncio.sleep(due - now)
                # Behind schedule (a slow answer): skip the missed slots rather than burst.
                due = max(due + interval, now)
                await self.one()
            await self.drain()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await stream.aclose()

    async def drain(self) -> None:
        """After the last order: let the last fills arrive."""
        await asyncio.sleep(0.2)

    async def one(self) -> None:
        draw = float(self.rng.random())
        if self.resting and (draw >= 0.8 or len(self.resting) >= MAX_RESTING):
            await self.cancel(self.resting.popleft())
        elif draw < 0.3:
            await self.order(crossing=True)
        else:
            await self.order(crossing=False)

    async def order(self, crossing: bool) -> None:
        side = "buy" if self.rng.random() < 0.5 else "sell"
        sign = 1 if side == "buy" else -1
        offset = 12 if crossing else -int(self.rng.integers(2, 11))
        price = to_price(self.mid + sign * offset * self.step)
        quantity = int(self.rng.integers(1, 6))
        self.count += 1
        cid = f"L{self.n}-{self.count}"
        started = time.perf_counter()
        if crossing:
            self.crossing[cid] = started
        try:
            ack = await self.client.place_order(INSTRUMENT, side, quantity, price, cid)
        except ExchangeError as exc:
            self.stats.error(exc.code)
            self.crossing.pop(cid, None)
            return
        self.stats.accept_ms.append((time.perf_counter() - started) * 1000)
        self.stats.orders += 1
        self.accepted(ack.order_id)
        if not crossing:
            self.resting.append(ack.order_id)

    def accepted(self, order_id: str) -> None:
        """An order the exchange answered 201 (a hook for bots that check their stream)."""

    async def cancel(self, order_id: str) -> None:
        try:
            await self.client.cancel(order_id)
        except OrderNotFoundError:
            self.stats.cancels_too_late += 1  # it filled while the cancel was on its way
            return
        except ExchangeError as exc:
            self.stats.error(exc.code)
            return
        self.stats.cancels += 1

    def follow(self, data: dict[str, Any]) -> None:
        """Quote around the book's current mid, so crossing orders keep crossing."""
        bid, ask = data.get("bid"), data.get("ask")
        if bid is not None and ask is not None:
            self.mid = round((bid + ask) / 2 * TICKS_PER_UNIT)

    async def listen(self, stream: Stream) -> None:
        async for message in stream:
            self.handle(message)

    def handle(self, message: Message) -> None:
        data = message.data
        if message.type == "market_data" and data.get("instrument_id") == INSTRUMENT:
            self.follow(data)
        if message.type != "execution_report" or data.get("exec_type") != "trade":
            return
        if data.get("remaining") == 0 and data.get("order_id") in self.resting:
            self.resting.remove(data["order_id"])  # filled: nothing left to cancel
        started = self.crossing.pop(data.get("client_order_id") or "", None)
        if started is not None and data.get("liquidity_type") == "taker":
            self.stats.fill_ms.append((time.perf_counter() - started) * 1000)


async def reference_mid(url: str) -> int:
    """SPX's mid (or simulated price) in ticks; 4400.00 on a market with neither."""
    async with Client(url) as client:
        prices = await client.prices()
    line = next((p for p in prices.instruments if p.instrument_id == INSTRUMENT), None)
    if line is not None and line.bid is not None and line.ask is not None:
        return round((line.bid + line.ask) / 2 * TICKS_PER_UNIT)
    spot = prices.underlyings.get(INSTRUMENT)
    return round((spot or 4400.0) * TICKS_PER_UNIT)


async def run_load(url: str, bots: int, rate: float, seconds: float, seed: int = 1) -> LoadStats:
    """Register `bots` teams and drive them for `seconds`; what they measured."""
    if not loopback(url):
        raise ValueError(f"the load generator only talks to loopback, not {url}")
    if bots < 1 or rate <= 0 or seconds <= 0:
        raise ValueError("bots >= 1, rate > 0 and seconds > 0, please")
    tag = secrets.token_hex(3)
    teams = [await Client.register(url, f"load-{tag}-{n}", ROLE) for n in range(bots)]
    mid = await reference_mid(url)
    stats = LoadStats()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(bots)]
    clients = [Client(url, t.api_key, team_id=t.team_id, max_retries=0) for t in teams]
    started = time.perf_counter()
    try:
        runners = [LoadBot(n, c, mid, stats, rngs[n]) for n, c in enumerate(clients)]
        until, interval = started + seconds, bots / rate
        await asyncio.gather(*(r.run(until, interval) for r in runners))
    finally:
        for client in clients:
            with contextlib.suppress(ExchangeError, httpx.HTTPError):
                await client.cancel_all()
            await client.aclose()
    return stats


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    p50, p90, p99 = np.percentile(np.asarray(values), [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "p99": round(float(p99), 3), "max": round(max(values), 3)}  # fmt: skip


def summary(bots: int, rate: float, seconds: float, stats: LoadStats) -> dict[str, Any]:
    return {
        "bench": "load", "bots": bots, "seconds": seconds, "target_rate": rate,
        "orders": stats.orders, "orders_per_s": round(stats.orders / seconds, 1),
        "cancels": stats.cancels, "cancels_too_late": stats.cancels_too_late,
        "fills": len(stats.fill_ms),
        "accept_ms": percentiles(stats.accept_ms), "fill_ms": percentiles(stats.fill_ms),
        "errors": dict(sorted(stats.errors.items())),
    }  # fmt: skip


def histogram(title: str, values: Sequence[float], width: int = 40) -> list[str]:
    """A text histogram on roughly logarithmic millisecond buckets."""
    if not values:
        return [f"{title}: none"]
    counts = np.histogram(values, bins=[0.0, *EDGES_MS, float("inf")])[0]
    top = max(int(counts.max()), 1)
    lines = [f"{title} ({len(values)} samples)"]
    lower = 0.0
    for edge, count in zip([*EDGES_MS, float("inf")], counts, strict=True):
        label = f"{lower:g}-{edge:g} ms" if edge != float("inf") else f">= {lower:g} ms"
        if count:
            bar = "#" * max(1, width * int(count) // top)
            lines.append(f"  {label:>14} {int(count):>7} {bar}")
        lower = edge
    return lines


def report(result: dict[str, Any], stats: LoadStats) -> None:
    for line in [*histogram("accept latency", stats.accept_ms),
                 *histogram("fill latency", stats.fill_ms)]:  # fmt: skip
        print(line)
    accept, fill = result["accept_ms"], result["fill_ms"]
    print(f"{result['bots']} bots: {result['orders_per_s']} orders/s accepted "
          f"(target {result['target_rate']}/s), {result['cancels']} cancels, "
          f"{result['fills']} fills; accept p50 {accept['p50']} p99 {accept['p99']} ms, "
          f"fill p50 {fill['p50']} p99 {fill['p99']} ms; errors {result['errors']}")  # fmt: skip
    print(f"(the generator shares this machine's {os.cpu_count()} cores with the server)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500.0, help="target orders/s, all bots")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.seconds > 600:
        parser.error("--seconds: at most 600 (a load run is bounded)")
    try:
        stats = asyncio.run(run_load(args.url, args.bots, args.rate, args.seconds, args.seed))
    except ValueError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    result = summary(args.bots, args.rate, args.seconds, stats)
    report(result, stats)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
