"""Hand-built markets for the example strategies: a listed chain priced by the domain's
Black-Scholes, with a two-sided book around every fair value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from exchange.config import GameConfig, load_config
from exchange.domain.instruments import ChainSpec, Instrument, build_chain
from exchange.domain.phases import to_ns
from exchange.domain.positions import Fill
from exchange.domain.pricing import chain_greeks
from exchange.domain.strategy import MarketSignal, MarketSnapshot, Pricing, Top
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    Phase,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)

CHICAGO = ZoneInfo("America/Chicago")
TODAY = dt.date(2026, 12, 1)
NOW = TimeNs(to_ns(dt.datetime.combine(TODAY, dt.time(10, 0), CHICAGO)))
CHAIN: list[Instrument] = build_chain(ChainSpec(), TODAY)
BY_ID = {i.id: i for i in CHAIN}
SPX, SPY = InstrumentId("SPX"), InstrumentId("SPY")
TEAM = TeamId("T0001")
SIGMA = 0.2


def expiry_ns(day: dt.date) -> int:
    return to_ns(dt.datetime.combine(day, dt.time(15, 0), CHICAGO))


def pricing(spots: Mapping[str, float], now: int = NOW) -> Pricing:
    """Fair values and deltas of every listed option at `spots`."""
    options = [i for i in CHAIN if i.is_option]
    greeks = chain_greeks(options, spots, SIGMA, now, expiry_ns)
    fair = {o.id: round_to_tick(float(v)) for o, v in zip(options, greeks.value, strict=True)}
    fair.update({InstrumentId(u): round_to_tick(p) for u, p in spots.items()})
    delta = {o.id: float(d) for o, d in zip(options, greeks.delta, strict=True)}
    return Pricing(fair, delta, dict(spots))


def market(
    spx: float = 4400.0,
    spy: float = 440.0,
    now: int = NOW,
    phase: Phase = Phase.CONTINUOUS,
    half_spread_pct: float = 2.0,
) -> MarketSnapshot:
    """A snapshot with a book around fair value in every instrument (at least 1 tick)."""
    p = pricing({"SPX": spx, "SPY": spy}, now)
    tops = {}
    for instrument_id, fair in p.fair.items():
        half = max(1, round(fair * half_spread_pct / 100))
        bid = Ticks(fair - half) if fair - half >= 1 else None
        tops[instrument_id] = Top(bid, 10 if bid else 0, Ticks(fair + half), 10, None)
    return MarketSnapshot(TimeNs(now), phase, tops, p.fair, p.delta, p.spots)


def fill(instrument: str, side: Side, quantity: int, position_after: int, price: int = 1) -> Fill:
    return Fill(
        TradeId(1), TEAM, OrderId(1), InstrumentId(instrument), side, Ticks(price), quantity,
        Liquidity.MAKER, 0, position_after, NOW,
    )  # fmt: skip


def forecast(current: str, predicted: str) -> MarketSignal:
    details: dict[str, object] = {
        "current_regime": current, "predicted_regime": predicted,
        "transition_probabilities": {"low": 0.3, "medium": 0.4, "high": 0.3},
    }  # fmt: skip
    return MarketSignal(NOW, "volatility_forecast", details)


def tracking(error_pct: float, spx: float = 4400.0, spy: float = 440.0) -> MarketSignal:
    details: dict[str, object] = {
        "spx": spx, "spy": spy, "theoretical_spy": spx / 10, "error_pct": error_pct,
        "direction": "down" if error_pct > 0 else "up", "z_score": error_pct / 0.158,
    }  # fmt: skip
    return MarketSignal(NOW, "tracking_error", details)


ADMIN_TOKEN = "bots-test-organiser"

FAST_DEMO: dict[str, Any] = {
    "server": {"admin_token": ADMIN_TOKEN},
    # Already in continuous trading: no phase change to wait for.
    "clock": {"start": "2026-12-01T08:10:00-06:00", "speed": 300},
    "market": {
        "fair_value_refresh": 0.2,
        "model": {
            "news": {"mean_interval_seconds": 600, "jump_range": [0.0005, 0.001]},
            "tracking": {"signal_threshold_pct": 0.01},
            "regimes": {
                "vols": [0.15, 0.20, 0.25],
                "transitions": [[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]],
            },
        },
    },
}
"""The demo at 300x (a 5-minute tick a second; the day lasts about three minutes), with
an organiser's token (a test may publish a headline by hand), and:
- news about every two seconds, its price jumps 0.05-0.1% rather than 0.5-2%;
- a regime change most ticks (so volatility forecasts come often), between volatilities
  close enough that the house's option quotes, renewed every 2 s, stay inside the price
  band around the new fair values;
- a tracking-error signal at nearly every crossing of 0.01%;
- fair values resent at most every 0.2 s (as fresh, in game time, as at 60x).
Big jumps and far-apart regimes would leave the house's quotes outside the band for a
while, and the bots' orders at the touch refused for it."""


def fast_demo() -> GameConfig:
    return load_config(preset="demo", overrides=FAST_DEMO)
