"""The opening auction: one price maximising volume, ties, fair random allocation."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from exchange.domain.types import Phase, TeamId, TimeNs
from exchange.domain.uncross import clearing_price

from .support import SPX, buy, cancel, make_venue, play, px, sell


def auction(venue, *orders):
    play(venue, *orders)
    return venue.set_phase(Phase.OPENING_AUCTION, TimeNs(1_000))


def test_pre_open_orders_rest_and_may_cross_without_trading() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    results = play(venue, buy("a", 10, 101), sell("b", 10, 99))
    assert all(r.trades == [] for r in results)
    assert venue.books[SPX].is_crossed()


def test_auction_clears_every_crossing_order_at_one_price() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    change = auction(
        venue, buy("a", 10, 102), buy("b", 10, 101), sell("c", 5, 99), sell("d", 10, 100),
        sell("e", 10, 103),
    )  # fmt: skip
    # 100 and 101 both clear 15 with imbalance 5; with no reference the lower wins.
    assert {t.price for t in change.trades} == {px(100)}
    assert sum(t.quantity for t in change.trades) == 15
    assert all(t.aggressor is None for t in change.trades)


def test_auction_price_maximises_volume() -> None:
    # At 100: demand 20, supply 15 -> 15; at 101: demand 10, supply 15 -> 10.
    result = clearing_price([(px(101), 10), (px(100), 10)], [(px(99), 5), (px(100), 10)])
    assert result is not None and (result.price, result.volume) == (px(100), 15)


def test_volume_tie_goes_to_smallest_imbalance() -> None:
    # Volume 10 at 100 and at 101; imbalance 5 at 100, 0 at 101.
    result = clearing_price([(px(101), 10), (px(100), 5)], [(px(100), 10), (px(101), 0)])
    assert result is not None and result.price == px(101) and result.imbalance == 0


def test_volume_and_imbalance_tie_goes_to_price_nearest_reference() -> None:
    bids, asks = [(px(102), 10)], [(px(100), 10)]
    assert clearing_price(bids, asks, px(101.9)).price == px(102)  # type: ignore[union-attr]
    assert clearing_price(bids, asks, px(99)).price == px(100)  # type: ignore[union-attr]


def test_without_reference_a_full_tie_goes_to_the_lower_price() -> None:
    result = clearing_price([(px(102), 10)], [(px(100), 10)])
    assert result is not None and result.price == px(100)


def test_nothing_clears_when_the_book_does_not_cross() -> None:
    assert clearing_price([(px(99), 10)], [(px(100), 10)]) is None
    assert clearing_price([], [(px(100), 10)]) is None


def test_after_the_auction_the_book_is_uncrossed_and_the_rest_rests() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    auction(venue, buy("a", 10, 101), sell("b", 4, 100))
    book = venue.books[SPX]
    assert not book.is_crossed()
    assert [(lv.price, lv.quantity) for lv in book.depth()[0]] == [(px(101), 6)]


def test_better_priced_orders_fill_before_those_at_the_clearing_price() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    auction(venue, buy("low", 10, 100), buy("high", 10, 101), sell("s", 12, 100))
    filled = Counter[str]()
    for o in venue.open_orders(TeamId("low")):
        filled["low"] += o.filled
    assert filled["low"] == 2
    assert venue.open_orders(TeamId("high")) == []


def test_auction_uses_reference_price_for_ties() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    venue.reference_price[SPX] = px(102)
    change = auction(venue, buy("a", 10, 102), sell("b", 10, 100))
    assert change.trades[0].price == px(102)


def test_submits_and_cancels_are_refused_during_the_auction() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    [placed] = play(venue, buy("a", 1, 100))
    venue.set_phase(Phase.OPENING_AUCTION, TimeNs(10))
    assert play(venue, buy("a", 1, 100))[0].error_code == "MARKET_CLOSED"
    result = venue.cancel_order(cancel("a", placed.order_id), TimeNs(11))
    assert result.error_code == "MARKET_CLOSED"


def test_equal_priced_orders_win_about_equally_often_over_many_seeds() -> None:
    """Arrival order buys nothing in the auction: the first of four equal bids is filled
    a quarter of the time when only one of four can be."""
    wins = Counter[str]()
    runs = 2000
    for seed in range(runs):
        venue = make_venue(Phase.PRE_OPEN, seed=seed)
        bidders = ["a", "b", "c", "d"]
        auction(venue, *(buy(t, 5, 100) for t in bidders), sell("s", 5, 100))
        for t in bidders:
            if not venue.open_orders(TeamId(t)):
                wins[t] += 1
    assert sum(wins.values()) == runs
    for t in "abcd":
        # Binomial(2000, 1/4): mean 500, sd ~19.4; five sd either way.
        assert 403 < wins[t] < 597, wins


def test_same_seed_gives_the_same_allocation() -> None:
    def run(seed: int) -> list[tuple[str, int]]:
        venue = make_venue(Phase.PRE_OPEN, seed=seed)
        change = auction(venue, *(buy(t, 3, 100) for t in "abcdef"), sell("s", 7, 100))
        return [(t.buyer, t.quantity) for t in change.trades]

    assert run(11) == run(11)
    assert any(run(11) != run(s) for s in range(12, 20))


levels = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 50)), min_size=1, max_size=8)


@given(levels, levels, st.none() | st.integers(1, 40))
def test_clearing_price_maximises_volume_by_brute_force(bids, asks, ref) -> None:
    bid_levels = sorted(_merge(bids).items(), reverse=True)
    ask_levels = sorted(_merge(asks).items())
    result = clearing_price(bid_levels, ask_levels, ref)

    def volume(p: int) -> int:
        demand = sum(q for price, q in bid_levels if price >= p)
        supply = sum(q for price, q in ask_levels if price <= p)
        return min(demand, supply)

    best = max(volume(p) for p in range(0, 42))
    if best == 0:
        assert result is None
    else:
        assert result is not None and result.volume == best == volume(result.price)


def _merge(levels: list[tuple[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for price, qty in levels:
        out[price] = out.get(price, 0) + qty
    return out


def test_worked_example_of_the_phases_guide() -> None:
    """docs/trading-phases.md: clears 20 at 100.50, opens at 100.00 / 101.50."""
    venue = make_venue(Phase.PRE_OPEN)
    venue.reference_price[SPX] = px("100.40")
    change = auction(
        venue, buy("a", 10, "101"), buy("b", 10, "100.5"), buy("c", 5, "100"),
        sell("d", 5, "99.5"), sell("e", 10, "100"), sell("f", 5, "100.5"),
        sell("g", 10, "101.5"),
    )  # fmt: skip
    assert {t.price for t in change.trades} == {px("100.50")}
    assert sum(t.quantity for t in change.trades) == 20
    book = venue.books[SPX]
    assert (book.best_bid(), book.best_ask()) == (px(100), px("101.5"))
