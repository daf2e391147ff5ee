"""`GET /health` tells the truth about the server's tasks: `degraded`, naming the task,
while one is crash-looping; and a test server fails its test when a task crashed."""

from __future__ import annotations

import time

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


def test_health_counts_a_stall_of_the_event_loop_and_the_log_names_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever runs without an await holds every answer behind it: a quarter of a
    second of it shows in `loop` (a stall, the worst lag), in `/metrics` and in the log."""
    with serve() as served:
        wait_for(lambda: len(served.exchange.loop_lag.recent) >= 5)
        before = health(served.base)["loop"]
        assert isinstance(before, dict) and before["stalls"] == 0
        with caplog.at_level("WARNING", logger="exchange.loop"):
            served.on_loop(lambda: time.sleep(0.25))
            after = wait_for(lambda: stalled(health(served.base)))
        assert after["stalls"] == 1
        assert 200 <= after["worst_ms"] < 5000 and after["lag_max_ms"] == after["worst_ms"]
        assert after["lag_p50_ms"] < 50  # one late wake-up among many on time
        held = [r for r in caplog.records if r.getMessage() == "event loop held"]
        assert len(held) == 1 and held[0].held_ms >= 200  # type: ignore[attr-defined]
        metrics = httpx.get(f"{served.base}/metrics").text
        assert 'exchange_loop_lag_seconds_bucket{le="0.1"}' in metrics
        assert stalled_in(metrics) == 1


def stalled(data: dict[str, object]) -> dict[str, float] | None:
    loop = data["loop"]
    assert isinstance(loop, dict)
    return loop if loop["stalls"] else None


def stalled_in(metrics: str) -> float:
    """Wake-ups later than 0.1 s, from the histogram's buckets."""
    count = bucket = 0.0
    for line in metrics.splitlines():
        if line.startswith("exchange_loop_lag_seconds_count"):
            count = float(line.split()[-1])
        elif line.startswith('exchange_loop_lag_seconds_bucket{le="0.1"}'):
            bucket = float(line.split()[-1])
    return count - bucket
