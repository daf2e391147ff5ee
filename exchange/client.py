"""An async client for bot authors: every REST endpoint, and the WebSocket stream with
automatic resume.

Usage::

    import asyncio
    from exchange.client import Client

    async def main() -> None:
        base = "http://127.0.0.1:8000"
        team = await Client.register(base, "Alpha Desk", "market_maker")
        async with Client(base, team.api_key, team_id=team.team_id) as c:
            ack = await c.place_order("SPX_CALL_4400_20261204", "buy", 5, price=122.0)
            async for message in c.stream():          # reconnects with ?since= by itself
                if message.type == "execution_report":
                    print(message.data["order_id"], message.data["status"])
                elif message.type == "resync_required":
                    ...  # rebuild from the position_snapshot that follows, and GET /fills
                # ignore the types you do not know

    asyncio.run(main())

Answers are decoded into the Structs of `exchange.wire.models`; an error answer raises
`ExchangeError` (with `code`, `message`, `details`, `status`). A 429 is retried after its
`Retry-After` with the same `request_id`, so a retried order exists at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from exchange.wire.messages import (
    STREAM_TYPES,
    ConnectionStatus,
    Event,
    ExecutionReport,
    Heartbeat,
    MarketData,
    Message,
    PhaseChange,
    PositionSnapshot,
    PositionUpdate,
    ResyncRequired,
    SettlementReport,
    Signal,
    Tape,
)
from exchange.wire.models import (
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

__all__ = [
    "AuthError",
    "Client",
    "ExchangeError",
    "Message",
    "NotFoundError",
    "RateLimitError",
    "RejectedError",
    "Stream",
    "typed",
]

T = TypeVar("T")


class ExchangeError(Exception):
    """An error answer: `code` (stable, e.g. `INVALID_PRICE`), `message` (for people),
    `details` (what the check saw) and the HTTP `status` (0 for stream errors)."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status


class AuthError(ExchangeError):
    """401 or 403, or a stream closed with 1008."""


class NotFoundError(ExchangeError):
    """404: `NOT_FOUND`, `ORDER_NOT_FOUND`."""


class RateLimitError(ExchangeError):
    """429 still refused after the client's bounded retries."""


class RejectedError(ExchangeError):
    """422: a rule refused the request."""


_FAMILIES: dict[int, type[ExchangeError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    422: RejectedError,
    429: RateLimitError,
}


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> ExchangeError:
    return _FAMILIES.get(status, ExchangeError)(code, message, details, status)


_TYPED: dict[str, type[msgspec.Struct]] = {
    "connection_status": ConnectionStatus,
    "position_snapshot": PositionSnapshot,
    "resync_required": ResyncRequired,
    "new_order_ack": ExecutionReport,
    "execution_report": ExecutionReport,
    "order_cancelled": ExecutionReport,
    "position_update": PositionUpdate,
    "trade": Tape,
    "phase_change": PhaseChange,
    "market_data": MarketData,
    "heartbeat": Heartbeat,
    "event": Event,
    "signal": Signal,
    "settlement": SettlementReport,
}


def typed(message: Message) -> msgspec.Struct | dict[str, Any]:
    """The message's `data` as its Struct from `exchange.wire.messages` (e.g. an
    `ExecutionReport` for `execution_report`); the plain dict for unknown types.

    >>> report = typed(message)  # doctest: +SKIP
    """
    kind = _TYPED.get(message.type)
    if kind is None:
        return message.data  # type: ignore[no-any-return]
    return msgspec.convert(message.data, kind)


def _new_request_id() -> str:
    return secrets.token_hex(8)


class Client:
    """One team's connection to the exchange. Use as `async with Client(...) as c:`.

    `team_id` is needed only by `positions()`; when not given it is learnt once from the
    WebSocket's `connection_status`.
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
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, headers=headers)
        self._streams: list[Stream] = []

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
            reply = await self._http.request(method, path, json=json, params=params)
            if reply.status_code in (429, 503) and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(self._retry_wait(reply, attempt))
                continue
            return self._decode(reply, kind)

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
                raise ExchangeError(
                    "INVALID_ANSWER", str(exc), {"body": reply.text[:500]}, reply.status_code
                ) from exc
            raise _error(
                reply.status_code, f"HTTP_{reply.status_code}", reply.text[:500], {}
            ) from exc
        if envelope.success and reply.is_success:
            return cast(T, envelope.data)
        if envelope.error is None:
            raise _error(reply.status_code, f"HTTP_{reply.status_code}", reply.text[:500], {})
        error = envelope.error
        raise _error(reply.status_code, error.code, error.message, dict(error.details))

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
    ) -> OrderAck:
        """Submit a limit order (with `price`) or a market order (without). A `request_id`
        is generated when none is given, so a retry cannot place the order twice."""
        body: dict[str, Any] = {
            "instrument_id": instrument_id,
            "side": side,
            "quantity": quantity,
            "request_id": request_id or _new_request_id(),
        }
        if price is not None:
            body["price"] = price
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        if order_type is not None:
            body["order_type"] = order_type
        return await self._call("POST", "/orders", OrderAck, json=body)

    async def quote(
        self,
        instrument_id: str,
        bid_price: float,
        bid_quantity: int,
        ask_price: float,
        ask_quantity: int,
        request_id: str | None = None,
    ) -> QuoteAck:
        """Market makers: replace the team's quote in `instrument_id`."""
        body = {
            "instrument_id": instrument_id,
            "bid_price": bid_price,
            "bid_quantity": bid_quantity,
            "ask_price": ask_price,
            "ask_quantity": ask_quantity,
            "request_id": request_id or _new_request_id(),
        }
        return await self._call("POST", "/quotes", QuoteAck, json=body)

    async def cancel(self, order_id: str) -> CancelAck:
        return await self._call("DELETE", f"/orders/{order_id}", CancelAck)

    async def cancel_all(self, instrument_id: str | None = None) -> CancelAllAck:
        params = None if instrument_id is None else {"instrument_id": instrument_id}
        return await self._call("DELETE", "/orders", CancelAllAck, params=params)

    async def open_orders(self) -> list[OrderView]:
        return await self._call("GET", "/orders", list[OrderView])

    async def fills(self, since_trade_id: int = 0, limit: int | None = None) -> list[FillView]:
        params: dict[str, Any] = {"since_trade_id": since_trade_id}
        if limit is not None:
            params["limit"] = limit
        return await self._call("GET", "/fills", list[FillView], params=params)

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
        ws = await _open(self.ws_url, self.api_key, None, timeout=10.0)
        try:
            status = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 10.0), type=Message)
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc
        finally:
            await ws.close()
        self.team_id = str(status.data["team_id"])
        return self.team_id

    # -- the stream ----------------------------------------------------------------------

    def stream(
        self,
        since: int | None = None,
        *,
        max_backoff: float = 5.0,
        max_attempts: int = 10,
    ) -> Stream:
        """The team's WebSocket as an async iterator of `Message`s (data as a dict; see
        `typed`). Reconnects by itself with `?since=<last stream seq>`; a
        `resync_required` is yielded like any other message. Close it with `aclose()` or
        `async with`; the client closes it too."""
        s = Stream(
            self.ws_url,
            self.api_key,
            since=since,
            max_backoff=max_backoff,
            max_attempts=max_attempts,
        )
        self._streams.append(s)
        return s


