"""The REST half of the client: one method per endpoint, typed answers, bounded retries.

Answers are decoded into the Structs of `exchange.wire.models`; an error answer raises
the `ExchangeError` subclass its code means (`errors.py`), and a transport failure
(refused, reset, timed out) a `ConnectionLostError`. A 429 is retried after its
`Retry-After`, a 503 after a short pause, with the same body and so the same
`request_id`: a retried order exists at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import secrets
import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, cast

import httpx
import msgspec
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from exchange.client.backoff import Backoff
from exchange.client.errors import (
    AuthError,
    ConnectionLostError,
    RateLimitedError,
    ServerError,
    closed_error,
    error_for,
)
from exchange.client.stream import Stream, close_ws, open_ws
from exchange.client.ws_orders import OrderStream
from exchange.wire.messages import Message
from exchange.wire.models import (
    AccountView,
    BookView,
    CancelAck,
    CancelAllAck,
    DeadMansSwitchView,
    Envelope,
    FillView,
    HealthView,
    InstrumentView,
    OrderAck,
    OrderView,
    PositionsView,
    PricesView,
    QuoteAck,
    Registered,
)

T = TypeVar("T")
Via = Literal["http", "ws"]
"""How an order request travels: a REST call, or a message on the order stream."""
RETRIED = ("RATE_LIMIT_EXCEEDED", "SERVICE_UNAVAILABLE")


def new_request_id() -> str:
    return secrets.token_hex(8)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process: building one reads the
    whole CA bundle (about 20 ms), which a program opening many clients (a load run, a
    bot registering teams) would otherwise pay for each."""
    return httpx.create_ssl_context()


