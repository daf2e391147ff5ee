"""Storage faults through a real server on a real SQLite file: a full database closes
order entry (fail closed) and reopens it by itself, and the WAL stays bounded.

A full disk is played by `server.db_max_pages`: the writer's connection may not grow the
file past that many pages. The test's own connection has no such cap, so it fills the
file with junk until the writer's next page cannot be had, and frees it (the pages go to
the free list, which the writer then reuses) to play the disk getting space again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from tests.persistence import Roster, accepted_id, health, options, order_in, read, unthrottled
from tests.server.harness import run_server
from tests.support import assert_error, receive, recv_until, wait_for

MAX_PAGES = 600
"""About 2.4 MB: the cap on the writer's connection; the junk takes the file past it."""
JUNK_ROW = 3500
"""Bytes of each junk row: about one page each."""
ANSWERS = ("order_accepted", "quote_accepted", "request_rejected")


@contextlib.contextmanager
def disk_full(path: Path) -> Iterator[None]:
    """Fill the file past MAX_PAGES from a connection of the test's own; free it after."""
    with contextlib.closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE junk (filler BLOB)")
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        rows = MAX_PAGES - pages + 50
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO junk VALUES (zeroblob(?))", [(JUNK_ROW,)] * rows)
        conn.execute("COMMIT")
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
        assert conn.execute("PRAGMA page_count").fetchone()[0] > MAX_PAGES
        try:
            yield
        finally:
            conn.execute("DELETE FROM junk")  # the pages go to the free list


def failing(base: str) -> bool:
    return bool(health(base)["database"]["failing"])


def is_ack(order_id: int) -> Any:
    def match(message: dict[str, Any]) -> bool:
        data = message["data"]
        return bool(message["type"] == "new_order_ack" and data.get("order_id") == str(order_id))

    return match


def position(data: dict[str, Any], instrument: str) -> int:
    held = [p["quantity"] for p in data["positions"] if p["instrument_id"] == instrument]
    return int(held[0]) if held else 0


