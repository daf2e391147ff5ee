"""The database writer through a real server on a real SQLite file (SPEC section 9).

Writes leave the trading path through a queue and are committed in batches; a client is
told of anything (an ack, a fill, its registration) only once it is committed. To look
for what must not be told yet without racing the writer, a test makes the writer's
batch fail: it puts rows in the file under the ids the server is about to insert, the
batch rolls back and is retried, and the server trades on meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.persistence import (
    Member,
    Roster,
    accepted_id,
    cents,
    failed_writes,
    health,
    options,
    order_in,
    read,
    refused,
    settle,
    taken_order_ids,
    unthrottled,
)
from tests.server.harness import run_server
from tests.support import receive, recv_until, wait_for

PRIVATE = {"new_order_ack", "execution_report", "order_cancelled", "position_update"}
LOOK = 0.3
"""Seconds a test keeps looking for what must not have arrived (a bound, not a timing)."""


@pytest.fixture
def server(db: Path) -> Iterator[str]:
    with run_server(unthrottled(), db_path=db) as base:
        yield base


def is_report(exec_type: str, order_id: int) -> Any:
    def match(message: dict[str, Any]) -> bool:
        data = message["data"]
        return (
            message["type"] in ("execution_report", "order_cancelled", "new_order_ack")
            and data.get("exec_type") == exec_type
            and data.get("order_id") == str(order_id)
        )

    return match


def is_greeted(message: dict[str, Any]) -> bool:
    return bool(message["type"] == "position_snapshot")


def failing(base: str, times: int = 2) -> None:
    """Wait until the writer has failed `times` times: between two attempts it sleeps,
    so anything released early would have been sent by then."""
    wait_for(lambda: failed_writes(base) >= times, timeout=5)


def committed_order(member: Member, instrument: str, ws: Any) -> int:
    """Place a resting order and wait for its ack: the next id is this one plus one."""
    order_id = member.placed(instrument, "buy", 1, 1.00)
    recv_until(ws, is_report("new", order_id))
    return order_id


# -- what is written is what is read back -------------------------------------------------


def test_teams_orders_trades_and_cancels_are_read_back_exactly(enrol: Roster, db: Path) -> None:
    with run_server(unthrottled(), db_path=db) as base:
        option = options(base)[0]
        a = enrol(base, "writer alpha", "market_maker")
        b = enrol(base, "writer beta", "hedge_fund")
        with a.stream() as ws_a, b.stream() as ws_b:
            a1 = a.placed(option, "buy", 5, 10.00, client_order_id="a-1")
            b1 = b.placed(option, "sell", 3, 9.50, client_order_id="b-1")  # 3 @ 10.00
            assert a.http.delete(f"/orders/{a1}").status_code == 200  # 2 left: cancelled
            b2 = b.placed(option, "buy", 2, 9.00, client_order_id="b-2")
            a2 = a.placed(option, "sell", 4)  # market: 2 @ 9.00, the rest no_liquidity
            a3 = a.placed(option, "buy", 1, 8.00)  # still resting at the stop
            seen_a = recv_until(ws_a, is_report("new", a3))
            seen_b = recv_until(ws_b, is_report("trade", b2))
        reports = [
            m["data"] | {"team": who.team_id}
            for who, seen in ((a, seen_a), (b, seen_b))
            for m in seen
            if m["type"] == "execution_report" and m["data"]["exec_type"] == "trade"
        ]
        fills = {a.team_id: a.fills(), b.team_id: b.fills()}

    teams = read(db, "SELECT team_id, name, role, key_hash FROM teams ORDER BY team_id")
    assert teams == [
        (a.team_id, "writer alpha", "market_maker", hashlib.sha256(a.key.encode()).hexdigest()),
        (b.team_id, "writer beta", "hedge_fund", hashlib.sha256(b.key.encode()).hexdigest()),
    ]
    files = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert hashlib.sha256(a.key.encode()).hexdigest().encode() in files  # the scan sees text
    assert a.key.encode() not in files and b.key.encode() not in files

    orders = read(
        db,
        "SELECT order_id, team_id, instrument_id, side, order_type, price_ticks, quantity,"
        " client_order_id, status, filled, cancel_reason FROM orders ORDER BY order_id",
    )
    A, B = a.team_id, b.team_id
    assert orders == [
        (a1, A, option, "buy", "limit", 1000, 5, "a-1", "cancelled", 3, "user"),
        (b1, B, option, "sell", "limit", 950, 3, "b-1", "filled", 3, None),
        (b2, B, option, "buy", "limit", 900, 2, "b-2", "filled", 2, None),
        (a2, A, option, "sell", "market", None, 4, None, "cancelled", 2, "no_liquidity"),
        (a3, A, option, "buy", "limit", 800, 1, None, "new", 0, None),
    ]

    trades = read(
        db,
        "SELECT trade_id, instrument_id, price_ticks, quantity, buyer, seller, buy_order_id,"
        " sell_order_id, buy_remaining, sell_remaining, aggressor, buyer_fee_ticks,"
        " seller_fee_ticks, buyer_liquidity, seller_liquidity, buyer_position_after,"
        " seller_position_after FROM trades ORDER BY trade_id",
    )
    # SPEC section 3 fees per contract: market maker maker +0.02, taker -0.01; hedge fund
    # maker +0.01, taker -0.02.
    assert [t[1:] for t in trades] == [
        (option, 1000, 3, A, B, a1, b1, 2, 0, "sell", 6, -6, "maker", "taker", 3, -3),
        (option, 900, 2, B, A, b2, a2, 0, 2, "sell", 2, -2, "maker", "taker", -1, 1),
    ]
    # And it is what the clients were told, on the stream and by GET /fills.
    stored = {}
    for t in trades:
        stored[(t[0], t[4], t[6])] = (t[2], t[3], t[11], t[13], t[15])
        stored[(t[0], t[5], t[7])] = (t[2], t[3], t[12], t[14], t[16])
    told = {
        (r["trade_id"], r["team"], int(r["order_id"])): (
            cents(r["last_price"]), r["last_quantity"], cents(r["fee"]), r["liquidity_type"]
        )
        for r in reports
    }  # fmt: skip
    assert told == {key: value[:4] for key, value in stored.items()}
    served = {
        (f["trade_id"], team, int(f["order_id"])): (
            cents(f["price"]), f["quantity"], cents(f["fee"]), f["liquidity_type"],
            f["position_after"],
        )
        for team, team_fills in fills.items()
        for f in team_fills
    }  # fmt: skip
    assert served == stored


def test_a_registration_answered_201_is_in_the_database(
    enrol: Roster, server: str, db: Path
) -> None:
    nobody = [("T0001", "nobody", "retail", "0" * 64, 0)]  # the id the server gives next
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with refused(db, "teams", "team_id", nobody):
            pending = pool.submit(enrol, server, "durable team", "arbitrage")
            failing(server)
            done, _ = concurrent.futures.wait([pending], timeout=LOOK)
            # The key is shown once: answering before the row commits could hand out a
            # key that a crash then forgets.
            assert not done, "registration answered while its row was not committed"
            assert read(db, "SELECT name FROM teams") == [("nobody",)]
        member = pending.result(timeout=10)
    assert read(db, "SELECT team_id, name, role FROM teams") == [
        (member.team_id, "durable team", "arbitrage")
    ]
    for n in range(5):  # and when nothing fails: every 201 is already in the file
        other = enrol(server, f"team {n}", "retail")
        stored = read(db, "SELECT name FROM teams WHERE team_id = ?", (other.team_id,))
        assert stored == [(f"team {n}",)]


def test_acks_and_fills_are_told_only_after_their_batch_commits(
    enrol: Roster, server: str, db: Path
) -> None:
    option = options(server)[0]
    a = enrol(server, "maker", "market_maker")
    b = enrol(server, "taker", "market_maker")
    with a.stream() as ws_a, b.stream() as ws_b:
        for ws in (ws_a, ws_b):
            recv_until(ws, is_greeted)
        buy = a.placed(option, "buy", 2, 10.00)
        recv_until(ws_a, is_report("new", buy))  # committed: the next id is buy + 1
        with (
            concurrent.futures.ThreadPoolExecutor(1) as pool,
            refused(db, "orders", "order_id", taken_order_ids(buy + 1, 10)),
        ):
            # Its batch fails on the sell's id; it was accepted before the first failure
            # (afterwards order entry is closed), so the trade waits in that batch, and
            # so does the sell's 201: an answer a crash could take back is not given.
            selling = order_in(pool, b, option, "sell", 2, 10.00)
            failing(server)
            held = receive(ws_a, LOOK) + receive(ws_b, LOOK)
            assert [m["type"] for m in held if m["type"] in PRIVATE] == []
            assert not selling.done(), "the sell was answered while its batch failed"
            assert a.fills() == [] and b.fills() == []  # fills are served once durable
            # The failed batch was rolled back whole: nothing of it is in the file.
            assert read(db, "SELECT COUNT(*) FROM trades") == [(0,)]
            assert read(db, "SELECT MAX(order_id) FROM orders WHERE team_id != 'nobody'") == [
                (buy,)
            ]
            database = health(server)["database"]
            assert database["ok"] is False and "UNIQUE" in database["last_error"]
        sell = accepted_id(selling.result(timeout=10))  # answered once committed
        recv_until(ws_b, is_report("new", sell))
        for ws, order_id in ((ws_a, buy), (ws_b, sell)):
            report = recv_until(ws, is_report("trade", order_id))[-1]["data"]
            # Told, so committed: the trade is in the file the moment the report arrives.
            stored = read(
                db, "SELECT quantity, price_ticks FROM trades WHERE trade_id = ?",
                (report["trade_id"],),
            )  # fmt: skip
            assert stored == [(2, 1000)]
    assert [f["order_id"] for f in a.fills()] == [str(buy)]
    assert health(server)["database"]["ok"] is True


# -- batches -------------------------------------------------------------------------------


async def cross(base: str, makers: Member, takers: Member, instruments: list[str], n: int) -> None:
    """`n` resting buys and `n` sells that fill them, all sent at once."""
    async with (
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": makers.key}, timeout=30) as mk,
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": takers.key}, timeout=30) as tk,
    ):
        sent = []
        for i in range(n):
            instrument = instruments[i % len(instruments)]
            order = {"instrument_id": instrument, "quantity": 1, "price": 10.0}
            sent.append(mk.post("/orders", json=order | {"side": "buy"}))
            sent.append(tk.post("/orders", json=order | {"side": "sell"}))
        replies = await asyncio.gather(*sent)
    assert {r.status_code for r in replies} == {201}, {r.text for r in replies}


def writes(base: str) -> tuple[int, int]:
    """(transactions, rows) the writer has committed, once everything sent is written."""
    database = settle(base)["database"]
    return database["transactions"], database["rows_written"]


def test_a_burst_of_orders_is_committed_in_far_fewer_transactions_than_rows(
    enrol: Roster,
    server: str,
) -> None:
    a = enrol(server, "burst maker", "market_maker")
    b = enrol(server, "burst taker", "market_maker")
    before = writes(server)
    asyncio.run(cross(server, a, b, options(server)[:10], 150))
    after = writes(server)
    transactions, rows = after[0] - before[0], after[1] - before[1]
    # 300 orders, 150 trades and the fill updates of 300 orders: 750 rows.
    assert rows >= 750
    assert transactions * 5 <= rows, (transactions, rows)  # one per row would be 750


@pytest.mark.parametrize("batch_rows", [1000, 100])
def test_a_burst_waiting_for_the_writer_goes_in_batches_of_at_most_batch_rows(
    enrol: Roster, db: Path, batch_rows: int
) -> None:
    # A long linger lets the whole burst gather before the writer takes it: only
    # `batch_rows` ends a batch. (Rows no longer pile up behind a failing commit: that
    # closes order entry.)
    with run_server(unthrottled(batch_rows=batch_rows, linger=1.0), db_path=db) as base:
        a = enrol(base, "queued maker", "market_maker")
        b = enrol(base, "queued taker", "market_maker")
        before = writes(base)
        asyncio.run(cross(base, a, b, options(base)[:10], 150))
        # 300 orders, 150 trades and the fill updates of 300 orders: 750 rows. (The
        # writer holds the batch it gathers off the queue: wait for the rows.)
        wait_for(lambda: writes(base)[1] - before[1] >= 750, timeout=10)
        after = writes(base)
        transactions, rows = after[0] - before[0], after[1] - before[1]
        # One outcome's rows are never split, so a batch may pass the bound by one
        # outcome (here at most 4 rows: an order, its trade and two fill updates).
        assert math.ceil(rows / (batch_rows + 4)) <= transactions
        assert transactions <= math.ceil(rows / batch_rows) + 2, (transactions, rows)


def test_health_shows_write_latency_and_batch_sizes(enrol: Roster, server: str) -> None:
    before = health(server)["database"]
    assert before["ok"] is True and before["last_error"] is None
    a = enrol(server, "health maker", "market_maker")
    b = enrol(server, "health taker", "market_maker")
    asyncio.run(cross(server, a, b, options(server)[:5], 50))
    database = settle(server)["database"]
    assert database["ok"] is True
    assert database["write_failures"] == 0
    assert database["transactions"] > before["transactions"]
    p50, p99 = database["write_ms_p50"], database["write_ms_p99"]
    assert isinstance(p50, float) and isinstance(p99, float)
    assert 0 < p50 <= p99
    # Fewer than the 1000 kept samples so far: the mean is over every batch.
    mean = database["rows_written"] / database["transactions"]
    assert database["batch_rows_mean"] == round(mean, 1)
    assert database["batch_rows_mean"] > 1


# -- a restart serves what was there before -----------------------------------------------


def ledger(positions: dict[str, Any]) -> dict[str, Any]:
    """What GET /positions says of the team's own account, without the marks: those come
    from the books, which a restart empties (SPEC section 9 restores positions and cash)."""
    lines = [{k: v for k, v in p.items() if k in ("instrument_id", "quantity", "average_price")}
             for p in positions["positions"]]  # fmt: skip
    kept = ("team_id", "role", "cash", "fees", "realised_pnl")
    return {k: positions[k] for k in kept} | {"positions": lines}


def test_fills_and_positions_after_a_restart_are_the_ones_from_before(
    enrol: Roster, db: Path
) -> None:
    with run_server(unthrottled(), db_path=db) as base:
        chosen = options(base)[:3]
        a = enrol(base, "fills maker", "market_maker")
        b = enrol(base, "fills taker", "hedge_fund")
        for n, option in enumerate(chosen):
            a.placed(option, "buy", 4 + n, 10.00 + n, client_order_id=f"a-{n}")
            b.placed(option, "sell", 3, 9.00 + n, client_order_id=f"b-{n}")
            b.placed(option, "sell", 1 + n, 10.00 + n)
        settle(base)
        before = {m.team_id: (m.fills(), ledger(m.positions())) for m in (a, b)}
        paged = a.get(f"/fills?since_trade_id={before[a.team_id][0][0]['trade_id']}")
    assert len(before[a.team_id][0]) == 6 and len(before[b.team_id][0]) == 6

    with run_server(unthrottled(), db_path=db) as base:
        a, b = a.at(base), b.at(base)
        after = {m.team_id: (m.fills(), ledger(m.positions())) for m in (a, b)}
        assert a.get(f"/fills?since_trade_id={after[a.team_id][0][0]['trade_id']}") == paged
    assert after == before


def test_order_ids_after_a_restart_are_above_every_id_answered_before(
    enrol: Roster, db: Path
) -> None:
    answered = []
    with run_server(unthrottled(), db_path=db) as base:
        option = options(base)[0]
        a = enrol(base, "ids a", "market_maker")
        for n in range(5):
            answered.append(a.placed(option, "buy", 1, 5.00 + n))  # rest
            answered.append(a.placed(option, "sell", 1, 5.00 + n))  # trade at once
        quote = a.http.post("/quotes", json={
            "instrument_id": options(base)[1], "bid_price": 10.0, "bid_quantity": 10,
            "ask_price": 10.5, "ask_quantity": 10,
        })  # fmt: skip
        assert quote.status_code == 201, quote.text
        answered += [int(quote.json()["data"][k]) for k in ("bid_order_id", "ask_order_id")]
    assert len(set(answered)) == len(answered)

    for _ in range(2):  # and again after a second restart
        with run_server(unthrottled(), db_path=db) as base:
            a = a.at(base)
            new = [a.placed(option, side, 1, 7.00) for side in ("buy", "sell", "buy")]
            assert min(new) > max(answered), (new, max(answered))
            answered += new
