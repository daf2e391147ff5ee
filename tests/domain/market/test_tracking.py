"""SPY tracks SPX/10: lag, mean-reverting error, noise, and the 80% tracking signal."""

from __future__ import annotations

import numpy as np
import pytest

from exchange.domain.market import gbm
from exchange.domain.market.tracking import (
    Direction,
    TrackingConfig,
    TrackingErrorSignal,
    TrackingSignaller,
    TrackingState,
    TrackingTick,
)

CONFIG = TrackingConfig()
TICKS = 60_000
FLAT = np.full(300, 4400.0)


def run_flat(seed: int, ticks: int, config: TrackingConfig = CONFIG) -> list[TrackingTick]:
    """SPX held still, so the lag adds nothing and the error is eps + eta alone."""
    rng = np.random.default_rng(seed)
    state = TrackingState(config, 4400.0)
    return [state.step(FLAT, rng) for _ in range(ticks)]


@pytest.fixture(scope="module")
def flat() -> list[TrackingTick]:
    return run_flat(seed=42, ticks=TICKS)


def autocorrelation(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float(np.dot(x[:-lag], x[lag:]) / np.dot(x, x))


def test_epsilon_has_the_stationary_std_of_0_15_percent(flat: list[TrackingTick]) -> None:
    eps = np.array([t.epsilon for t in flat]) * 100
    # About 2,800 independent samples (n (1 - phi) / (1 + phi)): 1.3% relative error.
    assert eps[100:].std() == pytest.approx(0.15, rel=0.08)


def test_daily_samples_of_the_error_have_0_15_percent_std(flat: list[TrackingTick]) -> None:
    eps = np.array([t.epsilon for t in flat]) * 100
    daily = eps[288::288]  # one sample per 24 hours of 5-minute ticks
    assert abs(autocorrelation(daily, 1)) < 0.3
    assert daily.std() == pytest.approx(0.15, rel=0.2)


def test_error_half_life_is_7_5_ticks(flat: list[TrackingTick]) -> None:
    eps = np.array([t.epsilon for t in flat])
    rho = autocorrelation(eps, 1)
    assert rho == pytest.approx(CONFIG.phi, abs=0.01)
    assert np.log(0.5) / np.log(rho) == pytest.approx(7.5, abs=1.0)
    assert autocorrelation(eps, 15) == pytest.approx(0.25, abs=0.06)


def test_observed_error_is_eps_plus_noise_when_spx_is_still(flat: list[TrackingTick]) -> None:
    errors = np.array([t.error_pct for t in flat])
    assert errors.std() == pytest.approx(np.hypot(0.15, 0.05), rel=0.08)
    assert abs(errors.mean()) < 0.02
    z = np.array([t.z_score for t in flat])
    assert z == pytest.approx(errors / CONFIG.model_std_pct)


def test_spy_to_spx_ratio_averages_one_tenth() -> None:
    rng = np.random.default_rng(2)
    state = TrackingState(CONFIG, 4400.0)
    spx = 4400.0
    ratios = []
    for _ in range(20_000):
        path = gbm.path(spx, 0.2, gbm.GbmConfig().dt_years, rng, steps=300)
        spx = float(path[-1])
        tick = state.step(path, rng)
        ratios.append(tick.spy / tick.spx)
        assert tick.theoretical_spy == pytest.approx(tick.spx / 10)
    assert np.mean(ratios) == pytest.approx(0.1, rel=5e-4)


def test_spy_follows_spx_of_one_and_a_half_ticks_ago() -> None:
    exact = TrackingConfig(error_std_pct=0.0, noise_pct=0.0)
    rng = np.random.default_rng(3)
    state = TrackingState(exact, 4400.0)
    assert state.lag_steps == 450
    spx = gbm.path(4400.0, 0.5, gbm.GbmConfig().dt_years, rng, steps=3_000)
    spy = np.concatenate(
        [state.step(spx[i : i + 300], rng).spy_path for i in range(0, 3_000, 300)]
    )
    assert spy[:450] == pytest.approx(440.0)
    assert spy[450:] == pytest.approx(spx[:-450] / 10)


def test_lag_shows_in_the_error_after_a_jump() -> None:
    exact = TrackingConfig(error_std_pct=0.0, noise_pct=0.0)
    rng = np.random.default_rng(4)
    state = TrackingState(exact, 4400.0)
    jumped = np.full(300, 4400.0 * 1.01)
    errors = [state.step(jumped, rng).error_pct for _ in range(3)]
    # SPY still shows the old SPX for 1.5 ticks: cheap by 1%, then caught up.
    assert errors[0] == pytest.approx(-100 * 0.01 / 1.01)
    assert errors[2] == pytest.approx(0.0)


def signals(ticks: list[TrackingTick], seed: int) -> list[tuple[int, TrackingErrorSignal]]:
    rng = np.random.default_rng(seed)
    signaller = TrackingSignaller(CONFIG)
    found = []
    for i, tick in enumerate(ticks):
        signal = signaller.check(tick, i, rng)
        if signal is not None:
            found.append((i, signal))
    return found


def test_signal_fires_when_the_error_passes_0_15_percent(flat: list[TrackingTick]) -> None:
    fired = signals(flat, seed=5)
    assert len(fired) > 3_000
    for i, signal in fired:
        assert abs(signal.error_pct) > 0.15
        previous = flat[i - 1].error_pct if i else 0.0
        # Fresh: the previous tick was under the threshold or on the other side.
        assert abs(previous) <= 0.15 or np.sign(previous) != np.sign(signal.error_pct)
        assert signal.true_direction is (Direction.DOWN if signal.error_pct > 0 else Direction.UP)


def test_signal_direction_is_right_80_percent_of_the_time(flat: list[TrackingTick]) -> None:
    fired = signals(flat, seed=6)
    accuracy = np.mean([s.correct for _, s in fired])
    assert accuracy == pytest.approx(0.8, abs=0.035)


def test_true_direction_is_the_direction_the_error_reverts(flat: list[TrackingTick]) -> None:
    fired = signals(flat, seed=7)
    errors = np.array([t.error_pct for t in flat])
    horizon = 8
    agree = [
        np.sign(errors[i + horizon] - errors[i]) == (1 if s.true_direction is Direction.UP else -1)
        for i, s in fired
        if i + horizon < len(errors)
    ]
    assert np.mean(agree) > 0.65


def test_signal_public_view_has_the_spec_fields(flat: list[TrackingTick]) -> None:
    _, signal = signals(flat, seed=8)[0]
    assert set(signal.public()) == {
        "signal", "spx", "spy", "theoretical_spy", "error_pct", "direction", "z_score",
    }  # fmt: skip
    assert signal.public()["signal"] == "tracking_error"
