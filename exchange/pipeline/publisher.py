"""The trade publisher task: TradeQueue -> ledger (positions, cash, fees) -> outbox.

For every matcher outcome it books the trades in the ledger (so the next order's risk
check sees them at once) and writes an `Outbox`: the messages that tell each owner what
happened to its orders, in order (ack, fills, cancels, positions), the public prints,
and the rows for the database. The outbox is *released* to the fan-out only once it is
durable: at once when the game has no database, after the writer has committed the batch
holding it when it has one (group commit). So a client is never told of a fill that a
crash could lose. A team's order or quote is answered 201 at that release too (the
validator holds its answer), so no order answered as accepted can vanish in a crash:
while the database refuses its batch, its request waits, and a kill leaves it
unanswered. The publisher keeps each live order until it ends, so every execution
report states `quantity == filled + remaining` exactly.

With a database it also keeps a second ledger, booked at release: the accounts as of
the last commit. GET /positions and the stream's position snapshot read that one, so
they never show a fill a crash could take back, and need not wait for a commit that a
failing disk may hold up.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Awaitable, Callable
from typing import assert_never

from exchange.domain.orders import Order, OrderCancelled, OrderResult, Trade
from exchange.domain.positions import Account, Fill
from exchange.domain.session import TradingSession
from exchange.domain.types import OrderId, TeamId
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.items import (
    Expire,
    Expired,
    Matched,
    OrderCancelledOne,
    OrderPlaced,
    Outbox,
    PhaseEntered,
    QuotePlaced,
    TeamCancelled,
    VenueChanged,
    VenueRefused,
    answer,
)
from exchange.store import rows
from exchange.store.restore import multiplier_of
from exchange.wire import views
from exchange.wire.codec import utc_now

log = logging.getLogger("exchange.publisher")


Sink = Callable[[Outbox], Awaitable[None]]


class Release:
    """The second half of publishing: once an outbox is durable, send its messages, in
    order, serve its fills and tell the onlookers (`taps`). The writer calls it after
    each commit; without a database the publisher calls it at once."""

    def __init__(
        self,
        session: TradingSession,
        fanout: Fanout,
        taps: list[Callable[[Outbox], None]],
        fills: dict[TeamId, list[tuple[Fill, str | None]]],
        durable: bool,
    ) -> None:
        self.session = session
        self.fanout = fanout
        self.fills = fills
        """Each team's released fills with the client order id of the order filled
        (from the restored ones on)."""
        self.taps = taps
        """Told of every outbox once it is released (the metrics, the scores, the house's
        task once it runs), in order."""
        self.durable_ledger = session.ledger.copy() if durable else None
        """With a database (`durable`), the accounts as of the last commit: released
        outboxes are booked in this ledger of their own, from the ledger as it is when
        built (restored from the database, so durable). None without a database, where
        every outbox is released at once and the ledger is durable."""

    def durable_account(self, team_id: TeamId) -> Account:
        """The team's account as of the last commit; KeyError for an unknown team."""
        live = self.session.ledger.account(team_id)
        ledger = self.durable_ledger
        if ledger is None:
            return live
        if team_id not in ledger:
            return ledger.open_account(team_id, live.role)
        return ledger.account(team_id)

    def release(self, out: Outbox) -> None:
        """The outbox is durable: send its messages, in order, and serve its fills."""
        fanout = self.fanout
        timestamp = utc_now()  # one reading for the outbox: its messages left together
        fanout.stream_all(out.messages, timestamp)
        for trade_print in out.prints:
            fanout.print_trade(trade_print)
        for instrument_id in out.touched:
            fanout.touch(instrument_id)
        for _, buy, sell, buy_cid, sell_cid in out.trades:
            self.fills.setdefault(buy.team_id, []).append((buy, buy_cid))
            self.fills.setdefault(sell.team_id, []).append((sell, sell_cid))
        if self.durable_ledger is not None:
            self._book_durable(out)
        for tap in self.taps:
            try:
                tap(out)
            except Exception:  # an onlooker's fault must not hold back the messages
                log.exception("a publisher tap failed")
        for reply, value in out.answers:
            answer(reply, value)
        if out.done is not None and not out.done.done():
            out.done.set_result(None)

    def _book_durable(self, out: Outbox) -> None:
        """What `publish` booked in the live ledger, now in the durable one, the way a
        restart rebuilds it (`Account.book` with the fees the trade paid)."""
        for trade, buy, sell, _, _ in out.trades:
            mult = multiplier_of(trade.instrument_id)
            for fill, signed in ((buy, trade.quantity), (sell, -trade.quantity)):
                account = self.durable_account(fill.team_id)
                account.book(trade.instrument_id, signed, trade.price, mult, fill.fee_ticks)
        for settled in out.settlements:
            account = self.durable_account(settled.team_id)
            mult = multiplier_of(settled.instrument_id)
            account.book(settled.instrument_id, -settled.quantity, settled.value_ticks, mult, 0)
        assert self.durable_ledger is not None
        for instrument_id in out.expired:
            for account in self.durable_ledger.accounts():
                account.positions.pop(instrument_id, None)
                account.open_costs.pop(instrument_id, None)

    def team_fills(
        self, team_id: TeamId, since_trade_id: int = 0, limit: int | None = None
    ) -> list[tuple[Fill, str | None]]:
        """The team's fills with a trade id above `since_trade_id`, oldest first."""
        fills = self.fills.get(team_id, [])
        start = bisect.bisect_right(fills, since_trade_id, key=lambda f: f[0].trade_id)
        return fills[start : None if limit is None else start + limit]


