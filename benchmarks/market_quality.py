"""Market quality of a seeded demo day: does the market play like a market?

Replays a whole demo-preset day (the house's liquidity, its quoted chain and retail
flow) with the example market maker (`bots.market_maker:MarketMaker`) as a team, on the
virtual clock, and prints the report's `market_quality` figures, then one JSON line:
trades per tick of continuous trading, the share of retail orders refused, the share of
listed options two-sided, and the market maker's mean P&L.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from exchange.replay.cli import play
from exchange.replay.quality import summary
from exchange.replay.scenario import Scenario


def demo_day(seed: int, duration: str) -> Scenario:
    return msgspec.convert(
        {
            "name": "market-quality-demo-day", "seed": seed, "preset": "demo",
            "start": "2026-12-01T08:00:00-06:00", "duration": duration, "step_seconds": 5,
            "participants": [{"team": "Maker", "role": "market_maker",
                              "strategy": "bots.market_maker:MarketMaker"}],
        },
        Scenario,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--duration", default="16h", help="game time (default: the day)")
    args = parser.parse_args()
    report = play(demo_day(args.seed, args.duration), {}, quiet=True)
    q = report.market_quality
    assert q is not None
    makers = [t.score["pnl"] for t in report.teams if t.role == "market_maker"]
    print(f"demo day, seed {args.seed}: {report.game_seconds} game s in "
          f"{report.wall_seconds} s wall, {report.trades} trades")  # fmt: skip
    print("\n".join(summary(q)))
    print(f"  market maker P&L: {', '.join(f'{p:,.2f}' for p in makers)}")
    line: dict[str, Any] = {
        "bench": "market_quality",
        "trades_per_tick": q.trading.per_tick["all"],
        "retail_refused_share": q.retail.refused_share,
        "two_sided_share": q.two_sided.share,
        "mm_mean_pnl": round(sum(makers) / len(makers), 2) if makers else None,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
