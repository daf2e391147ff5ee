"""Phases, the daily schedule, and a clock driving the venue through a trading day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from exchange.clock import ScaledClock, VirtualClock
from exchange.domain.phases import (
    PHASE_RULES,
    AlwaysOpen,
    TradingDaySchedule,
    to_ns,
    transitions,
)
from exchange.domain.types import CancelReason, Phase, TeamId, TimeNs

from .support import SPX, buy, make_venue, play, px, quote, sell

CHICAGO = ZoneInfo("America/Chicago")
SCHEDULE = TradingDaySchedule(CHICAGO)
TUESDAY = dt.date(2026, 11, 24)


def at(hh: int, mm: int, ss: int = 0, day: dt.date = TUESDAY) -> TimeNs:
    return TimeNs(to_ns(dt.datetime.combine(day, dt.time(hh, mm, ss), CHICAGO)))


def test_phase_table_matches_the_spec() -> None:
    allowed = {p: (r.submit, r.cancel, r.matching) for p, r in PHASE_RULES.items()}
    assert allowed == {
        Phase.CLOSED: (False, False, "none"),
        Phase.PRE_OPEN: (True, True, "batch"),
        Phase.OPENING_AUCTION: (False, False, "batch"),
        Phase.CONTINUOUS: (True, True, "continuous"),
    }


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (at(7, 59, 59), Phase.CLOSED),
        (at(8, 0), Phase.PRE_OPEN),
        (at(9, 29, 29), Phase.PRE_OPEN),
        (at(9, 29, 30), Phase.OPENING_AUCTION),
        (at(9, 30), Phase.CONTINUOUS),
        (at(14, 59, 59), Phase.CONTINUOUS),
        (at(15, 0), Phase.CLOSED),
        (at(10, 0, day=TUESDAY + dt.timedelta(days=1)), Phase.CLOSED),
        (at(10, 0, day=TUESDAY + dt.timedelta(days=2)), Phase.CONTINUOUS),
    ],
)
def test_schedule_gives_the_phase_of_a_trading_day(moment: TimeNs, phase: Phase) -> None:
    assert SCHEDULE.phase_at(moment) is phase


def test_next_change_after_the_close_is_the_next_trading_days_pre_open() -> None:
    thursday = TUESDAY + dt.timedelta(days=2)
    assert SCHEDULE.next_change(at(15, 0)) == (at(8, 0, day=thursday), Phase.PRE_OPEN)


def test_a_day_has_its_four_transitions_in_order() -> None:
    changes = transitions(SCHEDULE, at(7, 0), at(16, 0))
    assert [p for _, p in changes] == [
        Phase.PRE_OPEN,
        Phase.OPENING_AUCTION,
        Phase.CONTINUOUS,
        Phase.CLOSED,
    ]


def test_schedule_rejects_times_out_of_order() -> None:
    with pytest.raises(ValueError, match="in order"):
        TradingDaySchedule(CHICAGO, pre_open=dt.time(10, 0))


def test_always_open_never_changes() -> None:
    assert AlwaysOpen().phase_at(TimeNs(0)) is Phase.CONTINUOUS
    assert AlwaysOpen().next_change(TimeNs(0)) is None


def test_a_virtual_clock_drives_the_venue_through_a_whole_day() -> None:
    venue = make_venue(Phase.CLOSED)
    clock = VirtualClock(at(7, 0))
    since = clock.now()
    clock.advance_to(at(8, 30))
    assert [c.phase for c in venue.follow(SCHEDULE, since, clock.now())] == [Phase.PRE_OPEN]
    play(venue, buy("a", 10, 101), sell("b", 6, 100), start=at(8, 30))
    since = clock.now()
    clock.advance_to(at(12, 0))
    changes = venue.follow(SCHEDULE, since, clock.now())
    assert [c.phase for c in changes] == [Phase.OPENING_AUCTION, Phase.CONTINUOUS]
    assert sum(t.quantity for t in changes[0].trades) == 6
    assert changes[0].trades[0].ts_ns == at(9, 29, 30)
    since = clock.now()
    clock.advance_to(at(16, 0))
    [close] = venue.follow(SCHEDULE, since, clock.now())
    assert close.phase is Phase.CLOSED
    assert [(e.team_id, e.quantity, e.reason) for e in close.cancels] == [
        ("a", 4, CancelReason.MARKET_CLOSE)
    ]


def test_close_cancels_every_resting_order_and_quote() -> None:
    venue = make_venue()
    play(venue, buy("a", 1, 99), sell("b", 2, 101), buy("c", 3, 10, inst="SPY"))
    venue.submit_quote(quote("mm", 98, 10, 102, 10), TimeNs(5))
    change = venue.set_phase(Phase.CLOSED, TimeNs(10))
    assert len(change.cancels) == 5
    assert all(len(b) == 0 for b in venue.books.values())
    assert all(not venue.open_orders(TeamId(t)) for t in ("a", "b", "c", "mm"))


def test_skipping_the_auction_still_uncrosses_before_continuous_trading() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    play(venue, buy("a", 10, 101), sell("b", 10, 100))
    change = venue.set_phase(Phase.CONTINUOUS, TimeNs(10))
    assert sum(t.quantity for t in change.trades) == 10
    assert not venue.books[SPX].is_crossed()


def test_continuous_orders_after_the_auction_match_on_arrival() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    play(venue, sell("b", 10, 100))
    venue.set_phase(Phase.OPENING_AUCTION, TimeNs(10))
    venue.set_phase(Phase.CONTINUOUS, TimeNs(11))
    [result] = play(venue, buy("a", 4, 100), start=12)
    assert result.trades[0].price == px(100) and result.trades[0].quantity == 4


def test_virtual_clock_never_runs_backwards() -> None:
    clock = VirtualClock(TimeNs(100))
    clock.advance(50)
    assert clock.now() == 150 and clock.wall_seconds_until(10**12) == 0.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(10)


def test_scaled_clock_pauses_and_scales_waits() -> None:
    clock = ScaledClock(start=TimeNs(0), speed=60.0)
    clock.pause()
    frozen = clock.now()
    assert clock.now() == frozen and clock.paused
    assert clock.wall_seconds_until(frozen + 60 * 10**9) == float("inf")
    clock.resume()
    assert clock.now() >= frozen
    # 60 game seconds at speed 60 take at most one wall second.
    assert clock.wall_seconds_until(clock.now() + 60 * 10**9) <= 1.0
    with pytest.raises(ValueError):
        clock.set_speed(0)
