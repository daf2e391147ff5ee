"""The organiser's controls (SPEC section 8, `/admin`): a token guards them, and each does
what it says, seen the way bots and the organiser see it (HTTP, WebSocket, /health, the
database file afterwards, and `python -m exchange admin`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from exchange.config import ADMIN_TOKEN_ENV, GameConfig, load_config
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox, stream
from tests.support import assert_error, assert_ok, is_type, recv_until, wait_for

TOKEN = "organiser-secret-42"
ROOT = Path(__file__).resolve().parents[2]

GAME_ACTIONS = ["/admin/start", "/admin/pause", "/admin/resume", "/admin/stop"]
EVERY_ENDPOINT = [
    ("GET", "/admin/status", None),
    *(("POST", path, None) for path in GAME_ACTIONS),
    ("POST", "/admin/clock", {"speed": 2}),
    ("POST", "/admin/news", {"headline": "Strong jobs report"}),
    ("POST", "/admin/instruments/SPX/halt", None),
    ("POST", "/admin/instruments/SPX/resume", None),
    ("GET", "/admin/teams", None),
    ("POST", "/admin/teams/T0001/disable", None),
    ("POST", "/admin/teams/T0001/enable", None),
    ("POST", "/admin/registration/open", None),
    ("POST", "/admin/registration/close", None),
    ("GET", "/admin/actions", None),
]


@contextlib.contextmanager
def game(config: GameConfig, db_path: Path | None = None) -> Iterator[str]:
    """A server whose admin token comes from its config, whatever the shell exports."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config, db_path) as base:
            yield base


def with_token(**overrides: Any) -> GameConfig:
    server = {"admin_token": TOKEN, **overrides.pop("server", {})}
    return sandbox(**UNTHROTTLED, server=server, **overrides)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with game(with_token()) as base:
        yield base


@pytest.fixture
def admin(server: str) -> Iterator[httpx.Client]:
    with organiser(server) as client:
        yield client


@contextlib.contextmanager
def organiser(base: str, token: str = TOKEN) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
        yield client


@contextlib.contextmanager
def registered(base: str, *roles: str) -> Iterator[list[Bot]]:
    """Teams for a test's own server, closed whatever happens."""
    made = [Bot(base, role) for role in roles]
    try:
        yield made
    finally:
        for bot in made:
            bot.close()


def health(base: str) -> dict[str, Any]:
    return assert_ok(httpx.get(f"{base}/health"))  # type: ignore[no-any-return]


def open_orders(bot: Bot) -> list[dict[str, Any]]:
    return assert_ok(bot.http.get("/orders"))  # type: ignore[no-any-return]


# -- the token -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ENDPOINT)
def test_every_endpoint_wants_the_token(server: str, method: str, path: str, body: Any) -> None:
    before = health(server)
    with httpx.Client(base_url=server, timeout=10) as anyone:
        assert_error(anyone.request(method, path, json=body), 401, "UNAUTHORIZED")
        wrong = {"Authorization": "Bearer not-the-token"}
        assert_error(anyone.request(method, path, json=body, headers=wrong), 403, "FORBIDDEN")
        wrong = {"X-Admin-Token": TOKEN + "x"}
        assert_error(anyone.request(method, path, json=body, headers=wrong), 403, "FORBIDDEN")
        basic = {"Authorization": f"Basic {TOKEN}"}  # not a bearer token: none given
        assert_error(anyone.request(method, path, json=body, headers=basic), 401, "UNAUTHORIZED")
    after = health(server)
    assert (after["game_state"], after["clock_speed"], after["halted"]) == (
        before["game_state"], before["clock_speed"], before["halted"],
    )  # fmt: skip


def test_the_token_may_come_as_x_admin_token(server: str) -> None:
    reply = httpx.get(f"{server}/admin/status", headers={"X-Admin-Token": TOKEN})
    assert assert_ok(reply)["state"] == "running"


