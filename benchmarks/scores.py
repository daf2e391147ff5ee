"""The scores' periodic publish before a crowd, each team's P&L series at its longest.

`ScoreKeeper.publish_once` is what the server runs on its event loop every
`leaderboard_interval` (5 s): the standings at the present marks, the `leaderboard`
broadcast (encoded here once, as the fan-out does) and, with a database, a score row
per team and the scorer's saved state, handed to the writer. Here the keeper scores
`--teams` teams (`--makers` of them market makers, the rest hedge funds), each having
had `--observations` observations, one short of `max_pnl_points`: every P&L series is as
long as it gets, as in a long day. Then it publishes `--publishes` times, each timed
alone, under the server's collector settings (`freeze_heap`). Printed: a publish's p50
and max in ms, and the bytes it handed to the database (the median). One core, nothing
else running.

    python -m benchmarks.scores --teams 330
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import time
from typing import Any

import msgspec
import numpy as np

from exchange.clock import VirtualClock
from exchange.domain.instruments import ChainSpec, build_chain
from exchange.domain.scoring import Scorer, ScoringConfig
from exchange.domain.types import NS_PER_SECOND, Role, TeamId, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.scoring import ScoreKeeper
from exchange.web.server import freeze_heap

START = TimeNs(int(dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC).timestamp()) * NS_PER_SECOND)


class Sink:
    """Stands for the writer's intake: counts the bytes of the rows it is handed."""

    def __init__(self) -> None:
        self.bytes = 0

    def __call__(self, table: str, row: tuple[Any, ...]) -> None:
        self.bytes += sum(len(v) for v in row if isinstance(v, str))


def keeper(teams: int, makers: int, observations: int) -> tuple[ScoreKeeper, Sink]:
    chain = build_chain(ChainSpec(), dt.date(2026, 12, 1))
    venue = ExchangeVenue(chain, np.random.default_rng(1))
    scorer = Scorer({i.id: i for i in chain}, ScoringConfig())
    roles = {}
    for n in range(teams):
        team_id, role = TeamId(f"team{n}"), Role.MARKET_MAKER if n < makers else Role.HEDGE_FUND
        scorer.add_team(team_id, f"Team {n}", role)
        roles[team_id] = role
    for k in range(observations):
        scorer.observe(TimeNs(START + k * NS_PER_SECOND), {}, {}, {}, {})
    clock = VirtualClock(TimeNs(START + observations * NS_PER_SECOND))
    sink = Sink()
    board = msgspec.json.Encoder()

    def broadcast(kind: str, data: Any) -> None:
        board.encode({"type": kind, "data": data})

    keeper = ScoreKeeper(
        scorer, venue, roles, clock, greeks={}, cache=None, tick_seconds=300,
        broadcast=broadcast, save_row=sink,
    )  # fmt: skip
    return keeper, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=330)
    parser.add_argument("--makers", type=int, default=30)
    parser.add_argument("--observations", type=int, default=ScoringConfig().max_pnl_points - 1)
    parser.add_argument("--publishes", type=int, default=24)
    args = parser.parse_args()
    score_keeper, sink = keeper(args.teams, args.makers, args.observations)
    gc.collect()
    freeze_heap()
    timings, sizes = [], []
    for _ in range(args.publishes):
        sink.bytes = 0
        started = time.perf_counter()
        score_keeper.publish_once()
        timings.append((time.perf_counter() - started) * 1000)
        sizes.append(sink.bytes)
    figures = {
        "teams": args.teams, "observations": args.observations,
        "publish_p50_ms": round(statistics.median(timings), 2),
        "publish_max_ms": round(max(timings), 2),
        "db_bytes_per_publish": round(statistics.median(sizes)),
    }  # fmt: skip
    print("  ".join(f"{k}={v}" for k, v in figures.items()))
    print(json.dumps({"bench": "scores", **figures}))


if __name__ == "__main__":
    main()
