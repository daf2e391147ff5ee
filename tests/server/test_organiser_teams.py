"""The organiser's teams: imported from a CSV with their keys written to a file, keys
reissued, and self-registration open, closed, or open with the roles the organiser
fixes, all seen through the real server, the command line and the database file."""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exchange.config import ADMIN_TOKEN_ENV, GameConfig
from exchange.teams import hash_key
from tests.server.harness import Bot, run_server, sandbox, stream
from tests.support import assert_error, assert_ok

TOKEN = "organiser-secret-42"
ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROLES = ("market_maker", "hedge_fund", "arbitrage", "retail")


@contextlib.contextmanager
def game(config: GameConfig, db_path: Path | None = None) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config, db_path) as base:
            yield base


def with_token(**server: object) -> GameConfig:
    return sandbox(server={"admin_token": TOKEN, **server})


class admin:
    """One-shot requests with the admin token (each closes its connection)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=AUTH, timeout=10)

    def post(self, path: str, json: object = None) -> httpx.Response:
        return httpx.post(self.base + path, json=json, headers=AUTH, timeout=10)


def cli(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ADMIN_TOKEN_ENV}
    env |= {"PYTHONPATH": str(ROOT), ADMIN_TOKEN_ENV: TOKEN}
    command = [sys.executable, "-m", "exchange", "admin", "--url", base, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def write_csv(path: Path, count: int) -> Path:
    lines = ["name,role,members"]
    lines += [f"Team {i:02d},{ROLES[i % 4]},Ann {i}; Bo {i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_keys(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_thirty_teams_import_from_a_csv_and_their_keys_work(tmp_path: Path) -> None:
    teams_csv, keys = write_csv(tmp_path / "teams.csv", 30), tmp_path / "keys.csv"
    db_path = tmp_path / "game.db"
    with game(with_token(registration_open=False), db_path) as base:
        done = cli(base, "import-teams", str(teams_csv), "--keys", str(keys))
        issued = read_keys(keys)
        positions = [
            httpx.get(f"{base}/positions/{row['team_id']}", headers={"X-API-Key": row["api_key"]})
            for row in issued
        ]
        again = cli(base, "import-teams", str(teams_csv), "--keys", str(tmp_path / "k2.csv"))
        listed = assert_ok(admin(base).get("/admin/teams"))
    assert done.returncode == 0, done.stderr
    assert "30 teams imported" in done.stdout and "ex_" not in done.stdout
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert [row["team_name"] for row in issued] == [f"Team {i:02d}" for i in range(30)]
    assert [row["role"] for row in issued] == [ROLES[i % 4] for i in range(30)]
    assert issued[3]["members"] == "Ann 3;Bo 3"
    assert all(reply.status_code == 200 for reply in positions)
    # The same names again are refused as a whole: nothing more is registered.
    assert again.returncode == 1 and "TEAM_NAME_TAKEN" in again.stderr
    assert not (tmp_path / "k2.csv").exists()
    assert len(listed) == 30
    with sqlite3.connect(db_path) as db:
        stored = dict(db.execute("SELECT team_id, key_hash FROM teams").fetchall())
        recorded = db.execute("SELECT arguments FROM admin_actions").fetchall()
    assert stored == {row["team_id"]: hash_key(row["api_key"]) for row in issued}
    assert not any("ex_" in arguments for (arguments,) in recorded)


def test_a_bad_csv_line_is_named_and_nothing_is_sent(tmp_path: Path) -> None:
    teams_csv = tmp_path / "teams.csv"
    teams_csv.write_text("Alpha,market_maker\nBeta,banker\n")
    with game(with_token()) as base:
        done = cli(base, "import-teams", str(teams_csv), "--keys", str(tmp_path / "keys.csv"))
        status = assert_ok(admin(base).get("/admin/status"))
    assert done.returncode == 2
    assert "teams.csv:2" in done.stderr and "banker" in done.stderr
    assert status["teams"] == 0


def test_an_import_past_the_team_cap_or_repeating_a_name_is_refused_whole() -> None:
    with game(with_token(max_teams=3)) as base:
        client = admin(base)
        four = [{"team_name": f"cap {i}", "role": "retail"} for i in range(4)]
        over = client.post("/admin/teams/import", json={"teams": four})
        twice = [
            {"team_name": "Same", "role": "retail"},
            {"team_name": "SAME", "role": "arbitrage"},
        ]
        repeated = client.post("/admin/teams/import", json={"teams": twice})
        house = [{"team_name": "x y z", "role": "house"}]
        unknown = client.post("/admin/teams/import", json={"teams": house})
        status = assert_ok(client.get("/admin/status"))
    assert_error(over, 409, "TEAM_LIMIT_REACHED")
    assert_error(repeated, 409, "TEAM_NAME_TAKEN")
    assert_error(unknown, 400, "INVALID_FIELD")
    assert status["teams"] == 0


def test_closed_registration_refuses_with_a_clear_code_but_the_organiser_imports() -> None:
    with game(with_token(registration_open=False)) as base:
        body = {"team_name": "walk-in", "role": "hedge_fund"}
        refused = httpx.post(f"{base}/auth/register", json=body)
        imported = admin(base).post("/admin/teams/import", json={"teams": [body]})
    error = assert_error(refused, 403, "REGISTRATION_CLOSED")
    assert "closed registration" in error["message"]
    assert assert_ok(imported)[0]["team_name"] == "walk-in"


def test_open_registration_with_roles_fixed_by_the_organiser() -> None:
    config = with_token(assigned_roles=["market_maker", "hedge_fund"])
    with game(config) as base:
        status = assert_ok(admin(base).get("/admin/status"))
        for _ in range(4):
            Bot(base, role="retail").close()  # asks for retail; given the organiser's role
        listed = assert_ok(admin(base).get("/admin/teams"))
        free = assert_ok(admin(base).post("/admin/registration/assign", json={"roles": []}))
        chooser = Bot(base, role="retail")
        chooser.close()
        repeated = admin(base).post("/admin/registration/assign",
                                    json={"roles": ["retail", "retail"]})  # fmt: skip
        after = assert_ok(admin(base).get("/admin/teams"))
    assert (status["registration"], status["assigned_roles"]) == (
        "assigned", ["market_maker", "hedge_fund"])  # fmt: skip
    assert [t["role"] for t in listed] == ["market_maker", "hedge_fund"] * 2
    assert free["registration"] == "open"
    assert [t["role"] for t in after if t["team_id"] == chooser.team_id] == ["retail"]
    assert_error(repeated, 400, "INVALID_FIELD")


def test_a_reissued_key_works_the_old_one_is_refused_and_its_stream_closed(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "game.db"
    with game(with_token(), db_path) as base:
        bot = Bot(base, role="hedge_fund")
        old = bot.key
        ticket = assert_ok(bot.http.post("/ws/ticket"))["ticket"]
        with stream(bot) as ws:
            done = cli(base, "reissue-key", bot.team_id)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=5)
        new = next(line.split(": ", 1)[1] for line in done.stdout.splitlines()
                   if line.startswith("api_key: "))  # fmt: skip
        stale = httpx.get(f"{base}/positions/{bot.team_id}", headers={"X-API-Key": old})
        fresh = httpx.get(f"{base}/positions/{bot.team_id}", headers={"X-API-Key": new})
        by_ticket = connect(f"{bot.ws_url}?ticket={ticket}", open_timeout=5)
        with by_ticket, pytest.raises(ConnectionClosed) as refused_ticket:
            by_ticket.recv(timeout=5)
        nobody = admin(base).post("/admin/teams/T9999/reissue-key")
        bot.close()
    assert done.returncode == 0, done.stderr
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    assert_error(stale, 401, "UNAUTHORIZED")
    assert fresh.status_code == 200
    assert refused_ticket.value.rcvd is not None and refused_ticket.value.rcvd.code == 1008
    assert_error(nobody, 404, "NOT_FOUND")
    # A restart keeps the new key, not the old one.
    with game(with_token(), db_path) as base:
        stale = httpx.get(f"{base}/positions/{bot.team_id}", headers={"X-API-Key": old})
        fresh = httpx.get(f"{base}/positions/{bot.team_id}", headers={"X-API-Key": new})
    assert_error(stale, 401, "UNAUTHORIZED")
    assert fresh.status_code == 200


def test_the_organiser_reads_any_teams_analytics_with_the_admin_token() -> None:
    with game(with_token()) as base:
        one, two = Bot(base, role="hedge_fund"), Bot(base, role="retail")
        by_admin = admin(base).get(f"/analytics/{two.team_id}")
        by_other = one.http.get(f"/analytics/{two.team_id}")
        wrong = httpx.get(f"{base}/analytics/{two.team_id}",
                          headers={"Authorization": "Bearer not-the-token"})  # fmt: skip
        missing = admin(base).get("/analytics/T0999")
        one.close()
        two.close()
    assert assert_ok(by_admin)["standing"]["team_id"] == two.team_id
    assert_error(by_other, 403, "FORBIDDEN")
    assert_error(wrong, 401, "UNAUTHORIZED")
    assert_error(missing, 404, "NOT_FOUND")
