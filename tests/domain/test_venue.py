"""The venue's requests: sanity checks, cancels, cancel-all, market maker quotes."""

from __future__ import annotations

import pytest

from exchange.domain.orders import NewOrder
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderStatus,
    OrderType,
    Phase,
    Side,
    TeamId,
    TimeNs,
)

from .support import CALL, SPX, SPY, buy, cancel, make_venue, play, play_quote, px, quote, sell

T = TimeNs(50)


def snapshot(venue) -> tuple[object, ...]:
    return tuple((i, b.depth(10), len(b)) for i, b in venue.books.items())


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (buy("a", 1, 100, inst="SPX_CALL_9999_20261204"), "INVALID_INSTRUMENT"),
        (buy("a", 0, 100), "INVALID_QUANTITY"),
        (sell("a", -5, 100), "INVALID_QUANTITY"),
        (NewOrder(TeamId("a"), SPX, Side.BUY, 1, None, OrderType.LIMIT), "INVALID_PRICE"),
        (NewOrder(TeamId("a"), SPX, Side.BUY, 1, px(1), OrderType.MARKET), "INVALID_PRICE"),
        (buy("a", 1, "-1.00"), "INVALID_PRICE"),
        (buy("a", 1, 0), "INVALID_PRICE"),
        (
            NewOrder(TeamId("a"), SPX, Side.BUY, 1, px(1), OrderType.QUOTE),
            "ORDER_TYPE_NOT_ALLOWED",
        ),
    ],
)
def test_unsound_order_is_rejected_and_changes_nothing(request_: NewOrder, code: str) -> None:
    venue = make_venue()
    play(venue, sell("m", 5, 100), buy("m", 5, 99))
    before = snapshot(venue)
    result = venue.submit_order(request_, T)
    assert result.status is OrderStatus.REJECTED and result.error_code == code
    assert result.error_message and result.order is None
    assert snapshot(venue) == before


def test_orders_are_refused_while_closed() -> None:
    venue = make_venue(Phase.CLOSED)
    [result] = play(venue, buy("a", 1, 100))
    assert result.error_code == "MARKET_CLOSED"


def test_cancel_own_order_takes_it_off_the_book() -> None:
    venue = make_venue()
    [placed] = play(venue, buy("a", 5, 100))
    result = venue.cancel_order(cancel("a", placed.order_id), T)
    assert result.status is OrderStatus.CANCELLED
    [event] = result.cancels
    assert (event.reason, event.quantity) == (CancelReason.USER, 5)
    assert len(venue.books[SPX]) == 0 and venue.open_orders(TeamId("a")) == []


def test_cancel_twice_is_order_not_found() -> None:
    venue = make_venue()
    [placed] = play(venue, buy("a", 5, 100))
    venue.cancel_order(cancel("a", placed.order_id), T)
    assert venue.cancel_order(cancel("a", placed.order_id), T).error_code == "ORDER_NOT_FOUND"


def test_cancel_of_another_teams_order_is_not_found_and_order_stays() -> None:
    venue = make_venue()
    [placed] = play(venue, buy("a", 5, 100))
    assert venue.cancel_order(cancel("b", placed.order_id), T).error_code == "ORDER_NOT_FOUND"
    assert venue.books[SPX].best_bid() == px(100)


def test_cancel_of_filled_order_is_not_found() -> None:
    venue = make_venue()
    placed, _ = play(venue, buy("a", 5, 100), sell("b", 5, 100))
    assert venue.cancel_order(cancel("a", placed.order_id), T).error_code == "ORDER_NOT_FOUND"


def test_cancel_of_partly_filled_order_cancels_the_rest() -> None:
    venue = make_venue()
    placed, _ = play(venue, buy("a", 5, 100), sell("b", 2, 100))
    [event] = venue.cancel_order(cancel("a", placed.order_id), T).cancels
    assert (event.quantity, event.filled) == (3, 2)


def test_cancel_all_cancels_every_order_of_the_team_only() -> None:
    venue = make_venue()
    play(venue, buy("a", 1, 100), sell("a", 1, 10, inst="SPY"), buy("b", 1, 99))
    events = venue.cancel_all(TeamId("a"), T)
    assert {e.instrument_id for e in events} == {SPX, SPY}
    assert venue.open_orders(TeamId("a")) == []
    assert len(venue.open_orders(TeamId("b"))) == 1


def test_cancel_all_in_one_instrument() -> None:
    venue = make_venue()
    play(venue, buy("a", 1, 100), sell("a", 1, 10, inst="SPY"))
    [event] = venue.cancel_all(TeamId("a"), T, SPY)
    assert event.instrument_id == SPY
    assert [o.instrument_id for o in venue.open_orders(TeamId("a"))] == [SPX]


def test_open_orders_are_oldest_first_and_exclude_filled_ones() -> None:
    venue = make_venue()
    first, _filled, third, _ = play(
        venue, buy("a", 1, 99), sell("a", 1, 105), buy("a", 1, 98), buy("b", 1, 105)
    )
    assert [o.order_id for o in venue.open_orders(TeamId("a"))] == [
        first.order_id,
        third.order_id,
    ]


