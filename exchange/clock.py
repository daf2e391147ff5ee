"""The one game clock every task reads (SPEC section 4).

Game time is nanoseconds since the Unix epoch, on the game's own calendar. A
`ScaledClock` runs from a chosen game start at `speed` game seconds per wall second
(1 is real time; 60 makes a 5-minute tick last 5 seconds); a `VirtualClock` moves only
when told, as fast as a replay's work allows. The domain never reads a clock: tasks read
one and pass `now` in. This module is the only place that reads the wall clock.
"""

from __future__ import annotations

import time
from typing import Protocol

from exchange.domain.types import NS_PER_SECOND, TimeNs


class Clock(Protocol):
    def now(self) -> TimeNs: ...

    def rate_ns(self) -> int:
        """Time for order-rate windows: the wall's for a live game (a bot's orders per
        real second, whatever the game speed), the game's in a replay (deterministic)."""
        ...

    def wall_seconds_until(self, game_ns: int) -> float:
        """How long to wait in wall time until the game clock reaches `game_ns`."""
        ...


class ScaledClock:
    """Game time advancing with the wall clock, `speed` times faster; pausable."""

    def __init__(self, start: TimeNs | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._anchor_game = time.time_ns() if start is None else start
        self._anchor_wall = time.monotonic_ns()
        self._speed = speed
        self._paused_at: int | None = None

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def rate_ns(self) -> int:
        return time.monotonic_ns()

    def now(self) -> TimeNs:
        if self._paused_at is not None:
            return TimeNs(self._paused_at)
        elapsed = time.monotonic_ns() - self._anchor_wall
        return TimeNs(self._anchor_game + int(elapsed * self._speed))

    def set_speed(self, speed: float) -> None:
        """Change speed from now on; game time already passed is kept."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._rebase()
        self._speed = speed

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._anchor_game, self._paused_at = self._paused_at, None
            self._anchor_wall = time.monotonic_ns()

    def wall_seconds_until(self, game_ns: int) -> float:
        if self._paused_at is not None:
            return float("inf")
        return max(0.0, (game_ns - self.now()) / self._speed / NS_PER_SECOND)

    def _rebase(self) -> None:
        if self._paused_at is None:
            self._anchor_game = self.now()
            self._anchor_wall = time.monotonic_ns()


class VirtualClock:
    """Game time that moves only when the replay advances it; waiting costs nothing."""

    def __init__(self, start: TimeNs) -> None:
        self._now = start

    def now(self) -> TimeNs:
        return self._now

    def rate_ns(self) -> int:
        return self._now

    def advance_to(self, game_ns: int) -> None:
        if game_ns < self._now:
            raise ValueError("a clock never runs backwards")
        self._now = TimeNs(game_ns)

    def advance(self, delta_ns: int) -> None:
        self.advance_to(self._now + delta_ns)

    def wall_seconds_until(self, game_ns: int) -> float:
        return 0.0
