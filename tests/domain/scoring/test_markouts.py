"""Markouts at 1, 5 and 30 observations on a known mark path, and adverse selection."""

from __future__ import annotations

from exchange.domain.scoring import MarkoutStats
from exchange.domain.types import Side, Ticks, TimeNs
from tests.domain.scoring.support import CALL, HF, HOUSE, MM, SPX, Game


def _path(game: Game, start: int, steps: range) -> None:
    for k in steps:
        game.observe({CALL.id: start + 10 * k})


def test_markouts_follow_the_mark_path_at_each_horizon() -> None:
    game = Game()
    game.trade(HF, MM, 2, 1_000, CALL.id)  # MM sells as maker, HF buys as taker
    _path(game, 1_000, range(1, 5))  # marks 1_010 .. 1_040
    rows = game.scorer.report(MM).markouts
    assert [r.horizon for r in rows] == [1, 5, 30]
    assert rows[0].all == MarkoutStats(1, 2, -10 * 2 * 100, -1_000.0)
    assert rows[1].all.count == 0 and rows[1].all.mean_per_contract is None
    _path(game, 1_000, range(5, 31))
    mm = game.scorer.report(MM).markouts
    assert [r.maker.total for r in mm] == [-2_000, -10_000, -60_000]
    assert [r.taker.count for r in mm] == [0, 0, 0]
    hf = game.scorer.report(HF).markouts
    assert [r.taker.total for r in hf] == [2_000, 10_000, 60_000]
    assert [r.taker.mean_per_contract for r in hf] == [1_000.0, 5_000.0, 30_000.0]
    assert hf[2].all == hf[2].taker


def test_a_fill_between_observations_is_marked_from_the_next_one() -> None:
    game = Game()
    game.observe({CALL.id: 1_000})
    game.observe({CALL.id: 1_000})
    game.trade(HF, HOUSE, 1, 1_000, CALL.id)
    game.observe({CALL.id: 1_003})
    assert game.scorer.report(HF).markouts[0].all.total == 300


def test_markouts_use_the_underlying_multiplier_and_the_last_mark_if_missing() -> None:
    game = Game()
    game.trade(HOUSE, HF, 4, 440_000, SPX, aggressor=Side.SELL)
    game.observe({SPX: 439_000})
    for _ in range(4):
        game.observe({})  # no mark: the last one stands
    rows = game.scorer.report(HF).markouts  # HF sold: a falling mark is in its favour
    assert rows[0].all.total == 1_000 * 4
    assert rows[1].all.total == 1_000 * 4
    assert rows[1].all.count == 1


def test_adverse_selection_is_the_share_of_maker_fills_marked_out_negative() -> None:
    game = Game()
    game.trade(HF, MM, 1, 1_000, CALL.id, aggressor=Side.BUY)  # maker sell at 10.00
    game.trade(MM, HF, 1, 990, CALL.id, aggressor=Side.SELL)  # maker buy at 9.90
    game.trade(HF, MM, 1, 1_100, CALL.id, aggressor=Side.BUY)  # maker sell at 11.00
    game.trade(MM, HF, 1, 1_010, CALL.id, aggressor=Side.BUY)  # taker buy: not counted
    for _ in range(5):
        game.observe({CALL.id: 1_020})
    adverse = game.scorer.report(MM).adverse_selection
    assert adverse.horizon == 5
    assert (adverse.maker_fills, adverse.adverse_fills) == (3, 1)
    assert adverse.share == 1 / 3
    assert adverse.mean_maker_markout == (-2_000 + 3_000 + 8_000) / 3
    assert game.scorer.report(MM).to_wire()["adverse_selection"]["mean_maker_markout"] == 30.0


def test_settled_instrument_marks_out_at_its_settlement_value() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 1_000, CALL.id)
    for s in game.ledger.settle(CALL.id, Ticks(1_200), TimeNs(5)):
        game.scorer.on_settlement(s)
    game.observe({})
    assert game.scorer.report(HF).markouts[0].all.total == 200 * 100


def test_no_fills_means_no_adverse_selection() -> None:
    adverse = Game().scorer.report(MM).adverse_selection
    assert adverse.share is None and adverse.mean_maker_markout is None


def test_house_fills_are_not_marked_out() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 1_000, CALL.id)
    game.observe({CALL.id: 1_010})
    assert game.scorer.report(HOUSE).markouts[0].all.count == 0
    assert game.scorer.report(HF).markouts[0].all.count == 1
