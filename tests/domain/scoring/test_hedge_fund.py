"""Hedge fund KPIs: P&L per news-to-news window, delta penalty past +-50 each observation."""

from __future__ import annotations

import pytest

from exchange.domain.scoring import ScoringConfig
from exchange.domain.types import Side, TimeNs
from tests.domain.scoring.support import CALL, HF, HOUSE, MM, OPTION_IDS, SPX, SPY, SPY_CALL, Game


def test_window_pnl_is_the_pnl_change_between_headlines() -> None:
    game = Game()
    game.trade(HF, HOUSE, 10, 440_000, SPX)  # pnl -20: the taker fee
    game.scorer.on_news(TimeNs(100), "Fed hints at tightening")
    kpis = game.scorer.standing(HF).kpis
    assert (kpis["windows"], kpis["window_pnl_last"], kpis["window_pnl_mean"]) == (0, None, None)
    game.observe({SPX: 441_000})
    game.scorer.on_news(TimeNs(200), "Strong jobs report")
    game.observe({SPX: 439_000})
    game.scorer.on_news(TimeNs(300), "No major news today")
    kpis = game.scorer.standing(HF).kpis
    assert kpis["windows"] == 2
    assert kpis["window_pnl_last"] == -20_000
    assert kpis["window_pnl_mean"] == (10_000 - 20_000) / 2
    windows = game.scorer.report(HF).windows
    assert [(w.start_ns, w.end_ns, w.label, w.pnl) for w in windows] == [
        (100, 200, "Fed hints at tightening", 10_000),
        (200, 300, "Strong jobs report", -20_000),
    ]
    assert game.scorer.report(HF).to_wire()["windows"][0]["pnl"] == 100.0


def test_only_the_newest_windows_are_kept_but_totals_cover_all() -> None:
    game = Game(ScoringConfig(max_windows=3))
    game.trade(HF, HOUSE, 1, 440_000, SPX)
    for n in range(6):
        game.observe({SPX: 440_000 + 100 * n})
        game.scorer.on_news(TimeNs(n), f"headline {n}")
    report = game.scorer.report(HF)
    assert [w.label for w in report.windows] == ["headline 2", "headline 3", "headline 4"]
    assert report.standing.kpis["windows"] == 5
    assert report.standing.kpis["window_pnl_mean"] == 100.0


def test_delta_penalty_charges_each_observation_past_the_limit_with_spy_converted() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 2_000, CALL.id)  # 1 call x 0.5 x 100 = 50 SPX units
    game.trade(HF, HOUSE, 100, 44_000, SPY)  # 100 SPY x 440 / 4400 = 10 SPX units
    deltas = {CALL.id: 0.5}
    game.observe(deltas=deltas, spots={"SPX": 4400.0, "SPY": 440.0})
    kpis = game.scorer.standing(HF).kpis
    assert kpis["delta"] == 60.0
    assert kpis["delta_penalty"] == 10 * 10 * 100  # 10 currency per unit past 50
    game.observe(deltas=deltas, spots={"SPX": 4400.0, "SPY": 550.0})  # SPY now 12.5 units
    kpis = game.scorer.standing(HF).kpis
    assert kpis["delta"] == 62.5
    assert kpis["delta_penalty"] == 10_000 + 12_500
    assert kpis["delta_breaches"] == 2
    standing = game.scorer.standing(HF)
    assert standing.penalties == 22_500
    assert standing.score == standing.pnl - 22_500


def test_short_delta_is_penalised_too_and_within_the_limit_is_free() -> None:
    game = Game()
    game.trade(HOUSE, HF, 2, 500, SPY_CALL.id, aggressor=Side.SELL)  # -2 x 0.4 x 100 SPY
    game.observe(deltas={SPY_CALL.id: 0.4}, spots={"SPX": 4400.0, "SPY": 440.0})
    assert game.scorer.standing(HF).kpis["delta"] == pytest.approx(-8.0)
    assert game.scorer.standing(HF).penalties == 0
    game.trade(HOUSE, HF, 60, 440_000, SPX, aggressor=Side.SELL)  # -60 more
    game.observe(deltas={SPY_CALL.id: 0.4}, spots={"SPX": 4400.0, "SPY": 440.0})
    assert game.scorer.standing(HF).kpis["delta"] == pytest.approx(-68.0)
    assert game.scorer.standing(HF).penalties == 18_000


def test_delta_breach_entering_and_leaving_are_in_the_timeline() -> None:
    game = Game()
    game.trade(HF, HOUSE, 60, 440_000, SPX)
    game.observe()
    game.observe()
    game.trade(HOUSE, HF, 20, 440_000, SPX, aggressor=Side.SELL)
    game.observe()
    timeline = game.scorer.report(HF).timeline
    assert [e.kind for e in timeline] == ["delta_limit_breach", "delta_limit_restored"]
    assert timeline[0].detail == "portfolio delta 60.00 (limit 50)"
    assert game.scorer.standing(HF).kpis["delta_penalty"] == 2 * 10 * 10 * 100


def test_a_held_option_without_a_delta_leaves_only_that_teams_delta_unscored() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 2_000, CALL.id)
    game.trade(MM, HOUSE, 1, 2_000, CALL.id)
    unvalued = game.observe(deltas={}, quoted={MM: OPTION_IDS})
    assert list(unvalued) == [HF] and CALL.id in unvalued[HF]
    hedge_fund, maker = game.scorer.standing(HF).kpis, game.scorer.standing(MM).kpis
    assert hedge_fund["delta"] is None and hedge_fund["delta_penalty"] == 0
    assert maker["uptime"] == 1.0  # the rest of the observation counted
    assert game.observe(deltas=dict.fromkeys(OPTION_IDS, 0.1)) == {}
    assert game.observe(deltas={}) == {}  # the last observed delta carries over
    assert game.scorer.standing(HF).kpis["delta"] == pytest.approx(10.0)


def test_missing_spot_for_a_converted_underlying_leaves_the_delta_unscored() -> None:
    game = Game()
    game.trade(HF, HOUSE, 10, 44_000, SPY)
    unvalued = game.observe(spots={"SPX": 4400.0})
    assert "SPY" in unvalued[HF]
    assert game.scorer.standing(HF).kpis["delta"] is None


def test_exactly_the_limit_is_free_despite_floating_noise() -> None:
    game = Game()
    game.trade(HF, HOUSE, 2, 2_000, CALL.id)  # 2 x 0.55 x 100 = 110.00000000000001
    game.trade(HOUSE, HF, 60, 440_000, SPX, aggressor=Side.SELL)
    game.observe(deltas={CALL.id: 0.55})
    kpis = game.scorer.standing(HF).kpis
    assert kpis["delta"] == pytest.approx(50.0) and kpis["delta"] != 50.0
    assert (kpis["delta_breaches"], kpis["delta_penalty"]) == (0, 0)
    assert game.scorer.report(HF).timeline == []
