"""Continuous matching through the venue: price-time priority (SPEC section 4)."""

from __future__ import annotations

from exchange.domain.orders import Order
from exchange.domain.types import CancelReason, OrderStatus, Side

from .support import SPX, buy, make_venue, play, px, sell


def test_crossing_buy_trades_at_the_resting_price() -> None:
    venue = make_venue()
    _, taker = play(venue, sell("a", 5, "100.00"), buy("b", 5, "101.00"))
    [trade] = taker.trades
    assert trade.price == px(100) and trade.quantity == 5
    assert (trade.buyer, trade.seller, trade.aggressor) == ("b", "a", Side.BUY)


def test_crossing_sell_trades_at_the_resting_bid() -> None:
    venue = make_venue()
    _, taker = play(venue, buy("a", 5, "100.00"), sell("b", 5, "98.00"))
    assert taker.trades[0].price == px(100)
    assert taker.trades[0].aggressor is Side.SELL


def test_partial_fill_rests_the_remainder_at_its_limit() -> None:
    venue = make_venue()
    _, taker = play(venue, sell("a", 3, 100), buy("b", 10, 100))
    assert taker.status is OrderStatus.PARTIALLY_FILLED
    assert taker.order is not None
    assert (taker.order.filled, taker.order.remaining) == (3, 7)
    assert venue.books[SPX].best_bid() == px(100)
    assert venue.books[SPX].depth()[0][0].quantity == 7


def test_partially_filled_resting_order_keeps_its_place_in_the_queue() -> None:
    venue = make_venue()
    first, second, *_ = play(venue, sell("a", 10, 100), sell("c", 10, 100), buy("b", 4, 100))
    last = play(venue, buy("d", 8, 100), start=10)[0]
    assert [(t.sell_order_id, t.quantity) for t in last.trades] == [
        (first.order_id, 6),
        (second.order_id, 2),
    ]


def test_better_price_fills_first() -> None:
    venue = make_venue()
    _, better, taker = play(venue, sell("a", 5, 101), sell("c", 5, 100), buy("b", 5, 101))
    assert taker.trades[0].sell_order_id == better.order_id
    assert taker.trades[0].price == px(100)


def test_older_order_fills_first_at_one_price() -> None:
    venue = make_venue()
    older, _, taker = play(venue, sell("a", 5, 100), sell("c", 5, 100), buy("b", 5, 100))
    assert taker.trades[0].sell_order_id == older.order_id


def test_aggressor_sweeps_several_levels_each_at_its_own_price() -> None:
    venue = make_venue()
    results = play(
        venue, sell("a", 2, 100), sell("a", 3, 101), sell("a", 4, 102), buy("b", 8, 102)
    )
    assert [(t.price, t.quantity) for t in results[-1].trades] == [
        (px(100), 2),
        (px(101), 3),
        (px(102), 3),
    ]
    assert venue.books[SPX].depth()[1][0].quantity == 1


def test_limit_price_stops_the_sweep() -> None:
    venue = make_venue()
    results = play(venue, sell("a", 2, 100), sell("a", 3, 101), buy("b", 8, 100))
    assert sum(t.quantity for t in results[-1].trades) == 2
    assert venue.books[SPX].best_bid() == px(100)
    assert venue.books[SPX].best_ask() == px(101)


def test_market_order_takes_what_is_there_and_the_rest_is_cancelled() -> None:
    venue = make_venue()
    _, taker = play(venue, sell("a", 3, 100), buy("b", 10))
    assert sum(t.quantity for t in taker.trades) == 3
    assert taker.status is OrderStatus.CANCELLED
    [cancelled] = taker.cancels
    assert (cancelled.reason, cancelled.quantity, cancelled.filled) == (
        CancelReason.NO_LIQUIDITY,
        7,
        3,
    )
    assert len(venue.books[SPX]) == 0 and venue.open_orders("b") == []  # type: ignore[arg-type]


def test_market_order_on_empty_book_is_cancelled_without_trades() -> None:
    venue = make_venue()
    [result] = play(venue, sell("b", 4))
    assert result.trades == [] and result.status is OrderStatus.CANCELLED
    assert result.cancels[0].reason is CancelReason.NO_LIQUIDITY


def test_market_order_fully_filled_is_filled() -> None:
    venue = make_venue()
    _, taker = play(venue, buy("a", 10, 99), sell("b", 10))
    assert taker.status is OrderStatus.FILLED and taker.cancels == []


def test_self_trade_is_allowed() -> None:
    venue = make_venue()
    _, taker = play(venue, sell("a", 5, 100), buy("a", 5, 100))
    [trade] = taker.trades
    assert trade.buyer == trade.seller == "a"


def test_trade_reports_what_each_order_has_left() -> None:
    venue = make_venue()
    _, taker = play(venue, sell("a", 10, 100), buy("b", 4, 100))
    [trade] = taker.trades
    assert (trade.buy_remaining, trade.sell_remaining) == (0, 6)


def test_quantity_is_filled_plus_remaining_through_the_life_of_an_order() -> None:
    venue = make_venue()
    resting = play(venue, sell("a", 10, 100))[0].order
    assert resting is not None
    for n in range(3):
        play(venue, buy("b", 3, 100), start=10 + n)
        assert resting.quantity == resting.filled + resting.remaining
    assert resting.status is OrderStatus.PARTIALLY_FILLED
    play(venue, buy("b", 1, 100), start=20)
    assert status_of(resting) is OrderStatus.FILLED and resting.remaining == 0


def test_trade_ids_rise_across_instruments() -> None:
    venue = make_venue()
    results = play(
        venue, sell("a", 1, 100), buy("b", 1, 100), sell("a", 1, 10, inst="SPY"),
        buy("b", 1, 10, inst="SPY"),
    )  # fmt: skip
    ids = [t.trade_id for r in results for t in r.trades]
    assert ids == sorted(ids) and len(set(ids)) == 2


def test_last_price_follows_trades() -> None:
    venue = make_venue()
    play(venue, sell("a", 1, 100), sell("a", 1, 101), buy("b", 2, 101))
    assert venue.last_price[SPX] == px(101)


def test_book_is_never_crossed_after_continuous_matching() -> None:
    venue = make_venue()
    play(venue, buy("a", 5, 100), sell("b", 3, 99), buy("c", 9, 101), sell("d", 20, 100))
    assert not venue.books[SPX].is_crossed()


def status_of(order: Order) -> OrderStatus:
    """Read afresh (the venue fills the order in place between two reads)."""
    return order.status
