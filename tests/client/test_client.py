"""`exchange.client` against a real sandbox server on 127.0.0.1: the REST calls, errors,
the 429 retry, and the stream with its automatic resume."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from exchange.client import (
    AuthError,
    Client,
    ExchangeError,
    InvalidRequestError,
    Message,
    OrderNotFoundError,
    RateLimitedError,
    RejectedError,
    Stream,
    typed,
)
from exchange.wire.messages import STREAM_TYPES, ExecutionReport
from exchange.wire.models import OrderAck, Registered
from tests.server.harness import run_server, sandbox

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox()) as base:
        yield base


@pytest.fixture(scope="module")
def options(server: str) -> Iterator[str]:
    """Fresh listed options, one per test that asks, so books never share orders."""
    with httpx.Client(base_url=server, timeout=10) as http:
        listed = http.get("/instruments").json()["data"]
    return iter([i["instrument_id"] for i in listed if i["strike"] is not None])


@pytest.fixture
def instrument(options: Iterator[str]) -> str:
    return next(options)


class Teams:
    """Registers teams on a server and closes their clients at the end of the test."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: list[Client] = []

    async def __call__(self, role: str = "market_maker", **kwargs: Any) -> Client:
        team = await Client.register(self.base, f"{role}-client-{next(_names)}", role)
        client = Client(self.base, team.api_key, team_id=team.team_id, **kwargs)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def teams(server: str) -> AsyncIterator[Teams]:
    made = Teams(server)
    yield made
    for client in made.clients:
        await client.cancel_all()  # leave the shared books empty
    await made.close()


async def next_matching(
    stream: Stream, predicate: Callable[[Message], bool], timeout: float = 5.0
) -> list[Message]:
    """Messages up to and including the first that matches; fails after `timeout`."""
    seen: list[Message] = []
    async with asyncio.timeout(timeout):
        async for message in stream:
            seen.append(message)
            if predicate(message):
                return seen
    pytest.fail(f"the stream ended; saw {[m.type for m in seen]}")


def is_trade_report(message: Message) -> bool:
    return message.type == "execution_report" and message.data["exec_type"] == "trade"


# -- REST ---------------------------------------------------------------------------------


async def test_register_and_health(server: str) -> None:
    team = await Client.register(server, f"reg-{next(_names)}", "hedge_fund")
    assert isinstance(team, Registered)
    assert team.team_id.startswith("T") and team.api_key and team.role == "hedge_fund"
    async with Client(server) as c:
        health = await c.health()
    assert health.status == "ok" and health.phase == "CONTINUOUS"


async def test_register_taken_name_raises(server: str) -> None:
    name = f"taken-{next(_names)}"
    await Client.register(server, name, "retail")
    with pytest.raises(ExchangeError) as raised:
        await Client.register(server, name, "retail")
    assert (raised.value.code, raised.value.status) == ("TEAM_NAME_TAKEN", 409)


async def test_place_list_and_cancel(teams: Teams, instrument: str) -> None:
    c = await teams("hedge_fund")
    ack = await c.place_order(instrument, "buy", 3, price=10.5, client_order_id="cl-1")
    assert isinstance(ack, OrderAck)
    assert (ack.status, ack.price, ack.client_order_id) == ("accepted", 10.5, "cl-1")
    open_orders = await c.open_orders()
    assert [o.order_id for o in open_orders] == [ack.order_id]
    cancelled = await c.cancel(ack.order_id)
    assert (cancelled.status, cancelled.cancelled_quantity) == ("cancelled", 3)
    assert await c.open_orders() == []
    with pytest.raises(OrderNotFoundError) as raised:
        await c.cancel(ack.order_id)
    assert (raised.value.code, raised.value.status) == ("ORDER_NOT_FOUND", 404)


async def test_invalid_price_raises_with_code_and_details(teams: Teams, instrument: str) -> None:
    c = await teams("hedge_fund")
    with pytest.raises(RejectedError) as raised:  # a 400, but a refusal all the same
        await c.place_order(instrument, "buy", 1, price=100.005)
    error = raised.value
    assert (error.code, error.status) == ("INVALID_PRICE", 400)
    assert "tick" in error.message and isinstance(error.details, dict)


async def test_wrong_key_raises_unauthorized(server: str) -> None:
    async with Client(server, "not-a-key", team_id="T0001") as c:
        with pytest.raises(AuthError) as raised:
            await c.open_orders()
    assert (raised.value.code, raised.value.status) == ("UNAUTHORIZED", 401)


