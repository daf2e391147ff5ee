"""The market model tick by tick: regimes, news effects, signals, fair values, one seed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from exchange.domain.instruments import ChainSpec, Instrument, build_chain, make_option
from exchange.domain.market import gbm
from exchange.domain.market.news import NewsConfig, NewsKind
from exchange.domain.market.regimes import Regime, RegimeConfig, shifted
from exchange.domain.market.retail import retail_orders
from exchange.domain.market.simulator import (
    MarketConfig,
    MarketModel,
    MarketStreams,
    TickOutcome,
    fair_values,
)
from exchange.domain.orders import NewOrder
from exchange.domain.pricing import black_scholes, year_fraction
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import InstrumentId, OptionKind, TeamId

TICK_NS = 300 * 10**9
START_NS = int(dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC).timestamp()) * 10**9
HOLD = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
OPTIONS = [i for i in build_chain(ChainSpec(), dt.date(2026, 12, 1)) if i.is_option]


def expiry_ns(expiry: dt.date) -> int:
    return (
        int(dt.datetime(expiry.year, expiry.month, expiry.day, 21, tzinfo=dt.UTC).timestamp())
        * 10**9
    )


def run(config: MarketConfig, seed: int, ticks: int) -> list[TickOutcome]:
    model = MarketModel(config, START_NS)
    streams = MarketStreams.from_seed(seed)
    return [model.advance(START_NS + k * TICK_NS, streams) for k in range(1, ticks + 1)]


def closes(outcomes: list[TickOutcome], start: float) -> np.ndarray:
    return np.concatenate([[start], *(o.spx_path for o in outcomes)])


@pytest.mark.parametrize(
    ("regime", "vol"), [(Regime.LOW, 0.1), (Regime.MEDIUM, 0.2), (Regime.HIGH, 0.5)]
)
def test_realised_vol_of_spx_matches_the_held_regime(regime: Regime, vol: float) -> None:
    config = MarketConfig(
        regimes=RegimeConfig(transitions=HOLD, initial=regime), news=NewsConfig(enabled=False)
    )
    outcomes = run(config, seed=1, ticks=1_000)
    assert {o.regime for o in outcomes} == {regime}
    assert {o.vol for o in outcomes} == {vol}
    realised = gbm.realised_vol(closes(outcomes, 4400.0), config.gbm.dt_years)
    assert realised == pytest.approx(vol, rel=0.02)


def test_tick_outcome_holds_one_price_per_second() -> None:
    (outcome,) = run(MarketConfig(), seed=2, ticks=1)
    assert outcome.spx_path.shape == outcome.spy_path.shape == (300,)
    assert outcome.spx == outcome.spx_path[-1] == outcome.tracking.spx
    assert outcome.spy == outcome.tracking.spy
    assert outcome.spx_ticks == round_to_tick(outcome.spx)
    assert outcome.ts_ns == START_NS + TICK_NS and outcome.tick == 1


def test_markov_changes_are_reported_and_forecast() -> None:
    config = MarketConfig(news=NewsConfig(enabled=False))
    outcomes = run(config, seed=3, ticks=5_000)
    changes = {o.tick: o.regime_changes[0] for o in outcomes if o.regime_changes}
    assert len(changes) > 200
    forecasts = [(o.tick, f) for o in outcomes for f in o.volatility_forecasts]
    for tick, f in forecasts:
        if f.change_tick <= len(outcomes):
            assert changes[f.change_tick].regime is f.actual
            assert f.change_tick - tick == f.lead_ticks
    assert np.mean([f.correct for _, f in forecasts]) == pytest.approx(0.66, abs=0.12)


def test_news_regime_shift_forces_the_regime_within_the_tick() -> None:
    config = MarketConfig(
        regimes=RegimeConfig(transitions=HOLD), news=NewsConfig(mean_interval_seconds=1_800)
    )
    outcomes = run(config, seed=4, ticks=600)
    shifts = [(o, e) for o in outcomes for e in o.news if e.kind is NewsKind.REGIME_SHIFT]
    assert len(shifts) > 20
    regime = Regime.MEDIUM
    for outcome in outcomes:
        for event, change in zip(
            [e for e in outcome.news if e.kind is NewsKind.REGIME_SHIFT],
            outcome.regime_changes, strict=True,
        ):  # fmt: skip
            assert change.cause == "news" and change.ts_ns == event.ts_ns
            assert change.regime is shifted(regime, event.regime_direction)
            regime = change.regime
        assert outcome.regime is regime


def test_news_jump_lands_on_its_second() -> None:
    still = RegimeConfig(vols=(0.0, 0.0, 0.0), transitions=HOLD)
    config = MarketConfig(regimes=still, news=NewsConfig(mean_interval_seconds=1_800))
    outcomes = run(config, seed=5, ticks=600)
    price = 4400.0
    jumps = 0
    for o in outcomes:
        for e in (e for e in o.news if e.kind is NewsKind.PRICE_JUMP):
            second = (e.ts_ns - (o.ts_ns - TICK_NS)) * 300 // TICK_NS
            before = o.spx_path[second - 1] if second else price
            assert o.spx_path[second] / before == pytest.approx(1 + e.jump)
            assert 0.005 <= abs(e.jump) <= 0.02
            jumps += 1
        price = o.spx
    assert jumps > 10


def test_tracking_signals_are_sent_and_right_about_80_percent() -> None:
    outcomes = run(MarketConfig(news=NewsConfig(enabled=False)), seed=6, ticks=8_000)
    signals = [o.tracking_error for o in outcomes if o.tracking_error is not None]
    assert len(signals) > 500
    assert all(abs(s.error_pct) > 0.15 for s in signals)
    assert np.mean([s.correct for s in signals]) == pytest.approx(0.8, abs=0.05)
    ratio = np.mean([o.spy / o.spx for o in outcomes])
    assert ratio == pytest.approx(0.1, rel=1e-3)


def test_announced_headline_fires_next_tick() -> None:
    model = MarketModel(MarketConfig(news=NewsConfig(enabled=False)), START_NS)
    streams = MarketStreams.from_seed(7)
    event = model.announce("Strong jobs report", START_NS + 10, streams)
    outcome = model.advance(START_NS + TICK_NS, streams)
    assert outcome.news == [event]
    assert model.advance(START_NS + 2 * TICK_NS, streams).news == []


def test_a_gap_simulates_one_tick_and_no_news_burst() -> None:
    model = MarketModel(MarketConfig(news=NewsConfig(mean_interval_seconds=3_600)), START_NS)
    streams = MarketStreams.from_seed(8)
    model.advance(START_NS + TICK_NS, streams)
    later = START_NS + 200 * TICK_NS
    outcome = model.advance(later, streams)
    assert outcome.spx_path.shape == (300,)
    assert all(later - TICK_NS < e.ts_ns <= later for e in outcome.news)


def fingerprint(seed: int) -> tuple[list[np.ndarray], list[object], list[NewOrder]]:
    config = MarketConfig(news=NewsConfig(mean_interval_seconds=1_800))
    model = MarketModel(config, START_NS)
    streams = MarketStreams.from_seed(seed)
    paths: list[np.ndarray] = []
    events: list[object] = []
    orders: list[NewOrder] = []
    for k in range(1, 301):
        now = START_NS + k * TICK_NS
        o = model.advance(now, streams)
        paths += [o.spx_path, o.spy_path]
        events += [o.regime, *o.regime_changes, *o.news, *o.volatility_forecasts, o.tracking_error]
        fair = fair_values(OPTIONS, model.spots(), model.vol, now, expiry_ns)
        orders += retail_orders(streams.retail, TeamId("r"), OPTIONS, fair, model.spots(), {})
    return paths, events, orders


def test_same_seed_same_game_other_seed_other_game() -> None:
    paths, events, orders = fingerprint(seed=2026)
    again_paths, again_events, again_orders = fingerprint(seed=2026)
    assert all(np.array_equal(a, b) for a, b in zip(paths, again_paths, strict=True))
    assert events == again_events
    assert orders == again_orders
    assert any(e is not None for e in events[1:])
    other_paths, other_events, other_orders = fingerprint(seed=2027)
    assert not np.array_equal(paths[-2], other_paths[-2])
    assert events != other_events
    assert orders != other_orders


def test_streams_are_independent_per_concern() -> None:
    streams = MarketStreams.from_seed(11)
    draws = [g.random() for g in streams]
    assert len(set(draws)) == len(MarketStreams._fields)
    assert MarketStreams.from_seed(np.random.SeedSequence(11)).spx.random() == pytest.approx(
        draws[1]
    )


def test_fair_values_are_black_scholes_in_ticks() -> None:
    call = make_option("SPX", OptionKind.CALL, 440_000, dt.date(2026, 12, 4))
    put = make_option("SPY", OptionKind.PUT, 43_000, dt.date(2026, 12, 11))
    spots = {"SPX": 4412.5, "SPY": 441.0}
    values = fair_values([call, put], spots, 0.2, START_NS, expiry_ns)
    t_call = year_fraction(START_NS, expiry_ns(dt.date(2026, 12, 4)))
    t_put = year_fraction(START_NS, expiry_ns(dt.date(2026, 12, 11)))
    assert values[call.id] == round_to_tick(
        float(black_scholes(4412.5, 4400.0, t_call, 0.2, True).value)
    )
    assert values[put.id] == round_to_tick(
        float(black_scholes(441.0, 430.0, t_put, 0.2, False).value)
    )
    assert values[call.id] > 1_250  # in the money by 12.50, plus time value


def test_fair_values_cover_the_chain_in_one_call() -> None:
    values = fair_values(OPTIONS, {"SPX": 4400.0, "SPY": 440.0}, 0.5, START_NS, expiry_ns)
    assert set(values) == {o.id for o in OPTIONS}
    assert all(isinstance(v, int) and v >= 0 for v in values.values())
    assert fair_values([], {}, 0.2, START_NS, expiry_ns) == {}
    with pytest.raises(ValueError):
        fair_values([Instrument(InstrumentId("SPX"), "SPX")], {"SPX": 4400.0}, 0.2, 0, expiry_ns)
