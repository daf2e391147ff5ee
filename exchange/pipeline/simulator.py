"""The market simulator task, the `MarketCache` it fills, and the game-time helpers it
shares with the other tasks (`sleep_until`, `expiry_close`) (SPEC section 6).

How it works. At each tick boundary of game time the simulator advances the pure
`MarketModel` by one tick (`market.model.tick_seconds`, 300 game seconds by default)
and publishes the outcome through PriceQueue; news go on EventQueue and signals on
SignalQueue. The tick is computed at its start, so its second-by-second SPX and SPY
paths lie ahead: the market data task reads the price of the present second from the
`MarketCache` as game time passes, and the event delivery (`pipeline/events.py`) holds
each headline and signal until the game time it belongs to. While the market is CLOSED
(or the organiser has suspended trading) nothing moves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from exchange.clock import Clock
from exchange.domain.market.regimes import Regime
from exchange.domain.market.simulator import MarketModel, MarketStreams, TickOutcome
from exchange.domain.types import NS_PER_SECOND, Phase, TimeNs

log = logging.getLogger("exchange.market")

MAX_NAP = 0.5


class MarketCache:
    """The latest simulated prices, regime and fair values: a plain object of the loop."""

    def __init__(
        self,
        spots: dict[str, float],
        vol: float,
        regime: str,
        vols: Callable[[Regime], float] | None = None,
    ) -> None:
        self.spots_at_start = dict(spots)
        self.paths: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        self.start_ns = 0
        self.step_ns = NS_PER_SECOND
        self.vol = vol
        """The volatility from the loaded tick's start (see `vol_at`)."""
        self.regime = regime
        self.vols = vols
        """Each regime's volatility, to follow news-forced changes within a tick."""
        self.vol_changes: list[tuple[int, float]] = []
        self.fair_values: dict[str, int] = {}

    def load(self, outcome: TickOutcome, start_ns: int, step_ns: int) -> None:
        self.paths = {"SPX": outcome.spx_path, "SPY": outcome.spy_path}
        self.start_ns, self.step_ns = start_ns, step_ns
        self.vol, self.regime = outcome.vol, outcome.regime.value
        # A headline's regime shift takes effect from its own second: pricing with the
        # tick's final volatility from the tick's start would show it before the news.
        forced = [c for c in outcome.regime_changes if c.cause == "news"]
        self.vol_changes = []
        if forced and self.vols is not None:
            self.vol = self.vols(forced[0].previous)
            self.vol_changes = [(c.ts_ns, self.vols(c.regime)) for c in forced]

    def vol_at(self, now_ns: int) -> float:
        """The volatility at `now_ns`: the tick's, or that of the last news shift before."""
        return next((v for ts, v in reversed(self.vol_changes) if ts <= now_ns), self.vol)

    def spots(self, now_ns: int) -> dict[str, float]:
        """Each underlying's simulated price at `now_ns` (the second of the path it is in)."""
        if not self.paths:
            return dict(self.spots_at_start)
        k = max(0, (now_ns - self.start_ns) // self.step_ns)
        return {u: float(p[min(k, len(p) - 1)]) for u, p in self.paths.items()}


class Simulator:
    def __init__(
        self,
        model: MarketModel,
        streams: MarketStreams,
        clock: Clock,
        phase: Callable[[], Phase],
        prices: asyncio.Queue[tuple[TickOutcome, int]],
        events: asyncio.Queue[Any],
        signals: asyncio.Queue[Any],
    ) -> None:
        self.model = model
        self.streams = streams
        self.clock = clock
        self.phase = phase
        self.prices = prices
        self.events = events
        self.signals = signals
        self.tick_ns = model.config.tick_seconds * NS_PER_SECOND

    async def run(self) -> None:
        start = self.clock.now() // self.tick_ns * self.tick_ns
        while True:
            if self.phase() is not Phase.CLOSED:
                await self.simulate(TimeNs(start))
            start += self.tick_ns
            await sleep_until(self.clock, start)

    async def simulate(self, start: TimeNs) -> None:
        """One tick from `start`: prices, then news and signals, each on its queue."""
        outcome = self.model.advance(start + self.tick_ns, self.streams)
        await self.prices.put((outcome, start))
        for event in outcome.news:
            await self.events.put(event)
        for forecast in outcome.volatility_forecasts:
            await self.signals.put(("hedge_fund", forecast.ts_ns, forecast.public()))
        if outcome.tracking_error is not None:
            signal = outcome.tracking_error
            await self.signals.put(("arbitrage", signal.ts_ns, signal.public()))


async def sleep_until(clock: Clock, game_ns: int) -> None:
    """Wait until the game clock reaches `game_ns`, looking again at least every half
    second so that a change of speed (or a pause) takes effect."""
    while (wait := clock.wall_seconds_until(game_ns)) > 0:
        await asyncio.sleep(min(wait, MAX_NAP))


def expiry_close(tz: dt.tzinfo, close: dt.time) -> Callable[[dt.date], int]:
    """An expiry date's settlement moment in game time: the close of that day."""

    def at(date: dt.date) -> int:
        moment = dt.datetime.combine(date, close, tz)
        return int(moment.timestamp()) * NS_PER_SECOND

    return at
