"""`/ws` end to end (SPEC section 8): greeting, sequencing, privacy, resume, heartbeats,
slow consumers, conflated market data, and the pre-open and opening auction as a stream
client sees them. Every test talks to a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from exchange.config import GameConfig, load_config
from exchange.wire.messages import SNAPSHOT_TYPES, STREAM_TYPES
from tests.server.harness import Bot, run_server, sandbox, stream
from tests.support import Message, has_print, is_type, recv_until, trade_prints

NO_RATE_LIMIT = ["order_rate"]
PRIVATE_TYPES = {"new_order_ack", "execution_report", "order_cancelled", "position_update"}


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def options(server: str) -> Iterator[str]:
    """A fresh option instrument for each test that asks, so books never share orders."""
    with httpx.Client(base_url=server, timeout=10) as http:
        listed = http.get("/instruments").json()["data"]
    return iter([i["instrument_id"] for i in listed if i["strike"] is not None])


@pytest.fixture
def instrument(options: Iterator[str]) -> str:
    return next(options)


def greet(ws: ClientConnection) -> tuple[Message, Message]:
    """The two opening messages: connection_status, then position_snapshot."""
    status = json.loads(ws.recv(timeout=5))
    snapshot = json.loads(ws.recv(timeout=5))
    assert status["type"] == "connection_status", status
    assert snapshot["type"] == "position_snapshot", snapshot
    return status, snapshot


def stream_messages(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m["type"] in STREAM_TYPES]


def seqs(messages: list[Message]) -> list[int]:
    return [m["seq"] for m in stream_messages(messages)]


def at_seq(seq: int) -> Callable[[Message], bool]:
    return lambda m: m["type"] in STREAM_TYPES and m["seq"] >= seq


def placed(reply: httpx.Response) -> str:
    assert reply.status_code == 201, reply.text
    return str(reply.json()["order_id"])


def stream_url(bot: Bot, query: str) -> ClientConnection:
    return connect(bot.ws_url + query, additional_headers={"X-API-Key": bot.key}, open_timeout=5)


def each_of(*predicates: Callable[[Message], bool]) -> Callable[[], Callable[[Message], bool]]:
    """A fresh predicate, true once every one of `predicates` has matched some message."""

    def make() -> Callable[[Message], bool]:
        waiting = list(predicates)

        def match(message: Message) -> bool:
            waiting[:] = [p for p in waiting if not p(message)]
            return not waiting

        return match

    return make


def no_more(ws: ClientConnection, wait: float = 0.3) -> list[Message]:
    """Whatever else arrives within `wait` seconds (a bounded read, not a timing claim)."""
    out: list[Message] = []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return out


# -- authentication and the greeting ------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "query", "empty"])
def test_wrong_or_empty_key_is_accepted_then_closed_with_1008(server: str, where: str) -> None:
    # No key at all is a spectator (tests/server/test_spectators.py); a key is checked.
    url = server.replace("http://", "ws://") + "/ws"
    headers = {"X-API-Key": "not-a-key"} if where == "header" else {}
    if where != "header":
        url += "?api_key=" + ("not-a-key" if where == "query" else "")
    with (
        connect(url, additional_headers=headers, open_timeout=5) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


@pytest.mark.parametrize("where", ["header", "query"])
def test_good_key_in_header_or_query_is_greeted(bots: Callable[..., Bot], where: str) -> None:
    bot = bots()
    if where == "header":
        ws = connect(bot.ws_url, additional_headers={"X-API-Key": bot.key}, open_timeout=5)
    else:
        ws = connect(f"{bot.ws_url}?api_key={bot.key}", open_timeout=5)
    with ws:
        status, snapshot = greet(ws)
    assert status["data"]["team_id"] == bot.team_id
    assert snapshot["data"]["account"]["team_id"] == bot.team_id


def test_a_new_connection_gets_each_books_latest_market_data_without_waiting() -> None:
    """A book that does not change sends no market data: a bot (or the dashboard)
    connecting after its last change is still told its top, on connect."""
    config = sandbox(market={"enabled": False}, server={"market_data_interval": 0.05})
    with run_server(config) as base:
        maker = Bot(base)
        try:
            with stream(maker) as first:
                greet(first)
                placed(maker.order("SPX", "sell", 5, 101.0))
                placed(maker.order("SPX", "buy", 3, 99.0))
                recv_until(first, is_type("market_data", instrument_id="SPX", bid=99.0))
            time.sleep(0.2)  # intervals go by; the book is as it was
            with stream(maker) as second:
                greet(second)
                heard = recv_until(second, is_type("market_data", instrument_id="SPX"))
        finally:
            maker.close()
    data = heard[-1]["data"]
    assert (data["bid"], data["bid_size"], data["ask"], data["ask_size"]) == (99.0, 3, 101.0, 5)


def test_since_that_is_not_a_number_is_closed_with_1008(bots: Callable[..., Bot]) -> None:
    bot = bots()
    with stream_url(bot, "?since=abc") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_connect_sends_connection_status_then_position_snapshot_with_open_orders() -> None:
    config = sandbox(server={"heartbeat_interval": 7.5})
    with run_server(config) as base:
        maker, taker = Bot(base), Bot(base, "hedge_fund")
        try:
            with stream(maker) as first:
                greet(first)
                resting = placed(maker.order("SPX", "sell", 5, 100.0, client_order_id="a-1"))
                placed(taker.order("SPX", "buy", 2, 100.0))
                seen = recv_until(first, is_type("trade"))
            last = seqs(seen)[-1]
            with stream(maker) as second:
                status, snapshot = greet(second)
        finally:
            maker.close()
            taker.close()
    assert status["seq"] == last
    assert status["data"] | {"game_time": None} == {
        "status": "connected", "team_id": maker.team_id, "role": "market_maker",
        "heartbeat_interval": 7.5, "last_seq": last, "resumed": False, "phase": "CONTINUOUS",
        "game_time": None, "ignore_unknown_types": True,
    }  # fmt: skip
    assert snapshot["seq"] == last
    account, open_orders = snapshot["data"]["account"], snapshot["data"]["open_orders"]
    assert [(p["instrument_id"], p["quantity"]) for p in account["positions"]] == [("SPX", -2)]
    assert [
        (o["order_id"], o["side"], o["price"], o["quantity"], o["filled"], o["remaining"],
         o["client_order_id"])
        for o in open_orders
    ] == [(resting, "sell", 100.0, 5, 2, 3, "a-1")]  # fmt: skip


# -- sequencing and privacy -------------------------------------------------------------


def test_stream_seq_rises_by_one_across_acks_fills_positions_trades_and_cancels(
    bots: Callable[..., Bot], instrument: str
) -> None:
    maker, taker = bots(), bots()
    with stream(maker) as ws:
        status, _ = greet(ws)
        first = status["data"]["last_seq"] + 1
        placed(maker.order(instrument, "sell", 5, 10.0))
        placed(taker.order(instrument, "buy", 2, 10.0))
        placed(maker.quote(instrument, 9.5, 10.0, 10))
        placed(taker.order(instrument, "buy", 4, 10.0))
        assert maker.http.delete("/orders").status_code == 200
        # The cancel-all ends the run: the quote's bid is one of its two cancels.
        seen = recv_until(ws, is_type("order_cancelled", side="buy"))
        seen += no_more(ws)
    stream_seen = stream_messages(seen)
    assert seqs(seen) == list(range(first, first + len(stream_seen)))
    assert {m["type"] for m in stream_seen} == {
        "new_order_ack", "execution_report", "position_update", "trade", "order_cancelled"
    }  # fmt: skip
    # A snapshot (market data here) carries a seq the client has already received.
    delivered = first - 1
    for m in seen:
        if m["type"] in STREAM_TYPES:
            delivered = m["seq"]
        else:
            assert m["type"] in SNAPSHOT_TYPES
            assert first - 1 <= m["seq"] <= delivered


def test_both_sides_of_a_cross_get_their_execution_report(
    bots: Callable[..., Bot], instrument: str
) -> None:
    maker, taker = bots(), bots("hedge_fund")
    with stream(maker) as maker_ws, stream(taker) as taker_ws:
        greet(maker_ws)
        greet(taker_ws)
        sell = placed(maker.order(instrument, "sell", 5, 10.0, client_order_id="m-1"))
        buy = placed(taker.order(instrument, "buy", 3, 10.0, client_order_id="t-1"))
        maker_seen = recv_until(maker_ws, is_type("execution_report", exec_type="trade"))
        taker_seen = recv_until(taker_ws, is_type("execution_report", exec_type="trade"))
    maker_fill, taker_fill = maker_seen[-1]["data"], taker_seen[-1]["data"]
    assert maker_fill["trade_id"] == taker_fill["trade_id"]
    assert (maker_fill["order_id"], maker_fill["client_order_id"]) == (sell, "m-1")
    assert (taker_fill["order_id"], taker_fill["client_order_id"]) == (buy, "t-1")
    for fill in (maker_fill, taker_fill):
        assert (fill["last_price"], fill["last_quantity"]) == (10.0, 3)
    assert (maker_fill["liquidity_type"], maker_fill["filled"], maker_fill["remaining"]) == (
        "maker", 3, 2,
    )  # fmt: skip
    assert (maker_fill["status"], maker_fill["fee"]) == ("partially_filled", 0.06)
    assert (taker_fill["liquidity_type"], taker_fill["filled"], taker_fill["remaining"]) == (
        "taker", 3, 0,
    )  # fmt: skip
    assert (taker_fill["status"], taker_fill["fee"]) == ("filled", -0.06)


def test_a_team_never_receives_another_teams_private_messages(
    bots: Callable[..., Bot], instrument: str
) -> None:
    maker, taker, bystander = bots(), bots("hedge_fund"), bots()
    with stream(maker) as maker_ws, stream(taker) as taker_ws, stream(bystander) as other_ws:
        for ws in (maker_ws, taker_ws, other_ws):
            greet(ws)
        mine = {
            maker.team_id: {placed(maker.order(instrument, "sell", 5, 10.0))},
            taker.team_id: {placed(taker.order(instrument, "buy", 3, 10.0))},
        }
        mine[maker.team_id].add(placed(maker.order(instrument, "buy", 1, 9.0)))
        assert maker.http.delete("/orders").status_code == 200
        # The bystander's own order closes the run: its ack comes after everything above.
        own = placed(bystander.order(instrument, "buy", 1, 8.0))
        mine[bystander.team_id] = {own}
        last = is_type("new_order_ack", order_id=own)
        seen = {
            bystander.team_id: recv_until(other_ws, last),
            maker.team_id: recv_until(maker_ws, is_type("order_cancelled", side="buy")),
            taker.team_id: recv_until(taker_ws, is_type("position_update")),
        }
        # Public prints go out with the next market data interval, maybe after the ack.
        # (Prints of earlier tests' trades may still arrive: only this instrument's count.)
        if not [
            p for p in trade_prints(seen[bystander.team_id]) if p["instrument_id"] == instrument
        ]:
            seen[bystander.team_id] += recv_until(
                other_ws, has_print(quantity=3, instrument_id=instrument)
            )
    for team_id, messages in seen.items():
        private = [m for m in messages if m["type"] in PRIVATE_TYPES]
        assert {m["data"]["order_id"] for m in private if "order_id" in m["data"]} <= mine[team_id]
    bystander_private = [m["type"] for m in seen[bystander.team_id] if m["type"] in PRIVATE_TYPES]
    assert bystander_private == ["new_order_ack"]
    prints = trade_prints(seen[bystander.team_id])
    assert [p["quantity"] for p in prints if p["instrument_id"] == instrument] == [3]
    kinds = {m["type"] for m in seen[maker.team_id]}
    assert {"execution_report", "position_update", "order_cancelled"} <= kinds


# -- resume -----------------------------------------------------------------------------


def test_resume_with_since_replays_exactly_the_missed_messages(
    bots: Callable[..., Bot], instrument: str
) -> None:
    maker, taker = bots(), bots("hedge_fund")
    with stream(maker) as observer:
        greet(observer)
        with stream(maker) as ws:
            greet(ws)
            placed(maker.order(instrument, "sell", 5, 10.0))
            last = recv_until(ws, is_type("new_order_ack"))[-1]["seq"]
        # Disconnected: a fill, a new order, a cancel, a public trade all happen now.
        placed(taker.order(instrument, "buy", 2, 10.0))
        extra = placed(maker.order(instrument, "buy", 1, 9.0))
        assert maker.http.delete(f"/orders/{extra}").status_code == 200
        placed(taker.order(instrument, "buy", 1, 10.0))
        everything = recv_until(observer, has_print(quantity=1, instrument_id=instrument))
        final = everything[-1]["seq"]
        with stream(maker, since=last) as resumed:
            status, snapshot = greet(resumed)
            replayed = recv_until(resumed, at_seq(final))
    assert status["data"]["resumed"] is True
    assert status["data"]["last_seq"] >= final
    assert [p["quantity"] for p in snapshot["data"]["account"]["positions"]] == [-3]
    missed = [m for m in stream_messages(everything) if m["seq"] > last]
    assert stream_messages(replayed) == missed
    assert seqs(replayed) == list(range(last + 1, final + 1))
    assert {m["type"] for m in missed} == {
        "new_order_ack", "execution_report", "position_update", "trade", "order_cancelled"
    }  # fmt: skip


def test_resume_from_the_latest_seq_replays_nothing(
    bots: Callable[..., Bot], instrument: str
) -> None:
    bot = bots()
    with stream(bot) as ws:
        greet(ws)
        placed(bot.order(instrument, "buy", 1, 9.0))
        last = recv_until(ws, is_type("new_order_ack"))[-1]["seq"]
    with stream(bot, since=last) as ws:
        status, _ = greet(ws)
        placed(bot.order(instrument, "buy", 1, 8.0))
        seen = recv_until(ws, is_type("new_order_ack"))
    assert (status["data"]["resumed"], status["data"]["last_seq"]) == (True, last)
    assert seqs(seen) == [last + 1]


def test_resume_older_than_the_history_gets_resync_required_then_a_snapshot() -> None:
    with run_server(sandbox(server={"history_size": 5, "max_backlog": 4})) as base:
        bot = Bot(base)
        try:
            with stream(bot) as ws:
                greet(ws)
                for i in range(8):
                    placed(bot.order("SPX", "buy", 1, round(10 + i / 100, 2)))
                recv_until(ws, at_seq(8))
            # History keeps seq 4..8: since=3 still resumes, since=2 no longer can.
            with stream(bot, since=3) as ws:
                status, _ = greet(ws)
                kept = recv_until(ws, at_seq(8))
            with stream(bot, since=2) as ws:
                late_status = json.loads(ws.recv(timeout=5))
                resync = json.loads(ws.recv(timeout=5))
                snapshot = json.loads(ws.recv(timeout=5))
                placed(bot.order("SPX", "buy", 1, 9.0))
                after = recv_until(ws, lambda m: m["type"] in STREAM_TYPES)
        finally:
            bot.close()
    assert status["data"]["resumed"] is True
    assert seqs(kept) == [4, 5, 6, 7, 8]
    assert late_status["type"] == "connection_status"
    assert late_status["data"]["resumed"] is False
    assert resync["type"] == "resync_required"
    assert resync["data"] == {"requested_since": 2, "oldest_available": 4, "last_seq": 8}
    assert resync["seq"] == 8
    assert snapshot["type"] == "position_snapshot"
    assert len(snapshot["data"]["open_orders"]) == 8
    assert seqs(after) == [9]  # nothing replayed: the live stream goes on


# -- heartbeats, slow consumers, market data --------------------------------------------


def test_heartbeats_arrive_and_carry_the_latest_seq() -> None:
    with run_server(sandbox(server={"heartbeat_interval": 0.2})) as base:
        bot = Bot(base)
        try:
            with stream(bot) as ws:
                status, _ = greet(ws)
                beats = [recv_until(ws, is_type("heartbeat"))[-1] for _ in range(3)]
        finally:
            bot.close()
    assert status["data"]["heartbeat_interval"] == 0.2
    assert all(b["data"]["phase"] == "CONTINUOUS" and b["data"]["game_time"] for b in beats)
    assert [b["seq"] for b in beats] == [0, 0, 0]


class RawStream:
    """A WebSocket client at the socket level with a tiny receive buffer: it reads only
    when told, so the server's send buffers fill while it sits still."""

    def __init__(self, base: str, key: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.settimeout(5)
        self.sock.connect((host, int(port)))
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
            f"Sec-WebSocket-Version: 13\r\nX-API-Key: {key}\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _more(self) -> bytes:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            wait = self.sock.gettimeout()
            pytest.fail(f"the server sent nothing more for {wait:g}s and no close frame")
        if not data:
            pytest.fail("the server closed the socket without a close frame")
        return data

    def read_until_close(self) -> tuple[list[Message], int]:
        """Every text message until the close frame, and the close code."""
        messages: list[Message] = []
        while True:
            while (frame := self._frame()) is None:
                self.buffer += self._more()
            opcode, payload = frame
            if opcode == 0x1:
                messages.append(json.loads(payload))
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0]
                mask = os.urandom(4)
                echo = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:2]))
                self.sock.sendall(bytes([0x88, 0x80 | 2]) + mask + echo)
                return messages, code

    def _frame(self) -> tuple[int, bytes] | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return None
            length, start = struct.unpack("!H", buf[2:4])[0], 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length, start = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < start + length:
            return None
        self.buffer = buf[start + length :]
        return opcode, buf[start : start + length]

    def close(self) -> None:
        self.sock.close()


