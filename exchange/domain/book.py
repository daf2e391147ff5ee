"""One instrument's order book: price levels on sorted prices, a FIFO queue per level.

Each side keeps a `PriceList` of its prices and a dict from price to `Level`. A level's
queue is a list read from a head index, with lazy deletion: a cancel takes the order's
quantity off its level at once (the caller holds the order, so it is O(1)) and leaves a
dead entry in the queue. An order is in the book exactly while its status is live (new
or partially filled): a cancel marks it cancelled and a fill filled, so matching skips
dead entries by their status, and compaction clears them when they outnumber the live
ones. Matching consumes a queue from the front by moving its head on. A level with no
live order is dropped at once, so `best_bid`/`best_ask` always name a price with
quantity behind it.

There is no index by order id: the venue finds an order through its team's index and
hands it over, so a trade or a cancel touches no id table here (with hundreds of books
such a table is out of the cache and was a large part of a trade's cost). `get`,
`in`, `remove` by id and `orders` scan the levels: views and tests use them.

The book stores and reports; it does not decide what trades. Matching engines
(`matching.py`, `auction.py`) read and fill it through the attributes named here.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

from exchange.domain.orders import Order
from exchange.domain.types import InstrumentId, OrderId, OrderStatus, Side, Ticks
from exchange.domain.uncross import Uncross, clearing_price

BUY = Side.BUY
NEW, PARTIALLY_FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED
FILLED, CANCELLED = OrderStatus.FILLED, OrderStatus.CANCELLED


class PriceList(list[Ticks]):
    """One side's prices with a level, ascending: a plain list kept sorted by bisection.

    A side holds tens to a few thousand levels, and nearly every change is at or near
    its best price; at that size a list's C-level indexing, insertion and deletion
    beat a `SortedList`, whose every `[0]`, `add` and `remove` is a Python call that
    was a tenth of the matching core's time. Insertion moves the prices above it
    (a few kilobytes at most in a real book)."""

    __slots__ = ()

    def add(self, price: Ticks) -> None:
        insort(self, price)

    def remove(self, price: Ticks) -> None:
        at = bisect_left(self, price)
        if at == len(self) or self[at] != price:
            raise ValueError(f"no level at {price}")
        del self[at]


class Level(list[Order]):
    """The orders at one price, oldest first (the list itself is the queue), and their
    total open quantity.

    The queue is `self[head:]`: the entries before `head` were filled and taken off the
    front by matching, which cuts them away once they are the larger part. A list and an
    index rather than a deque, and the level the list rather than holding one: a level
    holds a handful of orders, a deque is 760 bytes outside the small-object allocator,
    and every object between a price and its orders is one more cache miss when there
    are hundreds of books. `live` and `dead` count the entries from `head` on."""

    __slots__ = ("dead", "head", "live", "price", "quantity")

    def __init__(self, price: Ticks) -> None:  # starts empty: no list.__init__ to run
        self.price = price
        self.head = 0
        self.quantity = 0
        self.live = 0
        self.dead = 0


class DepthLevel(NamedTuple):
    """One level of a depth view."""

    price: Ticks
    quantity: int
    orders: int


class OrderBook:
    # Slots: an operation reads several of these, and a book is seldom in the cache
    # when there are hundreds of them (no instance dict to look each one up in).
    __slots__ = (
        "_indicative", "ask_prices", "asks", "bid_prices", "bids", "instrument_id",
        "size", "version",
    )  # fmt: skip

    def __init__(self, instrument_id: InstrumentId) -> None:
        self.instrument_id = instrument_id
        self.bids: dict[Ticks, Level] = {}
        self.asks: dict[Ticks, Level] = {}
        self.bid_prices = PriceList()
        """Ascending; the best bid is the last."""
        self.ask_prices = PriceList()
        """Ascending; the best ask is the first."""
        self.size = 0
        """How many orders rest in the book."""
        self.version = 0
        """Bumped on every change, so views (indicative uncross, depth) can be cached."""
        self._indicative: tuple[int, Ticks | None, Uncross | None] = (-1, None, None)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, order_id: object) -> bool:
        return self.get(order_id) is not None  # type: ignore[arg-type]

    def get(self, order_id: OrderId) -> Order | None:
        """The resting order with this id (a scan, stopping at it); None if none."""
        found = (o for side in Side for o in self.resting_orders(side) if o.order_id == order_id)
        return next(found, None)

    @property
    def orders(self) -> dict[OrderId, Order]:
        """The resting orders by id, bids then asks in priority order (a scan)."""
        return {o.order_id: o for side in Side for o in self.resting_orders(side)}

    def best_bid(self) -> Ticks | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> Ticks | None:
        return self.ask_prices[0] if self.ask_prices else None

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def side_of(self, side: Side) -> tuple[dict[Ticks, Level], PriceList]:
        return (self.bids, self.bid_prices) if side is BUY else (self.asks, self.ask_prices)

    def add(self, order: Order) -> None:
        """Rest a live, priced order at the back of its level's queue."""
        price = order.price
        assert price is not None and order.remaining > 0, order
        if order.side is BUY:
            levels, prices = self.bids, self.bid_prices
        else:
            levels, prices = self.asks, self.ask_prices
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level(price)
            insort(prices, price)
        level.append(order)
        level.quantity += order.remaining
        level.live += 1
        self.size += 1
        self.version += 1

    def remove(self, order_id: OrderId) -> Order | None:
        """Cancel the resting order with this id (a scan); None if it is not here."""
        order = self.get(order_id)
        if order is not None:
            self.cancel(order)
        return order

    def cancel(self, order: Order) -> None:
        """Take a resting order of this book out and mark it cancelled."""
        price = order.price
        assert price is not None and (order.status is NEW or order.status is PARTIALLY_FILLED)
        order.status = CANCELLED
        self.size -= 1
        if order.side is BUY:
            levels, prices = self.bids, self.bid_prices
        else:
            levels, prices = self.asks, self.ask_prices
        level = levels[price]
        level.quantity -= order.remaining
        level.live -= 1
        level.dead += 1
        if level.live == 0:
            del levels[price]
            prices.remove(price)
        elif level.dead > level.live + 16:
            # Dead entries would pile up under a long-lived head order: keep them bounded.
            level[:] = list(self.live_orders(level))
            level.head = level.dead = 0
        self.version += 1

    def fill(self, order: Order, quantity: int) -> None:
        """Fill a resting order in place; a fully filled order leaves the book."""
        assert order.price is not None
        order.filled += quantity
        order.remaining -= quantity
        levels, _ = self.side_of(order.side)
        level = levels[order.price]
        level.quantity -= quantity
        self.version += 1
        if order.remaining:
            order.status = PARTIALLY_FILLED
            return
        order.status = FILLED
        self.size -= 1
        level.live -= 1
        level.dead += 1
        if level.live == 0:
            self.drop_level(order.side, order.price)

    def drop_level(self, side: Side, price: Ticks) -> None:
        """Remove an emptied level (matching calls this when it has consumed one)."""
        levels, prices = self.side_of(side)
        del levels[price]
        prices.remove(price)

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of one side, best price first."""
        levels, prices = self.side_of(side)
        ordered = reversed(prices) if side is Side.BUY else iter(prices)
        return (levels[p] for p in ordered)

    def best(self, side: Side) -> Level | None:
        """The best level of one side, or None when the side is empty."""
        levels, prices = self.side_of(side)
        if not prices:
            return None
        return levels[prices[-1] if side is Side.BUY else prices[0]]

    def depth(self, n: int = 5) -> tuple[list[DepthLevel], list[DepthLevel]]:
        """The best `n` levels of each side, best first."""
        return self._depth(Side.BUY, n), self._depth(Side.SELL, n)

    def _depth(self, side: Side, n: int) -> list[DepthLevel]:
        out: list[DepthLevel] = []
        for level in self.levels(side):
            if len(out) == n:
                break
            out.append(DepthLevel(level.price, level.quantity, level.live))
        return out

    def quantity(self, side: Side) -> int:
        levels, _ = self.side_of(side)
        return sum(level.quantity for level in levels.values())

    def live_orders(self, level: Level) -> Iterator[Order]:
        """A level's orders still in the book, oldest first (skips lazily deleted ones)."""
        return (
            o
            for o in islice(level, level.head, None)
            if o.status is NEW or o.status is PARTIALLY_FILLED
        )

    def resting_orders(self, side: Side) -> Iterator[Order]:
        """Live resting orders of one side in priority order (best price, then time)."""
        for level in self.levels(side):
            yield from self.live_orders(level)

    def indicative(self, reference: Ticks | None = None) -> Uncross | None:
        """The price and volume an auction would clear at now; cached until the book changes.

        One pass over the price levels, so it is cheap enough to publish after every
        change while orders gather before the open.
        """
        version, ref, cached = self._indicative
        if version == self.version and ref == reference:
            return cached
        result = clearing_price(
            [(lv.price, lv.quantity) for lv in self.levels(Side.BUY)],
            [(lv.price, lv.quantity) for lv in self.levels(Side.SELL)],
            reference,
        )
        self._indicative = (self.version, reference, result)
        return result
