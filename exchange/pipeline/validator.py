"""The validator task: OrderQueue -> the role's rules -> the instrument's MatchQueue.

It answers the HTTP request (through the item's future) as soon as the rules have
spoken, before matching: accepted with the order id it reserved, or refused with the
first failing rule. Orders it let through but that no book holds yet are *in flight*;
they count toward the worst-case position checks like resting orders, so a burst of
orders cannot slip past a limit while they wait in a matcher's queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from exchange.clock import Clock
from exchange.domain.orders import NewQuote
from exchange.domain.session import TradingSession
from exchange.domain.types import InstrumentId, OrderId, TeamId, TimeNs
from exchange.domain.validation import OrderRefusal
from exchange.pipeline.items import Accepted, Cancel, CancelTeam, InFlight, Refused, Submit, answer

log = logging.getLogger("exchange.validator")

BUSY = OrderRefusal("SERVICE_UNAVAILABLE", "the exchange is busy; retry shortly", "queue")
STORAGE = OrderRefusal(
    "SERVICE_UNAVAILABLE",
    "the exchange cannot write to its database; new orders are refused until it can",
    "storage",
)


class Validator:
    def __init__(
        self,
        session: TradingSession,
        clock: Clock,
        orders: asyncio.Queue[Any],
        matchers: dict[InstrumentId, asyncio.Queue[Any]],
        inflight: InFlight,
        *,
        on_refused: Callable[[TeamId, TimeNs, OrderRefusal], None] | None = None,
        on_accepted: Callable[[TeamId, TimeNs, InstrumentId], None] | None = None,
        on_admitted: Callable[[tuple[OrderId, ...]], None] | None = None,
        entry_closed: Callable[[], bool] = lambda: False,
    ) -> None:
        self.session = session
        self.clock = clock
        self.orders = orders
        self.matchers = matchers
        self.inflight = inflight
        self.on_refused, self.on_accepted = on_refused, on_accepted
        """Onlookers (the scores): told of every rule's refusal and every accepted request."""
        self.on_admitted = on_admitted
        """Told the order ids of every accepted request (the metrics time them)."""
        self.entry_closed = entry_closed
        """True while the database cannot commit (the writer is failing): an order
        accepted now might not survive a crash, so none is (fail closed)."""

    async def run(self) -> None:
        while True:
            item = await self.orders.get()
            try:
                self.handle(item)
            except Exception:
                log.exception("validator failed on an item", extra={"item": repr(item)})
                reply = getattr(item, "reply", None)
                if reply is not None and not reply.done():
                    reply.set_exception(RuntimeError("internal error in the validator"))

    def handle(self, item: Submit | Cancel | CancelTeam) -> None:
        if isinstance(item, Submit):
            self.submit(item)
        elif isinstance(item, Cancel):
            self.cancel(item)
        else:
            self.cancel_all(item)

    def submit(self, item: Submit) -> None:
        request, now = item.request, self.clock.now()
        team = request.team_id
        window = self.session.windows[team]
        key = (team, request.instrument_id)
        rate_now = self.clock.rate_ns()
        if self.entry_closed():
            answer(item.reply, Refused(STORAGE, window.remaining(rate_now)))
            return
        rejection = self.session.screen(
            request, now, self.inflight.pending(team), self.inflight.quotes.get(key, ()), rate_now
        )
        if rejection is not None:
            limited = rejection.code == "RATE_LIMIT_EXCEEDED"
            retry = window.retry_after_ns(rate_now) if limited else 0
            answer(item.reply, Refused(rejection, window.remaining(rate_now), retry))
            if self.on_refused is not None:
                self.on_refused(team, now, rejection)
            return
        queue = self.matchers[request.instrument_id]
        if queue.full():
            answer(item.reply, Refused(BUSY, window.remaining(rate_now)))
            return
        venue = self.session.venue
        legs = 2 if isinstance(request, NewQuote) else 1
        item.order_ids = tuple(venue.next_order_id() for _ in range(legs))
        self.inflight.add(item, now)
        if self.on_admitted is not None:
            self.on_admitted(item.order_ids)
        queue.put_nowait(item)
        accepted = Accepted(item.order_ids, window.remaining(rate_now))
        if item.on_commit:
            item.accepted = accepted  # the publisher answers once the order is committed
        else:
            answer(item.reply, accepted)
        if self.on_accepted is not None:
            self.on_accepted(team, now, request.instrument_id)

    def cancel(self, item: Cancel) -> None:
        """Route a cancel to the book that holds the order; unknown ids end here.

        An order still in flight is routed too: its matcher places it first (FIFO)."""
        order = self.session.venue.order(item.team_id, item.order_id)
        if order is None:
            order = self.inflight.orders.get(item.team_id, {}).get(item.order_id)
        if order is None:
            answer(item.reply, None)
            return
        queue = self.matchers[order.instrument_id]
        if queue.full():
            answer(item.reply, BUSY)
            return
        queue.put_nowait(item)

    def cancel_all(self, item: CancelTeam) -> None:
        """One CancelTeam per book holding the team's orders; the reply gathers them."""
        team = item.team_id
        working = self.session.venue.open_orders(team) + self.inflight.pending(team)
        held = {o.instrument_id for o in working}
        if item.instrument_id is not None:
            held &= {item.instrument_id}
        queues = [self.matchers[i] for i in sorted(held)]
        if any(q.full() for q in queues):
            if item.reply is not None:
                answer(item.reply, BUSY)
            return
        loop = asyncio.get_running_loop()
        parts = []
        for instrument_id, queue in zip(sorted(held), queues, strict=True):
            part = loop.create_future()
            queue.put_nowait(
                CancelTeam(item.team_id, instrument_id, part, item.request_id, item.reason)
            )
            parts.append(part)
        if item.reply is not None:
            _gather_into(item.reply, parts)


def _gather_into(reply: asyncio.Future[Any], parts: list[asyncio.Future[Any]]) -> None:
    if not parts:
        answer(reply, [])
        return
    gathered = asyncio.gather(*parts)

    def finish(done: asyncio.Future[list[Any]]) -> None:
        if reply.done():
            return
        if done.exception() is not None:
            reply.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            reply.set_result([event for events in done.result() for event in events])

    gathered.add_done_callback(finish)
