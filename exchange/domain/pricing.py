"""Black-Scholes with zero rate, vectorised over whole option chains (SPEC section 6).

Every function takes scalars or arrays and broadcasts them; results are float64 arrays
(0-d for scalar inputs). Prices here are in price units, not ticks, and per unit of the
underlying, not per contract. Greeks: vega per 1.00 of volatility, theta per year (the
value lost as a year passes). Degenerate inputs (expired, zero volatility, non-positive
spot or strike) give intrinsic value without a warning or a NaN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from exchange.domain.instruments import Instrument
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import OptionKind

Array = NDArray[np.float64]
NS_PER_YEAR = 365 * 86_400 * 10**9
IV_ITERATIONS = 64
"""Enough for bisection alone to pin [1e-4, 5] to 1e-18; Newton usually needs under 10."""

MIN_STD = 1e-12
"""Below this total deviation (sigma x sqrt(t)) an option is priced as expired."""
PRICE_NOISE = 1e-12
"""Relative slack under intrinsic that `implied_vol` still reads as intrinsic."""
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class Greeks(NamedTuple):
    value: Array
    delta: Array
    gamma: Array
    vega: Array
    theta: Array


def year_fraction(from_ns: int, to_ns: int) -> float:
    """Years of 365 days from `from_ns` to `to_ns`; negative once `to_ns` has passed."""
    return (to_ns - from_ns) / NS_PER_YEAR


def _cdf(x: Array) -> Array:
    return np.asarray(ndtr(x), dtype=np.float64)


def _pdf(x: Array) -> Array:
    return np.asarray(_INV_SQRT_2PI * np.exp(-0.5 * x * x), dtype=np.float64)


def _floats(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(*values)]


def black_scholes(
    spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike, sigma: ArrayLike, is_call: ArrayLike
) -> Greeks:
    """Value and greeks of European options at zero rate, element by element."""
    s, k, t, v, c = np.broadcast_arrays(spot, strike, t_years, sigma, is_call)
    s, k, t, v = _floats(s, k, t, v)
    call = np.asarray(c, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        # A total deviation under MIN_STD is priced as none: keeps d1 finite and never 0/0.
        live = (t > 0) & (v > 0) & (s > 0) & (k > 0) & (v * np.sqrt(np.abs(t)) >= MIN_STD)
    # Safe stand-ins where not live, so no log(0) or division by zero is ever evaluated.
    s_, k_, t_, v_ = (np.where(live, x, 1.0) for x in (s, k, t, v))
    sqrt_t = np.sqrt(t_)
    std = v_ * sqrt_t
    d1 = (np.log(s_ / k_) + 0.5 * std * std) / std
    d2 = d1 - std
    pdf = _pdf(d1)
    intrinsic = _intrinsic(s, k, call)
    value = intrinsic + _otm_value(s_, k_, d1, d2)
    delta = np.where(call, _cdf(d1), _cdf(d1) - 1.0)
    gamma = pdf / (s_ * std)
    vega = s_ * pdf * sqrt_t
    theta = -s_ * pdf * v_ / (2.0 * sqrt_t)
    dead_delta = np.where(call, np.where(s > k, 1.0, 0.0), np.where(s < k, -1.0, 0.0))
    zero = np.zeros_like(value)
    return Greeks(
        np.where(live, value, intrinsic),
        np.where(live, delta, dead_delta),
        np.where(live, gamma, zero),
        np.where(live, vega, zero),
        np.where(live, theta, zero),
    )


def _intrinsic(s: Array, k: Array, call: NDArray[np.bool_]) -> Array:
    return np.where(call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))


def _otm_value(s: Array, k: Array, d1: Array, d2: Array) -> Array:
    """The out-of-the-money twin's value (call if s < k), never below zero.

    At zero rate any option is its intrinsic value plus this (put-call parity), which
    avoids the cancellation of pricing a deep in-the-money option directly.
    """
    otm = np.where(s < k, s * _cdf(d1) - k * _cdf(d2), k * _cdf(-d2) - s * _cdf(-d1))
    return np.maximum(otm, 0.0)


def _otm_value_vega(s: Array, k: Array, t: Array, v: Array) -> tuple[Array, Array]:
    """Value and vega of the out-of-the-money twin, all inputs live."""
    sqrt_t = np.sqrt(t)
    std = v * sqrt_t
    d1 = (np.log(s / k) + 0.5 * std * std) / std
    return _otm_value(s, k, d1, d1 - std), s * _pdf(d1) * sqrt_t


def implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    is_call: ArrayLike,
    lo: float = 1e-4,
    hi: float = 5.0,
) -> Array:
    """The volatility that reprices each option, clipped to [lo, hi].

    NaN where the price breaks no-arbitrage bounds (below intrinsic, at or above the spot
    for a call or the strike for a put) or the option is expired. Solves on the time value
    of the out-of-the-money twin (put-call parity at zero rate), which is better
    conditioned than a deep in-the-money price: Newton steps, bisection when Newton would
    leave the bracket, a fixed number of iterations.
    """
    p, s, k, t, c = np.broadcast_arrays(price, spot, strike, t_years, is_call)
    p, s, k, t = _floats(p, s, k, t)
    call = np.asarray(c, dtype=bool)
    time_value = p - _intrinsic(s, k, call)
    # A price at intrinsic may miss it by float noise in s - k: forgive that much.
    noise = PRICE_NOISE * np.maximum(s, k)
    valid = (t > 0) & (s > 0) & (k > 0) & (time_value >= -noise) & (time_value < np.minimum(s, k))
    time_value = np.maximum(time_value, 0.0)
    s_, k_, t_ = (np.where(valid, x, 1.0) for x in (s, k, t))
    target = np.where(valid, time_value, 0.0)
    low = np.full_like(target, lo)
    high = np.full_like(target, hi)
    vol = np.clip(np.sqrt(2.0 * np.pi / t_) * target / s_, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(IV_ITERATIONS):
            value, vega = _otm_value_vega(s_, k_, t_, vol)
            above = value > target
            # Value rises with volatility, so the root lies below `vol` when value is above.
            high = np.where(above, vol, high)
            low = np.where(above, low, vol)
            newton = vol - (value - target) / vega
            inside = np.isfinite(newton) & (newton >= low) & (newton <= high)
            vol = np.where(inside, newton, 0.5 * (low + high))
    # A price at intrinsic means no volatility at all: the floor, not whichever vol
    # happened to underflow to the same value.
    return np.where(valid, np.where(target > 0, vol, lo), np.nan)


def chain_greeks(
    instruments: Sequence[Instrument],
    spots: Mapping[str, float],
    sigma: float,
    now_ns: int,
    expiry_ns: Callable[[dt.date], int],
) -> Greeks:
    """Greeks of a list of options, in order; `expiry_ns` maps an expiry date to game time.

    Raises ValueError for an instrument that is not an option.
    """
    spot: list[float] = []
    strike: list[float] = []
    t: list[float] = []
    years: dict[dt.date, float] = {}
    for i in instruments:
        if i.strike is None or i.expiry is None:
            raise ValueError(f"not an option: {i.id}")
        if i.expiry not in years:
            years[i.expiry] = year_fraction(now_ns, expiry_ns(i.expiry))
        spot.append(spots[i.underlying])
        strike.append(i.strike / TICKS_PER_UNIT)
        t.append(years[i.expiry])
    is_call = [i.kind is OptionKind.CALL for i in instruments]
    return black_scholes(spot, strike, t, sigma, is_call)
