"""`/orders`, `/quotes`, `/fills` and `/dead-mans-switch`: a team's orders (SPEC section 8).

Each request goes down the pipeline (`Api.submit`, `Api.enqueue`) and is answered once
its arrival is committed. The stream's order entry (`web/stream_orders.py`) makes the
very same calls: `place_order`, `place_quote`, `cancel_order`, `cancel_orders`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from exchange.domain.orders import NewOrder, NewQuote, OrderCancelled, OrderResult
from exchange.domain.types import NS_PER_SECOND, InstrumentId, OrderId, OrderType
from exchange.domain.validation import OrderRefusal
from exchange.pipeline.items import Accepted, Cancel, CancelTeam, Refused
from exchange.teams import Team
from exchange.web.game import Game
from exchange.web.http import Api, Handler, answer
from exchange.wire import views
from exchange.wire.codec import (
    decode,
    parse_order_id,
    price_ticks,
    whole_number,
)
from exchange.wire.errors import ApiError, status_of
from exchange.wire.models import (
    CancelAck,
    CancelAllAck,
    DeadMansSwitchRequest,
    DeadMansSwitchView,
    OrderAck,
    OrderRequest,
    QuoteAck,
    QuoteRequest,
)

FILLS_PAGE, MAX_FILLS_PAGE = 1000, 10_000
"""`GET /fills` answers at most a page; `since_trade_id` pages on from the last one."""


class Orders:
    """A team's orders: placed, quoted, cancelled, listed, filled."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exchange: Game = api.exchange

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/orders", self.api.measured(self.post_order)),
            ("DELETE", "/orders", self.cancel_all),
            ("GET", "/orders", self.open_orders),
            ("DELETE", "/orders/{order_id}", self.cancel_one),
            ("POST", "/quotes", self.api.measured(self.post_quote)),
            ("GET", "/fills", self.fills),
            ("POST", "/dead-mans-switch", self.dead_mans_switch),
        ]

    async def post_order(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        req = decode(await self.api.body(request), OrderRequest)
        data = await self.place_order(team, req, request_id)
        return answer(data, req.request_id or request_id, 201, data.order_id)

    async def place_order(self, team: Team, req: OrderRequest, request_id: str) -> OrderAck:
        """An order through the pipeline, answered once its arrival is committed (REST
        and the stream alike); ApiError for a refusal."""
        order = to_new_order(req, team)
        outcome = await self.api.submit(team, order, req.request_id or request_id, req.request_id)
        order_id = str(self.accepted_or_raise(outcome).order_ids[0])
        return OrderAck(
            order_id, order.instrument_id, order.side, order.order_type.value, order.quantity,
            req.price, "accepted", order.client_order_id,
        )  # fmt: skip

    async def post_quote(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        req = decode(await self.api.body(request), QuoteRequest)
        data = await self.place_quote(team, req, request_id)
        return answer(data, req.request_id or request_id, 201, data.bid_order_id)

    async def place_quote(self, team: Team, req: QuoteRequest, request_id: str) -> QuoteAck:
        quote = NewQuote(
            team.team_id, InstrumentId(req.instrument_id), price_ticks(req.bid_price, "bid_price"),
            req.bid_quantity, price_ticks(req.ask_price, "ask_price"), req.ask_quantity,
        )  # fmt: skip
        outcome = await self.api.submit(team, quote, req.request_id or request_id, req.request_id)
        bid_id, ask_id = (str(i) for i in self.accepted_or_raise(outcome).order_ids)
        return QuoteAck(
            req.instrument_id, bid_id, ask_id, req.bid_price, req.bid_quantity, req.ask_price,
            req.ask_quantity, "accepted",
        )  # fmt: skip

    def accepted_or_raise(self, outcome: Accepted | Refused) -> Accepted:
        if isinstance(outcome, Accepted):
            return outcome
        raise refusal_error(outcome.rejection, outcome.retry_after_ns)

    async def cancel_one(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        ack = await self.cancel_order(team, request.path_params["order_id"], request_id)
        return answer(ack, request_id, 200, ack.order_id)

    async def cancel_order(self, team: Team, order_text: str, request_id: str) -> CancelAck:
        """Take one of the team's orders out of its book; ApiError if it cannot."""
        order_id = parse_order_id(order_text)
        if order_id is None:
            raise ApiError("ORDER_NOT_FOUND", "no open order with that id")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.api.enqueue(Cancel(team.team_id, OrderId(order_id), reply, request_id))
        result = await reply
        if result is None:
            raise ApiError("ORDER_NOT_FOUND", f"no open order {order_id}")
        if isinstance(result, OrderRefusal):
            raise refusal_error(result)
        assert isinstance(result, OrderResult)
        if not result.accepted:
            raise ApiError(result.error_code or "ORDER_NOT_FOUND", result.error_message or "")
        return cancel_ack(result.cancels[0])

    async def cancel_all(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        instrument = request.query_params.get("instrument_id")
        return answer(await self.cancel_orders(team, instrument, request_id), request_id)

    async def cancel_orders(
        self, team: Team, instrument: str | None, request_id: str
    ) -> CancelAllAck:
        """Take the team's open orders (of one instrument, if named) out of the books."""
        if instrument is not None and instrument not in self.exchange.venue.instruments:
            raise ApiError("INVALID_INSTRUMENT", f"unknown instrument {instrument!r}")
        closed = self.exchange.venue.cancel_refusal()
        if closed is not None:
            raise ApiError(closed.error_code or "MARKET_CLOSED", closed.error_message or "")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        target = None if instrument is None else InstrumentId(instrument)
        self.api.enqueue(CancelTeam(team.team_id, target, reply, request_id))
        result = await reply
        if isinstance(result, OrderRefusal):
            raise refusal_error(result)
        acks = [cancel_ack(e) for e in sorted(result, key=lambda e: e.order_id)]
        return CancelAllAck(acks, len(acks))

    async def open_orders(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        e = self.exchange
        working = e.venue.open_orders(team.team_id) + e.inflight.pending(team.team_id)
        working.sort(key=lambda o: o.order_id)
        return answer([views.order_view(o) for o in working], request_id)

    async def fills(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        since = whole_number(request.query_params.get("since_trade_id", "0"))
        if since is None:
            raise ApiError(
                "INVALID_FIELD",
                "since_trade_id must be a whole number",
                {"field": "since_trade_id"},
            )
        limit = whole_number(request.query_params.get("limit", str(FILLS_PAGE)))
        if limit is None or not 1 <= limit <= MAX_FILLS_PAGE:
            message = f"limit must be 1 to {MAX_FILLS_PAGE}"
            raise ApiError("INVALID_FIELD", message, {"field": "limit"})
        fills = self.exchange.release.team_fills(team.team_id, since, limit)
        # Only released fills are listed: a fill is served once it is durable.
        return answer([views.fill_view(f, cid) for f, cid in fills], request_id)

    async def dead_mans_switch(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        req = decode(await self.api.body(request), DeadMansSwitchRequest)
        self.exchange.watchdog.arm(team.team_id, req.cancel_after)
        return answer(DeadMansSwitchView(req.cancel_after, req.cancel_after > 0), request_id)


def to_new_order(req: OrderRequest, team: Team) -> NewOrder:
    market = req.order_type == "market" or (req.order_type is None and req.price is None)
    if market and req.price is not None:
        raise ApiError("INVALID_PRICE", "a market order takes no price", {"field": "price"})
    if not market and req.price is None:
        raise ApiError("INVALID_PRICE", "a limit order needs a price", {"field": "price"})
    price = None if req.price is None else price_ticks(req.price)
    kind = OrderType.MARKET if market else OrderType.LIMIT
    return NewOrder(
        team.team_id, InstrumentId(req.instrument_id), req.side, req.quantity, price, kind,
        req.client_order_id,
    )  # fmt: skip


def refusal_error(rejection: OrderRefusal, retry_after_ns: int = 0) -> ApiError:
    headers = {}
    if rejection.code == "RATE_LIMIT_EXCEEDED":
        headers["Retry-After"] = str(max(1, -(-retry_after_ns // NS_PER_SECOND)))
    details = dict(rejection.details)
    if retry_after_ns:
        details["retry_after_ms"] = -(-retry_after_ns // 1_000_000)
    status = refusal_status(rejection)
    return ApiError(rejection.code, rejection.message, details, headers, status)


def refusal_status(rejection: OrderRefusal) -> int:
    if rejection.constraint == "venue" or rejection.code in (
        "RATE_LIMIT_EXCEEDED",
        "SERVICE_UNAVAILABLE",
    ):
        return status_of(rejection.code)
    return 422


def cancel_ack(event: OrderCancelled) -> CancelAck:
    return CancelAck(
        str(event.order_id), event.instrument_id, "cancelled", event.quantity, event.filled,
        event.client_order_id,
    )  # fmt: skip
