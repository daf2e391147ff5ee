"""How long the event loop is held: the lateness of a timer that asks to wake often.

Everything runs on one loop, so whatever runs for long without an await (a big
synchronous commit, a full garbage collection, a broadcast to every stream) holds
every order, answer and stream message behind it. `LoopLag` sleeps `interval` seconds
at a time and records how late each wake-up came: about nothing on a loop that keeps
up, about the length of whatever ran instead on one that does not. The last `window`
wake-ups are kept for `/health` (p50, p99 and the worst, in milliseconds); each is
also given to `observe` (the `/metrics` histogram). A wake-up later than `stall`
seconds is a stall: counted, and logged as a warning (at most one line per `quiet`
seconds, with the number since the last line), since a bot saw every answer wait
that long.

The timer's resolution is the loop's: uvloop keeps time in milliseconds, so lateness
under a millisecond reads as noise; stalls are tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np

log = logging.getLogger("exchange.loop")

INTERVAL = 0.01
"""Seconds between wake-ups: 100 a second, each a few microseconds of work."""
WINDOW = 6_000
"""Wake-ups kept for the percentiles: the last minute at `INTERVAL`."""
STALL = 0.05
"""Seconds late that count as a stall."""
QUIET = 10.0
"""Seconds between two stall warnings in the log."""


class LoopLag:
    def __init__(
        self,
        observe: Callable[[float], None] | None = None,
        interval: float = INTERVAL,
        window: int = WINDOW,
        stall: float = STALL,
        quiet: float = QUIET,
    ) -> None:
        if interval <= 0 or window < 1 or stall <= 0:
            raise ValueError("interval and stall must be positive, window at least 1")
        self.observe = observe
        self.interval, self.stall, self.quiet = interval, stall, quiet
        self.recent: deque[float] = deque(maxlen=window)
        """Seconds late of the last `window` wake-ups."""
        self.stalls = 0
        self.worst = 0.0
        """The latest wake-up ever, in seconds (since start)."""
        self.unlogged = 0
        """Stalls since the last warning."""
        self.last_warning = -quiet

    async def run(self) -> None:
        interval = self.interval
        while True:
            due = time.monotonic() + interval
            await asyncio.sleep(interval)
            self.woke(time.monotonic() - due)

    def woke(self, late: float) -> None:
        """A wake-up `late` seconds after it was due (less than 0 reads as 0)."""
        late = max(late, 0.0)
        self.recent.append(late)
        self.worst = max(self.worst, late)
        if self.observe is not None:
            self.observe(late)
        if late >= self.stall:
            self.stalls += 1
            self.unlogged += 1
            self.warn(late)

    def warn(self, late: float) -> None:
        now = time.monotonic()
        if now - self.last_warning < self.quiet:
            return
        log.warning(
            "event loop held",
            extra={"held_ms": round(late * 1000, 1), "stalls": self.unlogged},
        )
        self.last_warning, self.unlogged = now, 0

    def summary(self) -> dict[str, float]:
        """Milliseconds late over the last `window` wake-ups (p50, p99, most), the worst
        since start, and the stalls since start."""
        recent = np.fromiter(self.recent, dtype=float, count=len(self.recent))
        p50, p99, most = np.percentile(recent, [50, 99, 100]) if len(recent) else (0, 0, 0)
        return {
            "lag_p50_ms": ms(p50), "lag_p99_ms": ms(p99), "lag_max_ms": ms(most),
            "worst_ms": ms(self.worst), "stalls": self.stalls,
        }  # fmt: skip


def ms(seconds: float) -> float:
    return round(float(seconds) * 1000, 2)
