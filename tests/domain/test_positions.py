"""The ledger: positions, cash, fees, average-cost P&L and settlement (SPEC sections 3, 7)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.domain.fees import DEFAULT_FEES
from exchange.domain.instruments import Instrument, intrinsic_value, make_option
from exchange.domain.orders import Trade
from exchange.domain.positions import Account, Ledger
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OptionKind,
    OrderId,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)

SPX = InstrumentId("SPX")
CALL = make_option("SPX", OptionKind.CALL, 440_000, dt.date(2026, 12, 4))
PUT = make_option("SPX", OptionKind.PUT, 440_000, dt.date(2026, 12, 4))
INSTRUMENTS = {SPX: Instrument(SPX, "SPX"), CALL.id: CALL, PUT.id: PUT}
HOUSE, MM, HF, RETAIL = TeamId("house"), TeamId("mm"), TeamId("hf"), TeamId("retail")
ROLES = {HOUSE: Role.HOUSE, MM: Role.MARKET_MAKER, HF: Role.HEDGE_FUND, RETAIL: Role.RETAIL}
_ids = itertools.count(1)


def new_ledger() -> Ledger:
    ledger = Ledger(INSTRUMENTS, DEFAULT_FEES)
    for team, role in ROLES.items():
        ledger.open_account(team, role)
    return ledger


def trade(
    buyer: TeamId,
    seller: TeamId,
    qty: int,
    price: int,
    aggressor: Side | None = Side.BUY,
    instrument: InstrumentId = SPX,
) -> Trade:
    n = next(_ids)
    return Trade(
        TradeId(n), instrument, Ticks(price), qty, buyer, seller, OrderId(2 * n),
        OrderId(2 * n + 1), 0, 0, aggressor, TimeNs(n),
    )  # fmt: skip


def assert_consistent(account: Account) -> None:
    """Premium cash equals realised minus open cost, exactly."""
    premium = account.cash_ticks - account.fees_ticks
    assert premium == account.realised_pnl_ticks - account.open_cost_ticks


def assert_ledger_invariants(ledger: Ledger) -> None:
    assert all(qty == 0 for qty in ledger.net_positions().values())
    assert ledger.total_cash() == ledger.total_fees()
    for account in ledger.accounts():
        assert_consistent(account)


def test_buy_then_partial_sell_realises_the_sold_part() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, HOUSE, 10, 440_000))
    ledger.apply(trade(HOUSE, HF, 4, 441_000, aggressor=Side.SELL))
    hf = ledger.account(HF)
    assert hf.positions[SPX] == 6
    assert hf.realised_pnl_ticks == 4 * 1_000
    assert hf.open_costs[SPX] == 6 * 440_000
    assert hf.fees_ticks == -2 * 14
    assert hf.cash_ticks == -10 * 440_000 + 4 * 441_000 - 28
    assert_ledger_invariants(ledger)


def test_reducing_releases_cost_pro_rata_and_open_cost_keeps_the_remainder() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, HOUSE, 1, 100))
    ledger.apply(trade(HF, HOUSE, 2, 101))
    ledger.apply(trade(HOUSE, HF, 1, 110, aggressor=Side.SELL))
    hf = ledger.account(HF)
    assert hf.realised_pnl_ticks == 110 - 302 // 3
    assert hf.open_costs[SPX] == 302 - 302 // 3
    ledger.apply(trade(HOUSE, HF, 2, 90, aggressor=Side.SELL))
    assert hf.positions[SPX] == 0
    assert hf.open_costs[SPX] == 0
    assert hf.realised_pnl_ticks == 110 + 180 - 302
    assert_ledger_invariants(ledger)


def test_covering_a_short_realises_against_the_proceeds() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HOUSE, HF, 4, 200, aggressor=Side.SELL))
    ledger.apply(trade(HF, HOUSE, 1, 190))
    hf = ledger.account(HF)
    assert hf.positions[SPX] == -3
    assert hf.realised_pnl_ticks == 10
    assert hf.open_costs[SPX] == -600
    assert_ledger_invariants(ledger)


def test_flip_through_zero_closes_fully_then_opens_the_rest() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, HOUSE, 5, 100))
    fills = ledger.apply(trade(HOUSE, HF, 8, 110, aggressor=Side.SELL))
    hf = ledger.account(HF)
    assert fills[1].position_after == -3
    assert hf.realised_pnl_ticks == 5 * 10
    assert hf.open_costs[SPX] == -3 * 110
    ledger.apply(trade(HF, HOUSE, 3, 100))
    assert hf.realised_pnl_ticks == 50 + 30
    assert_ledger_invariants(ledger)


def test_option_premium_uses_the_multiplier_but_fees_do_not() -> None:
    ledger = new_ledger()
    buy, sell = ledger.apply(trade(HF, MM, 3, 1_250, aggressor=Side.BUY, instrument=CALL.id))
    assert (buy.fee_ticks, sell.fee_ticks) == (-6, 6)
    assert ledger.account(HF).cash_ticks == -3 * 1_250 * 100 - 6
    assert ledger.account(MM).cash_ticks == 3 * 1_250 * 100 + 6
    assert_ledger_invariants(ledger)


def test_resting_market_maker_gets_the_rebate_aggressor_pays_taker_fee() -> None:
    ledger = new_ledger()
    buy, sell = ledger.apply(trade(RETAIL, MM, 5, 1_000, aggressor=Side.BUY, instrument=CALL.id))
    assert (buy.liquidity, buy.fee_ticks) == (Liquidity.TAKER, -15)
    assert (sell.liquidity, sell.fee_ticks) == (Liquidity.MAKER, 10)
    buy, sell = ledger.apply(trade(MM, HF, 2, 1_000, aggressor=Side.SELL, instrument=CALL.id))
    assert (buy.liquidity, buy.fee_ticks) == (Liquidity.MAKER, 4)
    assert (sell.liquidity, sell.fee_ticks) == (Liquidity.TAKER, -4)


def test_auction_print_charges_maker_fees_to_both_sides() -> None:
    ledger = new_ledger()
    buy, sell = ledger.apply(trade(RETAIL, MM, 4, 1_000, aggressor=None, instrument=CALL.id))
    assert (buy.liquidity, buy.fee_ticks) == (Liquidity.MAKER, -4)
    assert (sell.liquidity, sell.fee_ticks) == (Liquidity.MAKER, 8)


def test_house_pays_no_fees() -> None:
    ledger = new_ledger()
    buy, _ = ledger.apply(trade(HOUSE, RETAIL, 9, 440_000, aggressor=Side.BUY))
    assert buy.fee_ticks == 0
    assert ledger.account(HOUSE).fees_ticks == 0


def test_self_trade_leaves_position_and_pays_both_fees() -> None:
    ledger = new_ledger()
    buy, sell = ledger.apply(trade(MM, MM, 10, 1_500, aggressor=Side.BUY, instrument=CALL.id))
    mm = ledger.account(MM)
    assert mm.positions[CALL.id] == 0
    assert (buy.position_after, sell.position_after) == (0, 0)
    assert (buy.fee_ticks, sell.fee_ticks) == (-10, 20)
    assert mm.fees_ticks == 10
    assert mm.cash_ticks == 10
    assert mm.realised_pnl_ticks == 0
    assert_ledger_invariants(ledger)


def test_fill_records_carry_each_sides_order_and_position() -> None:
    ledger = new_ledger()
    t = trade(HF, MM, 7, 2_000, instrument=PUT.id)
    buy, sell = ledger.apply(t)
    assert (buy.team_id, buy.order_id, buy.side) == (HF, t.buy_order_id, Side.BUY)
    assert (sell.team_id, sell.order_id, sell.side) == (MM, t.sell_order_id, Side.SELL)
    assert (buy.position_after, sell.position_after) == (7, -7)
    assert buy.trade_id == sell.trade_id == t.trade_id
    assert buy.ts_ns == t.ts_ns
    assert (buy.price, buy.quantity, buy.instrument_id) == (2_000, 7, PUT.id)


def test_settlement_at_intrinsic_realises_pnl_and_removes_the_position() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, MM, 2, 5_000, instrument=CALL.id))
    value = intrinsic_value(CALL, 450_000)
    assert value == 10_000
    settlements = ledger.settle(CALL.id, value, TimeNs(99))
    by_team = {s.team_id: s for s in settlements}
    assert set(by_team) == {HF, MM}
    assert by_team[HF].cash_ticks == 2 * 10_000 * 100
    assert by_team[HF].realised_pnl_ticks == 2 * (10_000 - 5_000) * 100
    assert by_team[MM].cash_ticks == -2 * 10_000 * 100
    hf = ledger.account(HF)
    assert CALL.id not in hf.positions
    assert hf.realised_pnl_ticks == 1_000_000
    assert hf.cash_ticks == 1_000_000 + hf.fees_ticks
    assert_ledger_invariants(ledger)


def test_settlement_out_of_the_money_loses_the_premium() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, MM, 1, 5_000, instrument=CALL.id))
    ledger.settle(CALL.id, intrinsic_value(CALL, 430_000), TimeNs(99))
    assert ledger.account(HF).realised_pnl_ticks == -500_000
    assert ledger.account(MM).realised_pnl_ticks == 500_000


def test_total_pnl_is_cash_plus_marked_positions() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, MM, 2, 1_000, instrument=CALL.id))
    ledger.apply(trade(HF, HOUSE, 1, 440_000))
    hf = ledger.account(HF)
    marks = {CALL.id: Ticks(1_100), SPX: Ticks(439_000)}
    assert hf.total_pnl(marks) == hf.cash_ticks + 2 * 1_100 * 100 + 439_000
    assert hf.unrealised_pnl(marks) == 2 * 100 * 100 - 1_000
    assert hf.total_pnl(marks) == hf.realised_pnl_ticks + hf.unrealised_pnl(marks) + hf.fees_ticks


def test_a_missing_mark_only_matters_for_a_held_position() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, HOUSE, 1, 440_000))
    ledger.apply(trade(HOUSE, HF, 1, 440_000, aggressor=Side.SELL))
    hf = ledger.account(HF)
    assert hf.total_pnl({}) == hf.cash_ticks
    ledger.apply(trade(HF, MM, 1, 1_000, instrument=PUT.id))
    with pytest.raises(KeyError):
        hf.total_pnl({SPX: Ticks(1)})


def test_option_exposure_sums_absolute_option_positions_only() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, MM, 3, 1_000, instrument=CALL.id))
    ledger.apply(trade(MM, HF, 5, 1_000, instrument=PUT.id))
    ledger.apply(trade(HF, HOUSE, 40, 440_000))
    assert ledger.account(HF).option_exposure() == 8
    assert ledger.account(MM).option_exposure() == 8


def test_accounts_must_be_opened_once() -> None:
    ledger = new_ledger()
    with pytest.raises(ValueError, match="already open"):
        ledger.open_account(HF, Role.HEDGE_FUND)
    with pytest.raises(KeyError):
        ledger.apply(trade(TeamId("nobody"), HF, 1, 100))


def test_house_without_a_configured_schedule_pays_nothing() -> None:
    ledger = Ledger(INSTRUMENTS, {Role.RETAIL: DEFAULT_FEES[Role.RETAIL]})
    ledger.open_account(HOUSE, Role.HOUSE)
    ledger.open_account(RETAIL, Role.RETAIL)
    buy, sell = ledger.apply(trade(RETAIL, HOUSE, 1, 100))
    assert (buy.fee_ticks, sell.fee_ticks) == (-3, 0)
    with pytest.raises(KeyError):
        ledger.open_account(HF, Role.HEDGE_FUND)


def test_snapshot_restores_to_an_identical_ledger() -> None:
    ledger = new_ledger()
    ledger.apply(trade(HF, MM, 3, 1_001, instrument=CALL.id))
    ledger.apply(trade(MM, HF, 1, 1_200, instrument=CALL.id))
    restored = Ledger(INSTRUMENTS, DEFAULT_FEES)
    restored.restore(ledger.snapshot())
    assert restored.snapshot() == ledger.snapshot()
    t = trade(MM, HF, 2, 900, instrument=CALL.id)
    assert restored.apply(t) == ledger.apply(t)


TEAMS = list(ROLES)
trades = st.lists(
    st.tuples(
        st.sampled_from(TEAMS),
        st.sampled_from(TEAMS),
        st.integers(1, 50),
        st.integers(0, 600_000),
        st.sampled_from([Side.BUY, Side.SELL, None]),
        st.sampled_from(list(INSTRUMENTS)),
    ),
    max_size=60,
)


@given(trades, st.integers(0, 600_000))
def test_invariants_hold_over_random_trade_sequences(
    sequence: list[tuple[TeamId, TeamId, int, int, Side | None, InstrumentId]], marks_at: int
) -> None:
    ledger = new_ledger()
    for buyer, seller, qty, price, aggressor, instrument in sequence:
        ledger.apply(trade(buyer, seller, qty, price, aggressor, instrument))
        assert_ledger_invariants(ledger)
    marks = {iid: Ticks(marks_at) for iid in INSTRUMENTS}
    for account in ledger.accounts():
        pnl = account.realised_pnl_ticks + account.unrealised_pnl(marks) + account.fees_ticks
        assert account.total_pnl(marks) == pnl
    # Marked P&L over all teams is the fees: trading among ourselves creates no money.
    assert sum(a.total_pnl(marks) for a in ledger.accounts()) == ledger.total_fees()
    for option in (CALL, PUT):
        ledger.settle(option.id, intrinsic_value(option, marks_at), TimeNs(0))
    assert_ledger_invariants(ledger)
    for account in ledger.accounts():
        assert set(account.positions) <= {SPX}
