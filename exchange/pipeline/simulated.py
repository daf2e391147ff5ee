"""Everything the simulated market adds to an exchange, built and started together:
the model and its `MarketCache`, PriceQueue, EventQueue and SignalQueue, the simulator,
the news and signal deliveries, and the house (its strategies, run by the house task).
It is also the house's `MarketView`: the snapshot its strategies are shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from exchange.domain.house import house_teams
from exchange.domain.market.news import NewsEvent
from exchange.domain.market.regimes import Regime
from exchange.domain.market.simulator import MarketModel, MarketStreams, TickOutcome
from exchange.domain.runner import TopCache
from exchange.domain.strategy import MarketSnapshot
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import InstrumentId, Phase, Role, TeamId, Ticks
from exchange.pipeline.events import EventDelivery
from exchange.pipeline.house import HouseRunner
from exchange.pipeline.market import MarketCache, Simulator, expiry_close

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
        self.house: HouseRunner | None = None
        self.tops = TopCache()

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
        await self.start_house()

    async def start_house(self) -> None:
        """The house's teams (restored with the game, else registered) and their task."""
        e, m = self.exchange, self.settings
        teams = house_teams(
            self.streams.retail, m.model.retail, m.model.tick_seconds,
            liquidity=m.house_liquidity, options_maker=m.house_options_maker, crowd=m.retail,
        )  # fmt: skip
        strategies = {}
        for team in teams:
            team_id = await self.house_team(team.name, team.role)
            team.strategy.on_start(team_id, team.role, list(e.venue.instruments.values()))
            strategies[team_id] = team.strategy
        if not strategies:
            return
        windows = e.session.windows
        limits = {t: windows[t].limit for t in strategies if e.session.roles[t] is not Role.HOUSE}
        self.house = HouseRunner(strategies, limits, e.orders, self, e.clock, m.house_interval)
        e.publisher.taps.append(self.house.released)
        e.supervisor.start("house", self.house.run)

    async def house_team(self, name: str, role: Role) -> TeamId:
        """The house's own team: restored with the game, else registered (key unused)."""
        for team in self.exchange.teams.by_id.values():
            if team.name == name:
                return team.team_id
        team, _ = await self.exchange.register(name, role, stream=False)
        return team.team_id

    # -- MarketView -------------------------------------------------------------------

    def phase(self) -> Phase:
        """The venue's phase, read as CLOSED while the organiser has trading suspended:
        the house and the retail crowd rest, and the simulator does not step."""
        venue = self.exchange.venue
        return Phase.CLOSED if venue.suspended is not None else venue.phase

    def snapshot(self) -> MarketSnapshot:
        """What the house's strategies see: every book's top, the spots, the chain's fair
        values and deltas as last priced, and the volatility they were priced with."""
        e = self.exchange
        now = e.clock.now()
        spots = self.cache.spots(now)
        fair = {InstrumentId(s): round_to_tick(p) for s, p in spots.items()}
        fair.update((InstrumentId(i), Ticks(v)) for i, v in self.cache.fair_values.items())
        delta = {i: g[0] for i, g in e.market_data.greeks.items()}
        tops = self.tops.read(e.venue)
        return MarketSnapshot(now, self.phase(), tops, fair, delta, spots, self.cache.vol_at(now))
