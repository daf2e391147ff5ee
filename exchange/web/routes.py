"""REST endpoints (SPEC section 8): decode, authenticate, enqueue, await, encode.

Every handler answers in the one envelope. An `ApiError` raised anywhere below becomes
an error envelope with the status its code implies; an authenticated answer also says
how much of the team's order budget is left (`X-RateLimit-Limit`, `-Remaining`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, overload

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.domain.fees import NO_FEES
from exchange.domain.orders import NewOrder, NewQuote, OrderCancelled, OrderResult
from exchange.domain.phases import PHASE_RULES
from exchange.domain.types import NS_PER_SECOND, InstrumentId, OrderId, OrderType, Role, TeamId
from exchange.domain.validation import Rejection
from exchange.pipeline.items import Accepted, Cancel, CancelTeam, Refused, Submit
from exchange.pipeline.writer import StorageFailing
from exchange.teams import NameTaken, Team
from exchange.web.game import Game
from exchange.wire import views
from exchange.wire.codec import (
    decode,
    failed,
    game_time,
    ok,
    parse_order_id,
    price_out,
    price_ticks,
    whole_number,
)
from exchange.wire.errors import ApiError, status_of
from exchange.wire.models import (
    CancelAck,
    CancelAllAck,
    DeadMansSwitchRequest,
    DeadMansSwitchView,
    HealthView,
    OrderAck,
    OrderRequest,
    PricesView,
    QuoteAck,
    QuoteRequest,
    Registered,
    RegisterRequest,
)

log = logging.getLogger("exchange.api")

JSON = "application/json"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FILLS_PAGE, MAX_FILLS_PAGE = 1000, 10_000
"""`GET /fills` answers at most a page; `since_trade_id` pages on from the last one."""
Handler = Callable[[Request, str], Awaitable[Response]]
Remembered = tuple[NewOrder | NewQuote, "asyncio.Future[Accepted | Refused]"]
"""What a `request_id` named: the request, and the answer it got (or will get)."""


_REQUEST_PREFIX = secrets.token_hex(4)
"""Drawn once per process, so ids stay unique across restarts of the server."""
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    """16 hex digits: the process's random prefix and a counter (no syscall per
    request, unlike drawing each id from the system's random source)."""
    return f"{_REQUEST_PREFIX}{next(_request_numbers) & 0xFFFFFFFF:08x}"


@overload
def header(request: Request, name: bytes) -> str | None: ...


@overload
def header(request: Request, name: bytes, default: str) -> str: ...


def header(request: Request, name: bytes, default: str | None = None) -> str | None:
    """The first value of a request header (`name` in lower case), like Starlette's
    `request.headers.get` but from a dict made once per request: the order route reads
    four headers, and each `headers.get` walks the whole list."""
    scope = request.scope
    found: dict[bytes, bytes] | None = scope.get("exchange.headers")
    if found is None:
        found = scope["exchange.headers"] = dict(reversed(scope["headers"]))
    value = found.get(name)
    return default if value is None else value.decode("latin-1")


