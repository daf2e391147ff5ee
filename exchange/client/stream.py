"""The team's WebSocket as an async iterator, with automatic resume.

How it works: the stream remembers the `seq` of the last *stream* message it yielded
(acks, fills, cancels, positions, prints, phases, news, signals; snapshots such as
`market_data` do not move it). When the connection drops, or stays silent for three
heartbeats, it reconnects with `?since=<that seq>`: the server replays what was missed,
and anything at or below the remembered seq is skipped, so each stream message is
yielded once.

Failures in a row (attempts that cannot connect, connections closed before their
first message) wait longer and longer before the next attempt: capped exponential
backoff with jitter (`backoff.py`). It goes on until the caller closes the stream, or,
with `max_attempts`, raises `ConnectionLostError` once that many attempts in a row have
failed. A close that reconnecting cannot mend ends the iteration with an error instead:
1008 (`AuthError` for a wrong key, `InvalidRequestError` for a bad `since`) and 4003
(`TeamDisabledError`: the organiser disabled the team).

`instruments=` / `underlyings=` (or `subscribe()` later) ask for the market data of
those books only (and the `trade` prints of those books: the seqs of the prints
skipped are missing); a reconnect asks for the same books again. The team's own
messages are never filtered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from exchange.client.backoff import Backoff
from exchange.client.errors import ConnectionLostError, terminal_close
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

TYPED: dict[str, type[msgspec.Struct]] = {
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
"""The Struct of each known message type's `data`."""


def typed(message: Message) -> msgspec.Struct | dict[str, Any]:
    """The message's `data` as its Struct from `exchange.wire.messages` (e.g. an
    `ExecutionReport` for `execution_report`); the plain dict for unknown types.

    >>> report = typed(message)  # doctest: +SKIP
    """
    kind = TYPED.get(message.type)
    if kind is None:
        return message.data  # type: ignore[no-any-return]
    return msgspec.convert(message.data, kind)


async def open_ws(
    url: str, api_key: str | None, since: int | None, timeout: float,
    books: tuple[set[str], set[str]] | None = None,
) -> ClientConnection:  # fmt: skip
    """One WebSocket connection, the key in the `X-API-Key` header; with `books`
    (instruments, underlyings), market data for those books only."""
    query: dict[str, str | int] = {} if since is None else {"since": since}
    if books is not None:
        query |= {"instruments": ",".join(sorted(books[0])),
                  "underlyings": ",".join(sorted(books[1]))}  # fmt: skip
    if query:
        url = f"{url}?{urlencode(query, safe=',')}"
    headers = {"X-API-Key": api_key} if api_key else {}
    return await connect(url, additional_headers=headers, open_timeout=timeout)


async def close_ws(ws: ClientConnection) -> None:
    """Close, reading on meanwhile: the server's close frame may wait behind messages not
    yet read, and a reader that stopped reading would wait out the close timeout."""

    async def drain() -> None:
        with contextlib.suppress(Exception):  # ends with the connection (ConnectionClosed)
            while True:
                await ws.recv()

    drainer = asyncio.create_task(drain())
    try:
        await ws.close()
    finally:
        drainer.cancel()
        await asyncio.gather(drainer, return_exceptions=True)


