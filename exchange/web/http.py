"""What every REST endpoint shares (SPEC section 8): decode, authenticate, enqueue, await,
encode, in the one envelope.

An `ApiError` raised anywhere below a handler becomes an error envelope with the status
its code implies; an authenticated answer also says how much of the team's order budget
is left (`X-RateLimit-Limit`, `-Remaining`). The endpoints themselves live with their
resource: `web/orders.py`, `web/accounts.py`, `web/market.py`, `web/scores.py`,
`web/health.py`; `web/routes.py` lists every path.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, overload

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.types import TeamId
from exchange.pipeline.items import Accepted, Refused, Submit
from exchange.teams import Team
from exchange.web.game import Game
from exchange.wire.codec import (
    failed,
    ok,
    whole_number,
)
from exchange.wire.errors import ApiError

log = logging.getLogger("exchange.api")

JSON = "application/json"
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
    """What every REST route shares: the request id and its log line, the envelope, the
    team a key names, the body's limits, and the way down the pipeline."""

    def __init__(self, exchange: Game) -> None:
        self.exchange = exchange
        self.max_body = exchange.config.server.max_body_bytes
        self.remembered: dict[TeamId, OrderedDict[str, Remembered]] = {}
        self.timed: set[Handler] = set()
        """The handlers of the order routes (`measured`)."""

    def measured(self, handler: Handler) -> Handler:
        """Mark the handler of an order route: its endpoint times it from entry to
        answer and counts it by outcome and error code (`exchange_order_answer_seconds`,
        `exchange_orders`)."""
        self.timed.add(handler)
        return handler

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Give the handler a request id, turn ApiErrors into envelopes, log one line;
        time it if it is `measured` (in the same coroutine: one less to pass through)."""
        metrics = self.exchange.metrics if handler in self.timed else None

        async def run(request: Request) -> Response:
            request_id = header(request, b"x-request-id", "")
            if not 0 < len(request_id) <= 64 or not request_id.isprintable():
                request_id = new_request_id()
            started = time.perf_counter()
            try:
                response = await handler(request, request_id)
                code = ""
            except ApiError as exc:
                response = Response(failed(exc, request_id), exc.status, exc.headers, JSON)
                code = exc.code
            if metrics is not None:
                metrics.answered(started, code)
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
        chunks, size, more = [], 0, True
        while more:  # the ASGI messages themselves: no generator per request
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > self.max_body:
                raise ApiError(
                    "PAYLOAD_TOO_LARGE", f"the body may be at most {self.max_body} bytes"
                )
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def enqueue(self, item: Any) -> None:
        self.refuse_while_renewing()
        try:
            self.exchange.orders.put_nowait(item)
        except asyncio.QueueFull:
            raise ApiError("SERVICE_UNAVAILABLE", "the exchange is busy; retry shortly") from None

    def submit(
        self, team: Team, request: NewOrder | NewQuote, request_id: str, key: str | None
    ) -> Awaitable[Accepted | Refused]:
        """Send a request down the pipeline once per `key` (request_id): a retry with the
        same key awaits the first one's answer instead of placing a second order.

        Without a key there is nothing to remember and nobody else awaits the answer: the
        caller awaits the reply itself (no coroutine between)."""
        if key is None:
            reply: asyncio.Future[Accepted | Refused] = asyncio.get_running_loop().create_future()
            self.enqueue(Submit(request, reply, request_id, on_commit=True))
            return reply
        return self.submit_once(team, request, request_id, key)

    async def submit_once(
        self, team: Team, request: NewOrder | NewQuote, request_id: str, key: str
    ) -> Accepted | Refused:
        """`submit` with a key. A key names one request: reused for a different one it is
        an error, not a silent replay of the first. A refusal placed nothing, so it is
        not remembered: a retry after a 429 (or once the position allows it) is judged
        afresh."""
        remembered = self.remembered.get(team.team_id)
        if remembered is None:
            remembered = self.remembered[team.team_id] = OrderedDict()
        if key in remembered:
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
        remembered[key] = (request, reply)
        if len(remembered) > self.exchange.config.server.idempotency_keys:
            remembered.popitem(last=False)
        try:  # shielded: a retry may await it too, and cancelling one must not cancel it
            outcome = await asyncio.shield(reply)
        except Exception:
            _forget(remembered, key, reply)
            raise
        if isinstance(outcome, Refused):
            _forget(remembered, key, reply)
        return outcome


def route_table(api: Api, table: list[tuple[str, str, Handler]]) -> list[Route]:
    """The Routes of a table of (method, path, handler), each handler wrapped by
    `api.endpoint`. One Route per path, so a 405 names every method the path takes in
    `Allow` (with a Route per method, Starlette's 405 names only the first one's)."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for method, path, handler in table:
        by_path.setdefault(path, {})[method] = api.endpoint(handler)
    return [
        Route(path, _dispatch(endpoints), methods=list(endpoints))
        for path, endpoints in by_path.items()
    ]


def _forget(remembered: OrderedDict[str, Remembered], key: str, reply: Any) -> None:
    """Drop `key` if it still names this reply (it may have been evicted or replaced)."""
    if (entry := remembered.get(key)) is not None and entry[1] is reply:
        del remembered[key]


def _dispatch(
    endpoints: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for a path: the handler of the request's method (HEAD is a GET)."""

    async def run(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return run
