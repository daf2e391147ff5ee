"""A matcher task: the only writer of one instrument's book.

It takes requests in the order the validator sent them (and phase steps in the order the
scheduler sent them), calls the venue, and hands what happened to the publisher. It
waits when TradeQueue is full rather than drop a trade: back-pressure, not loss.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from exchange.clock import Clock
from exchange.domain.orders import CancelOrder, NewQuote, order_from, rejected
from exchange.domain.types import InstrumentId, OrderStatus, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.items import (
    Cancel,
    CancelTeam,
    Expire,
    Expired,
    InFlight,
    Matched,
    OrderCancelledOne,
    OrderPlaced,
    PhaseEntered,
    PhaseStep,
    QuotePlaced,
    Submit,
    TeamCancelled,
    VenueRefused,
    answer,
)
from exchange.store.arrivals import ArrivalLog

log = logging.getLogger("exchange.matcher")


class Matcher:
    def __init__(
        self,
        instrument_id: InstrumentId,
        venue: ExchangeVenue,
        clock: Clock,
        queue: asyncio.Queue[Any],
        trades: asyncio.Queue[Matched],
        inflight: InFlight,
        arrivals: ArrivalLog | None = None,
    ) -> None:
        self.instrument_id = instrument_id
        self.venue = venue
        self.clock = clock
        self.queue = queue
        self.trades = trades
        self.inflight = inflight
        self.arrivals = arrivals or ArrivalLog(on=False)
        """Numbers and records each venue call that changed the book (with a database)."""

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                outcome = self.handle(item)
            except Exception:
                log.exception("matcher %s failed on an item", self.instrument_id)
                reply = getattr(item, "reply", None)
                if reply is not None and not reply.done():
                    reply.set_exception(RuntimeError("internal error in the matcher"))
                continue
            if outcome is not None:
                await self.trades.put(outcome)

    def handle(self, item: Submit | Cancel | CancelTeam | PhaseStep | Expire) -> Matched | None:
        venue, now, iid, log = self.venue, self.clock.now(), self.instrument_id, self.arrivals
        if isinstance(item, Submit):
            matched = self.submit(item, now)
            if item.accepted is not None:
                matched.held = (item.reply, item.accepted)
            return matched
        if isinstance(item, Cancel):
            cancelled = venue.cancel_order(CancelOrder(item.team_id, item.order_id), now)
            answer(item.reply, cancelled)
            if not cancelled.accepted:
                return None
            row = log.cancel(now, item.team_id, iid, item.order_id)
            return OrderCancelledOne(cancelled, request_id=item.request_id, at=now, arrival=row)
        if isinstance(item, CancelTeam):
            events = venue.cancel_all(item.team_id, now, iid, item.reason)
            if item.reply is not None:
                answer(item.reply, events)
            if not events:
                return None
            row = log.cancel_all(now, item.team_id, iid, item.reason)
            return TeamCancelled(events, request_id=item.request_id, at=now, arrival=row)
        if isinstance(item, Expire):
            item.cancels = venue.expire(iid, item.at)
            row = log.expire(item.at, iid, item.value)
            return Expired(item, request_id="", at=item.at, arrival=row)
        # What decides an uncross, as it is before the book enters the phase.
        reference, halted = venue.reference(iid), iid in venue.halted
        change = venue.enter_phase(iid, item.phase, item.at)
        row = log.phase(item.at, iid, item.phase, reference, halted)
        return PhaseEntered(change, request_id="", at=item.at, arrival=row)

    def submit(self, item: Submit, now: TimeNs) -> Matched:
        self.inflight.done(item)
        request, log = item.request, self.arrivals
        if isinstance(request, NewQuote):
            bid_id, ask_id = item.order_ids
            quote = self.venue.submit_quote(request, now, (bid_id, ask_id))
            if quote.accepted:
                row = log.quote(now, request, item.order_ids)
                return QuotePlaced(quote, request_id=item.request_id, at=now, arrival=row)
            result = rejected(quote.error_code or "", quote.error_message or "")
            leg = request.legs()[0]
        else:
            result = self.venue.submit_order(request, now, item.order_ids[0])
            if result.accepted:
                row = log.order(now, request, item.order_ids[0])
                return OrderPlaced(result, request_id=item.request_id, at=now, arrival=row)
            leg = request
        # Accepted by the validator, refused here: the phase moved on while it queued.
        # The order (a quote by its bid leg's id) is reported rejected on the stream.
        result.order = order_from(leg, item.order_ids[0], now, OrderStatus.REJECTED)
        return VenueRefused(result, request_id=item.request_id, at=now)
