"""An order sent on `/ws` is answered only once its arrival is committed, as a 201 is:
with the writer's batch failing, no `order_accepted` (and no ack) comes; once the batch
commits, the answer does, and the order is in the file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.persistence import Roster, options, read, refused, taken_order_ids, unthrottled
from tests.persistence.test_writer import committed_order, failing, is_greeted
from tests.server.harness import run_server
from tests.support import receive, recv_until

LOOK = 0.3
"""Seconds the test looks for what must not have arrived (a bound, not a timing)."""
TOLD = {"order_accepted", "request_rejected", "new_order_ack", "execution_report"}


@pytest.fixture
def enrol() -> Iterator[Roster]:
    roster = Roster()
    yield roster
    roster.close()


def test_an_order_on_the_stream_is_answered_once_committed(enrol: Roster, tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    with run_server(unthrottled(), db_path=db) as base:
        option = options(base)[0]
        maker = enrol(base, "stream maker", "market_maker")
        with maker.stream() as ws:
            recv_until(ws, is_greeted)
            first = committed_order(maker, option, ws)  # the next id is first + 1
            with refused(db, "orders", "order_id", taken_order_ids(first + 1, 10)):
                ws.send(json.dumps({"type": "new_order", "client_id": "held",
                                    "instrument_id": option, "side": "buy", "quantity": 1,
                                    "price": 2.0}))  # fmt: skip
                failing(base)
                held = receive(ws, LOOK)
                told = [m["type"] for m in held if m["type"] in TOLD]
                assert told == [], "told before its batch committed"
            answer = recv_until(ws, lambda m: m["type"] == "order_accepted")[-1]["data"]
            assert answer["client_id"] == "held"
            stored = read(db, "SELECT order_id FROM orders WHERE order_id = ?",
                          (int(answer["order_id"]),))  # fmt: skip
            assert stored == [(int(answer["order_id"]),)]
