"""Scores across a kill -9: the marks come back, the scorer squares itself with the
committed fills, and the leaderboard and analytics keep answering (SPEC sections 7, 9).

The server runs as its own process (as in test_crash) so the kill is a real SIGKILL:
nothing of the clean stop runs, and the scorer's state is whatever the last periodic
save left, or nothing. The leaderboard interval is an hour in the runs that are killed,
so no save of the scores can come between the trade and the kill.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.persistence import Member, cents, health, settle
from tests.persistence.test_crash import ServerProcess

SPY = "SPY"
NO_SAVES = "scoring: {leaderboard_interval: 3600}\n"
"""No periodic save of the scores before the kill."""
FAST_BOARD = "scoring: {leaderboard_interval: 0.1}\n"
"""The restarted server publishes (and stores) the leaderboard ten times a second."""


@contextlib.contextmanager
def server(tmp_path: Path, config: str, name: str) -> Iterator[ServerProcess]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(config)
    process = ServerProcess(tmp_path / "game.db", path, tmp_path / f"{name}.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.kill()


def sell_spy(seller: Member, buyer: Member, quantity: int = 3, price: float = 450.0) -> None:
    seller.placed(SPY, "sell", quantity, price)
    buyer.placed(SPY, "buy", quantity, price)


def standing(member: Member) -> dict[str, Any]:
    data = member.get("/leaderboard")
    return next(r for r in data["overall"] + data["house"] if r["team_id"] == member.team_id)


def spy_line(member: Member) -> dict[str, Any]:
    return next(p for p in member.positions()["positions"] if p["instrument_id"] == SPY)


def scores_stored(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM scores").fetchone()
    return int(count)


@pytest.fixture
def teams() -> Iterator[list[Member]]:
    """Filled by the test with its seller and buyer; their clients closed at the end."""
    members: list[Member] = []
    yield members
    for member in members:
        member.close()


def register(base: str, teams: list[Member]) -> tuple[Member, Member]:
    teams += [Member.register(base, name, "hedge_fund") for name in ("alpha", "beta")]
    return teams[0], teams[1]


def stop_cleanly(process: ServerProcess) -> None:
    """SIGTERM: the server's own stop runs, saving the scores and every series."""
    process.proc.terminate()
    process.proc.wait(10)


def one_trade(tmp_path: Path, teams: list[Member], clean: bool) -> tuple[Member, Member]:
    """A first server, with no periodic save: two teams trade 3 SPY at 450, then it is
    stopped cleanly or killed. The seller and the buyer."""
    with server(tmp_path, NO_SAVES, "first") as first:
        seller, buyer = register(first.base, teams)
        sell_spy(seller, buyer, 3, 450.0)
        settle(first.base)
        if clean:
            stop_cleanly(first)
        else:
            first.kill()
    return seller, buyer


def test_scores_and_marks_survive_a_kill_right_after_a_trade(
    tmp_path: Path, teams: list[Member]
) -> None:
    seller, buyer = one_trade(tmp_path, teams, clean=False)
    with server(tmp_path, FAST_BOARD, "second") as second:
        for member in (seller, buyer):
            member.at(second.base)
        # The mark is the last committed trade: the books are empty after a restart.
        assert spy_line(seller)["mark_price"] == 450.0
        assert spy_line(buyer)["quantity"] == 3
        for member in (seller, buyer):
            score = standing(member)
            held = 3 if member is buyer else -3
            assert cents(score["pnl"]) == cents(member.positions()["cash"]) + 450_00 * held
            assert score["unmarked"] == []
            analytics = member.get(f"/analytics/{member.team_id}")
            assert analytics["fills"] == 1
            assert analytics["contracts"] == 3
        # Several stored leaderboards later, no task has crashed.
        stored = scores_stored(tmp_path / "game.db")
        deadline = time.monotonic() + 10  # a bound, not a timing claim
        while scores_stored(tmp_path / "game.db") < stored + 3 * len(teams):
            assert time.monotonic() < deadline, health(second.base)
            time.sleep(0.05)
        data = health(second.base)
        assert data["status"] == "ok", data
        assert data["restarts"] == {}, data


