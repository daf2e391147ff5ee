"""Exchange fees per contract, by role and liquidity (SPEC section 3).

A fee is an integer number of ticks per contract, whatever the multiplier, and positive
when the team receives it: a maker rebate is positive, a taker fee negative. Summed over
every account, cash equals the sum of these fees, because premium flows cancel.
"""

from __future__ import annotations

import msgspec

from exchange.domain.orders import Trade
from exchange.domain.types import Liquidity, Role, Side


class FeeSchedule(msgspec.Struct, frozen=True, gc=False):
    """Ticks per contract a team receives (positive) or pays (negative) per fill."""

    maker_ticks: int
    taker_ticks: int


NO_FEES = FeeSchedule(maker_ticks=0, taker_ticks=0)

# The SPEC section 3 table; the house provides liquidity for free.
DEFAULT_FEES: dict[Role, FeeSchedule] = {
    Role.MARKET_MAKER: FeeSchedule(maker_ticks=2, taker_ticks=-1),
    Role.HEDGE_FUND: FeeSchedule(maker_ticks=1, taker_ticks=-2),
    Role.ARBITRAGE: FeeSchedule(maker_ticks=1, taker_ticks=-2),
    Role.RETAIL: FeeSchedule(maker_ticks=-1, taker_ticks=-3),
    Role.HOUSE: NO_FEES,
}


def fee_ticks(schedule: FeeSchedule, liquidity: Liquidity, quantity: int) -> int:
    """The fee in ticks for `quantity` contracts, positive when the team receives it."""
    per_contract = schedule.maker_ticks if liquidity is Liquidity.MAKER else schedule.taker_ticks
    return per_contract * quantity


def liquidity_of(trade: Trade, side: Side) -> Liquidity:
    """Taker for the side that crossed on arrival; maker otherwise, both sides of an auction."""
    return Liquidity.TAKER if trade.aggressor is side else Liquidity.MAKER
