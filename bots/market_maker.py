"""A market maker that quotes the option chain near the money around fair value.

What it does, each snapshot in `CONTINUOUS`:
- picks its instruments: the calls and puts of the `levels` strikes nearest each
  underlying's spot, in the nearest `expiries` expiries (3 x 2 x 1 x 2 = 12 books by
  default: few enough to keep quoted within 10 orders a second and the 200 total limit);
- quotes each around its fair value (the book's mid without a model) with a spread of
  `width` of the value (at least 2 x `min_half_spread` ticks), `size` a side;
- skews both prices against inventory: long, it quotes lower (to sell), short, higher;
- steps back from the side that adds inventory: moved out by half a spread once the
  position passes `back_off_at`, withdrawn when a fill could pass `max_position`; then it
  sends a one-sided limit order on the reducing side instead of a quote;
- requotes where the quote would move `requote_ticks` or more, or a fill took some of
  it, at most `max_quotes_per_step` per snapshot (the role may send 10 orders a second);
- pulls all its quotes when news breaks, and quotes again at the next snapshot's values;
- keeps its delta near zero with SPX (the role may trade the underlyings): past
  `hedge_threshold` units of SPX either way it trades SPX back toward zero, holding at
  most `max_underlying`, one hedge at a time (`bots.hedging`); `hedge_threshold=None`
  leaves the delta alone;
- when the exchange refuses its latest request in a book, pulls what rests there and
  forgets the book, so the next snapshot quotes it afresh (a refused quote leaves the
  previous one resting).

Deterministic: no clock but the snapshot's, no randomness. Run it against the demo:

    python -m bots.market_maker --url http://127.0.0.1:8000
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

from bots.chain import Listing, expiries, near_the_money, spot_of, today, value_of
from bots.cli import run_strategy
from bots.hedging import Hedger
from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll, CancelOrder, NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, MarketSnapshot, News, Rejection, Strategy
from exchange.domain.types import InstrumentId, Phase, Role, Side, TeamId, Ticks, TimeNs

MAX_ORDER = 1000
"""The role's largest order (SPEC section 3)."""
FAR = 10**9
"""How far a side that appears or disappears counts as having moved."""


class Quote(NamedTuple):
    """What the maker shows in one book; a side with quantity 0 is not shown."""

    bid: Ticks
    bid_quantity: int
    ask: Ticks
    ask_quantity: int

    @property
    def two_sided(self) -> bool:
        return self.bid_quantity > 0 and self.ask_quantity > 0


