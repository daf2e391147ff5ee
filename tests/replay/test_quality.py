"""Market quality: each statistic on small hand-made data, then a replay's section."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from exchange.domain.types import NS_PER_SECOND as NS
from exchange.replay import quality
from exchange.replay.cli import summary
from exchange.replay.engine import Replay
from exchange.replay.quality import OptionTop, QualityTally, RetailCounts
from exchange.replay.report import _drawn, build_report
from exchange.replay.scenario import Scenario

SPOT = 4400 * 100.0  # ticks


@pytest.mark.parametrize(
    ("kind", "strike", "bucket"),
    [
        ("CALL", 4400 * 100, "ATM"), ("PUT", 4400 * 100, "ATM"),
        ("CALL", 4356 * 100, "ATM"), ("PUT", 4444 * 100, "ATM"),  # 1% exactly
        ("CALL", 4300 * 100, "ITM"), ("PUT", 4300 * 100, "OTM"),
        ("CALL", 4500 * 100, "OTM"), ("PUT", 4500 * 100, "ITM"),
    ],
)  # fmt: skip
def test_moneyness_is_atm_within_one_percent_else_by_kind_and_strike(
    kind: str, strike: int, bucket: str
) -> None:
    assert quality.moneyness(kind, strike, SPOT) == bucket


def test_the_median_of_counted_values_is_exact_for_odd_and_even_counts() -> None:
    assert quality.median({}) is None
    assert quality.median({7: 1}) == 7
    assert quality.median({1: 1, 5: 1, 9: 1}) == 5
    assert quality.median({1: 2, 9: 2}) == 5  # even: halfway between the middle two
    assert quality.median({10: 1, 2: 3}) == 2  # order of the mapping does not matter


def test_two_sided_share_counts_every_listed_option_and_an_empty_book_is_one_sided() -> None:
    tally = QualityTally()
    tally.sample([
        OptionTop("CALL", 440_000, SPOT, 1_000, 1_040),  # ATM, two-sided
        OptionTop("CALL", 430_000, SPOT, 11_000, None),  # one side only
        OptionTop("PUT", 430_000, SPOT, None, None),  # an empty book
        OptionTop("PUT", 450_000, SPOT, 9_900, 10_100),  # ITM put
    ])  # fmt: skip
    part = quality.two_sided(tally)
    assert (part.samples, part.two_sided, part.share) == (4, 2, 0.5)
    spreads = quality.spreads(tally)
    assert spreads["ATM"] == quality.SpreadStats(1, 0.4, round(40 / 1_020, 5))
    assert spreads["ITM"] == quality.SpreadStats(1, 2.0, 0.02)
    assert spreads["OTM"] == quality.SpreadStats(0, None, None)


def test_no_samples_give_no_share_and_no_spreads() -> None:
    tally = QualityTally()
    tally.sample([])
    assert quality.two_sided(tally) == quality.TwoSided(0, 0, None)
    assert all(s == quality.SpreadStats(0, None, None) for s in quality.spreads(tally).values())


def test_an_option_without_a_spot_counts_as_two_sided_in_no_bucket() -> None:
    tally = QualityTally()
    tally.sample([OptionTop("CALL", 440_000, None, 100, 110)])
    assert quality.two_sided(tally).share == 1.0
    assert all(s.samples == 0 for s in quality.spreads(tally).values())


def test_the_median_spread_of_a_bucket_over_several_samples() -> None:
    tally = QualityTally()
    for width in (10, 30, 20, 40):
        tally.sample([OptionTop("CALL", 500_000, SPOT, 1_000, 1_000 + width)])
    otm = quality.spreads(tally)["OTM"]
    assert otm.samples == 4 and otm.median == 0.25  # (20 + 30) / 2 ticks = 0.25


def test_trades_per_tick_split_by_kind_over_continuous_ticks() -> None:
    tally = QualityTally()
    for is_option in (True, True, True, False):
        tally.trade(is_option)
    part = quality.trading(tally, 2, 300)
    assert part.trades == {"options": 3, "underlyings": 1, "all": 4}
    assert part.per_tick == {"options": 1.5, "underlyings": 0.5, "all": 2.0}


def test_no_trades_is_zero_per_tick_and_no_continuous_phase_is_unknown() -> None:
    assert quality.trading(QualityTally(), 4, 300).per_tick == {
        "options": 0.0, "underlyings": 0.0, "all": 0.0,
    }  # fmt: skip
    none = quality.trading(QualityTally(), 0, 300)
    assert none.continuous_ticks == 0 and set(none.per_tick.values()) == {None}


def test_continuous_ticks_are_the_tick_grid_points_in_continuous_trading() -> None:
    tick = 300 * NS
    opens, closes = 10 * tick, 20 * tick

    def open_(t: int) -> bool:
        return opens <= t < closes

    assert quality.continuous_ticks(open_, 0, 30 * tick, tick) == 10
    assert quality.continuous_ticks(open_, opens + 1, closes, tick) == 9  # off the grid
    assert quality.continuous_ticks(open_, closes, 30 * tick, tick) == 0


def test_retail_counts_by_code_and_filled_orders_once_each() -> None:
    counts = RetailCounts()
    for code in (None, None, "RATE_LIMIT_EXCEEDED", "PORTFOLIO_LIMIT_EXCEEDED", None,
                 "RATE_LIMIT_EXCEEDED"):  # fmt: skip
        counts.answered(code)
    counts.fill(11, 2)
    counts.fill(11, 3)  # the same order filled twice
    counts.fill(12, 1)
    part = quality.retail(3, 9, counts)
    assert (part.teams, part.drawn, part.sent, part.accepted) == (3, 9, 6, 3)
    assert part.refused == {"PORTFOLIO_LIMIT_EXCEEDED": 1, "RATE_LIMIT_EXCEEDED": 2}
    assert part.refused_share == 0.5 and part.filled == 2 and part.filled_contracts == 6
    assert quality.retail(0, None, RetailCounts()).refused_share is None


def test_inventory_nets_options_and_keeps_underlyings_apart() -> None:
    options = {"SPX_CALL_4400_20261204", "SPX_PUT_4300_20261204"}
    held = {"SPX_CALL_4400_20261204": 5, "SPX_PUT_4300_20261204": -8, "SPX": -3, "SPY": 0}
    house = quality.inventory("House options", "t02", 12.345, held, options)
    assert (house.net_options, house.gross_options) == (-3, 13)
    assert house.underlyings == {"SPX": -3} and house.pnl == 12.35


# -- a replay's report --------------------------------------------------------------


def day(**fields: Any) -> Scenario:
    base: dict[str, Any] = {
        "name": "q", "seed": 4, "start": "2026-12-01T09:20:00-06:00", "duration": "1h",
        "config": {"market": {"house_options_maker": True}},
    }  # fmt: skip
    return msgspec.convert(base | fields, Scenario)


def test_a_replay_report_carries_the_market_quality_section_with_sane_values() -> None:
    replay = Replay(day()).run()
    report = build_report(replay)
    q = report.market_quality
    assert q is not None
    # 09:30 to 10:20 is continuous: ten 5-minute ticks start in it (09:30 .. 10:15).
    assert q.trading.continuous_ticks == 10 and q.trading.tick_seconds == 300
    assert 0 < q.trading.trades["all"] <= report.trades  # auction prints are not counted
    assert q.retail.teams == 50 and q.retail.sent is not None and q.retail.sent > 0
    assert q.retail.accepted + sum((q.retail.refused or {}).values()) == q.retail.sent
    assert q.retail.filled <= q.retail.accepted
    assert q.retail.drawn is not None and q.retail.drawn >= q.retail.sent
    assert q.two_sided.share is not None and 0.5 < q.two_sided.share <= 1.0
    atm = q.spreads["ATM"]
    assert atm.samples > 0 and atm.median is not None and atm.median > 0
    assert atm.median_of_mid is not None and 0 < atm.median_of_mid < 0.2
    names = {h.name for h in q.house}
    assert names == {"House liquidity", "House options"}
    maker = next(h for h in q.house if h.name == "House options")
    assert maker.underlyings == {} and maker.gross_options >= abs(maker.net_options)
    assert maker.pnl == next(t.score["pnl"] for t in report.teams if t.name == maker.name)
    encoded = msgspec.json.decode(msgspec.json.encode(report))
    assert set(encoded["market_quality"]) == {"retail", "trading", "two_sided", "spreads",
                                               "house"}  # fmt: skip
    assert "market quality (10 continuous ticks of 300 s)" in summary(report)


def test_retail_strategies_that_tell_what_they_drew_are_summed() -> None:
    class Drawing:
        def __init__(self, drawn: int) -> None:
            self.drawn = drawn

    assert _drawn([Drawing(3), Drawing(4)]) == 7
    assert _drawn([Drawing(3), object()]) is None  # one that does not tell: unknown
    assert _drawn([]) == 0


def test_a_day_with_no_continuous_trading_has_no_rates_and_no_samples() -> None:
    report = build_report(Replay(day(start="2026-12-01T06:00:00-06:00")).run())
    q = report.market_quality
    assert q is not None and q.trading.continuous_ticks == 0
    assert q.trading.per_tick["all"] is None and q.two_sided.samples == 0
    assert q.retail.sent == 0 and q.spreads["ATM"].median is None
