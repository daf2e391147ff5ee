"""SPX as geometric Brownian motion with zero drift, plus news jumps (SPEC section 6).

How it works: SPX is stepped every game second with the exact log-normal step
`S' = S exp(-sigma^2 dt / 2 + sigma sqrt(dt) Z)`, which keeps E[S'] = S (zero drift: the
price is a martingale, as Black-Scholes at zero rate assumes). A whole tick (300 steps)
is one vectorised draw and one cumulative sum; `sigma` may change within the tick
(news forcing a regime) and a jump may land on any step.

Year basis: volatilities are annualised and `dt = step_seconds / year_seconds`. The
default year is 365 days of 24 hours of game time, the same basis as
`exchange.domain.pricing.NS_PER_YEAR`, so the volatility that prices an option over its
calendar time to expiry is exactly the volatility SPX realises over that time. A
trading-time basis (252 days x 6.5 hours) would make intraday moves livelier, about 2.3x,
but options would then be priced on a different clock than the one moving the
underlying; set `year_seconds` for that if wanted.
"""

from __future__ import annotations

import msgspec
import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

SECONDS_PER_YEAR = 365 * 86_400
"""365 days of 24 hours of game time, as in `exchange.domain.pricing.NS_PER_YEAR`."""


class GbmConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    initial_price: float = 4400.0
    step_seconds: float = 1.0
    """SPX is stepped every game second."""
    year_seconds: float = float(SECONDS_PER_YEAR)
    """The year volatilities are annualised over (see the module docstring)."""

    @property
    def dt_years(self) -> float:
        return self.step_seconds / self.year_seconds


def step(price: ArrayLike, sigma: ArrayLike, dt_years: float, rng: np.random.Generator) -> Array:
    """One zero-drift GBM step for each price (broadcast with `sigma`)."""
    s, v = (np.asarray(x, dtype=np.float64) for x in np.broadcast_arrays(price, sigma))
    z = rng.standard_normal(s.shape)
    return np.asarray(s * np.exp(v * np.sqrt(dt_years) * z - 0.5 * v * v * dt_years))


def log_increments(sigma: Array, dt_years: float, rng: np.random.Generator) -> Array:
    """Log returns of one step per entry of `sigma` (per-step volatilities)."""
    z = rng.standard_normal(sigma.shape)
    return np.asarray(sigma * np.sqrt(dt_years) * z - 0.5 * sigma * sigma * dt_years)


def path(
    price: float,
    sigma: ArrayLike,
    dt_years: float,
    rng: np.random.Generator,
    steps: int | None = None,
    jumps: ArrayLike | None = None,
) -> Array:
    """The prices after each of `steps` steps from `price` (the start is not included).

    `sigma` is one volatility or one per step; `jumps` is a relative jump per step
    (0 where none, +0.01 for a 1% jump up), applied on top of that step's diffusion.
    """
    n = steps if steps is not None else np.size(sigma)
    vols = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,))
    log_returns = log_increments(np.array(vols), dt_years, rng)
    if jumps is not None:
        log_returns = log_returns + np.log1p(np.broadcast_to(np.asarray(jumps, float), (n,)))
    return np.asarray(price * np.exp(np.cumsum(log_returns)))


def draw_jump(
    rng: np.random.Generator, low: float = 0.005, high: float = 0.02, p_up: float = 0.5
) -> float:
    """A relative jump of `low`..`high` in size (uniform), up with probability `p_up`."""
    size = rng.uniform(low, high)
    return float(size if rng.random() < p_up else -size)


def apply_jump(price: float, jump: float) -> float:
    return price * (1.0 + jump)


def realised_vol(prices: ArrayLike, dt_years: float) -> float:
    """Annualised standard deviation of log returns of a price series."""
    log_returns = np.diff(np.log(np.asarray(prices, dtype=np.float64)))
    return float(np.std(log_returns, ddof=1) / np.sqrt(dt_years))