def test_slow_client_is_cut_off_with_4008_while_a_fast_client_keeps_everything() -> None:
    config = sandbox(
        server={"max_backlog": 50, "history_size": 50_000},
        disabled_constraints=["order_rate", "position_limit", "portfolio_limit"],
    )
    with run_server(config) as base:
        slow, fast = Bot(base), Bot(base, "hedge_fund")
        raw = RawStream(base, slow.key)
        try:
            with connect(
                fast.ws_url, additional_headers={"X-API-Key": fast.key}, max_queue=None
            ) as fast_ws:
                greet(fast_ws)
                quotes, trades = flood_until_cut_off(slow, fast)
                # The fast client is still served after the cut.
                placed(slow.quote("SPX", 99.5, 100.5, 10))
                placed(fast.order("SPX", "buy", 1, 100.5, client_order_id="final"))
                quotes, trades = quotes + 1, trades + 1
                seen = recv_until(fast_ws, is_type("execution_report", client_order_id="final"))
                trade_id = seen[-1]["data"]["trade_id"]
                seen += recv_until(fast_ws, has_print(trade_id=trade_id))
                seen += no_more(fast_ws)
            # A slow client stays slow: it reads again a few seconds after the cut, and
            # still finds everything it was sent, then the close frame with its code.
            time.sleep(3)
            # Its receive window has been shut for seconds by now, and the server's kernel
            # probes a shut window at intervals that double while it stays shut (seen here:
            # the next probe 6-7 s after the read), so the bytes may take that long to move.
            raw.sock.settimeout(30)
            received, code = raw.read_until_close()
            # The cut-off team lost nothing: a resume gives what it did not get.
            last = received[-1]["seq"]
            with stream(slow, since=last) as resumed:
                status, _ = greet(resumed)
                final = status["data"]["last_seq"]
                replayed = recv_until(resumed, at_seq(final), timeout=20)
        finally:
            raw.close()
            slow.close()
            fast.close()
    assert code == 4008
    assert seqs(received) == list(range(1, last + 1))
    assert final > last + 50
    assert seqs(replayed) == list(range(last + 1, final + 1))
    # Nothing was dropped on the way: every quote's two acks, every replaced quote's two
    # cancels, every fill's report and position update, every trade print.
    everything = stream_messages(received + replayed)
    periodic = {"trade", "leaderboard"}  # prints come batched; the scores on a timer
    kinds = Counter(m["type"] for m in everything if m["type"] not in periodic)
    assert kinds == {
        "new_order_ack": 2 * quotes, "order_cancelled": 2 * (quotes - 1),
        "execution_report": trades, "position_update": trades,
    }  # fmt: skip
    assert len(trade_prints(everything)) == trades
    # Everything the fast client's team was sent arrived, in order, nothing missing.
    assert seqs(seen) == list(range(1, len(stream_messages(seen)) + 1))
    prints = trade_prints(seen)
    fills = [
        m for m in seen if m["type"] == "execution_report" and m["data"]["exec_type"] == "trade"
    ]
    assert len(prints) == len(fills) == trades
    assert [p["trade_id"] for p in prints] == [m["data"]["trade_id"] for m in fills]


