"""What the remote runner keeps between messages, without a server: the game clock,
the market picture, fills made whole from their position updates, the order pace."""

from __future__ import annotations

import pytest

from exchange.client.convert import game_ns, underlying_of
from exchange.client.state import FillTracker, GameClock, MarketPicture, RatePacer
from exchange.domain.strategy import Top
from exchange.domain.types import (
    NS_PER_SECOND as NS,
)
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    Phase,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.wire.messages import ExecutionReport, MarketData, PositionSnapshot, PositionUpdate
from exchange.wire.models import FillView, PositionLine, PositionsView, PriceLine, PricesView

CALL = "SPX_CALL_4400_20261204"
T = TeamId("T0007")


def report(trade_id: int, quantity: int, side: str = "buy", instrument: str = CALL,
           price: float = 12.5, fee: float = -0.1) -> ExecutionReport:  # fmt: skip
    return ExecutionReport(
        order_id="42", instrument_id=instrument, side=Side(side), order_type="limit",
        quantity=10, filled=quantity, remaining=10 - quantity, status="partially_filled",
        exec_type="trade", price=price, trade_id=trade_id, last_price=price,
        last_quantity=quantity, liquidity_type="taker", fee=fee,
    )  # fmt: skip


def update(quantity: int, instrument: str = CALL) -> PositionUpdate:
    return PositionUpdate(instrument, quantity, 0.0, 0.0, 0.0)


def test_game_ns_reads_the_wire_times() -> None:
    assert game_ns("1970-01-01T00:00:01.000001Z") == NS + 1000
    assert game_ns("2026-12-01T14:05:00.000000Z") == 1796133900 * NS


def test_underlying_of_an_option_and_of_an_underlying() -> None:
    assert (underlying_of(CALL), underlying_of("SPY")) == ("SPX", "SPY")


def test_game_clock_runs_at_its_speed_between_stamps_and_never_backwards() -> None:
    clock = GameClock(speed=60)
    assert clock.now(5.0) == 0  # nothing known yet
    clock.stamp(1000 * NS, wall=10.0)
    assert clock.now(10.5) == 1030 * NS
    clock.stamp(1020 * NS, wall=10.6)  # the server's stamp is behind our estimate
    assert clock.now(10.6) == 1030 * NS
    assert clock.now(11.6) == 1080 * NS


def test_market_picture_takes_tops_fair_values_deltas_and_spots() -> None:
    picture = MarketPicture()
    picture.seed(PricesView("CONTINUOUS", "2026-12-01T14:05:00Z", {"SPX": 4400.0, "SPY": None},
                            [PriceLine("SPY", 440.0, 5, 440.1, 7, None)]))  # fmt: skip
    picture.apply(MarketData(CALL, "CONTINUOUS", 12.4, 10, 12.6, 10, 12.5,
                             underlying_price=4401.5, fair_value=12.51, delta=0.52))  # fmt: skip
    picture.apply(MarketData("SPY", "CONTINUOUS", None, 0, 440.2, 3, None, fair_value=440.1))
    shot = picture.snapshot(TimeNs(77))
    assert shot.phase is Phase.CONTINUOUS and shot.now_ns == 77
    assert shot.tops[InstrumentId(CALL)] == Top(Ticks(1240), 10, Ticks(1260), 10, Ticks(1250))
    assert shot.tops[InstrumentId("SPY")] == Top(None, 0, Ticks(44020), 3, None)
    assert shot.fair == {CALL: 1251, "SPY": 44010}
    assert shot.delta == {CALL: 0.52}
    assert shot.spots == {"SPX": 4401.5, "SPY": 440.1}
    picture.apply(MarketData(CALL, "CONTINUOUS", 1.0, 1, 2.0, 1, None))
    assert shot.tops[InstrumentId(CALL)].bid == 1240  # a snapshot kept is not changed


def test_a_trade_report_becomes_a_fill_with_the_position_from_its_update() -> None:
    tracker = FillTracker(T)
    assert tracker.report(report(5, 3), TimeNs(99)) == []
    (fill,) = tracker.update(update(8), TimeNs(100))
    assert (fill.trade_id, fill.team_id, fill.order_id, fill.instrument_id) == (5, T, 42, CALL)
    assert (fill.side, fill.price, fill.quantity, fill.liquidity) == (
        Side.BUY, 1250, 3, Liquidity.TAKER
    )  # fmt: skip
    assert (fill.fee_ticks, fill.position_after, fill.ts_ns) == (-10, 8, 100)
    assert tracker.positions[InstrumentId(CALL)] == 8 and tracker.last_trade_id == 5


def test_a_report_without_its_update_is_completed_from_the_tracked_position() -> None:
    tracker = FillTracker(T)
    account = PositionsView("T0007", "hedge_fund", 0, 0, 0, 0, 0,
                            [PositionLine(CALL, 4, 12.0, 12.0, 0.0)])  # fmt: skip
    tracker.reset(PositionSnapshot(account, []))
    tracker.report(report(6, 2, side="sell"), TimeNs(1))
    (fill,) = tracker.report(report(7, 1), TimeNs(2))  # a second report displaces the first
    assert (fill.trade_id, fill.position_after) == (6, 2)
    (last,) = tracker.update(update(3), TimeNs(3))
    assert (last.trade_id, last.position_after) == (7, 3)


def test_an_update_alone_moves_the_position_and_a_trade_is_never_filled_twice() -> None:
    tracker = FillTracker(T)
    assert tracker.update(update(-5), TimeNs(1)) == []
    assert tracker.positions[InstrumentId(CALL)] == -5
    tracker.report(report(9, 1), TimeNs(2))
    assert len(tracker.update(update(-4), TimeNs(3))) == 1
    assert tracker.report(report(9, 1), TimeNs(4)) == [] and tracker.flush(TimeNs(5)) == []
    view = FillView(9, "42", CALL, Side.BUY, 12.5, 1, "taker", -0.02, -4, "2026-12-01T14:05:00Z")
    later = FillView(11, "43", CALL, Side.SELL, 12.7, 2, "maker", 0.04, -6,
                     "2026-12-01T14:06:00Z")  # fmt: skip
    recovered = tracker.recovered([view, later])
    assert [(f.trade_id, f.position_after, f.fee_ticks) for f in recovered] == [(11, -6, 4)]
    assert tracker.last_trade_id == 11


def test_rate_pacer_waits_for_the_oldest_order_to_leave_the_window() -> None:
    pacer = RatePacer(limit=2, window=1.0)
    assert pacer.wait(0.0) == 0.0
    pacer.record(0.0)
    pacer.record(0.4)
    assert pacer.wait(0.5) == pytest.approx(0.5)
    assert pacer.wait(1.0) == 0.0  # the first has left
    pacer.record(1.0)
    assert pacer.wait(1.1) == pytest.approx(0.3)