class MarketMaker(Strategy):
    def __init__(
        self,
        *,
        levels: int = 3,
        expiries: int = 1,
        width: float = 0.02,
        size: int = 10,
        min_half_spread: int = 1,
        skew: float = 1.0,
        max_position: int = 50,
        back_off_at: int = 30,
        max_portfolio: int = 200,
        requote_ticks: int = 2,
        max_quotes_per_step: int = 8,
        max_spread_pct: float = 9.0,
        hedge_threshold: float | None = 200.0,
        max_underlying: int = 5000,
        hedge_cooldown_seconds: float = 60.0,
    ) -> None:
        if levels < 1 or expiries < 1 or size < 1 or max_quotes_per_step < 1:
            raise ValueError("levels, expiries, size and max_quotes_per_step must be >= 1")
        if not 0 < width * 100 <= max_spread_pct:
            raise ValueError(f"width must be in (0, {max_spread_pct / 100}]")
        self.levels, self.expiries, self.width, self.size = levels, expiries, width, size
        self.min_half, self.skew = min_half_spread, skew
        self.max_position, self.back_off_at = max_position, back_off_at
        self.max_portfolio, self.requote_ticks = max_portfolio, requote_ticks
        self.max_quotes, self.max_spread_pct = max_quotes_per_step, max_spread_pct
        self.new_hedger = (
            None
            if hedge_threshold is None
            else functools.partial(
                Hedger, "SPX", hedge_threshold, max_underlying, MAX_ORDER, hedge_cooldown_seconds
            )
        )
        self._reset()

    def _reset(self, instruments: Sequence[Instrument] = ()) -> None:
        self.listing = Listing(instruments)
        self.positions: dict[InstrumentId, int] = {}
        self.shown: dict[InstrumentId, Quote] = {}
        """What the maker last asked to show in each book."""
        self.stale: set[InstrumentId] = set()
        """Books where a fill took some of the quote: requote first."""
        self.sent: dict[InstrumentId, Action] = {}
        """The latest order or quote sent to each book, to recognise its refusal."""
        self.exposure: int | None = None
        """The worst case summed over every book, while `on_market` prices the quotes it
        wants (nothing it sums changes meanwhile); None: sum it afresh."""
        self.hedger = None if self.new_hedger is None else self.new_hedger()

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        super().on_start(team_id, role, instruments)
        self._reset(instruments)

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]:
        if phase is not Phase.CONTINUOUS:
            self.shown.clear()  # the close cancels every resting order
        return ()

    def on_news(self, news: News) -> Sequence[Action]:
        """Pull every quote: a headline may move the price or the volatility, and a quote
        left at the old fair value is what others trade against first."""
        if not self.shown:
            return ()
        self.shown.clear()
        self.stale.clear()
        return [CancelAll(self.team_id)]

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.positions[fill.instrument_id] = fill.position_after
        if self.hedger is not None:
            self.hedger.landed(fill)
        self.stale.add(fill.instrument_id)
        return ()

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        action = rejection.action
        if isinstance(action, CancelAll | CancelOrder):
            return ()
        if self.sent.get(action.instrument_id) != action:
            return ()  # an older request: a newer one is on its way
        del self.sent[action.instrument_id]
        self.shown.pop(action.instrument_id, None)
        return [CancelAll(self.team_id, action.instrument_id)]

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS:
            self.shown.clear()
            return ()
        self.listing.learn(snapshot)
        books = self.books(snapshot)
        out: list[Action] = []
        for gone in sorted(self.shown.keys() - set(books)):
            out.append(CancelAll(self.team_id, gone))
            del self.shown[gone]
        self.exposure = sum(self._worst(i) for i in self.shown.keys() | self.positions.keys())
        try:
            wanted = {i: self.quote_for(snapshot, i) for i in books}
        finally:
            self.exposure = None
        changed = [i for i, q in wanted.items() if self._should_requote(i, q)]
        changed.sort(key=lambda i: (i in self.shown and i not in self.stale,
                                    -self._moved(i, wanted[i]), i))  # fmt: skip
        hedge = self._hedge(snapshot)
        for instrument_id in changed[: self.max_quotes - len(hedge) // 2]:
            # Priced again now: the quotes shown just before used up some of the budget.
            out.extend(self._show(instrument_id, self.quote_for(snapshot, instrument_id)))
        return out + hedge

    def _hedge(self, snapshot: MarketSnapshot) -> list[Action]:
        if self.hedger is None:
            return []
        return self.hedger.orders(self.team_id, snapshot, self.positions, self.listing)

    def books(self, snapshot: MarketSnapshot) -> list[InstrumentId]:
        """The options to quote: nearest strikes and expiries, for every underlying."""
        day = today(snapshot.now_ns)
        chosen: list[InstrumentId] = []
        underlyings = sorted({i.underlying for i in self.listing.by_id.values() if i.is_option})
        for underlying in underlyings:
            spot = spot_of(snapshot, underlying)
            options = self.listing.options(underlying)
            if spot is None:
                continue
            for expiry in expiries(options, day)[: self.expiries]:
                near = near_the_money(options, expiry, spot, self.levels)
                chosen.extend(o.id for o in near if o.id in snapshot.tops)
        return chosen

    def quote_for(self, snapshot: MarketSnapshot, instrument_id: InstrumentId) -> Quote | None:
        """Prices around value, skewed and stepped back by inventory; None: show nothing."""
        value = value_of(snapshot, instrument_id)
        if value is None:
            return None
        half = max(self.min_half, round(value * self.width / 2))
        position = self.positions.get(instrument_id, 0)
        centre = value - round(self.skew * half * position / self.max_position)
        bid, ask = centre - half, centre + half
        if position >= self.back_off_at:
            bid -= half
        if position <= -self.back_off_at:
            ask += half
        if bid < 1 or (ask - bid) * 200 > self.max_spread_pct * (bid + ask):
            return None  # too cheap an option to quote inside the spread rule
        bid_qty, ask_qty = self._sizes(instrument_id, position)
        if bid_qty == ask_qty == 0:
            return None
        return Quote(Ticks(bid), bid_qty, Ticks(ask), ask_qty)

    def _sizes(self, instrument_id: InstrumentId, position: int) -> tuple[int, int]:
        """A side is shown only if, filled in full, it keeps the position within
        `max_position` and the worst case over all books within `max_portfolio`."""
        bid_qty = self.size if position + self.size <= self.max_position else 0
        ask_qty = self.size if position - self.size >= -self.max_position else 0
        if self.exposure is not None:  # the same sum, less this book's (0 if not in it)
            others = self.exposure - self._worst(instrument_id)
        else:
            others = sum(self._worst(i) for i in self.shown.keys() | self.positions.keys()
                         if i != instrument_id)  # fmt: skip
        if others + max(abs(position + bid_qty), abs(position - ask_qty)) > self.max_portfolio:
            # Only the side that reduces the position, sized not to flip it.
            reduce = min(self.size, abs(position))
            return (reduce, 0) if position < 0 else (0, reduce)
        return bid_qty, ask_qty

    def _worst(self, instrument_id: InstrumentId) -> int:
        position = self.positions.get(instrument_id, 0)
        shown = self.shown.get(instrument_id)
        if shown is None:
            return abs(position)
        return max(abs(position + shown.bid_quantity), abs(position - shown.ask_quantity))

    def _should_requote(self, instrument_id: InstrumentId, wanted: Quote | None) -> bool:
        shown = self.shown.get(instrument_id)
        if wanted is None:
            return shown is not None
        if shown is None or instrument_id in self.stale:
            return True
        return self._moved(instrument_id, wanted) >= self.requote_ticks

    def _moved(self, instrument_id: InstrumentId, wanted: Quote | None) -> int:
        shown = self.shown.get(instrument_id)
        if shown is None or wanted is None:
            return FAR
        if (shown.bid_quantity, shown.ask_quantity) != (wanted.bid_quantity, wanted.ask_quantity):
            return FAR
        return max(abs(shown.bid - wanted.bid), abs(shown.ask - wanted.ask))

    def _show(self, instrument_id: InstrumentId, wanted: Quote | None) -> list[Action]:
        """The requests that replace what the book shows with `wanted`."""
        shown = self.shown.pop(instrument_id, None)
        self.stale.discard(instrument_id)
        team = self.team_id
        if wanted is None:
            return [] if shown is None else [CancelAll(team, instrument_id)]
        self.shown[instrument_id] = wanted
        if wanted.two_sided:
            # A quote replaces a quote, not a plain order: clear a one-sided order first.
            first: list[Action] = (
                [] if shown is None or shown.two_sided else [CancelAll(team, instrument_id)]
            )
            request: Action = NewQuote(team, instrument_id, wanted.bid, wanted.bid_quantity,
                                       wanted.ask, wanted.ask_quantity)  # fmt: skip
            self.sent[instrument_id] = request
            return [*first, request]
        side = Side.BUY if wanted.bid_quantity else Side.SELL
        price = wanted.bid if side is Side.BUY else wanted.ask
        quantity = wanted.bid_quantity or wanted.ask_quantity
        request = NewOrder(team, instrument_id, side, quantity, price)
        self.sent[instrument_id] = request
        return [CancelAll(team, instrument_id), request]


def main(argv: Sequence[str] | None = None) -> int:
    return run_strategy("market_maker", MarketMaker, "market_maker", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
