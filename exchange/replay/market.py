"""The simulated market of a replay: the same model, seeds and tick rhythm as the server's
simulator task, driven by the replay's virtual clock instead of the wall.

As in the server, a tick is simulated at its start (its second-by-second path lies
ahead), only while the market is open; its news and signals are held until their own
game time; fair values and deltas are the chain priced at the present second's spots.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from exchange.config import GameConfig
from exchange.domain.instruments import Instrument
from exchange.domain.market.simulator import MarketModel, MarketStreams
from exchange.domain.pricing import chain_greeks
from exchange.domain.strategy import MarketSignal, News, Pricing
from exchange.domain.ticks import TICKS_PER_UNIT, round_to_tick
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Role, Ticks, TimeNs
from exchange.pipeline.simulator import MarketCache, expiry_close

Delivery = News | tuple[Role, MarketSignal]


class ReplayMarket:
    def __init__(self, config: GameConfig, seed: np.random.SeedSequence, start: TimeNs) -> None:
        settings = config.market.model
        self.streams = MarketStreams.from_seed(seed)
        self.model = MarketModel(settings, start_ns=start)
        self.cache = MarketCache(
            self.model.spots(), self.model.vol, self.model.regime.value, settings.regimes.vol
        )
        self.tick_ns = settings.tick_seconds * NS_PER_SECOND
        self.next_tick = start // self.tick_ns * self.tick_ns
        schedule = config.schedule
        zone = dt.UTC if schedule.always_open else ZoneInfo(schedule.timezone)
        self.expiry_ns: Callable[[dt.date], int] = functools.cache(
            expiry_close(zone, schedule.close)
        )
        self._due: list[tuple[int, int, Delivery]] = []
        self._order = 0

    def ticks_due(self, now: TimeNs) -> list[int]:
        """The tick boundaries passed by `now`, oldest first (each is consumed)."""
        out = []
        while self.next_tick <= now:
            out.append(self.next_tick)
            self.next_tick += self.tick_ns
        return out

    def simulate(self, start: int) -> None:
        """The tick from `start`: its path into the cache, its news and signals held."""
        outcome = self.model.advance(start + self.tick_ns, self.streams)
        self.cache.load(outcome, start, max(1, self.tick_ns // max(1, outcome.spx_path.size)))
        for event in outcome.news:
            self._hold(event.ts_ns, News(TimeNs(event.ts_ns), event.headline))
        for forecast in outcome.volatility_forecasts:
            self._signal(Role.HEDGE_FUND, forecast.ts_ns, forecast.public())
        if outcome.tracking_error is not None:
            signal = outcome.tracking_error
            self._signal(Role.ARBITRAGE, signal.ts_ns, signal.public())

    def announce(self, headline: str, now: TimeNs) -> None:
        """A scripted headline: its effect is drawn now and lands with the next tick."""
        self.model.announce(headline, now, self.streams)

    def deliveries(self, now: TimeNs) -> list[Delivery]:
        """News and signals whose time has come, in time order."""
        out = []
        while self._due and self._due[0][0] <= now:
            out.append(heapq.heappop(self._due)[2])
        return out

    def pricing(self, now: TimeNs, options: Sequence[Instrument]) -> Pricing:
        """Spots at `now`, the chain's fair values and deltas (underlyings at spot)."""
        spots = self.cache.spots(now)
        fair = {InstrumentId(s): round_to_tick(p) for s, p in spots.items()}
        delta: dict[InstrumentId, float] = {}
        vol = self.cache.vol_at(now)
        dates = {o.expiry for o in options if o.expiry is not None}
        closes = {d: self.expiry_ns(d) > now for d in dates}
        live = [o for o in options if o.expiry is not None and closes[o.expiry]]
        if live:
            g = chain_greeks(live, spots, vol, now, self.expiry_ns)
            # Python floats, as float(value[k]) gives them, without a numpy scalar each.
            for option, value, d in zip(live, g.value.tolist(), g.delta.tolist(), strict=True):
                fair[option.id] = Ticks(round(value * TICKS_PER_UNIT))  # round_to_tick
                delta[option.id] = d
        return Pricing(fair, delta, spots, vol)

    def spot_ticks(self, now: TimeNs) -> dict[str, Ticks]:
        return {s: round_to_tick(p) for s, p in self.cache.spots(now).items()}

    def _signal(self, role: Role, ts_ns: int, payload: dict[str, Any]) -> None:
        details = {k: v for k, v in payload.items() if k != "signal"}
        kind = str(payload.get("signal", "signal"))
        self._hold(ts_ns, (role, MarketSignal(TimeNs(ts_ns), kind, details)))

    def _hold(self, ts_ns: int, item: Delivery) -> None:
        self._order += 1
        heapq.heappush(self._due, (ts_ns, self._order, item))
