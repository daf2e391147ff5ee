"""Scores in the running server (SPEC section 7): `GET /leaderboard`, the `leaderboard`
stream message, a team's analytics, and scores that survive a restart."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.server.harness import Bot, run_server, sandbox, stream
from tests.support import assert_error, assert_ok, is_type, recv_until

CALL = "SPX_CALL_4400_20261204"
FAST_BOARD: dict[str, Any] = {"scoring": {"leaderboard_interval": 0.2},
                              "clock": {"start": "2026-12-01T10:00:00-06:00"}}  # fmt: skip


@contextlib.contextmanager
def teams(base: str) -> Iterator[tuple[Bot, Bot]]:
    """A market maker and a hedge fund, closed afterwards."""
    maker, taker = Bot(base, "market_maker"), Bot(base, "hedge_fund")
    try:
        yield maker, taker
    finally:
        maker.close()
        taker.close()


def trade(maker: Bot, taker: Bot, quantity: int = 10) -> None:
    assert_ok(maker.quote(CALL, 40.00, 42.00, size=quantity), 201)
    assert_ok(taker.order(CALL, "buy", quantity, 42.00), 201)


def board(base: str) -> dict[str, Any]:
    return assert_ok(httpx.get(f"{base}/leaderboard"))  # type: ignore[no-any-return]


def row(rows: list[dict[str, Any]], team_id: str) -> dict[str, Any]:
    return next(r for r in rows if r["team_id"] == team_id)


def test_the_leaderboard_ranks_teams_by_score_overall_and_within_their_role() -> None:
    with run_server(sandbox(**FAST_BOARD)) as base, teams(base) as (maker, taker):
        trade(maker, taker)
        data = board(base)
        assert {r["team_id"] for r in data["overall"]} == {maker.team_id, taker.team_id}
        assert [r["rank"] for r in data["overall"]] == [1, 2]
        scores = [r["score"] for r in data["overall"]]
        assert scores == sorted(scores, reverse=True)
        assert row(data["by_role"]["market_maker"], maker.team_id)["rank"] == 1
        m = row(data["overall"], maker.team_id)
        assert m["fees_received"] == 0.2  # a maker's rebate of 0.02 on 10 contracts
        assert m["score"] == round(m["pnl"] - m["penalties"], 2)
        assert "spread_capture" in m["kpis"] and "uptime" in m["kpis"]


def test_the_leaderboard_streams_to_every_team_at_its_interval() -> None:
    with run_server(sandbox(**FAST_BOARD)) as base, teams(base) as (maker, taker):
        with stream(taker) as ws:
            trade(maker, taker)
            seen = recv_until(ws, lambda m: m["type"] == "leaderboard"
                              and any(r["team_id"] == maker.team_id
                                      for r in m["data"]["overall"]))  # fmt: skip
        message = seen[-1]
        assert message["seq"] > 0 and row(message["data"]["overall"], taker.team_id)


def test_a_team_reads_its_own_analytics_and_no_one_elses() -> None:
    with run_server(sandbox(**FAST_BOARD)) as base, teams(base) as (maker, taker):
        trade(maker, taker)
        assert_error(taker.order(CALL, "buy", 10_000, 42.00), 422, "INVALID_QUANTITY")
        report = assert_ok(taker.http.get(f"/analytics/{taker.team_id}"))
        assert report["standing"]["team_id"] == taker.team_id
        assert report["fills"] == 1 and report["contracts"] == 10
        assert [h["horizon"] for h in report["markouts"]] == [1, 5, 30]
        assert any(e["kind"] == "rejection" for e in report["timeline"])
        assert_error(taker.http.get(f"/analytics/{maker.team_id}"), 403, "FORBIDDEN")
        assert_error(taker.http.get("/analytics/nobody"), 404, "NOT_FOUND")
        assert_error(httpx.get(f"{base}/analytics/{taker.team_id}"), 401, "UNAUTHORIZED")


def test_scores_are_stored_and_a_restarted_game_keeps_them(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    with run_server(sandbox(**FAST_BOARD), db) as base, teams(base) as (maker, taker):
        trade(maker, taker)
        with stream(taker) as ws:  # wait for a leaderboard that has the trade in it
            recv_until(ws, is_type("leaderboard"))
            recv_until(ws, is_type("leaderboard"))
        before = row(board(base)["overall"], maker.team_id)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM scores WHERE team_id = ?",
                              (maker.team_id,)).fetchone()[0]  # fmt: skip
    assert stored >= 1
    with run_server(sandbox(**FAST_BOARD), db) as base:
        after = row(board(base)["overall"], maker.team_id)
    assert after["fees_received"] == before["fees_received"]
    assert after["kpis"]["spread_capture"] == before["kpis"]["spread_capture"]
