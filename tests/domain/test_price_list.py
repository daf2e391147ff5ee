"""A side's price list: sorted after any mix of adds and removes, and a book on it
keeps its best prices and depth as a sorted reference says."""

from __future__ import annotations

import random

import pytest

from exchange.domain.book import OrderBook, PriceList
from exchange.domain.orders import Order
from exchange.domain.types import InstrumentId, OrderId, OrderType, Side, TeamId, Ticks, TimeNs


def test_adds_and_removes_keep_the_prices_sorted() -> None:
    rng = random.Random(7)
    prices, reference = PriceList(), set()
    for _ in range(2_000):
        price = Ticks(rng.randint(1, 300))
        if price in reference:
            prices.remove(price)
            reference.discard(price)
        else:
            prices.add(price)
            reference.add(price)
        assert list(prices) == sorted(reference)


def test_removing_a_price_that_has_no_level_is_an_error() -> None:
    prices = PriceList()
    prices.add(Ticks(10))
    with pytest.raises(ValueError, match="no level at 11"):
        prices.remove(Ticks(11))
    with pytest.raises(ValueError):
        prices.remove(Ticks(99))
    assert prices == [10]


def test_a_book_matches_its_best_prices_and_depth_to_a_sorted_reference() -> None:
    rng = random.Random(11)
    book = OrderBook(InstrumentId("SPX"))
    live: dict[OrderId, Order] = {}
    for n in range(1, 3_000):
        if live and rng.random() < 0.4:
            book.remove(live.pop(rng.choice(list(live))).order_id)
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = Ticks(rng.randint(100, 140) if side is Side.BUY else rng.randint(141, 180))
            order = Order(OrderId(n), TeamId("T0001"), InstrumentId("SPX"), side,
                          OrderType.LIMIT, 1, price, TimeNs(n), None, 0, 1)  # fmt: skip
            book.add(order)
            live[order.order_id] = order
        bids = sorted({o.price for o in live.values() if o.price and o.side is Side.BUY},
                      reverse=True)  # fmt: skip
        asks = sorted({o.price for o in live.values() if o.price and o.side is Side.SELL})
        assert book.best_bid() == (bids[0] if bids else None)
        assert book.best_ask() == (asks[0] if asks else None)
        depth_bids, depth_asks = book.depth(5)
        assert [d.price for d in depth_bids] == bids[:5]
        assert [d.price for d in depth_asks] == asks[:5]
