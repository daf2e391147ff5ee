"""uvicorn's WebSocket protocol, writing the frames of one loop turn in one write.

uvicorn writes each frame to the socket as it is sent: one system call per message. A
connection's sender (`Fanout._send`) sends everything it has without waiting whenever
the socket is writable, so an order's ack, fills, position and answer went out as four
or five writes, and the writes were most of the cost of a message (a profile of orders
on the stream at 10 bots: a third of the server's time in the send). Here a data frame
is framed at once and queued; the queue is written out, in one piece, when the loop
next gets to its callbacks (`call_soon`), so nothing waits longer than the rest of the
current turn. Before a close frame the queue is written first, so the order of frames
is kept; a lost connection drops what is queued, as it would drop an unsent buffer.

A text frame from the server is a two-to-ten-byte header and the payload (no mask, no
fragments, no extension: compression is off), so it is framed here (`frame`) rather
than by the websockets library's general code, which was the next largest cost of a
message; with an extension in force the library frames it.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import State

TEXT, BINARY = 0x81, 0x82
"""The first byte of a whole (FIN) text or binary frame."""


def frame(first: int, payload: bytes) -> bytes:
    """A whole, unmasked frame (RFC 6455 section 5.2): what a server sends."""
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


class CoalescingProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued: list[bytes] = []
        self.flushing: asyncio.Handle | None = None

    async def send(self, message: Any) -> None:
        if message["type"] != "websocket.send" or not self._streaming():
            self.flush()
            await super().send(message)
            return
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        data = message.get("bytes")
        first, payload = (TEXT, message["text"].encode()) if data is None else (BINARY, data)
        if self.conn.extensions:
            self._send_framed(first, payload)
        elif self.conn.state is State.OPEN:
            self.queued.append(frame(first, payload))
        else:
            raise ClientDisconnected()
        if self.flushing is None:
            self.flushing = self.loop.call_soon(self.flush)

    def _send_framed(self, first: int, payload: bytes) -> None:
        """Frame by the library (an extension such as compression is in force)."""
        try:
            if first == TEXT:
                self.conn.send_text(payload)
            else:
                self.conn.send_binary(payload)
        except InvalidState:
            raise ClientDisconnected() from None
        self.queued.extend(self.conn.data_to_send())

    def _streaming(self) -> bool:
        """Past the handshake, before a close: where uvicorn would write data frames."""
        return self.handshake_complete and not self.close_sent and self.initial_response is None

    def flush(self) -> None:
        """Write what is queued, in one piece."""
        self.flushing = None
        if self.queued:
            out, self.queued = b"".join(self.queued), []
            if not self.transport.is_closing():
                self.transport.write(out)