def test_a_restored_scorer_takes_in_the_fills_committed_after_its_last_save(
    tmp_path: Path, teams: list[Member]
) -> None:
    seller, buyer = one_trade(tmp_path, teams, clean=True)  # saved with the first fill
    with server(tmp_path, NO_SAVES, "second") as second:
        for member in (seller, buyer):
            member.at(second.base)
        sell_spy(seller, buyer, 2, 451.0)
        settle(second.base)
        second.kill()  # the saved scores know one fill of two
    with server(tmp_path, FAST_BOARD, "third") as third:
        for member in (seller, buyer):
            member.at(third.base)
            analytics = member.get(f"/analytics/{member.team_id}")
            assert analytics["fills"] == 2
            assert analytics["contracts"] == 5
            score = standing(member)
            held = 5 if member is buyer else -5
            assert cents(score["pnl"]) == cents(member.positions()["cash"]) + 451_00 * held
        assert spy_line(seller)["mark_price"] == 451.0
        data = health(third.base)
        assert data["status"] == "ok", data


def series(member: Member) -> list[tuple[int, float]]:
    points = member.get(f"/analytics/{member.team_id}")["pnl_series"]
    return [(p["ts_ns"], p["pnl"]) for p in points]


def saved_at(db: Path) -> dict[str, int]:
    """Each game state key and when (game ns) it was last saved."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT key, updated_ns FROM game_state").fetchall())


def test_the_pnl_series_are_saved_apart_and_all_of_them_at_a_clean_stop(
    tmp_path: Path, teams: list[Member]
) -> None:
    ticking = FAST_BOARD + "clock: {speed: 3000}\n"  # a scoring tick every 0.1 s
    with server(tmp_path, ticking, "first") as first:
        seller, buyer = register(first.base, teams)
        teams += [Member.register(first.base, f"idle{n}", "hedge_fund") for n in range(30)]
        sell_spy(seller, buyer)
        settle(first.base)
        deadline = time.monotonic() + 10  # a bound, not a timing claim
        while min(len(series(seller)), len(series(buyer))) < 3:
            assert time.monotonic() < deadline, health(first.base)
            time.sleep(0.05)
        slices = {"scorer_series:0", "scorer_series:1"}
        while not slices <= saved_at(tmp_path / "game.db").keys():  # the saves take turns
            assert time.monotonic() < deadline, health(first.base)
            time.sleep(0.05)
        before = {m.team_id: series(m) for m in (seller, buyer)}
        stop_cleanly(first)
    saved = saved_at(tmp_path / "game.db")
    scores = ["scorer", *(f"scorer_series:{n}" for n in range(4))]  # 10 teams a slice
    # Every slice saved by the stop itself, with the state: not left from a turn before.
    assert len({saved[key] for key in scores}) == 1, saved
    with server(tmp_path, NO_SAVES, "second") as second:
        for member in (seller, buyer):
            member.at(second.base)
            kept = before[member.team_id]
            assert series(member)[: len(kept)] == kept  # and the points since, at the stop
        data = health(second.base)
        assert data["status"] == "ok", data
        assert data["restarts"] == {}, data


def store_state(db: Path, key: str, value: str) -> None:
    """Overwrite one game state value (JSON text) in the file, as a damaged file has it."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE game_state SET value = ? WHERE key = ?", (value, key))


def test_saved_scores_that_cannot_be_read_are_left_out_and_the_game_goes_on(
    tmp_path: Path, teams: list[Member]
) -> None:
    seller, _ = one_trade(tmp_path, teams, clean=True)
    db = tmp_path / "game.db"
    store_state(db, "scorer_series:0", '"not the base64 of a series"')
    with server(tmp_path, NO_SAVES, "second") as second:
        seller.at(second.base)
        assert seller.get(f"/analytics/{seller.team_id}")["fills"] == 1  # the scores kept
    assert "saved P&L series unreadable, left out" in (tmp_path / "second.log").read_text()
    store_state(db, "scorer", "12345")  # not even a string
    with server(tmp_path, NO_SAVES, "third") as third:
        seller.at(third.base)
        # Started afresh, then given the committed fills: the one trade is scored again.
        assert seller.get(f"/analytics/{seller.team_id}")["fills"] == 1
        assert health(third.base)["restarts"] == {}
    assert "saved scores unreadable, starting afresh" in (tmp_path / "third.log").read_text()
