"""The order book on its own: levels, FIFO queues, lookup by id, depth, indicative price."""

from __future__ import annotations

from exchange.domain.book import OrderBook
from exchange.domain.orders import Order
from exchange.domain.types import (
    InstrumentId,
    OrderId,
    OrderStatus,
    OrderType,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)

from .support import px

_ids = iter(range(1, 10_000))


def order(side: Side, qty: int, price: float, team: str = "t") -> Order:
    return Order(
        OrderId(next(_ids)), TeamId(team), InstrumentId("SPX"), side, OrderType.LIMIT,
        qty, px(price), TimeNs(0), None, 0, qty,
    )  # fmt: skip


def book_with(*orders: Order) -> OrderBook:
    book = OrderBook(InstrumentId("SPX"))
    for o in orders:
        book.add(o)
    return book


def test_empty_book_has_no_prices_and_no_depth() -> None:
    book = OrderBook(InstrumentId("SPX"))
    assert book.best_bid() is None and book.best_ask() is None
    assert book.depth() == ([], [])
    assert len(book) == 0 and not book.is_crossed()


def test_best_bid_is_highest_and_best_ask_lowest() -> None:
    book = book_with(
        order(Side.BUY, 1, 99), order(Side.BUY, 1, 100), order(Side.SELL, 1, 102),
        order(Side.SELL, 1, 101),
    )  # fmt: skip
    assert book.best_bid() == px(100)
    assert book.best_ask() == px(101)


def test_depth_aggregates_levels_best_first_and_stops_at_n() -> None:
    book = book_with(*(order(Side.BUY, 2, 100 - i) for i in range(7)), order(Side.BUY, 3, 100))
    bids, asks = book.depth(5)
    assert [(lv.price, lv.quantity, lv.orders) for lv in bids[:2]] == [
        (px(100), 5, 2),
        (px(99), 2, 1),
    ]
    assert len(bids) == 5 and asks == []


def test_orders_at_one_price_queue_oldest_first() -> None:
    first, second, third = (order(Side.SELL, 1, 101) for _ in range(3))
    book = book_with(first, second, third)
    assert [o.order_id for o in book.resting_orders(Side.SELL)] == [
        first.order_id,
        second.order_id,
        third.order_id,
    ]


def test_remove_finds_order_by_id_and_drops_empty_level() -> None:
    o = order(Side.BUY, 5, 100)
    book = book_with(o, order(Side.BUY, 5, 99))
    assert book.get(o.order_id) is o
    assert book.remove(o.order_id) is o
    assert o.order_id not in book
    assert book.best_bid() == px(99)
    assert book.depth()[0][0].quantity == 5


def test_remove_unknown_order_returns_none_and_changes_nothing() -> None:
    book = book_with(order(Side.BUY, 5, 100))
    version = book.version
    assert book.remove(OrderId(999_999)) is None
    assert book.version == version and len(book) == 1


def test_removed_order_in_middle_of_queue_is_skipped_in_priority() -> None:
    a, b, c = (order(Side.BUY, 1, 100) for _ in range(3))
    book = book_with(a, b, c)
    book.remove(b.order_id)
    assert [o.order_id for o in book.resting_orders(Side.BUY)] == [a.order_id, c.order_id]
    assert book.depth()[0][0].quantity == 2


def test_many_cancels_behind_a_head_order_keep_the_queue_bounded() -> None:
    head = order(Side.SELL, 1, 101)
    book = book_with(head)
    for _ in range(500):
        o = order(Side.SELL, 1, 101)
        book.add(o)
        book.remove(o.order_id)
    level = book.asks[px(101)]
    assert len(level) < 40
    assert level.live == 1 and level.quantity == 1
    assert [o.order_id for o in book.resting_orders(Side.SELL)] == [head.order_id]


def test_fill_partial_keeps_priority_and_full_fill_leaves_book() -> None:
    o = order(Side.SELL, 10, 101)
    book = book_with(o)
    book.fill(o, 4)
    assert (o.filled, o.remaining, o.status) == (4, 6, OrderStatus.PARTIALLY_FILLED)
    assert book.depth()[1][0].quantity == 6
    book.fill(o, 6)
    assert o.status is OrderStatus.FILLED and o.order_id not in book
    assert book.best_ask() is None


def test_crossed_book_reports_indicative_uncross() -> None:
    book = book_with(order(Side.BUY, 10, 101), order(Side.SELL, 6, 100))
    assert book.is_crossed()
    result = book.indicative(Ticks(px(100)))
    assert result is not None
    assert (result.price, result.volume, result.imbalance) == (px(100), 6, 4)


def test_indicative_is_recomputed_after_every_change() -> None:
    book = book_with(order(Side.BUY, 10, 101), order(Side.SELL, 6, 100))
    assert book.indicative() is not None
    book.add(order(Side.SELL, 4, 100.5))
    result = book.indicative()
    assert result is not None and result.volume == 10


def test_uncrossed_book_has_no_indicative_price() -> None:
    book = book_with(order(Side.BUY, 10, 99), order(Side.SELL, 6, 100))
    assert book.indicative() is None
