"""uvicorn's WebSocket protocol, with the server's data frames framed here and a short
way for the stream's messages to reach the socket.

A text frame from the server is a two-to-ten-byte header and the payload (no mask, no
fragments, no extension: compression is off), so it is framed here (`frame`) rather
than by the websockets library's general code, which was a large part of the cost of a
message; with an extension in force the library frames it.

The frames are written to the connection's transport, which is the edge's `Cork`: what
a connection writes during one turn of the loop leaves in one `send` at the start of
the next, so an order's ack, fills, position and answer go out together. (Gathering
them here as well, before the cork, only moved the bytes twice.)

The stream's messages need none of the ASGI layers on their way out (a message dict
per frame, starlette's state checks, the middleware's wrappers): the protocol puts
itself in the scope's extensions under `FRAMES`, and `socket_of` gives the stream a
`StreamSocket` that writes the frames of the messages the stream has ready straight
from `send_texts`, in one write, or from `write_texts` without awaiting while the
socket is writable (the stream then needs no task switch to send). It waits for the
socket to be writable as uvicorn does, so a peer that reads nothing still holds its
sender, and is cut off as a slow consumer (4008) by the stream's checks.
"""

from __future__ import annotations

import struct
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request
from websockets.protocol import State

TEXT, BINARY = 0x81, 0x82
"""The first byte of a whole (FIN) text or binary frame."""
FRAMES = "exchange.frames"
"""The scope extension naming the connection's `FramingProtocol`."""


def frame(first: int, payload: bytes) -> bytes:
    """A whole, unmasked frame (RFC 6455 section 5.2): what a server sends."""
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


class FramingProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # none when the handshake was refused
        if scope is not None:
            scope["extensions"][FRAMES] = self

    async def send(self, message: Any) -> None:
        if message["type"] != "websocket.send" or not self._streaming():
            await super().send(message)
            return
        await self.writable.wait()
        data = message.get("bytes")
        self.write_frame(*((TEXT, message["text"].encode()) if data is None else (BINARY, data)))

    async def send_texts(self, texts: list[bytes]) -> None:
        """Text messages (UTF-8), as `websocket.send` would send them, in one write."""
        if not self.writable.is_set():
            await self.writable.wait()
        self.write_texts(texts)

    def ready_to_write(self) -> bool:
        """Whether a write now goes out without waiting (uvicorn's flow control)."""
        return self.writable.is_set()

    def write_texts(self, texts: list[bytes]) -> None:
        """`send_texts` without the wait: only when `ready_to_write`."""
        if self.conn.extensions or not self._open():
            for text in texts:
                self.write_frame(TEXT, text)
            return
        self.transport.write(b"".join([frame(TEXT, text) for text in texts]))

    def write_frame(self, first: int, payload: bytes) -> None:
        if not self._open():
            raise ClientDisconnected()
        if not self.conn.extensions:
            self.transport.write(frame(first, payload))
            return
        try:  # framed by the library: an extension such as compression is in force
            if first == TEXT:
                self.conn.send_text(payload)
            else:
                self.conn.send_binary(payload)
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(self.conn.data_to_send()))

    def _open(self) -> bool:
        """Data frames may be written now."""
        return not self.disconnected and self._streaming() and self.conn.state is State.OPEN

    def _streaming(self) -> bool:
        """Past the handshake, before a close: where uvicorn would write data frames."""
        return self.handshake_complete and not self.close_sent and self.initial_response is None


class StreamSocket:
    """What the stream sends on: messages straight to the protocol, the close through
    the application's WebSocket (so starlette knows the connection is closed)."""

    __slots__ = ("close", "send_texts", "writable", "write_texts")

    def __init__(self, protocol: FramingProtocol, websocket: WebSocket) -> None:
        self.send_texts = protocol.send_texts
        self.writable = protocol.ready_to_write
        self.write_texts = protocol.write_texts
        self.close = websocket.close


class TextSocket:
    """The stream's messages through the application's WebSocket, one by one (a server
    whose WebSocket protocol is not `FramingProtocol`)."""

    __slots__ = ("close", "websocket")

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.close = websocket.close

    async def send_texts(self, texts: list[bytes]) -> None:
        for text in texts:
            await self.websocket.send_text(text.decode())


def socket_of(websocket: WebSocket) -> StreamSocket | TextSocket:
    """The short way to the socket where the server offers it, else the WebSocket."""
    protocol = websocket.scope.get("extensions", {}).get(FRAMES)
    return TextSocket(websocket) if protocol is None else StreamSocket(protocol, websocket)
