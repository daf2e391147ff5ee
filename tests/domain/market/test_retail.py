"""Retail flow: Poisson(3) orders a tick with the SPEC's mix, never past +-50."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import pytest

from exchange.domain.instruments import ChainSpec, Instrument, build_chain, parse_instrument_id
from exchange.domain.market.retail import LIMIT_STYLES, RetailConfig, limit_price, retail_orders
from exchange.domain.market.simulator import fair_values
from exchange.domain.orders import NewOrder
from exchange.domain.types import InstrumentId, OptionKind, OrderType, Side, TeamId, Ticks

TODAY = dt.date(2026, 12, 1)
TEAM = TeamId("retail-flow")
SPOTS = {"SPX": 4400.0, "SPY": 440.0}
OPTIONS = [i for i in build_chain(ChainSpec(), TODAY) if i.is_option]
NEAREST = min(o.expiry for o in OPTIONS if o.expiry is not None)
TICKS = 20_000


def expiry_ns(expiry: dt.date) -> int:
    return (
        int(dt.datetime(expiry.year, expiry.month, expiry.day, 21, tzinfo=dt.UTC).timestamp())
        * 10**9
    )


NOW_NS = int(dt.datetime(2026, 12, 1, 16, tzinfo=dt.UTC).timestamp()) * 10**9
FAIR = fair_values(OPTIONS, SPOTS, 0.2, NOW_NS, expiry_ns)
BY_ID: dict[InstrumentId, Instrument] = {o.id: o for o in OPTIONS}


def flow(
    seed: int, ticks: int, positions: Mapping[InstrumentId, int] | None = None
) -> list[list[NewOrder]]:
    rng = np.random.default_rng(seed)
    held = positions or {}
    return [retail_orders(rng, TEAM, OPTIONS, FAIR, SPOTS, held) for _ in range(ticks)]


@pytest.fixture(scope="module")
def ticks() -> list[list[NewOrder]]:
    return flow(seed=99, ticks=TICKS)


@pytest.fixture(scope="module")
def orders(ticks: list[list[NewOrder]]) -> list[NewOrder]:
    return [o for tick in ticks for o in tick]


def otm(order: NewOrder) -> bool:
    option = BY_ID[order.instrument_id]
    spot = SPOTS[option.underlying] * 100
    assert option.strike is not None
    return option.strike > spot if option.kind is OptionKind.CALL else option.strike < spot


def share(orders: list[NewOrder], predicate: object) -> float:
    return float(np.mean([predicate(o) for o in orders]))  # type: ignore[operator]


def test_poisson_three_orders_per_tick(ticks: list[list[NewOrder]]) -> None:
    counts = np.array([len(t) for t in ticks])
    assert counts.mean() == pytest.approx(3.0, abs=0.06)
    assert counts.var() == pytest.approx(3.0, rel=0.06)


def test_sizes_are_exponential_mean_5_within_1_to_50(orders: list[NewOrder]) -> None:
    sizes = np.array([o.quantity for o in orders])
    assert sizes.min() >= 1
    assert sizes.max() <= 50
    assert sizes.mean() == pytest.approx(5.0, abs=0.2)
    assert np.mean(sizes > 10) == pytest.approx(np.exp(-10.5 / 5), abs=0.01)


def test_sixty_percent_calls(orders: list[NewOrder]) -> None:
    call = share(orders, lambda o: BY_ID[o.instrument_id].kind is OptionKind.CALL)
    assert call == pytest.approx(0.6, abs=0.015)


def test_seventy_percent_out_of_the_money(orders: list[NewOrder]) -> None:
    assert share(orders, otm) == pytest.approx(0.7, abs=0.015)


def test_eighty_percent_in_the_nearest_expiry(orders: list[NewOrder]) -> None:
    nearest = share(orders, lambda o: BY_ID[o.instrument_id].expiry == NEAREST)
    assert nearest == pytest.approx(0.8, abs=0.015)


def test_forty_percent_market_orders(orders: list[NewOrder]) -> None:
    market = [o for o in orders if o.order_type is OrderType.MARKET]
    assert len(market) / len(orders) == pytest.approx(0.4, abs=0.015)
    assert all(o.price is None for o in market)


def test_limit_prices_are_whole_positive_ticks(orders: list[NewOrder]) -> None:
    limits = [o for o in orders if o.order_type is OrderType.LIMIT]
    assert limits
    assert all(isinstance(o.price, int) and o.price > 0 for o in limits)
    assert all(o.team_id == TEAM for o in orders)
    assert {
        parse_instrument_id(o.instrument_id) == BY_ID[o.instrument_id] for o in orders[:2_000]
    } == {True}


def test_limit_styles_30_aggressive_50_passive_20_far(orders: list[NewOrder]) -> None:
    priced = [o for o in orders if o.price is not None and FAIR[o.instrument_id] >= 500]
    offsets = np.array([o.side.sign * (o.price - FAIR[o.instrument_id]) / FAIR[o.instrument_id]
                        for o in priced if o.price is not None])  # fmt: skip
    assert np.mean(offsets > 0) == pytest.approx(0.3, abs=0.02)  # crossing fair value
    assert np.mean((offsets < 0) & (offsets > -0.05)) == pytest.approx(0.5, abs=0.02)
    assert np.mean(offsets <= -0.095) == pytest.approx(0.2, abs=0.02)
    assert np.abs(offsets).max() <= 0.301


def test_buys_and_sells_are_even(orders: list[NewOrder]) -> None:
    assert share(orders, lambda o: o.side is Side.BUY) == pytest.approx(0.5, abs=0.015)


def test_both_underlyings_trade(orders: list[NewOrder]) -> None:
    spx = share(orders, lambda o: BY_ID[o.instrument_id].underlying == "SPX")
    assert spx == pytest.approx(0.5, abs=0.015)


def play(seed: int, ticks: int, config: RetailConfig) -> list[dict[InstrumentId, int]]:
    """Fill every order in full (the worst case) and keep positions across ticks."""
    rng = np.random.default_rng(seed)
    positions: dict[InstrumentId, int] = defaultdict(int)
    history = []
    for _ in range(ticks):
        for o in retail_orders(rng, TEAM, OPTIONS, FAIR, SPOTS, positions, config):
            positions[o.instrument_id] += o.side.sign * o.quantity
        history.append(dict(positions))
    return history


def test_position_never_passes_50() -> None:
    history = play(seed=5, ticks=5_000, config=RetailConfig())
    extremes = [max((abs(p) for p in h.values()), default=0) for h in history]
    assert max(extremes) == 50  # the limit binds, and holds


def test_total_position_limit_when_configured() -> None:
    history = play(seed=6, ticks=2_000, config=RetailConfig(max_total_position=50))
    totals = [sum(abs(p) for p in h.values()) for h in history]
    assert max(totals) <= 50
    assert max(totals) >= 40


def test_orders_within_one_tick_count_towards_the_limit() -> None:
    crowd = RetailConfig(orders_per_tick=200.0, mean_size=30.0)
    rng = np.random.default_rng(7)
    for _ in range(50):
        net: dict[InstrumentId, list[int]] = defaultdict(lambda: [0, 0])
        for o in retail_orders(rng, TEAM, OPTIONS, FAIR, SPOTS, {}, crowd):
            net[o.instrument_id][o.side is Side.SELL] += o.quantity
        assert all(buys <= 50 and sells <= 50 for buys, sells in net.values())


def test_full_long_position_only_sells() -> None:
    full = {o.id: 50 for o in OPTIONS}
    produced = [o for tick in flow(seed=8, ticks=500, positions=full) for o in tick]
    assert produced
    assert {o.side for o in produced} == {Side.SELL}


def test_no_options_no_orders() -> None:
    rng = np.random.default_rng(9)
    assert all(retail_orders(rng, TEAM, [], {}, SPOTS, {}) == [] for _ in range(20))


@pytest.mark.parametrize(
    ("side", "style", "u", "expected"),
    [
        (Side.BUY, 0, 0.0, 1005),  # aggressive buy: above fair by 0.5%
        (Side.SELL, 0, 1.0, 970),  # aggressive sell: below fair by 3%
        (Side.BUY, 1, 0.0, 995),  # passive buy: below fair
        (Side.SELL, 1, 0.0, 1005),  # passive sell: above fair
        (Side.BUY, 2, 1.0, 700),  # far buy: 30% below
        (Side.SELL, 2, 0.0, 1100),  # far sell: 10% above
    ],
)
def test_limit_price_table(side: Side, style: int, u: float, expected: int) -> None:
    assert limit_price(1000, side, LIMIT_STYLES[style], u) == Ticks(expected)


def test_limit_price_is_at_least_a_tick_away_and_positive() -> None:
    assert limit_price(3, Side.BUY, LIMIT_STYLES[0], 0.0) == 4
    assert limit_price(1, Side.SELL, LIMIT_STYLES[0], 0.5) == 1
    assert limit_price(0, Side.BUY, LIMIT_STYLES[2], 0.5) == 1
