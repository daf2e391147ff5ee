"""SPX: zero-drift GBM stepped every game second, and news jumps of 0.5-2%."""

from __future__ import annotations

import numpy as np
import pytest

from exchange.domain.market import gbm
from exchange.domain.market.gbm import GbmConfig
from exchange.domain.pricing import NS_PER_YEAR

CONFIG = GbmConfig()
DT = CONFIG.dt_years


def test_year_basis_is_pricings_365_day_calendar_year() -> None:
    assert CONFIG.year_seconds * 10**9 == NS_PER_YEAR
    assert CONFIG.dt_years == pytest.approx(1 / (365 * 86_400))
    assert GbmConfig(year_seconds=252 * 6.5 * 3600).dt_years == pytest.approx(1 / 5_896_800)


@pytest.mark.parametrize("sigma", [0.10, 0.20, 0.50])
def test_realised_vol_per_second_matches_the_regime(sigma: float) -> None:
    rng = np.random.default_rng(int(sigma * 100))
    prices = gbm.path(4400.0, sigma, DT, rng, steps=300_000)
    # Relative standard error of a std over n returns is 1/sqrt(2n) = 0.13%.
    assert gbm.realised_vol(prices, DT) == pytest.approx(sigma, rel=0.01)


@pytest.mark.parametrize("sigma", [0.10, 0.20, 0.50])
def test_realised_vol_over_tick_returns_matches_the_regime(sigma: float) -> None:
    rng = np.random.default_rng(7 + int(sigma * 100))
    prices = gbm.path(4400.0, sigma, DT, rng, steps=300 * 5_000)
    closes = prices[299::300]
    # 5000 tick returns: relative standard error 1%.
    assert gbm.realised_vol(closes, 300 * DT) == pytest.approx(sigma, rel=0.06)


def test_zero_drift_keeps_the_expected_price() -> None:
    rng = np.random.default_rng(3)
    after = gbm.step(np.full(200_000, 4400.0), 0.5, 1.0, rng)
    # One year at 50%: std of S/S0 is about 0.53, so the mean's standard error is 0.12%.
    assert after.mean() / 4400.0 == pytest.approx(1.0, abs=0.01)


def test_step_broadcasts_over_prices_and_vols() -> None:
    rng = np.random.default_rng(4)
    after = gbm.step([4400.0, 440.0], [0.1, 0.5], DT, rng)
    assert after.shape == (2,)
    assert np.all(np.abs(after / [4400.0, 440.0] - 1) < 0.01)


def test_path_uses_per_step_vols() -> None:
    rng = np.random.default_rng(8)
    sigma = np.r_[np.full(150_000, 0.1), np.full(150_000, 0.5)]
    prices = gbm.path(4400.0, sigma, DT, rng)
    assert gbm.realised_vol(prices[:150_000], DT) == pytest.approx(0.1, rel=0.02)
    assert gbm.realised_vol(prices[150_000:], DT) == pytest.approx(0.5, rel=0.02)


def test_jump_sizes_lie_in_half_to_two_percent_both_ways() -> None:
    rng = np.random.default_rng(11)
    jumps = np.array([gbm.draw_jump(rng) for _ in range(50_000)])
    sizes = np.abs(jumps)
    assert sizes.min() >= 0.005
    assert sizes.max() <= 0.02
    assert sizes.mean() == pytest.approx(0.0125, abs=0.0002)
    assert np.mean(jumps > 0) == pytest.approx(0.5, abs=0.015)


def test_jump_direction_follows_p_up() -> None:
    rng = np.random.default_rng(12)
    jumps = [gbm.draw_jump(rng, p_up=0.9) for _ in range(20_000)]
    assert np.mean(np.array(jumps) > 0) == pytest.approx(0.9, abs=0.015)


def test_jump_lands_on_its_step() -> None:
    rng = np.random.default_rng(13)
    jumps = np.zeros(300)
    jumps[120] = -0.015
    prices = gbm.path(4400.0, 0.0, DT, rng, steps=300, jumps=jumps)
    assert np.all(prices[:120] == 4400.0)
    assert prices[120:] == pytest.approx(4400.0 * 0.985)
    assert gbm.apply_jump(4400.0, 0.01) == pytest.approx(4444.0)


def test_path_has_one_price_per_step_without_the_start() -> None:
    rng = np.random.default_rng(14)
    assert gbm.path(4400.0, 0.2, DT, rng, steps=300).shape == (300,)
    assert gbm.path(4400.0, np.full(17, 0.2), DT, rng).shape == (17,)
