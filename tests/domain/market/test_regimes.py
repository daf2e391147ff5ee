"""Volatility regimes: the SPEC's Markov chain and the hedge fund's 66% forecast."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from exchange.domain.market.regimes import (
    REGIMES,
    Regime,
    RegimeConfig,
    VolatilityForecast,
    VolatilityState,
    shifted,
)

STEPS = 100_000
CONFIG = RegimeConfig()


class Run:
    def __init__(self, seed: int, steps: int) -> None:
        rng = np.random.default_rng(seed)
        state = VolatilityState(CONFIG)
        self.path: list[Regime] = [state.regime]
        self.forecasts: list[VolatilityForecast] = []
        for tick in range(1, steps + 1):
            self.forecasts.extend(state.step(rng, tick).forecasts)
            self.path.append(state.regime)
        # Forecasts run ahead of the path: keep those whose change the run reached.
        self.forecasts = [f for f in self.forecasts if f.change_tick <= steps]

    def changes(self) -> list[int]:
        return [t for t in range(1, len(self.path)) if self.path[t] != self.path[t - 1]]


@pytest.fixture(scope="module")
def run() -> Run:
    return Run(seed=20261204, steps=STEPS)


def test_spec_vols_and_matrix_are_the_defaults() -> None:
    assert [CONFIG.vol(r) for r in REGIMES] == [0.10, 0.20, 0.50]
    assert CONFIG.row(Regime.LOW) == {Regime.LOW: 0.95, Regime.MEDIUM: 0.04, Regime.HIGH: 0.01}
    assert CONFIG.row(Regime.MEDIUM) == {Regime.LOW: 0.02, Regime.MEDIUM: 0.94, Regime.HIGH: 0.04}
    assert CONFIG.row(Regime.HIGH) == {Regime.LOW: 0.01, Regime.MEDIUM: 0.09, Regime.HIGH: 0.90}


def test_transition_frequencies_match_the_matrix(run: Run) -> None:
    pairs = Counter(zip(run.path, run.path[1:], strict=False))
    for i, origin in enumerate(REGIMES):
        visits = sum(pairs[origin, r] for r in REGIMES)
        assert visits > 10_000
        for j, target in enumerate(REGIMES):
            p = CONFIG.transitions[i][j]
            tolerance = 5 * np.sqrt(p * (1 - p) / visits)
            assert abs(pairs[origin, target] / visits - p) < tolerance, (origin, target)


def test_chi_square_of_transitions_is_unremarkable(run: Run) -> None:
    pairs = Counter(zip(run.path, run.path[1:], strict=False))
    chi2 = 0.0
    for i, origin in enumerate(REGIMES):
        visits = sum(pairs[origin, r] for r in REGIMES)
        for j, target in enumerate(REGIMES):
            expected = visits * CONFIG.transitions[i][j]
            chi2 += (pairs[origin, target] - expected) ** 2 / expected
    assert chi2 < 30.0  # 6 degrees of freedom: the 99.99th percentile is about 27.9


def test_every_change_is_forecast_once_1_to_5_ticks_ahead(run: Run) -> None:
    by_change = Counter(f.change_tick for f in run.forecasts)
    changes = run.changes()
    assert set(by_change) == set(changes) - {1}
    assert set(by_change.values()) == {1}
    for f in run.forecasts:
        assert 1 <= f.lead_ticks <= 5
        assert f.ts_ns == f.change_tick - f.lead_ticks  # the test's clock: ts_ns == tick
        assert run.path[f.change_tick] == f.actual != run.path[f.change_tick - 1]


def test_forecast_is_right_66_percent_of_the_time(run: Run) -> None:
    assert len(run.forecasts) > 5_000
    accuracy = np.mean([f.correct for f in run.forecasts])
    assert abs(accuracy - 0.66) < 0.035


def test_wrong_forecast_names_the_third_regime(run: Run) -> None:
    for f in run.forecasts:
        if not f.correct:
            assert f.predicted not in (f.actual, run.path[f.change_tick - 1])


def test_forecast_leads_are_uniform_over_1_to_5(run: Run) -> None:
    leads = Counter(f.lead_ticks for f in run.forecasts)
    for lead in range(1, 6):
        assert abs(leads[lead] / len(run.forecasts) - 0.2) < 0.03


def test_forecast_carries_current_regime_and_its_transition_row(run: Run) -> None:
    for f in run.forecasts[:200]:
        assert f.current == run.path[f.ts_ns]
        assert f.probabilities == CONFIG.row(f.current)
    public = run.forecasts[0].public()
    assert set(public) == {
        "signal",
        "current_regime",
        "predicted_regime",
        "transition_probabilities",
    }


def test_force_sets_regime_now_and_redraws_the_schedule() -> None:
    rng = np.random.default_rng(5)
    state = VolatilityState(CONFIG, since_ns=0)
    for tick in range(1, 11):
        state.step(rng, tick)
    before = state.regime
    target = shifted(before, 1)
    result = state.force(target, rng, now_ns=1_000)
    assert (result.previous, result.regime, state.regime) == (before, target, target)
    assert state.since_ns == 1_000
    assert len(state.upcoming()) == 5
    assert all(f.change_tick > state.tick and f.current is target for f in result.forecasts)


def test_forecasts_after_force_keep_leads_within_1_to_5() -> None:
    rng = np.random.default_rng(9)
    state = VolatilityState(CONFIG)
    forecasts: list[VolatilityForecast] = []
    for tick in range(1, 20_001):
        forecasts.extend(state.step(rng, tick).forecasts)
        if tick % 50 == 0:
            forecasts.extend(state.force(shifted(state.regime, 1), rng, tick).forecasts)
    assert forecasts
    assert all(1 <= f.lead_ticks <= 5 for f in forecasts)


def test_identity_matrix_holds_the_regime() -> None:
    config = RegimeConfig(transitions=((1, 0, 0), (0, 1, 0), (0, 0, 1)), initial=Regime.HIGH)
    rng = np.random.default_rng(1)
    state = VolatilityState(config)
    assert all(state.step(rng, t).regime is Regime.HIGH for t in range(1, 1_000))


@pytest.mark.parametrize(
    ("regime", "direction", "expected"),
    [
        (Regime.LOW, 1, Regime.MEDIUM),
        (Regime.MEDIUM, 1, Regime.HIGH),
        (Regime.HIGH, 1, Regime.MEDIUM),
        (Regime.HIGH, -1, Regime.MEDIUM),
        (Regime.MEDIUM, -1, Regime.LOW),
        (Regime.LOW, -1, Regime.MEDIUM),
    ],
)
def test_shift_moves_one_regime_and_bounces_at_the_ends(
    regime: Regime, direction: int, expected: Regime
) -> None:
    assert shifted(regime, direction) is expected


@pytest.mark.parametrize(
    "bad",
    [
        {"transitions": ((0.5, 0.5, 0.1), (0, 1, 0), (0, 0, 1))},
        {"transitions": ((1.2, -0.2, 0), (0, 1, 0), (0, 0, 1))},
        {"forecast_lead_ticks": (0, 5)},
    ],
)
def test_config_rejects_broken_tables(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RegimeConfig(**bad)  # type: ignore[arg-type]
