"""A replayed, seeded demo day plays like a market (SPEC section 6): the retail crowd's
orders are accepted, the chain is two-sided, something trades every tick, and the
crowd's accepted orders have the SPEC's statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import pytest

from exchange.domain.orders import NewOrder
from exchange.domain.session import Executed
from exchange.domain.strategy import Action
from exchange.domain.types import OrderType, Role, Side, TeamId, TimeNs
from exchange.replay.engine import Replay
from exchange.replay.report import Report, build_report
from exchange.replay.scenario import Scenario


class Watched(Replay):
    """A replay that keeps the retail crowd's accepted orders and when they came."""

    accepted: list[tuple[TimeNs, NewOrder]]

    def executed(
        self, team_id: TeamId, action: Action, outcome: Executed | None, now: TimeNs
    ) -> None:
        super().executed(team_id, action, outcome, now)
        accepted = outcome is not None and outcome.result.error_code is None
        if accepted and self.session.roles[team_id] is Role.RETAIL:
            assert isinstance(action, NewOrder)
            self.__dict__.setdefault("accepted", []).append((now, action))


@pytest.fixture(scope="module")
def day() -> tuple[Watched, Report]:
    scenario = msgspec.convert(
        {"name": "demo-day", "seed": 11, "preset": "demo",
         "start": "2026-12-01T08:00:00-06:00", "duration": "10h", "step_seconds": 5,
         "participants": [{"team": "Maker", "role": "market_maker",
                           "strategy": "bots.market_maker:MarketMaker"}]},
        Scenario,
    )  # fmt: skip
    replay = Watched(scenario)
    return replay, build_report(replay.run())


def test_retail_is_not_refused_and_the_market_trades_and_is_two_sided(
    day: tuple[Watched, Report],
) -> None:
    _, report = day
    q = report.market_quality
    assert q is not None
    retail = q.retail
    assert retail.sent is not None and retail.sent > 300
    refused = sum((retail.refused or {}).values())
    assert refused / retail.sent < 0.02, retail.refused
    limit_codes = {"POSITION_LIMIT_EXCEEDED", "PORTFOLIO_LIMIT_EXCEEDED"}
    assert not limit_codes & set(retail.refused or {}), retail.refused
    assert (q.trading.per_tick["all"] or 0) >= 1.0, q.trading
    assert (q.two_sided.share or 0) >= 0.95, q.two_sided
    assert report.invariants == []


def test_the_crowd_s_accepted_orders_follow_the_spec_s_statistics(
    day: tuple[Watched, Report],
) -> None:
    replay, report = day
    orders = [o for _, o in replay.accepted]
    n = len(orders)
    assert report.market_quality is not None
    ticks = report.market_quality.trading.continuous_ticks

    def near(observed: float, expected: float, sd: float, what: str) -> None:
        assert abs(observed - expected) <= 4 * sd, f"{what}: {observed:.3f} vs {expected}"

    def share(count: int, p: float, what: str) -> None:
        near(count / n, p, math.sqrt(p * (1 - p) / n), what)

    market = [o for o in orders if o.order_type is OrderType.MARKET]
    share(len(market), 0.4, "market orders")
    share(sum("_CALL_" in o.instrument_id for o in orders), 0.6, "calls")
    share(sum(o.side is Side.BUY for o in orders), 0.5, "buys")
    sizes: Sequence[int] = [o.quantity for o in orders]
    assert all(1 <= s <= 50 for s in sizes)
    near(sum(sizes) / n, 5.0, 5.0 / math.sqrt(n), "mean size")  # exponential: sd = mean
    near(n / ticks, 3.0, math.sqrt(3.0 / ticks), "orders per tick")  # Poisson(3)
