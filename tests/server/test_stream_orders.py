"""Orders on `/ws` through a real WebSocket: `new_order`, `quote`, `cancel`, `cancel_all`
answered by client id with the codes REST answers with, after the order's own ack;
messages that cannot be requests get an `error` and change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from exchange.config import ADMIN_TOKEN_ENV
from exchange.domain.types import TeamId
from exchange.pipeline.fanout import MAX_ANSWERS, SLOW_CONSUMER, Fanout
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox, stream
from tests.support import Message, assert_ok, is_type, recv_until

Bots = Callable[[str], Bot]
Fresh = Callable[[], str]
ANSWERS = ("order_accepted", "quote_accepted", "cancel_accepted", "cancel_all_accepted",
           "request_rejected")  # fmt: skip
TOKEN = "stream-orders-admin-token"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox(**UNTHROTTLED)) as base:
        yield base


def answer_to(client_id: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] in ANSWERS and m["data"]["client_id"] == client_id


def ask(ws: ClientConnection, kind: str, client_id: str, **fields: Any) -> list[Message]:
    """Send one request; every message up to its answer, the answer last."""
    ws.send(json.dumps({"type": kind, "client_id": client_id, **fields}))
    return recv_until(ws, answer_to(client_id))


def order(instrument: str, side: str, quantity: int, price: float | None = None,
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"instrument_id": instrument, "side": side, "quantity": quantity}
    return body | ({} if price is None else {"price": price}) | extra


def open_orders(bot: Bot) -> list[dict[str, Any]]:
    return assert_ok(bot.http.get("/orders"))  # type: ignore[no-any-return]


# -- accepted, acked, filled -------------------------------------------------------------


def test_an_order_is_answered_after_its_ack_and_then_filled(
    bots: Bots, fresh_option: Fresh
) -> None:
    mm, hf, option = bots("market_maker"), bots("hedge_fund"), fresh_option()
    with stream(mm) as mm_ws, stream(hf) as hf_ws:
        seen = ask(
            mm_ws, "new_order", "ask-1", **order(option, "sell", 5, 10.0, client_order_id="a")
        )
        answer = seen[-1]
        assert answer["type"] == "order_accepted"
        data = answer["data"]
        assert (data["status"], data["quantity"], data["price"], data["side"]) == (
            "accepted", 5, 10.0, "sell",
        )  # fmt: skip
        acks = [m for m in seen if m["type"] == "new_order_ack"]
        assert [a["data"]["order_id"] for a in acks] == [data["order_id"]]
        assert answer["seq"] == acks[0]["seq"]  # the answer includes its ack
        assert [o["order_id"] for o in open_orders(mm)] == [data["order_id"]]

        seen = ask(hf_ws, "new_order", "buy-1", **order(option, "buy", 3, 10.0))
        assert seen[-1]["type"] == "order_accepted"
        kinds = [m["type"] for m in seen if m["type"] in ("new_order_ack", "execution_report")]
        assert kinds == ["new_order_ack", "execution_report"]  # filled on arrival, before it
        fill = recv_until(mm_ws, is_type("execution_report", order_id=data["order_id"]))[-1]
        assert (fill["data"]["filled"], fill["data"]["exec_type"]) == (3, "trade")


def test_a_quote_is_answered_after_both_legs_are_acked(bots: Bots, fresh_option: Fresh) -> None:
    mm, option = bots("market_maker"), fresh_option()
    quote = {"instrument_id": option, "bid_price": 10.0, "bid_quantity": 12, "ask_price": 10.5,
             "ask_quantity": 13}  # fmt: skip
    with stream(mm) as ws:
        seen = ask(ws, "quote", "q1", **quote)
        data = seen[-1]["data"]
        assert seen[-1]["type"] == "quote_accepted", seen[-1]
        acked = {m["data"]["order_id"] for m in seen if m["type"] == "new_order_ack"}
        assert acked == {data["bid_order_id"], data["ask_order_id"]}
        assert (data["bid_quantity"], data["ask_price"]) == (12, 10.5)


def test_cancel_and_cancel_all_on_the_stream(bots: Bots, fresh_option: Fresh) -> None:
    mm, first, second = bots("market_maker"), fresh_option(), fresh_option()
    with stream(mm) as ws:
        one = ask(ws, "new_order", "o1", **order(first, "buy", 1, 1.0))[-1]["data"]["order_id"]
        ask(ws, "new_order", "o2", **order(first, "buy", 1, 1.1))
        ask(ws, "new_order", "o3", **order(second, "buy", 1, 1.2))
        cancelled = ask(ws, "cancel", "c1", order_id=one)[-1]
        assert cancelled["type"] == "cancel_accepted"
        assert (cancelled["data"]["order_id"], cancelled["data"]["status"]) == (one, "cancelled")
        again = ask(ws, "cancel", "c2", order_id=one)[-1]
        assert (again["type"], again["data"]["code"]) == ("request_rejected", "ORDER_NOT_FOUND")
        some = ask(ws, "cancel_all", "c3", instrument_id=first)[-1]
        assert (some["type"], some["data"]["count"]) == ("cancel_all_accepted", 1)
        rest = ask(ws, "cancel_all", "c4")[-1]
        assert [c["instrument_id"] for c in rest["data"]["cancelled"]] == [second]
    assert open_orders(mm) == []


def test_one_request_id_places_one_order_over_rest_and_the_stream(
    bots: Bots, fresh_option: Fresh
) -> None:
    mm, option = bots("market_maker"), fresh_option()
    first = assert_ok(mm.order(option, "buy", 1, 1.0, request_id="once"), 201)
    with stream(mm) as ws:
        again = ask(ws, "new_order", "retry", **order(option, "buy", 1, 1.0, request_id="once"))
    assert again[-1]["data"]["order_id"] == first["order_id"]
    assert len(open_orders(mm)) == 1


def test_many_requests_in_flight_are_all_answered(bots: Bots) -> None:
    """More requests sent at once than the server takes in flight per connection: it
    reads the rest as answers go out; every one is answered, none is lost."""
    mm, count = bots("market_maker"), 150
    with stream(mm) as ws:
        for n in range(count):
            ws.send(json.dumps({"type": "new_order", "client_id": f"c{n}",
                                **order("SPX", "buy", 1, round(1 + n / 100, 2))}))  # fmt: skip
        answered: set[str] = set()
        while len(answered) < count:
            message = recv_until(ws, lambda m: m["type"] in ANSWERS)[-1]
            assert message["type"] == "order_accepted", message
            answered.add(message["data"]["client_id"])
    assert len(open_orders(mm)) == count


# -- refusals: the codes REST answers with -----------------------------------------------

REFUSALS = [
    # (role, request type, its fields, the code REST and the stream answer with)
    ("market_maker", "new_order", order("SPX", "buy", 0, 1.0), "INVALID_QUANTITY"),
    ("market_maker", "new_order", order("SPX", "buy", 1, 1.001), "INVALID_PRICE"),
    ("market_maker", "new_order", order("SPX", "buy", 1) | {"order_type": "limit"},
     "INVALID_PRICE"),
    ("market_maker", "new_order", order("SPX", "up", 1, 1.0), "INVALID_SIDE"),
    ("market_maker", "new_order", order("SPX", "buy", 1, 1.0) | {"colour": "red"},
     "INVALID_FIELD"),
    ("market_maker", "new_order", {"instrument_id": "SPX", "side": "buy"}, "INVALID_FIELD"),
    ("market_maker", "new_order", order("NOPE_1", "buy", 1, 1.0), "INVALID_INSTRUMENT"),
    ("market_maker", "new_order", order("SPX", "buy", 1001, 1.0), "INVALID_QUANTITY"),
    ("retail", "new_order", order("SPX", "buy", 100, 1.0), "POSITION_LIMIT_EXCEEDED"),
    ("hedge_fund", "quote", {"instrument_id": "SPX", "bid_price": 1.0, "bid_quantity": 1,
                             "ask_price": 1.5, "ask_quantity": 1}, "ORDER_TYPE_NOT_ALLOWED"),
    ("market_maker", "quote", {"instrument_id": "SPX", "bid_price": 2.0, "bid_quantity": 1,
                               "ask_price": 1.5, "ask_quantity": 1}, "INVALID_QUOTE"),
    ("market_maker", "cancel", {"order_id": "424242"}, "ORDER_NOT_FOUND"),
    ("market_maker", "cancel", {"order_id": "not-a-number"}, "ORDER_NOT_FOUND"),
    ("market_maker", "cancel_all", {"instrument_id": "NOPE_1"}, "INVALID_INSTRUMENT"),
]  # fmt: skip


def rest_code(bot: Bot, kind: str, fields: dict[str, Any]) -> str:
    """The error code REST answers the same request with."""
    if kind == "new_order":
        reply = bot.http.post("/orders", json=fields)
    elif kind == "quote":
        reply = bot.http.post("/quotes", json=fields)
    elif kind == "cancel":
        reply = bot.http.delete(f"/orders/{fields['order_id']}")
    else:
        reply = bot.http.delete("/orders", params=fields)
    assert not reply.is_success, reply.text
    return reply.json()["error"]["code"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("role", "kind", "fields", "code"), REFUSALS)
def test_a_refusal_has_the_code_rest_answers_with(
    bots: Bots, role: str, kind: str, fields: dict[str, Any], code: str
) -> None:
    bot = bots(role)
    assert rest_code(bot, kind, fields) == code
    with stream(bot) as ws:
        answer = ask(ws, kind, "r1", **fields)[-1]
    assert answer["type"] == "request_rejected"
    assert (answer["data"]["code"], answer["data"]["request"]) == (code, kind)
    assert open_orders(bot) == []


def test_a_risk_limit_refusal_carries_the_rest_details(bots: Bots, fresh_option: Fresh) -> None:
    hf, option = bots("hedge_fund"), fresh_option()
    with stream(hf) as ws:
        ask(ws, "new_order", "bid", **order(option, "buy", 5, 1.0))
        refused = ask(ws, "new_order", "ask", **order(option, "sell", 5, 99.0))[-1]["data"]
    assert (refused["code"], refused["details"]["opposite_open"]) == ("TWO_SIDED_NOT_ALLOWED", 5)
    assert len(open_orders(hf)) == 1


def test_the_rate_limit_holds_on_the_stream() -> None:
    with run_server(sandbox(clock={"speed": 3600})) as base:
        bot = Bot(base, "retail")  # one order a second
        with stream(bot) as ws:
            first = ask(ws, "new_order", "one", **order("SPX", "buy", 1, 1.0))[-1]
            second = ask(ws, "new_order", "two", **order("SPX", "buy", 1, 1.01))[-1]
        assert first["type"] == "order_accepted"
        assert second["data"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert second["data"]["details"]["retry_after_ms"] > 0
        assert len(open_orders(bot)) == 1
        bot.close()


@contextlib.contextmanager
def organised(**overrides: Any) -> Iterator[tuple[str, httpx.Client]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        config = sandbox(**UNTHROTTLED, server={"admin_token": TOKEN}, **overrides)
        with (
            run_server(config) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            ) as admin,
        ):
            yield base, admin


def test_a_paused_game_and_a_halted_book_refuse_as_rest_does() -> None:
    with organised() as (base, admin):
        bot = Bot(base, "market_maker")
        with stream(bot) as ws:
            resting = ask(ws, "new_order", "rest", **order("SPX", "buy", 1, 1.0))[-1]["data"]
            assert_ok(admin.post("/admin/instruments/SPX/halt"))
            halted = ask(ws, "new_order", "h", **order("SPX", "buy", 1, 1.0))[-1]["data"]
            assert halted["code"] == rest_code(bot, "new_order", order("SPX", "buy", 1, 1.0))
            assert halted["code"] == "INSTRUMENT_HALTED"
            assert_ok(admin.post("/admin/pause"))
            paused = ask(ws, "new_order", "p", **order("SPY", "buy", 1, 1.0))[-1]["data"]
            assert paused["code"] == rest_code(bot, "new_order", order("SPY", "buy", 1, 1.0))
            assert paused["code"] == "GAME_PAUSED"
            gone = ask(ws, "cancel", "c", order_id=resting["order_id"])[-1]
            assert gone["type"] == "cancel_accepted"  # cancels still work
            assert_ok(admin.post(f"/admin/teams/{bot.team_id}/disable"))
        assert open_orders_count(base, bot) == 0
        bot.close()


def open_orders_count(base: str, bot: Bot) -> int:
    with httpx.Client(base_url=base, headers={"X-API-Key": bot.key}, timeout=10) as client:
        reply = client.get("/orders")
    return 0 if reply.status_code == 403 else len(reply.json()["data"])


def test_a_closed_market_refuses_as_rest_does() -> None:
    closed = {"schedule": {"always_open": False}, "clock": {"start": "2026-12-01T20:00:00-06:00"}}
    with run_server(sandbox(**UNTHROTTLED, **closed)) as base:
        bot = Bot(base, "market_maker")
        fields = order("SPX", "buy", 1, 1.0)
        with stream(bot) as ws:
            refused = ask(ws, "new_order", "x", **fields)[-1]["data"]
            every = ask(ws, "cancel_all", "y")[-1]["data"]
        assert refused["code"] == rest_code(bot, "new_order", fields) == "MARKET_CLOSED"
        assert every["code"] == rest_code(bot, "cancel_all", {}) == "MARKET_CLOSED"
        bot.close()


# -- what cannot be a request ------------------------------------------------------------

BAD = [
    ("{not json", "INVALID_JSON"),
    ("[1, 2]", "INVALID_FIELD"),
    ('{"type": "buy_everything", "client_id": "x"}', "INVALID_FIELD"),
    ('{"type": "new_order", "instrument_id": "SPX", "side": "buy", "quantity": 1}',
     "INVALID_FIELD"),
    ('{"type": "new_order", "client_id": 7}', "INVALID_FIELD"),
    ('{"type": "cancel", "client_id": "' + "x" * 65 + '", "order_id": "1"}', "INVALID_FIELD"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "code"), BAD)
def test_a_message_that_is_no_request_gets_an_error_and_changes_nothing(
    bots: Bots, fresh_option: Fresh, text: str, code: str
) -> None:
    mm, option = bots("market_maker"), fresh_option()
    with stream(mm) as ws:
        ws.send(text)
        error = recv_until(ws, is_type("error"))[-1]
        assert error["data"]["code"] == code
        assert open_orders(mm) == []
        after = ask(ws, "new_order", "fine", **order(option, "buy", 1, 1.0))[-1]
        assert after["type"] == "order_accepted"  # the connection goes on


def test_a_field_given_twice_is_refused_as_rest_refuses_it(
    bots: Bots, fresh_option: Fresh
) -> None:
    mm, option = bots("market_maker"), fresh_option()
    fields = f'"instrument_id": "{option}", "side": "buy", "quantity": 1, "quantity": 9'
    body = "{" + fields + ', "price": 1.0}'
    rest = mm.http.post("/orders", content=body, headers={"Content-Type": "application/json"})
    assert rest.json()["error"]["code"] == "INVALID_FIELD"
    with stream(mm) as ws:
        ws.send('{"type": "new_order", "client_id": "twice", ' + body[1:])
        answer = recv_until(ws, answer_to("twice"))[-1]
    assert answer["type"] == "request_rejected"
    assert answer["data"]["code"] == "INVALID_FIELD"
    assert answer["data"]["details"] == {"field": "quantity"}
    assert open_orders(mm) == []


def test_a_spectator_cannot_trade(server: str) -> None:
    url = server.replace("http://", "ws://") + "/ws"
    with connect(url, open_timeout=5) as ws:
        ws.send(json.dumps({"type": "new_order", "client_id": "s", **order("SPX", "buy", 1, 1.0)}))
        error = recv_until(ws, is_type("error"))[-1]
        assert error["data"]["code"] == "UNAUTHORIZED"
        ws.send(json.dumps({"type": "cancel_all", "client_id": "s"}))
        assert recv_until(ws, is_type("error"))[-1]["data"]["code"] == "UNAUTHORIZED"


def test_leaving_with_requests_in_flight_harms_nothing(bots: Bots, fresh_option: Fresh) -> None:
    """The connection closes while its orders wait for their commit: they stand (as a
    REST order whose client hung up does), and the server logs no error."""
    mm, option = bots("market_maker"), fresh_option()
    with stream(mm) as ws:
        for n in range(20):
            ws.send(json.dumps({"type": "new_order", "client_id": f"c{n}",
                                **order(option, "buy", 1, 1.0)}))  # fmt: skip
    with stream(mm) as ws:
        snapshot = recv_until(ws, is_type("position_snapshot"))[-1]
        assert len(snapshot["data"]["open_orders"]) <= 20
        assert ask(ws, "cancel_all", "all")[-1]["type"] == "cancel_all_accepted"


# -- the answer queue of a connection (the fan-out itself) -------------------------------


class Recording:
    """A peer that takes every frame at once; its sends can be held back."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.go = asyncio.Event()
        self.go.set()
        self.closed_with: int | None = None

    async def send_texts(self, texts: list[bytes]) -> None:
        await self.go.wait()
        self.sent.extend(json.loads(text) for text in texts)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_an_answer_waits_for_the_stream_messages_before_it() -> None:
    """The connection is still sending an older message when the order's ack and its
    answer are queued: the ack goes first, then the answer, then what came after."""
    fanout, team = Fanout(100, 50), TeamId("T0001")
    peer = Recording()
    conn = fanout.attach(peer, team)
    peer.go.clear()  # the peer is slow to take frames
    fanout.stream(team, "event", {"n": 1})
    await settle()  # the sender is now waiting on the peer with event 1
    fanout.stream(team, "new_order_ack", {"n": 2})
    fanout.answer(conn, "order_accepted", {"client_id": "a"})
    fanout.stream(team, "execution_report", {"n": 3})
    peer.go.set()
    await settle()
    assert [(m["type"], m["seq"]) for m in peer.sent] == [
        ("event", 1), ("new_order_ack", 2), ("order_accepted", 2), ("execution_report", 3),
    ]  # fmt: skip


async def test_a_client_that_reads_no_answers_is_cut_off() -> None:
    fanout, team = Fanout(100, 50), TeamId("T0001")
    peer = Recording()
    conn = fanout.attach(peer, team)
    peer.go.clear()
    fanout.answer(conn, "order_accepted", {"client_id": "first"})
    await settle()  # the sender waits on the peer from then on
    for n in range(MAX_ANSWERS):
        fanout.answer(conn, "order_accepted", {"client_id": str(n)})
    assert not conn.closed and len(conn.answers) == MAX_ANSWERS
    fanout.answer(conn, "order_accepted", {"client_id": "one too many"})
    assert conn.closed and not conn.answers
    await settle()
    assert peer.closed_with == SLOW_CONSUMER
