"""The team's WebSocket as an async iterator, with automatic resume.

How it works: the stream remembers the `seq` of the last *stream* message it yielded
(acks, fills, cancels, positions, prints, phases, news, signals; snapshots such as
`market_data` do not move it). When the connection drops, or stays silent for three
heartbeats, it reconnects with `?since=<that seq>`: the server replays what was missed,
and anything at or below the remembered seq is skipped, so each stream message is
yielded once. A close with 1008 (wrong key, bad `since`) ends the iteration with an
error instead, as reconnecting cannot help.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from exchange.client.errors import closed_error
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
    url: str, api_key: str | None, since: int | None, timeout: float
) -> ClientConnection:
    """One WebSocket connection, the key in the `X-API-Key` header."""
    if since is not None:
        url = f"{url}?since={since}"
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
            await close_ws(ws)

    async def _connect(self) -> None:
        delay = 0.05
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.connection = await open_ws(self._url, self._api_key, self.last_seq, 10.0)
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
                # Not `wait_for`: in Python 3.11 a cancel that lands as recv() completes
                # can leave wait_for waiting forever on its inner task.
                async with asyncio.timeout(3 * self._heartbeat):
                    raw = await ws.recv()
            except (ConnectionClosed, TimeoutError) as exc:
                if self._closed:
                    raise StopAsyncIteration from None
                if isinstance(exc, ConnectionClosed) and exc.rcvd and exc.rcvd.code == 1008:
                    await self.aclose()
                    raise closed_error(exc) from exc
                self.connection = None
                with contextlib.suppress(Exception):
                    await ws.close()
                await asyncio.sleep(0.05)
                continue
            message = msgspec.json.decode(raw, type=Message)
            if self._seen(message):
                continue
            return message

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
