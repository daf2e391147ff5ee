"""The items that travel on the pipeline's queues."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from exchange.domain.orders import NewOrder, NewQuote, OrderCancelled, OrderResult, QuoteResult
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderId,
    Phase,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.domain.validation import Rejection
from exchange.domain.venue import PhaseChanged
from exchange.store.rows import ArrivalRow


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


class CancelAll(msgspec.Struct, gc=False):
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
    rejection: Rejection
    rate_remaining: int
    retry_after_ns: int = 0


class Matched(msgspec.Struct, gc=False):
    """A matcher's outcome for the publisher: one request, or one book's phase change.

    `kind` is "order", "quote", "cancel", "cancels", "phase", "expiry", "refused", or
    "venue" for a change with no outcome to report (a listing, the start of a run)."""

    kind: str
    result: OrderResult | QuoteResult | PhaseChanged | Expire | list[OrderCancelled]
    request_id: str
    at: TimeNs
    arrival: ArrivalRow | None = None
    """The venue call's row in the arrivals log (a game with a database)."""
    held: tuple[asyncio.Future[Any], Accepted] | None = None
    """A request's reply and its answer, given when the outcome is durable (`on_commit`)."""


def answer(reply: asyncio.Future[Any] | None, value: Any) -> None:
    """Answer a request's future, unless its sender has already given up on it."""
    if reply is not None and not reply.done():
        reply.set_result(value)