def test_without_a_configured_token_admin_is_disabled() -> None:
    with game(sandbox()) as base, organiser(base) as client:
        error = assert_error(client.post("/admin/pause"), 403, "ADMIN_DISABLED")
        assert ADMIN_TOKEN_ENV in error["message"]
        assert health(base)["game_state"] == "running"


def test_the_environment_token_wins_over_the_config() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ADMIN_TOKEN_ENV, "from-the-environment")
        with run_server(with_token()) as base:
            with organiser(base, "from-the-environment") as client:
                assert assert_ok(client.get("/admin/status"))["state"] == "running"
            with organiser(base) as client:
                assert_error(client.get("/admin/status"), 403, "FORBIDDEN")


# -- the game clock ------------------------------------------------------------------------


def test_pause_freezes_the_game_and_resume_moves_it(
    server: str, admin: httpx.Client, bots: Any
) -> None:
    bot = bots("hedge_fund")
    resting = assert_ok(bot.order("SPX", "buy", 1, 100.0), 201)["order_id"]
    paused = assert_ok(admin.post("/admin/pause"))
    assert (paused["state"], paused["paused"]) == ("paused", True)
    first = health(server)
    assert (first["game_state"], first["paused"], first["stopped"]) == ("paused", True, False)
    time.sleep(0.05)
    assert health(server)["game_time"] == first["game_time"]  # frozen, not merely slow
    error = assert_error(bot.order("SPY", "buy", 1, 10.0), 422, "GAME_PAUSED")
    assert "cancel" in error["message"]
    assert_ok(bot.http.delete(f"/orders/{resting}"))  # cancels still work
    assert_error(admin.post("/admin/pause"), 409, "GAME_STATE_CONFLICT")
    assert assert_ok(admin.post("/admin/resume"))["state"] == "running"
    wait_for(lambda: health(server)["game_time"] > first["game_time"])
    assert_ok(bot.order("SPY", "buy", 1, 10.0), 201)
    assert_error(admin.post("/admin/resume"), 409, "GAME_STATE_CONFLICT")
    assert_error(admin.post("/admin/start"), 409, "GAME_STATE_CONFLICT")


def test_clock_speed_changes_the_rate(server: str, admin: httpx.Client) -> None:
    start = health(server)["game_time"]
    try:
        assert (
            assert_ok(admin.post("/admin/clock", json={"speed": 10_000}))["clock_speed"] == 10_000
        )
        assert health(server)["clock_speed"] == 10_000
        # An hour of game time passes within seconds (at speed 1 it would take an hour).
        wait_for(lambda: _seconds(health(server)["game_time"]) - _seconds(start) > 3600)
    finally:
        assert assert_ok(admin.post("/admin/clock", json={"speed": 1}))["clock_speed"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [({"speed": 0}, "INVALID_FIELD"), ({"speed": -1}, "INVALID_FIELD"),
     ({"speed": 0.01}, "INVALID_FIELD"), ({"speed": 20_000}, "INVALID_FIELD"),
     ({"speed": "x"}, "INVALID_FIELD"), ({}, "INVALID_FIELD"),
     ({"speed": 2, "extra": 1}, "INVALID_FIELD"), ([2], "INVALID_JSON")],
)  # fmt: skip
def test_a_bad_clock_speed_is_refused_and_changes_nothing(
    server: str, admin: httpx.Client, body: Any, code: str
) -> None:
    assert_error(admin.post("/admin/clock", json=body), 400, code)
    assert health(server)["clock_speed"] == 1


def test_a_speed_change_wakes_the_sleeping_scheduler() -> None:
    """An hour before the pre-open at speed 1, then sped up: the phase change comes."""
    config = with_token(
        schedule={"always_open": False, "trading_days": ["tuesday"]},
        clock={"start": "2026-12-01T07:00:00-06:00", "speed": 1},
    )
    with game(config) as base, organiser(base) as client:
        assert health(base)["phase"] == "CLOSED"
        assert_ok(client.post("/admin/clock", json={"speed": 5000}))
        wait_for(lambda: health(base)["phase"] == "PRE_OPEN", timeout=10)


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp).timestamp()


