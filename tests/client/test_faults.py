"""The client when things go wrong, against real servers on 127.0.0.1: a team disabled
by the organiser, a server that stops and comes back on the same port, a server that is
not there, and live refusals raised by what they mean."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import msgspec
import pytest

from exchange.client import (
    AuthError,
    Client,
    ConnectionLostError,
    InvalidRequestError,
    NotFoundError,
    OrderNotFoundError,
    RejectedError,
    RemoteRunner,
    RunStats,
    ServerError,
    Stream,
    TeamDisabledError,
)
from exchange.client.sender import Sender
from exchange.config import ADMIN_TOKEN_ENV
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.strategy import Action, MarketSnapshot
from exchange.domain.types import InstrumentId, Side, TeamId, Ticks
from tests.client.test_remote import STATUS, Recorder, message
from tests.server.harness import free_port, run_server, sandbox

TOKEN = "client-faults-organiser"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OLD_GIVE_UP = 10
"""Attempts after which the stream used to give up (about 16 s)."""
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(sandbox(server={"admin_token": TOKEN})) as base:
            yield base


async def new_team(base: str, role: str = "hedge_fund") -> Client:
    team = await Client.register(base, f"{role}-faults-{next(_names)}", role)
    return Client(base, team.api_key, team_id=team.team_id)


async def disable(base: str, team_id: str) -> None:
    async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=10) as http:
        reply = await http.post(f"/admin/teams/{team_id}/disable")
        assert reply.status_code == 200, reply.text


async def connections(base: str, team_id: str) -> int:
    async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=10) as http:
        teams = (await http.get("/admin/teams")).json()["data"]
    return int(next(t["connections"] for t in teams if t["team_id"] == team_id))


async def greeted(stream: Stream) -> None:
    """Read up to the position_snapshot every connection starts with."""
    async with asyncio.timeout(5):
        async for message in stream:
            if message.type == "position_snapshot":
                return
    pytest.fail("the stream ended before its snapshot")


# -- a disabled team (close code 4003) ----------------------------------------------------


async def test_disabling_a_team_ends_its_stream_with_one_error(server: str) -> None:
    async with await new_team(server) as client:
        stream = client.stream()
        await greeted(stream)
        await disable(server, str(client.team_id))
        with pytest.raises(TeamDisabledError) as raised:
            async with asyncio.timeout(5):  # before the fix: reconnecting, forever
                async for _ in stream:
                    pass
        assert raised.value.code == "TEAM_DISABLED"
        assert raised.value.details["close_code"] == 4003
        assert isinstance(raised.value, AuthError)
        assert [m async for m in stream] == []  # stopped: no second error, no reconnect
        assert (stream.attempts, stream.reconnects) == (1, 0)
        assert await connections(server, str(client.team_id)) == 0


async def test_a_disabled_team_s_new_stream_raises_at_its_first_attempt(server: str) -> None:
    async with await new_team(server) as client:
        await disable(server, str(client.team_id))
        stream = client.stream(first_backoff=0.001, max_backoff=0.002)
        with pytest.raises(TeamDisabledError):
            async with asyncio.timeout(5):
                await anext(stream)
        assert stream.attempts == 1
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        assert stream.attempts == 1
        with pytest.raises(TeamDisabledError) as raised:
            await client.place_order("SPX", "buy", 1, price=1.0)
        assert raised.value.status == 403


async def test_a_runner_stops_when_its_team_is_disabled(server: str) -> None:
    async with await new_team(server) as client:
        team = await client.positions()  # the key works
        runner = RemoteRunner(Recorder(), server, str(client.api_key), interval=0.2)
        run = asyncio.create_task(runner.run(30))
        async with asyncio.timeout(5):
            while runner.stream is None or runner.stream.connection is None:
                await asyncio.sleep(0.02)
        await disable(server, team.team_id)
        with pytest.raises(TeamDisabledError):
            async with asyncio.timeout(10):
                await run
        assert runner.stream.attempts == 1


# -- a server that goes away and comes back -----------------------------------------------


async def test_the_stream_outlasts_a_slow_restart_and_resumes(tmp_path: Path) -> None:
    db, port = tmp_path / "game.db", free_port()
    with run_server(sandbox(), db, port=port) as base:
        client = await new_team(base)
        stream = client.stream(first_backoff=0.005, max_backoff=0.02, rng=random.Random(4))
        await greeted(stream)
        resume_from = stream.last_seq
    try:
        waiting = asyncio.create_task(anext(stream))
        async with asyncio.timeout(20):  # the server is down: attempts fail, in a row
            while stream.failures <= OLD_GIVE_UP + 5:
                assert not waiting.done(), waiting
                await asyncio.sleep(0.01)
        with run_server(sandbox(), db, port=port):
            async with asyncio.timeout(10):
                status = await waiting
            assert status.type == "connection_status"
            assert status.data["team_id"] == client.team_id
            assert status.data["last_seq"] >= (resume_from or 0)
            await greeted(stream)
            assert stream.reconnects == 1 and stream.failures == 0
            assert stream.attempts > OLD_GIVE_UP + 5
            await stream.aclose()
    finally:
        await client.aclose()


async def test_the_stream_gives_up_after_max_attempts_when_asked() -> None:
    async with Client(f"http://127.0.0.1:{free_port()}", "some-key") as client:
        stream = client.stream(first_backoff=0.001, max_backoff=0.002, max_attempts=3)
        with pytest.raises(ConnectionLostError) as raised:
            async with asyncio.timeout(10):
                await anext(stream)
        assert raised.value.code == "CONNECTION_LOST" and raised.value.status == 0
        assert raised.value.details == {"attempts": 4}
        assert isinstance(raised.value.__cause__, OSError)
        assert (stream.attempts, stream.failures) == (4, 4)
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


async def test_closing_the_stream_ends_a_wait_between_attempts() -> None:
    async with Client(f"http://127.0.0.1:{free_port()}", "some-key") as client:
        stream = client.stream(first_backoff=30.0, max_backoff=60.0)
        waiting = asyncio.create_task(anext(stream))
        async with asyncio.timeout(10):
            while stream.failures < 1:
                await asyncio.sleep(0.01)
            await stream.aclose()
            with pytest.raises(StopAsyncIteration):
                await waiting
        assert stream.attempts == 1


# -- REST: transport failures and refusals by meaning -------------------------------------


async def test_a_server_that_is_not_there_is_a_lost_connection() -> None:
    async with Client(f"http://127.0.0.1:{free_port()}", "some-key", team_id="T1") as c:
        with pytest.raises(ConnectionLostError) as raised:
            await c.health()
        with pytest.raises(ConnectionLostError):
            await c.place_order("SPX", "buy", 1, price=1.0)
        with pytest.raises(ConnectionLostError):
            await Client.register(c.base_url, "nobody", "retail")
    assert raised.value.code == "CONNECTION_LOST" and raised.value.status == 0
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert "GET /health" in raised.value.message


async def test_live_refusals_raise_by_meaning(server: str) -> None:
    async with await new_team(server, "hedge_fund") as c:
        option = next(i.instrument_id for i in await c.instruments() if i.kind == "CALL")
        refusals = {
            "bad tick": c.place_order(option, "buy", 1, price=10.005),
            "unknown instrument": c.place_order("SPX_CALL_1_20991231", "buy", 1, price=1.0),
            "too large": c.place_order(option, "buy", 100_000, price=1.0),
            "wrong side": c.place_order(option, "sideways", 1, price=1.0),
        }
        for what, call in refusals.items():
            with pytest.raises(RejectedError) as raised:
                await call
            assert raised.value.code.startswith("INVALID_"), what
            assert 400 <= raised.value.status < 500 and raised.value.message, what
        with pytest.raises(OrderNotFoundError) as gone:
            await c.cancel("999999999")
        assert isinstance(gone.value, RejectedError) and gone.value.status == 404
        with pytest.raises(NotFoundError) as missing:
            await c.book("NOPE")
        assert isinstance(missing.value, InvalidRequestError)
        assert not isinstance(missing.value, RejectedError)


def test_the_runner_tells_the_strategy_only_what_the_exchange_refused() -> None:
    told: list[str] = []
    stats = RunStats()
    sender = Sender(stats, on_refused=lambda action, error: told.append(error.code))
    errors = [
        RejectedError("INVALID_PRICE", "off the grid", status=400),
        OrderNotFoundError("ORDER_NOT_FOUND", "gone", status=404),
        InvalidRequestError("INVALID_FIELD", "unknown field", status=400),
        TeamDisabledError("TEAM_DISABLED", "disabled", status=403),
        ConnectionLostError("CONNECTION_LOST", "refused"),  # fate unknown
        ServerError("INTERNAL_ERROR", "a bug", status=500),  # fate unknown
    ]
    for error in errors:
        sender.refused(CancelAll(TeamId("T1")), error)
    assert told == ["INVALID_PRICE", "ORDER_NOT_FOUND", "INVALID_FIELD", "TEAM_DISABLED"]
    assert stats.rejected == dict.fromkeys((e.code for e in errors), 1)


async def test_missed_fills_unreachable_after_a_resync_are_fetched_later(server: str) -> None:
    instrument = (await _options(server))[0]
    async with await new_team(server, "market_maker") as maker, await new_team(server) as taker:
        await maker.place_order(instrument, "sell", 2, price=15.0)
        await taker.place_order(instrument, "buy", 2, price=15.0)
        async with asyncio.timeout(5):
            while not await taker.fills():
                await asyncio.sleep(0.02)
        account = msgspec.to_builtins(await taker.positions())
    strategy = Recorder()
    runner = RemoteRunner(strategy, server, "unused")
    status = {**STATUS, "team_id": taker.team_id}
    resync = {"requested_since": 1, "oldest_available": 5, "last_seq": 9}
    snapshot = message("position_snapshot", account=account, open_orders=[])
    async with Client(f"http://127.0.0.1:{free_port()}", taker.api_key) as gone:
        runner.client = gone  # the server went away again just as the resync came
        await runner.handle(message("connection_status", **status))
        await runner.handle(message("resync_required", **resync))
        await runner.handle(snapshot)  # before the fix: ConnectionLostError ended the run
    assert strategy.of("fill") == []
    async with Client(server, taker.api_key) as back:
        runner.client = back
        await runner.handle(snapshot)  # the next connection's snapshot
        await runner.handle(snapshot)  # owed no more: nothing twice
    (fill,) = strategy.of("fill")
    assert (fill.instrument_id, fill.quantity, fill.position_after) == (instrument, 2, 2)


async def _options(base: str) -> list[str]:
    async with Client(base) as c:
        return [i.instrument_id for i in await c.instruments() if i.kind == "PUT"]


class Bidder(Recorder):
    """Bids one lot, a tick higher each time it is shown the market."""

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        super().on_market(snapshot)
        bids = len(self.of("market"))
        return [NewOrder(self.team_id, self.instrument, Side.BUY, 1, Ticks(100 + bids))]

    instrument = InstrumentId("")


async def test_a_runner_trades_on_after_its_server_restarts(tmp_path: Path) -> None:
    db, port = tmp_path / "game.db", free_port()
    strategy = Bidder()
    with run_server(sandbox(), db, port=port) as base:
        strategy.instrument = InstrumentId((await _options(base))[0])
        team = await Client.register(base, "restarted-bidder", "hedge_fund")
        runner = RemoteRunner(
            strategy, base, team.api_key, interval=0.2, cancel_on_stop=False, max_backoff=0.05
        )
        run = asyncio.create_task(runner.run(60))
        async with asyncio.timeout(10):
            while runner.stats.orders < 2:
                await asyncio.sleep(0.02)
    try:
        async with asyncio.timeout(20):  # down: orders cannot go, the stream cannot connect
            while "CONNECTION_LOST" not in runner.stats.rejected or runner.stream is None:
                await asyncio.sleep(0.02)
            while runner.stream.failures <= OLD_GIVE_UP + 5:
                await asyncio.sleep(0.02)
        assert not run.done()
        with run_server(sandbox(), db, port=port):
            before = runner.stats.orders
            async with asyncio.timeout(20):
                while runner.stream.reconnects < 1 or runner.stats.orders < before + 2:
                    assert not run.done()
                    await asyncio.sleep(0.02)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
    finally:
        run.cancel()
    assert "CONNECTION_LOST" not in [r.code for r in strategy.of("reject")]  # fate unknown


async def test_a_runner_told_to_give_up_ends_with_connection_lost() -> None:
    with run_server(sandbox()) as base:
        team = await Client.register(base, "gives-up", "retail")
        runner = RemoteRunner(Recorder(), base, team.api_key, max_backoff=0.01, max_attempts=2)
        run = asyncio.create_task(runner.run(60))
        async with asyncio.timeout(10):
            while runner.stream is None or runner.stream.connection is None:
                await asyncio.sleep(0.02)
    with pytest.raises(ConnectionLostError) as raised:
        async with asyncio.timeout(20):
            await run
    assert raised.value.details == {"attempts": 3}
    assert runner.stream.attempts == 3  # the first connection, then the two allowed
