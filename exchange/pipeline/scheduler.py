"""The scheduler task: follows the game clock through the phase schedule.

On each change it announces the phase (so validation sees it at once), tells every
client, and puts a `PhaseStep` behind the orders already queued for each book, so each
matcher enters the phase in order: orders sent before the auction take part in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from exchange.clock import Clock
from exchange.domain.phases import Schedule
from exchange.domain.types import InstrumentId, Phase, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.items import PhaseStep

MAX_NAP = 0.5
"""Seconds between looks at the clock, so a change of clock speed is noticed quickly."""


class Scheduler:
    def __init__(
        self,
        schedule: Schedule,
        clock: Clock,
        venue: ExchangeVenue,
        matchers: dict[InstrumentId, asyncio.Queue[Any]],
        announce: Callable[[Phase, Phase, TimeNs], None],
        since: TimeNs | None = None,
    ) -> None:
        self.schedule = schedule
        self.clock = clock
        self.venue = venue
        self.matchers = matchers
        self.announce = announce
        self.since = clock.now() if since is None else since
        """Changes up to here have been applied (from the moment the venue's phase was
        set, which may be a little before the task starts); the next one is looked up
        after it, so a late wake-up (a slow loop, a clock sped up) still applies every
        change in order."""

    async def run(self) -> None:
        while True:
            change = self.schedule.next_change(self.since)
            if change is None:
                await asyncio.sleep(MAX_NAP)
                self.since = max(self.since, self.clock.now())
                continue
            at, phase = change
            wait = self.clock.wall_seconds_until(at)
            if wait > 0:
                await asyncio.sleep(min(wait, MAX_NAP))
                continue
            await self.enter(phase, at)
            self.since = at

    async def enter(self, phase: Phase, at: TimeNs) -> None:
        """Announce a phase and queue its step for every book (waiting, never dropping)."""
        previous = self.venue.phase
        self.venue.phase = phase
        self.announce(previous, phase, at)
        for queue in self.matchers.values():
            await queue.put(PhaseStep(phase, at))
