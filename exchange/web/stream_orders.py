"""Orders on `/ws`: `new_order`, `quote`, `cancel` and `cancel_all` from a team's stream.

Each request goes through the very calls the REST routes make (`Orders.place_order`,
`place_quote`, `cancel_order`, `cancel_orders`): the same decoding and field codes, the
same validator, rate limit and rules, the same idempotency by `request_id`, and an order
answered only once its arrival is committed. The answer (`<request>_accepted` or
`request_rejected`, naming the request's `client_id`) is queued with `Fanout.answer`,
so it follows the stream messages the request caused at once (an order's
`new_order_ack`, and the fills it got on arrival).

A connection has at most `MAX_IN_FLIGHT` requests waiting for their answers; past that
the server reads nothing more from it until one is answered (the client feels it as
back-pressure, nothing is refused or dropped). A message that cannot be a request
(no usable `client_id`, or sent by a spectator) gets an `error` message and changes
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from exchange.pipeline.fanout import Connection, Fanout
from exchange.teams import Team
from exchange.web.orders import Orders
from exchange.wire.codec import decode, repeated_key
from exchange.wire.errors import ApiError
from exchange.wire.messages import StreamError
from exchange.wire.stream_orders import (
    ORDER_TYPES,
    REJECTED,
    CancelAllMessage,
    CancelMessage,
    NewOrderMessage,
    OrderMessage,
    QuoteMessage,
    RequestRejected,
    accepted,
)

log = logging.getLogger("exchange.ws")

MAX_IN_FLIGHT = 64
"""Requests of one connection awaiting their answers before the server stops reading."""
MAX_CLIENT_ID = 64


class Head(msgspec.Struct, frozen=True):
    """The two fields read from a message that is not a well-formed request, to know
    what it was meant to be and whom to answer."""

    type: Any = None
    client_id: Any = None


_head = msgspec.json.Decoder(Head)
_requests = msgspec.json.Decoder(OrderMessage)
"""A well-formed request of any of the four types, told apart by `type`."""
SUBSCRIPTIONS = ("subscribe", "unsubscribe")
KNOWN = ", ".join((*SUBSCRIPTIONS, *ORDER_TYPES))
MESSAGES: dict[str, type[OrderMessage]] = {
    "new_order": NewOrderMessage, "quote": QuoteMessage, "cancel": CancelMessage,
    "cancel_all": CancelAllMessage,
}  # fmt: skip
TYPE_OF = {kind: name for name, kind in MESSAGES.items()}


class OrderEntry:
    """The order requests of one connection: their tasks, bounded in number."""

    def __init__(
        self, orders: Orders, fanout: Fanout, conn: Connection, team: Team | None
    ) -> None:
        self.orders = orders
        self.fanout = fanout
        self.conn = conn
        self.team = team
        self.pending: set[asyncio.Task[None]] = set()

    async def handled(self, text: str | bytes) -> bool:
        """Take the message if it is an order request (or of no known type: answered
        with an `error`); False leaves it to the subscriptions code, which also refuses
        what is not JSON or not an object.

        A well-formed request is decoded once, as what it is; anything else is judged
        by its `type` and `client_id` (`Head`) and decoded again for the REST error."""
        raw = text.encode() if isinstance(text, str) else text
        try:
            message = _requests.decode(raw)
        except msgspec.DecodeError:
            return await self.misshapen(raw)
        if repeated_key(raw, type(message)) is not None:
            return await self.misshapen(raw)
        request = TYPE_OF[type(message)]
        if self.team is None:
            self.fanout.reply(self.conn, "error", spectating(request))
        else:
            await self.start(request, message.client_id, message)
        return True

    async def misshapen(self, raw: bytes) -> bool:
        try:
            head = _head.decode(raw)
        except msgspec.DecodeError:
            return False
        if head.type is None or head.type in SUBSCRIPTIONS:
            return False
        if head.type not in ORDER_TYPES:
            message = f"unknown message type {str(head.type)[:40]!r}: send one of {KNOWN}"
            self.fanout.reply(self.conn, "error", StreamError("INVALID_FIELD", message))
            return True
        refusal = self.refusal(head)
        if refusal is not None:
            self.fanout.reply(self.conn, "error", refusal)
        else:
            await self.start(head.type, head.client_id, raw)
        return True

    async def start(self, request: str, client_id: str, message: OrderMessage | bytes) -> None:
        """Start one request (a decoded message, or the bytes whose decoding will say
        why it is refused); wait first while `MAX_IN_FLIGHT` are unanswered."""
        while len(self.pending) >= MAX_IN_FLIGHT:
            await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.get_running_loop().create_task(self.run(request, client_id, message))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def refusal(self, head: Head) -> StreamError | None:
        """Why the message cannot be taken as a request at all (so there is no one to
        answer by client id), or None."""
        if self.team is None:
            return spectating(head.type)
        cid = head.client_id
        if not isinstance(cid, str) or not 1 <= len(cid) <= MAX_CLIENT_ID:
            return StreamError(
                "INVALID_FIELD", f"{head.type} needs a client_id: a string of 1 to 64 characters"
            )
        return None

    def close(self) -> None:
        """The connection ended: stop waiting for the answers (what was sent stands)."""
        for task in self.pending:
            task.cancel()

    async def run(self, request: str, client_id: str, sent: OrderMessage | bytes) -> None:
        started = time.perf_counter()
        try:
            kind, data = accepted(request, await self.perform(request, sent), client_id)
            code = ""
        except ApiError as exc:
            kind, code = REJECTED, exc.code
            data = RequestRejected(
                exc.code, exc.message, exc.details, client_id=client_id, request=request
            )
        except Exception:
            log.exception("an order request on the stream failed", extra={"request": request})
            kind, code = REJECTED, "INTERNAL_ERROR"
            message = "an internal error was logged; quote the client id"
            data = RequestRejected(code, message, client_id=client_id, request=request)
        if request in ("new_order", "quote"):
            self.orders.exchange.metrics.answered(started, code)
        self.fanout.answer(self.conn, kind, data)

    async def perform(self, request: str, message: OrderMessage | bytes) -> msgspec.Struct:
        """The request through the REST routes' own calls: their answer, or ApiError."""
        orders, team = self.orders, self.team
        assert team is not None
        if orders.exchange.control.disabled(team.team_id):
            raise ApiError("TEAM_DISABLED", "the organiser has disabled this team")
        if isinstance(message, bytes):  # not well formed: the REST decoding says why
            message = decode(message, MESSAGES[request])
        if isinstance(message, NewOrderMessage):
            return await orders.place_order(team, message, message.client_id)
        if isinstance(message, QuoteMessage):
            return await orders.place_quote(team, message, message.client_id)
        if isinstance(message, CancelMessage):
            return await orders.cancel_order(team, message.order_id, message.client_id)
        return await orders.cancel_orders(team, message.instrument_id, message.client_id)


def spectating(request: Any) -> StreamError:
    return StreamError("UNAUTHORIZED", f"{request}: a spectator cannot trade; connect with a key")
