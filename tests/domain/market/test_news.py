"""News: Poisson arrivals, the published headline table, kind shares 40/30/30."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from exchange.domain.market.news import (
    HEADLINES,
    Headline,
    NewsConfig,
    NewsEvent,
    NewsHeadline,
    NewsKind,
    NewsProcess,
    headline_weights,
)

HOUR_NS = 3600 * 10**9
TICK_NS = 300 * 10**9
HOURS = 100_000


@pytest.fixture(scope="module")
def events() -> list[NewsEvent]:
    process = NewsProcess(NewsConfig())
    return process.due(0, HOURS * HOUR_NS, np.random.default_rng(2026))


def test_table_holds_the_spec_examples() -> None:
    table = {h.text: (h.regime_shift, h.jump) for h in HEADLINES}
    assert table["Fed hints at tightening"] == (0.60, 0.20)
    assert table["Geopolitical tensions rise"] == (0.70, 0.30)
    assert table["Strong jobs report"] == (0.40, 0.10)
    assert table["No major news today"] == (0.0, 0.0)
    assert len(HEADLINES) >= 10


def test_headline_weights_give_exactly_the_kind_shares() -> None:
    weights = headline_weights(HEADLINES, 0.4, 0.3)
    shifts = np.array([h.regime_shift for h in HEADLINES])
    jumps = np.array([h.jump for h in HEADLINES])
    assert weights.sum() == pytest.approx(1.0)
    assert weights @ shifts == pytest.approx(0.4, abs=1e-9)
    assert weights @ jumps == pytest.approx(0.3, abs=1e-9)
    assert weights.min() > 0.02  # every headline keeps appearing


def test_unreachable_kind_shares_are_a_config_error() -> None:
    with pytest.raises(ValueError, match="cannot give"):
        headline_weights(HEADLINES, 0.9, 0.05)
    with pytest.raises(ValueError):
        NewsConfig(headlines=(Headline("Impossible", 0.8, 0.5),))


def test_rate_is_one_event_every_2_5_hours(events: list[NewsEvent]) -> None:
    expected = HOURS / 2.5  # 40,000, Poisson standard deviation 200
    assert len(events) == pytest.approx(expected, rel=0.03)
    times = np.array([e.ts_ns for e in events])
    assert np.all(np.diff(times) > 0)
    assert times.min() > 0
    assert times.max() <= HOURS * HOUR_NS


def test_counts_per_window_are_poisson(events: list[NewsEvent]) -> None:
    counts = np.bincount(np.array([e.ts_ns for e in events]) // (10 * HOUR_NS))
    # Mean 4 per 10 hours; a Poisson count's variance equals its mean.
    assert counts.mean() == pytest.approx(4.0, rel=0.05)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.1)


def test_configured_interval_sets_the_rate() -> None:
    process = NewsProcess(NewsConfig(mean_interval_seconds=3600))
    found = process.due(0, 20_000 * HOUR_NS, np.random.default_rng(1))
    assert len(found) == pytest.approx(20_000, rel=0.04)


def test_tick_by_tick_windows_give_the_same_rate() -> None:
    process = NewsProcess(NewsConfig())
    rng = np.random.default_rng(3)
    ticks = 12 * 3_000  # 3,000 hours: 1,200 events expected, standard deviation 35
    found = [e for k in range(ticks) for e in process.due(k * TICK_NS, (k + 1) * TICK_NS, rng)]
    assert len(found) == pytest.approx(1_200, rel=0.15)


def test_window_after_a_gap_restarts_without_a_burst() -> None:
    process = NewsProcess(NewsConfig())
    rng = np.random.default_rng(4)
    process.due(0, TICK_NS, rng)
    late = 1_000 * HOUR_NS
    found = process.due(late, late + TICK_NS, rng)
    assert all(late < e.ts_ns <= late + TICK_NS for e in found)
    assert len(found) <= 2


def test_kind_shares_are_40_30_30(events: list[NewsEvent]) -> None:
    kinds = Counter(e.kind for e in events)
    assert kinds[NewsKind.REGIME_SHIFT] / len(events) == pytest.approx(0.4, abs=0.015)
    assert kinds[NewsKind.PRICE_JUMP] / len(events) == pytest.approx(0.3, abs=0.015)
    assert kinds[NewsKind.NONE] / len(events) == pytest.approx(0.3, abs=0.015)


def test_each_headline_keeps_its_published_probabilities(events: list[NewsEvent]) -> None:
    by_headline: dict[str, Counter[NewsKind]] = defaultdict(Counter)
    for e in events:
        by_headline[e.headline][e.kind] += 1
    for h in HEADLINES:
        kinds = by_headline[h.text]
        n = sum(kinds.values())
        assert n > 1_000
        tolerance = 5 * np.sqrt(0.25 / n)
        assert kinds[NewsKind.REGIME_SHIFT] / n == pytest.approx(h.regime_shift, abs=tolerance)
        assert kinds[NewsKind.PRICE_JUMP] / n == pytest.approx(h.jump, abs=tolerance)


def test_effects_are_set_only_for_their_kind(events: list[NewsEvent]) -> None:
    for e in events:
        if e.kind is NewsKind.REGIME_SHIFT:
            assert e.regime_direction in (-1, 1) and e.jump == 0.0
        elif e.kind is NewsKind.PRICE_JUMP:
            assert e.regime_direction == 0 and 0.005 <= abs(e.jump) <= 0.02
        else:
            assert e.regime_direction == 0 and e.jump == 0.0


def test_tone_steers_the_effects(events: list[NewsEvent]) -> None:
    tense = [e for e in events if e.headline == "Geopolitical tensions rise"]
    shifts = [e.regime_direction for e in tense if e.kind is NewsKind.REGIME_SHIFT]
    jumps = [e.jump for e in tense if e.kind is NewsKind.PRICE_JUMP]
    assert np.mean(np.array(shifts) == 1) == pytest.approx(0.9, abs=0.05)
    assert np.mean(np.array(jumps) < 0) == pytest.approx(0.9, abs=0.06)


def test_public_view_shows_only_headline_and_time(events: list[NewsEvent]) -> None:
    event = next(e for e in events if e.kind is NewsKind.PRICE_JUMP)
    assert event.public() == NewsHeadline(event.ts_ns, event.headline)
    assert NewsHeadline.__struct_fields__ == ("ts_ns", "headline")


def test_organiser_headline_draws_its_own_row() -> None:
    process = NewsProcess(NewsConfig())
    rng = np.random.default_rng(6)
    quiet = [process.draw(rng, 1, "No major news today") for _ in range(100)]
    assert {e.kind for e in quiet} == {NewsKind.NONE}
    custom = process.draw(rng, 2, "Exchange celebrates its anniversary")
    assert (custom.headline, custom.kind) == ("Exchange celebrates its anniversary", NewsKind.NONE)
    fed = [process.draw(rng, 3, "Fed hints at tightening").kind for _ in range(4_000)]
    assert fed.count(NewsKind.REGIME_SHIFT) / 4_000 == pytest.approx(0.6, abs=0.04)


def test_disabled_news_never_fires() -> None:
    process = NewsProcess(NewsConfig(enabled=False))
    assert process.due(0, 10_000 * HOUR_NS, np.random.default_rng(7)) == []
