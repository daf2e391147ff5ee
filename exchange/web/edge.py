"""The HTTP edge: limits on what a client may send before the application sees it.

uvicorn's httptools protocol has no cap on the request head (httptools joins a header's
pieces in memory, so one 50 MiB header costs far more than 50 MiB and stalls the loop
while it is copied) and no deadline for sending it (an idle or slow socket is held for
as long as the client likes). `EdgeProtocol` adds both, per the server config:

- `max_header_bytes`: a request line and headers longer than this are answered 431;
- `header_timeout`: a request head not complete this many seconds after the connection
  opened (or after its first byte, on a kept-alive connection) is answered 408, or the
  socket is just closed when it sent nothing;
- `max_connections`: past this many open connections (WebSockets included) a request is
  answered 503, and so is a WebSocket upgrade (uvicorn's `limit_concurrency` counts
  the streams but lets upgrades through).

Every refusal is the API's error envelope with `Connection: close`. The socket then
stops being read and is closed once the client has read the answer, or after `LINGER`
seconds: closing at once, with the client's bytes still unread, would reset the
connection and could destroy the answer before the client reads it.

Writes go through a `Cork`: what the connection writes during one turn of the event
loop leaves in one `send` at the start of the next. uvicorn writes an answer's head and
body apart, and a WebSocket every frame apart; each write was a system call of its own,
together about a quarter of the server's time under load. An upgraded WebSocket keeps
the same cork.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from exchange.config import ServerConfig
from exchange.web.http import JSON, new_request_id
from exchange.wire.codec import failed
from exchange.wire.errors import ApiError

LINGER = 2.0
"""Seconds a refused connection is still read (and its bytes dropped) before closing."""


def refusal(code: str, message: str) -> tuple[int, bytes]:
    error = ApiError(code, message)
    return error.status, failed(error, new_request_id())


class Cork(asyncio.Transport):
    """A transport that gathers the writes of one loop turn and sends them as one.

    Everything but writing goes straight to the socket's transport; closing sends what
    is gathered first, aborting drops it. Flow control is the socket transport's, which
    sees the gathered bytes a turn later: at most what one turn wrote."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        if not self.pending:
            return
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        if not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.pending.clear()
        self.transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(map(len, self.pending))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.transport.set_write_buffer_limits(high, low)


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and connection count."""

    limits: ClassVar[ServerConfig] = ServerConfig()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_concurrency = None  # counted here, to answer in the envelope
        self.reading_head = True
        self.head_size = 0
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Cork(transport, self.loop))
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if not self.reading_head:
            super().data_received(data)
            return
        if self.head_timer is None:
            self.start_head_timer()
        room = self.limits.max_header_bytes - self.head_size
        if len(data) <= room:
            self.head_size += len(data)
            super().data_received(data)
            return
        # Feed what still fits: if the head ends within it, the rest is a body (or the
        # next request, counted afresh); if not, the head is too long.
        super().data_received(data[:room])
        if not self.still_ours():
            return
        if self.reading_head:
            limit = self.limits.max_header_bytes
            self.refuse(*refusal("HEADERS_TOO_LARGE", f"request headers exceed {limit} bytes"))
        else:
            self.data_received(data[room:])

    def on_headers_complete(self) -> None:
        self.reading_head, self.head_size = False, 0
        self.stop_head_timer()
        app = self.app
        if self.crowded():
            self.app = unavailable
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head, self.head_size = True, 0

    def handle_websocket_upgrade(self) -> None:
        if self.crowded():
            self.refuse(*refusal("SERVICE_UNAVAILABLE", "too many connections; retry shortly"))
        else:
            super().handle_websocket_upgrade()

    # -- the limits -------------------------------------------------------------------

    def crowded(self) -> bool:
        limit = self.limits.max_connections
        return len(self.connections) > limit or len(self.tasks) >= limit

    def still_ours(self) -> bool:
        return not self.transport.is_closing() and self.transport.get_protocol() is self

    def start_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.limits.header_timeout, self.head_too_slow)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_too_slow(self) -> None:
        self.head_timer = None
        if not self.reading_head or not self.still_ours():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.head_size == 0 or answering:
            self.transport.close()  # nothing to answer, or an answer is being written
        else:
            seconds = self.limits.header_timeout
            self.refuse(*refusal("REQUEST_TIMEOUT", f"request headers took over {seconds} s"))

    def refuse(self, status: int, body: bytes) -> None:
        """Answer `status` with `body`, stop reading, and close once it is delivered."""
        self.refused = True
        self.stop_head_timer()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: " + JSON.encode() + b"\r\n")
        head.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        if status == 503:
            head.append(b"retry-after: 1\r\n")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)


async def unavailable(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The answer to a request past `max_connections`."""
    status, body = refusal("SERVICE_UNAVAILABLE", "too many connections; retry shortly")
    headers = [
        (b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"retry-after", b"1"),
    ]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def edge_protocol(limits: ServerConfig) -> type[EdgeProtocol]:
    """The protocol class uvicorn makes for each connection, with these limits."""

    class Configured(EdgeProtocol):
        pass

    Configured.limits = limits
    return Configured
