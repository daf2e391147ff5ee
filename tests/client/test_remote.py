"""`RemoteRunner`: a `TradingStrategy` driven through the client. First fed stream
messages by hand (what each becomes for the strategy), then against a real sandbox
server on 127.0.0.1 (actions become requests, refusals are counted, fills come back,
the stream resumes after a drop, orders are cancelled at the end)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import pytest

from exchange.client import AuthError, Client, RemoteRunner
from exchange.domain.instruments import parse_instrument_id
from exchange.domain.orders import CancelAll, CancelOrder, NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.strategy import (
    Action,
    MarketSignal,
    MarketSnapshot,
    News,
    Rejection,
    Strategy,
)
from exchange.domain.types import (
    NS_PER_SECOND as NS,
)
from exchange.domain.types import (
    InstrumentId,
    OrderId,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.wire.messages import Message
from tests.server.harness import Bot, run_server, sandbox

CALL = "SPX_CALL_4400_20261204"
_names = itertools.count(1)


class Recorder(Strategy):
    """Remembers every call; answers each with the actions queued for it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.on_next_market: list[Action] = []
        self.on_next_reject: list[Action] = []

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Any]) -> None:
        super().on_start(team_id, role, instruments)
        self.calls.append(("start", (team_id, role, [i.id for i in instruments])))

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.calls.append(("market", snapshot))
        out, self.on_next_market = self.on_next_market, []
        return out

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.calls.append(("fill", fill))
        return ()

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]:
        self.calls.append(("phase", phase))
        return [CancelAll(self.team_id)]

    def on_news(self, news: News) -> Sequence[Action]:
        self.calls.append(("news", news))
        return ()

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]:
        self.calls.append(("signal", signal))
        return ()

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        self.calls.append(("reject", rejection))
        out, self.on_next_reject = self.on_next_reject, []
        return out

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.calls if k == kind]


def message(type_: str, seq: int = 0, /, **data: Any) -> Message:
    return Message(seq, type_, "2026-12-01T14:00:00.000000Z", data)


STATUS = {"status": "connected", "team_id": "T0009", "role": "hedge_fund",
          "heartbeat_interval": 5.0, "last_seq": 0, "resumed": False, "phase": "PRE_OPEN",
          "game_time": "2026-12-01T14:00:00.000000Z"}  # fmt: skip
REPORT = {"order_id": "17", "instrument_id": CALL, "side": "sell", "order_type": "limit",
          "quantity": 5, "filled": 2, "remaining": 3, "status": "partially_filled",
          "exec_type": "trade", "price": 12.5, "trade_id": 31, "last_price": 12.5,
          "last_quantity": 2, "liquidity_type": "maker", "fee": 0.02}  # fmt: skip


async def test_stream_messages_become_the_strategy_s_calls() -> None:
    strategy = Recorder()
    runner = RemoteRunner(strategy, "http://127.0.0.1:9", "key")
    runner.instruments = [parse_instrument_id("SPX"), parse_instrument_id(CALL)]
    await runner.handle(message("connection_status", **STATUS))
    assert strategy.of("start") == [("T0009", Role.HEDGE_FUND, ["SPX", CALL])]
    await runner.handle(message("phase_change", 1, phase="CONTINUOUS", previous="PRE_OPEN",
                                game_time="2026-12-01T14:05:00.000000Z"))  # fmt: skip
    assert strategy.of("phase") == [Phase.CONTINUOUS] and runner.backlog == 1
    await runner.handle(message("event", 2, headline="Fed hints at tightening",
                                game_time="2026-12-01T14:06:00.000000Z"))  # fmt: skip
    forecast = {"current_regime": "low", "predicted_regime": "high"}
    when = "2026-12-01T14:07:00.000000Z"
    await runner.handle(
        message("signal", 3, kind="volatility_forecast", game_time=when, details=forecast)
    )
    (news,) = strategy.of("news")
    (signal,) = strategy.of("signal")
    assert news == News(TimeNs(1796133960 * NS), "Fed hints at tightening")
    assert (signal.kind, signal.ts_ns) == ("volatility_forecast", 1796134020 * NS)
    assert signal.details == forecast
    await runner.handle(message("execution_report", 4, **REPORT))
    assert strategy.of("fill") == []  # held for its position update
    await runner.handle(message("position_update", 5, instrument_id=CALL, quantity=-2,
                                cash=2500.0, fees=0.02, realised_pnl=0.0))  # fmt: skip
    (fill,) = strategy.of("fill")
    assert (fill.trade_id, fill.order_id, fill.side, fill.price, fill.quantity) == (
        31, OrderId(17), Side.SELL, Ticks(1250), 2
    )  # fmt: skip
    assert (fill.fee_ticks, fill.position_after, fill.team_id) == (2, -2, "T0009")
    await runner.handle(message("market_data", 5, instrument_id=CALL, phase="CONTINUOUS",
                                bid=12.4, bid_size=10, ask=12.6, ask_size=10, last=12.5,
                                fair_value=12.52, delta=0.5, underlying_price=4400.5))  # fmt: skip
    snapshot = runner.market.snapshot(runner.now())
    assert snapshot.phase is Phase.CONTINUOUS and snapshot.fair == {CALL: 1252}
    assert snapshot.spots == {"SPX": 4400.5} and snapshot.delta == {CALL: 0.5}
    await runner.handle(message("no_such_type", 6, anything=1))  # ignored


