"""The starter bots over many seeded demo days: does each earn money on its own day?

Each day is a replay of the demo market (the house's liquidity, quoted chain and retail
crowd, news and signals) with the example market maker, hedge fund and arbitrage desk
as teams, from the pre-open to the close; only the seed changes from day to day. Prints
each bot's P&L per day, then its mean, median and share of positive days, and a JSON
line last. Days run in parallel processes (`--jobs`, default the machine's cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import msgspec

from exchange.replay.engine import Replay
from exchange.replay.report import build_report
from exchange.replay.scenario import Scenario

BOTS = {
    "Maker": ("market_maker", "bots.market_maker:MarketMaker"),
    "Fund": ("hedge_fund", "bots.hedge_fund:HedgeFund"),
    "Desk": ("arbitrage", "bots.arbitrage:ArbitrageDesk"),
}


def demo_day(seed: int, hours: float = 15.9) -> Scenario:
    """A demo day from its pre-open, with the three starter bots."""
    participants = [{"team": t, "role": r, "strategy": s} for t, (r, s) in BOTS.items()]
    return msgspec.convert(
        {
            "name": f"demo-day-{seed}", "seed": seed, "preset": "demo",
            "start": "2026-12-01T08:00:00-06:00", "duration": f"{round(hours * 60)}m",
            "step_seconds": 5, "participants": participants,
        },
        Scenario,
    )  # fmt: skip


def play(seed: int, hours: float) -> dict[str, Any]:
    report = build_report(Replay(demo_day(seed, hours)).run())
    pnl = {t.name: float(t.score["pnl"]) for t in report.teams if t.name in BOTS}
    return {"seed": seed, "pnl": pnl, "trades": report.trades}


def days(seeds: list[int], hours: float, jobs: int) -> list[dict[str, Any]]:
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(play, seeds, [hours] * len(seeds)))


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "starter_bots", "days": len(results)}
    for team in BOTS:
        pnl = [r["pnl"][team] for r in results]
        out[team] = {
            "mean_pnl": round(statistics.fmean(pnl), 2),
            "median_pnl": round(statistics.median(pnl), 2),
            "positive_share": round(sum(p > 0 for p in pnl) / len(pnl), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=15.9, help="game hours a day")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = list(range(args.first_seed, args.first_seed + args.days))
    results = days(seeds, args.hours, args.jobs)
    for r in results:
        cells = "  ".join(f"{t} {r['pnl'][t]:>12,.2f}" for t in BOTS)
        print(f"seed {r['seed']:>3}: {cells}  trades {r['trades']}")
    line = summary(results)
    line["wall_s"] = round(time.perf_counter() - started, 1)
    for team in BOTS:
        s = line[team]
        print(f"{team}: mean {s['mean_pnl']:,.2f}, median {s['median_pnl']:,.2f}, "
              f"positive on {s['positive_share']:.0%} of days")  # fmt: skip
    print(json.dumps(line))


if __name__ == "__main__":
    main()
