"""The trade publisher task: TradeQueue -> ledger (positions, cash, fees) -> reports.

For every matcher outcome it books the trades, then tells each owner what happened to
its orders in order (ack, fills, cancels), updates positions, prints public trades and
marks the instrument for market data. It keeps each live order until the order ends, so
every execution report states `quantity == filled + remaining` exactly, and each team's
fills for `GET /fills`.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable

from exchange.domain.orders import Order, OrderCancelled, OrderResult, QuoteResult, Trade
from exchange.domain.positions import Fill
from exchange.domain.session import TradingSession
from exchange.domain.types import InstrumentId, OrderId, TeamId
from exchange.domain.venue import PhaseChanged
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.work import Matched
from exchange.wire import views

log = logging.getLogger("exchange.publisher")


class Publisher:
    def __init__(
        self,
        session: TradingSession,
        fanout: Fanout,
        queue: asyncio.Queue[Matched],
        on_fills: Callable[[list[Fill]], None] | None = None,
    ) -> None:
        self.session = session
        self.fanout = fanout
        self.queue = queue
        self.on_fills = on_fills
        self.orders: dict[OrderId, Order] = {}
        """Orders not yet ended, so reports about them can name their quantity and ids."""
        self.fills: dict[TeamId, list[tuple[Fill, str | None]]] = {}
        """Each team's fills with the client order id of the order filled."""
        self.trades = 0

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                self.publish(item)
            except Exception:
                log.exception("publisher failed on an outcome", extra={"kind": item.kind})

    def publish(self, item: Matched) -> None:
        result = item.result
        if isinstance(result, PhaseChanged):
            self._trades(result.trades)
            self._cancels(result.cancels)
        elif isinstance(result, QuoteResult):
            self._cancels(result.cancels)
            for leg in (result.bid, result.ask):
                if leg is not None:
                    self._ack(leg)
            self._trades(result.trades)
        elif isinstance(result, OrderResult):
            self._order(item.kind, result)
        else:
            self._cancels(result)

    def _order(self, kind: str, result: OrderResult) -> None:
        order = result.order
        if kind == "order" and order is None:
            return  # refused by the venue: reported by _refused in the matcher's reply
        if kind == "order" and order is not None:
            self._ack(order)
        self._trades(result.trades)
        self._cancels(result.cancels)

    def refused(self, order: Order, code: str, message: str) -> None:
        """A request the validator accepted that the venue then refused (phase moved on)."""
        self.fanout.stream(
            order.team_id, "execution_report", views.reject_report(order, code, message)
        )

    def _ack(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.fanout.touch(order.instrument_id)
        self.fanout.stream(order.team_id, "new_order_ack", views.ack_report(order))

    def _trades(self, trades: list[Trade]) -> None:
        if not trades:
            return
        ledger = self.session.ledger
        booked: list[Fill] = []
        for trade in trades:
            buy, sell = ledger.apply(trade)
            booked += (buy, sell)
            self._report(trade.buy_order_id, trade, buy)
            self._report(trade.sell_order_id, trade, sell)
            self.fanout.print_trade(views.trade_print(trade))
        self.trades += len(trades)
        self.fanout.touch(trades[0].instrument_id)
        if self.on_fills is not None:
            self.on_fills(booked)

    def _report(self, order_id: OrderId, trade: Trade, fill: Fill) -> None:
        order = self.orders.get(order_id)
        client_order_id = None if order is None else order.client_order_id
        self.fills.setdefault(fill.team_id, []).append((fill, client_order_id))
        if order is not None:
            report = views.trade_report(order, trade, fill)
            self.fanout.stream(fill.team_id, "execution_report", report)
            if report.remaining == 0:
                self._forget(order_id)
        account = self.session.ledger.account(fill.team_id)
        update = views.position_update(account, fill.instrument_id)
        self.fanout.stream(fill.team_id, "position_update", update)

    def _cancels(self, events: list[OrderCancelled]) -> None:
        touched: set[InstrumentId] = set()
        for event in events:
            order = self.orders.get(event.order_id)
            if order is not None:
                report = views.cancel_report(order, event)
                self.fanout.stream(event.team_id, "order_cancelled", report)
                self._forget(event.order_id)
            touched.add(event.instrument_id)
        for instrument_id in touched:
            self.fanout.touch(instrument_id)

    def _forget(self, order_id: OrderId) -> None:
        self.orders.pop(order_id, None)

    def team_fills(
        self, team_id: TeamId, since_trade_id: int = 0, limit: int | None = None
    ) -> list[tuple[Fill, str | None]]:
        """The team's fills with a trade id above `since_trade_id`, oldest first."""
        fills = self.fills.get(team_id, [])
        start = bisect.bisect_right(fills, since_trade_id, key=lambda f: f[0].trade_id)
        return fills[start : None if limit is None else start + limit]