class Publisher:
    def __init__(
        self,
        session: TradingSession,
        queue: asyncio.Queue[Matched],
        release: Callable[[Outbox], None],
        sink: Sink | None,
    ) -> None:
        self.session = session
        self.queue = queue
        self.release = release
        """Sends a durable outbox (`Release.release`)."""
        self.sink = sink
        """The writer's intake when the game has a database; None releases at once."""
        self.orders: dict[OrderId, Order] = {}
        """Orders not yet ended, so reports about them can name their quantity and ids."""

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                outbox = self.publish(item)
            except Exception:
                log.exception("publisher failed on an outcome", extra={"kind": item.kind})
                if item.held is not None and not item.held[0].done():
                    item.held[0].set_exception(RuntimeError("internal error in the publisher"))
                continue
            if self.sink is None:
                self.release(outbox)
            else:
                await self.sink(outbox)

    def publish(self, item: Matched) -> Outbox:
        """Book what the matcher did and write down what to tell whom."""
        out = Outbox()
        if item.held is not None:
            out.answers.append(item.held)
        if item.arrival is not None:
            out.rows.append(("arrivals", item.arrival))
        match item:
            case OrderPlaced(result=result):
                if result.order is not None:
                    self._ack(out, result.order)
                self._trades(out, result.trades)
                self._cancels(out, result.cancels)
            case QuotePlaced(result=quote):
                self._cancels(out, quote.cancels)
                for leg in (quote.bid, quote.ask):
                    if leg is not None:
                        self._ack(out, leg)
                self._trades(out, quote.trades)
            case OrderCancelledOne(result=result):
                self._cancels(out, result.cancels)
            case TeamCancelled(events=events):
                self._cancels(out, events)
            case PhaseEntered(change=change):
                self._trades(out, change.trades)
                self._cancels(out, change.cancels)
            case Expired(expiry=expiry):
                self._expire(out, expiry)
            case VenueRefused(result=result):
                self._refused(out, result)
            case VenueChanged():
                pass
            case _:
                assert_never(item)
        return out

    async def durable(self, out: Outbox | None = None) -> None:
        """Return once `out` (or, by default, everything published so far) is durable:
        outboxes are released in order, so an empty one marks the point."""
        out = out or Outbox()
        if self.sink is None:
            self.release(out)
            return
        out.done = asyncio.get_running_loop().create_future()
        await self.sink(out)
        await out.done

    def _refused(self, out: Outbox, result: OrderResult) -> None:
        """The validator accepted it, then the venue refused it (the phase moved on)."""
        order = result.order
        if order is not None:
            code, message = result.error_code or "", result.error_message or ""
            report = views.reject_report(order, code, message)
            out.messages.append((order.team_id, "execution_report", report))

    def _ack(self, out: Outbox, order: Order) -> None:
        self.orders[order.order_id] = order
        out.orders.append(order)
        out.touched.add(order.instrument_id)
        out.messages.append((order.team_id, "new_order_ack", views.ack_report(order)))

    def _trades(self, out: Outbox, trades: list[Trade]) -> None:
        ledger = self.session.ledger
        for trade in trades:
            buy, sell = ledger.apply(trade)
            buy_cid = self._report(out, trade.buy_order_id, trade, buy)
            sell_cid = self._report(out, trade.sell_order_id, trade, sell)
            out.trades.append((trade, buy, sell, buy_cid, sell_cid))
            out.prints.append(views.trade_print(trade))
            out.touched.add(trade.instrument_id)

    def _report(self, out: Outbox, order_id: OrderId, trade: Trade, fill: Fill) -> str | None:
        """Queue one side's execution report and position update; its client order id."""
        order = self.orders.get(order_id)
        if order is not None:
            report = views.trade_report(order, trade, fill)
            out.messages.append((fill.team_id, "execution_report", report))
            if report.remaining == 0:
                del self.orders[order_id]
        account = self.session.ledger.account(fill.team_id)
        update = views.position_update(account, fill.instrument_id)
        out.messages.append((fill.team_id, "position_update", update))
        return None if order is None else order.client_order_id

    def _cancels(self, out: Outbox, events: list[OrderCancelled]) -> None:
        for event in events:
            order = self.orders.pop(event.order_id, None)
            if order is not None:
                report = views.cancel_report(order, event)
                out.messages.append((event.team_id, "order_cancelled", report))
            out.cancels.append(event)
            out.touched.add(event.instrument_id)

    def _expire(self, out: Outbox, expiry: Expire) -> None:
        """Cancel what rested, then cash-settle every position at intrinsic value."""
        self._cancels(out, expiry.cancels)
        out.expired.append(expiry.instrument_id)
        ledger = self.session.ledger
        for settled in ledger.settle(expiry.instrument_id, expiry.value, expiry.at):
            out.messages.append((settled.team_id, "settlement", views.settlement(settled)))
            account = ledger.account(settled.team_id)
            update = views.position_update(account, settled.instrument_id)
            out.messages.append((settled.team_id, "position_update", update))
            out.rows.append(("settlements", rows.settlement_row(settled)))
            out.settlements.append(settled)
        if not expiry.settled.done():
            expiry.settled.set_result(None)
