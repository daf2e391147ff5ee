"""Fixtures for server tests: one sandbox server per module, bots, and stream helpers."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.server.harness import Bot, run_server

Message = dict[str, Any]


UNTHROTTLED = {"disabled_constraints": ["order_rate"]}
"""Sandbox overrides without the order rate rule, for modules whose tests send orders
back to back and are not about the rate limit (which counts in real time)."""


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


def assert_ok(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope with the given status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    assert body["error"] is None
    _assert_envelope(body)
    return body["data"]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The `error` of an error envelope with the given status and code (SPEC section 8)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False, body
    assert body["data"] is None
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    _assert_envelope(body)
    return error  # type: ignore[no-any-return]


def _assert_envelope(body: dict[str, Any]) -> None:
    assert isinstance(body["request_id"], str) and body["request_id"]
    stamp = body["timestamp"]
    assert stamp.endswith("Z")
    assert dt.datetime.fromisoformat(stamp).tzinfo is not None


def stream(bot: Bot, since: int | None = None) -> ClientConnection:
    """An open WebSocket for the bot's team (use it in a `with` block)."""
    url = bot.ws_url if since is None else f"{bot.ws_url}?since={since}"
    return connect(url, additional_headers={"X-API-Key": bot.key}, open_timeout=5)


def recv_until(
    ws: ClientConnection, predicate: Callable[[Message], bool], timeout: float = 5.0
) -> list[Message]:
    """Read messages until one satisfies `predicate`; return all seen, that one last.

    Fails the test if none arrives within `timeout` seconds (a bound, not a timing claim).
    """
    seen: list[Message] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            types = [m.get("type") for m in seen]
            pytest.fail(f"no matching message within {timeout}s; saw {types}")
        try:
            raw = ws.recv(timeout=left)
        except TimeoutError:
            continue
        message = json.loads(raw)
        seen.append(message)
        if predicate(message):
            return seen


def messages_of_type(messages: list[Message], kind: str) -> list[Message]:
    return [m for m in messages if m["type"] == kind]


def is_type(kind: str, **data: Any) -> Callable[[Message], bool]:
    """A predicate: a message of `kind` whose data has every given key and value."""

    def match(message: Message) -> bool:
        if message["type"] != kind:
            return False
        return all(message["data"].get(k) == v for k, v in data.items())

    return match


def trade_prints(messages: list[Message]) -> list[dict[str, Any]]:
    """Every public print in the `trade` messages seen, oldest first (a `trade` message
    carries all the prints of one market data interval)."""
    return [p for m in messages if m["type"] == "trade" for p in m["data"]["trades"]]


def has_print(**data: Any) -> Callable[[Message], bool]:
    """A predicate: a `trade` message holding a print with every given key and value."""

    def match(message: Message) -> bool:
        return message["type"] == "trade" and any(
            all(p.get(k) == v for k, v in data.items()) for p in message["data"]["trades"]
        )

    return match


def wait_for(probe: Callable[[], Any], timeout: float = 5.0, every: float = 0.02) -> Any:
    """Poll `probe` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {probe}")
        time.sleep(every)