async def test_a_spectator_stream_is_refused() -> None:
    runner = RemoteRunner(Recorder(), "http://127.0.0.1:9", "key")
    with pytest.raises(AuthError):
        await runner.handle(message("connection_status", **{**STATUS, "team_id": None}))


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RemoteRunner(Recorder(), "http://127.0.0.1:9", "key", interval=0)


# -- against a sandbox server -------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox()) as base:
        yield base


@pytest.fixture(scope="module")
def options(server: str) -> Iterator[InstrumentId]:
    """Fresh listed options, one per test that asks, so books never share orders."""

    async def listed() -> list[str]:
        async with Client(server) as c:
            return [i.instrument_id for i in await c.instruments() if i.strike is not None]

    return iter(map(InstrumentId, asyncio.run(listed())))


async def register(server: str, role: str) -> tuple[TeamId, str]:
    team = await Client.register(server, f"{role}-remote-{next(_names)}", role)
    return TeamId(team.team_id), team.api_key


async def test_actions_become_requests_and_fills_come_back(
    server: str, options: Iterator[InstrumentId]
) -> None:
    instrument = next(options)
    team, key = await register(server, "market_maker")
    strategy = Recorder()
    strategy.on_next_market = [
        NewQuote(team, instrument, Ticks(990), 10, Ticks(1010), 10),
        NewOrder(team, instrument, Side.BUY, 3, Ticks(900)),
        CancelOrder(team, OrderId(10**9)),  # unknown: refused with its code
    ]
    runner = RemoteRunner(strategy, server, key, interval=0.2)
    task = asyncio.create_task(runner.run(10))
    taker = Bot(server, "hedge_fund")
    try:
        async with asyncio.timeout(5):
            while runner.stats.orders < 2:
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
    assert (fill.instrument_id, fill.side, fill.quantity, fill.price) == (
        instrument, Side.SELL, 4, Ticks(1010)
    )  # fmt: skip
    assert fill.position_after == -4 and fill.team_id == team
    stats = runner.stats
    assert (stats.orders, stats.fills, stats.rejected) == (2, 1, {"ORDER_NOT_FOUND": 1})
    assert strategy.of("market")[0].phase is Phase.CONTINUOUS
    async with Client(server, key) as client:
        assert await client.open_orders() == []  # cancelled when the run was cancelled


async def test_refusals_are_counted_and_told_and_other_teams_actions_ignored(
    server: str, options: Iterator[InstrumentId]
) -> None:
    instrument = next(options)
    team, key = await register(server, "market_maker")
    strategy = Recorder()
    strategy_sent: list[Action] = [
        NewOrder(team, instrument, Side.BUY, 5000, Ticks(100)),  # over the role's size
        NewQuote(team, instrument, Ticks(500), 10, Ticks(1000), 10),  # spread over 10%
        NewOrder(TeamId("T9999"), instrument, Side.BUY, 1, Ticks(100)),
        NewOrder(team, instrument, Side.BUY, 1, None, OrderType.MARKET),  # nothing to take
    ]
    strategy.on_next_market = strategy_sent
    smaller = NewOrder(team, instrument, Side.BUY, 5, Ticks(100))
    strategy.on_next_reject = [smaller]  # the answer to the first refusal
    runner = RemoteRunner(strategy, server, key, interval=0.2, cancel_on_stop=False)
    stats = await runner.run(1.5)
    assert stats.rejected == {"INVALID_QUANTITY": 1, "INVALID_QUOTE": 1}
    assert (stats.foreign, stats.orders) == (1, 2)
    refused = strategy.of("reject")
    assert [(r.code, r.action) for r in refused] == [
        ("INVALID_QUANTITY", strategy_sent[0]),
        ("INVALID_QUOTE", strategy_sent[1]),
    ]
    assert all(r.message for r in refused)
    async with Client(server, key) as client:
        (resting,) = await client.open_orders()
    assert (resting.instrument_id, resting.quantity, resting.price) == (instrument, 5, 1.0)


