"""A new round on the same server (`admin new-round`) and a full reset (`admin reset`):
seen through HTTP, the WebSocket, the command line and the database file."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from exchange.config import ADMIN_TOKEN_ENV, GameConfig, load_config
from tests.server.harness import Bot, run_server, sandbox, stream, wait_quoted
from tests.server.test_results import play
from tests.support import assert_error, assert_ok, wait_for

TOKEN = "organiser-secret-42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def game(config: GameConfig, db_path: Path | None = None) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config, db_path) as base:
            yield base


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), ADMIN_TOKEN_ENV: TOKEN}
    command = [sys.executable, "-m", "exchange", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def demo() -> GameConfig:
    overrides = {"server": {"admin_token": TOKEN}, "clock": {"speed": 600}}
    return load_config(preset="demo", overrides=overrides)


def holdings(bot: Bot) -> tuple[dict[str, int], float]:
    view = bot.positions()
    return {p["instrument_id"]: p["quantity"] for p in view["positions"]}, view["cash"]


def test_a_second_round_starts_from_zero_and_the_first_still_exports(tmp_path: Path) -> None:
    db_path = tmp_path / "game.db"
    with game(demo(), db_path) as base:
        bots = play(base, rounds=7)  # odd: each team ends holding something
        first = {bot.team_id: holdings(bot) for bot in bots}
        started_at = assert_ok(httpx.get(f"{base}/health"))["game_time"]
        with stream(bots[0]) as ws:
            done = cli("admin", "--url", base, "new-round")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
        second = {bot.team_id: holdings(bot) for bot in bots}
        status = assert_ok(httpx.get(f"{base}/admin/status", headers=AUTH))
        board = assert_ok(httpx.get(f"{base}/leaderboard"))
        health = assert_ok(httpx.get(f"{base}/health"))
        wait_quoted(base, ("SPX",))
        traded = bots[1].order("SPX", "buy", 1)
        for bot in bots:
            bot.close()
    assert done.returncode == 0, done.stderr
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4002
    assert any(position for position, _ in first.values())
    assert all(position == {} for position, _ in second.values())
    assert len({cash for _, cash in second.values()}) == 1  # everyone back at the start
    assert (status["round"], status["teams"] >= 4) == (2, True)
    assert all(s["pnl"] == 0 for s in board["overall"])
    assert health["game_time"] < started_at  # the clock restarted from the config's start
    assert traded.status_code == 201  # the same key trades in the new round
    # The first round's results export from the file, the second's too.
    round_one = cli("results", "--db", str(db_path), "--out", str(tmp_path / "r1"), "--round", "1")
    current = cli("results", "--db", str(db_path), "--out", str(tmp_path / "r2"))
    assert round_one.returncode == 0, round_one.stderr
    assert current.returncode == 0, current.stderr
    one = json.loads((tmp_path / "r1" / "results.json").read_text())
    two = json.loads((tmp_path / "r2" / "results.json").read_text())
    assert (one["round"], two["round"]) == (1, 2)
    assert sum(r["fills"] for r in one["analytics"].values()) >= 4 * 7
    assert all(r["fills"] <= 1 for r in two["analytics"].values())
    with sqlite3.connect(db_path) as db:
        archived = dict(db.execute("SELECT tbl, COUNT(*) FROM round_rows WHERE round = 1 "
                                   "GROUP BY tbl").fetchall())  # fmt: skip
        ours = ", ".join(f"'{t}'" for t in first)
        live_orders = db.execute(f"SELECT COUNT(*) FROM orders WHERE team_id IN ({ours})")
        (live,) = live_orders.fetchone()
    assert archived["trades"] >= 4 * 7 and archived["orders"] >= 4 * 7
    assert live == 1  # only the order sent in the second round


def test_a_restart_after_a_new_round_keeps_the_new_round(tmp_path: Path) -> None:
    db_path = tmp_path / "game.db"
    config = sandbox(server={"admin_token": TOKEN})
    with game(config, db_path) as base:
        buyer, seller = Bot(base, role="hedge_fund"), Bot(base, role="hedge_fund")
        assert seller.order("SPX", "sell", 3, 100.0).status_code == 201
        assert buyer.order("SPX", "buy", 3, 100.0).status_code == 201
        wait_for(lambda: holdings(buyer)[0] == {"SPX": 3})
        assert_ok(httpx.post(f"{base}/admin/new-round", headers=AUTH))
        assert_ok(httpx.post(f"{base}/admin/registration/close", headers=AUTH))
        buyer.close()
        seller.close()
    with game(config, db_path) as base:
        again = httpx.get(f"{base}/positions/{buyer.team_id}", headers={"X-API-Key": buyer.key})
        status = assert_ok(httpx.get(f"{base}/admin/status", headers=AUTH))
    assert assert_ok(again)["positions"] == []
    assert (status["round"], status["registration_open"]) == (2, False)


def test_a_reset_keeps_nothing_but_the_config(tmp_path: Path) -> None:
    db_path = tmp_path / "game.db"
    with game(sandbox(server={"admin_token": TOKEN}), db_path) as base:
        bot = Bot(base, role="hedge_fund")
        refused = cli("admin", "--url", base, "reset")  # without --yes
        done = cli("admin", "--url", base, "reset", "--yes")
        old_key = httpx.get(f"{base}/positions/{bot.team_id}", headers={"X-API-Key": bot.key})
        status = assert_ok(httpx.get(f"{base}/admin/status", headers=AUTH))
        fresh = Bot(base, role="retail")
        bot.close()
        fresh.close()
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert done.returncode == 0, done.stderr
    assert_error(old_key, 401, "UNAUTHORIZED")
    assert (status["teams"], status["round"]) == (0, 1)
    assert fresh.team_id == "T0001"
    with sqlite3.connect(db_path) as db:
        teams = db.execute("SELECT team_id FROM teams").fetchall()
    assert teams == [("T0001",)]


def test_a_new_round_without_a_database_keeps_the_teams_in_memory() -> None:
    with game(sandbox(server={"admin_token": TOKEN, "assigned_roles": ["arbitrage"]})) as base:
        bot = Bot(base, role="hedge_fund")
        assert bot.order("SPX", "buy", 2, 99.0).status_code == 201
        status = assert_ok(httpx.post(f"{base}/admin/new-round", headers=AUTH))
        orders = bot.http.get("/orders")
        bot.close()
    assert (status["round"], status["teams"], status["assigned_roles"]) == (2, 1, ["arbitrage"])
    assert assert_ok(orders) == []  # the books were emptied


def test_a_new_round_the_database_refuses_leaves_the_round_going_on(tmp_path: Path) -> None:
    db_path = tmp_path / "game.db"
    with game(sandbox(server={"admin_token": TOKEN}), db_path) as base:
        buyer, seller = Bot(base, role="hedge_fund"), Bot(base, role="hedge_fund")
        assert seller.order("SPX", "sell", 3, 100.0).status_code == 201
        assert buyer.order("SPX", "buy", 3, 100.0).status_code == 201
        wait_for(lambda: holdings(buyer)[0] == {"SPX": 3})
        with sqlite3.connect(db_path) as db:  # the unlucky moment: the archive fails
            db.execute("CREATE TRIGGER no_archive BEFORE INSERT ON round_rows "
                       "BEGIN SELECT RAISE(ABORT, 'no room'); END")  # fmt: skip
        refused = httpx.post(f"{base}/admin/new-round", headers=AUTH)
        after = holdings(buyer)[0]
        status = assert_ok(httpx.get(f"{base}/admin/status", headers=AUTH))
        health = assert_ok(httpx.get(f"{base}/health"))
        again = buyer.order("SPX", "buy", 1, 99.0)
        buyer.close()
        seller.close()
    assert_error(refused, 503, "SERVICE_UNAVAILABLE")
    assert after == {"SPX": 3}  # the round goes on, as after a restart
    assert (status["round"], health["status"]) == (1, "ok")
    assert again.status_code == 201
