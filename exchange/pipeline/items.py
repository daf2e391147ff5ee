"""The pipeline's vocabulary: what travels on its queues, and what the tasks keep of it.

OrderQueue carries `Submit`, `Cancel` and `CancelTeam` (from the web layer, the house,
the watchdog and the organiser's controls) to the validator; each MatchQueue carries
them on, with `PhaseStep` (the scheduler, the controls) and `Expire` (the expiry task),
to one book's matcher. A request's future is answered with `Accepted` or `Refused`.
TradeQueue carries a `Matched` outcome of each venue call to the publisher, which turns
it into an `Outbox`, released once it is durable. `InFlight` is the validator's record
of the orders it let through that their matcher has not placed yet.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec

from exchange.domain.orders import (
    NewOrder,
    NewQuote,
    Order,
    OrderCancelled,
    OrderResult,
    QuoteResult,
    Trade,
    order_from,
)
from exchange.domain.positions import Fill, Settlement
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderId,
    Phase,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.domain.validation import OrderRefusal
from exchange.domain.venue import PhaseChanged
from exchange.store.rows import ArrivalRow

# -- OrderQueue and MatchQueue ---------------------------------------------------------


class Submit(msgspec.Struct, gc=False):
    """A new order or quote from a team, answered through `reply` after validation."""

    request: NewOrder | NewQuote
    reply: asyncio.Future[Any]
    request_id: str
    order_ids: tuple[OrderId, ...] = ()
    """Reserved by the validator; the matcher places the order under these ids."""
    on_commit: bool = False
    """Answer `reply` only once the order's rows are committed (a team's request: an
    order answered 201 must survive a crash); else right after validation (the house)."""
    accepted: Accepted | None = None
    """The validator's answer, held here until the commit when `on_commit`."""


class Cancel(msgspec.Struct, gc=False):
    team_id: TeamId
    order_id: OrderId
    reply: asyncio.Future[Any]
    request_id: str


class CancelTeam(msgspec.Struct, gc=False):
    """Cancel a team's orders: in one book, or (`instrument_id` None) in every book; the
    validator splits the latter into one per book holding the team's orders."""

    team_id: TeamId
    instrument_id: InstrumentId | None
    reply: asyncio.Future[Any] | None
    request_id: str
    reason: CancelReason = CancelReason.USER


class PhaseStep(msgspec.Struct, gc=False):
    """The scheduler tells each matcher to take its book into a phase."""

    phase: Phase
    at: TimeNs


class Expire(msgspec.Struct, gc=False):
    """An option's expiry: its matcher cancels what rests; the publisher settles it at
    `value` per unit (intrinsic) and resolves `settled`."""

    instrument_id: InstrumentId
    value: Ticks
    at: TimeNs
    settled: asyncio.Future[None]
    cancels: list[OrderCancelled] = msgspec.field(default_factory=list)


class Accepted(msgspec.Struct, gc=False):
    """What the validator answers for a request it let through."""

    order_ids: tuple[OrderId, ...]
    rate_remaining: int


class Refused(msgspec.Struct, gc=False):
    rejection: OrderRefusal
    rate_remaining: int
    retry_after_ns: int = 0


# -- TradeQueue: what a venue call did ---------------------------------------------------


class Outcome(msgspec.Struct, gc=False, kw_only=True):
    """What every `Matched` outcome carries besides its result."""

    kind: ClassVar[str]
    """The outcome's name in logs."""
    request_id: str
    at: TimeNs
    arrival: ArrivalRow | None = None
    """The venue call's row in the arrivals log (a game with a database)."""
    held: tuple[asyncio.Future[Any], Accepted] | None = None
    """A request's reply and its answer, given when the outcome is durable (`on_commit`)."""


class OrderPlaced(Outcome, gc=False):
    kind: ClassVar[str] = "order"
    result: OrderResult


class QuotePlaced(Outcome, gc=False):
    kind: ClassVar[str] = "quote"
    result: QuoteResult


class OrderCancelledOne(Outcome, gc=False):
    """One order cancelled by its owner (`Cancel`)."""

    kind: ClassVar[str] = "cancel"
    result: OrderResult


