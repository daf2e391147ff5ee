"""Arbitrage KPIs: balance penalty, response within a tick of a signal, signal P&L."""

from __future__ import annotations

from exchange.domain.types import Role, Side, TimeNs
from tests.domain.scoring.support import ARB, CALL, HOUSE, SPX, SPY, Game


def test_balanced_dollar_exposures_cost_nothing() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 10, 440_000, SPX)  # +44_000 dollars of SPX
    game.trade(HOUSE, ARB, 100, 44_000, SPY, aggressor=Side.SELL)  # -44_000 of SPY
    game.observe()
    kpis = game.scorer.standing(ARB).kpis
    assert kpis["balance_ratio"] == 1.0
    assert kpis["balance_penalty"] == 0
    assert game.scorer.report(ARB).timeline == []


def test_imbalance_past_the_ratio_is_penalised_each_observation() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 10, 440_000, SPX)  # 44_000
    game.trade(HOUSE, ARB, 30, 44_000, SPY, aggressor=Side.SELL)  # 13_200
    game.observe()
    game.observe()
    kpis = game.scorer.standing(ARB).kpis
    assert kpis["balance_ratio"] == 44_000 / 13_200
    assert kpis["balance_penalty"] == 2 * 100 * 100
    assert kpis["imbalanced_observations"] == 2
    assert game.scorer.standing(ARB).penalties == 20_000
    entry = game.scorer.report(ARB).timeline[0]
    assert entry.kind == "balance_breach"
    assert entry.detail == "dollar exposures 44000/13200, ratio 3.33 (limit 2)"


def test_one_side_flat_is_imbalanced_and_both_flat_is_balanced() -> None:
    game = Game()
    game.observe()
    assert game.scorer.standing(ARB).penalties == 0
    assert game.scorer.standing(ARB).kpis["balance_ratio"] is None
    game.trade(ARB, HOUSE, 1, 440_000, SPX)
    game.observe()
    assert game.scorer.standing(ARB).penalties == 10_000
    game.trade(HOUSE, ARB, 1, 440_000, SPX, aggressor=Side.SELL)
    game.observe()
    assert game.scorer.standing(ARB).penalties == 10_000
    kinds = [e.kind for e in game.scorer.report(ARB).timeline]
    assert kinds == ["balance_breach", "balance_restored"]


def test_option_deltas_count_in_the_balance() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 1, 2_000, CALL.id)  # 1 x 0.5 x 100 = 50 SPX: 220_000 dollars
    game.trade(HOUSE, ARB, 400, 44_000, SPY, aggressor=Side.SELL)  # 176_000 dollars
    game.observe(deltas={CALL.id: 0.5})
    assert game.scorer.standing(ARB).kpis["balance_ratio"] == 1.25
    assert game.scorer.standing(ARB).penalties == 0


def test_an_order_in_spx_or_spy_before_the_next_observation_is_a_response() -> None:
    game = Game()
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(1_000), "tracking_error")
    game.scorer.on_order(ARB, TimeNs(1_500), SPY)
    game.observe()
    kpis = game.scorer.standing(ARB).kpis
    assert (kpis["signals"], kpis["responses"], kpis["misses"]) == (1, 1, 0)
    assert kpis["response_rate"] == 1.0
    assert kpis["response_seconds_mean"] == 500 / 1e9


def test_a_fill_in_the_underlying_is_a_response_too() -> None:
    game = Game()
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(1), "tracking_error")
    game.trade(ARB, HOUSE, 1, 440_000, SPX)
    game.observe({SPX: 440_000})
    assert game.scorer.standing(ARB).kpis["responses"] == 1


def test_no_answer_within_a_tick_is_a_miss_in_the_timeline() -> None:
    game = Game()
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(1), "tracking_error")
    game.scorer.on_order(ARB, TimeNs(2), CALL.id)  # an option order is not an answer
    game.observe()
    game.scorer.on_order(ARB, TimeNs(10**12), SPX)  # too late
    kpis = game.scorer.standing(ARB).kpis
    assert (kpis["responses"], kpis["misses"], kpis["response_rate"]) == (0, 1, 0.0)
    entry = game.scorer.report(ARB).timeline[-1]
    assert entry.kind == "missed_signal_response"
    assert entry.detail == "tracking_error signal at 1 not answered within 1 observation(s)"


def test_an_observation_at_the_signal_time_does_not_start_the_clock() -> None:
    game = Game()
    game.now = 999_999
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(1_000_000), "tracking_error")
    game.observe()  # stamped 1_000_000 + 1 s: later than the signal, counts
    assert game.scorer.standing(ARB).kpis["misses"] == 1
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(game.now + 1), "tracking_error")
    game.scorer.observe(TimeNs(game.now + 1), {}, {}, {}, {})  # same instant: not counted
    game.scorer.on_order(ARB, TimeNs(game.now + 2), SPX)
    assert game.scorer.standing(ARB).kpis["responses"] == 1


def test_signals_of_other_roles_are_not_scored() -> None:
    game = Game()
    game.scorer.on_signal(Role.HEDGE_FUND, TimeNs(1), "volatility_forecast")
    game.observe()
    assert game.scorer.standing(ARB).kpis["signals"] == 0


def test_signal_pnl_sums_the_pnl_change_over_signal_windows() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 10, 440_000, SPX)  # pnl -20
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(10), "tracking_error")
    game.observe({SPX: 441_000})  # pnl 9_980
    game.scorer.on_signal(Role.ARBITRAGE, TimeNs(20), "tracking_error")
    game.observe({SPX: 440_500})  # pnl 4_980
    assert game.scorer.standing(ARB).kpis["signal_pnl"] == 10_000 - 5_000
    windows = game.scorer.report(ARB).signal_windows
    assert [(w.start_ns, w.end_ns, w.pnl) for w in windows] == [(10, 20, 10_000)]


def test_signal_pnl_is_zero_before_any_signal() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 10, 440_000, SPX)
    game.observe({SPX: 450_000})
    assert game.scorer.standing(ARB).kpis["signal_pnl"] == 0


def test_exactly_the_ratio_is_still_balanced() -> None:
    game = Game()
    game.trade(ARB, HOUSE, 10, 440_000, SPX)  # 44_000
    game.trade(HOUSE, ARB, 50, 44_000, SPY, aggressor=Side.SELL)  # 22_000
    game.observe()
    assert game.scorer.standing(ARB).kpis["balance_ratio"] == 2.0
    assert game.scorer.standing(ARB).penalties == 0
