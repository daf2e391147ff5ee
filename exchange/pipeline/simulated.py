"""The simulated market's state, and the house's view of the market.

`SimulatedMarket` holds what the simulated market adds to an exchange: the model and its
`MarketCache`, PriceQueue, EventQueue and SignalQueue, and the news and signal delivery
and the house task once the assembly (`exchange/app.py`) has started them. `HouseView`
is the house's `MarketView`: the snapshot its strategies are shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from exchange.clock import Clock
from exchange.config import MarketSettings, ScheduleConfig
from exchange.domain.market.news import NewsEvent
from exchange.domain.market.regimes import Regime
from exchange.domain.market.simulator import MarketModel, MarketStreams, TickOutcome
from exchange.domain.runner import TopCache
from exchange.domain.strategy import MarketSnapshot
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import InstrumentId, Phase, Ticks, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.events import EventDelivery
from exchange.pipeline.house import HouseRunner
from exchange.pipeline.simulator import MarketCache, expiry_close


class SimulatedMarket:
    def __init__(
        self,
        settings: MarketSettings,
        schedule: ScheduleConfig,
        seed: np.random.SeedSequence,
        now: TimeNs,
    ) -> None:
        self.settings = settings
        self.streams = MarketStreams.from_seed(seed)
        self.model = MarketModel(settings.model, start_ns=now)
        self.cache = MarketCache(
            self.model.spots(), self.model.vol, self.model.regime.value, settings.model.regimes.vol
        )
        self.prices: asyncio.Queue[tuple[TickOutcome, int]] = asyncio.Queue(64)
        self.events: asyncio.Queue[NewsEvent] = asyncio.Queue(1000)
        self.signals: asyncio.Queue[tuple[str, int, dict[str, Any]]] = asyncio.Queue(1000)
        zone = dt.UTC if schedule.always_open else ZoneInfo(schedule.timezone)
        self.expiry_ns = expiry_close(zone, schedule.close)
        self.delivery: EventDelivery | None = None
        """The news and signal delivery, once started."""
        self.house: HouseRunner | None = None
        """The house task, once started (None too when the house has no team)."""

    def restore_regime(self, regime: str, now: TimeNs) -> None:
        """Continue a restored game in the regime it was in."""
        self.model.regimes.force(Regime(regime), self.streams.regime, now)


class HouseView:
    """The house's `MarketView`, read from the venue and the simulated market."""

    def __init__(
        self,
        venue: ExchangeVenue,
        clock: Clock,
        cache: MarketCache,
        greeks: Mapping[InstrumentId, tuple[float, ...]],
    ) -> None:
        self.venue, self.clock, self.cache, self.greeks = venue, clock, cache, greeks
        self.tops = TopCache()

    def phase(self) -> Phase:
        """The venue's phase, read as CLOSED while the organiser has trading suspended:
        the house and the retail crowd rest, and the simulator does not step."""
        venue = self.venue
        return Phase.CLOSED if venue.suspended is not None else venue.phase

    def snapshot(self) -> MarketSnapshot:
        """What the house's strategies see: every book's top, the spots, the chain's fair
        values and deltas as last priced, and the volatility they were priced with."""
        now = self.clock.now()
        spots = self.cache.spots(now)
        fair = {InstrumentId(s): round_to_tick(p) for s, p in spots.items()}
        fair.update((InstrumentId(i), Ticks(v)) for i, v in self.cache.fair_values.items())
        delta = {i: g[0] for i, g in self.greeks.items()}
        tops = self.tops.read(self.venue)
        return MarketSnapshot(now, self.phase(), tops, fair, delta, spots, self.cache.vol_at(now))
