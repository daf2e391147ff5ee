"""Prices cross the edge once: decimals outside, integer ticks inside (SPEC section 2).

A price that is not a whole number of ticks is an error, never silently rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from exchange.domain.types import Ticks

TICK = Decimal("0.01")
TICKS_PER_UNIT = 100


class PriceError(ValueError):
    """A price that cannot become a whole number of ticks."""


def to_ticks(price: float | int | str | Decimal) -> Ticks:
    """Convert a decimal price to ticks; raise `PriceError` if it is off the tick grid.

    Floats are read through their shortest repr, so 4400.1 means 4400.10 exactly.
    """
    try:
        value = Decimal(repr(price)) if isinstance(price, float) else Decimal(price)
    except (InvalidOperation, ValueError) as exc:
        raise PriceError(f"not a number: {price!r}") from exc
    if not value.is_finite():
        raise PriceError(f"not a finite price: {price!r}")
    try:
        scaled = value * TICKS_PER_UNIT
    except ArithmeticError as exc:  # past Decimal's exponent range: no price at all
        raise PriceError(f"not a price: {price!r}") from exc
    if scaled != scaled.to_integral_value():
        raise PriceError(f"{price!r} is not a multiple of the tick size {TICK}")
    return Ticks(int(scaled))


def to_price(ticks: int) -> float:
    """Ticks to a JSON-ready number with at most two decimals."""
    return ticks / TICKS_PER_UNIT


def to_decimal(ticks: int) -> Decimal:
    return Decimal(ticks) / TICKS_PER_UNIT


def round_to_tick(price: float) -> Ticks:
    """For prices the server computes itself (fair values, simulated quotes), never input."""
    return Ticks(round(price * TICKS_PER_UNIT))
