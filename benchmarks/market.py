"""The market simulation's cost: game seconds simulated per wall second, full chain.

Each tick advances the model (300 one-second SPX steps, SPY tracking, regimes, news,
signals), prices the whole listed chain once (Black-Scholes, vectorised) and draws the
tick's retail orders: what the server does per tick, without the network. One core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np

from exchange.domain.instruments import ChainSpec, build_chain
from exchange.domain.market.retail import retail_orders
from exchange.domain.market.simulator import MarketModel, MarketStreams, fair_values
from exchange.domain.pricing import chain_greeks
from exchange.domain.types import NS_PER_SECOND, TeamId
from exchange.pipeline.simulator import expiry_close

START = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    chain = build_chain(ChainSpec(), START.date())
    options = [i for i in chain if i.is_option]
    expiry = expiry_close(dt.UTC, dt.time(15, 0))
    model = MarketModel(start_ns=int(START.timestamp() * NS_PER_SECOND))
    streams = MarketStreams.from_seed(args.seed)
    now = int(START.timestamp() * NS_PER_SECOND)
    tick_ns = model.config.tick_seconds * NS_PER_SECOND
    pricing_ns: list[int] = []
    started = time.perf_counter()
    for _ in range(args.ticks):
        now += tick_ns
        outcome = model.advance(now, streams)
        spots = {"SPX": outcome.spx, "SPY": outcome.spy}
        t0 = time.perf_counter_ns()
        chain_greeks(options, spots, outcome.vol, now, expiry)
        pricing_ns.append(time.perf_counter_ns() - t0)
        values = fair_values(options, spots, outcome.vol, now, expiry)
        retail_orders(streams.retail, TeamId("retail"), options, values, spots, {})
    wall = time.perf_counter() - started
    game_seconds = args.ticks * model.config.tick_seconds
    figures = {
        "bench": "market",
        "ticks": args.ticks,
        "options": len(options),
        "game_seconds_per_s": round(game_seconds / wall),
        "tick_ms": round(wall / args.ticks * 1000, 3),
        "chain_pricing_us": round(float(np.median(pricing_ns)) / 1000, 1),
    }
    print(f"{args.ticks} ticks of {model.config.tick_seconds} s with {len(options)} options: "
          f"{figures['game_seconds_per_s']} game seconds per wall second, "
          f"{figures['tick_ms']} ms per tick, chain priced in "
          f"{figures['chain_pricing_us']} us (median)")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
