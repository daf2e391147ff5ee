"""`/ws` subscriptions: a connection chooses the books whose `market_data` and `trade`
prints it gets (at connect or with `subscribe` / `unsubscribe` messages); its own
stream messages keep coming whatever it chose; an unknown id is an error, never a crash
or a silent ignore."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from exchange.config import load_config
from exchange.domain.types import TeamId
from exchange.pipeline.fanout import MAX_REPLIES, SLOW_CONSUMER, Books, Fanout
from tests.server.harness import Bot, run_server
from tests.support import Message, has_print, is_type, recv_until

WATCH_SECONDS = 8.0
"""Wall seconds both connections of the live-market test are read for."""


def open_stream(bot: Bot | None, url: str, query: str = "") -> ClientConnection:
    headers = {} if bot is None else {"X-API-Key": bot.key}
    return connect(url + query, additional_headers=headers, open_timeout=5, max_size=None)


def send(ws: ClientConnection, **request: Any) -> Message:
    """Send a request on the socket; the `subscribed` or `error` answer to it."""
    ws.send(json.dumps(request))
    return recv_until(ws, lambda m: m["type"] in ("subscribed", "error"))[-1]


def until_both(
    ws: ClientConnection, one: Callable[[Message], bool], other: Callable[[Message], bool]
) -> list[Message]:
    """Read until a message matching `one` and one matching `other` have come."""
    seen = recv_until(ws, lambda m: one(m) or other(m))
    rest = other if one(seen[-1]) else one
    return seen if any(rest(m) for m in seen) else seen + recv_until(ws, rest)


def market_ids(messages: list[Message]) -> Counter[str]:
    return Counter(m["data"]["instrument_id"] for m in messages if m["type"] == "market_data")


def read_for(ws: ClientConnection, seconds: float) -> list[Message]:
    """Everything the connection receives within `seconds` (a bound on the test)."""
    seen: list[Message] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(json.loads(ws.recv(timeout=min(left, 0.5))))
        except TimeoutError:
            continue
    return seen


def test_a_bot_watching_one_book_gets_its_market_data_only() -> None:
    """The live demo market at 600x: one connection of the team takes every book, the
    other asks for one instrument; both read side by side for the same seconds."""
    config = load_config(preset="demo", overrides={"clock": {"speed": 600}})
    with run_server(config) as base:
        bot = Bot(base, "market_maker")
        url = base.replace("http://", "ws://") + "/ws"
        chosen = "SPX"
        one = open_stream(bot, url, f"?instruments={chosen}")
        with open_stream(bot, url) as every, one:
            answer = recv_until(one, is_type("subscribed"))[-1]
            assert answer["data"] == {"all": False, "instruments": [chosen], "underlyings": []}
            seen_every: list[Message] = []
            seen_one: list[Message] = []
            deadline = time.monotonic() + WATCH_SECONDS
            while time.monotonic() < deadline:  # in turns, so neither's buffer fills
                seen_every += read_for(every, 0.25)
                seen_one += read_for(one, 0.25)
        bot.close()
    everything, filtered = market_ids(seen_every), market_ids(seen_one)
    print(f"market_data in {WATCH_SECONDS:.0f}s: every book {sum(everything.values())} "
          f"({len(everything)} books), one book {sum(filtered.values())}")  # fmt: skip
    assert set(filtered) == {chosen}
    assert len(everything) > 10
    assert sum(filtered.values()) * 5 < sum(everything.values())
    # Prints too: only the trade messages holding a print of the book, whole.
    trades_every = [m for m in seen_every if m["type"] == "trade"]
    trades_one = [m for m in seen_one if m["type"] == "trade"]
    print(f"trade messages: every book {len(trades_every)}, one book {len(trades_one)}")
    assert len(trades_one) < len(trades_every)
    for m in trades_one:
        assert chosen in {p["instrument_id"] for p in m["data"]["trades"]}


@pytest.fixture(scope="module")
def listed(server: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server, timeout=10) as http:
        return http.get("/instruments").json()["data"]  # type: ignore[no-any-return]


def options_of(listed: list[dict[str, Any]], underlying: str) -> list[str]:
    return [i["instrument_id"] for i in listed
            if i["kind"] != "UNDERLYING" and i["underlying"] == underlying]  # fmt: skip


def test_subscribing_on_the_socket_filters_market_data_but_never_own_messages(
    server: str, listed: list[dict[str, Any]]
) -> None:
    watched, other = options_of(listed, "SPX")[:2]
    bot, maker = Bot(server), Bot(server)
    url = bot.ws_url
    with open_stream(bot, url) as ws:
        recv_until(ws, is_type("position_snapshot"))
        answer = send(ws, type="subscribe", instruments=[watched])
        assert answer["data"] == {"all": False, "instruments": [watched], "underlyings": []}
        # The bot's own order in the other book: its ack comes, the book's data does not.
        reply = bot.order(other, "buy", 1, 1.05)
        assert reply.status_code == 201, reply.text
        reply = maker.order(watched, "buy", 1, 1.10)
        assert reply.status_code == 201, reply.text
        seen = until_both(ws, is_type("market_data", bid=1.10), is_type("new_order_ack"))
        assert set(market_ids(seen)) == {watched}
        # Unsubscribing stops that book too; the next change of it is not sent.
        answer = send(ws, type="unsubscribe", instruments=[watched])
        assert answer["data"] == {"all": False, "instruments": [], "underlyings": []}
        maker.order(watched, "buy", 1, 1.11)
        reply = bot.order(other, "buy", 1, 1.06)
        assert reply.status_code == 201, reply.text
        seen = recv_until(ws, is_type("new_order_ack", price=1.06))
        seen += read_for(ws, 0.5)
        assert not market_ids(seen)
    for b in (bot, maker):
        b.http.delete("/orders")
        b.close()


def test_prints_of_other_books_are_skipped_but_the_team_s_own_fills_are_not(
    server: str, listed: list[dict[str, Any]]
) -> None:
    watched, other = options_of(listed, "SPX")[7:9]
    bot, maker, taker = Bot(server), Bot(server), Bot(server, "hedge_fund")
    url = bot.ws_url
    with open_stream(bot, url, f"?instruments={watched}") as one, open_stream(bot, url) as every:
        recv_until(one, is_type("subscribed"))
        recv_until(every, is_type("position_snapshot"))
        assert maker.order(other, "sell", 1, 4.00).status_code == 201
        assert bot.order(other, "buy", 1, 4.00).status_code == 201
        skipped = recv_until(every, has_print(instrument_id=other))[-1]["seq"]
        assert maker.order(watched, "sell", 1, 5.00).status_code == 201
        assert taker.order(watched, "buy", 1, 5.00).status_code == 201
        seen = recv_until(one, has_print(instrument_id=watched))
    fill = [m for m in seen if is_type("execution_report", exec_type="trade")(m)]
    assert [m["data"]["instrument_id"] for m in fill] == [other]  # the team's own: kept
    trades = [m for m in seen if m["type"] == "trade"]
    assert [m["seq"] for m in trades] == [seen[-1]["seq"]] and seen[-1]["seq"] > skipped
    assert skipped not in {m["seq"] for m in seen}
    for b in (bot, maker, taker):
        b.http.delete("/orders")
        b.close()


def test_a_book_subscribed_later_comes_with_its_state_without_waiting_for_a_change(
    server: str, listed: list[dict[str, Any]]
) -> None:
    quiet = options_of(listed, "SPX")[5]
    maker = Bot(server)
    with open_stream(None, maker.ws_url, "?instruments=") as ws:
        answer = recv_until(ws, is_type("subscribed"))[-1]
        assert answer["data"] == {"all": False, "instruments": [], "underlyings": []}
        assert maker.order(quiet, "sell", 2, 7.25).status_code == 201
        seen = read_for(ws, 0.5)
        assert not market_ids(seen)  # nothing chosen, nothing sent
        send(ws, type="subscribe", instruments=[quiet])
        data = recv_until(ws, is_type("market_data"))[-1]["data"]
    assert (data["instrument_id"], data["ask"], data["ask_size"]) == (quiet, 7.25, 2)
    maker.http.delete("/orders")
    maker.close()


def test_an_underlying_names_itself_and_its_options_for_spectators_too(
    server: str, listed: list[dict[str, Any]]
) -> None:
    spy_option, spx_option = options_of(listed, "SPY")[0], options_of(listed, "SPX")[3]
    maker = Bot(server)
    url = maker.ws_url
    with open_stream(None, url, "?underlyings=SPY") as ws:
        recv_until(ws, is_type("connection_status"))
        answer = recv_until(ws, is_type("subscribed"))[-1]
        assert answer["data"] == {"all": False, "instruments": [], "underlyings": ["SPY"]}
        maker.order(spx_option, "sell", 1, 9.50)
        maker.order(spy_option, "sell", 1, 9.50)
        seen = recv_until(ws, lambda m: m["type"] == "market_data" and m["data"]["ask"] == 9.50)
        seen += read_for(ws, 0.3)
    assert set(market_ids(seen)) == {spy_option}
    maker.http.delete("/orders")
    maker.close()


def test_unknown_ids_are_refused_with_a_reason(server: str) -> None:
    bot = Bot(server)
    refused = open_stream(bot, bot.ws_url, "?instruments=SPX,NOPE_CALL_1_20990101")
    with refused as ws, pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "NOPE_CALL_1_20990101" in closed.value.rcvd.reason
    with open_stream(bot, bot.ws_url, "?underlyings=SPX") as ws:
        recv_until(ws, is_type("subscribed"))
        cases = [
            ({"type": "subscribe", "instruments": ["SPX", "ZZZ"]}, "INVALID_INSTRUMENT", "ZZZ"),
            ({"type": "subscribe", "underlyings": ["QQQ"]}, "INVALID_INSTRUMENT", "QQQ"),
            ({"type": "subscribe"}, "INVALID_FIELD", "at least one"),
            ({"type": "resubscribe", "instruments": ["SPX"]}, "INVALID_FIELD", "type"),
            ({"type": "subscribe", "instruments": "SPX"}, "INVALID_FIELD", "instruments"),
            ({"type": "subscribe", "instrument": ["SPX"]}, "INVALID_FIELD", "instrument"),
        ]
        for request, code, named in cases:
            assert isinstance(request, dict)
            error = send(ws, **request)
            assert error["type"] == "error", (request, error)
            assert error["data"]["code"] == code and named in error["data"]["message"]
        ws.send("not json")
        error = recv_until(ws, lambda m: m["type"] in ("subscribed", "error"))[-1]
        assert error["data"]["code"] == "INVALID_JSON"
        # None of it changed the set.
        answer = send(ws, type="subscribe", instruments=["SPY"])
        assert answer["data"] == {"all": False, "instruments": ["SPY"], "underlyings": ["SPX"]}
    bot.close()


def test_a_frame_larger_than_a_request_body_closes_the_connection(server: str) -> None:
    bot = Bot(server)
    with open_stream(bot, bot.ws_url) as ws:
        recv_until(ws, is_type("position_snapshot"))
        ws.send(json.dumps({"type": "subscribe", "instruments": ["SPX"] * 20_000}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with open_stream(bot, bot.ws_url) as ws:  # the server is fine
        recv_until(ws, is_type("position_snapshot"))
    bot.close()


class Stuck:
    """A peer whose first send never finishes."""

    def __init__(self) -> None:
        self.closed_with: int | None = None
        self.forever = asyncio.Event()

    async def send_texts(self, texts: list[bytes]) -> None:
        await self.forever.wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code


async def test_a_client_that_asks_faster_than_it_reads_is_cut_off() -> None:
    fanout = Fanout(100, 10)
    peer = Stuck()
    conn = fanout.attach(peer, TeamId("T0001"))
    fanout.choose_books(conn, Books({"SPX"}, set()))
    fanout.reply(conn, "subscribed", {"all": False})
    await asyncio.sleep(0)  # the sender takes it, and waits on the peer from then on
    for _ in range(MAX_REPLIES):
        fanout.reply(conn, "subscribed", {"all": False})
    assert not conn.closed and len(conn.greeting) == MAX_REPLIES
    fanout.reply(conn, "subscribed", {"all": False})
    assert conn.closed and len(conn.greeting) == 0
    for _ in range(10):  # the close runs in a task of its own
        await asyncio.sleep(0)
    assert peer.closed_with == SLOW_CONSUMER
