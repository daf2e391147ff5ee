"""Orders over `/ws`: what a team sends on its stream to trade, and the answers.

A request is a JSON text frame whose `type` names it and whose `client_id` the answer
repeats: `new_order` and `quote` carry the fields of `POST /orders` and `POST /quotes`,
`cancel` an `order_id`, `cancel_all` an optional `instrument_id`. The answer is a
snapshot message: `<request>_accepted` with what the REST call answers in `data` plus
the `client_id`, or `request_rejected` with the REST error (`code`, `message`, `details`)
plus the `client_id` and the `request` type.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from exchange.wire.models import (
    CancelAck,
    CancelAllAck,
    ClientId,
    ErrorBody,
    InstrumentIdText,
    OrderAck,
    OrderRequest,
    QuoteAck,
    QuoteRequest,
    Request,
)

ORDER_TYPES = ("new_order", "quote", "cancel", "cancel_all")
"""The `type` of every order request a team may send on its stream."""
RequestText = Annotated[str, Meta(extra_json_schema={"enum": list(ORDER_TYPES)})]
OrderIdText = Annotated[str, Meta(min_length=1, max_length=40, description="As answered")]


class NewOrderMessage(OrderRequest, frozen=True, kw_only=True, tag="new_order", tag_field="type"):
    """`POST /orders` on the stream: the same fields, and the `client_id` the answer names."""

    client_id: ClientId


class QuoteMessage(QuoteRequest, frozen=True, kw_only=True, tag="quote", tag_field="type"):
    """`POST /quotes` on the stream (market makers)."""

    client_id: ClientId


class CancelMessage(Request, frozen=True, kw_only=True, tag="cancel", tag_field="type"):
    """`DELETE /orders/{order_id}` on the stream."""

    client_id: ClientId
    order_id: OrderIdText


class CancelAllMessage(Request, frozen=True, kw_only=True, tag="cancel_all", tag_field="type"):
    """`DELETE /orders[?instrument_id=]` on the stream: every open order of the team, or
    of one instrument."""

    client_id: ClientId
    instrument_id: InstrumentIdText | None = None


OrderMessage = NewOrderMessage | QuoteMessage | CancelMessage | CancelAllMessage


class OrderAccepted(OrderAck, frozen=True, kw_only=True):
    """`order_accepted`: the order is committed and in the book (as a 201 of POST /orders)."""

    client_id: str


class QuoteAccepted(QuoteAck, frozen=True, kw_only=True):
    """`quote_accepted`: both legs are committed and in the book."""

    client_id: str


class CancelAccepted(CancelAck, frozen=True, kw_only=True):
    """`cancel_accepted`: the order is out of the book."""

    client_id: str


class CancelAllAccepted(CancelAllAck, frozen=True, kw_only=True):
    """`cancel_all_accepted`: these orders are out of the book."""

    client_id: str


class RequestRejected(ErrorBody, frozen=True, kw_only=True):
    """`request_rejected`: the request was refused and changed nothing; `code` is the one
    the REST call answers with."""

    client_id: str
    request: RequestText


ACCEPTED: dict[str, tuple[str, type[msgspec.Struct]]] = {
    "new_order": ("order_accepted", OrderAccepted),
    "quote": ("quote_accepted", QuoteAccepted),
    "cancel": ("cancel_accepted", CancelAccepted),
    "cancel_all": ("cancel_all_accepted", CancelAllAccepted),
}
"""Each request's answer type when it passes, and its `data` Struct."""
REJECTED = "request_rejected"


def accepted(request: str, ack: msgspec.Struct, client_id: str) -> tuple[str, msgspec.Struct]:
    """The answer message's type and data for a request that passed with `ack`."""
    kind, struct = ACCEPTED[request]
    return kind, struct(*msgspec.structs.astuple(ack), client_id=client_id)