class Stream:
    """An async iterator over the team's WebSocket messages, with automatic resume.

    `last_seq` is the seq of the last stream message yielded (the resume point);
    `attempts` counts connection attempts (the first one included); `reconnects` the
    reconnections that succeeded; `failures` the failures in a row (attempts that could
    not connect, and connections that closed before their first message), which pick
    the next wait from `backoff`; `connection` is the current WebSocket (None between
    connections)."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        since: int | None = None,
        backoff: Backoff | None = None,
        instruments: Iterable[str] | None = None,
        underlyings: Iterable[str] | None = None,
    ) -> None:
        self._url = url
        self.books: tuple[set[str], set[str]] | None = None
        """The (instruments, underlyings) whose market data is asked for; None for all."""
        if instruments is not None or underlyings is not None:
            self.books = (set(instruments or ()), set(underlyings or ()))
        self._api_key = api_key
        self.last_seq: int | None = since
        self.backoff = backoff or Backoff()
        self.connection: ClientConnection | None = None
        self.attempts = 0
        self.reconnects = 0
        self.failures = 0
        self._heartbeat = 5.0
        self._heard = False
        self._connected_once = False
        self._stopped = asyncio.Event()

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

    @property
    def closed(self) -> bool:
        return self._stopped.is_set()

    async def aclose(self) -> None:
        """Stop: close the WebSocket; the iteration ends (a wait between attempts too)."""
        self._stopped.set()
        ws, self.connection = self.connection, None
        if ws is not None:
            await close_ws(ws)

    async def subscribe(
        self, instruments: Iterable[str] = (), underlyings: Iterable[str] = ()
    ) -> None:
        """Add books whose market data the stream receives (now, and after reconnecting);
        the server answers with a `subscribed` message, or an `error` one."""
        await self._change("subscribe", list(instruments), list(underlyings))

    async def unsubscribe(
        self, instruments: Iterable[str] = (), underlyings: Iterable[str] = ()
    ) -> None:
        """Stop the market data of these books (only after choosing some)."""
        await self._change("unsubscribe", list(instruments), list(underlyings))

    async def _change(self, kind: str, instruments: list[str], underlyings: list[str]) -> None:
        if kind == "subscribe":
            now = self.books or (set(), set())
            self.books = (now[0] | set(instruments), now[1] | set(underlyings))
        elif self.books is not None:
            self.books = (self.books[0] - set(instruments), self.books[1] - set(underlyings))
        request = {"type": kind, "instruments": instruments, "underlyings": underlyings}
        if self.connection is not None:
            with contextlib.suppress(ConnectionClosed):  # the reconnect asks for the books
                await self.connection.send(msgspec.json.encode(request).decode())

    async def _connect(self) -> None:
        """Connect, waiting out the backoff after failures; raise `ConnectionLostError`
        once `backoff.max_attempts` attempts in a row have failed."""
        while not self.closed:
            if self.failures:
                await self._wait(self.failures)
                if self.closed:
                    return
            self.attempts += 1
            try:
                ws = await open_ws(self._url, self._api_key, self.last_seq, 10.0, self.books)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self._failed(exc)
                continue
            if self.closed:
                await close_ws(ws)
                return
            self.connection, self._heard = ws, False
            self.reconnects += self._connected_once
            self._connected_once = True
            return

    async def _wait(self, failures: int) -> None:
        """The backoff's wait before the next attempt, cut short by `aclose()`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.backoff.delay(failures)):
                await self._stopped.wait()

    def _failed(self, exc: BaseException) -> None:
        """One more failure in a row; past the allowed attempts, stop and raise."""
        self.failures += 1
        if self.backoff.exhausted(self.failures):
            self._stopped.set()
            raise ConnectionLostError(
                "CONNECTION_LOST",
                f"no connection after {self.failures} attempts in a row: {exc}",
                {"attempts": self.failures},
            ) from exc

    async def __anext__(self) -> Message:
        while True:
            if self.connection is None:
                await self._connect()
            ws = self.connection
            if ws is None or self.closed:
                raise StopAsyncIteration
            try:
                # Not `wait_for`: in Python 3.11 a cancel that lands as recv() completes
                # can leave wait_for waiting forever on its inner task.
                async with asyncio.timeout(3 * self._heartbeat):
                    raw = await ws.recv()
            except (ConnectionClosed, TimeoutError) as exc:
                await self._dropped(ws, exc)
                continue
            if not self._heard:
                self._heard, self.failures = True, 0
            message = msgspec.json.decode(raw, type=Message)
            if self._seen(message):
                continue
            return message

    async def _dropped(self, ws: ClientConnection, exc: ConnectionClosed | TimeoutError) -> None:
        """The connection ended: stop for good on a final close code (1008, 4003),
        otherwise count a failure and let the next `_connect` try again."""
        self.connection = None
        if self.closed:
            raise StopAsyncIteration from None
        final = terminal_close(exc) if isinstance(exc, ConnectionClosed) else None
        if final is not None:
            await self.aclose()
            raise final from exc
        with contextlib.suppress(Exception):
            await ws.close()
        self._failed(exc)

    def _seen(self, message: Message) -> bool:
        """Track the resume point; True for a replayed stream message already yielded."""
        if message.type in STREAM_TYPES:
            if self.last_seq is not None and message.seq <= self.last_seq:
                return True  # already handled (a replay overlap)
            self.last_seq = message.seq
        elif message.type == "connection_status" and isinstance(message.data, dict):
            self._heartbeat = float(message.data.get("heartbeat_interval", 5.0)) or 5.0
            if self.last_seq is None:
                self.last_seq = int(message.data.get("last_seq", 0))
        elif message.type == "resync_required" and isinstance(message.data, dict):
            self.last_seq = int(message.data["last_seq"])
        return False
