"""The shared vocabulary: ids, units and the enums every module speaks."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

Ticks = NewType("Ticks", int)
"""A price in integer ticks of 0.01 (SPEC section 2). Money inside the engine is ticks."""

Qty = NewType("Qty", int)
TeamId = NewType("TeamId", str)
InstrumentId = NewType("InstrumentId", str)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)
TimeNs = NewType("TimeNs", int)
"""Game time: nanoseconds since the Unix epoch on the game clock."""
NS_PER_SECOND = 1_000_000_000
"""One second in nanoseconds, the unit of every `TimeNs` (defined here only)."""


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    QUOTE = "quote"
    """A leg of a market maker's two-sided quote: a limit order that a new quote replaces."""


class Role(StrEnum):
    MARKET_MAKER = "market_maker"
    HEDGE_FUND = "hedge_fund"
    ARBITRAGE = "arbitrage"
    RETAIL = "retail"
    HOUSE = "house"
    """The server's own liquidity provider: no limits, no fees, counted in the invariants."""


class Phase(StrEnum):
    CLOSED = "CLOSED"
    PRE_OPEN = "PRE_OPEN"
    OPENING_AUCTION = "OPENING_AUCTION"
    CONTINUOUS = "CONTINUOUS"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class CancelReason(StrEnum):
    USER = "user"
    NO_LIQUIDITY = "no_liquidity"
    MARKET_CLOSE = "market_close"
    REPLACED = "replaced"
    """A market maker's new quote replaced this leg."""
    AUCTION_UNFILLED = "auction_unfilled"
    """A market order sent before the auction that the auction could not fill."""
    EXPIRED = "expired"
    HALTED = "halted"
    DEAD_MANS_SWITCH = "dead_mans_switch"
    RESTART = "restart"
    GAME_STOPPED = "game_stopped"
    """The organiser ended the game."""
    TEAM_DISABLED = "team_disabled"
    """The organiser disabled the order's team."""


class OptionKind(StrEnum):
    CALL = "CALL"
    PUT = "PUT"
