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
from exchange.wire.codec import decode
from exchange.wire.errors import ApiError
from exchange.wire.messages import StreamError
from exchange.wire.stream_orders import (
    ORDER_TYPES,
    REJECTED,
    CancelAllMessage,
    CancelMessage,
    NewOrderMessage,
    QuoteMessage,
    RequestRejected,
    accepted,
)

log = logging.getLogger("exchange.ws")

MAX_IN_FLIGHT = 64
"""Requests of one connection awaiting their answers before the server stops reading."""
MAX_CLIENT_ID = 64


class Head(msgspec.Struct, frozen=True):
    """The two fields read first from any client message (the rest is judged later)."""

    type: Any = None
    client_id: Any = None


_head = msgspec.json.Decoder(Head)
SUBSCRIPTIONS = ("subscribe", "unsubscribe")
KNOWN = ", ".join((*SUBSCRIPTIONS, *ORDER_TYPES))


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
        what is not JSON or not an object."""
        try:
            head = _head.decode(text)
        except msgspec.DecodeError:
            return False
        if head.type is None or head.type in SUBSCRIPTIONS:
            return False
        if head.type in ORDER_TYPES:
            await self.take(head, text)
        else:
            message = f"unknown message type {str(head.type)[:40]!r}: send one of {KNOWN}"
            self.fanout.reply(self.conn, "error", StreamError("INVALID_FIELD", message))
        return True

    async def take(self, head: Head, text: str | bytes) -> None:
        """Start one request; wait first while `MAX_IN_FLIGHT` are unanswered."""
        refusal = self.refusal(head)
        if refusal is not None:
            self.fanout.reply(self.conn, "error", refusal)
            return
        while len(self.pending) >= MAX_IN_FLIGHT:
            await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
        raw = text.encode() if isinstance(text, str) else text
        task = asyncio.get_running_loop().create_task(self.run(head.type, head.client_id, raw))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def refusal(self, head: Head) -> StreamError | None:
        """Why the message cannot be taken as a request at all (so there is no one to
        answer by client id), or None."""
        if self.team is None:
            return StreamError(
                "UNAUTHORIZED", f"{head.type}: a spectator cannot trade; connect with a key"
            )
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

    async def run(self, request: str, client_id: str, raw: bytes) -> None:
        started = time.perf_counter()
        try:
            kind, data = accepted(request, await self.perform(request, raw), client_id)
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

    async def perform(self, request: str, raw: bytes) -> msgspec.Struct:
        """The request through the REST routes' own calls: their answer, or ApiError."""
        orders, team = self.orders, self.team
        assert team is not None
        if orders.exchange.control.disabled(team.team_id):
            raise ApiError("TEAM_DISABLED", "the organiser has disabled this team")
        if request == "new_order":
            order = decode(raw, NewOrderMessage)
            return await orders.place_order(team, order, order.client_id)
        if request == "quote":
            quote = decode(raw, QuoteMessage)
            return await orders.place_quote(team, quote, quote.client_id)
        if request == "cancel":
            cancel = decode(raw, CancelMessage)
            return await orders.cancel_order(team, cancel.order_id, cancel.client_id)
        every = decode(raw, CancelAllMessage)
        return await orders.cancel_orders(team, every.instrument_id, every.client_id)
