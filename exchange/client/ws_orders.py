"""Orders over the WebSocket for the client: `place_order(..., via="ws")` and the like.

How it works: the client opens one more connection to `/ws` for its orders (asking for
no market data), sends each request as a frame with a fresh `client_id`, and a reader
task resolves the request's future when the answer naming that id arrives. The answer
is decoded into the same Struct the REST call answers with (`OrderAck`, `QuoteAck`,
`CancelAck`, `CancelAllAck`), a refusal raised as the same `ExchangeError` subclass.
Everything else on the connection (acks, fills, heartbeats) is skipped: read those
from `Client.stream()`. If the connection drops, every request waiting on it fails
with `ConnectionLostError` (its fate unknown: resend it with the same `request_id`) and
the next request connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from exchange.client.errors import ConnectionLostError, ExchangeError, closed_error, stream_error
from exchange.client.stream import close_ws, open_ws

ANSWERS = frozenset(
    {"order_accepted", "quote_accepted", "cancel_accepted", "cancel_all_accepted",
     "request_rejected"}
)  # fmt: skip
NO_BOOKS: tuple[set[str], set[str]] = (set(), set())
"""The order connection asks for no market data."""


class Answer(msgspec.Struct):
    type: str
    data: dict[str, Any] | None = None


_answer = msgspec.json.Decoder(Answer)


class OrderStream:
    """One WebSocket connection carrying a client's order requests."""

    def __init__(self, url: str, api_key: str | None, timeout: float = 10.0) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.connection: ClientConnection | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._connecting: asyncio.Future[ClientConnection] | None = None

    async def request(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Send one request; the `data` of its `<kind>_accepted` answer, or raise the
        refusal's `ExchangeError` (or `ConnectionLostError`)."""
        ws = await self._connected()
        client_id = f"c{next(self._ids)}"
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[client_id] = answer
        try:
            await ws.send(msgspec.json.encode({"type": kind, "client_id": client_id, **fields}))
            async with asyncio.timeout(self.timeout):
                message = await answer
        except ConnectionClosed as exc:
            raise closed_error(exc) from exc
        except TimeoutError as exc:
            raise ConnectionLostError("TIMEOUT", f"{kind}: no answer in {self.timeout}s") from exc
        finally:
            self.waiting.pop(client_id, None)
        data = message["data"]
        if message["type"] == "request_rejected":
            raise stream_error(data["code"], data["message"], dict(data.get("details") or {}))
        return data  # type: ignore[no-any-return]

    async def _connected(self) -> ClientConnection:
        """The open connection, opened first if there is none (once, however many
        requests ask at the same moment)."""
        if self.connection is not None:
            return self.connection
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            try:
                ws = await open_ws(self.url, self.api_key, None, self.timeout, NO_BOOKS)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                error = ConnectionLostError("CONNECTION_LOST", f"{self.url}: {exc}")
                self._connecting.set_exception(error)
                self._connecting.exception()  # retrieved: nobody else may be waiting
                self._connecting = None
                raise error from exc
            self.connection = ws
            self._reader = asyncio.get_running_loop().create_task(self._read(ws))
            self._connecting.set_result(ws)
            self._connecting = None
            return ws
        return await asyncio.shield(self._connecting)

    async def _read(self, ws: ClientConnection) -> None:
        """Hand each answer to its request; on a drop, fail every request waiting."""
        lost: ExchangeError
        try:
            async for raw in ws:
                answer = _answer.decode(raw)
                if answer.type in ANSWERS and answer.data is not None:
                    future = self.waiting.get(str(answer.data.get("client_id")))
                    if future is not None and not future.done():
                        future.set_result({"type": answer.type, "data": answer.data})
            lost = ConnectionLostError("CONNECTION_CLOSED", "the order connection closed")
        except ConnectionClosed as exc:
            lost = closed_error(exc)
        except msgspec.DecodeError as exc:
            lost = ConnectionLostError("INVALID_ANSWER", f"the server sent {exc}")
        if self.connection is ws:
            self.connection = None
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(lost)
                future.exception()  # retrieved here too: its request may have timed out

    async def aclose(self) -> None:
        ws, self.connection = self.connection, None
        if ws is not None:
            await close_ws(ws)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
