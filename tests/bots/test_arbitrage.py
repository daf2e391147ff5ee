"""The example arbitrage desk on hand-built snapshots: the legs of a tracking-error trade,
their value ratio, topping up, and the unwind (SPEC sections 3 and 6)."""

from __future__ import annotations

from collections.abc import Sequence

from bots.arbitrage import ArbitrageDesk
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.strategy import Action, MarketSignal
from exchange.domain.types import NS_PER_SECOND as NS
from exchange.domain.types import Phase, Role, Side
from tests.bots.support import CHAIN, NOW, SPX, SPY, TEAM, fill, forecast, market, tracking


def started(**params: object) -> ArbitrageDesk:
    desk = ArbitrageDesk(**params)  # type: ignore[arg-type]
    desk.on_start(TEAM, Role.ARBITRAGE, CHAIN)
    return desk


def legs(actions: Sequence[Action]) -> list[tuple[str, Side, int]]:
    return [(a.instrument_id, a.side, a.quantity) for a in actions if isinstance(a, NewOrder)]


def test_spy_rich_sells_spy_and_buys_spx_of_equal_value() -> None:
    desk = started(spx_units=2)
    desk.on_market(market(spx=4400.0, spy=441.0))
    actions = desk.on_signal(tracking(0.2))
    assert legs(actions) == [(SPX, Side.BUY, 2), (SPY, Side.SELL, 20)]
    assert actions[0] == CancelAll(TEAM, SPX) and actions[2] == CancelAll(TEAM, SPY)
    spx_value, spy_value = 2 * 4400.0, 20 * 441.0
    assert max(spx_value, spy_value) / min(spx_value, spy_value) < 1.05


def test_spy_cheap_buys_spy_and_sells_spx_at_the_touch() -> None:
    desk = started(spx_units=3, slippage=0)
    snapshot = market(spx=4400.0, spy=439.0)
    desk.on_market(snapshot)
    orders = [a for a in desk.on_signal(tracking(-0.25)) if isinstance(a, NewOrder)]
    assert [(o.instrument_id, o.side, o.quantity) for o in orders] == [
        (SPX, Side.SELL, 3), (SPY, Side.BUY, 30)
    ]  # fmt: skip
    assert [o.price for o in orders] == [snapshot.tops[SPX].bid, snapshot.tops[SPY].ask]


def test_leg_ratio_follows_the_prices() -> None:
    desk = started(spx_units=1)
    desk.on_market(market(spx=4000.0, spy=500.0))
    assert legs(desk.on_signal(tracking(0.3))) == [(SPX, Side.BUY, 1), (SPY, Side.SELL, 8)]


def test_a_leg_that_did_not_fill_in_full_is_topped_up_after_the_cooldown() -> None:
    desk = started(spx_units=2, cooldown_seconds=60)
    desk.on_market(market(spy=441.0))
    desk.on_signal(tracking(0.2))
    desk.on_fill(fill(SPX, Side.BUY, 2, 2))
    desk.on_fill(fill(SPY, Side.SELL, 12, -12))
    assert legs(desk.on_market(market(now=NOW + 30 * NS, spy=441.0))) == []
    assert legs(desk.on_market(market(now=NOW + 61 * NS, spy=441.0))) == [(SPY, Side.SELL, 8)]


def test_unwinds_both_legs_once_the_error_has_closed() -> None:
    desk = started(spx_units=2, exit_pct=0.03)
    desk.on_market(market(spy=441.0))
    desk.on_signal(tracking(0.2))
    desk.on_fill(fill(SPX, Side.BUY, 2, 2))
    desk.on_fill(fill(SPY, Side.SELL, 20, -20))
    still_rich = market(now=NOW + 120 * NS, spy=440.5)  # +0.11%: not yet
    assert legs(desk.on_market(still_rich)) == []
    closed = market(now=NOW + 240 * NS, spy=440.05)  # +0.01%
    assert legs(desk.on_market(closed)) == [(SPX, Side.SELL, 2), (SPY, Side.BUY, 20)]


def test_unwinds_after_the_longest_hold_even_if_the_error_stays() -> None:
    desk = started(max_hold_seconds=600)
    desk.on_market(market(spy=441.0))
    desk.on_signal(tracking(0.2))
    desk.on_fill(fill(SPX, Side.BUY, 2, 2))
    desk.on_fill(fill(SPY, Side.SELL, 20, -20))
    assert legs(desk.on_market(market(now=NOW + 601 * NS, spy=441.0))) == [
        (SPX, Side.SELL, 2), (SPY, Side.BUY, 20)
    ]  # fmt: skip


def test_a_flip_reverses_the_position() -> None:
    desk = started(spx_units=1)
    desk.on_market(market(spy=441.0))
    desk.on_signal(tracking(0.2))
    desk.on_fill(fill(SPX, Side.BUY, 1, 1))
    desk.on_fill(fill(SPY, Side.SELL, 10, -10))
    assert legs(desk.on_signal(tracking(-0.2))) == [(SPX, Side.SELL, 2), (SPY, Side.BUY, 20)]


def test_ignores_other_signals_and_waits_for_continuous_trading() -> None:
    desk = started()
    assert desk.on_signal(forecast("low", "high")) == ()
    assert desk.on_signal(MarketSignal(NOW, "tracking_error", {"error_pct": "x"})) == ()
    desk.on_market(market(phase=Phase.PRE_OPEN))
    assert desk.on_signal(tracking(0.2)) == ()
    assert legs(desk.on_market(market(spy=441.0))) == [(SPX, Side.BUY, 2), (SPY, Side.SELL, 20)]


def test_slippage_moves_the_limit_through_the_touch() -> None:
    desk = started(spx_units=1, slippage=0.001)
    snapshot = market(spy=441.0)
    desk.on_market(snapshot)
    spx, spy = [a for a in desk.on_signal(tracking(0.2)) if isinstance(a, NewOrder)]
    ask, bid = snapshot.tops[SPX].ask, snapshot.tops[SPY].bid
    assert ask is not None and bid is not None
    assert (spx.price, spy.price) == (ask + round(ask * 0.001), bid - round(bid * 0.001))
