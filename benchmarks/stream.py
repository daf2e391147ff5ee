"""A bench bot's WebSocket, kept lean, for `benchmarks.e2e` and `benchmarks.ws_orders`.

The handshake is written by hand, each text frame sent with a zero mask (a valid mask:
the server unmasks it all the same) and every whole frame read straight off the buffer.
A general client library would measure itself more than the server: it parses, queues
and wakes a reader task for every frame. And one process hosts all the bench's bots,
so what one bot spends on a message every bot waits for: a message's `data` is decoded
only by a bot that reads it (`Message.data` stays raw JSON until then). The tape, one
`trade` message to every team each market data interval holding every print since the
last, is tens of kilobytes at full load; decoding it thirty times over, every 100 ms,
held every bot's next order behind it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import Any

import msgspec

HOST = "127.0.0.1"

TEXT, CLOSE, PING, PONG = 0x81, 0x88, 0x89, 0x8A
"""The first byte of a whole frame of each kind."""
NO_MASK = bytes(4)


class Message(msgspec.Struct):
    """A stream message, its `data` left undecoded (`data_of`)."""

    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")


message_of = msgspec.json.Decoder(Message).decode
_data = msgspec.json.Decoder(dict[str, Any]).decode


def data_of(message: Message) -> dict[str, Any]:
    """A message's `data`, decoded."""
    return _data(message.data)


class Stream(asyncio.Protocol):
    """A team's `/ws`: every whole text frame goes to `heard` as it comes (the server
    never fragments its frames), pings are answered."""

    def __init__(self, heard: Callable[[bytes], None]) -> None:
        self.heard = heard
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.opened.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.opened.set_result(None)
        self.frames()

    def frames(self) -> None:
        buffer, at = self.buffer, 0
        while len(buffer) - at >= 2:
            first, size, start = buffer[at], buffer[at + 1] & 0x7F, at + 2
            if size >= 126:
                width = 2 if size == 126 else 8
                if len(buffer) - start < width:
                    break
                size, start = int.from_bytes(buffer[start : start + width]), start + width
            if len(buffer) - start < size:
                break
            payload, at = bytes(buffer[start : start + size]), start + size
            if first == TEXT:
                self.heard(payload)
            elif first == PING:
                self.send(payload, PONG)
        del buffer[:at]

    def send(self, payload: bytes, first: int = TEXT) -> None:
        size = len(payload)
        if size < 126:
            head = bytes((first, 0x80 | size))
        else:
            head = struct.pack("!BBH", first, 0x80 | 126, size)  # orders are < 64 KiB
        assert self.transport is not None
        self.transport.write(head + NO_MASK + payload)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send(struct.pack("!H", 1000), CLOSE)
            self.transport.close()


async def open_stream(port: int, key: str, heard: Callable[[bytes], None]) -> Stream:
    """A team's `/ws`, open: its messages go to `heard` as they come."""
    loop = asyncio.get_running_loop()
    _, stream = await loop.create_connection(lambda: Stream(heard), HOST, port)
    nonce = base64.b64encode(os.urandom(16)).decode()
    assert stream.transport is not None
    stream.transport.write(
        f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
        f"Sec-WebSocket-Version: 13\r\nX-API-Key: {key}\r\n\r\n".encode()
    )
    await stream.opened
    return stream
