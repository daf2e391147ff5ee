"""The scorer's mirror: cash, fees, positions, P&L and settlement, against the ledger."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain.fees import DEFAULT_FEES
from exchange.domain.positions import Fill, Ledger
from exchange.domain.scoring import Scorer, check_invariants
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)
from tests.domain.scoring.support import (
    CALL,
    HF,
    HOUSE,
    INSTRUMENTS,
    MM,
    RETAIL,
    SPX,
    Game,
)


def test_fees_are_split_into_paid_and_received() -> None:
    game = Game()
    game.trade(HF, MM, 10, 1_000, CALL.id, aggressor=Side.BUY)  # MM maker +2, HF taker -2
    game.trade(MM, HF, 4, 1_010, CALL.id, aggressor=Side.BUY)  # MM taker -1, HF maker +1
    mm, hf = game.scorer.standing(MM), game.scorer.standing(HF)
    assert (mm.fees_received, mm.fees_paid) == (20, 4)
    assert (hf.fees_received, hf.fees_paid) == (4, 20)
    assert game.ledger.account(MM).fees_ticks == 20 - 4
    game.assert_consistent()


def test_cash_books_premium_times_multiplier_plus_fee() -> None:
    game = Game()
    game.trade(HF, HOUSE, 3, 1_250, CALL.id)
    hf = next(a for a in game.scorer.accounts() if a.team_id == HF)
    assert hf.cash_ticks == -3 * 1_250 * 100 - 2 * 3
    assert hf.positions == {CALL.id: 3}
    game.assert_consistent()


def test_pnl_is_cash_plus_positions_at_the_latest_marks() -> None:
    game = Game()
    game.trade(HF, HOUSE, 2, 1_000, CALL.id)
    game.trade(HF, HOUSE, 5, 440_000, SPX)
    game.observe({CALL.id: 1_100, SPX: 441_000}, deltas={CALL.id: 0.0})
    expected = 2 * 100 * 100 + 5 * 1_000 - 2 * 7
    assert game.scorer.pnl(HF) == expected
    marks = {CALL.id: Ticks(1_100), SPX: Ticks(441_000)}
    assert game.ledger.account(HF).total_pnl(marks) == expected
    assert game.scorer.standing(HF).pnl == expected


def test_a_mark_is_seeded_by_the_first_fill_before_any_observation() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 1_000, CALL.id, mid=990)
    assert game.scorer.pnl(HF) == -1_000 * 100 - 2 + 990 * 100
    game.trade(RETAIL, HOUSE, 1, 2_000, CALL.id, mid=1_500)
    assert game.scorer.pnl(RETAIL) == -2_000 * 100 - 3 + 990 * 100, "the seed stays"


def test_settlement_closes_at_intrinsic_value_and_delists() -> None:
    game = Game()
    game.trade(HF, HOUSE, 2, 1_000, CALL.id)
    game.trade(HOUSE, MM, 1, 1_200, CALL.id, aggressor=Side.SELL)
    for settlement in game.ledger.settle(CALL.id, Ticks(1_500), TimeNs(10**12)):
        game.scorer.on_settlement(settlement)
    hf = game.scorer.standing(HF)
    assert hf.pnl == -2 * 1_000 * 100 - 4 + 2 * 1_500 * 100
    assert game.scorer.standing(MM).pnl == 1_200 * 100 - 1 - 1_500 * 100
    assert game.scorer.standing(MM).kpis["inventory"] == 0
    game.assert_consistent()
    game.observe(quoted={MM: []})
    uptime = game.scorer.report(MM).uptime_by_instrument
    assert CALL.id not in uptime
    assert len(uptime) == 4


def test_self_trade_books_both_legs_and_both_fees() -> None:
    game = Game()
    game.trade(MM, MM, 5, 1_000, CALL.id)
    mm = game.scorer.standing(MM)
    assert mm.fees_paid == 5 and mm.fees_received == 10
    assert next(a for a in game.scorer.accounts() if a.team_id == MM).positions == {}
    game.assert_consistent()


def test_unknown_team_or_instrument_is_a_key_error_and_changes_nothing() -> None:
    game = Game()
    before = game.scorer.snapshot()
    stranger = Fill(
        TradeId(1), TeamId("nobody"), OrderId(1), SPX, Side.BUY, Ticks(1), 1,
        Liquidity.TAKER, -2, 1, TimeNs(1),
    )  # fmt: skip
    with pytest.raises(KeyError, match="nobody"):
        game.scorer.on_fill(stranger, None)
    unknown = Fill(
        TradeId(1), HF, OrderId(1), InstrumentId("SPX_CALL_1_20261204"), Side.BUY, Ticks(1),
        1, Liquidity.TAKER, -2, 1, TimeNs(1),
    )  # fmt: skip
    with pytest.raises(KeyError, match="SPX_CALL_1"):
        game.scorer.on_fill(unknown, None)
    assert game.scorer.snapshot() == before


def test_invariants_report_a_broken_ledger_and_a_mirror_that_missed_a_fill() -> None:
    game = Game()
    buy, _sell = game.trade(HF, HOUSE, 2, 1_000, CALL.id)
    assert check_invariants(game.ledger.accounts()) == []
    game.ledger.account(HF).cash_ticks += 1
    problems = check_invariants(game.ledger)
    assert "total cash" in " ".join(problems)
    assert any(p.startswith("hf: cash - fees") for p in problems)

    lonely = Scorer(INSTRUMENTS)
    lonely.add_team(HF, "Charlie", game.ledger.account(HF).role)
    lonely.on_fill(buy, None)
    problems = lonely.invariants()
    assert f"{CALL.id}: positions sum to 2, not 0" in problems
    assert "only in the ledger" in " ".join(lonely.compare_with(game.ledger))


def test_mirror_differences_name_team_and_field() -> None:
    game = Game()
    game.trade(HF, HOUSE, 2, 1_000, CALL.id)
    ledger = Ledger(INSTRUMENTS, DEFAULT_FEES)
    for account in game.ledger.accounts():
        ledger.open_account(account.team_id, account.role)
    problems = game.scorer.compare_with(ledger)
    assert f"hf: {CALL.id} position 2 != ledger 0" in problems
    assert "hf: cash -200004 != ledger 0" in problems
    assert "hf: fees -4 != ledger 0" in problems


TEAM_IDS = [HOUSE, RETAIL, MM, TeamId("mm2"), HF, TeamId("arb")]
INSTRUMENT_IDS = list(INSTRUMENTS)

trades = st.lists(
    st.tuples(
        st.sampled_from(TEAM_IDS),
        st.sampled_from(TEAM_IDS),
        st.integers(1, 500),
        st.integers(1, 600_000),
        st.sampled_from(INSTRUMENT_IDS),
        st.sampled_from([Side.BUY, Side.SELL, None]),
        st.one_of(st.none(), st.integers(1, 600_000)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(trades, st.sampled_from([None, *INSTRUMENT_IDS]), st.integers(0, 600_000))
def test_random_trades_keep_invariants_and_the_mirror_equals_the_ledger(
    batch: list[tuple[TeamId, TeamId, int, int, InstrumentId, Side | None, int | None]],
    settle: InstrumentId | None,
    value: int,
) -> None:
    game = Game()
    for buyer, seller, qty, price, inst, aggressor, mid in batch:
        game.trade(buyer, seller, qty, price, inst, aggressor, mid)
    game.assert_consistent()
    marks = {i: Ticks(1_000 + n) for n, i in enumerate(INSTRUMENT_IDS)}
    game.observe(marks, deltas=dict.fromkeys(INSTRUMENT_IDS, 0.25))
    for team in TEAM_IDS:
        assert game.scorer.pnl(team) == game.ledger.account(team).total_pnl(marks)
    if settle is not None:
        for settlement in game.ledger.settle(settle, Ticks(value), TimeNs(10**15)):
            game.scorer.on_settlement(settlement)
        game.assert_consistent()
    assert sum(game.scorer.pnl(t) for t in TEAM_IDS) == game.ledger.total_fees()
