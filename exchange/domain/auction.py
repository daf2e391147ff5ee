"""The opening auction: one uniform price per instrument (SPEC section 4).

How it works. While orders gather (PRE_OPEN) they rest without matching and the book may
cross. At any price p, buyers will take D(p) = the quantity bid at p or higher and sellers
will give S(p) = the quantity offered at p or lower; min(D, S) can trade. Volume only
changes at limit prices, so the best price is always one of them and one pass over the
levels finds it. Ties between prices that clear the same volume go to the smallest
imbalance |D - S|, then to the price nearest the reference price, then to the lower price
(so the rule is total and the outcome never depends on iteration order).

At the uncross every order that crosses the clearing price trades at that price. Better
prices fill first; among orders at one limit price the order of fill is drawn at random
from the game's seeded generator, so time of arrival buys nothing in the auction and a
replay with the same seed gives the same fills. Both sides of an auction print had
rested, so neither is the aggressor (both pay maker fees).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from exchange.domain.orders import Order, Trade
from exchange.domain.types import OrderId, Side, Ticks, TimeNs, TradeId

if TYPE_CHECKING:
    from exchange.domain.book import OrderBook


class Uncross(NamedTuple):
    """Where an auction clears: price, executable volume, and demand minus supply there."""

    price: Ticks
    volume: int
    imbalance: int


def clearing_price(
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    reference: int | None = None,
) -> Uncross | None:
    """The uniform price maximising volume, or None if nothing crosses.

    `bids` are (price, quantity) levels best (highest) first, `asks` best (lowest) first.
    """
    if not bids or not asks or bids[0][0] < asks[0][0]:
        return None
    prices = sorted({p for p, _ in bids} | {p for p, _ in asks})
    demand = _cumulative_demand(bids, prices)
    supply = _cumulative_supply(asks, prices)
    best: tuple[int, int, int, int] | None = None
    best_uncross: Uncross | None = None
    for price, d, s in zip(prices, demand, supply, strict=True):
        volume = min(d, s)
        if volume == 0:
            continue
        distance = abs(price - reference) if reference is not None else 0
        key = (-volume, abs(d - s), distance, price)
        if best is None or key < best:
            best, best_uncross = key, Uncross(Ticks(price), volume, d - s)
    return best_uncross


def _cumulative_demand(bids: Sequence[tuple[int, int]], prices: list[int]) -> list[int]:
    """D(p) for each p in ascending `prices`: quantity bid at p or higher."""
    out = [0] * len(prices)
    i, total = 0, 0
    for k in range(len(prices) - 1, -1, -1):
        while i < len(bids) and bids[i][0] >= prices[k]:
            total += bids[i][1]
            i += 1
        out[k] = total
    return out


def _cumulative_supply(asks: Sequence[tuple[int, int]], prices: list[int]) -> list[int]:
    """S(p) for each p in ascending `prices`: quantity offered at p or lower."""
    out = [0] * len(prices)
    i, total = 0, 0
    for k, price in enumerate(prices):
        while i < len(asks) and asks[i][0] <= price:
            total += asks[i][1]
            i += 1
        out[k] = total
    return out


class BatchMatchingEngine:
    """Orders rest on arrival without matching; `uncross` runs the auction."""

    name = "batch"

    def __init__(self, next_trade_id: Callable[[], int]) -> None:
        self._next_trade_id = next_trade_id

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
            trades.append(_auction_trade(self._next_trade_id(), book, buy, sell, u, qty, now))
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
