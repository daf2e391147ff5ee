"""A sliding-window event counter: the state behind the `order_rate` constraint (SPEC 5).

One `SlidingWindow` per team. An event recorded at `t` counts while `now - t < window`,
so at exactly one window later it has left. Timestamps are kept oldest first in a deque;
each is appended once and popped once, so every call is O(1) amortised.
"""

from __future__ import annotations

from collections import deque

from exchange.domain.types import NS_PER_SECOND


class SlidingWindow:
    """Counts events in the last `window_ns` of game time against a `limit`."""

    __slots__ = ("_events", "limit", "window_ns")

    def __init__(self, limit: int, window_ns: int = NS_PER_SECOND) -> None:
        if limit < 1 or window_ns < 1:
            raise ValueError(f"limit and window must be positive, got {limit}, {window_ns}")
        self.limit = limit
        self.window_ns = window_ns
        self._events: deque[int] = deque()

    def _expire(self, now_ns: int) -> None:
        horizon = now_ns - self.window_ns
        events = self._events
        while events and events[0] <= horizon:
            events.popleft()

    def count(self, now_ns: int) -> int:
        """Events in the window ending at `now_ns`."""
        self._expire(now_ns)
        return len(self._events)

    def record(self, now_ns: int) -> None:
        """Count one event at `now_ns`; the game clock never runs backwards."""
        events = self._events
        if events and now_ns < events[-1]:
            # The deque must stay sorted for expiry to be a pop from the left.
            raise ValueError(f"time went backwards: {now_ns} < {events[-1]}")
        self._expire(now_ns)
        events.append(now_ns)

    def remaining(self, now_ns: int) -> int:
        """Events still allowed in the window ending at `now_ns`."""
        return max(0, self.limit - self.count(now_ns))

    def retry_after_ns(self, now_ns: int) -> int:
        """0 if an event is allowed now, else how long until the window has room."""
        count = self.count(now_ns)
        if count < self.limit:
            return 0
        # Room appears when the window holds limit - 1 events, i.e. once the
        # (count - limit + 1) oldest have left; usually count == limit and that is [0].
        return self._events[count - self.limit] + self.window_ns - now_ns