async def test_fills_and_positions(teams: Teams, instrument: str) -> None:
    maker = await teams("market_maker")
    taker = await teams("hedge_fund")
    rest = await maker.place_order(instrument, "sell", 5, price=20.0)
    await taker.place_order(instrument, "buy", 5, price=20.0, client_order_id="lift")
    async with asyncio.timeout(5):
        while not (fills := await taker.fills()):
            await asyncio.sleep(0.02)
    assert [(f.side, f.quantity, f.price, f.liquidity_type) for f in fills] == [
        ("buy", 5, 20.0, "taker")
    ]
    assert fills[0].client_order_id == "lift"
    assert await taker.fills(since_trade_id=fills[0].trade_id) == []
    maker_fills = await maker.fills(limit=10)
    assert [(f.order_id, f.side, f.position_after) for f in maker_fills] == [
        (rest.order_id, "sell", -5)
    ]
    positions = await taker.positions()
    assert positions.team_id == taker.team_id
    assert [(p.instrument_id, p.quantity) for p in positions.positions] == [(instrument, 5)]


async def test_positions_learns_the_team_id(server: str) -> None:
    team = await Client.register(server, f"noid-{next(_names)}", "arbitrage")
    async with Client(server, team.api_key) as c:
        positions = await c.positions()
    assert positions.team_id == team.team_id and positions.positions == []


async def test_market_reads_quotes_and_switch(teams: Teams, instrument: str) -> None:
    c = await teams("market_maker")
    listed = await c.instruments()
    assert {i.kind for i in listed} >= {"UNDERLYING", "CALL", "PUT"}
    quote = await c.quote(instrument, 9.9, 10, 10.1, 10)
    assert quote.status == "accepted" and quote.bid_order_id != quote.ask_order_id
    book = await c.book(instrument, depth=1)
    assert [(b.price, b.quantity) for b in book.bids] == [(9.9, 10)]
    assert [(a.price, a.quantity) for a in book.asks] == [(10.1, 10)]
    prices = await c.prices()
    line = next(p for p in prices.instruments if p.instrument_id == instrument)
    assert (line.bid, line.ask) == (9.9, 10.1)
    switch = await c.dead_mans_switch(30)
    assert (switch.cancel_after, switch.armed) == (30.0, True)
    assert (await c.dead_mans_switch(0)).armed is False
    everything = await c.cancel_all(instrument)
    assert everything.count == 2
    assert {x.order_id for x in everything.cancelled} == {
        quote.bid_order_id,
        quote.ask_order_id,
    }
    with pytest.raises(ExchangeError) as raised:
        await c.quote(instrument, 10.1, 10, 9.9, 10)
    assert raised.value.code in {"INVALID_QUOTE", "INVALID_PRICE"}


# -- 429 ----------------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after(teams: Teams, instrument: str) -> None:
    c = await teams("retail")
    first = await c.place_order(instrument, "buy", 1, price=1.0)
    started = time.monotonic()
    second = await c.place_order(instrument, "buy", 1, price=1.01, request_id="retail-2")
    waited = time.monotonic() - started
    assert second.order_id != first.order_id
    assert 0.5 <= waited < 5  # one Retry-After (1 s), bounded
    # the retry used the same request_id: sending it again places nothing new
    await asyncio.sleep(1.1)
    again = await c.place_order(instrument, "buy", 1, price=1.01, request_id="retail-2")
    assert again.order_id == second.order_id
    assert len(await c.open_orders()) == 2


async def test_429_raises_once_retries_are_spent(teams: Teams, instrument: str) -> None:
    c = await teams("retail", max_retries=0)
    await c.place_order(instrument, "buy", 1, price=1.0)
    with pytest.raises(RateLimitedError) as raised:
        await c.place_order(instrument, "buy", 1, price=1.0)
    error = raised.value
    assert (error.code, error.status) == ("RATE_LIMIT_EXCEEDED", 429)
    assert error.details["retry_after_ms"] > 0


# -- the stream ---------------------------------------------------------------------------


