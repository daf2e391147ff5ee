"""What the lean order path keeps: request ids without a syscall each, one timestamp per
turn of the loop, headers read as Starlette reads them, and a heap the collector does
not walk while serving (the long-lived startup objects, every stream's history)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from exchange.domain.types import TeamId
from exchange.pipeline.fanout import Fanout
from exchange.web.edge import Cork
from exchange.wire.codec import utc_now
from tests.server.harness import Bot, run_server, sandbox

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox()) as base:
        yield base


def test_generated_request_ids_are_16_hex_digits_a_process_prefix_and_a_counter(
    server: str,
) -> None:
    with httpx.Client(base_url=server) as http:
        ids = [http.get("/health").json()["request_id"] for _ in range(5)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids), ids
    assert len({i[:8] for i in ids}) == 1  # drawn once per process
    counters = [int(i[8:], 16) for i in ids]
    assert counters == sorted(counters) and len(set(counters)) == 5


def test_an_error_envelope_gets_a_generated_id_of_the_same_form(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        reply = http.post("/orders", content=b"{", headers={"content-type": "application/json"})
    assert reply.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{16}", reply.json()["request_id"])


def test_the_first_of_a_repeated_header_counts(server: str) -> None:
    bot = Bot(server)
    headers = [("X-Request-Id", "first"), ("X-Request-Id", "second")]
    reply = bot.http.get("/orders", headers=httpx.Headers(headers))
    bot.close()
    assert reply.json()["request_id"] == "first"
    assert int(reply.headers["X-RateLimit-Limit"]) >= int(reply.headers["X-RateLimit-Remaining"])
    # The key is read as before; a wrong one first is refused even if a right one follows.
    wrong = httpx.Headers([("X-API-Key", "wrong"), ("X-API-Key", bot.key)])
    assert httpx.get(f"{server}/orders", headers=wrong).status_code == 401


def test_a_declared_media_type_is_still_judged(server: str) -> None:
    bot = Bot(server)
    body = b'{"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 1.0}'
    reply = bot.http.post("/orders", content=body, headers={"content-type": "text/plain"})
    bot.close()
    assert reply.status_code == 415
    assert reply.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_the_heap_is_frozen_while_serving_and_handed_back_at_shutdown() -> None:
    with run_server(sandbox()) as base:
        assert httpx.get(f"{base}/health").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_one_timestamp_per_turn_of_the_loop() -> None:
    first = utc_now()
    assert utc_now() is first  # the same turn: read and formatted once
    assert STAMP.fullmatch(first)
    await asyncio.sleep(0.002)
    later = utc_now()
    assert STAMP.fullmatch(later) and later > first


def test_a_timestamp_outside_a_loop_is_read_afresh() -> None:
    for _ in range(3):
        before = dt.datetime.now(dt.UTC)
        stamp = utc_now()
        after = dt.datetime.now(dt.UTC)
        assert STAMP.fullmatch(stamp)
        assert before <= dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= after


async def test_a_streams_history_gives_the_collector_nothing_to_walk() -> None:
    fanout = Fanout(10_000, 100, 10_000_000, 1_000_000)
    team = TeamId("T0001")
    fanout.add_team(team)
    fanout.stream(team, "position_update", {"n": 0})
    gc.collect()
    before = len(gc.get_objects())
    for n in range(1, 2_001):
        fanout.stream(team, "position_update", {"n": n})
        if n % 3 == 0:
            fanout.broadcast("event", {"headline": f"news {n}"})
    gc.collect()
    assert len(gc.get_objects()) - before < 100  # not one object per message kept


class Socket(asyncio.Transport):
    """The socket's transport: what was sent, in how many sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


async def test_a_turns_writes_leave_in_one_send_in_order() -> None:
    socket = Socket()
    cork = Cork(socket, asyncio.get_running_loop())
    cork.write(b"HTTP/1.1 201 Created\r\n\r\n")
    cork.write(memoryview(b"{}"))
    cork.write(b"")
    assert socket.sent == [] and cork.get_write_buffer_size() == 26
    await asyncio.sleep(0)
    assert socket.sent == [b"HTTP/1.1 201 Created\r\n\r\n{}"]
    cork.write(b"next")
    await asyncio.sleep(0)
    assert socket.sent[1:] == [b"next"]


async def test_closing_sends_what_is_gathered_first_and_aborting_drops_it() -> None:
    loop = asyncio.get_running_loop()
    closed, aborted = Socket(), Socket()
    cork = Cork(closed, loop)
    cork.write(b"last words")
    cork.close()
    assert closed.sent == [b"last words"] and closed.closed
    cork = Cork(aborted, loop)
    cork.write(b"never sent")
    cork.abort()
    await asyncio.sleep(0)
    assert aborted.sent == [] and aborted.aborted


async def test_nothing_is_sent_on_a_socket_already_closing() -> None:
    socket = Socket()
    cork = Cork(socket, asyncio.get_running_loop())
    cork.write(b"too late")
    socket.closed = True  # the peer went away within the turn
    await asyncio.sleep(0)
    assert socket.sent == []


def test_an_answer_and_a_stream_arrive_whole_through_the_cork(server: str) -> None:
    bot = Bot(server)
    with connect(bot.ws_url, additional_headers={"X-API-Key": bot.key}) as ws:
        placed = bot.order("SPX", "buy", 2, 1.0, client_order_id="corked")
        assert placed.status_code == 201, placed.text
        kinds = []
        while "new_order_ack" not in kinds:
            kinds.append(json.loads(ws.recv(timeout=5))["type"])
    bot.close()


ORDER = {"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 4000.0}


def test_an_order_from_a_bot_and_one_from_a_browser_get_the_same_answer(server: str) -> None:
    """A bot's order (no `Origin`) skips the middleware; a browser's goes through CORS.
    Both are answered alike, with the envelope and the rate limit headers."""
    bot = Bot(server)
    plain = bot.http.post("/orders", json=ORDER)
    browser = bot.http.post("/orders", json=ORDER, headers={"Origin": "http://example.test"})
    quote = {"instrument_id": "SPX", "bid_price": 3990.0, "bid_quantity": 10,
             "ask_price": 4010.0, "ask_quantity": 10}  # fmt: skip
    quoted = bot.http.post("/quotes", json=quote)
    bot.close()
    for reply in (plain, browser):
        assert reply.status_code == 201, reply.text
        assert reply.json()["data"]["status"] == "accepted"
        assert int(reply.headers["X-RateLimit-Remaining"]) >= 0
    assert quoted.status_code == 201, quoted.text
    assert "access-control-allow-origin" not in plain.headers
    assert browser.headers["access-control-allow-origin"] == "*"
    assert plain.json()["data"].keys() == browser.json()["data"].keys()


def test_a_bad_order_from_a_bot_gets_the_error_envelope(server: str) -> None:
    bot = Bot(server)
    reply = bot.http.post("/orders", json={**ORDER, "quantity": 0})
    refused = bot.http.post("/orders", content=b"[", headers={"content-type": "text/plain"})
    bot.close()
    assert reply.status_code == 400, reply.text
    assert reply.json()["success"] is False and reply.json()["error"]["code"]
    assert refused.status_code == 415
    assert refused.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
