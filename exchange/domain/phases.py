"""Trading phases and the daily schedule (SPEC section 4).

What each phase allows is a table, not an if-chain. The schedule maps a game time to a
phase: a trading day (Tuesday and Thursday by default, America/Chicago) runs
PRE_OPEN 08:00, OPENING_AUCTION 09:29:30, CONTINUOUS 09:30, CLOSED from 15:00; every
other moment is CLOSED. `AlwaysOpen` is the sandbox's schedule: continuous at all hours.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple, Protocol

from exchange.domain.types import NS_PER_SECOND, Phase, TimeNs


class PhaseRules(NamedTuple):
    submit: bool
    cancel: bool
    matching: str
    """"none", "batch" (orders rest and may cross) or "continuous"."""


PHASE_RULES: dict[Phase, PhaseRules] = {
    Phase.CLOSED: PhaseRules(submit=False, cancel=False, matching="none"),
    Phase.PRE_OPEN: PhaseRules(submit=True, cancel=True, matching="batch"),
    Phase.OPENING_AUCTION: PhaseRules(submit=False, cancel=False, matching="batch"),
    Phase.CONTINUOUS: PhaseRules(submit=True, cancel=True, matching="continuous"),
}

NEXT_PHASE: dict[Phase, Phase] = {
    Phase.CLOSED: Phase.PRE_OPEN,
    Phase.PRE_OPEN: Phase.OPENING_AUCTION,
    Phase.OPENING_AUCTION: Phase.CONTINUOUS,
    Phase.CONTINUOUS: Phase.CLOSED,
}


class Schedule(Protocol):
    def phase_at(self, now: TimeNs) -> Phase: ...

    def next_change(self, now: TimeNs) -> tuple[TimeNs, Phase] | None:
        """The first moment after `now` when the phase changes, and the phase it enters."""
        ...


class AlwaysOpen:
    """Continuous trading at all hours (the sandbox and bench presets)."""

    def phase_at(self, now: TimeNs) -> Phase:
        return Phase.CONTINUOUS

    def next_change(self, now: TimeNs) -> tuple[TimeNs, Phase] | None:
        return None


class TradingDaySchedule:
    """The SPEC's trading day on chosen weekdays, in the exchange's time zone."""

    def __init__(
        self,
        tz: dt.tzinfo,
        pre_open: dt.time = dt.time(8, 0),
        opening_auction: dt.time = dt.time(9, 29, 30),
        continuous: dt.time = dt.time(9, 30),
        close: dt.time = dt.time(15, 0),
        trading_days: tuple[int, ...] = (1, 3),
    ) -> None:
        if not pre_open < opening_auction <= continuous < close:
            raise ValueError("schedule times must be in order: pre_open, auction, open, close")
        self.tz = tz
        self.times = (
            (pre_open, Phase.PRE_OPEN),
            (opening_auction, Phase.OPENING_AUCTION),
            (continuous, Phase.CONTINUOUS),
            (close, Phase.CLOSED),
        )
        self.trading_days = frozenset(trading_days)

    def phase_at(self, now: TimeNs) -> Phase:
        local = from_ns(now, self.tz)
        if local.weekday() not in self.trading_days:
            return Phase.CLOSED
        phase = Phase.CLOSED
        for start, entered in self.times:
            if local.time() >= start:
                phase = entered
        return phase

    def next_change(self, now: TimeNs) -> tuple[TimeNs, Phase] | None:
        day = from_ns(now, self.tz).date()
        for offset in range(8):
            date = day + dt.timedelta(days=offset)
            if date.weekday() not in self.trading_days:
                continue
            for start, phase in self.times:
                at = to_ns(dt.datetime.combine(date, start, self.tz))
                if at > now:
                    return TimeNs(at), phase
        return None

    def day_bounds(self, date: dt.date) -> tuple[TimeNs, TimeNs]:
        """When a date's pre-open starts and its close comes, in game nanoseconds."""
        first, last = self.times[0][0], self.times[-1][0]
        start = to_ns(dt.datetime.combine(date, first, self.tz))
        return TimeNs(start), TimeNs(to_ns(dt.datetime.combine(date, last, self.tz)))


def next_open(schedule: Schedule, now: TimeNs) -> TimeNs | None:
    """When a closed market next opens (its next phase other than CLOSED); None while it
    is open, or when no trading day is coming."""
    if schedule.phase_at(now) is not Phase.CLOSED:
        return None
    change = schedule.next_change(now)
    while change is not None and change[1] is Phase.CLOSED:
        change = schedule.next_change(change[0])
    return None if change is None else change[0]


def from_ns(now: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(now / NS_PER_SECOND, tz)


def to_ns(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * NS_PER_SECOND + moment.microsecond * 1000


def transitions(schedule: Schedule, start: TimeNs, end: TimeNs) -> list[tuple[TimeNs, Phase]]:
    """Every phase change in (start, end], in order: a jump of the clock misses none."""
    out: list[tuple[TimeNs, Phase]] = []
    now = start
    while (change := schedule.next_change(now)) is not None and change[0] <= end:
        out.append(change)
        now = change[0]
    return out
