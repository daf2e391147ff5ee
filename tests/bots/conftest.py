"""A demo server for the example bots: the full simulated market, sped up so that news,
volatility forecasts and tracking-error signals arrive within seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bots.support import fast_demo
from tests.server.harness import run_server


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """The base URL of a fast demo server shared by one module's tests."""
    with run_server(fast_demo()) as base:
        yield base