# -- news ----------------------------------------------------------------------------------


def test_news_reaches_every_bot_as_an_event(server: str, admin: httpx.Client, bots: Any) -> None:
    one, two = bots("hedge_fund"), bots("arbitrage")
    with stream(one) as ws_one, stream(two) as ws_two:
        published = assert_ok(admin.post("/admin/news", json={"headline": " Fed cuts rates "}))
        assert published["headline"] == "Fed cuts rates"
        for ws in (ws_one, ws_two):
            [*_, event] = recv_until(ws, is_type("event", headline="Fed cuts rates"))
            assert event["data"]["game_time"] == published["game_time"]
            assert set(event["data"]) == {"headline", "game_time"}  # never the effect


@pytest.mark.parametrize(
    "body", [{"headline": ""}, {"headline": "   "}, {"headline": "x" * 201},
             {"headline": "two\nlines"}, {"headline": 5}, {}, {"headline": "a", "kind": "x"}],
)  # fmt: skip
def test_a_bad_headline_is_refused(admin: httpx.Client, body: Any) -> None:
    assert_error(admin.post("/admin/news", json=body), 400, "INVALID_FIELD")


def test_news_with_a_market_is_sent_once_and_stored(tmp_path: Path) -> None:
    """With the simulated market, the headline goes out at once; the tick that applies
    its effect does not send it again. It is stored like drawn news."""
    db = tmp_path / "game.db"
    config = load_config(preset="demo", overrides={
        "server": {"admin_token": TOKEN}, "clock": {"speed": 600},
        "market": {"model": {"news": {"enabled": False}}},
    })  # fmt: skip
    headline = {"headline": "Strong jobs report"}
    with (
        game(config, db) as base,
        organiser(base) as client,
        registered(base, "hedge_fund") as [bot],
        stream(bot) as ws,
    ):
        published = assert_ok(client.post("/admin/news", json=headline))
        recv_until(ws, is_type("event", **headline))
        # Two more ticks (10 game minutes, a second at this speed): no second copy.
        later = _seconds(published["game_time"]) + 600

        def past(message: dict[str, Any]) -> bool:
            return (
                message["type"] == "heartbeat" and _seconds(message["data"]["game_time"]) > later
            )

        seen = recv_until(ws, past, timeout=15)
        assert not [m for m in seen if m["type"] == "event"]
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT headline, kind FROM events").fetchall()
    assert [h for h, _ in stored] == ["Strong jobs report"]
    assert stored[0][1] in {"regime_shift", "price_jump", "none"}


# -- one instrument ------------------------------------------------------------------------


def test_halt_refuses_orders_in_that_book_only_and_resume_re_allows(
    server: str, admin: httpx.Client, bots: Any
) -> None:
    bot = bots("hedge_fund")
    resting = assert_ok(bot.order("SPX", "buy", 1, 100.0), 201)["order_id"]
    halted = assert_ok(admin.post("/admin/instruments/SPX/halt"))
    assert (halted["instrument_id"], halted["halted"]) == ("SPX", True)
    assert health(server)["halted"] == ["SPX"]
    assert_error(bot.order("SPX", "sell", 1, 200.0), 422, "INSTRUMENT_HALTED")
    assert [o["order_id"] for o in open_orders(bot)] == [resting]  # what rests, stays
    assert_ok(bot.order("SPY", "buy", 1, 10.0), 201)
    assert_ok(bot.http.delete(f"/orders/{resting}"))
    assert_error(admin.post("/admin/instruments/SPX/halt"), 409, "GAME_STATE_CONFLICT")
    assert assert_ok(admin.post("/admin/instruments/SPX/resume"))["halted"] is False
    assert health(server)["halted"] == []
    assert_ok(bot.order("SPX", "buy", 1, 100.0), 201)
    assert_error(admin.post("/admin/instruments/SPX/resume"), 409, "GAME_STATE_CONFLICT")


