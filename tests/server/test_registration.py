"""Registration: a game's team cap, and registration the organiser closes and opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.config import ADMIN_TOKEN_ENV, GameConfig
from tests.server.harness import Bot, run_server, sandbox
from tests.support import assert_error, assert_ok

TOKEN = "organiser-secret-42"


def test_registration_past_the_team_cap_is_refused_and_changes_nothing() -> None:
    with run_server(sandbox(server={"max_teams": 3})) as base:
        bots = [Bot(base) for _ in range(3)]
        try:
            body = {"team_name": "one-too-many", "role": "hedge_fund"}
            error = assert_error(bots[0].http.post("/auth/register", json=body), 409,
                                 "TEAM_LIMIT_REACHED")  # fmt: skip
            health = assert_ok(bots[0].http.get("/health"))
            # A team that made it plays on.
            assert_ok(bots[1].order("SPX", "buy", 1, 99.0), 201)
        finally:
            for bot in bots:
                bot.close()
    assert error["details"] == {"max_teams": 3}
    assert health["teams"] == 3


@pytest.fixture
def closed_game() -> Iterator[str]:
    """A game configured with registration closed, its admin token from the config."""
    config: GameConfig = sandbox(server={"registration_open": False, "admin_token": TOKEN})
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config) as base:
            yield base


def test_the_organiser_opens_and_closes_registration(closed_game: str) -> None:
    admin = httpx.Client(base_url=closed_game, timeout=10)
    admin.headers["Authorization"] = f"Bearer {TOKEN}"
    body: dict[str, Any] = {"team_name": "early", "role": "hedge_fund"}
    try:
        assert_error(admin.post("/auth/register", json=body), 403, "REGISTRATION_CLOSED")
        assert assert_ok(admin.get("/admin/status"))["registration_open"] is False
        opened = assert_ok(admin.post("/admin/registration/open"))
        bot = Bot(closed_game)
        closed = assert_ok(admin.post("/admin/registration/close"))
        late = {"team_name": "late", "role": "hedge_fund"}
        assert_error(admin.post("/auth/register", json=late), 403, "REGISTRATION_CLOSED")
        again = admin.post("/admin/registration/close")
        assert_ok(bot.order("SPX", "buy", 1, 99.0), 201)  # registered teams play on
        actions = [a["action"] for a in assert_ok(admin.get("/admin/actions"))]
        bot.close()
    finally:
        admin.close()
    assert (opened["registration_open"], opened["teams"]) == (True, 0)
    assert (closed["registration_open"], closed["teams"], closed["max_teams"]) == (False, 1, 1000)
    assert_error(again, 409, "GAME_STATE_CONFLICT")
    assert actions[-3:] == ["open_registration", "close_registration", "close_registration"]


def test_a_restart_keeps_registration_closed(tmp_path: Path) -> None:
    config = sandbox(server={"admin_token": TOKEN})
    db_path = tmp_path / "game.db"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"team_name": "after-restart", "role": "hedge_fund"}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config, db_path) as base:
            assert_ok(httpx.post(f"{base}/admin/registration/close", headers=auth))
        with run_server(config, db_path) as base:
            refused = httpx.post(f"{base}/auth/register", json=body)
            status = assert_ok(httpx.get(f"{base}/admin/status", headers=auth))
    assert_error(refused, 403, "REGISTRATION_CLOSED")
    assert status["registration_open"] is False
