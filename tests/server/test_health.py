"""`GET /health` tells the truth about the server's tasks: `degraded`, naming the task,
while one is crash-looping; and a test server fails its test when a task crashed."""

from __future__ import annotations

import httpx
import pytest

from tests.server.harness import Bot, Served, serve
from tests.support import assert_ok, wait_for


async def _always_fails() -> None:
    raise RuntimeError("made to crash by the test")


def crash_loop(served: Served, name: str = "made_to_crash") -> None:
    """Start, under the server's own supervisor, a task that raises every time it runs."""
    supervisor = served.exchange.supervisor
    served.on_loop(lambda: supervisor.start(name, _always_fails))
    wait_for(lambda: supervisor.restarts.get(name, 0) >= 2)


def health(base: str) -> dict[str, object]:
    return assert_ok(httpx.get(f"{base}/health"))  # type: ignore[no-any-return]


def test_health_is_ok_and_names_nothing_when_every_task_runs() -> None:
    with serve() as served:
        data = health(served.base)
        assert data["status"] == "ok"
        assert data["failing"] == []
        assert data["restarts"] == {}


def test_health_is_degraded_naming_a_crash_looping_task_until_it_is_gone() -> None:
    with serve(allow_crashes=True) as served:
        crash_loop(served)
        data = health(served.base)
        assert data["status"] == "degraded"
        assert data["failing"] == ["made_to_crash"]
        restarts = data["restarts"]
        assert isinstance(restarts, dict) and restarts["made_to_crash"] >= 2
        supervisor = served.exchange.supervisor
        served.on_loop(lambda: supervisor.stop_one("made_to_crash"))
        data = health(served.base)
        assert data["status"] == "ok", data
        assert data["failing"] == []


def test_a_test_server_fails_its_test_when_a_task_crashed() -> None:
    with pytest.raises(pytest.fail.Exception, match="made_to_crash"), serve() as served:
        crash_loop(served)


def broken_tap(_: object) -> None:
    raise RuntimeError("a tap made to fail")


def test_an_exception_a_task_catches_fails_the_test_too() -> None:
    """The publisher catches what a tap raises and carries on: still a bug, and caught."""
    with pytest.raises(pytest.fail.Exception, match="a tap made to fail"), serve() as served:
        served.exchange.release.taps.append(broken_tap)
        Bot(served.base, "hedge_fund").close()  # its registration is released
