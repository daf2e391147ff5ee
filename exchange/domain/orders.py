"""Requests into the venue, the orders it keeps, and what it reports back.

Requests are imperative (`NewOrder`, `NewQuote`, `CancelOrder`); outcomes are values
(`OrderResult`, `QuoteResult`), never exceptions: a rejected order is an answer, not a bug.
An order's `quantity == filled + remaining` always holds; `remaining` is the unfilled part,
resting while the order is live and cancelled once its status is `cancelled`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import cast

import msgspec

from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderId,
    OrderStatus,
    OrderType,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)

LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class Ids:
    """The venue's two id sequences, shared with its matching engines, which take the
    trade ids. The matching loop binds `next(ids.trades)`'s method once per order and
    calls it per trade; a restart or a peek replaces a sequence here, where every
    holder sees it."""

    __slots__ = ("orders", "trades")

    orders: Iterator[OrderId]
    trades: Iterator[TradeId]

    def __init__(self, first_order_id: int, first_trade_id: int) -> None:
        self.resume(first_order_id, first_trade_id)

    def resume(self, order_id: int, trade_id: int) -> None:
        """Hand out ids from these on."""
        self.orders = cast(Iterator[OrderId], count(order_id))
        self.trades = cast(Iterator[TradeId], count(trade_id))

    def peek(self) -> tuple[int, int]:
        """The next order id and trade id, without taking them."""
        order_id, trade_id = next(self.orders), next(self.trades)
        self.resume(order_id, trade_id)
        return order_id, trade_id


class NewOrder(msgspec.Struct, frozen=True, gc=False):
    """A team asks for an order. `price` None means a market order."""

    team_id: TeamId
    instrument_id: InstrumentId
    side: Side
    quantity: int
    price: Ticks | None = None
    order_type: OrderType = OrderType.LIMIT
    client_order_id: str | None = None


class NewQuote(msgspec.Struct, frozen=True, gc=False):
    """A market maker's two-sided quote; it replaces the team's previous one there."""

    team_id: TeamId
    instrument_id: InstrumentId
    bid_price: Ticks
    bid_quantity: int
    ask_price: Ticks
    ask_quantity: int

    def legs(self) -> tuple[NewOrder, NewOrder]:
        return (
            NewOrder(self.team_id, self.instrument_id, Side.BUY, self.bid_quantity,
                     self.bid_price, OrderType.QUOTE),
            NewOrder(self.team_id, self.instrument_id, Side.SELL, self.ask_quantity,
                     self.ask_price, OrderType.QUOTE),
        )  # fmt: skip


class CancelOrder(msgspec.Struct, frozen=True, gc=False):
    team_id: TeamId
    order_id: OrderId


class CancelAll(msgspec.Struct, frozen=True, gc=False):
    """Cancel every live order of the team, or only those in one instrument."""

    team_id: TeamId
    instrument_id: InstrumentId | None = None


class Order(msgspec.Struct, gc=False):
    """An accepted order. Mutable: the book fills it in place (the matching hot path)."""

    order_id: OrderId
    team_id: TeamId
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity: int
    price: Ticks | None
    ts_ns: TimeNs
    client_order_id: str | None = None
    filled: int = 0
    remaining: int = 0
    status: OrderStatus = OrderStatus.NEW

    @property
    def is_live(self) -> bool:
        return self.status in LIVE


def order_from(
    request: NewOrder, order_id: OrderId, now: TimeNs, status: OrderStatus = OrderStatus.NEW
) -> Order:
    """The order a request places under `order_id` at `now`, nothing filled yet: the one
    constructor of an `Order` from a request (the venue's, the validator's record of an
    order in flight, the matcher's report of one the venue refused)."""
    return Order(
        order_id, request.team_id, request.instrument_id, request.side, request.order_type,
        request.quantity, request.price, now, request.client_order_id, 0, request.quantity,
        status,
    )  # fmt: skip


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One execution between a buy and a sell order at one price.

    `aggressor` is the side that crossed on arrival (the taker); None for an auction print,
    where both orders had rested (both are makers). `*_remaining` is what each order still
    had open right after this trade, so each side's execution report is exact.
    """

    trade_id: TradeId
    instrument_id: InstrumentId
    price: Ticks
    quantity: int
    buyer: TeamId
    seller: TeamId
    buy_order_id: OrderId
    sell_order_id: OrderId
    buy_remaining: int
    sell_remaining: int
    aggressor: Side | None
    ts_ns: TimeNs


class OrderCancelled(msgspec.Struct, frozen=True, gc=False):
    """An order left the book unfilled: `quantity` is what was cancelled."""

    order_id: OrderId
    team_id: TeamId
    instrument_id: InstrumentId
    side: Side
    quantity: int
    filled: int
    reason: CancelReason
    ts_ns: TimeNs
    client_order_id: str | None = None


def cancelled_event(order: Order, reason: CancelReason, ts_ns: TimeNs) -> OrderCancelled:
    return OrderCancelled(
        order.order_id, order.team_id, order.instrument_id, order.side,
        order.remaining, order.filled, reason, ts_ns, order.client_order_id,
    )  # fmt: skip


class OrderResult(msgspec.Struct, gc=False):
    """What one request did: the order (if accepted), its trades and any cancels."""

    status: OrderStatus
    order: Order | None = None
    trades: list[Trade] = msgspec.field(default_factory=list)
    cancels: list[OrderCancelled] = msgspec.field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not OrderStatus.REJECTED

    @property
    def order_id(self) -> OrderId | None:
        return None if self.order is None else self.order.order_id


def rejected(code: str, message: str) -> OrderResult:
    return OrderResult(OrderStatus.REJECTED, error_code=code, error_message=message)


class QuoteResult(msgspec.Struct, gc=False):
    """A quote's two legs: placed, traded, and the previous quote's legs it cancelled."""

    status: OrderStatus
    bid: Order | None = None
    ask: Order | None = None
    trades: list[Trade] = msgspec.field(default_factory=list)
    cancels: list[OrderCancelled] = msgspec.field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not OrderStatus.REJECTED
