"""Fixtures for server tests: one sandbox server per module, its options, bots. The
helpers are in tests/support.py and tests/server/harness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.server.harness import Bot, run_server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The base URL of a sandbox exchange shared by one module's tests.

    A module may override this fixture with its own config (e.g. `sandbox(**UNTHROTTLED)`).
    """
    with run_server() as base:
        yield base


@pytest.fixture(scope="module")
def options(server: str) -> list[str]:
    """The ids of the listed options, as GET /instruments gives them."""
    with httpx.Client(base_url=server, timeout=10) as client:
        listed = client.get("/instruments").json()["data"]
    return [i["instrument_id"] for i in listed if i["kind"] != "UNDERLYING"]


@pytest.fixture(scope="module")
def _unused(options: list[str]) -> Iterator[str]:
    return iter(options)


@pytest.fixture
def fresh_option(_unused: Iterator[str]) -> Callable[[], str]:
    """Hands out listed options no earlier test in the module has touched, so a book
    holds only the current test's orders."""
    return lambda: next(_unused)


@pytest.fixture
def bots(server: str) -> Iterator[Callable[[str], Bot]]:
    """A factory of freshly registered teams on the module's server, closed afterwards."""
    made: list[Bot] = []

    def make(role: str = "market_maker") -> Bot:
        bot = Bot(server, role)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.http.delete("/orders")  # leave the shared books empty for the next test
        bot.close()
