"""A demo server for the example bots: the full simulated market, sped up so that news,
volatility forecasts and tracking-error signals arrive within seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exchange.config import GameConfig, load_config
from tests.server.harness import run_server

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


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """The base URL of a fast demo server shared by one module's tests."""
    with run_server(fast_demo()) as base:
        yield base