def flood_until_cut_off(slow: Bot, fast: Bot, limit: int = 20_000) -> tuple[int, int]:
    """The slow team requotes (acks and cancels on its stream) and the fast team trades
    against it now and then, until the server has dropped one of the two connections.
    Returns how many quotes and trades that took."""
    trades = 0
    for i in range(limit):
        placed(slow.quote("SPX", 99.5 + (i % 2) / 100, 100.5, 10))
        if i % 25 == 0:
            placed(fast.order("SPX", "buy", 1, 100.5))
            trades += 1
        if i % 25 == 12 and slow.http.get("/health").json()["data"]["connections"] < 2:
            return i + 1, trades
    raise AssertionError("the slow client was never cut off")


def test_market_data_is_conflated_and_the_last_update_shows_the_final_top() -> None:
    config = sandbox(server={"market_data_interval": 1.0}, disabled_constraints=NO_RATE_LIMIT)
    changes = 30
    with run_server(config) as base:
        bot = Bot(base)
        try:
            with stream(bot) as ws:
                greet(ws)
                for i in range(1, changes + 1):
                    placed(bot.order("SPX", "buy", i, round(10 + i / 100, 2)))
                final_top = is_type("market_data", bid=10.3, bid_size=changes)
                seen = recv_until(ws, final_top, timeout=10)
                seen += no_more(ws, 1.5)  # one more interval: nothing newer may follow
        finally:
            bot.close()
    updates = [m["data"] for m in seen if m["type"] == "market_data"]
    assert len([m for m in seen if m["type"] == "new_order_ack"]) == changes
    assert 1 <= len(updates) < changes
    assert updates[-1] == {
        "instrument_id": "SPX", "phase": "CONTINUOUS", "bid": 10.3, "bid_size": 30,
        "ask": None, "ask_size": 0, "last": None,
    }  # fmt: skip