@pytest.mark.parametrize("action", ["halt", "resume"])
def test_halting_an_unknown_instrument_is_not_found(admin: httpx.Client, action: str) -> None:
    for name in ("NOPE", "SPX_CALL_1_20991231", "x" * 300):
        assert_error(admin.post(f"/admin/instruments/{name}/{action}"), 404, "INVALID_INSTRUMENT")


# -- teams ---------------------------------------------------------------------------------


def test_teams_lists_every_team_with_its_standing(admin: httpx.Client, bots: Any) -> None:
    bot = bots("market_maker")
    assert_ok(bot.order("SPX", "buy", 2, 100.0), 201)
    with stream(bot):
        wait_for(lambda: _team(admin, bot.team_id)["connections"] == 1)
    line = _team(admin, bot.team_id)
    assert line["role"] == "market_maker" and line["disabled"] is False
    assert (line["open_orders"], line["positions"], line["cash"]) == (1, 0, 0.0)
    assert set(line) == {"team_id", "name", "role", "disabled", "connections", "open_orders",
                         "positions", "cash", "total_pnl"}  # fmt: skip


def _team(admin: httpx.Client, team_id: str) -> dict[str, Any]:
    teams = assert_ok(admin.get("/admin/teams"))
    return next(t for t in teams if t["team_id"] == team_id)


