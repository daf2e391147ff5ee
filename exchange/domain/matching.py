"""Matching as a strategy: the venue hands each order to the engine of the current phase.

`ContinuousMatchingEngine` (CONTINUOUS) matches on arrival by price-time priority: best
price first, oldest first within a price, every trade at the resting order's price,
partial fills, self-trades allowed. A limit order's remainder rests; a market order's
remainder is left unfilled for the venue to cancel. `BatchMatchingEngine` (auction.py)
only rests orders and clears them at one price when the auction runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from exchange.domain.book import Level, OrderBook, PriceList
from exchange.domain.orders import Order, Trade
from exchange.domain.types import OrderStatus, Side, Ticks, TimeNs, TradeId

FILLED, PARTIALLY_FILLED = OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED


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

    def __init__(self, next_trade_id: Callable[[], int]) -> None:
        self._next_trade_id = next_trade_id

    def submit(self, book: OrderBook, order: Order, now: TimeNs) -> list[Trade]:
        trades: list[Trade] = []
        limit = order.price
        if order.side is Side.BUY:
            asks = book.ask_prices
            if asks and (limit is None or asks[0] <= limit):  # else nothing to take
                self._sweep(book, order, book.asks, asks, 0, now, trades)
        else:
            bids = book.bid_prices
            if bids and (limit is None or bids[-1] >= limit):
                self._sweep(book, order, book.bids, bids, -1, now, trades)
        if order.filled:
            order.status = (
                OrderStatus.FILLED if order.remaining == 0 else OrderStatus.PARTIALLY_FILLED
            )
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
        loop with locals bound up front: this is the hot path of every crossing order,
        and its cost is per trade. A consumed level is the best, so it leaves its price
        list by index.
        """
        limit = order.price
        sign = 1 if best == 0 else -1
        index = book.orders
        buying = order.side is Side.BUY
        next_trade_id = self._next_trade_id
        instrument_id, side = order.instrument_id, order.side
        while order.remaining and prices:
            price = prices[best]
            if limit is not None and (price - limit) * sign > 0:
                return
            level: Level = levels[price]
            queue = level.orders
            while order.remaining and level.live:
                resting = queue[0]
                if resting.order_id not in index:  # cancelled earlier: lazily deleted
                    queue.popleft()
                    level.dead -= 1
                    continue
                qty = min(order.remaining, resting.remaining)
                order.filled += qty
                order.remaining -= qty
                resting.filled += qty
                resting.remaining -= qty
                level.quantity -= qty
                if resting.remaining == 0:
                    resting.status = FILLED
                    queue.popleft()
                    del index[resting.order_id]
                    level.live -= 1
                else:
                    resting.status = PARTIALLY_FILLED
                buy, sell = (order, resting) if buying else (resting, order)
                trades.append(Trade(
                    TradeId(next_trade_id()), instrument_id, price, qty, buy.team_id, sell.team_id,
                    buy.order_id, sell.order_id, buy.remaining, sell.remaining, side, now,
                ))  # fmt: skip
            if level.live == 0:
                del levels[price]
                del prices[best]
