"""Prices and ticks: every tick count survives the trip out to a price and back, and a
price off the tick grid is an error, never rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.domain.ticks import (
    TICKS_PER_UNIT,
    PriceError,
    round_to_tick,
    to_decimal,
    to_price,
    to_ticks,
)

ticks = st.integers(-(10**12), 10**12)
"""Up to ten billion in price, either sign: well past any price a game quotes."""


@given(ticks)
def test_ticks_to_a_json_price_and_back_are_the_same_ticks(n: int) -> None:
    assert to_ticks(to_price(n)) == n


@given(ticks)
def test_ticks_to_a_decimal_and_back_are_the_same_ticks(n: int) -> None:
    price = to_decimal(n)
    assert to_ticks(price) == n
    assert to_ticks(str(price)) == n


@given(ticks)
def test_a_computed_price_on_the_grid_rounds_to_its_own_tick(n: int) -> None:
    assert round_to_tick(to_price(n)) == n


@given(ticks, st.integers(1, 99))
def test_a_price_between_two_ticks_is_refused(n: int, hundredths_of_a_tick: int) -> None:
    between = to_decimal(n) + Decimal(hundredths_of_a_tick) / (TICKS_PER_UNIT * 100)
    with pytest.raises(PriceError):
        to_ticks(between)
    with pytest.raises(PriceError):
        to_ticks(str(between))


@pytest.mark.parametrize("price", ["nan", "inf", "-inf", "abc", "", "1e400000000000"])
def test_what_is_not_a_finite_number_is_refused(price: str) -> None:
    with pytest.raises(PriceError):
        to_ticks(price)


def test_a_float_is_read_as_it_is_written() -> None:
    assert to_ticks(4400.1) == 440010  # not 440009.99...: the shortest repr is read
    assert to_ticks(0.29) == 29
