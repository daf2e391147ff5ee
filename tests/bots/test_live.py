"""Every example bot against a live demo server for a few seconds: each one trades
(or, for the streamer, hears the market), through the client, as a remote bot does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable

import httpx
import pytest

from bots.arbitrage import ArbitrageDesk
from bots.hedge_fund import HedgeFund
from bots.load import run_load, summary
from bots.market_maker import MarketMaker
from bots.rest_bot import trade
from bots.stream import watch
from exchange.client import Client, RemoteRunner, RunStats
from exchange.domain.instruments import parse_instrument_id
from exchange.domain.strategy import TradingStrategy
from exchange.wire.models import FillView
from tests.bots.support import ADMIN_TOKEN

_names = itertools.count(1)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def key_for(url: str, role: str) -> str:
    return (await Client.register(url, f"{role}-live-{next(_names)}", role)).api_key


Done = Callable[[RunStats, list[FillView]], bool]


async def run(
    url: str, role: str, strategy: TradingStrategy, done: Done, at_most: float = 45.0
) -> tuple[RunStats, list[FillView]]:
    """Run `strategy` remotely until it has heard the news and traded as `done` asks
    (the market is live, so how soon is not fixed), failing after `at_most` seconds;
    what the run did, and the team's fills as the exchange has them."""
    key = await key_for(url, role)
    runner = RemoteRunner(strategy, url, key)
    task = asyncio.create_task(runner.run())
    async with Client(url, key) as client:
        try:
            await until_done(client, runner, task, done, at_most)
        finally:
            task.cancel()  # the runner cancels the team's orders as it stops
            with contextlib.suppress(asyncio.CancelledError):
                await task
        fills = await client.fills()
        assert await client.open_orders() == []  # the runner cancelled on the way out
    stats = runner.stats
    # Heard as they came; one more may land between the runner's stop and its cancels.
    assert 0 < stats.fills <= len(fills), stats
    assert stats.orders > 0 and stats.market_calls > 0
    return stats, fills


async def until_done(
    client: Client, runner: RemoteRunner, task: asyncio.Task[RunStats], done: Done, at_most: float
) -> None:
    deadline = time.monotonic() + at_most
    while not (runner.stats.news and done(runner.stats, await client.fills())):
        if task.done():
            task.result()  # the run ended early: its error
        if time.monotonic() > deadline:
            pytest.fail(f"not done within {at_most}s: {runner.stats}")
        await asyncio.sleep(0.5)


def options_of(fills: list[FillView]) -> set[str]:
    return {f.instrument_id for f in fills if parse_instrument_id(f.instrument_id).is_option}


def has_straddle(_: RunStats, fills: list[FillView]) -> bool:
    """A call and the put of the same strike and expiry among the fills."""
    kinds: dict[tuple[object, object], set[object]] = {}
    for option in map(parse_instrument_id, options_of(fills)):
        kinds.setdefault((option.strike, option.expiry), set()).add(option.kind)
    return any(len(k) == 2 for k in kinds.values())


async def test_rest_bot_buys_sees_its_fill_and_cancels(demo_url: str) -> None:
    tally = await trade(demo_url, await key_for(demo_url, "hedge_fund"), 4.0, None)
    assert tally.fills >= 1 and tally.orders >= 2 and tally.cancels >= 1, tally


async def test_streamer_hears_market_data_prints_and_news(demo_url: str) -> None:
    watching = asyncio.create_task(watch(demo_url, await key_for(demo_url, "retail"), 5.0, None))
    await asyncio.sleep(1.0)
    # Simulated news comes when its Poisson clock says: the organiser makes sure of one.
    async with httpx.AsyncClient(base_url=demo_url, timeout=5) as organiser:
        published = await organiser.post(
            "/admin/news", json={"headline": "Streamer hears this"}, headers=ADMIN
        )
    assert published.status_code == 200, published.text
    seen = await watching
    messages = seen["messages"]
    assert isinstance(messages, dict)
    for kind in ("connection_status", "position_snapshot", "market_data", "trade", "event"):
        assert messages.get(kind, 0) > 0, (kind, messages)


async def test_market_maker_quotes_and_is_filled(demo_url: str) -> None:
    stats, fills = await run(
        demo_url, "market_maker", MarketMaker(), lambda _, f: bool(options_of(f))
    )
    assert stats.signals == 0  # market makers get none
    assert {f.instrument_id for f in fills} - options_of(fills) <= {"SPX"}  # its delta hedges


async def test_hedge_fund_trades_a_straddle_on_a_forecast(demo_url: str) -> None:
    stats, _ = await run(demo_url, "hedge_fund", HedgeFund(), has_straddle)
    assert stats.signals > 0


async def test_arbitrage_desk_trades_spx_against_spy(demo_url: str) -> None:
    both = {"SPX", "SPY"}
    stats, fills = await run(
        demo_url, "arbitrage", ArbitrageDesk(), lambda _, f: {x.instrument_id for x in f} >= both
    )
    assert stats.signals > 0
    assert {f.instrument_id for f in fills} == both


@pytest.mark.parametrize("bots", [1, 3])
async def test_load_generator_measures_accept_and_fill_latency(demo_url: str, bots: int) -> None:
    stats = await run_load(demo_url, bots=bots, rate=6.0 * bots, seconds=3.0)
    result = summary(bots, 6.0 * bots, 3.0, stats)
    assert result["orders"] > 0 and result["fills"] > 0, result
    for figures in (result["accept_ms"], result["fill_ms"]):
        assert 0 < figures["p50"] <= figures["p90"] <= figures["p99"] <= figures["max"]
    assert "RATE_LIMIT_EXCEEDED" not in result["errors"]


async def test_load_generator_refuses_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        await run_load("http://192.0.2.1:8000", bots=1, rate=1.0, seconds=1.0)
