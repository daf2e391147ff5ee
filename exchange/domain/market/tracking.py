"""SPY tracking SPX with a lag, a mean-reverting error and noise (SPEC section 6).

How it works: SPY = SPX(lagged) / 10 x (1 + eps) + eta, stepped once a tick.
- Lag: SPY follows the SPX of `lag_ticks` (1.5) ticks ago, second by second: the
  tracker keeps that much SPX history, so SPY's path is SPX's path shifted by 450 s.
- eps, the tracking error, is an Ornstein-Uhlenbeck process sampled once a tick, i.e.
  an AR(1): eps' = phi eps + s Z with phi = 0.5 ** (1 / half_life_ticks), so a deviation
  halves in 7.5 ticks. `s` makes the stationary standard deviation `error_std_pct`
  (0.15%). A day is many half-lives, so errors sampled a day apart are practically
  independent and their standard deviation, the SPEC's "daily standard deviation", is
  the stationary one.
- eta, per-tick noise: `noise_pct` (0.05%) of the theoretical price times a fresh
  normal, held for the tick.

What the arbitrage desk sees: theoretical SPY = SPX now / 10; the error is SPY against
it, in percent, so it includes the lag (SPY has not yet caught up with SPX's last move)
as well as eps and eta. The z-score divides it by the model's stationary standard
deviation of eps + eta (the lag part is left out: it depends on the regime).

The `tracking_error` signal fires when |error| passes `signal_threshold_pct` (0.15%):
when it goes above, or flips sign while above; it re-arms once back under. Every part of
the error reverts (eps by the OU pull, the lag as SPY catches up, eta by being fresh each
tick), so the true direction of SPY against its theoretical value is against the error:
down when SPY is rich, up when cheap. The signal states that true direction with
probability `signal_accuracy` (0.8) and the opposite otherwise: "right 80% of the time".
"""

from __future__ import annotations

import math
from enum import StrEnum

import msgspec
import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class Direction(StrEnum):
    """The coming move of SPY against its theoretical value."""

    UP = "up"
    DOWN = "down"

    @property
    def opposite(self) -> Direction:
        return Direction.DOWN if self is Direction.UP else Direction.UP


class TrackingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ratio: float = 10.0
    error_std_pct: float = 0.15
    """Stationary standard deviation of eps, in percent."""
    half_life_ticks: float = 7.5
    noise_pct: float = 0.05
    lag_ticks: float = 1.5
    signal_threshold_pct: float = 0.15
    signal_accuracy: float = 0.8

    @property
    def phi(self) -> float:
        """eps's one-tick autocorrelation."""
        return float(0.5 ** (1.0 / self.half_life_ticks))

    @property
    def innovation_std(self) -> float:
        """Per-tick shock to eps (a fraction), keeping its stationary std at error_std_pct."""
        return self.error_std_pct / 100.0 * math.sqrt(1.0 - self.phi**2)

    @property
    def model_std_pct(self) -> float:
        """Stationary standard deviation of eps + eta, in percent: the z-score's unit."""
        return math.hypot(self.error_std_pct, self.noise_pct)


class TrackingTick(msgspec.Struct, frozen=True):
    spx: float
    spy: float
    theoretical_spy: float
    error_pct: float
    z_score: float
    epsilon: float
    """The model's eps (a fraction), hidden from players."""
    spy_path: Array


class TrackingState:
    """SPY's model state: eps and the SPX history the lag reads from."""

    def __init__(self, config: TrackingConfig, spx: float, steps_per_tick: int = 300) -> None:
        self.config = config
        self.lag_steps = round(config.lag_ticks * steps_per_tick)
        self._history: Array = np.full(self.lag_steps, spx, dtype=np.float64)
        """SPX at each of the last `lag_steps` steps, oldest first."""
        self.epsilon = 0.0
        self.spy = spx / config.ratio

    def step(self, spx_path: Array, rng: np.random.Generator) -> TrackingTick:
        """Advance one tick, given SPX's path over it (one price per step)."""
        c = self.config
        shocks = rng.standard_normal(2)
        self.epsilon = c.phi * self.epsilon + c.innovation_std * shocks[0]
        joined = np.concatenate((self._history, spx_path))
        lagged = joined[: len(spx_path)]
        self._history = joined[len(spx_path) :]
        spx = float(spx_path[-1])
        theoretical = spx / c.ratio
        eta = theoretical * c.noise_pct / 100.0 * float(shocks[1])
        spy_path = np.asarray(lagged / c.ratio * (1.0 + self.epsilon) + eta)
        self.spy = float(spy_path[-1])
        error_pct = (self.spy / theoretical - 1.0) * 100.0
        z_score = error_pct / c.model_std_pct if c.model_std_pct > 0 else 0.0
        return TrackingTick(spx, self.spy, theoretical, error_pct, z_score, self.epsilon, spy_path)


class TrackingErrorSignal(msgspec.Struct, frozen=True):
    """The arbitrage desk's signal. `true_direction` is the model's truth, not sent."""

    ts_ns: int
    spx: float
    spy: float
    theoretical_spy: float
    error_pct: float
    direction: Direction
    z_score: float
    true_direction: Direction

    @property
    def correct(self) -> bool:
        return self.direction is self.true_direction

    def public(self) -> dict[str, object]:
        return {
            "signal": "tracking_error",
            "spx": round(self.spx, 2),
            "spy": round(self.spy, 2),
            "theoretical_spy": round(self.theoretical_spy, 4),
            "error_pct": round(self.error_pct, 4),
            "direction": self.direction.value,
            "z_score": round(self.z_score, 3),
        }


class TrackingSignaller:
    """Decides when the error has passed the threshold, and what direction to state."""

    def __init__(self, config: TrackingConfig) -> None:
        self.config = config
        self._signalled = 0
        """Sign of the error last signalled while it stays past the threshold, else 0."""

    def check(
        self, tick: TrackingTick, ts_ns: int, rng: np.random.Generator
    ) -> TrackingErrorSignal | None:
        past = abs(tick.error_pct) > self.config.signal_threshold_pct
        sign = (1 if tick.error_pct > 0 else -1) if past else 0
        if sign == self._signalled:
            return None
        self._signalled = sign
        if sign == 0:
            return None
        true = Direction.DOWN if sign > 0 else Direction.UP
        stated = true if rng.random() < self.config.signal_accuracy else true.opposite
        return TrackingErrorSignal(
            ts_ns, tick.spx, tick.spy, tick.theoretical_spy, tick.error_pct, stated,
            tick.z_score, true,
        )  # fmt: skip