def test_open_quantity_counts_resting_remainders_per_side() -> None:
    venue = make_venue()
    play(venue, buy("a", 5, 99), buy("a", 3, 98), sell("a", 4, 105), buy("b", 2, 105))
    assert venue.open_quantity(TeamId("a"), SPX) == (8, 2)


def test_quote_places_a_bid_and_an_ask() -> None:
    venue = make_venue()
    result = play_quote(venue, quote("mm", 99, 10, 101, 12, inst=CALL.id))
    assert result.accepted and result.bid and result.ask
    book = venue.books[CALL.id]
    assert (book.best_bid(), book.best_ask()) == (px(99), px(101))
    assert result.bid.order_type is OrderType.QUOTE


def test_new_quote_replaces_the_previous_one() -> None:
    venue = make_venue()
    first = play_quote(venue, quote("mm", 99, 10, 101, 10))
    second = play_quote(venue, quote("mm", 98, 20, 102, 20), now=200)
    assert {e.reason for e in second.cancels} == {CancelReason.REPLACED}
    assert {e.order_id for e in second.cancels} == {first.bid.order_id, first.ask.order_id}  # type: ignore[union-attr]
    bids, asks = venue.books[SPX].depth()
    assert [(lv.price, lv.quantity) for lv in bids] == [(px(98), 20)]
    assert [(lv.price, lv.quantity) for lv in asks] == [(px(102), 20)]


def test_quote_replacement_cancels_only_what_is_left_of_a_filled_leg() -> None:
    venue = make_venue()
    play_quote(venue, quote("mm", 99, 10, 101, 10))
    play(venue, buy("b", 10, 101), sell("b", 4, 99), start=150)
    second = play_quote(venue, quote("mm", 98, 10, 102, 10), now=200)
    assert [(e.side, e.quantity) for e in second.cancels] == [(Side.BUY, 6)]


def test_quote_replacement_leaves_other_instruments_alone() -> None:
    venue = make_venue()
    play_quote(venue, quote("mm", 99, 10, 101, 10))
    play_quote(venue, quote("mm", 9, 10, 11, 10, inst=SPY))
    result = play_quote(venue, quote("mm", 98, 10, 102, 10), now=300)
    assert all(e.instrument_id == SPX for e in result.cancels)
    assert len(venue.books[SPY]) == 2


def test_quote_with_bid_not_below_ask_is_rejected() -> None:
    venue = make_venue()
    result = play_quote(venue, quote("mm", 101, 10, 101, 10))
    assert result.status is OrderStatus.REJECTED and result.error_code == "INVALID_QUOTE"
    assert len(venue.books[SPX]) == 0


def test_quote_that_crosses_the_book_trades_as_taker() -> None:
    venue = make_venue()
    play(venue, sell("b", 5, 100))
    result = play_quote(venue, quote("mm", 100, 10, 103, 10))
    [trade] = result.trades
    assert (trade.buyer, trade.price, trade.aggressor) == ("mm", px(100), Side.BUY)
    assert venue.books[SPX].best_bid() == px(100)
    assert venue.books[SPX].depth()[0][0].quantity == 5


def test_rejected_quote_keeps_the_previous_quote() -> None:
    venue = make_venue()
    play_quote(venue, quote("mm", 99, 10, 101, 10))
    result = play_quote(venue, quote("mm", 99, 0, 101, 10), now=200)
    assert result.error_code == "INVALID_QUANTITY"
    assert len(venue.books[SPX]) == 2


def test_market_order_during_pre_open_is_refused() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    [result] = play(venue, buy("a", 1))
    assert result.error_code == "ORDER_TYPE_NOT_ALLOWED"


def test_unknown_instrument_in_cancel_all_cancels_nothing() -> None:
    venue = make_venue()
    play(venue, buy("a", 1, 100))
    assert venue.cancel_all(TeamId("a"), T, InstrumentId("NOPE")) == []


def test_expire_cancels_what_rests_and_closes_the_book() -> None:
    venue = make_venue()
    play(venue, buy("a", 3, 10, inst=CALL.id), sell("b", 1, 12, inst=CALL.id))
    events = venue.expire(CALL.id, T)
    assert {(e.team_id, e.reason) for e in events} == {
        ("a", CancelReason.EXPIRED),
        ("b", CancelReason.EXPIRED),
    }
    assert play(venue, buy("a", 1, 10, inst=CALL.id))[0].error_code == "MARKET_CLOSED"
    venue.delist(CALL.id)
    assert CALL.id not in venue.instruments and CALL.id not in venue.books
    assert play(venue, buy("a", 1, 10, inst=CALL.id))[0].error_code == "INVALID_INSTRUMENT"


def test_a_newly_listed_instrument_trades_at_once() -> None:
    from exchange.domain.instruments import make_option
    from exchange.domain.types import OptionKind

    venue = make_venue()
    weekly = make_option("SPX", OptionKind.PUT, px(4000), CALL.expiry)  # type: ignore[arg-type]
    assert venue.list_instruments([weekly, weekly]) == [weekly]
    _, taker = play(venue, sell("a", 2, 5, inst=weekly.id), buy("b", 2, 5, inst=weekly.id))
    assert taker.trades[0].quantity == 2
