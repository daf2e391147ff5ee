"""Volatility regimes: a Markov chain stepped once a tick, and its forecast (SPEC section 6).

How it works: the regime path is drawn ahead of time. `VolatilityState` keeps the
regimes of the next `horizon` ticks (the largest forecast lead, 5) in a queue; each
`step` makes the head of the queue current and draws one more regime at the tail from
the transition matrix row of the regime before it. The chain is therefore exactly the
SPEC's Markov chain, only drawn `horizon` ticks early.

Whenever a drawn tail regime differs from the one before it, a regime change is
scheduled and so is the hedge fund's `volatility_forecast` about it: a lead of 1-5
ticks is drawn uniformly and the forecast is emitted that many ticks before the change.
Its predicted regime is the true new regime with probability `forecast_accuracy`
(0.66); otherwise it is the one regime that is neither the old nor the new one, so a
forecast always announces a change, and is wrong only about where the regime goes.
There are no false alarms and no missed changes: "right 66% of the time" is the share
of forecasts whose predicted regime is the regime that follows.

News can `force` a regime (SPEC section 6). The pre-drawn queue was conditioned on the
old regime, so it is thrown away and redrawn from the forced one; forecasts not yet sent
about the discarded changes are dropped (those already sent simply turn out wrong, as
news is unforeseeable). Leads for the redrawn changes are clipped to the ticks left.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

import msgspec
import numpy as np


class Regime(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


REGIMES: tuple[Regime, ...] = (Regime.LOW, Regime.MEDIUM, Regime.HIGH)
"""Ordered by volatility: matrix rows and columns, and the meaning of a shift up or down."""


class RegimeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    vols: tuple[float, float, float] = (0.10, 0.20, 0.50)
    """Annualised volatility of low, medium and high."""
    transitions: tuple[tuple[float, float, float], ...] = (
        (0.95, 0.04, 0.01),
        (0.02, 0.94, 0.04),
        (0.01, 0.09, 0.90),
    )
    """Row: from low, medium, high; column: to low, medium, high. Stepped once a tick."""
    initial: Regime = Regime.MEDIUM
    forecast_accuracy: float = 0.66
    forecast_lead_ticks: tuple[int, int] = (1, 5)

    def __post_init__(self) -> None:
        matrix = np.asarray(self.transitions, dtype=np.float64)
        if matrix.shape != (3, 3) or (matrix < 0).any():
            raise ValueError("transitions must be a 3x3 matrix of probabilities")
        if not np.allclose(matrix.sum(axis=1), 1.0):
            raise ValueError("each transition row must sum to 1")
        lo, hi = self.forecast_lead_ticks
        if not 1 <= lo <= hi:
            raise ValueError("forecast_lead_ticks must be (lo, hi) with 1 <= lo <= hi")

    def vol(self, regime: Regime) -> float:
        return self.vols[REGIMES.index(regime)]

    def row(self, regime: Regime) -> dict[Regime, float]:
        """The transition probabilities out of `regime`, by target regime."""
        return dict(zip(REGIMES, self.transitions[REGIMES.index(regime)], strict=True))


def shifted(regime: Regime, direction: int) -> Regime:
    """One regime up (+1, more volatile) or down (-1); at either end it bounces back.

    A regime shifter always changes the regime, so a push past the end goes the other way.
    """
    index = REGIMES.index(regime) + direction
    if not 0 <= index < len(REGIMES):
        index = REGIMES.index(regime) - direction
    return REGIMES[index]


class VolatilityForecast(msgspec.Struct, frozen=True):
    """The hedge fund's signal. `change_tick` and `actual` are the model's truth, not sent."""

    ts_ns: int
    current: Regime
    predicted: Regime
    probabilities: dict[Regime, float]
    """The transition matrix row of the current regime."""
    change_tick: int
    lead_ticks: int
    actual: Regime

    @property
    def correct(self) -> bool:
        return self.predicted is self.actual

    def public(self) -> dict[str, object]:
        return {
            "signal": "volatility_forecast",
            "current_regime": self.current.value,
            "predicted_regime": self.predicted.value,
            "transition_probabilities": {r.value: p for r, p in self.probabilities.items()},
        }


class _Scheduled(msgspec.Struct, frozen=True):
    emit_tick: int
    change_tick: int
    predicted: Regime
    actual: Regime


class RegimeStep(msgspec.Struct, frozen=True):
    """What one step or force did: the regime before and after, and forecasts due now."""

    previous: Regime
    regime: Regime
    forecasts: list[VolatilityForecast]

    @property
    def changed(self) -> bool:
        return self.previous is not self.regime


class VolatilityState:
    """The current regime, since when, and the pre-drawn regimes of the next ticks."""

    def __init__(self, config: RegimeConfig, since_ns: int = 0) -> None:
        self.config = config
        self.regime = config.initial
        self.since_ns = since_ns
        self.tick = 0
        self.horizon = config.forecast_lead_ticks[1]
        self._upcoming: deque[Regime] = deque()
        """Regimes of ticks tick+1, tick+2, ...: the schedule of upcoming changes."""
        self._scheduled: list[_Scheduled] = []

    def upcoming(self) -> tuple[Regime, ...]:
        return tuple(self._upcoming)

    def step(self, rng: np.random.Generator, now_ns: int) -> RegimeStep:
        """Advance one tick: the next pre-drawn regime becomes current."""
        self._fill(rng)
        previous = self.regime
        self.tick += 1
        self.regime = self._upcoming.popleft()
        if self.regime is not previous:
            self.since_ns = now_ns
        self._fill(rng)
        return RegimeStep(previous, self.regime, self._due(now_ns))

    def force(self, regime: Regime, rng: np.random.Generator, now_ns: int) -> RegimeStep:
        """News sets the regime now; the upcoming path is redrawn from it."""
        previous = self.regime
        self.regime = regime
        if regime is not previous:
            self.since_ns = now_ns
        self._upcoming.clear()
        self._scheduled.clear()
        self._fill(rng)
        return RegimeStep(previous, regime, self._due(now_ns))

    def _fill(self, rng: np.random.Generator) -> None:
        while len(self._upcoming) < self.horizon:
            before = self._upcoming[-1] if self._upcoming else self.regime
            after = self._draw(before, rng)
            self._upcoming.append(after)
            if after is not before:
                self._schedule(before, after, self.tick + len(self._upcoming), rng)

    def _draw(self, regime: Regime, rng: np.random.Generator) -> Regime:
        row = self.config.transitions[REGIMES.index(regime)]
        index = int(np.searchsorted(np.cumsum(row), rng.random(), side="right"))
        return REGIMES[min(index, len(REGIMES) - 1)]

    def _schedule(
        self, before: Regime, after: Regime, change_tick: int, rng: np.random.Generator
    ) -> None:
        lo, hi = self.config.forecast_lead_ticks
        lead = int(rng.integers(lo, hi + 1))
        right = rng.random() < self.config.forecast_accuracy
        (wrong,) = (r for r in REGIMES if r not in (before, after))
        emit = max(change_tick - lead, self.tick)
        self._scheduled.append(_Scheduled(emit, change_tick, after if right else wrong, after))

    def _due(self, now_ns: int) -> list[VolatilityForecast]:
        # Only the very first step can find a change already current (drawn before any
        # tick had passed): too late to forecast, so it is dropped.
        due = [s for s in self._scheduled if s.emit_tick <= self.tick < s.change_tick]
        self._scheduled = [s for s in self._scheduled if s.emit_tick > self.tick]
        row = self.config.row(self.regime)
        return [
            VolatilityForecast(
                now_ns, self.regime, s.predicted, row, s.change_tick,
                s.change_tick - self.tick, s.actual,
            )
            for s in due
        ]  # fmt: skip
