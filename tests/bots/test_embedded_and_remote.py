"""One strategy object, unchanged, trades embedded (the in-process `StrategyRunner` on a
`TradingSession`) and then remotely (`RemoteRunner` through the client against a live
server): only the runner differs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bots.market_maker import MarketMaker
from exchange.client import Client, RemoteRunner
from exchange.config import load_config
from exchange.domain.orders import NewOrder
from exchange.domain.phases import AlwaysOpen
from exchange.domain.positions import Fill
from exchange.domain.runner import StrategyRunner
from exchange.domain.session import Executed, TradingSession
from exchange.domain.strategy import Action, MarketSnapshot, Strategy
from exchange.domain.types import InstrumentId, OrderType, Phase, Role, Side, TeamId, TimeNs
from tests.bots.support import CHAIN, NOW, pricing

MAKER, TAKER = TeamId("maker"), TeamId("taker")
ATM_CALL = InstrumentId("SPX_CALL_4400_20261204")
STEP_NS = 5 * 1_000_000_000


class Taker(Strategy):
    """Takes the at-the-money call each step: buys 3, then sells 2, in turn."""

    def __init__(self) -> None:
        self.steps = 0

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.steps += 1
        side, quantity = (Side.BUY, 3) if self.steps % 2 else (Side.SELL, 2)
        return [NewOrder(self.team_id, ATM_CALL, side, quantity, None, OrderType.MARKET)]


class MakerFills:
    """A runner listener keeping the maker's fills."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []

    def executed(
        self, team_id: TeamId, action: Action, outcome: Executed | None, now: TimeNs
    ) -> None:
        pass

    def filled(self, fills: Sequence[Fill]) -> None:
        self.fills += [f for f in fills if f.team_id == MAKER]


def run_embedded(maker: MarketMaker, listener: MakerFills, steps: int = 40) -> TradingSession:
    config = load_config()
    session = TradingSession(
        CHAIN, config.constraints(), config.fees(), np.random.default_rng(3), Phase.CONTINUOUS
    )
    runner = StrategyRunner(session, AlwaysOpen(), NOW, listener)
    runner.add(MAKER, Role.MARKET_MAKER, maker)
    runner.add(TAKER, Role.HEDGE_FUND, Taker())
    for n in range(1, steps + 1):
        now = TimeNs(NOW + n * STEP_NS)
        spx = 4400.0 + 5.0 * np.sin(n / 5)
        runner.step(now, pricing({"SPX": spx, "SPY": spx / 10}, now))
    return session


async def test_one_market_maker_object_trades_embedded_then_remote(demo_url: str) -> None:
    maker = MarketMaker()

    listener = MakerFills()
    session = run_embedded(maker, listener)
    assert len(listener.fills) >= 20
    assert maker.positions == {f.instrument_id: f.position_after for f in listener.fills}
    assert maker.positions[ATM_CALL] == session.ledger.account(MAKER).positions[ATM_CALL] < 0

    team = await Client.register(demo_url, "maker-both-ways", "market_maker")
    runner = RemoteRunner(maker, demo_url, team.api_key)
    stats = await runner.run(5.0)
    assert maker.team_id == team.team_id  # on_start began a new run
    assert stats.orders > 0 and stats.fills > 0 and "INVALID_QUOTE" not in stats.rejected
    async with Client(demo_url, team.api_key) as client:
        fills = [f for f in await client.fills() if f.trade_id <= runner.tracker.last_trade_id]
    last = {f.instrument_id: f.position_after for f in fills}
    assert maker.positions == last
