"""The Starlette application: routes, `/ws`, CORS, error envelopes, and the lifespan
that starts and stops the exchange's tasks inside uvicorn's event loop.

Order entry (`POST /orders`, `POST /quotes`) from a client that sends no `Origin` (a
bot, not a browser) skips Starlette's middleware and router: the same endpoint, given
the request directly (`ExchangeApp`). The layers it skips did nothing for such a
request (CORS answers only an `Origin`; the endpoint turns its own errors into
envelopes) and cost about a tenth of the server's time under load.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from exchange import logs
from exchange.web import dashboard
from exchange.web.admin import admin_api
from exchange.web.edge import edge_protocol
from exchange.web.game import Game
from exchange.web.http import JSON, Api, header, new_request_id
from exchange.web.metrics import metrics_route
from exchange.web.orders import Orders
from exchange.web.routes import api_routes, order_entry
from exchange.web.ws import StreamEndpoint
from exchange.web.wsframes import FramingProtocol
from exchange.wire import asyncapi, openapi
from exchange.wire.codec import failed
from exchange.wire.errors import ApiError

log = logging.getLogger("exchange.web")

YOUNG = 10_000
"""Objects made (less those freed) between two collections of the youngest generation."""
ROUTING_ERRORS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


def create_app(exchange: Game) -> Starlette:
    api = Api(exchange)
    orders = Orders(api)
    admin = admin_api(api)
    schema = openapi.encoded()
    stream_schema = asyncapi.encoded()

    async def openapi_json(request: Request) -> Response:
        return Response(schema, media_type=JSON)

    async def asyncapi_json(request: Request) -> Response:
        return Response(stream_schema, media_type=JSON)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await exchange.start()
        await warm_file_threads()
        thresholds = gc.get_threshold()
        freeze_heap()
        try:
            yield
        finally:
            await exchange.stop()
            gc.unfreeze()
            gc.set_threshold(*thresholds)

    stream = StreamEndpoint(exchange, orders)
    exchange.control.on_reissue.append(stream.tickets.drop)
    exchange.on_renew.extend([stream.tickets.clear, api.remembered.clear])
    routes = [
        *api_routes(api, orders, admin.is_admin),
        *admin.routes(),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/asyncapi.json", asyncapi_json, methods=["GET"]),
        metrics_route(exchange),
        stream.ticket_route(api),
        WebSocketRoute("/ws", stream.handle),
        *dashboard.routes(),
    ]
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(exchange.config.server.cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["X-API-Key", "Content-Type", "X-Request-Id"],
        expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "Retry-After"],
    )
    app = ExchangeApp(
        order_entry(api, orders),
        routes=routes,
        middleware=[cors],
        exception_handlers={HTTPException: routing_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.exchange = exchange
    return app


Endpoint = Callable[[Request], Awaitable[Response]]


class ExchangeApp(Starlette):
    """Starlette, with a direct way in for order entry from clients that are not browsers."""

    def __init__(self, direct: dict[tuple[str, str], Endpoint], **options: Any) -> None:
        super().__init__(**options)
        self.direct = direct
        """The endpoints a request without `Origin` reaches directly, by (method, path)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        endpoint = self.direct.get((scope["method"], scope["path"])) if http else None
        request = None if endpoint is None else Request(scope, receive)
        if endpoint is None or request is None or header(request, b"origin") is not None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        try:  # in this coroutine, not one more: every await passes through each
            response = await endpoint(request)
        except Exception as exc:  # what ServerErrorMiddleware would have answered
            response = await internal_error(request, exc)
        await response(scope, receive, send)


async def warm_file_threads() -> None:
    """Starlette reads the dashboard's files in anyio's worker threads. Their first use
    imports anyio's asyncio backend, looks for the loop's root task among all tasks and
    starts a thread: at the first page load of a game under way that held the loop for
    50-100 ms. Done here, at start-up, it is gone from the first page load."""
    await anyio.to_thread.run_sync(lambda: None)


def freeze_heap() -> None:
    """Move what exists once the exchange has started (modules, classes, functions,
    config, books) out of the garbage collector's sight, so a full collection while
    serving walks only what was made since: it lives as long as the server, and
    walking it held the loop for tens of milliseconds at every full collection.
    `gc.unfreeze()` at shutdown hands it back, so nothing stays uncollectable (garbage
    frozen with it waits until then: a start makes little).

    The youngest generation is collected after `YOUNG` new objects, not Python's 700:
    under load an order makes a few, so the default collected every hundred or so
    orders, and each collection walks every request then in flight; the older
    generations follow it, so they run as much less often (the thresholds are put back
    at shutdown)."""
    gc.freeze()
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])


async def routing_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = ROUTING_ERRORS.get(exc.status_code, "INVALID_FIELD")
    error = ApiError(code, str(exc.detail), status=exc.status_code)
    return Response(failed(error, new_request_id()), exc.status_code, exc.headers, JSON)


async def internal_error(request: Request, exc: Exception) -> Response:
    request_id = new_request_id()
    log.error(
        "unhandled error", exc_info=exc, extra={"request_id": request_id, "path": request.url.path}
    )
    error = ApiError("INTERNAL_ERROR", "an internal error was logged; quote the request id")
    return Response(failed(error, request_id), 500, media_type=JSON)


class StreamProtocol(FramingProtocol):
    """uvicorn's WebSocket protocol (with the server's frames framed by `wsframes`),
    except that the server's close frame is queued at once, behind what is already on
    its way, even while the peer reads nothing.

    uvicorn would hold the close until its write buffer drained, which for a peer that
    does not read is never: its keepalive would then fail the connection with 1011 and
    the peer would never learn it was cut off as a slow consumer (4008)."""

    async def send(self, message: Any) -> None:
        if message["type"] != "websocket.close" or self.writable.is_set():
            await super().send(message)
            return
        self.writable.set()  # the close waits on it first; nothing runs in between
        try:
            await super().send(message)
        finally:
            if not self.disconnected:
                self.writable.clear()  # the buffer is still full: later sends wait


def uvicorn_config(app: Starlette, host: str, port: int, **options: Any) -> uvicorn.Config:
    """How the exchange runs under uvicorn, for `serve` and the tests alike; `options`
    override these settings.

    WebSocket compression is off: market messages are small and latency matters more
    than bytes on the wire (compressing was a sixth of the server's time under load).
    uvicorn's loggers are filtered so that no API key or ticket reaches a log line. HTTP
    is uvicorn's httptools protocol with the edge's limits (`exchange.web.edge`).
    `X-Forwarded-For` is not read (`proxy_headers` off): it means something only behind
    a proxy, and reading it was a middleware layer on every request; a deployment behind
    one can turn it on through `options`.
    """
    logs.redact_uvicorn()
    limits = app.state.exchange.config.server
    settings: dict[str, Any] = {
        "http": edge_protocol(limits), "log_config": None, "access_log": False,
        "ws": StreamProtocol, "ws_per_message_deflate": False, "lifespan": "on",
        "ws_max_size": limits.max_body_bytes,  # what a client sends: subscriptions
        "timeout_graceful_shutdown": 5, "proxy_headers": False,
    }  # fmt: skip
    return uvicorn.Config(app, host=host, port=port, **{**settings, **options})