async def test_stream_greets_then_reports_executions(teams: Teams, instrument: str) -> None:
    maker = await teams("market_maker")
    taker = await teams("hedge_fund")
    stream = taker.stream()
    async with asyncio.timeout(5):
        status = await anext(stream)
        snapshot = await anext(stream)
    assert status.type == "connection_status"
    assert status.data["team_id"] == taker.team_id and status.data["resumed"] is False
    assert snapshot.type == "position_snapshot"
    assert snapshot.data["open_orders"] == []
    await maker.place_order(instrument, "sell", 2, price=30.0)
    ack = await taker.place_order(instrument, "buy", 2, price=30.0)
    seen = await next_matching(stream, is_trade_report)
    kinds = [m.type for m in seen if m.type in STREAM_TYPES and m.type != "trade"]
    assert kinds == ["new_order_ack", "execution_report"]
    report = typed(seen[-1])
    assert isinstance(report, ExecutionReport)
    assert (report.order_id, report.status, report.last_quantity) == (ack.order_id, "filled", 2)
    assert stream.last_seq == seen[-1].seq
    await stream.aclose()
    assert [m async for m in stream] == []


async def test_stream_reconnects_mid_fills_without_loss_or_duplicates() -> None:
    with run_server(sandbox(disabled_constraints=["order_rate"])) as base:
        teams = Teams(base)
        try:
            await _reconnect_mid_fills(teams)
        finally:
            await teams.close()


async def _reconnect_mid_fills(teams: Teams) -> None:
    fills = 12
    maker = await teams("market_maker")
    taker = await teams("hedge_fund")
    instrument = next(i.instrument_id for i in await maker.instruments() if i.kind == "CALL")
    stream = maker.stream()
    received: list[Message] = []
    async with asyncio.timeout(20):
        received += await next_matching(stream, lambda m: m.type == "position_snapshot")
        await maker.place_order(instrument, "sell", fills, price=40.0)
        received += await next_matching(stream, lambda m: m.type == "new_order_ack")

        async def lift() -> None:
            for _ in range(fills):
                await taker.place_order(instrument, "buy", 1, price=40.0)
                await asyncio.sleep(0.03)

        lifting = asyncio.create_task(lift())
        try:
            received += await next_matching(stream, is_trade_report)
            received += await next_matching(stream, is_trade_report)
            dropped_at = stream.last_seq
            assert stream.connection is not None
            await stream.connection.close()  # forced from the client side
            await asyncio.sleep(0.2)  # fills keep coming while nobody listens
            while sum(map(is_trade_report, received)) < fills:
                received += await next_matching(stream, is_trade_report)
        finally:
            await lifting
    assert stream.reconnects == 1
    resumed = [m for m in received if m.type == "connection_status" and m.data["resumed"]]
    assert len(resumed) == 1 and resumed[0].data["last_seq"] > (dropped_at or 0)

    reports = [m for m in received if is_trade_report(m)]
    trade_ids = [m.data["trade_id"] for m in reports]
    assert len(trade_ids) == len(set(trade_ids)) == fills
    assert sorted(trade_ids) == sorted(f.trade_id for f in await maker.fills())
    assert reports[-1].data["status"] == "filled"

    seqs = [m.seq for m in received if m.type in STREAM_TYPES]
    first = received[0].data["last_seq"] + 1
    assert seqs == list(range(first, first + len(seqs)))
    assert stream.last_seq == seqs[-1]


async def test_stream_asks_for_its_books_and_again_after_reconnecting(
    teams: Teams, options: Iterator[str]
) -> None:
    watched, added, other = next(options), next(options), next(options)
    maker, bot = await teams("market_maker"), await teams("market_maker")
    stream = bot.stream(instruments=[watched])
    seen = await next_matching(stream, lambda m: m.type == "subscribed")
    assert seen[-1].data == {"all": False, "instruments": [watched], "underlyings": []}
    await stream.subscribe(instruments=[added])
    seen = await next_matching(stream, lambda m: m.type == "subscribed")
    assert seen[-1].data["instruments"] == sorted([watched, added])
    assert stream.connection is not None
    await stream.connection.close()  # a drop: the stream reconnects with its books
    seen = await next_matching(stream, lambda m: m.type == "subscribed")
    assert seen[-1].data["instruments"] == sorted([watched, added])
    assert stream.reconnects == 1
    await maker.place_order(other, "buy", 1, price=2.0)
    await maker.place_order(added, "buy", 1, price=2.0)
    seen = await next_matching(stream, lambda m: m.type == "market_data")
    assert {m.data["instrument_id"] for m in seen if m.type == "market_data"} == {added}
    await stream.aclose()


async def test_stream_of_an_unknown_instrument_ends_with_the_reason(teams: Teams) -> None:
    bot = await teams("market_maker")
    stream = bot.stream(instruments=["SPX", "NOPE"])
    with pytest.raises(InvalidRequestError) as raised:
        await next_matching(stream, lambda m: False)
    assert raised.value.code == "INVALID_INSTRUMENT" and "NOPE" in raised.value.message
