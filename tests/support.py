"""The helpers the tests share: the contract's envelope checked, a stream read until a
message comes, a condition polled (each bounded in time: a bound, never a timing claim).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

Message = dict[str, Any]


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


def receive(ws: ClientConnection, seconds: float) -> list[Message]:
    """Every message that arrives within `seconds` (a bounded look, not a timing claim)."""
    seen: list[Message] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return seen


# -- tournaments ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
TEAMS = """\
teams:
  - {name: Alpha, role: market_maker, strategy: "bots.market_maker:MarketMaker(levels=2)"}
  - {name: Beta, role: market_maker, strategy: "bots.market_maker:MarketMaker(width=0.03)"}
  - {name: Gamma, role: hedge_fund, strategy: "bots.hedge_fund:HedgeFund"}
"""


def tournament_file(where: Path, fmt: str, teams: str = TEAMS, extra: str = "") -> Path:
    """3 teams, 4 seeded days of 5 minutes of continuous trading."""
    path = where / f"{fmt}.yaml"
    path.write_text(
        f"name: small-{fmt}\n"
        f"scenario: {ROOT / 'scenarios' / 'all-roles.yaml'}\n"
        'start: "2026-12-01T09:30:00-06:00"\n'
        "duration: 5m\n"
        "seeds: 4\n"
        f"format: {fmt}\n"
        "group_size: 2\n" + extra + teams
    )
    return path
