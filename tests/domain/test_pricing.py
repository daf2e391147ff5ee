"""Black-Scholes at zero rate, greeks and implied volatility (SPEC section 6)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exchange.domain.instruments import ChainSpec, build_chain
from exchange.domain.pricing import (
    NS_PER_YEAR,
    black_scholes,
    chain_greeks,
    implied_vol,
    year_fraction,
)

spots = st.floats(1.0, 10_000.0)
moneyness = st.floats(0.5, 2.0)
years = st.floats(1 / (365 * 24), 2.0)
vols = st.floats(0.01, 2.0)
kinds = st.booleans()


def test_at_the_money_call_has_the_textbook_value() -> None:
    g = black_scholes(100.0, 100.0, 1.0, 0.2, True)
    assert float(g.value) == pytest.approx(7.9656, abs=1e-4)
    assert float(g.delta) == pytest.approx(0.539828, abs=1e-6)
    assert float(g.gamma) == pytest.approx(0.019848, abs=1e-6)
    assert float(g.vega) == pytest.approx(39.6953, abs=1e-4)
    assert float(g.theta) == pytest.approx(-3.96953, abs=1e-5)


def test_at_the_money_put_equals_the_call_at_zero_rate() -> None:
    put = black_scholes(100.0, 100.0, 1.0, 0.2, False)
    assert float(put.value) == pytest.approx(7.9656, abs=1e-4)
    assert float(put.delta) == pytest.approx(0.539828 - 1.0, abs=1e-6)


@given(spots, moneyness, years, vols)
def test_put_call_parity(s: float, m: float, t: float, v: float) -> None:
    k = s * m
    call = float(black_scholes(s, k, t, v, True).value)
    put = float(black_scholes(s, k, t, v, False).value)
    assert call - put == pytest.approx(s - k, abs=1e-9 * max(s, k))


@given(spots, moneyness, years, vols, kinds)
def test_greeks_match_finite_differences(s: float, m: float, t: float, v: float, c: bool) -> None:
    k = s * m
    g = black_scholes(s, k, t, v, c)
    # Steps scaled to the distribution's width, so short-dated options are not over-stepped.
    hs, hv, ht = s * v * t**0.5 * 1e-3, v * 1e-4, t * 1e-4
    up, down = black_scholes(s + hs, k, t, v, c), black_scholes(s - hs, k, t, v, c)
    assert float(g.delta) == pytest.approx(
        float(up.value - down.value) / (2 * hs), rel=1e-4, abs=1e-6
    )
    assert float(g.gamma) * s == pytest.approx(
        float(up.delta - down.delta) / (2 * hs) * s, rel=1e-4, abs=1e-6
    )
    dv = black_scholes(s, k, t, v + hv, c).value - black_scholes(s, k, t, v - hv, c).value
    assert float(g.vega) == pytest.approx(float(dv) / (2 * hv), rel=1e-4, abs=1e-6 * s)
    dt_ = black_scholes(s, k, t + ht, v, c).value - black_scholes(s, k, t - ht, v, c).value
    assert float(g.theta) == pytest.approx(-float(dt_) / (2 * ht), rel=1e-4, abs=1e-4 * s)


@given(spots, moneyness, years, vols, kinds)
def test_value_lies_within_no_arbitrage_bounds(
    s: float, m: float, t: float, v: float, c: bool
) -> None:
    k = s * m
    value = float(black_scholes(s, k, t, v, c).value)
    intrinsic = max(s - k, 0.0) if c else max(k - s, 0.0)
    assert intrinsic <= value <= (s if c else k)


def test_expired_options_are_worth_intrinsic_with_step_delta() -> None:
    s = np.array([110.0, 90.0, 100.0, 90.0, 110.0, 100.0])
    call = np.array([True, True, True, False, False, False])
    for t in (0.0, -0.5):
        g = black_scholes(s, 100.0, t, 0.2, call)
        np.testing.assert_array_equal(g.value, [10.0, 0.0, 0.0, 10.0, 0.0, 0.0])
        np.testing.assert_array_equal(g.delta, [1.0, 0.0, 0.0, -1.0, 0.0, 0.0])
        for greek in (g.gamma, g.vega, g.theta):
            np.testing.assert_array_equal(greek, 0.0)


def test_zero_volatility_and_bad_inputs_give_intrinsic_without_nan() -> None:
    g = black_scholes(
        [120.0, 80.0, 0.0, 50.0],
        [100.0, 100.0, 100.0, 0.0],
        1.0,
        [0.0, -1.0, 0.2, 0.2],
        [True, False, False, True],
    )
    np.testing.assert_array_equal(g.value, [20.0, 20.0, 100.0, 50.0])
    np.testing.assert_array_equal(g.delta, [1.0, -1.0, -1.0, 1.0])
    assert not any(np.isnan(x).any() for x in g)


def test_inputs_broadcast_over_a_whole_chain() -> None:
    strikes = np.linspace(3080.0, 5720.0, 15)
    g = black_scholes(4400.0, strikes, 7 / 365, 0.2, np.array([[True], [False]]))
    assert g.value.shape == (2, 15)
    single = black_scholes(4400.0, strikes[3], 7 / 365, 0.2, False)
    assert g.value[1, 3] == float(single.value)
    assert np.all(np.diff(g.value[0]) < 0)
    assert np.all(np.diff(g.value[1]) > 0)


@given(spots, moneyness, years, vols, kinds)
def test_implied_vol_round_trips_the_value(
    s: float, m: float, t: float, v: float, c: bool
) -> None:
    k = s * m
    g = black_scholes(s, k, t, v, c)
    iv = float(implied_vol(g.value, s, k, t, c))
    assert float(black_scholes(s, k, t, iv, c).value) == pytest.approx(
        float(g.value), abs=1e-9 * max(s, k)
    )
    # Where the price barely moves with volatility, it cannot tell volatilities apart.
    assume(float(g.vega) > 1e-3 * s)
    assert iv == pytest.approx(v, abs=1e-6)


def test_implied_vol_over_an_array_of_options() -> None:
    s = np.array([100.0, 100.0, 4400.0, 440.0])
    k = np.array([100.0, 70.0, 5060.0, 451.0])
    t = np.array([1.0, 0.25, 14 / 365, 3 / 365])
    v = np.array([0.2, 0.5, 0.1, 0.3])
    c = np.array([True, False, True, False])
    iv = implied_vol(black_scholes(s, k, t, v, c).value, s, k, t, c)
    np.testing.assert_allclose(iv, v, atol=1e-8)


def test_implied_vol_of_an_array_is_each_options_own_to_the_last_bit() -> None:
    """The market data task solves a whole chain in one call: each option must get
    exactly what solving it alone gives (same steps, element by element)."""
    rng = np.random.default_rng(7)
    n = 60
    s = np.full(n, 4400.0)
    k = np.round(rng.uniform(3000, 5800, n))
    t = rng.uniform(0.001, 0.1, n)
    c = rng.random(n) < 0.5
    price = np.round(black_scholes(s, k, t, rng.uniform(0.1, 0.6, n), c).value * 1.02, 2)
    together = implied_vol(price, s, k, t, c)
    alone = [float(np.asarray(implied_vol(*args))) for args in zip(price, s, k, t, c, strict=True)]
    np.testing.assert_array_equal(together, alone)


def test_implied_vol_is_nan_outside_no_arbitrage_bounds() -> None:
    iv = implied_vol(
        price=[9.0, 100.0, 100.0, 5.0, 5.0, 5.0],
        spot=[110.0, 100.0, 120.0, 100.0, 100.0, 100.0],
        strike=[100.0, 90.0, 100.0, 100.0, 100.0, 100.0],
        t_years=[1.0, 1.0, 1.0, 0.0, -1.0, 1.0],
        is_call=[True, True, False, True, True, True],
    )
    assert np.isnan(iv[:5]).all()
    assert not np.isnan(iv[5])


def test_implied_vol_at_intrinsic_is_the_floor_and_clips_at_the_ceiling() -> None:
    iv = implied_vol([10.0, 99.999], [110.0, 100.0], 100.0, 1.0, True, lo=1e-4, hi=5.0)
    assert iv[0] == 1e-4
    assert iv[1] == pytest.approx(5.0)


def test_implied_vol_forgives_float_noise_at_intrinsic() -> None:
    spot, strike = 4400.37, 4400.0
    intrinsic = spot - strike
    iv = implied_vol([intrinsic, intrinsic * (1 - 1e-15)], spot, strike, 0.1, True)
    np.testing.assert_array_equal(iv, [1e-4, 1e-4])


def test_year_fraction_counts_365_day_years() -> None:
    start = 1_700_000_000 * 10**9
    assert year_fraction(start, start + NS_PER_YEAR) == 1.0
    assert year_fraction(start, start + 73 * 86_400 * 10**9) == pytest.approx(0.2)
    assert year_fraction(start + NS_PER_YEAR, start) == -1.0


def test_chain_greeks_match_option_by_option() -> None:
    today = dt.date(2026, 12, 1)
    options = [i for i in build_chain(ChainSpec(), today) if i.is_option]
    now_ns = 0

    def expiry_ns(day: dt.date) -> int:
        return (day - today).days * 86_400 * 10**9 + 15 * 3_600 * 10**9

    spots = {"SPX": 4400.0, "SPY": 441.0}
    g = chain_greeks(options, spots, 0.2, now_ns, expiry_ns)
    assert g.value.shape == (len(options),)
    for n in (0, 1, len(options) // 2, len(options) - 1):
        o = options[n]
        assert o.strike is not None and o.expiry is not None
        one = black_scholes(
            spots[o.underlying], o.strike / 100, year_fraction(now_ns, expiry_ns(o.expiry)),
            0.2, o.kind is not None and o.kind.value == "CALL",
        )  # fmt: skip
        assert g.value[n] == float(one.value)
        assert g.delta[n] == float(one.delta)


def test_chain_greeks_refuse_an_underlying() -> None:
    spx = build_chain(ChainSpec(), dt.date(2026, 12, 1))[0]
    with pytest.raises(ValueError, match="not an option"):
        chain_greeks([spx], {"SPX": 4400.0}, 0.2, 0, lambda day: 0)
