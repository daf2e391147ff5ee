"""The venue: books, the matching engine of the current phase, and the phase itself.

`ExchangeVenue` is the single writer of its books. It checks only what keeps the books
sound (a listed instrument, a phase that accepts the request, a positive quantity and
price) and the organiser's controls (a suspended game, a halted book, a disabled team);
the role rules are the validator's (constraints.py), run before an order gets here.
Every call returns what happened (trades, cancels) and sends nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import msgspec
import numpy as np

from exchange.domain.auction import BatchMatchingEngine
from exchange.domain.book import OrderBook
from exchange.domain.instruments import Instrument
from exchange.domain.matching import ContinuousMatchingEngine, MatchingEngine
from exchange.domain.orders import (
    CancelOrder,
    Ids,
    NewOrder,
    NewQuote,
    Order,
    OrderCancelled,
    OrderResult,
    QuoteResult,
    Trade,
    cancelled_event,
    order_from,
    rejected,
)
from exchange.domain.phases import PHASE_RULES, Schedule, transitions
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderId,
    OrderStatus,
    OrderType,
    Phase,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)

BUY, SELL = Side.BUY, Side.SELL
QUOTE, MARKET = OrderType.QUOTE, OrderType.MARKET
CANCELLED = OrderStatus.CANCELLED
USER, NO_LIQUIDITY = CancelReason.USER, CancelReason.NO_LIQUIDITY


class PhaseChanged(msgspec.Struct, gc=False):
    """A phase change and what it did: the auction's trades, the close's cancels."""

    previous: Phase
    phase: Phase
    ts_ns: TimeNs
    trades: list[Trade] = msgspec.field(default_factory=list)
    cancels: list[OrderCancelled] = msgspec.field(default_factory=list)


class ExchangeVenue:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        rng: np.random.Generator,
        phase: Phase = Phase.CONTINUOUS,
        first_order_id: int = 1,
        first_trade_id: int = 1,
    ) -> None:
        self.instruments = {i.id: i for i in instruments}
        self.books = {i: OrderBook(i) for i in self.instruments}
        # One generator per book, drawn from the game's: a book's auction draws the same
        # numbers whatever order the server's matcher tasks happen to run in.
        self._rngs = {i: np.random.default_rng(rng.integers(2**63)) for i in self.instruments}
        self._listing_seed = int(rng.integers(2**63))
        """Books listed later draw from generators derived from this and their id."""
        self.phase = phase
        """The phase announced to the market; each book enters it in `enter_phase`."""
        self.book_phase = dict.fromkeys(self.instruments, phase)
        self.last_price: dict[InstrumentId, Ticks] = {}
        self.reference_price: dict[InstrumentId, Ticks] = {}
        """Set by the market (fair values); the auction's tie-break and the price band."""
        self._ids = Ids(first_order_id, first_trade_id)
        self._engines: dict[str, MatchingEngine] = {
            "continuous": ContinuousMatchingEngine(self._ids),
            "batch": BatchMatchingEngine(self._ids),
        }
        self._engine_in: dict[Phase, MatchingEngine] = {
            phase: self._engines[rules.matching]
            for phase, rules in PHASE_RULES.items()
            if rules.matching in self._engines
        }
        """The engine of each phase that matches (a closed book takes no order)."""
        self._team_orders: dict[TeamId, dict[OrderId, Order]] = {}
        self._open: dict[TeamId, dict[InstrumentId, list[int]]] = {}
        """Each team's resting [buy, sell] quantity per instrument, kept as orders change,
        so the validator reads a team's exposure without walking its orders."""
        self._quotes: dict[tuple[TeamId, InstrumentId], tuple[OrderId, ...]] = {}
        # The organiser's controls, set by the shell; each refuses new orders only, so a
        # team can always cancel what rests (a halt or a pause never traps an order).
        self.suspended: tuple[str, str] | None = None
        """While trading is suspended (game not started, paused, stopped): the error code
        and message every new order gets."""
        self.halted: set[InstrumentId] = set()
        """Halted books: no new orders and no uncrossing until resumed."""
        self.barred: set[TeamId] = set()
        """Disabled teams: their new orders are refused."""

    # -- requests ---------------------------------------------------------------------

    def resume_ids(self, order_id: int, trade_id: int) -> None:
        """Hand out ids from here on (a restart continues where the database ends)."""
        self._ids.resume(order_id, trade_id)

    def peek_order_id(self) -> int:
        """The next order id, without taking it."""
        return self._ids.peek()[0]

    def peek_trade_id(self) -> int:
        """The next trade id, without taking it."""
        return self._ids.peek()[1]

    def next_order_id(self) -> OrderId:
        """Reserve an order id ahead of `submit_order` (the server answers before matching)."""
        return next(self._ids.orders)

    def submit_order(
        self, request: NewOrder, now: TimeNs, order_id: OrderId | None = None
    ) -> OrderResult:
        """Match or rest a new order; a market order's unfilled rest is cancelled."""
        if request.order_type is QUOTE:
            return rejected("ORDER_TYPE_NOT_ALLOWED", "send quotes as quotes, not orders")
        problem = self.check_order(request)
        if problem is not None:
            return problem
        order = order_from(request, order_id or next(self._ids.orders), now)
        trades = self._match(order, now)
        if order.remaining and order.price is None:
            order.status = CANCELLED
            cancel = cancelled_event(order, NO_LIQUIDITY, now)
            return OrderResult(CANCELLED, order, trades, [cancel])
        return OrderResult(order.status, order, trades, [])

    def submit_quote(
        self, request: NewQuote, now: TimeNs, order_ids: tuple[OrderId, OrderId] | None = None
    ) -> QuoteResult:
        """Replace the team's quote in the instrument with this bid and ask."""
        problem = self.check_quote(request)
        if problem is not None:
            return QuoteResult(
                OrderStatus.REJECTED,
                error_code=problem.error_code,
                error_message=problem.error_message,
            )
        key = (request.team_id, request.instrument_id)
        cancels = self._cancel_ids(request.team_id, self._quotes.pop(key, ()), now)
        bid_request, ask_request = request.legs()
        bid_id, ask_id = order_ids or (None, None)
        bid = order_from(bid_request, bid_id or next(self._ids.orders), now)
        ask = order_from(ask_request, ask_id or next(self._ids.orders), now)
        trades = self._match(bid, now) + self._match(ask, now)
        self._quotes[key] = (bid.order_id, ask.order_id)
        return QuoteResult(OrderStatus.NEW, bid, ask, trades, cancels)

    def cancel_order(self, request: CancelOrder, now: TimeNs) -> OrderResult:
        """Cancel one of the team's live orders; another team's order is unknown."""
        order = self._team_orders.get(request.team_id, {}).get(request.order_id)
        if order is None:
            return rejected("ORDER_NOT_FOUND", f"no open order {request.order_id}")
        refused = self.cancel_refusal(order.instrument_id)
        if refused is not None:
            return refused
        event = self._cancel(order, USER, now)
        return OrderResult(CANCELLED, order, [], [event])

    def cancel_refusal(self, instrument_id: InstrumentId | None = None) -> OrderResult | None:
        """A team's cancel refused by the phase (the book's, or the venue's when no book is
        named), or None when the phase accepts cancels."""
        phase = self.phase if instrument_id is None else self.book_phase[instrument_id]
        if PHASE_RULES[phase].cancel:
            return None
        return rejected("MARKET_CLOSED", f"cancels are not accepted in {phase}")

    def cancel_all(
        self,
        team_id: TeamId,
        now: TimeNs,
        instrument_id: InstrumentId | None = None,
        reason: CancelReason = CancelReason.USER,
    ) -> list[OrderCancelled]:
        """Cancel the team's live orders (in one instrument if given), oldest first."""
        orders = list(self._team_orders.get(team_id, {}).values())
        return [
            self._cancel(o, reason, now)
            for o in orders
            if instrument_id is None or o.instrument_id == instrument_id
        ]

    # -- phases -----------------------------------------------------------------------

    def set_phase(self, phase: Phase, now: TimeNs) -> PhaseChanged:
        """Announce a phase and have every book enter it (the synchronous whole)."""
        change = PhaseChanged(self.phase, phase, now)
        self.phase = phase
        for instrument_id in self.books:
            entered = self.enter_phase(instrument_id, phase, now)
            change.trades.extend(entered.trades)
            change.cancels.extend(entered.cancels)
        return change

    def enter_phase(self, instrument_id: InstrumentId, phase: Phase, now: TimeNs) -> PhaseChanged:
        """One book enters a phase: the auction uncrosses it, the close empties it.

        The server's matcher task calls this for its own book, in order with the orders
        queued before it, so an order sent before the auction is matched as one.
        """
        change = PhaseChanged(self.book_phase[instrument_id], phase, now)
        self.book_phase[instrument_id] = phase
        halted = instrument_id in self.halted
        if phase in (Phase.OPENING_AUCTION, Phase.CONTINUOUS) and not halted:
            # Uncrossing on entering CONTINUOUS too keeps the book sound when an
            # organiser skips the auction: a continuous book is never crossed. A halted
            # book is uncrossed when it resumes (entering its phase again).
            change.trades = self._uncross(instrument_id, now)
        if phase is Phase.CLOSED:
            change.cancels = self._close_book(instrument_id, now)
        return change

    def follow(self, schedule: Schedule, since: TimeNs, now: TimeNs) -> list[PhaseChanged]:
        """Apply every phase change the schedule has between `since` and `now`, in order."""
        return [self.set_phase(phase, at) for at, phase in transitions(schedule, since, now)]

    # -- listing ----------------------------------------------------------------------

    def list_instruments(self, instruments: Iterable[Instrument]) -> list[Instrument]:
        """Open books for newly listed instruments (a new weekly); returns those added."""
        added: list[Instrument] = []
        for i in instruments:
            if i.id in self.instruments:
                continue
            added.append(i)
            self.instruments[i.id] = i
            self.books[i.id] = OrderBook(i.id)
            self.book_phase[i.id] = self.phase
            self._rngs[i.id] = np.random.default_rng(
                [self._listing_seed, zlib.crc32(i.id.encode())]
            )
        return added

    def expire(self, instrument_id: InstrumentId, now: TimeNs) -> list[OrderCancelled]:
        """Close an expiring book for good: its resting orders are cancelled (`expired`)."""
        self.book_phase[instrument_id] = Phase.CLOSED
        return self._close_book(instrument_id, now, CancelReason.EXPIRED)

    def delist(self, instrument_id: InstrumentId) -> None:
        """Forget an instrument once it is settled (its book is already empty)."""
        for table in (self.instruments, self.books, self.book_phase, self.reference_price,
                      self.last_price, self._rngs):  # fmt: skip
            table.pop(instrument_id, None)
        self.halted.discard(instrument_id)

    # -- views ------------------------------------------------------------------------

    def open_orders(self, team_id: TeamId) -> list[Order]:
        """The team's live orders, oldest first."""
        return list(self._team_orders.get(team_id, {}).values())

    def order(self, team_id: TeamId, order_id: OrderId) -> Order | None:
        return self._team_orders.get(team_id, {}).get(order_id)

    def open_quantity(self, team_id: TeamId, instrument_id: InstrumentId) -> tuple[int, int]:
        """The team's resting (buy, sell) quantity in one instrument."""
        buy, sell = self._open.get(team_id, {}).get(instrument_id, (0, 0))
        return buy, sell

    def open_exposure(self, team_id: TeamId) -> dict[InstrumentId, list[int]]:
        """The team's resting [buy, sell] quantity per instrument it has orders in (live)."""
        return self._open.get(team_id, {})

    def _opened(self, team_id: TeamId, instrument_id: InstrumentId, side: Side, qty: int) -> None:
        # get before set: `setdefault` would build a dict and a list on every call.
        team = self._open.get(team_id)
        if team is None:
            team = self._open[team_id] = {}
        pair = team.get(instrument_id)
        if pair is None:
            pair = team[instrument_id] = [0, 0]
        pair[side is SELL] += qty
        if pair[0] == 0 and pair[1] == 0:
            del team[instrument_id]

    def two_sided(self, team_id: TeamId) -> set[InstrumentId]:
        """The instruments where the team has both a bid and an ask resting."""
        return {i for i, (buy, sell) in self.open_exposure(team_id).items() if buy and sell}

    def quote_ids(self, team_id: TeamId, instrument_id: InstrumentId) -> tuple[OrderId, ...]:
        return self._quotes.get((team_id, instrument_id), ())

    def reference(self, instrument_id: InstrumentId) -> Ticks | None:
        ref = self.reference_price.get(instrument_id)
        return ref if ref is not None else self.last_price.get(instrument_id)

    # -- internals --------------------------------------------------------------------

    def check_order(self, r: NewOrder) -> OrderResult | None:
        """What the venue itself would refuse (None: nothing); changes nothing."""
        phase = self.book_phase.get(r.instrument_id)
        if phase is None:
            return rejected("INVALID_INSTRUMENT", f"unknown instrument {r.instrument_id}")
        if r.team_id in self.barred:
            return rejected("TEAM_DISABLED", "the organiser has disabled this team")
        if self.suspended is not None:
            return rejected(*self.suspended)
        if r.instrument_id in self.halted:
            return rejected(
                "INSTRUMENT_HALTED",
                f"trading in {r.instrument_id} is halted; resting orders may be cancelled",
            )
        rules = PHASE_RULES[phase]
        if not rules.submit:
            return rejected("MARKET_CLOSED", f"orders are not accepted in {phase}")
        if r.quantity <= 0:
            return rejected("INVALID_QUANTITY", "quantity must be a positive integer")
        if (r.order_type is MARKET) != (r.price is None):
            return rejected("INVALID_PRICE", "a limit order needs a price, a market order none")
        if r.price is not None and r.price <= 0:
            return rejected("INVALID_PRICE", "price must be positive")
        if r.price is None and rules.matching == "batch":
            return rejected(
                "ORDER_TYPE_NOT_ALLOWED",
                "market orders are not accepted before the open; send a limit order "
                "to take part in the opening auction",
            )
        return None

    def check_quote(self, q: NewQuote) -> OrderResult | None:
        for leg in q.legs():
            problem = self.check_order(leg)
            if problem is not None:
                return problem
        if q.bid_price >= q.ask_price:
            return rejected("INVALID_QUOTE", "a quote's bid must be below its ask")
        return None

    def _match(self, order: Order, now: TimeNs) -> list[Trade]:
        instrument_id = order.instrument_id
        engine = self._engine_in[self.book_phase[instrument_id]]
        trades = engine.submit(self.books[instrument_id], order, now)
        if trades:
            self._after_trades(trades)
        if order.remaining and order.price is not None:
            team_id = order.team_id
            orders = self._team_orders.get(team_id)
            if orders is None:
                orders = self._team_orders[team_id] = {}
            orders[order.order_id] = order
            self._opened(team_id, instrument_id, order.side, order.remaining)
        return trades

    def _after_trades(self, trades: list[Trade]) -> None:
        """The resting sides' open quantity shrinks and their filled orders leave the
        team index (an auction print had both sides resting; a continuous one's
        aggressor joins the index only after matching, with what is left of it), then
        the last price is remembered. All the trades are in one book."""
        instrument_id = trades[-1].instrument_id
        aggressor = trades[0].aggressor
        if aggressor is not BUY:
            self._resting_filled(instrument_id, trades, BUY)
        if aggressor is not SELL:
            self._resting_filled(instrument_id, trades, SELL)
        self.last_price[instrument_id] = trades[-1].price

    def _resting_filled(
        self, instrument_id: InstrumentId, trades: list[Trade], side: Side
    ) -> None:
        """Each trade's `side` order had rested (so the team's entries exist): its open
        quantity shrinks, and a filled one leaves the team index. One loop over the
        trades with the tables bound once: it runs for every trade."""
        open_, team_orders = self._open, self._team_orders
        buying = side is BUY
        for t in trades:
            if buying:
                team_id, order_id, remaining = t.buyer, t.buy_order_id, t.buy_remaining
            else:
                team_id, order_id, remaining = t.seller, t.sell_order_id, t.sell_remaining
            team = open_[team_id]
            pair = team[instrument_id]
            pair[not buying] -= t.quantity
            if pair[0] == 0 and pair[1] == 0:
                del team[instrument_id]
            if remaining == 0:
                team_orders[team_id].pop(order_id, None)

    def _cancel(self, order: Order, reason: CancelReason, now: TimeNs) -> OrderCancelled:
        self.books[order.instrument_id].cancel(order)
        self._team_orders[order.team_id].pop(order.order_id, None)
        self._opened(order.team_id, order.instrument_id, order.side, -order.remaining)
        order.status = CANCELLED
        return cancelled_event(order, reason, now)

    def _cancel_ids(
        self, team_id: TeamId, ids: Iterable[OrderId], now: TimeNs
    ) -> list[OrderCancelled]:
        live = self._team_orders.get(team_id, {})
        return [self._cancel(live[i], CancelReason.REPLACED, now) for i in ids if i in live]

    def _close_book(
        self,
        instrument_id: InstrumentId,
        now: TimeNs,
        reason: CancelReason = CancelReason.MARKET_CLOSE,
    ) -> list[OrderCancelled]:
        """Cancel every order resting in one book, oldest first (by order id)."""
        book = self.books[instrument_id]
        resting = sorted(book.orders.values(), key=lambda o: o.order_id)
        for team_id in {o.team_id for o in resting}:
            self._quotes.pop((team_id, instrument_id), None)
        return [self._cancel(o, reason, now) for o in resting]

    def _uncross(self, instrument_id: InstrumentId, now: TimeNs) -> list[Trade]:
        book = self.books[instrument_id]
        if not book.is_crossed():
            return []
        batch = self._engines["batch"]
        trades = batch.uncross(book, now, self._rngs[instrument_id], self.reference(instrument_id))
        if trades:
            self._after_trades(trades)
        return trades