async def test_orders_past_the_role_rate_wait_instead_of_failing(
    server: str, options: Iterator[InstrumentId]
) -> None:
    instrument = next(options)
    team, key = await register(server, "hedge_fund")  # 5 orders a second
    strategy = Recorder()
    strategy.on_next_market = [
        NewOrder(team, instrument, Side.BUY, 1, Ticks(100 + n)) for n in range(12)
    ]
    runner = RemoteRunner(strategy, server, key, interval=0.2, cancel_on_stop=False)
    stats = await runner.run(5)
    assert (stats.orders, stats.rejected) == (12, {})
    assert runner.sender.pacer.limit == 5
    async with Client(server, key) as client:
        assert len(await client.open_orders()) == 12
        await client.cancel_all()


async def test_the_stream_resumes_after_a_drop_without_losing_or_repeating_a_fill(
    server: str, options: Iterator[InstrumentId]
) -> None:
    instrument = next(options)
    team, key = await register(server, "market_maker")
    strategy = Recorder()
    strategy.on_next_market = [NewOrder(team, instrument, Side.SELL, 6, Ticks(2000))]
    runner = RemoteRunner(strategy, server, key, interval=0.2)
    task = asyncio.create_task(runner.run(15))
    taker = Bot(server, "hedge_fund")
    try:
        async with asyncio.timeout(5):
            while runner.stats.orders < 1 or runner.stream is None:
                await asyncio.sleep(0.05)
        assert taker.order(instrument, "buy", 2, 20.0).status_code == 201
        async with asyncio.timeout(5):
            while len(strategy.of("fill")) < 1:
                await asyncio.sleep(0.05)
        connection = runner.stream.connection
        assert connection is not None
        await connection.close()  # dropped from this side
        for _ in range(2):
            assert taker.order(instrument, "buy", 2, 20.0).status_code == 201
        async with asyncio.timeout(10):
            while len(strategy.of("fill")) < 3:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        taker.close()
    fills = strategy.of("fill")
    assert [f.position_after for f in fills] == [-2, -4, -6]
    assert len({f.trade_id for f in fills}) == 3
    assert runner.stream.reconnects == 1 and runner.stats.reconnects == 1


async def test_a_wrong_key_ends_the_run_with_an_auth_error(server: str) -> None:
    with pytest.raises(AuthError):
        await RemoteRunner(Recorder(), server, "not-a-key").run(5)


def test_stats_are_plain_data() -> None:
    runner = RemoteRunner(Recorder(), "http://127.0.0.1:9", "key")
    assert msgspec.to_builtins(runner.stats)["rejected"] == {}


async def test_a_runner_watching_one_book_is_shown_that_book_only(
    server: str, options: Iterator[InstrumentId]
) -> None:
    watched, other = next(options), next(options)
    _, key = await register(server, "market_maker")
    strategy = Recorder()
    runner = RemoteRunner(strategy, server, key, interval=0.1, instruments=[watched])
    task = asyncio.create_task(runner.run(10))
    maker = Bot(server, "market_maker")
    try:
        async with asyncio.timeout(5):
            while not strategy.of("market"):
                await asyncio.sleep(0.05)
        assert maker.order(other, "buy", 1, 3.00).status_code == 201
        assert maker.order(watched, "buy", 1, 3.00).status_code == 201

        def bid_seen() -> bool:
            last = strategy.of("market")[-1]
            top = last.tops.get(watched)
            return top is not None and top.bid == Ticks(300)

        async with asyncio.timeout(5):
            while not bid_seen():
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        maker.http.delete("/orders")
        maker.close()
    assert {i for s in strategy.of("market") for i in s.tops} == {watched}
