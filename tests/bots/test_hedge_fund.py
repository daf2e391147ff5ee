"""The example hedge fund on hand-built snapshots: straddles on the volatility forecast,
the role's limits, and the delta hedge (SPEC sections 3 and 6)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from bots.hedge_fund import HedgeFund, forecast_view
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.strategy import Action, MarketSignal, Top
from exchange.domain.types import NS_PER_SECOND as NS
from exchange.domain.types import InstrumentId, Phase, Role, Side, Ticks
from tests.bots.support import CHAIN, NOW, SPX, TEAM, fill, forecast, market

CALL, PUT = InstrumentId("SPX_CALL_4400_20261211"), InstrumentId("SPX_PUT_4400_20261211")


def started(**params: object) -> HedgeFund:
    fund = HedgeFund(**params)  # type: ignore[arg-type]
    fund.on_start(TEAM, Role.HEDGE_FUND, CHAIN)
    return fund


def orders(actions: Sequence[Action]) -> list[NewOrder]:
    return [a for a in actions if isinstance(a, NewOrder)]


def test_forecast_view_reads_the_direction_of_the_predicted_regime() -> None:
    assert forecast_view(forecast("low", "high")) == 1
    assert forecast_view(forecast("medium", "high")) == 1
    assert forecast_view(forecast("high", "low")) == -1
    assert forecast_view(forecast("medium", "medium")) == 0
    assert forecast_view(MarketSignal(NOW, "tracking_error", {"error_pct": 0.2})) == 0


def test_higher_volatility_forecast_buys_the_straddle_nearest_the_money_at_the_ask() -> None:
    fund = started(size=7, expiry=1, slippage=0)
    snapshot = market()
    fund.on_market(snapshot)
    actions = fund.on_signal(forecast("low", "high"))
    assert actions[0] == CancelAll(TEAM, CALL) and actions[2] == CancelAll(TEAM, PUT)
    bought = orders(actions)
    assert [(o.instrument_id, o.side, o.quantity) for o in bought] == [
        (CALL, Side.BUY, 7), (PUT, Side.BUY, 7)
    ]  # fmt: skip
    assert [o.price for o in bought] == [snapshot.tops[CALL].ask, snapshot.tops[PUT].ask]
    assert orders(fund.on_market(snapshot)) == []  # the forecast was traded once


def test_lower_volatility_forecast_sells_the_straddle_at_the_bid() -> None:
    fund = started(expiry=0, slippage=0)
    snapshot = market()
    fund.on_market(snapshot)
    sold = orders(fund.on_signal(forecast("high", "medium")))
    call, put = InstrumentId("SPX_CALL_4400_20261204"), InstrumentId("SPX_PUT_4400_20261204")
    assert [(o.instrument_id, o.side) for o in sold] == [(call, Side.SELL), (put, Side.SELL)]
    assert [o.price for o in sold] == [snapshot.tops[call].bid, snapshot.tops[put].bid]


def test_the_straddle_follows_spot_to_the_nearest_strike() -> None:
    fund = started()
    fund.on_market(market(spx=4520.0, spy=452.0))
    bought = orders(fund.on_signal(forecast("low", "medium")))
    assert [o.instrument_id for o in bought] == [
        InstrumentId("SPX_CALL_4510_20261211"), InstrumentId("SPX_PUT_4510_20261211")
    ]  # fmt: skip


def test_a_forecast_before_any_snapshot_is_traded_at_the_next_one_in_continuous() -> None:
    fund = started()
    assert fund.on_signal(forecast("low", "high")) == ()
    assert orders(fund.on_market(market(phase=Phase.PRE_OPEN))) == []
    assert len(orders(fund.on_market(market()))) == 2


def test_option_position_limit_caps_the_order() -> None:
    fund = started(size=10, max_option_position=150)
    fund.on_fill(fill(CALL, Side.BUY, 146, 146))
    fund.on_market(market())
    bought = orders(fund.on_signal(forecast("low", "high")))
    assert [(o.instrument_id, o.quantity) for o in bought if o.instrument_id != SPX] == [
        (CALL, 4), (PUT, 10)
    ]  # fmt: skip


def test_total_option_limit_caps_the_straddle() -> None:
    fund = started(size=10, max_total_position=25)
    fund.on_fill(fill("SPX_CALL_3080_20261204", Side.BUY, 20, 20))
    fund.on_market(market())
    bought = orders(fund.on_signal(forecast("low", "high")))
    assert [(o.instrument_id, o.quantity) for o in bought if o.instrument_id != SPX] == [
        (CALL, 5)
    ]  # fmt: skip


def test_delta_past_the_threshold_is_hedged_with_the_underlying() -> None:
    fund = started(delta_threshold=40, slippage=0)
    snapshot = market()
    fund.on_fill(fill(CALL, Side.BUY, 3, 3))  # about 3 x 0.5 x 100 = 150 delta
    delta = 3 * snapshot.delta[CALL] * 100
    (hedge,) = orders(fund.on_market(snapshot))
    assert (hedge.instrument_id, hedge.side, hedge.quantity) == (SPX, Side.SELL, round(delta))
    assert hedge.price == snapshot.tops[SPX].bid


def test_a_small_delta_is_left_alone_and_puts_are_hedged_by_buying() -> None:
    fund = started(delta_threshold=40)
    fund.on_fill(fill(CALL, Side.BUY, 1, 1))  # about 50: just past 40
    fund.on_fill(fill(PUT, Side.BUY, 1, 1))  # a straddle: about 0
    assert orders(fund.on_market(market())) == []
    fund = started(delta_threshold=40)
    fund.on_fill(fill(PUT, Side.BUY, 2, 2))
    (hedge,) = orders(fund.on_market(market()))
    assert (hedge.side, hedge.instrument_id) == (Side.BUY, SPX)


def test_hedge_stays_within_the_underlying_limit() -> None:
    fund = started(max_underlying=200)
    fund.on_fill(fill(CALL, Side.BUY, 10, 10))  # about 500 delta
    fund.on_fill(fill(SPX, Side.SELL, 150, -150))
    (hedge,) = orders(fund.on_market(market()))
    assert (hedge.side, hedge.quantity) == (Side.SELL, 50)


def test_a_hedge_in_flight_is_not_sent_again_until_it_fills_or_the_cooldown_passes() -> None:
    fund = started(hedge_cooldown_seconds=60)
    fund.on_fill(fill(CALL, Side.BUY, 3, 3))
    assert len(orders(fund.on_market(market()))) == 1
    assert orders(fund.on_market(market(now=NOW + 10 * NS))) == []
    assert len(orders(fund.on_market(market(now=NOW + 61 * NS)))) == 1
    fund.on_fill(fill(SPX, Side.SELL, 50, -50))  # part of it landed: look again at once
    assert len(orders(fund.on_market(market(now=NOW + 62 * NS)))) == 1


def test_spy_options_count_in_spx_units() -> None:
    fund = started(delta_threshold=40)
    snapshot = market()
    spy_call = InstrumentId("SPY_CALL_440_20261211")
    fund.on_fill(fill(spy_call, Side.BUY, 10, 10))
    expected = 10 * snapshot.delta[spy_call] * 100 * 440.0 / 4400.0
    assert fund.portfolio_delta(snapshot) == pytest.approx(expected)
    (hedge,) = orders(fund.on_market(snapshot))
    assert (hedge.instrument_id, hedge.quantity) == (SPX, round(expected))


def test_a_leg_whose_touch_is_outside_the_price_band_is_not_sent() -> None:
    fund = started()
    snapshot = market()
    stale = snapshot.tops[CALL]
    fair = snapshot.fair[CALL]
    tops = {**snapshot.tops, CALL: Top(stale.bid, 10, Ticks(fair * 2), 10, None)}
    fund.on_market(msgspec.structs.replace(snapshot, tops=tops))
    assert [o.instrument_id for o in orders(fund.on_signal(forecast("low", "high")))] == [PUT]


def test_slippage_lets_an_order_trade_through_a_touch_that_moved() -> None:
    fund = started(slippage=0.01)
    snapshot = market()
    fund.on_market(snapshot)
    call, _ = orders(fund.on_signal(forecast("low", "high")))
    ask = snapshot.tops[CALL].ask
    assert ask is not None and call.price == ask + round(ask * 0.01)
