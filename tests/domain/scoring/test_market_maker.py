"""Market maker KPIs: spread capture, quote uptime and its obligation, inventory."""

from __future__ import annotations

import datetime as dt

import pytest

from exchange.domain.instruments import make_option
from exchange.domain.scoring import ScoringConfig
from exchange.domain.types import OptionKind, Side
from tests.domain.scoring.support import (
    CALL,
    CALL_UP,
    HF,
    HOUSE,
    MM,
    MM2,
    OPTION_IDS,
    PUT,
    PUT_UP,
    SPX,
    SPY_CALL,
    Game,
)


def test_spread_capture_is_edge_against_the_mid_times_quantity_and_multiplier() -> None:
    game = Game()
    game.trade(HF, MM, 3, 1_050, CALL.id, mid=1_000)  # MM sells 0.50 over the mid
    game.trade(MM, HF, 2, 980, CALL.id, aggressor=Side.SELL, mid=1_000)  # buys 0.20 under
    assert game.scorer.standing(MM).kpis["spread_capture"] == 50 * 3 * 100 + 20 * 2 * 100
    game.observe({CALL.id: 1_010})
    game.trade(HF, MM, 1, 1_020, CALL.id)  # no mid given: the last observed mark
    assert game.scorer.standing(MM).kpis["spread_capture"] == 15_000 + 4_000 + 1_000
    game.trade(MM, HOUSE, 1, 1_030, CALL.id, mid=1_010)  # paying over the mid costs
    assert game.scorer.standing(MM).kpis["spread_capture"] == 20_000 - 2_000
    assert game.scorer.standing(MM).to_wire()["kpis"]["spread_capture"] == 180.0


def test_spread_capture_on_an_underlying_uses_multiplier_one() -> None:
    game = Game()
    game.trade(HOUSE, MM, 10, 440_010, SPX, mid=440_000)
    assert game.scorer.standing(MM).kpis["spread_capture"] == 10 * 10


def test_uptime_counts_covered_observations_and_per_instrument_quotes() -> None:
    game = Game()
    all_five = OPTION_IDS
    game.observe(quoted={MM: all_five[:4]})  # 4 of 5 = 80%: covered
    game.observe(quoted={MM: all_five[:3]})  # 60%: not covered
    game.observe(quoted={MM: all_five})  # covered
    game.observe(quoted={MM: []})  # not covered
    kpis = game.scorer.standing(MM).kpis
    assert kpis["uptime"] == 0.5
    assert (kpis["covered_observations"], kpis["observations"]) == (2, 4)
    assert kpis["obligation_met"] is False
    uptime = game.scorer.report(MM).uptime_by_instrument
    assert uptime == {
        CALL.id: 0.75, PUT.id: 0.75, CALL_UP.id: 0.75, PUT_UP.id: 0.5, SPY_CALL.id: 0.25,
    }  # fmt: skip


def test_obligation_penalty_scales_with_the_shortfall() -> None:
    game = Game()
    for quoted in (OPTION_IDS, OPTION_IDS[:1], OPTION_IDS, []):
        game.observe(quoted={MM: quoted})
    # uptime 0.5 against 0.8: 10_000 x (0.8 - 0.5) / 0.8 = 3_750.00
    standing = game.scorer.standing(MM)
    assert standing.penalties == 375_000
    assert standing.kpis["obligation_penalty"] == 375_000
    assert standing.score == standing.pnl - 375_000
    assert standing.to_wire()["penalties"] == 3_750.0


def test_obligation_met_costs_nothing_and_unquoted_team_pays_in_full() -> None:
    game = Game()
    for _ in range(5):
        game.observe(quoted={MM: OPTION_IDS})
    assert game.scorer.standing(MM).kpis["obligation_met"] is True
    assert game.scorer.standing(MM).penalties == 0
    assert game.scorer.standing(MM2).penalties == 10_000 * 100
    assert game.scorer.standing(MM2).kpis["uptime"] == 0.0


def test_no_observation_yet_means_no_uptime_and_no_penalty() -> None:
    kpis = Game().scorer.standing(MM).kpis
    assert kpis["uptime"] is None and kpis["obligation_met"] is None
    assert kpis["obligation_penalty"] == 0


def test_quotes_outside_the_listed_options_do_not_count() -> None:
    game = Game(ScoringConfig(quote_share=0.4))
    game.observe(quoted={MM: [SPX, CALL.id]})  # SPX is not an option: 1 of 5 < 40%
    assert game.scorer.standing(MM).kpis["covered_observations"] == 0


def test_a_weekly_listed_later_counts_only_while_listed() -> None:
    game = Game()
    weekly = make_option("SPX", OptionKind.CALL, 440_000, dt.date(2026, 12, 11))
    game.observe(quoted={MM: OPTION_IDS})
    game.scorer.list_instruments([weekly])
    game.observe(quoted={MM: OPTION_IDS})  # 5 of 6: 83%, covered
    game.observe(quoted={MM: [*OPTION_IDS, weekly.id]})
    game.scorer.delist_instruments([weekly.id])
    game.observe(quoted={MM: OPTION_IDS})
    report = game.scorer.report(MM)
    assert report.uptime_by_instrument[weekly.id] == 0.5
    assert report.uptime_by_instrument[CALL.id] == 1.0
    assert report.standing.kpis["uptime"] == 1.0


def test_inventory_is_the_sum_of_absolute_option_positions_with_its_maximum() -> None:
    game = Game()
    game.trade(HF, MM, 3, 1_000, CALL.id)
    game.trade(MM, HOUSE, 2, 900, PUT.id)
    game.trade(MM, HOUSE, 50, 440_000, SPX)  # the underlying is not inventory
    assert game.scorer.standing(MM).kpis["inventory"] == 5
    game.trade(MM, HF, 3, 1_000, CALL.id)
    kpis = game.scorer.standing(MM).kpis
    assert (kpis["inventory"], kpis["max_inventory"]) == (2, 5)
    game.assert_consistent()


@pytest.mark.parametrize("share, covered", [(0.6, 2), (0.7, 1), (0.9, 0)])
def test_quote_share_boundary_is_inclusive(share: float, covered: int) -> None:
    # 0.6 x 5 is 3.0000000000000004 in floating point: 3 of 5 must still cover.
    game = Game(ScoringConfig(quote_share=share))
    game.observe(quoted={MM: set(OPTION_IDS[:4])})  # 80% quoted
    game.observe(quoted={MM: frozenset(OPTION_IDS[:3])})  # 60% quoted
    assert game.scorer.standing(MM).kpis["covered_observations"] == covered
