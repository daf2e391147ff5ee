"""The pipeline alone: what an order costs the server with no socket in the way.

An exchange (`--preset bench`: no rate or position limits, no database) runs in this
process, and N in-process teams put their orders straight onto OrderQueue, as the API
does after decoding a request, each keeping `--window` in flight: the validator, the
matcher, the publisher and the release run as they do in the server, and each team's
stream messages are encoded and kept in its history, but no connection reads them. The
orders are `benchmarks.e2e`'s: limit orders near 4400, about half crossing.

Printed: accepted orders per second and the CPU time per order (this process's, the
teams' own work included: building an order and awaiting its answer, a few
microseconds). This is the floor under every way in: an order over HTTP or the
WebSocket costs this plus its socket, its parsing and its stream delivery, so it says
how far any entry path can go (beside `benchmarks.floor`, the web framework's own).

    python -m benchmarks.pipeline [--bots 10] [--window 4] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time

import numpy as np
import uvloop

from exchange.app import Exchange
from exchange.config import load_config
from exchange.domain.orders import NewOrder
from exchange.domain.ticks import to_ticks
from exchange.domain.types import InstrumentId, OrderType, Role, Side
from exchange.pipeline.items import Accepted, Refused, Submit
from exchange.teams import Team

INSTRUMENT = InstrumentId("SPX")


class Sender:
    """One team's orders, `window` in flight."""

    def __init__(self, n: int, team: Team, exchange: Exchange, window: int) -> None:
        self.team, self.exchange, self.window = team, exchange, window
        self.rng = np.random.default_rng(n)
        self.accepted = 0

    def order(self) -> NewOrder:
        rng = self.rng
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        offset = int(rng.integers(-3, 6))
        price = 4400 + (-offset if side is Side.BUY else offset) * 0.25
        quantity = int(rng.integers(1, 10))
        return NewOrder(
            self.team.team_id, INSTRUMENT, side, quantity, to_ticks(price), OrderType.LIMIT
        )

    async def one(self) -> Accepted | Refused:
        reply: asyncio.Future[Accepted | Refused] = asyncio.get_running_loop().create_future()
        self.exchange.orders.put_nowait(Submit(self.order(), reply, "bench", on_commit=True))
        return await reply

    async def run(self, until: float) -> None:
        while time.perf_counter() < until:
            answers = await asyncio.gather(*(self.one() for _ in range(self.window)))
            self.accepted += sum(isinstance(a, Accepted) for a in answers)


async def one_round(bots: int, window: int, seconds: float) -> tuple[float, float]:
    """A fresh exchange: (accepted orders/s, CPU us per order)."""
    exchange = Exchange(load_config(preset="bench"))
    await exchange.start()
    try:
        teams = [(await exchange.register(f"t{n}", Role.MARKET_MAKER))[0] for n in range(bots)]
        senders = [Sender(n, team, exchange, window) for n, team in enumerate(teams)]
        gc.collect()
        started, until = time.process_time(), time.perf_counter() + seconds
        await asyncio.gather(*(s.run(until) for s in senders))
        cpu = time.process_time() - started
    finally:
        await exchange.stop()
    accepted = max(1, sum(s.accepted for s in senders))
    return accepted / seconds, cpu / accepted * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--window", type=int, default=4, help="orders in flight per team")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates, costs = [], []
    for n in range(args.rounds):
        rate, cost = uvloop.run(one_round(args.bots, args.window, args.seconds))
        rates.append(rate)
        costs.append(cost)
        print(f"round {n + 1}: orders_per_s={rate:.0f}  us_per_order={cost:.1f}")
    line = {
        "bench": "pipeline", "bots": args.bots, "window": args.window,
        "orders_per_s": round(statistics.median(rates)),
        "us_per_order": round(statistics.median(costs), 1), "rounds": args.rounds,
    }  # fmt: skip
    print(json.dumps(line))


if __name__ == "__main__":
    main()
