"""The matching core alone: a fixed, seeded mix of operations against the venue API.

About 60% limit orders around a moving mid (a share of them crossing), 10% market
orders and 30% cancels of resting orders; first all on one book, then the same mix
spread over the whole listed chain (242 books). Each operation is timed alone with
`perf_counter_ns`; the figures are for one core, the process doing nothing else.

The venue runs as it does in the server: the heap made before the first operation is
frozen and the young generation collected every `YOUNG` objects (`freeze_heap`). An
operation's time is its call: its result is let go after the clock stops (in the server
the trades go on to the publisher), not inside the next operation's time, where it
used to be freed by the assignment of that operation's result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import time
from collections.abc import Sequence

import numpy as np

from exchange.domain.instruments import ChainSpec, build_chain
from exchange.domain.orders import CancelOrder, NewOrder
from exchange.domain.types import InstrumentId, OrderId, OrderType, Side, TeamId, Ticks, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.web.server import freeze_heap

TEAMS = [TeamId(f"team{n}") for n in range(30)]


Op = NewOrder | float
"""An order to submit, or a cancel: the fraction picks which resting order goes."""


def make_ops(n: int, books: Sequence[InstrumentId], seed: int) -> list[Op]:
    """Draw the whole operation stream up front so drawing is never timed."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(3, size=n, p=[0.6, 0.1, 0.3])
    book_of = rng.integers(0, len(books), size=n)
    sides = rng.integers(0, 2, size=n)
    qtys = rng.integers(1, 21, size=n)
    offsets = rng.integers(-3, 12, size=n)
    steps = rng.choice([-1, 0, 1], size=n, p=[0.1, 0.8, 0.1])
    teams = rng.integers(0, len(TEAMS), size=n)
    picks = rng.random(size=n)
    mids = dict.fromkeys(books, 10_000)
    ops: list[Op] = []
    for k in range(n):
        book = books[book_of[k]]
        mids[book] += int(steps[k])
        side = Side.BUY if sides[k] else Side.SELL
        team, qty = TEAMS[teams[k]], int(qtys[k])
        if kinds[k] == 0:
            # Buys below the mid, sells above, by the offset; a negative offset crosses.
            price = Ticks(mids[book] - side.sign * int(offsets[k]))
            ops.append(NewOrder(team, book, side, qty, price, OrderType.LIMIT))
        elif kinds[k] == 1:
            ops.append(NewOrder(team, book, side, qty, None, OrderType.MARKET))
        else:
            ops.append(float(picks[k]))
    return ops


def run(ops: list[Op], books: list[InstrumentId]) -> tuple[list[int], list[int]]:
    """Each operation's time in ns, and what it was: -1 a cancel, else its trades."""
    chain = build_chain(ChainSpec(), dt.date(2026, 11, 24))
    venue = ExchangeVenue(chain, np.random.default_rng(1))
    thresholds = gc.get_threshold()
    gc.collect()
    freeze_heap()
    try:
        return timed(venue, ops)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def timed(venue: ExchangeVenue, ops: list[Op]) -> tuple[list[int], list[int]]:
    resting: list[tuple[TeamId, OrderId]] = []
    timings = [0] * len(ops)
    kinds = [-1] * len(ops)
    clock = time.perf_counter_ns
    for k, op in enumerate(ops):
        if isinstance(op, float):
            if not resting:
                continue
            idx = int(op * len(resting))
            resting[idx], resting[-1] = resting[-1], resting[idx]
            cancel = CancelOrder(*resting.pop())
            t0 = clock()
            cancelled = venue.cancel_order(cancel, TimeNs(k))
            timings[k] = clock() - t0
            del cancelled
            continue
        t0 = clock()
        result = venue.submit_order(op, TimeNs(k))
        timings[k] = clock() - t0
        kinds[k] = len(result.trades)
        if result.order is not None and result.order.remaining and result.order.is_live:
            resting.append((result.order.team_id, result.order.order_id))
        del result  # freed here, outside any operation's time
    done = [k for k, t in enumerate(timings) if t]
    return [timings[k] for k in done], [kinds[k] for k in done]


def report(label: str, timings: list[int]) -> dict[str, float]:
    arr = np.array(timings, dtype=np.int64)
    total_s = arr.sum() / 1e9
    figures = {
        "ops": len(arr),
        "ops_per_s": round(len(arr) / total_s),
        "p50_us": round(float(np.percentile(arr, 50)) / 1000, 2),
        "p99_us": round(float(np.percentile(arr, 99)) / 1000, 2),
        "max_us": round(float(arr.max()) / 1000, 1),
    }
    print(f"{label:<22} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


def breakdown(timings: list[int], kinds: list[int]) -> None:
    """p50/p99 by what an operation did: the tail is the operations that trade."""
    arr, kind = np.array(timings, dtype=np.int64), np.minimum(np.array(kinds), 3)
    parts = []
    for k, name in [(-1, "cancel"), (0, "0 trades"), (1, "1"), (2, "2"), (3, "3+")]:
        part = arr[kind == k]
        if len(part):
            p50, p99 = (round(float(np.percentile(part, q)) / 1000, 1) for q in (50, 99))
            parts.append(f"{name}: n={len(part)} p50={p50} p99={p99}")
    print(f"{'  by trades':<22} " + "  ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    chain_ids = [i.id for i in build_chain(ChainSpec(), dt.date(2026, 11, 24))]
    one = [InstrumentId("SPX")]
    single = report("one book", run(make_ops(args.ops, one, args.seed), one)[0])
    timings, kinds = run(make_ops(args.ops, chain_ids, args.seed), chain_ids)
    many = report(f"{len(chain_ids)} books", timings)
    breakdown(timings, kinds)
    print(json.dumps({"bench": "matching", "books": 1, **single}))
    print(json.dumps({"bench": "matching", "books": len(chain_ids), **many}))


if __name__ == "__main__":
    main()