class TeamCancelled(Outcome, gc=False):
    """A team's orders in one book, cancelled (`CancelTeam`)."""

    kind: ClassVar[str] = "cancels"
    events: list[OrderCancelled]


class PhaseEntered(Outcome, gc=False):
    """A book entered a phase: an opening uncross's trades, a close's cancels."""

    kind: ClassVar[str] = "phase"
    change: PhaseChanged


class Expired(Outcome, gc=False):
    kind: ClassVar[str] = "expiry"
    expiry: Expire


class VenueRefused(Outcome, gc=False):
    """Accepted by the validator, refused by the venue: the phase moved on while it was
    queued. `result.order` is the refused order, to report on the owner's stream."""

    kind: ClassVar[str] = "refused"
    result: OrderResult


class VenueChanged(Outcome, gc=False):
    """A change of the venue made outside the matchers (a listing, a delisting, the start
    of a run), carried only for its row in the arrivals log."""

    kind: ClassVar[str] = "venue"


Matched = (
    OrderPlaced | QuotePlaced | OrderCancelledOne | TeamCancelled | PhaseEntered | Expired
    | VenueRefused | VenueChanged
)  # fmt: skip
"""A matcher's outcome for the publisher, one class per kind (dispatched with `match`)."""


def answer(reply: asyncio.Future[Any] | None, value: Any) -> None:
    """Answer a request's future, unless its sender has already given up on it."""
    if reply is not None and not reply.done():
        reply.set_result(value)


# -- what the tasks keep -------------------------------------------------------------------


class InFlight:
    """Orders accepted by the validator and not yet placed by their matcher."""

    def __init__(self) -> None:
        self.orders: dict[TeamId, dict[OrderId, Order]] = {}
        self.quotes: dict[tuple[TeamId, InstrumentId], tuple[OrderId, ...]] = {}

    def add(self, item: Submit, now: TimeNs) -> None:
        request = item.request
        legs = request.legs() if isinstance(request, NewQuote) else (request,)
        team = self.orders.setdefault(request.team_id, {})
        for order_id, leg in zip(item.order_ids, legs, strict=True):
            team[order_id] = order_from(leg, order_id, now)
        if isinstance(request, NewQuote):
            self.quotes[(request.team_id, request.instrument_id)] = item.order_ids

    def done(self, item: Submit) -> None:
        """The matcher has placed the item: the book (or the fills) now hold it."""
        team = self.orders.get(item.request.team_id, {})
        for order_id in item.order_ids:
            team.pop(order_id, None)
        key = (item.request.team_id, item.request.instrument_id)
        if self.quotes.get(key) == item.order_ids:
            del self.quotes[key]

    def pending(self, team_id: TeamId) -> list[Order]:
        return list(self.orders.get(team_id, {}).values())


class Outbox:
    """What one matcher outcome tells the world, held until it is durable."""

    __slots__ = (
        "answers", "cancels", "done", "expired", "messages", "orders", "prints", "rows",
        "settlements", "touched", "trades",
    )  # fmt: skip

    def __init__(self) -> None:
        self.messages: list[tuple[TeamId, str, Any]] = []
        self.prints: list[Any] = []
        self.touched: set[InstrumentId] = set()
        self.orders: list[Order] = []
        """Orders acknowledged (new rows)."""
        self.trades: list[tuple[Trade, Fill, Fill, str | None, str | None]] = []
        """Each trade with the buyer's and seller's fills and client order ids."""
        self.cancels: list[OrderCancelled] = []
        self.settlements: list[Settlement] = []
        self.expired: list[InstrumentId] = []
        """Instruments settled: they leave every account."""
        self.rows: list[tuple[str, tuple[Any, ...]]] = []
        """Other rows that must be durable before the release (a new team, say)."""
        self.done: asyncio.Future[None] | None = None
        """Resolved on release: a caller can wait until the outbox is durable."""
        self.answers: list[tuple[asyncio.Future[Any], Any]] = []
        """Replies to requests answered on release (an order's 201 waits for its commit)."""
