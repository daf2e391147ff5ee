"""A tournament's throughput on a local Dask cluster: the same days played on 1 and on
2 worker processes; days per second on each and the speedup.

The days are those of a small field tournament (3 of the example bots, short days of
continuous trading, one per seed). Each cluster is started and warmed (every worker has
imported the replay engine) before the clock starts, so the figures are the days' own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from exchange.tournament.days import Day, DayResult, build_days
from exchange.tournament.run import connect, run_days
from exchange.tournament.spec import load_tournament

ROOT = Path(__file__).resolve().parents[1]
FILE = """\
name: bench
scenario: {scenario}
start: "2026-12-01T09:30:00-06:00"
duration: {duration}
seeds: {seeds}
format: field
teams:
  - {{name: Alpha, role: market_maker, strategy: "bots.market_maker:MarketMaker(levels=2)"}}
  - {{name: Beta, role: hedge_fund, strategy: "bots.hedge_fund:HedgeFund"}}
  - {{name: Gamma, role: arbitrage, strategy: "bots.arbitrage:ArbitrageDesk"}}
"""


def bench_days(seeds: int, duration: str) -> list[Day]:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "bench.yaml"
        scenario = ROOT / "scenarios" / "all-roles.yaml"
        path.write_text(FILE.format(scenario=scenario, duration=duration, seeds=seeds))
        return build_days(load_tournament(path))


def timed(days: list[Day], workers: int) -> tuple[float, list[DayResult]]:
    with connect(workers, None) as client:
        assert client is not None
        client.run(_warm)
        began = time.perf_counter()
        played = run_days(days, client)
        return time.perf_counter() - began, played


def _warm() -> None:
    import exchange.replay.engine  # noqa: F401  (the first day pays no imports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--duration", default="30m", help="each day's game time")
    args = parser.parse_args()
    days = bench_days(args.days, args.duration)
    one, first = timed(days, 1)
    two, second = timed(days, 2)
    if [d.digest for d in first] != [d.digest for d in second]:
        raise SystemExit("the days differ between 1 and 2 workers")
    print(f"{len(days)} days of {args.duration}: {one:.2f} s on 1 worker, "
          f"{two:.2f} s on 2 workers")  # fmt: skip
    line = {"bench": "tournament", "days": len(days), "workers": 2,
            "days_per_s": round(len(days) / two, 3), "speedup": round(one / two, 2)}  # fmt: skip
    print(json.dumps(line))


if __name__ == "__main__":
    main()
