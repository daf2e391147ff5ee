"""The server's own participants: a house liquidity provider on the underlyings, a house
options market maker (demo), and retail flow. They trade through the same OrderQueue,
validator and books as every team, never around them, each as a registered team
(SPEC sections 3 and 6), so their positions count in every invariant.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from exchange.domain.house import two_sided
from exchange.domain.instruments import Instrument
from exchange.domain.market.retail import RetailConfig, retail_orders
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import InstrumentId, Phase, TeamId
from exchange.pipeline.work import Submit

log = logging.getLogger("exchange.participants")


class MarketView(Protocol):
    """What the house participants read of the market (the exchange provides it)."""

    def phase(self) -> Phase: ...

    def spots(self) -> Mapping[str, float]: ...

    def fair_values(self) -> Mapping[str, int]: ...

    def options(self) -> Sequence[Instrument]: ...

    def positions(self, team_id: TeamId) -> Mapping[InstrumentId, int]: ...

    def tick_wall_seconds(self) -> float: ...


class Participant:
    """Sends requests into the pipeline like the API does, and awaits the answer."""

    def __init__(self, team_id: TeamId, orders: asyncio.Queue[Any], market: MarketView) -> None:
        self.team_id = team_id
        self.orders = orders
        self.market = market
        self.refused = 0

    async def send(self, request: NewOrder | NewQuote) -> bool:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self.orders.put_nowait(Submit(request, reply, f"house-{secrets.token_hex(4)}"))
        except asyncio.QueueFull:
            self.refused += 1  # the market is busy: the house steps back, never pushes
            return False
        outcome = await reply
        accepted = hasattr(outcome, "order_ids")
        self.refused += not accepted
        return accepted


class HouseLiquidity(Participant):
    """Quotes SPX and SPY around their simulated prices, every `interval` wall seconds."""

    interval, spread_bp, size = 1.0, 2.0, 100

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.market.phase() is Phase.CONTINUOUS:
                for symbol, spot in self.market.spots().items():
                    mid = round(spot * TICKS_PER_UNIT)
                    half = max(1, round(mid * self.spread_bp / 20_000))
                    quote = two_sided(self.team_id, InstrumentId(symbol), mid, half, self.size)
                    if quote is not None:
                        await self.send(quote)


class HouseOptionsMaker(Participant):
    """Quotes every listed option around its fair value: a live chain with no bots."""

    interval, spread, size = 2.0, 0.04, 10

    def __init__(self, team_id: TeamId, orders: asyncio.Queue[Any], market: MarketView) -> None:
        super().__init__(team_id, orders, market)
        self.quoted: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.market.phase() is Phase.CONTINUOUS:
                await self.requote()
            else:
                self.quoted.clear()  # the close cancelled every quote

    async def requote(self) -> None:
        """Requote only where the fair value moved: a resting quote keeps its priority."""
        for instrument_id, fair in list(self.market.fair_values().items()):
            half = max(5, round(fair * self.spread / 2))
            quoted = self.quoted.get(instrument_id)
            if quoted is not None and abs(quoted - fair) * 4 < half:
                continue  # still well inside the quote: keep its place in the queue
            quote = two_sided(self.team_id, InstrumentId(instrument_id), fair, half, self.size)
            if quote is not None and await self.send(quote):
                self.quoted[instrument_id] = fair


class RetailFlow(Participant):
    """The simulated retail crowd: each tick's orders, spread over the tick so the
    retail role's rate limit (1 order per second) holds."""

    def __init__(
        self,
        team_id: TeamId,
        orders: asyncio.Queue[Any],
        market: MarketView,
        rng: np.random.Generator,
        config: RetailConfig,
    ) -> None:
        super().__init__(team_id, orders, market)
        self.rng, self.config = rng, config

    async def run(self) -> None:
        while True:
            tick = self.market.tick_wall_seconds()
            if self.market.phase() is not Phase.CONTINUOUS or not self.market.fair_values():
                await asyncio.sleep(min(tick, 1.0))
                continue
            await self.trade_one_tick(tick)

    async def trade_one_tick(self, tick: float) -> None:
        m = self.market
        fair = {InstrumentId(k): v for k, v in m.fair_values().items()}
        listed = [o for o in m.options() if o.id in fair]
        orders = retail_orders(
            self.rng, self.team_id, listed, fair, m.spots(), m.positions(self.team_id), self.config
        )
        pause = max(1.05, tick / max(1, len(orders) + 1))
        for order in orders:
            await asyncio.sleep(pause)
            await self.send(order)
        if not orders:
            await asyncio.sleep(tick)
