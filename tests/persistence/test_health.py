"""`GET /health` while the database refuses writes: `degraded`, naming the database, and
never a file path in its public answer."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import httpx

from tests.persistence import (
    Roster,
    accepted_id,
    failed_writes,
    order_in,
    refused,
    settle,
    taken_order_ids,
)
from tests.server.harness import UNTHROTTLED, run_server, sandbox
from tests.support import wait_for


def test_health_names_the_failing_database_without_its_path(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    roster = Roster()
    with run_server(sandbox(**UNTHROTTLED), db_path=db) as base:
        try:
            member = roster(base, "writer probe", "market_maker")
            last = member.placed("SPY", "buy", 1, 1.00)
            settle(base)
            with (
                concurrent.futures.ThreadPoolExecutor(1) as pool,
                refused(db, "orders", "order_id", taken_order_ids(last + 1, 5)),
            ):
                placing = order_in(pool, member, "SPY", "buy", 1, 1.00)
                wait_for(lambda: failed_writes(base) >= 1, timeout=5)
                reply = httpx.get(f"{base}/health")
                data = reply.json()["data"]
                assert data["status"] == "degraded"
                assert data["failing"] == ["database"]
                assert "UNIQUE" in data["database"]["last_error"]
                assert "game.db" in data["database"]["last_error"]
                assert str(tmp_path) not in reply.text
                assert str(tmp_path) not in json.dumps(data)
            assert accepted_id(placing.result(timeout=10)) == last + 1  # once committed
            settle(base)
            data = httpx.get(f"{base}/health").json()["data"]
            assert data["status"] == "ok", data
            assert data["failing"] == []
        finally:
            roster.close()