def test_continuous_book_has_no_indicative_price(
    bots: Callable[..., Bot], instrument: str
) -> None:
    bot = bots()
    placed(bot.order(instrument, "buy", 1, 9.0))
    book = bot.http.get(f"/market/book/{instrument}").json()["data"]
    assert (book["phase"], book["indicative_price"], book["indicative_volume"]) == (
        "CONTINUOUS", None, None,
    )  # fmt: skip


# -- the pre-open and the opening auction ---------------------------------------------


def trading_day(start: str, speed: float, **server: Any) -> GameConfig:
    """A game on the SPEC's schedule (Tuesday 2026-11-24, America/Chicago) from `start`."""
    return load_config(
        overrides={
            "schedule": {"always_open": False},
            "clock": {"start": f"2026-11-24T{start}-06:00", "speed": speed},
            "server": server,
            "market": {"enabled": False},
        }
    )


def test_pre_open_market_data_and_book_carry_indicative_price_and_volume() -> None:
    with run_server(trading_day("08:30:00", 1)) as base:
        buyer, seller = Bot(base), Bot(base, "hedge_fund")
        try:
            with stream(buyer) as ws:
                status, _ = greet(ws)
                placed(buyer.order("SPX", "buy", 10, 100.0))
                placed(buyer.order("SPX", "buy", 2, 99.0))
                placed(seller.order("SPX", "sell", 6, 100.0))
                seen = recv_until(ws, is_type("market_data", indicative_volume=6))
                seen += no_more(ws)
            book = buyer.http.get("/market/book/SPX").json()["data"]
        finally:
            buyer.close()
            seller.close()
    assert status["data"]["phase"] == "PRE_OPEN"
    assert seen[-1]["data"] == {
        "instrument_id": "SPX", "phase": "PRE_OPEN", "bid": 100.0, "bid_size": 10,
        "ask": 100.0, "ask_size": 6, "last": None, "indicative_price": 100.0,
        "indicative_volume": 6,
    }  # fmt: skip
    # Crossed but nothing trades before the auction.
    assert not [m for m in seen if m["type"] in ("execution_report", "trade")]
    assert book["phase"] == "PRE_OPEN"
    assert (book["indicative_price"], book["indicative_volume"]) == (100.0, 6)
    assert [(lv["price"], lv["quantity"]) for lv in book["bids"]] == [(100.0, 10), (99.0, 2)]
    assert [(lv["price"], lv["quantity"]) for lv in book["asks"]] == [(100.0, 6)]


