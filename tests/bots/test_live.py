"""Every example bot against a live demo server for a few seconds: each one trades
(or, for the streamer, hears the market), through the client, as a remote bot does."""

from __future__ import annotations

import itertools

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

_names = itertools.count(1)


async def key_for(url: str, role: str) -> str:
    return (await Client.register(url, f"{role}-live-{next(_names)}", role)).api_key


async def run(
    url: str, role: str, strategy: TradingStrategy, seconds: float
) -> tuple[RunStats, list[FillView]]:
    """Run `strategy` remotely for `seconds`; what the run did, and the team's fills as
    the exchange has them."""
    key = await key_for(url, role)
    stats = await RemoteRunner(strategy, url, key).run(seconds)
    async with Client(url, key) as client:
        fills = await client.fills()
        assert await client.open_orders() == []  # the runner cancelled on the way out
    assert stats.fills == len(fills) > 0, stats
    assert stats.orders > 0 and stats.market_calls >= seconds - 1 and stats.news > 0
    return stats, fills


async def test_rest_bot_buys_sees_its_fill_and_cancels(demo_url: str) -> None:
    tally = await trade(demo_url, await key_for(demo_url, "hedge_fund"), 4.0, None)
    assert tally.fills >= 1 and tally.orders >= 2 and tally.cancels >= 1, tally


async def test_streamer_hears_market_data_prints_and_news(demo_url: str) -> None:
    seen = await watch(demo_url, await key_for(demo_url, "retail"), 5.0, None)
    messages = seen["messages"]
    assert isinstance(messages, dict)
    for kind in ("connection_status", "position_snapshot", "market_data", "trade", "event"):
        assert messages.get(kind, 0) > 0, (kind, messages)


async def test_market_maker_quotes_and_is_filled(demo_url: str) -> None:
    stats, fills = await run(demo_url, "market_maker", MarketMaker(), 5.0)
    assert stats.signals == 0  # market makers get none
    options = {f.instrument_id for f in fills if parse_instrument_id(f.instrument_id).is_option}
    assert options, fills  # it quotes options and is hit there
    assert {f.instrument_id for f in fills} - options <= {"SPX"}  # its delta hedges


async def test_hedge_fund_trades_a_straddle_on_a_forecast(demo_url: str) -> None:
    stats, fills = await run(demo_url, "hedge_fund", HedgeFund(), 6.0)
    assert stats.signals > 0
    kinds: dict[tuple[object, object], set[object]] = {}
    for option in map(parse_instrument_id, (f.instrument_id for f in fills)):
        if option.is_option:
            kinds.setdefault((option.strike, option.expiry), set()).add(option.kind)
    assert any(len(k) == 2 for k in kinds.values()), kinds  # a call and its put


async def test_arbitrage_desk_trades_spx_against_spy(demo_url: str) -> None:
    stats, fills = await run(demo_url, "arbitrage", ArbitrageDesk(), 6.0)
    assert stats.signals > 0
    assert {f.instrument_id for f in fills} == {"SPX", "SPY"}


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
