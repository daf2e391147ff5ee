"""The client's orders over the WebSocket (`via="ws"`) against a real sandbox server on
127.0.0.1: the same answers and errors as over HTTP, answers matched by client id, the
rate limit retried, and the remote runner trading on the stream."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from exchange.client import (
    Client,
    OrderNotFoundError,
    RateLimitedError,
    RejectedError,
    RemoteRunner,
)
from exchange.domain.orders import CancelOrder, NewOrder, NewQuote
from exchange.domain.types import InstrumentId, OrderId, Side, TeamId, Ticks
from exchange.wire.models import CancelAck, CancelAllAck, OrderAck, QuoteAck
from tests.client.test_remote import Recorder
from tests.server.harness import Bot, run_server, sandbox

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox()) as base:
        yield base


@pytest.fixture(scope="module")
def options(server: str) -> Iterator[str]:
    with httpx.Client(base_url=server, timeout=10) as http:
        listed = http.get("/instruments").json()["data"]
    return iter([i["instrument_id"] for i in listed if i["strike"] is not None])


@pytest.fixture
async def made(server: str) -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for client in clients:
        await client.cancel_all()
        await client.aclose()


async def team(server: str, made: list[Client], role: str, **kwargs: object) -> Client:
    registered = await Client.register(server, f"{role}-ws-{next(_names)}", role)
    client = Client(server, registered.api_key, team_id=registered.team_id, **kwargs)  # type: ignore[arg-type]
    made.append(client)
    return client


async def test_orders_quotes_and_cancels_answer_as_over_http(
    server: str, made: list[Client], options: Iterator[str]
) -> None:
    c, instrument = await team(server, made, "market_maker"), next(options)
    ack = await c.place_order(instrument, "buy", 3, price=10.5, client_order_id="w", via="ws")
    assert isinstance(ack, OrderAck)
    assert (ack.status, ack.price, ack.quantity, ack.client_order_id) == ("accepted", 10.5, 3, "w")
    assert [o.order_id for o in await c.open_orders()] == [ack.order_id]
    quote = await c.quote(next(options), 10.0, 10, 10.5, 10, via="ws")
    assert isinstance(quote, QuoteAck) and quote.bid_order_id != quote.ask_order_id
    cancelled = await c.cancel(ack.order_id, via="ws")
    assert isinstance(cancelled, CancelAck)
    assert (cancelled.order_id, cancelled.cancelled_quantity) == (ack.order_id, 3)
    with pytest.raises(OrderNotFoundError) as raised:
        await c.cancel(ack.order_id, via="ws")
    assert (raised.value.code, raised.value.status) == ("ORDER_NOT_FOUND", 0)
    every = await c.cancel_all(via="ws")
    assert isinstance(every, CancelAllAck) and every.count == 2
    assert await c.open_orders() == []


async def test_a_refusal_raises_the_error_http_raises(
    server: str, made: list[Client], options: Iterator[str]
) -> None:
    c, instrument = await team(server, made, "hedge_fund"), next(options)
    with pytest.raises(RejectedError) as over_http:
        await c.place_order(instrument, "buy", 1, price=100.005)
    with pytest.raises(RejectedError) as over_ws:
        await c.place_order(instrument, "buy", 1, price=100.005, via="ws")
    assert over_ws.value.code == over_http.value.code == "INVALID_PRICE"
    assert over_ws.value.details == over_http.value.details


async def test_answers_are_matched_to_their_requests(
    server: str, made: list[Client], options: Iterator[str]
) -> None:
    """Many requests at once on one connection, some refused: each call gets its own."""
    c, instrument = await team(server, made, "market_maker"), next(options)
    prices = [round(1 + n / 100, 2) for n in range(8)] + [1.005]
    outcomes = await asyncio.gather(
        *(c.place_order(instrument, "buy", 1, price=p, via="ws") for p in prices),
        return_exceptions=True,
    )
    *placed, refused = outcomes
    assert [a.price for a in placed if isinstance(a, OrderAck)] == prices[:-1]
    assert isinstance(refused, RejectedError) and refused.code == "INVALID_PRICE"
    assert len({a.order_id for a in placed if isinstance(a, OrderAck)}) == 8


async def test_the_rate_limit_is_retried_with_the_same_request_id(
    server: str, made: list[Client], options: Iterator[str]
) -> None:
    c, instrument = await team(server, made, "retail"), next(options)  # one order a second
    first = await c.place_order(instrument, "buy", 1, price=1.0, via="ws")
    started = time.monotonic()
    second = await c.place_order(instrument, "buy", 1, price=1.01, request_id="r2", via="ws")
    assert second.order_id != first.order_id
    assert time.monotonic() - started < 5  # waited out retry_after_ms, bounded
    await asyncio.sleep(1.1)
    again = await c.place_order(instrument, "buy", 1, price=1.01, request_id="r2", via="ws")
    assert again.order_id == second.order_id
    assert len(await c.open_orders()) == 2


async def test_the_rate_limit_raises_once_retries_are_spent(
    server: str, made: list[Client], options: Iterator[str]
) -> None:
    c, instrument = await team(server, made, "retail", max_retries=0), next(options)
    await c.place_order(instrument, "buy", 1, price=1.0, via="ws")
    with pytest.raises(RateLimitedError) as raised:
        await c.place_order(instrument, "buy", 1, price=1.0, via="ws")
    assert raised.value.details["retry_after_ms"] > 0


async def test_an_unknown_via_is_refused(server: str) -> None:
    async with Client(server, "key") as c:
        with pytest.raises(ValueError, match="via"):
            await c.place_order("SPX", "buy", 1, price=1.0, via="pigeon")  # type: ignore[arg-type]


async def test_the_remote_runner_trades_on_the_stream(server: str, options: Iterator[str]) -> None:
    instrument = InstrumentId(next(options))
    registered = await Client.register(server, f"runner-ws-{next(_names)}", "market_maker")
    me = TeamId(registered.team_id)
    strategy = Recorder()
    strategy.on_next_market = [
        NewQuote(me, instrument, Ticks(990), 10, Ticks(1010), 10),
        NewOrder(me, instrument, Side.BUY, 3, Ticks(900)),
        CancelOrder(me, OrderId(10**9)),  # unknown: refused with its code
    ]
    runner = RemoteRunner(strategy, server, registered.api_key, interval=0.2, via="ws")
    task = asyncio.create_task(runner.run(10))
    taker = Bot(server, "hedge_fund")
    try:
        async with asyncio.timeout(5):
            while runner.stats.orders < 2 or not runner.stats.rejected:
                await asyncio.sleep(0.05)
        assert taker.order(instrument, "buy", 4, 10.10).status_code == 201
        async with asyncio.timeout(5):
            while not strategy.of("fill"):
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        taker.close()
    (fill,) = strategy.of("fill")
    assert (fill.side, fill.quantity, fill.price) == (Side.SELL, 4, Ticks(1010))
    assert (runner.stats.orders, runner.stats.rejected) == (2, {"ORDER_NOT_FOUND": 1})