def test_opening_auction_from_the_scheduler_fills_both_sides_as_makers() -> None:
    # Game time runs 40x: the orders have 3 wall seconds to arrive before the auction.
    with run_server(trading_day("09:27:30", 40)) as base:
        buyer, seller = Bot(base), Bot(base, "hedge_fund")
        try:
            with stream(buyer) as buyer_ws, stream(seller) as seller_ws:
                greet(buyer_ws)
                greet(seller_ws)
                bid = placed(buyer.order("SPX", "buy", 10, 100.0))
                ask = placed(seller.order("SPX", "sell", 6, 100.0))
                done = each_of(is_type("phase_change", phase="CONTINUOUS"), is_type("trade"))
                buyer_seen = recv_until(buyer_ws, done(), timeout=15)
                seller_seen = recv_until(seller_ws, done(), timeout=15)
        finally:
            buyer.close()
            seller.close()
    for seen in (buyer_seen, seller_seen):
        assert seqs(seen) == list(range(1, len(stream_messages(seen)) + 1))
        changes = [
            (m["data"]["previous"], m["data"]["phase"])
            for m in seen
            if m["type"] == "phase_change"
        ]
        assert changes == [("PRE_OPEN", "OPENING_AUCTION"), ("OPENING_AUCTION", "CONTINUOUS")]
        kinds = [m["type"] for m in stream_messages(seen)]
        # The auction's fill comes after the auction is announced.
        assert kinds.index("phase_change") < kinds.index("execution_report")
    buyer_fills = [m["data"] for m in buyer_seen if m["type"] == "execution_report"]
    seller_fills = [m["data"] for m in seller_seen if m["type"] == "execution_report"]
    assert [(f["order_id"], f["liquidity_type"], f["last_price"], f["last_quantity"],
             f["remaining"], f["status"]) for f in buyer_fills + seller_fills] == [
        (bid, "maker", 100.0, 6, 4, "partially_filled"),
        (ask, "maker", 100.0, 6, 0, "filled"),
    ]  # fmt: skip
    prints = trade_prints(buyer_seen)
    assert [(p["price"], p["quantity"]) for p in prints] == [(100.0, 6)]
