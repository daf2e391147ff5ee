"""A day that starts when the organiser says: the `game` preset waits at today's
pre-open on any weekday, and a closed market says when it next opens (`next_open`) in
`/health`, `/admin/status` and `admin start`."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from exchange.config import ADMIN_TOKEN_ENV, load_config
from exchange.domain.phases import next_open, to_ns
from tests.server.harness import run_server
from tests.support import assert_ok

TOKEN = "organiser-secret-42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
CHICAGO = ZoneInfo("America/Chicago")


def config(preset: str | None = None, **overrides: Any) -> Any:
    layers = {"market": {"enabled": False}, "server": {"admin_token": TOKEN}, **overrides}
    return load_config(preset=preset, overrides=layers)


@pytest.fixture(autouse=True)
def no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)


def cli(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), ADMIN_TOKEN_ENV: TOKEN}
    command = [sys.executable, "-m", "exchange", "admin", "--url", base, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_the_game_preset_waits_at_todays_pre_open_whatever_the_weekday() -> None:
    today = dt.datetime.now(CHICAGO).date()
    with run_server(config("game")) as base:
        before = assert_ok(httpx.get(f"{base}/health"))
        started = cli(base, "start")
        after = assert_ok(httpx.get(f"{base}/health"))
    expected = dt.datetime.combine(today, dt.time(8, 0), CHICAGO).astimezone(dt.UTC)
    assert (before["game_state"], before["phase"]) == ("waiting", "PRE_OPEN")
    waited_at = dt.datetime.fromisoformat(before["game_time"])
    assert expected <= waited_at < expected + dt.timedelta(minutes=1)  # the pre-open's start
    assert before["next_open"] is None  # it is open (pre-open), not closed
    assert started.returncode == 0, started.stderr
    assert (after["game_state"], after["phase"]) == ("running", "PRE_OPEN")


def test_a_closed_market_says_when_it_next_opens() -> None:
    # A Wednesday morning, the default schedule trading on Tuesdays and Thursdays.
    wednesday = {"start": "2026-12-02T10:00:00-06:00", "start_paused": True}
    with run_server(config(clock=wednesday)) as base:
        health = assert_ok(httpx.get(f"{base}/health"))
        status = assert_ok(httpx.get(f"{base}/admin/status", headers=AUTH))
        started = cli(base, "start")
    thursday = "2026-12-03T14:00:00"  # 08:00 in Chicago
    assert health["phase"] == "CLOSED"
    assert health["next_open"].startswith(thursday)
    assert status["next_open"] == health["next_open"]
    assert started.returncode == 0, started.stderr
    assert f"next_open: {health['next_open']}" in started.stdout


def test_next_open_skips_to_the_next_trading_day_and_is_none_while_open() -> None:
    schedule = config().schedule.build()
    friday_close = to_ns(dt.datetime(2026, 12, 4, 16, 0, tzinfo=CHICAGO))
    tuesday_pre_open = to_ns(dt.datetime(2026, 12, 8, 8, 0, tzinfo=CHICAGO))
    during_the_day = to_ns(dt.datetime(2026, 12, 8, 10, 0, tzinfo=CHICAGO))
    assert next_open(schedule, friday_close) == tuesday_pre_open  # type: ignore[arg-type]
    assert next_open(schedule, during_the_day) is None  # type: ignore[arg-type]


def test_starts_on_start_and_a_clock_start_are_refused_together() -> None:
    with pytest.raises(ValueError, match="starts_on_start"):
        config("game", clock={"start": "2026-12-02T08:00:00-06:00"})
