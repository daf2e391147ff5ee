"""The market model: regimes, SPX, SPY and news advanced one tick at a time (SPEC section 6).

How a tick works (`MarketModel.advance`), in order:
1. the regime chain steps once (its pre-drawn schedule; forecasts that fall due);
2. news events in the tick's window fire; a regime shifter forces the regime from its
   moment on (so the volatility can change within the tick), a jump lands on its second;
3. SPX walks the tick's 300 one-second steps in one vectorised draw with those
   per-second volatilities and jumps;
4. SPY follows (lagged, with its tracking error), and the arbitrage signal is checked.

The model owns no generator: each call gets `MarketStreams`, one generator per concern,
all spawned from one `SeedSequence(seed)`. Concerns never share a stream, so the same
seed gives the same game, and e.g. drawing retail orders cannot shift the SPX path.
Pure: no clock, no I/O; time is the `now_ns` each call is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray

from exchange.domain.instruments import Instrument
from exchange.domain.market import gbm
from exchange.domain.market.gbm import GbmConfig
from exchange.domain.market.news import NewsConfig, NewsEvent, NewsKind, NewsProcess
from exchange.domain.market.regimes import (
    Regime,
    RegimeConfig,
    VolatilityForecast,
    VolatilityState,
    shifted,
)
from exchange.domain.market.retail import RetailConfig
from exchange.domain.market.tracking import (
    TrackingConfig,
    TrackingErrorSignal,
    TrackingSignaller,
    TrackingState,
    TrackingTick,
)
from exchange.domain.pricing import chain_greeks
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Ticks

Array = NDArray[np.float64]


class MarketConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tick_seconds: int = 300
    gbm: GbmConfig = GbmConfig()
    regimes: RegimeConfig = RegimeConfig()
    tracking: TrackingConfig = TrackingConfig()
    news: NewsConfig = NewsConfig()
    retail: RetailConfig = RetailConfig()

    @property
    def steps_per_tick(self) -> int:
        return max(1, round(self.tick_seconds / self.gbm.step_seconds))


class MarketStreams(NamedTuple):
    """One seeded generator per concern."""

    regime: np.random.Generator
    spx: np.random.Generator
    tracking: np.random.Generator
    news: np.random.Generator
    signals: np.random.Generator
    retail: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence) -> MarketStreams:
        sequence = (
            seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        )
        return cls(*(np.random.default_rng(s) for s in sequence.spawn(len(cls._fields))))


class RegimeChange(msgspec.Struct, frozen=True):
    ts_ns: int
    previous: Regime
    regime: Regime
    cause: str
    """"markov" (the chain's own step) or "news"."""


class TickOutcome(msgspec.Struct, frozen=True):
    """What one tick did. Paths hold one price per game second, the close last."""

    tick: int
    ts_ns: int
    spx_path: Array
    spy_path: Array
    regime: Regime
    vol: float
    regime_changes: list[RegimeChange]
    news: list[NewsEvent]
    volatility_forecasts: list[VolatilityForecast]
    tracking: TrackingTick
    tracking_error: TrackingErrorSignal | None

    @property
    def spx(self) -> float:
        return float(self.spx_path[-1])

    @property
    def spy(self) -> float:
        return float(self.spy_path[-1])

    @property
    def spx_ticks(self) -> Ticks:
        return round_to_tick(self.spx)

    @property
    def spy_ticks(self) -> Ticks:
        return round_to_tick(self.spy)


class MarketModel:
    """The simulated market's state, advanced one tick per `advance` call."""

    def __init__(self, config: MarketConfig | None = None, start_ns: int | None = None) -> None:
        self.config = config = config or MarketConfig()
        self.tick = 0
        self.last_ns = start_ns
        self.spx = config.gbm.initial_price
        self.regimes = VolatilityState(config.regimes, since_ns=start_ns or 0)
        self.tracking = TrackingState(config.tracking, self.spx, config.steps_per_tick)
        self.signaller = TrackingSignaller(config.tracking)
        self.news = NewsProcess(config.news)
        self._announced: list[NewsEvent] = []

    @property
    def regime(self) -> Regime:
        return self.regimes.regime

    @property
    def vol(self) -> float:
        return self.config.regimes.vol(self.regimes.regime)

    def spots(self) -> dict[str, float]:
        return {"SPX": self.spx, "SPY": self.tracking.spy}

    def announce(self, headline: str, now_ns: int, streams: MarketStreams) -> NewsEvent:
        """The organiser publishes a headline: its effect is drawn now, applied next tick."""
        event = self.news.draw(streams.news, now_ns, headline)
        self._announced.append(event)
        return event

    def advance(self, now_ns: int, streams: MarketStreams) -> TickOutcome:
        """Simulate the tick that ends at `now_ns` and return what happened.

        Always one tick of SPX steps: after a gap (the market was closed) the tick covers
        only the last `tick_seconds`, so nothing moves or fires while nothing advances.
        """
        tick_ns = self.config.tick_seconds * NS_PER_SECOND
        start_ns = now_ns - tick_ns if self.last_ns is None else self.last_ns
        start_ns = max(start_ns, now_ns - tick_ns)
        self.last_ns = now_ns
        self.tick += 1
        step = self.regimes.step(streams.regime, now_ns)
        plan = _TickPlan(self.config.steps_per_tick, self.vol, start_ns, now_ns)
        if step.changed:
            plan.changes.append(RegimeChange(now_ns, step.previous, step.regime, "markov"))
        plan.forecasts.extend(step.forecasts)
        events = self._announced + self.news.due(start_ns, now_ns, streams.news)
        events.sort(key=lambda e: e.ts_ns)
        self._announced = []
        for event in events:
            self._apply(event, plan, streams)
        dt_years = self.config.gbm.dt_years
        spx_path = gbm.path(self.spx, plan.sigma, dt_years, streams.spx, jumps=plan.jumps)
        self.spx = float(spx_path[-1])
        tracked = self.tracking.step(spx_path, streams.tracking)
        signal = self.signaller.check(tracked, now_ns, streams.signals)
        return TickOutcome(
            self.tick, now_ns, spx_path, tracked.spy_path, self.regime, self.vol, plan.changes,
            events, plan.forecasts, tracked, signal,
        )  # fmt: skip

    def _apply(self, event: NewsEvent, plan: _TickPlan, streams: MarketStreams) -> None:
        """A news effect from its second of the tick on: a forced regime, or a jump."""
        k = plan.step_of(event.ts_ns)
        if event.kind is NewsKind.REGIME_SHIFT:
            target = shifted(self.regimes.regime, event.regime_direction)
            forced = self.regimes.force(target, streams.regime, event.ts_ns)
            plan.changes.append(RegimeChange(event.ts_ns, forced.previous, target, "news"))
            plan.forecasts.extend(forced.forecasts)
            plan.sigma[k:] = self.vol
        elif event.kind is NewsKind.PRICE_JUMP:
            plan.jumps[k] = (1.0 + plan.jumps[k]) * (1.0 + event.jump) - 1.0


class _TickPlan:
    """One tick being built: per-step vols and jumps, and what to report."""

    def __init__(self, steps: int, vol: float, start_ns: int, end_ns: int) -> None:
        self.sigma: Array = np.full(steps, vol)
        self.jumps: Array = np.zeros(steps)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.changes: list[RegimeChange] = []
        self.forecasts: list[VolatilityForecast] = []

    def step_of(self, ts_ns: int) -> int:
        """The step whose price first shows an event at `ts_ns` (clipped into the tick)."""
        steps = len(self.sigma)
        span = max(1, self.end_ns - self.start_ns)
        return min(steps - 1, max(0, (ts_ns - self.start_ns) * steps // span))


def fair_values(
    instruments: Sequence[Instrument],
    spots: Mapping[str, float],
    regime_vol: float,
    now_ns: int,
    expiry_ns: Callable[[dt.date], int],
) -> dict[InstrumentId, Ticks]:
    """Black-Scholes fair value in ticks of each option, at zero rate and the regime's vol.

    One vectorised pricing call for the whole chain; `expiry_ns` maps an expiry date to
    game time. Raises ValueError for an instrument that is not an option.
    """
    if not instruments:
        return {}
    values = chain_greeks(instruments, spots, regime_vol, now_ns, expiry_ns).value
    return {i.id: round_to_tick(float(v)) for i, v in zip(instruments, values, strict=True)}