class Client:
    """One team's connection to the exchange. Use as `async with Client(...) as c:`.

    `team_id` is needed only by `positions()`; when not given it is learnt once from the
    WebSocket's `connection_status`. `rate_limit` and `rate_remaining` hold the team's
    order budget from the last authenticated answer (`X-RateLimit-*`), None before one.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        team_id: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        max_retry_wait: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.team_id = team_id
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.rate_limit: int | None = None
        self.rate_remaining: int | None = None
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers=headers, verify=tls_context()
        )
        self._streams: list[Stream] = []
        self._orders: OrderStream | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every stream this client opened, then the HTTP connections."""
        for s in self._streams:
            await s.aclose()
        self._streams.clear()
        if self._orders is not None:
            await self._orders.aclose()
        await self._http.aclose()

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("https://", "wss://").replace("http://", "ws://") + "/ws"

    # -- REST ------------------------------------------------------------------------

    @classmethod
    async def register(
        cls, base_url: str, team_name: str, role: str, *, timeout: float = 10.0
    ) -> Registered:
        """Register a team (`POST /auth/register`); the answer holds its only copy of the
        API key."""
        async with cls(base_url, timeout=timeout) as c:
            return await c._call(
                "POST", "/auth/register", Registered, json={"team_name": team_name, "role": role}
            )

    async def _call(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        """Send one request; retry a 429 after `Retry-After` and a 503 after a short pause,
        at most `max_retries` times, with the same body (hence the same `request_id`)."""
        attempt = 0
        while True:
            reply = await self._send(method, path, json, params)
            self._note_budget(reply)
            if reply.status_code in (429, 503) and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(self._retry_wait(reply, attempt))
                continue
            return self._decode(reply, kind)

    async def _send(
        self, method: str, path: str, json: dict[str, Any] | None, params: dict[str, Any] | None
    ) -> httpx.Response:
        """One HTTP exchange; a transport failure raised as `ConnectionLostError`."""
        try:
            return await self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            message = f"{method} {path}: {type(exc).__name__}: {exc}".rstrip(": ")
            raise ConnectionLostError("CONNECTION_LOST", message) from exc

    async def _by_stream(self, kind: str, fields: dict[str, Any], answer: type[T]) -> T:
        """One order request on the order stream (`via="ws"`), retried like a 429 or a
        503 over HTTP (after `retry_after_ms`, with the same `request_id`)."""
        if self._orders is None:
            self._orders = OrderStream(self.ws_url, self.api_key, self._http.timeout.read or 10.0)
        attempt = 0
        while True:
            try:
                data = await self._orders.request(kind, fields)
            except (RateLimitedError, ServerError) as exc:
                if exc.code not in RETRIED or attempt >= self.max_retries:
                    raise
                attempt += 1
                wait = exc.details.get("retry_after_ms", 0) / 1000 or 0.1 * 2.0 ** (attempt - 1)
                await asyncio.sleep(min(wait, self.max_retry_wait))
                continue
            return msgspec.convert(data, answer)

    def _note_budget(self, reply: httpx.Response) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.rate_limit = int(reply.headers["X-RateLimit-Limit"])
            self.rate_remaining = int(reply.headers["X-RateLimit-Remaining"])

    def _retry_wait(self, reply: httpx.Response, attempt: int) -> float:
        header = reply.headers.get("Retry-After")
        wait = 0.1 * 2.0 ** (attempt - 1)
        if header is not None:
            with contextlib.suppress(ValueError):
                wait = float(header)
        return min(max(wait, 0.0), self.max_retry_wait)

    @staticmethod
    def _decode(reply: httpx.Response, kind: type[T]) -> T:
        try:
            envelope = msgspec.json.decode(reply.content, type=Envelope[kind])  # type: ignore[valid-type]
        except msgspec.DecodeError as exc:
            if reply.is_success:
                raise ServerError(
                    "INVALID_ANSWER", str(exc), {"body": reply.text[:500]}, reply.status_code
                ) from exc
            raise error_for(
                reply.status_code, f"HTTP_{reply.status_code}", reply.text[:500], {}
            ) from exc
        if envelope.success and reply.is_success:
            return cast(T, envelope.data)
        if envelope.error is None:
            raise error_for(reply.status_code, f"HTTP_{reply.status_code}", reply.text[:500], {})
        error = envelope.error
        raise error_for(reply.status_code, error.code, error.message, dict(error.details))

    async def health(self) -> HealthView:
        return await self._call("GET", "/health", HealthView)

    async def place_order(
        self,
        instrument_id: str,
        side: str,
        quantity: int,
        price: float | None = None,
        client_order_id: str | None = None,
        request_id: str | None = None,
        order_type: str | None = None,
        via: Via = "http",
    ) -> OrderAck:
        """Submit a limit order (with `price`) or a market order (without). A `request_id`
        is generated when none is given, so a retry cannot place the order twice. With
        `via="ws"` it goes as a `new_order` message on the client's order stream: the
        same answer, errors and retries, without an HTTP exchange per order."""
        body: dict[str, Any] = {
            "instrument_id": instrument_id,
            "side": side,
            "quantity": quantity,
            "request_id": request_id or new_request_id(),
        }
        if price is not None:
            body["price"] = price
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        if order_type is not None:
            body["order_type"] = order_type
        if _by_ws(via):
            return await self._by_stream("new_order", body, OrderAck)
        return await self._call("POST", "/orders", OrderAck, json=body)

    async def quote(
        self,
        instrument_id: str,
        bid_price: float,
        bid_quantity: int,
        ask_price: float,
        ask_quantity: int,
        request_id: str | None = None,
        via: Via = "http",
    ) -> QuoteAck:
        """Market makers: replace the team's quote in `instrument_id` (`via` as for
        `place_order`)."""
        body = {
            "instrument_id": instrument_id,
            "bid_price": bid_price,
            "bid_quantity": bid_quantity,
            "ask_price": ask_price,
            "ask_quantity": ask_quantity,
            "request_id": request_id or new_request_id(),
        }
        if _by_ws(via):
            return await self._by_stream("quote", body, QuoteAck)
        return await self._call("POST", "/quotes", QuoteAck, json=body)

    async def cancel(self, order_id: str, via: Via = "http") -> CancelAck:
        if _by_ws(via):
            return await self._by_stream("cancel", {"order_id": order_id}, CancelAck)
        return await self._call("DELETE", f"/orders/{order_id}", CancelAck)

    async def cancel_all(
        self, instrument_id: str | None = None, via: Via = "http"
    ) -> CancelAllAck:
        params = None if instrument_id is None else {"instrument_id": instrument_id}
        if _by_ws(via):
            return await self._by_stream("cancel_all", params or {}, CancelAllAck)
        return await self._call("DELETE", "/orders", CancelAllAck, params=params)

    async def open_orders(self) -> list[OrderView]:
        return await self._call("GET", "/orders", list[OrderView])

    async def fills(self, since_trade_id: int = 0, limit: int | None = None) -> list[FillView]:
        params: dict[str, Any] = {"since_trade_id": since_trade_id}
        if limit is not None:
            params["limit"] = limit
        return await self._call("GET", "/fills", list[FillView], params=params)

    async def account(self) -> AccountView:
        """The key's team: id, name, role, and the role's limits and fees."""
        account = await self._call("GET", "/account", AccountView)
        self.team_id = self.team_id or account.team_id
        return account

    async def positions(self) -> PositionsView:
        team_id = self.team_id or await self._learn_team_id()
        return await self._call("GET", f"/positions/{team_id}", PositionsView)

    async def prices(self) -> PricesView:
        return await self._call("GET", "/market/prices", PricesView)

    async def book(self, instrument_id: str, depth: int = 5) -> BookView:
        return await self._call(
            "GET", f"/market/book/{instrument_id}", BookView, params={"depth": depth}
        )

    async def instruments(self) -> list[InstrumentView]:
        return await self._call("GET", "/instruments", list[InstrumentView])

    async def dead_mans_switch(self, cancel_after: float) -> DeadMansSwitchView:
        """Cancel all orders after `cancel_after` seconds of silence; 0 disarms."""
        return await self._call(
            "POST", "/dead-mans-switch", DeadMansSwitchView, json={"cancel_after": cancel_after}
        )

    async def _learn_team_id(self) -> str:
        try:
            ws = await open_ws(self.ws_url, self.api_key, None, timeout=10.0)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ConnectionLostError("CONNECTION_LOST", f"{self.ws_url}: {exc}") from exc
        try:
            async with asyncio.timeout(10.0):
                raw = await ws.recv()
            status = msgspec.json.decode(raw, type=Message)
        except ConnectionClosed as exc:
            raise closed_error(exc) from exc
        finally:
            await close_ws(ws)
        team_id = status.data.get("team_id")
        if team_id is None:
            raise AuthError("UNAUTHORIZED", "no team: the stream took this key for a spectator's")
        self.team_id = str(team_id)
        return self.team_id

    # -- the stream ----------------------------------------------------------------------

    def stream(
        self,
        since: int | None = None,
        *,
        first_backoff: float = 0.05,
        max_backoff: float = 5.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        instruments: Iterable[str] | None = None,
        underlyings: Iterable[str] | None = None,
    ) -> Stream:
        """The team's WebSocket as an async iterator of `Message`s (data as a dict; see
        `typed`). Reconnects by itself with `?since=<last stream seq>`, after failures in
        a row waiting `first_backoff` doubling up to `max_backoff` seconds (jittered by
        `rng`), until the stream is closed or `max_attempts` attempts in a row have
        failed (None: never give up). A `resync_required` is yielded like any other
        message. Close it with `aclose()` or `async with`; the client closes it too.
        With `instruments` and/or `underlyings`, `market_data` and `trade` prints come
        for those books only (an underlying: itself and its options); `Stream.subscribe`
        changes them."""
        backoff = Backoff(first_backoff, max_backoff, max_attempts, rng)
        s = Stream(self.ws_url, self.api_key, since=since, backoff=backoff,
                   instruments=instruments, underlyings=underlyings)  # fmt: skip
        self._streams.append(s)
        return s


def _by_ws(via: str) -> bool:
    if via not in ("http", "ws"):
        raise ValueError(f"via must be 'http' or 'ws', not {via!r}")
    return via == "ws"
