"""The example market maker on hand-built snapshots: which books it quotes, the quote's
shape (SPEC section 3), skew against inventory, stepping back near the limit."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bots.market_maker import MarketMaker
from exchange.domain.orders import CancelAll, NewOrder, NewQuote
from exchange.domain.strategy import Action, News, Rejection
from exchange.domain.types import InstrumentId, Phase, Role, Side
from tests.bots.support import CHAIN, NOW, SPX, TEAM, fill, market

ATM_CALL = InstrumentId("SPX_CALL_4400_20261204")


def started(**params: object) -> MarketMaker:
    maker = MarketMaker(**params)  # type: ignore[arg-type]
    maker.on_start(TEAM, Role.MARKET_MAKER, CHAIN)
    return maker


def quotes(actions: Sequence[Action]) -> dict[InstrumentId, NewQuote]:
    return {a.instrument_id: a for a in actions if isinstance(a, NewQuote)}


def test_picks_the_nearest_strikes_of_the_nearest_expiry_both_kinds_both_underlyings() -> None:
    maker = started(levels=3)
    assert set(maker.books(market())) == {
        InstrumentId(f"{u}_{k}_{s}_20261204")
        for u, strikes in (("SPX", (4290, 4400, 4510)), ("SPY", (429, 440, 451)))
        for s in strikes
        for k in ("CALL", "PUT")
    }


def test_quotes_every_book_it_picked_but_those_too_cheap_for_the_spread_rule() -> None:
    snapshot = market()
    maker = started(max_quotes_per_step=20)
    books = maker.books(snapshot)
    shown = quotes(maker.on_market(snapshot))
    skipped = set(books) - set(shown)
    assert set(shown) <= set(books) and len(shown) >= 10
    # Two ticks of spread (the least) are more than 9% of a mid under 0.23.
    assert all(snapshot.fair[i] < 23 for i in skipped)
    cheap = market(spx=4300.0, spy=430.0)  # the 4510 call is worth less now
    assert started().quote_for(cheap, InstrumentId("SPX_CALL_5060_20261204")) is None


def test_quotes_fit_the_quote_rules_and_sit_around_fair_value() -> None:
    snapshot = market()
    shown = quotes(started(max_quotes_per_step=20).on_market(snapshot))
    for instrument_id, q in shown.items():
        mid = (q.bid_price + q.ask_price) / 2
        assert q.ask_price - q.bid_price <= 0.10 * mid
        assert q.bid_quantity >= 10 and q.ask_quantity >= 10
        assert q.bid_price < snapshot.fair[instrument_id] < q.ask_price
        assert q.team_id == TEAM


def test_at_most_max_quotes_per_step_then_the_rest_next_step() -> None:
    total = len(quotes(started(max_quotes_per_step=20).on_market(market())))
    maker = started(max_quotes_per_step=4)
    first = quotes(maker.on_market(market()))
    second = quotes(maker.on_market(market()))
    third = quotes(maker.on_market(market()))
    assert (len(first), len(second), len(third)) == (4, 4, total - 8)
    assert not set(first) & set(second) and not set(second) & set(third)
    assert quotes(maker.on_market(market())) == {}  # nothing moved: nothing to send


def test_long_inventory_skews_both_prices_down_short_skews_them_up() -> None:
    flat = quotes(started(max_quotes_per_step=20).on_market(market()))[ATM_CALL]
    for position, lower in ((20, True), (-20, False)):
        maker = started(max_quotes_per_step=20)
        maker.on_market(market())
        maker.on_fill(fill(ATM_CALL, Side.BUY if position > 0 else Side.SELL, 20, position))
        skewed = quotes(maker.on_market(market()))[ATM_CALL]
        moved = (skewed.bid_price - flat.bid_price, skewed.ask_price - flat.ask_price)
        assert all(m < 0 for m in moved) if lower else all(m > 0 for m in moved)


def test_steps_back_from_the_bid_past_back_off_and_withdraws_it_near_the_limit() -> None:
    flat = quotes(started(max_quotes_per_step=20).on_market(market()))[ATM_CALL]
    maker = started(max_quotes_per_step=20, back_off_at=30)
    maker.on_market(market())
    maker.on_fill(fill(ATM_CALL, Side.BUY, 32, 32))
    backed = quotes(maker.on_market(market()))[ATM_CALL]
    assert flat.bid_price - backed.bid_price > flat.ask_price - backed.ask_price > 0
    maker.on_fill(fill(ATM_CALL, Side.BUY, 13, 45))
    actions = [a for a in maker.on_market(market()) if getattr(a, "instrument_id", "") == ATM_CALL]
    assert actions[0] == CancelAll(TEAM, ATM_CALL)
    (order,) = actions[1:]
    assert isinstance(order, NewOrder)
    assert (order.side, order.quantity) == (Side.SELL, 10)  # only the side that reduces


def test_short_near_the_limit_only_bids() -> None:
    maker = started(max_quotes_per_step=20)
    maker.on_market(market())
    maker.on_fill(fill(ATM_CALL, Side.SELL, 48, -48))
    (order,) = [a for a in maker.on_market(market())
                if isinstance(a, NewOrder) and a.instrument_id == ATM_CALL]  # fmt: skip
    assert (order.side, order.quantity) == (Side.BUY, 10)


def test_never_shows_more_than_the_total_option_limit_in_the_worst_case() -> None:
    maker = started(max_quotes_per_step=20, max_portfolio=100)
    shown = quotes(maker.on_market(market()))
    worst = sum(max(q.bid_quantity, q.ask_quantity) for q in shown.values())
    assert worst <= 100 and len(shown) == 10


def test_a_fill_requotes_that_book_first() -> None:
    maker = started(max_quotes_per_step=20)
    maker.on_market(market())
    maker.on_fill(fill(ATM_CALL, Side.BUY, 1, 1))
    again = maker.on_market(market())
    assert [getattr(a, "instrument_id", None) for a in again] == [ATM_CALL]


def test_quiet_outside_continuous_and_requotes_everything_after() -> None:
    maker = started(max_quotes_per_step=20)
    first = quotes(maker.on_market(market()))
    assert maker.on_market(market(phase=Phase.CLOSED)) == ()
    assert quotes(maker.on_market(market())) == first


def test_the_same_inputs_give_the_same_actions() -> None:
    runs = []
    for _ in range(2):
        maker = started()
        out = list(maker.on_market(market()))
        maker.on_fill(fill(ATM_CALL, Side.SELL, 10, -10))
        out += maker.on_market(market(spx=4410.0, spy=441.2))
        runs.append(out)
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize("params", [{"levels": 0}, {"width": 0.2}, {"size": 0}])
def test_bad_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MarketMaker(**params)  # type: ignore[arg-type]


def test_news_pulls_every_quote_and_the_next_snapshot_quotes_again() -> None:
    maker = started(max_quotes_per_step=20)
    first = quotes(maker.on_market(market()))
    assert maker.on_news(News(NOW, "Fed hints at tightening")) == [CancelAll(TEAM)]
    assert maker.on_news(News(NOW, "No major news today")) == ()  # nothing left to pull
    assert quotes(maker.on_market(market())) == first


def test_a_refused_quote_is_pulled_and_quoted_afresh_next_snapshot() -> None:
    maker = started(max_quotes_per_step=20)
    first = quotes(maker.on_market(market()))
    refused = Rejection(NOW, first[ATM_CALL], "PORTFOLIO_LIMIT_EXCEEDED", "too much")
    assert maker.on_reject(refused) == [CancelAll(TEAM, ATM_CALL)]
    assert maker.on_reject(refused) == ()  # already forgotten
    again = maker.on_market(market())
    assert [getattr(a, "instrument_id", None) for a in again] == [ATM_CALL]
    assert quotes(again)[ATM_CALL] == first[ATM_CALL]


def test_the_refusal_of_an_older_request_changes_nothing() -> None:
    maker = started(max_quotes_per_step=20)
    old = quotes(maker.on_market(market()))[ATM_CALL]
    maker.on_fill(fill(ATM_CALL, Side.BUY, 10, 10))  # requoted lower: a newer quote
    newer = quotes(maker.on_market(market()))[ATM_CALL]
    assert newer != old
    assert maker.on_reject(Rejection(NOW, old, "RATE_LIMITED", "slow down")) == ()
    assert maker.on_reject(Rejection(NOW, CancelAll(TEAM), "MARKET_CLOSED", "closed")) == ()
    assert maker.on_market(market()) == []  # the newer quote still stands


def test_delta_past_the_threshold_is_hedged_with_spx_within_the_step_s_budget() -> None:
    maker = started(max_quotes_per_step=8, hedge_threshold=100)
    snapshot = market()
    maker.on_market(snapshot)
    maker.on_fill(fill(ATM_CALL, Side.SELL, 10, -10))  # about -10 x 0.5 x 100 = -500
    out = maker.on_market(snapshot)
    (hedge,) = [a for a in out if isinstance(a, NewOrder) and a.instrument_id == SPX]
    assert (hedge.side, hedge.quantity) == (Side.BUY, round(10 * snapshot.delta[ATM_CALL] * 100))
    assert out[-2:] == [CancelAll(TEAM, SPX), hedge]  # after the quotes, in the rate
    assert len(out) <= 10


def test_no_hedge_below_the_threshold_or_when_switched_off() -> None:
    for params in ({"hedge_threshold": 1000}, {"hedge_threshold": None}):
        maker = started(**params)
        maker.on_market(market())
        maker.on_fill(fill(ATM_CALL, Side.SELL, 10, -10))
        assert not [a for a in maker.on_market(market()) if getattr(a, "instrument_id", "") == SPX]


def test_the_listing_sees_a_new_weekly_after_it_sorted_the_old_ones() -> None:
    from bots.chain import Listing
    from tests.bots.support import CHAIN, market

    newest = max((i for i in CHAIN if i.is_option), key=lambda i: (i.expiry, i.id))
    listing = Listing([i for i in CHAIN if i.expiry != newest.expiry])
    before = listing.options(newest.underlying)
    assert newest not in before and before == sorted(before, key=lambda i: i.id)
    before.clear()  # a caller's copy: the listing keeps its own
    listing.learn(market())
    after = listing.options(newest.underlying)
    assert newest in after and after == sorted(after, key=lambda i: i.id)
    assert len(after) > len([o for o in after if o.expiry == newest.expiry])