def answer(
    data: Any, request_id: str, status: int = 200, order_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    return Response(ok(data, request_id, order_id), status, headers, JSON)


class Api:
    def __init__(self, exchange: Game) -> None:
        self.exchange = exchange
        self.max_body = exchange.config.server.max_body_bytes
        self.remembered: dict[TeamId, OrderedDict[str, Remembered]] = {}
        self.is_admin: Callable[[Request], bool] = lambda request: False
        """Whether a request carries the right admin token (set by `/admin`'s routes)."""

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/health", self.health),
            ("POST", "/auth/register", self.register),
            ("POST", "/orders", self.measured(self.post_order)),
            ("DELETE", "/orders", self.cancel_all),
            ("GET", "/orders", self.open_orders),
            ("DELETE", "/orders/{order_id}", self.cancel_one),
            ("POST", "/quotes", self.measured(self.post_quote)),
            ("GET", "/fills", self.fills),
            ("GET", "/account", self.account),
            ("GET", "/positions/{team_id}", self.positions),
            ("GET", "/market/prices", self.prices),
            ("GET", "/market/book/{instrument_id}", self.book),
            ("GET", "/market/history", self.history),
            ("GET", "/instruments", self.instruments),
            ("POST", "/dead-mans-switch", self.dead_mans_switch),
            ("GET", "/leaderboard", self.leaderboard),
            ("GET", "/analytics/{team_id}", self.analytics),
        ]
        # One Route per path, so a 405 names every method the path takes in `Allow`
        # (with a Route per method, Starlette's 405 names only the first one's).
        by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
        for method, path, handler in table:
            by_path.setdefault(path, {})[method] = self.endpoint(handler)
        return [
            Route(path, _dispatch(endpoints), methods=list(endpoints))
            for path, endpoints in by_path.items()
        ]

    def measured(self, handler: Handler) -> Handler:
        """The handler of an order route, timed from entry to answer and counted by
        outcome and error code (`exchange_order_answer_seconds`, `exchange_orders`)."""
        metrics = self.exchange.metrics

        async def run(request: Request, request_id: str) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request, request_id)
            except ApiError as exc:
                metrics.answered(started, exc.code)
                raise
            metrics.answered(started, "")
            return response

        return run

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Give the handler a request id, turn ApiErrors into envelopes, log one line."""

        async def run(request: Request) -> Response:
            request_id = header(request, b"x-request-id", "")
            if not 0 < len(request_id) <= 64 or not request_id.isprintable():
                request_id = new_request_id()
            started = time.perf_counter()
            try:
                response = await handler(request, request_id)
            except ApiError as exc:
                response = Response(failed(exc, request_id), exc.status, exc.headers, JSON)
            team = request.scope.get("team")
            if team is not None:
                response.raw_headers += self.budget(team)
            if log.isEnabledFor(logging.INFO):  # the line costs more than a fast request
                log.info(
                    "request",
                    extra={
                        "request_id": request_id, "method": request.method,
                        "path": request.url.path, "status": response.status_code,
                        "team_id": team.team_id if team else None,
                        "ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )  # fmt: skip
            return response

        return run

    # -- helpers ----------------------------------------------------------------------

    def auth(self, request: Request) -> Team:
        team = self.exchange.teams.authenticate(header(request, b"x-api-key"))
        if team is None:
            raise ApiError("UNAUTHORIZED", "missing or wrong X-API-Key")
        if self.exchange.control.disabled(team.team_id):
            raise ApiError("TEAM_DISABLED", "the organiser has disabled this team")
        request.scope["team"] = team
        self.exchange.watchdog.seen(team.team_id)
        return team

    def budget(self, team: Team) -> list[tuple[bytes, bytes]]:
        """The rate limit headers, as raw header lines (the response is already built,
        and no handler sets these)."""
        window = self.exchange.session.windows[team.team_id]
        now = self.exchange.clock.rate_ns()
        return [
            (b"x-ratelimit-limit", b"%d" % window.limit),
            (b"x-ratelimit-remaining", b"%d" % window.remaining(now)),
        ]

    def refuse_while_renewing(self) -> None:
        if self.exchange.renewing:
            message = "a new round is being set up; retry in a moment"
            raise ApiError("SERVICE_UNAVAILABLE", message, headers={"Retry-After": "1"})

    async def body(self, request: Request) -> bytes:
        """The request body, refused with 413 past the limit (declared or streamed), and
        with 415 when it is declared as something other than JSON."""
        media = header(request, b"content-type", JSON).split(";")[0].strip().lower()
        if media != JSON and not media.endswith("+json"):
            raise ApiError(
                "UNSUPPORTED_MEDIA_TYPE", f"the body must be {JSON}, not {media or 'empty'!r}"
            )
        declared = whole_number(header(request, b"content-length", ""), 30)
        if declared is not None and declared > self.max_body:
            raise ApiError("PAYLOAD_TOO_LARGE", f"the body may be at most {self.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise ApiError(
                    "PAYLOAD_TOO_LARGE", f"the body may be at most {self.max_body} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def enqueue(self, item: Any) -> None:
        self.refuse_while_renewing()
        try:
            self.exchange.orders.put_nowait(item)
        except asyncio.QueueFull:
            raise ApiError("SERVICE_UNAVAILABLE", "the exchange is busy; retry shortly") from None

    async def submit(
        self, team: Team, request: NewOrder | NewQuote, request_id: str, key: str | None
    ) -> Accepted | Refused:
        """Send a request down the pipeline once per `key` (request_id): a retry with the
        same key awaits the first one's answer instead of placing a second order.

        A key names one request: reused for a different one it is an error, not a silent
        replay of the first. A refusal placed nothing, so it is not remembered: a retry
        after a 429 (or once the position allows it) is judged afresh."""
        remembered = self.remembered.setdefault(team.team_id, OrderedDict())
        if key is not None and key in remembered:
            first, pending = remembered[key]
            if first != request:
                raise ApiError(
                    "INVALID_FIELD",
                    f"request_id {key!r} was already used for a different request",
                    {"field": "request_id"},
                )
            return await asyncio.shield(pending)
        reply: asyncio.Future[Accepted | Refused] = asyncio.get_running_loop().create_future()
        self.enqueue(Submit(request, reply, request_id, on_commit=True))
        if key is not None:
            remembered[key] = (request, reply)
            if len(remembered) > self.exchange.config.server.idempotency_keys:
                remembered.popitem(last=False)
        try:
            outcome = await asyncio.shield(reply)
        except Exception:
            _forget(remembered, key, reply)
            raise
        if isinstance(outcome, Refused):
            _forget(remembered, key, reply)
        return outcome

    # -- endpoints --------------------------------------------------------------------

    async def health(self, request: Request, request_id: str) -> Response:
        e = self.exchange
        database = None if e.writer is None else e.writer.health()
        failing = e.supervisor.failing()
        if database is not None:
            database["last_error"] = without_paths(database["last_error"])
            if not database["ok"]:
                failing.append("database")
        game = e.control.status()
        data = HealthView(
            "degraded" if failing else "ok", e.venue.phase.value,
            game_time(e.clock.now()), getattr(e.clock, "speed", 1.0), len(e.teams),
            e.fanout.connections(), e.queue_depths(),
            {k: v for k, v in e.supervisor.restarts.items() if v}, database,
            game.state, game.paused, game.stopped, game.halted, game.next_open, failing,
        )  # fmt: skip
        return answer(data, request_id)

    async def register(self, request: Request, request_id: str) -> Response:
        req = decode(await self.body(request), RegisterRequest)
        self.refuse_while_renewing()
        refusal = self.exchange.control.registration_refusal()
        if refusal is not None:
            raise ApiError(refusal.code, refusal.message, refusal.details)
        try:
            role = self.exchange.control.role_for(Role(req.role))
            team, key = await self.exchange.register(req.team_name, role)
        except NameTaken:
            raise ApiError("TEAM_NAME_TAKEN", f"the name {req.team_name!r} is taken") from None
        except StorageFailing:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                "the exchange cannot write to its database; registration is closed until it can",
            ) from None
        return answer(Registered(team.team_id, team.name, team.role.value, key), request_id, 201)

    async def post_order(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        req = decode(await self.body(request), OrderRequest)
        data = await self.place_order(team, req, request_id)
        return answer(data, req.request_id or request_id, 201, data.order_id)

    async def place_order(self, team: Team, req: OrderRequest, request_id: str) -> OrderAck:
        """An order through the pipeline, answered once its arrival is committed (REST
        and the stream alike); ApiError for a refusal."""
        order = to_new_order(req, team)
        outcome = await self.submit(team, order, req.request_id or request_id, req.request_id)
        order_id = str(self.accepted_or_raise(outcome).order_ids[0])
        return OrderAck(
            order_id, order.instrument_id, order.side, order.order_type.value, order.quantity,
            req.price, "accepted", order.client_order_id,
        )  # fmt: skip

    async def post_quote(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        req = decode(await self.body(request), QuoteRequest)
        data = await self.place_quote(team, req, request_id)
        return answer(data, req.request_id or request_id, 201, data.bid_order_id)

    async def place_quote(self, team: Team, req: QuoteRequest, request_id: str) -> QuoteAck:
        quote = NewQuote(
            team.team_id, InstrumentId(req.instrument_id), price_ticks(req.bid_price, "bid_price"),
            req.bid_quantity, price_ticks(req.ask_price, "ask_price"), req.ask_quantity,
        )  # fmt: skip
        outcome = await self.submit(team, quote, req.request_id or request_id, req.request_id)
        bid_id, ask_id = (str(i) for i in self.accepted_or_raise(outcome).order_ids)
        return QuoteAck(
            req.instrument_id, bid_id, ask_id, req.bid_price, req.bid_quantity, req.ask_price,
            req.ask_quantity, "accepted",
        )  # fmt: skip

    def accepted_or_raise(self, outcome: Accepted | Refused) -> Accepted:
        if isinstance(outcome, Accepted):
            return outcome
        raise rejection_error(outcome.rejection, outcome.retry_after_ns)

    async def cancel_one(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        ack = await self.cancel_order(team, request.path_params["order_id"], request_id)
        return answer(ack, request_id, 200, ack.order_id)

    async def cancel_order(self, team: Team, order_text: str, request_id: str) -> CancelAck:
        """Take one of the team's orders out of its book; ApiError if it cannot."""
        order_id = parse_order_id(order_text)
        if order_id is None:
            raise ApiError("ORDER_NOT_FOUND", "no open order with that id")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.enqueue(Cancel(team.team_id, OrderId(order_id), reply, request_id))
        result = await asyncio.shield(reply)
        if result is None:
            raise ApiError("ORDER_NOT_FOUND", f"no open order {order_id}")
        if isinstance(result, Rejection):
            raise rejection_error(result)
        assert isinstance(result, OrderResult)
        if not result.accepted:
            raise ApiError(result.error_code or "ORDER_NOT_FOUND", result.error_message or "")
        return cancel_ack(result.cancels[0])

    async def cancel_all(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        instrument = request.query_params.get("instrument_id")
        return answer(await self.cancel_orders(team, instrument, request_id), request_id)

    async def cancel_orders(
        self, team: Team, instrument: str | None, request_id: str
    ) -> CancelAllAck:
        """Take the team's open orders (of one instrument, if named) out of the books."""
        if instrument is not None and instrument not in self.exchange.venue.instruments:
            raise ApiError("INVALID_INSTRUMENT", f"unknown instrument {instrument!r}")
        phase = self.exchange.venue.phase
        if not PHASE_RULES[phase].cancel:
            raise ApiError("MARKET_CLOSED", f"cancels are not accepted in {phase}")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        target = None if instrument is None else InstrumentId(instrument)
        self.enqueue(CancelTeam(team.team_id, target, reply, request_id))
        result = await asyncio.shield(reply)
        if isinstance(result, Rejection):
            raise rejection_error(result)
        acks = [cancel_ack(e) for e in sorted(result, key=lambda e: e.order_id)]
        return CancelAllAck(acks, len(acks))

    async def open_orders(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        e = self.exchange
        working = e.venue.open_orders(team.team_id) + e.inflight.pending(team.team_id)
        working.sort(key=lambda o: o.order_id)
        return answer([views.order_view(o) for o in working], request_id)

    async def fills(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
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

    async def account(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        config = self.exchange.config
        constraints = config.constraints().get(team.role, [])
        fees = config.fees().get(team.role, NO_FEES)
        data = views.account_view((team.team_id, team.name, team.role.value), constraints, fees)
        return answer(data, request_id)

    async def positions(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        # The accounts as of the last commit, so an answer never shows a fill that a
        # crash could take back; first let what is booked commit, unless writes fail.
        await self.exchange.caught_up()
        wanted = request.path_params["team_id"]
        if wanted != team.team_id:
            if self.exchange.team(TeamId(wanted)) is None:
                raise ApiError("NOT_FOUND", f"no team {wanted!r}")
            raise ApiError("FORBIDDEN", "a team sees only its own positions")
        e = self.exchange
        account = e.release.durable_account(team.team_id)
        return answer(views.positions_view(account, e.venue.instruments, e.marks()), request_id)

    async def leaderboard(self, request: Request, request_id: str) -> Response:
        return answer(self.exchange.scores.leaderboard(), request_id)

    async def analytics(self, request: Request, request_id: str) -> Response:
        """A team's post-game analytics (markouts, fees, timeline): its own only, or any
        team's with the admin token."""
        wanted = request.path_params["team_id"]
        if not self.is_admin(request):
            team = self.auth(request)
            if wanted != team.team_id:
                if self.exchange.team(TeamId(wanted)) is None:
                    raise ApiError("NOT_FOUND", f"no team {wanted!r}")
                raise ApiError("FORBIDDEN", "a team sees only its own analytics")
        elif self.exchange.team(TeamId(wanted)) is None:
            raise ApiError("NOT_FOUND", f"no team {wanted!r}")
        report = self.exchange.scores.report(TeamId(wanted))
        if report is None:
            raise ApiError("NOT_FOUND", f"no scores for team {wanted!r} yet")
        return answer(report, request_id)

    async def prices(self, request: Request, request_id: str) -> Response:
        e, venue = self.exchange, self.exchange.venue
        lines = [
            views.price_line(
                book, venue.book_phase[i], venue.last_price.get(i), venue.reference(i)
            )
            for i, book in venue.books.items()
        ]
        underlyings: dict[str, float | None] = {
            i.id: price_out(venue.reference(i.id))
            for i in venue.instruments.values()
            if not i.is_option
        }
        data = PricesView(venue.phase.value, game_time(e.clock.now()), underlyings, lines)
        return answer(data, request_id)

    async def history(self, request: Request, request_id: str) -> Response:
        """The day's public market so far (for a dashboard opened late), from `since`."""
        since = request.query_params.get("since")
        since_ns = None if since is None else _game_ns(since)
        return answer(self.exchange.history.since(since_ns), request_id)

    async def book(self, request: Request, request_id: str) -> Response:
        venue = self.exchange.venue
        instrument = request.path_params["instrument_id"]
        if instrument not in venue.books:
            raise ApiError("NOT_FOUND", f"unknown instrument {instrument!r}")
        depth = whole_number(request.query_params.get("depth", "5"), 2)
        if depth is None or not 1 <= depth <= 50:
            raise ApiError("INVALID_FIELD", "depth must be 1 to 50", {"field": "depth"})
        i = InstrumentId(instrument)
        data = views.book_view(
            venue.books[i], depth, venue.book_phase[i], venue.last_price.get(i),
            venue.reference(i),
        )  # fmt: skip
        return answer(data, request_id)

    async def instruments(self, request: Request, request_id: str) -> Response:
        listed = self.exchange.venue.instruments.values()
        return answer([views.instrument_view(i) for i in listed], request_id)

    async def dead_mans_switch(self, request: Request, request_id: str) -> Response:
        team = self.auth(request)
        req = decode(await self.body(request), DeadMansSwitchRequest)
        self.exchange.watchdog.arm(team.team_id, req.cancel_after)
        return answer(DeadMansSwitchView(req.cancel_after, req.cancel_after > 0), request_id)


def _game_ns(text: str) -> int:
    """An ISO 8601 moment with its zone (`2026-12-01T14:30:00Z`) as game nanoseconds."""
    try:
        moment = dt.datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        message = "since must be an ISO 8601 time with its zone, e.g. 2026-12-01T14:30:00Z"
        raise ApiError("INVALID_FIELD", message, {"field": "since"})
    return (moment - EPOCH) // dt.timedelta(microseconds=1) * 1000


def _forget(remembered: OrderedDict[str, Remembered], key: str | None, reply: Any) -> None:
    """Drop `key` if it still names this reply (it may have been evicted or replaced)."""
    if key is not None and (entry := remembered.get(key)) is not None and entry[1] is reply:
        del remembered[key]


def _dispatch(
    endpoints: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for a path: the handler of the request's method (HEAD is a GET)."""

    async def run(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return run


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


def rejection_error(rejection: Rejection, retry_after_ns: int = 0) -> ApiError:
    headers = {}
    if rejection.code == "RATE_LIMIT_EXCEEDED":
        headers["Retry-After"] = str(max(1, -(-retry_after_ns // NS_PER_SECOND)))
    details = dict(rejection.details)
    if retry_after_ns:
        details["retry_after_ms"] = -(-retry_after_ns // 1_000_000)
    status = rejection_status(rejection)
    return ApiError(rejection.code, rejection.message, details, headers, status)


def rejection_status(rejection: Rejection) -> int:
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


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\":\\/]+){2,}")
"""An absolute file path (two components or more), POSIX or Windows."""


def without_paths(text: str | None) -> str | None:
    """`text` with each file path cut to its last component: /health is public, and a
    database error names the file it failed on."""
    if text is None:
        return None
    return _PATH.sub(lambda m: re.split(r"[\\/]", m.group())[-1], text)
