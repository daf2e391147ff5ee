"""Matching as a strategy: the venue hands each order to the engine of the current phase.

`ContinuousMatchingEngine` (CONTINUOUS) matches on arrival by price-time priority: best
price first, oldest first within a price, every trade at the resting order's price,
partial fills, self-trades allowed. A limit order's remainder rests; a market order's
remainder is left unfilled for the venue to cancel. `BatchMatchingEngine` (auction.py)
only rests orders and clears them at one price when the auction runs.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from exchange.domain.book import Level, OrderBook, PriceList
from exchange.domain.orders import Ids, Order, Trade
from exchange.domain.types import OrderStatus, Side, Ticks, TimeNs

NEW, FILLED, PARTIALLY_FILLED = OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED
BUY = Side.BUY


class MatchingEngine(Protocol):
    name: str

    def submit(self, book: OrderBook, order: Order, now: TimeNs) -> list[Trade]:
        """Match what this engine matches on arrival and rest a limit remainder."""
        ...

    def uncross(
        self, book: OrderBook, now: TimeNs, rng: np.random.Generator, reference: int | None
    ) -> list[Trade]:
        """Clear a crossed book (the auction); continuous books are never crossed."""
        ...


class ContinuousMatchingEngine:
    name = "continuous"

    def __init__(self, ids: Ids) -> None:
        self._ids = ids

    def submit(self, book: OrderBook, order: Order, now: TimeNs) -> list[Trade]:
        trades: list[Trade] = []
        limit = order.price
        if order.side is BUY:
            asks = book.ask_prices
            if asks and (limit is None or asks[0] <= limit):  # else nothing to take
                self._sweep(book, order, book.asks, asks, 0, now, trades)
        else:
            bids = book.bid_prices
            if bids and (limit is None or bids[-1] >= limit):
                self._sweep(book, order, book.bids, bids, -1, now, trades)
        if order.filled:
            order.status = FILLED if order.remaining == 0 else PARTIALLY_FILLED
        if order.remaining and order.price is not None:
            book.add(order)
        elif trades:
            book.version += 1
        return trades

    def uncross(
        self, book: OrderBook, now: TimeNs, rng: np.random.Generator, reference: int | None
    ) -> list[Trade]:
        return []

    def _sweep(
        self,
        book: OrderBook,
        order: Order,
        levels: dict[Ticks, Level],
        prices: PriceList,
        best: int,
        now: TimeNs,
        trades: list[Trade],
    ) -> None:
        """Take the opposite side level by level while the order's limit allows, each
        level's queue oldest first, every trade at the level's price.

        `best` is 0 for asks (lowest first) and -1 for bids (highest first). Kept as one
        loop with locals bound up front and the incoming order's open quantity in a
        local, written back once: this is the hot path of every crossing order, and its
        cost is per trade. A consumed level is the best, so it leaves its price list by
        index; a level that stays has the filled front of its queue passed by moving its
        head, and cut away once it is the larger part.
        """
        limit = order.price
        sign = 1 if best == 0 else -1
        buying = order.side is BUY
        next_trade_id = self._ids.trades.__next__
        instrument_id, side, team_id, order_id = (
            order.instrument_id, order.side, order.team_id, order.order_id
        )  # fmt: skip
        left = order.remaining
        filled = 0
        while left and prices:
            price = prices[best]
            if limit is not None and (price - limit) * sign > 0:
                break
            level: Level = levels[price]
            head = level.head
            while left and level.live:
                resting = level[head]
                status = resting.status
                if status is not NEW and status is not PARTIALLY_FILLED:  # lazily deleted
                    head += 1
                    level.dead -= 1
                    continue
                qty = resting.remaining
                if qty > left:
                    qty = left
                left -= qty
                resting_left = resting.remaining = resting.remaining - qty
                resting.filled += qty
                level.quantity -= qty
                if resting_left == 0:
                    resting.status = FILLED
                    head += 1
                    filled += 1
                    level.live -= 1
                else:
                    resting.status = PARTIALLY_FILLED
                if buying:
                    trade = Trade(
                        next_trade_id(), instrument_id, price, qty, team_id, resting.team_id,
                        order_id, resting.order_id, left, resting_left, side, now,
                    )  # fmt: skip
                else:
                    trade = Trade(
                        next_trade_id(), instrument_id, price, qty, resting.team_id, team_id,
                        resting.order_id, order_id, resting_left, left, side, now,
                    )  # fmt: skip
                trades.append(trade)
            if level.live == 0:
                del levels[price]
                del prices[best]
            elif head * 2 > len(level):
                del level[:head]
                level.head = 0
            else:
                level.head = head
        order.filled += order.remaining - left
        order.remaining = left
        book.size -= filled