def test_a_full_database_refuses_new_orders_quotes_and_teams_until_it_takes_writes_again(
    enrol: Roster, db: Path
) -> None:
    with run_server(unthrottled(db_max_pages=MAX_PAGES), db_path=db) as base:
        chosen = options(base)[:10]
        option = chosen[0]
        a = enrol(base, "full maker", "market_maker")
        b = enrol(base, "full taker", "market_maker")
        answered: list[int] = []
        with (
            a.stream() as ws,
            concurrent.futures.ThreadPoolExecutor(1) as pool,
            disk_full(db),
        ):
            # Crossing pairs until the writer's first failed commit, which closes order
            # entry: the order in the batch that failed is not answered until it
            # commits (a 201 a crash could take back is never given).
            # (a buys, b sells into it, over ten options, within the position limits.)
            for n in range(300):
                who, side = (a, "buy") if n % 2 == 0 else (b, "sell")
                placing = order_in(pool, who, chosen[n // 2 % 10], side, 1, 10.0)
                wait_for(lambda: placing.done() or failing(base), timeout=10)  # noqa: B023
                if not placing.done() or placing.result().status_code != 201:
                    break  # in the failing batch, or refused (503) after it
                answered.append(accepted_id(placing.result()))
            else:
                pytest.fail("300 orders accepted on a full database")
            assert failing(base)
            stored = read(db, "SELECT order_id FROM orders WHERE team_id != 'house'")
            assert set(answered) <= {r[0] for r in stored}  # every 201 is in the file
            # Closed while the database fails: orders, quotes and registrations are 503,
            # answered without waiting for a commit.
            for _ in range(5):
                assert_error(a.order(option, "buy", 1, 9.0), 503, "SERVICE_UNAVAILABLE")
            quote = a.http.post("/quotes", json={
                "instrument_id": option, "bid_price": 9.0, "bid_quantity": 1,
                "ask_price": 11.0, "ask_quantity": 1,
            })  # fmt: skip
            assert_error(quote, 503, "SERVICE_UNAVAILABLE")
            with httpx.Client(base_url=base, timeout=10) as anyone:
                team = {"team_name": "too late", "role": "retail"}
                assert_error(anyone.post("/auth/register", json=team), 503, "SERVICE_UNAVAILABLE")
                # Reads answer, from what is committed.
                for path in ("/health", f"/market/book/{option}", "/market/prices"):
                    assert anyone.get(path).status_code == 200
            committed = read(
                db, "SELECT COUNT(*) FROM trades WHERE buyer = ? AND instrument_id = ?",
                (a.team_id, option),
            )  # fmt: skip
            assert position(a.positions(), option) == committed[0][0]
            working = {int(o["order_id"]) for o in a.open_orders()}
            assert failing(base)  # still: nothing above reopened it
        # Space again: the kept batch commits on a retry and order entry reopens. The
        # last order sent was in that batch, waiting for its 201, or refused after it.
        wait_for(lambda: not failing(base), timeout=10)
        last = placing.result(timeout=10)
        if last.status_code == 201:
            answered.append(accepted_id(last))
        else:
            assert_error(last, 503, "SERVICE_UNAVAILABLE")
        assert working <= set(answered)
        with a.stream() as ws:
            recv_until(ws, lambda m: m["type"] == "position_snapshot")
            again = a.placed(option, "buy", 1, 8.0)
            recv_until(ws, is_ack(again))
        in_file = {r[0] for r in read(db, "SELECT order_id FROM orders")}
        assert set(answered) <= in_file  # every order answered 201 is in the file
        sold = read(db, "SELECT COUNT(*) FROM trades WHERE seller = ?", (b.team_id,))
        assert sold == [(len(answered[1::2]),)]  # each sell answered filled a buy
        assert sum(position(a.positions(), i) for i in chosen) == len(answered[1::2])
        enrol(base, "in time", "retail")
        database = health(base)["database"]
        assert database["ok"] is True and database["write_failures"] >= 1


class Answers:
    """The answers to order requests that a stream has brought so far, by client id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.by_id: dict[str, dict[str, Any]] = {}

    def ask(self, kind: str, client_id: str, **fields: Any) -> None:
        self.ws.send(json.dumps({"type": kind, "client_id": client_id, **fields}))

    def has(self, client_id: str) -> bool:
        for message in receive(self.ws, 0.05):
            if message["type"] in ANSWERS:
                self.by_id[message["data"]["client_id"]] = message
        return client_id in self.by_id

    def of(self, client_id: str) -> dict[str, Any]:
        wait_for(lambda: self.has(client_id), timeout=10)
        return self.by_id[client_id]


def test_a_full_database_refuses_stream_orders_with_the_rest_code_until_it_takes_writes(
    enrol: Roster, db: Path
) -> None:
    with run_server(unthrottled(db_max_pages=MAX_PAGES), db_path=db) as base:
        chosen = options(base)[:10]
        a = enrol(base, "stream full maker", "market_maker")
        b = enrol(base, "stream full taker", "market_maker")
        with a.stream() as ws_a, b.stream() as ws_b:
            streams = (Answers(ws_a), Answers(ws_b))
            mine = streams[0]
            with disk_full(db):
                # Crossing pairs on the streams until the writer's first failed commit
                # closes order entry: the order in the failing batch waits for its commit.
                for n in range(300):
                    who, cid = streams[n % 2], f"fill-{n}"
                    who.ask("new_order", cid, instrument_id=chosen[n // 2 % 10],
                            side=("buy", "sell")[n % 2], quantity=1, price=10.0)  # fmt: skip
                    wait_for(lambda: who.has(cid) or failing(base), timeout=10)  # noqa: B023
                    if cid not in who.by_id or who.by_id[cid]["type"] != "order_accepted":
                        break
                else:
                    pytest.fail("300 orders accepted on a full database")
                assert failing(base)
                rest = a.order(chosen[0], "buy", 1, 9.0)
                assert_error(rest, 503, "SERVICE_UNAVAILABLE")
                mine.ask("new_order", "closed", instrument_id=chosen[0], side="buy",
                         quantity=1, price=9.0)  # fmt: skip
                mine.ask("quote", "closed-quote", instrument_id=chosen[0], bid_price=9.0,
                         bid_quantity=1, ask_price=11.0, ask_quantity=1)  # fmt: skip
                for client_id, request in (("closed", "new_order"), ("closed-quote", "quote")):
                    refusal = mine.of(client_id)
                    assert refusal["type"] == "request_rejected"
                    assert refusal["data"]["code"] == "SERVICE_UNAVAILABLE"
                    assert refusal["data"]["request"] == request
                assert failing(base)  # still: nothing above reopened it
            # Space again: the kept batch commits on a retry and order entry reopens; the
            # order in it is answered now (or was refused after it, as REST would).
            wait_for(lambda: not failing(base), timeout=10)
            last = who.of(cid)
            if last["type"] == "request_rejected":
                assert last["data"]["code"] == "SERVICE_UNAVAILABLE"
            mine.ask("new_order", "again", instrument_id=chosen[0], side="buy", quantity=1,
                     price=8.0)  # fmt: skip
            again = mine.of("again")
        assert again["type"] == "order_accepted", again
        order_id = int(again["data"]["order_id"])
        assert read(db, "SELECT order_id FROM orders WHERE order_id = ?", (order_id,)) == [
            (order_id,)
        ]


async def burst(base: str, keys: tuple[str, str], instruments: list[str], n: int) -> int:
    """`n` crossing pairs sent at once, the first key buying; how many were accepted."""
    clients = [
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) for key in keys
    ]
    try:
        sent = []
        for i in range(n):
            order = {"instrument_id": instruments[i % len(instruments)], "quantity": 1}
            sent.append(clients[0].post("/orders", json=order | {"side": "buy", "price": 10.0}))
            sent.append(clients[1].post("/orders", json=order | {"side": "sell", "price": 10.0}))
        replies = await asyncio.gather(*sent)
    finally:
        for client in clients:
            await client.aclose()
    return sum(r.status_code == 201 for r in replies)


WAL_BYTES = 256 * 1024


def test_the_wal_stays_bounded_under_a_stream_of_commits(enrol: Roster, db: Path) -> None:
    """Thousands of orders in small commits: the WAL is emptied as it passes its bound,
    so the file beside the database never grows far past it, though far more went
    through it. (Before: checkpoints from a second connection never caught up with the
    writer's commits, so SQLite never restarted the WAL and it grew without bound.)"""
    wal = Path(f"{db}-wal")
    largest = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.005):
            with contextlib.suppress(OSError):
                largest[0] = max(largest[0], wal.stat().st_size)

    cfg = unthrottled(
        wal_checkpoint_bytes=WAL_BYTES, checkpoint_interval=600.0, linger=0.001, batch_rows=50
    )
    with run_server(cfg, db_path=db) as base:
        instruments = options(base)[:20]
        a = enrol(base, "wal maker", "market_maker")
        b = enrol(base, "wal taker", "market_maker")
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            accepted = 0
            for n in range(20):  # the sides swap each time: positions go back to flat
                keys = (a.key, b.key) if n % 2 == 0 else (b.key, a.key)
                accepted += asyncio.run(burst(base, keys, instruments, 100))
            wait_for(lambda: health(base)["database"]["queued"] == 0, timeout=20)
        finally:
            done.set()
            watcher.join(5)
        database = health(base)["database"]
    assert accepted == 4000
    # A batch may take the WAL past the bound before the check after it: a commit of 50
    # rows rewrites every page it touches, in these tables and indexes up to ~200.
    bound = WAL_BYTES + 1024 * 1024
    assert largest[0] <= bound, (largest[0], database)
    through = database["checkpointed_bytes"]
    assert database["checkpoints"] >= 3, database
    assert through >= 5 * bound, database  # without checkpoints the WAL would hold it all
    assert database["wal_bytes_max"] <= bound, database
    assert database["checkpoints_busy"] == 0
