"""The opening auction: one uniform price per instrument (SPEC section 4).

How it works. While orders gather (PRE_OPEN) they rest without matching and the book may
cross. The auction clears at the price `uncross.py` finds (the most volume, then the
smallest imbalance, then nearest the reference, then the lower price), which the book
also publishes as its indicative price.

At the uncross every order that crosses the clearing price trades at that price. Better
prices fill first; among orders at one limit price the order of fill is drawn at random
from the game's seeded generator, so time of arrival buys nothing in the auction and a
replay with the same seed gives the same fills. Both sides of an auction print had
rested, so neither is the aggressor (both pay maker fees).
"""

from __future__ import annotations

import numpy as np

from exchange.domain.book import OrderBook
from exchange.domain.orders import Ids, Order, Trade
from exchange.domain.types import OrderId, Side, Ticks, TimeNs, TradeId
from exchange.domain.uncross import Uncross


class BatchMatchingEngine:
    """Orders rest on arrival without matching; `uncross` runs the auction."""

    name = "batch"

    def __init__(self, ids: Ids) -> None:
        self._ids = ids

    def submit(self, book: OrderBook, order: Order, now: TimeNs) -> list[Trade]:
        book.add(order)
        return []

    def uncross(
        self, book: OrderBook, now: TimeNs, rng: np.random.Generator, reference: int | None
    ) -> list[Trade]:
        """Clear the book at one price; every crossing order trades there."""
        result = book.indicative(Ticks(reference) if reference is not None else None)
        if result is None:
            return []
        buys = _priority(book, Side.BUY, result.price, rng)
        sells = _priority(book, Side.SELL, result.price, rng)
        return self._allocate(book, buys, sells, result, now)

    def _allocate(
        self, book: OrderBook, buys: list[Order], sells: list[Order], u: Uncross, now: TimeNs
    ) -> list[Trade]:
        trades: list[Trade] = []
        left, b, s = u.volume, 0, 0
        while left > 0:
            buy, sell = buys[b], sells[s]
            qty = min(buy.remaining, sell.remaining, left)
            book.fill(buy, qty)
            book.fill(sell, qty)
            left -= qty
            trades.append(_auction_trade(next(self._ids.trades), book, buy, sell, u, qty, now))
            b += buy.remaining == 0
            s += sell.remaining == 0
        return trades


def _priority(book: OrderBook, side: Side, price: int, rng: np.random.Generator) -> list[Order]:
    """Orders crossing `price`, better prices first, random order within each price."""
    out: list[Order] = []
    for level in book.levels(side):
        if (level.price < price) if side is Side.BUY else (level.price > price):
            break
        orders = list(book.live_orders(level))
        out.extend(orders[i] for i in rng.permutation(len(orders)))
    return out


def _auction_trade(
    trade_id: int, book: OrderBook, buy: Order, sell: Order, u: Uncross, qty: int, now: TimeNs
) -> Trade:
    return Trade(
        TradeId(trade_id), book.instrument_id, u.price, qty, buy.team_id, sell.team_id,
        OrderId(buy.order_id), OrderId(sell.order_id), buy.remaining, sell.remaining,
        None, now,
    )  # fmt: skip
