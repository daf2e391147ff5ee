"""Limits at the HTTP edge, through raw sockets to 127.0.0.1: a request head too long is
answered 431, one too slow 408 (or a close, if nothing came), and a request or WebSocket
upgrade past the connection cap 503, each in the error envelope; none of them holds the
server back from answering everyone else. Every test is bounded in bytes and sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.server.harness import run_server, sandbox

HEAD_LIMIT = 8 * 1024
WAIT = 10.0
"""A bound on how long a socket may wait for an answer, never a timing claim."""


def edge_server(**server: Any) -> contextlib.AbstractContextManager[str]:
    limits = {"max_header_bytes": HEAD_LIMIT, "header_timeout": 30.0, **server}
    return run_server(sandbox(server=limits))


def raw(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=WAIT)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by WAIT per read)."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answer(reply: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def request(header_bytes: int) -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * header_bytes + b"\r\n\r\n"


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server takes; it may close early, having answered already."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with edge_server() as base:
        yield base


def test_a_head_over_the_limit_is_answered_431(server: str) -> None:
    with raw(server) as sock:
        send_quietly(sock, request(HEAD_LIMIT + 1))
        status, body = answer(read_all(sock))
    assert status == 431
    assert body["error"]["code"] == "HEADERS_TOO_LARGE"
    assert str(HEAD_LIMIT) in body["error"]["message"]


def test_a_head_within_the_limit_is_served(server: str) -> None:
    with raw(server) as sock:
        sock.sendall(request(HEAD_LIMIT - 200).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        status, body = answer(read_all(sock))
    assert status == 200
    assert body["success"] is True


def test_a_body_after_a_head_near_the_limit_is_not_counted_as_head(server: str) -> None:
    payload = json.dumps({"team_name": "edge body", "role": "retail"}).encode()
    head = (
        b"POST /auth/register HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
        b"X-Filler: " + b"a" * (HEAD_LIMIT - 120) + b"\r\n\r\n"
    )
    assert len(head) < HEAD_LIMIT < len(head) + len(payload)
    with raw(server) as sock:
        sock.sendall(head + payload)  # one write: the limit falls inside the body
        status, body = answer(read_all(sock))
    assert status == 201, body


def test_huge_headers_are_cut_off_while_the_server_keeps_answering(server: str) -> None:
    """Four clients stream 4 MiB headers each; every one is refused and /health is
    answered meanwhile (before the fix the server read them all, growing and stalling)."""
    socks = [raw(server) for _ in range(4)]
    try:
        for sock in socks:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * 65536
        for _ in range(64):
            for sock in socks:
                send_quietly(sock, chunk)
            assert httpx.get(f"{server}/health", timeout=WAIT).status_code == 200
        for sock in socks:
            status, body = answer(read_all(sock))
            assert (status, body["error"]["code"]) == (431, "HEADERS_TOO_LARGE")
    finally:
        for sock in socks:
            sock.close()


def test_a_slow_head_gets_408_and_a_silent_socket_is_closed() -> None:
    with edge_server(header_timeout=0.5) as base, raw(base) as slow, raw(base) as silent:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        status, body = answer(read_all(slow))
        assert (status, body["error"]["code"]) == (408, "REQUEST_TIMEOUT")
        assert read_all(silent) == b""
        assert httpx.get(f"{base}/health", timeout=WAIT).status_code == 200


def test_a_kept_alive_connection_gets_the_deadline_afresh_for_each_request() -> None:
    with edge_server(header_timeout=1.0) as base, httpx.Client(base_url=base) as http:
        for _ in range(3):
            assert http.get("/health").status_code == 200
            time.sleep(0.6)  # idle between requests: the deadline counts from each head


def test_past_the_connection_cap_requests_and_upgrades_get_503() -> None:
    cap = 4
    with edge_server(max_connections=cap) as base:
        held = [raw(base) for _ in range(cap)]
        try:
            crowded = wait_for_status(base, 503)
            assert crowded.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert crowded.headers["connection"] == "close"
            with pytest.raises(InvalidStatus) as refused:
                connect(base.replace("http://", "ws://") + "/ws", open_timeout=WAIT)
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["Retry-After"] == "1"
        finally:
            for sock in held:
                sock.close()
        assert wait_for_status(base, 200).status_code == 200


def wait_for_status(base: str, status: int) -> httpx.Response:
    """The server sees sockets open and close a moment after the client does: ask until
    the answer is `status` (at most WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while True:
        reply = httpx.get(f"{base}/health", timeout=WAIT)
        if reply.status_code == status or time.monotonic() > deadline:
            assert reply.status_code == status, reply.text
            return reply
        time.sleep(0.05)
