"""The organiser's controls as the venue applies them: a suspended game, a halted book, a
disabled team. Each refuses new orders only; what rests can always be cancelled."""

from __future__ import annotations

from exchange.domain.types import Phase, TeamId, TimeNs

from .support import SPX, SPY, buy, cancel, make_venue, play, play_quote, quote, sell

T = TimeNs(50)


def test_a_suspended_venue_refuses_orders_and_quotes_with_its_code_but_takes_cancels() -> None:
    venue = make_venue()
    [resting] = play(venue, buy("a", 5, 100))
    venue.suspended = ("GAME_PAUSED", "paused")
    [refused] = play(venue, sell("b", 5, 100))
    assert (refused.error_code, refused.error_message) == ("GAME_PAUSED", "paused")
    assert play_quote(venue, quote("m", 99, 10, 101, 10)).error_code == "GAME_PAUSED"
    assert len(venue.books[SPX]) == 1  # nothing traded, nothing added
    assert venue.cancel_order(cancel("a", resting.order.order_id), T).accepted  # type: ignore[union-attr]
    venue.suspended = None
    assert play(venue, buy("a", 1, 100))[0].accepted


def test_a_halted_book_refuses_new_orders_while_others_trade() -> None:
    venue = make_venue()
    [resting] = play(venue, buy("a", 5, 100))
    venue.halted.add(SPX)
    [refused] = play(venue, sell("b", 5, 100))
    assert refused.error_code == "INSTRUMENT_HALTED" and "SPX" in (refused.error_message or "")
    assert len(venue.books[SPX]) == 1
    assert play(venue, buy("a", 1, 10, inst=SPY))[0].accepted
    assert venue.cancel_order(cancel("a", resting.order.order_id), T).accepted  # type: ignore[union-attr]
    venue.halted.discard(SPX)
    assert play(venue, buy("a", 1, 100))[0].accepted


def test_a_halted_book_is_not_uncrossed_until_it_re_enters_its_phase() -> None:
    venue = make_venue(Phase.PRE_OPEN)
    play(venue, buy("a", 5, 101), sell("b", 5, 99))  # crossed, as pre-open allows
    venue.halted.add(SPX)
    assert venue.set_phase(Phase.OPENING_AUCTION, T).trades == []
    assert venue.books[SPX].is_crossed()
    venue.halted.discard(SPX)
    resumed = venue.enter_phase(SPX, venue.phase, TimeNs(60))
    assert [t.quantity for t in resumed.trades] == [5]
    assert not venue.books[SPX].is_crossed()


def test_a_disabled_team_is_refused_and_no_one_else() -> None:
    venue = make_venue()
    venue.barred.add(TeamId("a"))
    [refused] = play(venue, buy("a", 5, 100))
    assert refused.error_code == "TEAM_DISABLED"
    assert play_quote(venue, quote("a", 99, 10, 101, 10)).error_code == "TEAM_DISABLED"
    assert play(venue, buy("b", 5, 100))[0].accepted


def test_delisting_a_halted_book_forgets_the_halt() -> None:
    venue = make_venue()
    venue.halted.add(SPY)
    venue.delist(SPY)
    assert venue.halted == set()
