"""Fees per contract by role and liquidity (SPEC section 3)."""

from __future__ import annotations

import pytest

from exchange.domain.fees import DEFAULT_FEES, NO_FEES, FeeSchedule, fee_ticks, liquidity_of
from exchange.domain.orders import Trade
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)


def make_trade(aggressor: Side | None) -> Trade:
    return Trade(
        TradeId(1), InstrumentId("SPX"), Ticks(440_000), 3, TeamId("a"), TeamId("b"),
        OrderId(1), OrderId(2), 0, 0, aggressor, TimeNs(0),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("role", "maker", "taker"),
    [
        (Role.MARKET_MAKER, 2, -1),
        (Role.HEDGE_FUND, 1, -2),
        (Role.ARBITRAGE, 1, -2),
        (Role.RETAIL, -1, -3),
        (Role.HOUSE, 0, 0),
    ],
)
def test_default_fees_follow_the_spec_table(role: Role, maker: int, taker: int) -> None:
    assert DEFAULT_FEES[role] == FeeSchedule(maker_ticks=maker, taker_ticks=taker)


def test_every_role_has_a_default_schedule() -> None:
    assert set(DEFAULT_FEES) == set(Role)


def test_fee_is_per_contract_and_signed_for_the_team() -> None:
    mm = DEFAULT_FEES[Role.MARKET_MAKER]
    assert fee_ticks(mm, Liquidity.MAKER, 10) == 20
    assert fee_ticks(mm, Liquidity.TAKER, 10) == -10
    assert fee_ticks(DEFAULT_FEES[Role.RETAIL], Liquidity.TAKER, 7) == -21
    assert fee_ticks(DEFAULT_FEES[Role.RETAIL], Liquidity.MAKER, 7) == -7


def test_house_pays_no_fees() -> None:
    assert fee_ticks(NO_FEES, Liquidity.MAKER, 1000) == 0
    assert fee_ticks(NO_FEES, Liquidity.TAKER, 1000) == 0


def test_aggressor_is_taker_resting_side_is_maker() -> None:
    buy_crossed = make_trade(Side.BUY)
    assert liquidity_of(buy_crossed, Side.BUY) is Liquidity.TAKER
    assert liquidity_of(buy_crossed, Side.SELL) is Liquidity.MAKER
    sell_crossed = make_trade(Side.SELL)
    assert liquidity_of(sell_crossed, Side.SELL) is Liquidity.TAKER
    assert liquidity_of(sell_crossed, Side.BUY) is Liquidity.MAKER


def test_auction_print_is_maker_for_both_sides() -> None:
    auction = make_trade(None)
    assert liquidity_of(auction, Side.BUY) is Liquidity.MAKER
    assert liquidity_of(auction, Side.SELL) is Liquidity.MAKER


def test_fee_schedule_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_FEES[Role.RETAIL].maker_ticks = 5  # type: ignore[misc]
