"""Everything the simulated market adds to an exchange, built and started together:
the model and its `MarketCache`, PriceQueue, EventQueue and SignalQueue, the simulator,
the news and signal deliveries, and the house participants. It is also the
participants' `MarketView`: what they may read of the market.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from exchange.domain.house import HOUSE_TEAMS
from exchange.domain.instruments import Instrument
from exchange.domain.market.news import NewsEvent
from exchange.domain.market.regimes import Regime
from exchange.domain.market.simulator import MarketModel, MarketStreams, TickOutcome
from exchange.domain.types import InstrumentId, Phase, Role, TeamId
from exchange.pipeline.events import EventDelivery
from exchange.pipeline.market import MarketCache, Simulator, expiry_close
from exchange.pipeline.participants import HouseLiquidity, HouseOptionsMaker, RetailFlow

if TYPE_CHECKING:
    from exchange.app import Exchange


class Marketplace:
    def __init__(self, exchange: Exchange, seed: np.random.SeedSequence) -> None:
        self.exchange = exchange
        settings = exchange.config.market
        self.settings = settings
        self.streams = MarketStreams.from_seed(seed)
        self.model = MarketModel(settings.model, start_ns=exchange.clock.now())
        self.cache = MarketCache(
            self.model.spots(), self.model.vol, self.model.regime.value, settings.model.regimes.vol
        )
        self.prices: asyncio.Queue[tuple[TickOutcome, int]] = asyncio.Queue(64)
        self.events: asyncio.Queue[NewsEvent] = asyncio.Queue(1000)
        self.signals: asyncio.Queue[tuple[str, int, dict[str, Any]]] = asyncio.Queue(1000)
        schedule = exchange.config.schedule
        zone = dt.UTC if schedule.always_open else ZoneInfo(schedule.timezone)
        self.expiry_ns = expiry_close(zone, schedule.close)
        self.delivery: EventDelivery | None = None

    def restore_regime(self, regime: str) -> None:
        """Continue a restored game in the regime it was in."""
        self.model.regimes.force(Regime(regime), self.streams.regime, self.exchange.clock.now())

    async def start(self) -> None:
        e, s = self.exchange, self.exchange.supervisor
        simulator = Simulator(
            self.model, self.streams, e.clock, self.phase, self.prices, self.events, self.signals
        )
        s.start("simulator", simulator.run)
        save = None if e.writer is None else e.writer.put_row
        self.delivery = EventDelivery(e.clock, e.fanout, e.teams, self.events, self.signals, save)
        self.delivery.on_news, self.delivery.on_signal = e.scores.news, e.scores.signal
        s.start("news", self.delivery.news)
        s.start("signals", self.delivery.role_signals)
        teams = {name: await self.house_team(name, role) for name, role in HOUSE_TEAMS.items()}
        if self.settings.house_liquidity:
            s.start(
                "house_liquidity", HouseLiquidity(teams["House liquidity"], e.orders, self).run
            )
        if self.settings.house_options_maker:
            s.start("house_options", HouseOptionsMaker(teams["House options"], e.orders, self).run)
        if self.settings.retail:
            rng = self.streams.retail
            flow = RetailFlow(
                teams["Retail flow"], e.orders, self, rng, self.settings.model.retail
            )
            s.start("retail", flow.run)

    async def house_team(self, name: str, role: Role) -> TeamId:
        """The house's own team: restored with the game, else registered (key unused)."""
        for team in self.exchange.teams.by_id.values():
            if team.name == name:
                return team.team_id
        team, _ = await self.exchange.register(name, role)
        return team.team_id

    # -- MarketView -------------------------------------------------------------------

    def phase(self) -> Phase:
        """The venue's phase, read as CLOSED while the organiser has trading suspended:
        the house and the retail crowd rest, and the simulator does not step."""
        venue = self.exchange.venue
        return Phase.CLOSED if venue.suspended is not None else venue.phase

    def spots(self) -> Mapping[str, float]:
        return self.cache.spots(self.exchange.clock.now())

    def fair_values(self) -> Mapping[str, int]:
        return self.cache.fair_values

    def options(self) -> Sequence[Instrument]:
        return [i for i in self.exchange.venue.instruments.values() if i.is_option]

    def positions(self, team_id: TeamId) -> Mapping[InstrumentId, int]:
        return self.exchange.session.ledger.account(team_id).positions

    def tick_wall_seconds(self) -> float:
        tick_ns = self.settings.model.tick_seconds * 1_000_000_000
        clock = self.exchange.clock
        return max(0.05, clock.wall_seconds_until(clock.now() + tick_ns))
