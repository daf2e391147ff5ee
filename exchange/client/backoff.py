"""How long the stream waits before its next connection attempt: capped exponential
backoff with jitter.

The n-th attempt in a row (n >= 1) waits a random time between half and all of
`min(cap, first * 2 ** (n - 1))`: the wait doubles up to the cap, and the random half
keeps many bots that lost the same server from coming back in step. The randomness
comes from `rng`, so a test (or a replay) seeds it and gets the same waits.
"""

from __future__ import annotations

import random


class Backoff:
    """`first`: the first wait's ceiling in seconds; `cap`: the largest wait;
    `max_attempts`: how many attempts may follow failures in a row before giving up
    (None: never give up; 0: no second attempt);
    `rng`: the jitter's source (default: a fresh `random.Random()`)."""

    def __init__(
        self,
        first: float = 0.05,
        cap: float = 5.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if first <= 0 or cap < first:
            raise ValueError("backoff needs 0 < first <= cap")
        if max_attempts is not None and max_attempts < 0:
            raise ValueError("max_attempts must be None or at least 0")
        self.first = first
        self.cap = cap
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()

    def exhausted(self, failures: int) -> bool:
        """True when `failures` in a row leave no attempt to make."""
        return self.max_attempts is not None and failures > self.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the `attempt`-th attempt in a row (1, 2, ...)."""
        ceiling = self.first * 2.0 ** min(max(attempt - 1, 0), 60)
        ceiling = min(self.cap, ceiling)
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)