def _closed_error(exc: ConnectionClosed) -> ExchangeError:
    frame = exc.rcvd
    code = 0 if frame is None else frame.code
    reason = "" if frame is None else frame.reason
    if code == 1008 and "key" in reason.lower():
        return AuthError("UNAUTHORIZED", reason, {"close_code": code})
    if code == 1008:
        return ExchangeError("INVALID_FIELD", reason, {"close_code": code})
    return ExchangeError("CONNECTION_CLOSED", reason or str(exc), {"close_code": code})


async def _open(
    url: str, api_key: str | None, since: int | None, timeout: float
) -> ClientConnection:
    if since is not None:
        url = f"{url}?since={since}"
    headers = {"X-API-Key": api_key} if api_key else {}
    return await connect(url, additional_headers=headers, open_timeout=timeout)


class Stream:
    """An async iterator over the team's WebSocket messages, with automatic resume.

    `last_seq` is the seq of the last stream message yielded (the resume point);
    `reconnects` counts the reconnections; `connection` is the current WebSocket (None
    between connections)."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        since: int | None = None,
        max_backoff: float = 5.0,
        max_attempts: int = 10,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self.last_seq: int | None = since
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.connection: ClientConnection | None = None
        self.reconnects = 0
        self._heartbeat = 5.0
        self._connected_once = False
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

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
        """Stop: close the WebSocket; the iteration ends."""
        self._closed = True
        ws, self.connection = self.connection, None
        if ws is not None:
            await ws.close()

    async def _connect(self) -> None:
        delay = 0.05
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.connection = await _open(self._url, self._api_key, self.last_seq, 10.0)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI):
                if attempt == self.max_attempts:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if self._connected_once:
                self.reconnects += 1
            self._connected_once = True
            return

    async def __anext__(self) -> Message:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self.connection is None:
                await self._connect()
            ws = self.connection
            assert ws is not None
            try:
                raw = await asyncio.wait_for(ws.recv(), 3 * self._heartbeat)
            except (ConnectionClosed, TimeoutError) as exc:
                if self._closed:
                    raise StopAsyncIteration from None
                if isinstance(exc, ConnectionClosed) and exc.rcvd and exc.rcvd.code == 1008:
                    await self.aclose()
                    raise _closed_error(exc) from exc
                self.connection = None
                with contextlib.suppress(Exception):
                    await ws.close()
                await asyncio.sleep(0.05)
                continue
            message = msgspec.json.decode(raw, type=Message)
            if message.type in STREAM_TYPES:
                if self.last_seq is not None and message.seq <= self.last_seq:
                    continue  # already handled (a replay overlap)
                self.last_seq = message.seq
            elif message.type == "connection_status" and isinstance(message.data, dict):
                self._heartbeat = float(message.data.get("heartbeat_interval", 5.0)) or 5.0
                if self.last_seq is None:
                    self.last_seq = int(message.data.get("last_seq", 0))
            elif message.type == "resync_required" and isinstance(message.data, dict):
                self.last_seq = int(message.data["last_seq"])
            return message