def test_disable_refuses_the_team_cuts_its_stream_and_cancels_its_orders(
    admin: httpx.Client, bots: Any
) -> None:
    bad, good = bots("hedge_fund"), bots("hedge_fund")
    first = assert_ok(bad.order("SPX", "buy", 1, 100.0), 201)["order_id"]
    second = assert_ok(bad.order("SPY", "sell", 2, 50.0), 201)["order_id"]
    kept = assert_ok(good.order("SPX", "buy", 1, 99.0), 201)["order_id"]
    with stream(bad) as ws:
        last_seq = recv_until(ws, is_type("connection_status"))[-1]["seq"]
        changed = assert_ok(admin.post(f"/admin/teams/{bad.team_id}/disable"))
        assert changed == {"team_id": bad.team_id, "disabled": True, "cancelled_orders": 2}
        with pytest.raises(ConnectionClosed) as closed:
            recv_until(ws, lambda m: False)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
    for reply in (bad.http.get("/orders"), bad.order("SPX", "buy", 1, 100.0),
                  bad.http.get(f"/positions/{bad.team_id}")):  # fmt: skip
        assert_error(reply, 403, "TEAM_DISABLED")
    with stream(bad) as ws, pytest.raises(ConnectionClosed) as refused:
        ws.recv(timeout=5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4003
    assert [o["order_id"] for o in open_orders(good)] == [kept]
    assert _team(admin, bad.team_id)["disabled"] is True
    assert_error(admin.post(f"/admin/teams/{bad.team_id}/disable"), 409, "GAME_STATE_CONFLICT")

    assert assert_ok(admin.post(f"/admin/teams/{bad.team_id}/enable"))["disabled"] is False
    assert open_orders(bad) == []
    with stream(bad, since=last_seq) as ws:  # the cancels wait in the team's stream
        seen = recv_until(ws, is_type("order_cancelled", order_id=second))
    reasons = {m["data"]["order_id"]: m["data"]["reason"] for m in seen
               if m["type"] == "order_cancelled"}  # fmt: skip
    assert reasons == {first: "team_disabled", second: "team_disabled"}
    assert_ok(bad.order("SPX", "buy", 1, 100.0), 201)
    assert_error(admin.post(f"/admin/teams/{bad.team_id}/enable"), 409, "GAME_STATE_CONFLICT")


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_an_unknown_team_is_not_found(admin: httpx.Client, action: str) -> None:
    assert_error(admin.post(f"/admin/teams/T9999/{action}"), 404, "NOT_FOUND")


# -- the record ----------------------------------------------------------------------------


def test_actions_are_recorded_with_their_outcome(admin: httpx.Client) -> None:
    assert_ok(admin.post("/admin/news", json={"headline": "Markets quiet ahead of holiday"}))
    assert_error(admin.post("/admin/resume"), 409, "GAME_STATE_CONFLICT")
    *_, news, resume = assert_ok(admin.get("/admin/actions"))
    assert (news["action"], news["arguments"], news["outcome"]) == (
        "news", {"headline": "Markets quiet ahead of holiday"}, "ok",
    )  # fmt: skip
    assert (resume["action"], resume["outcome"]) == ("resume", "GAME_STATE_CONFLICT")
    assert resume["wall_time"].endswith("Z") and resume["game_time"].endswith("Z")
    assert len(assert_ok(admin.get("/admin/actions", params={"limit": 1}))) == 1
    for limit in ("0", "1001", "x"):
        assert_error(admin.get("/admin/actions", params={"limit": limit}), 400, "INVALID_FIELD")


def test_a_game_action_takes_no_arguments(server: str, admin: httpx.Client) -> None:
    assert_error(admin.post("/admin/pause", json={"now": True}), 400, "INVALID_FIELD")
    assert_error(admin.post("/admin/pause", content=b"[1"), 400, "INVALID_JSON")
    assert health(server)["game_state"] == "running"


# -- a game that waits, a game that ends ---------------------------------------------------


def test_a_game_configured_to_start_paused_waits_for_start() -> None:
    config = with_token(clock={"start_paused": True})
    with game(config) as base, organiser(base) as client, registered(base, "hedge_fund") as [bot]:
        waiting = health(base)
        assert (waiting["game_state"], waiting["paused"]) == ("waiting", True)
        assert_error(bot.order("SPX", "buy", 1, 100.0), 422, "GAME_NOT_STARTED")
        assert_error(client.post("/admin/resume"), 409, "GAME_STATE_CONFLICT")
        time.sleep(0.05)
        assert health(base)["game_time"] == waiting["game_time"]
        assert assert_ok(client.post("/admin/start"))["state"] == "running"
        assert_ok(bot.order("SPX", "buy", 1, 100.0), 201)
        assert_error(client.post("/admin/start"), 409, "GAME_STATE_CONFLICT")


def test_stop_ends_the_game_for_good(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    with (
        game(with_token(), db) as base,
        organiser(base) as client,
        registered(base, "hedge_fund", "market_maker") as [one, two],
    ):
        mine = assert_ok(one.order("SPX", "buy", 3, 100.0), 201)["order_id"]
        assert_ok(two.quote("SPY", 10.0, 10.05, 20), 201)
        with stream(one) as ws:
            stopped = assert_ok(client.post("/admin/stop"))
            assert (stopped["state"], stopped["stopped"], stopped["phase"]) == (
                "stopped", True, "CLOSED",
            )  # fmt: skip
            # The phase change is announced at once, the cancel once it is durable (as at
            # the close): read until both have come, in whichever order.
            seen = recv_until(ws, is_type("order_cancelled", order_id=mine))
            if not any(m["type"] == "phase_change" for m in seen):
                seen += recv_until(ws, is_type("phase_change", phase="CLOSED"))
        cancelled = [m["data"] for m in seen if m["type"] == "order_cancelled"]
        assert [(c["order_id"], c["reason"]) for c in cancelled] == [(mine, "game_stopped")]
        assert open_orders(one) == open_orders(two) == []
        assert_error(one.order("SPX", "buy", 1, 100.0), 422, "GAME_STOPPED")
        assert_error(two.quote("SPY", 10.0, 10.05, 20), 422, "GAME_STOPPED")
        assert assert_ok(one.http.get("/market/prices"))["phase"] == "CLOSED"  # reads work
        assert one.positions()["team_id"] == one.team_id
        after = health(base)
        assert (after["game_state"], after["stopped"], after["status"]) == ("stopped", True, "ok")
        for path in GAME_ACTIONS:
            assert_error(client.post(path), 409, "GAME_STATE_CONFLICT")
        assert_error(client.post("/admin/news", json={"headline": "late"}), 409,
                     "GAME_STATE_CONFLICT")  # fmt: skip

    with sqlite3.connect(db) as conn:
        reasons = conn.execute("SELECT DISTINCT cancel_reason FROM orders").fetchall()
        actions = conn.execute("SELECT action, outcome, arguments FROM admin_actions").fetchall()
    assert reasons == [("game_stopped",)]
    assert actions[0] == ("stop", "ok", "{}")
    assert [a for a, _, _ in actions] == ["stop", "start", "pause", "resume", "stop", "news"]
    assert {o for _, o, _ in actions[1:]} == {"GAME_STATE_CONFLICT"}

    with game(with_token(), db) as base, registered(base, "hedge_fund") as [late]:
        assert health(base)["game_state"] == "stopped"  # a restart: still over
        assert_error(late.order("SPX", "buy", 1, 100.0), 422, "GAME_STOPPED")
        with organiser(base) as client:
            assert len(assert_ok(client.get("/admin/actions"))) == 6


def test_stop_with_the_market_empties_every_book_and_the_house_stays_quiet() -> None:
    config = load_config(preset="demo", overrides={
        "server": {"admin_token": TOKEN}, "clock": {"speed": 600},
    })  # fmt: skip

    def quoted(base: str) -> int:
        lines = assert_ok(httpx.get(f"{base}/market/prices"))["instruments"]
        return sum(line["bid"] is not None or line["ask"] is not None for line in lines)

    with game(config) as base, organiser(base) as client:
        wait_for(lambda: quoted(base) > 10, timeout=15)  # the house quotes the chain
        assert_ok(client.post("/admin/stop"))
        wait_for(lambda: quoted(base) == 0)
        time.sleep(2.5)  # longer than the house's requote intervals
        assert quoted(base) == 0
        after = health(base)
        assert (after["status"], after["game_state"], after["phase"]) == ("ok", "stopped",
                                                                          "CLOSED")  # fmt: skip


# -- the command line ----------------------------------------------------------------------


def cli(base: str, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ADMIN_TOKEN_ENV}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env[ADMIN_TOKEN_ENV] = token
    command = [sys.executable, "-m", "exchange", "admin", "--url", base, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_the_command_line_drives_the_game(server: str, bots: Any) -> None:
    bot = bots("hedge_fund")
    paused = cli(server, "pause")
    assert paused.returncode == 0, paused.stderr
    assert "state: paused" in paused.stdout
    assert health(server)["game_state"] == "paused"
    again = cli(server, "pause")
    assert again.returncode == 1 and "GAME_STATE_CONFLICT" in again.stderr
    resumed = cli(server, "resume")
    assert resumed.returncode == 0 and "state: running" in resumed.stdout
    teams = cli(server, "teams")
    assert teams.returncode == 0
    header, *lines = teams.stdout.splitlines()
    assert header.split()[:3] == ["team_id", "name", "role"]
    assert any(line.startswith(bot.team_id) for line in lines)
    actions = cli(server, "actions", "--limit", "3")
    assert actions.returncode == 0 and len(actions.stdout.splitlines()) == 4
    assert "resume" in actions.stdout.splitlines()[-1]
    wrong = cli(server, "status", token="wrong-token-here")
    assert wrong.returncode == 1 and "FORBIDDEN" in wrong.stderr
    missing = cli(server, "status", token=None)
    assert missing.returncode == 2 and ADMIN_TOKEN_ENV in missing.stderr
