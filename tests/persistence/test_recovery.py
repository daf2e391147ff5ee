"""A restart restores teams, positions and cash exactly from what was committed, cancels
the orders that were resting and tells their owners, and upgrades an older file
(SPEC section 9).

The session is seeded: the same seed plays the same orders, so a failure replays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exchange.config import GameConfig, load_config
from exchange.domain.instruments import build_chain
from exchange.domain.positions import Ledger
from exchange.store.db import Database
from exchange.store.restore import restore_ledger, state_hash
from exchange.store.schema import MIGRATIONS, VERSION, configure, migrate, user_version
from exchange.teams import hash_key
from tests.persistence import Member, Roster, cents, health, options, read, settle
from tests.server.harness import UNTHROTTLED, run_server, sandbox
from tests.support import recv_until

CONFIG = sandbox(**UNTHROTTLED)
ROLES = ("market_maker", "hedge_fund", "arbitrage", "market_maker", "retail")
SEED = 20261124
ORDERS = 400
QUIET = 1.0
"""Seconds without a message after which a stream is taken to have said all it will."""


# -- the state, canonically ---------------------------------------------------------------


def account_of(answer: dict[str, Any]) -> tuple[Any, ...]:
    """A team's account as GET /positions states it, in ticks; the marks are left out,
    since they come from the books, which a restart empties."""
    return (
        answer["team_id"], answer["role"], cents(answer["cash"]), cents(answer["fees"]),
        cents(answer["realised_pnl"]),
        sorted((p["instrument_id"], p["quantity"], p["average_price"])
               for p in answer["positions"]),
    )  # fmt: skip


def answers_hash(members: list[Member]) -> str:
    """sha256 of the teams (id, role) and every team's cash, fees and positions, as the
    server answers GET /positions to each team's own key."""
    accounts = sorted(account_of(m.positions()) for m in members)
    teams = sorted((m.team_id, m.role) for m in members)
    return hashlib.sha256(json.dumps([teams, accounts]).encode()).hexdigest()


def restored(path: Path, config: GameConfig = CONFIG) -> tuple[str, dict[str, tuple[Any, ...]]]:
    """`state_hash` of the ledger replayed from the file, and each team's cash, fees,
    realised P&L and positions from it (ticks), as `account_of` gives them minus prices."""
    with Database.open(path) as db:
        ledger = Ledger({}, config.fees())
        restore_ledger(db, ledger)
        teams = db.load_teams()
    accounts: dict[str, tuple[Any, ...]] = {
        a.team_id: (a.team_id, a.role.value, a.cash_ticks, a.fees_ticks, a.realised_pnl_ticks,
                    sorted((i, q) for i, q in a.positions.items() if q))
        for a in ledger.accounts()
    }  # fmt: skip
    return state_hash(ledger, teams), accounts


def without_prices(account: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*account[:5], sorted((i, q) for i, q, _ in account[5]))


# -- a seeded session, stopped and restarted ------------------------------------------------


def play(base: str, members: list[Member], rng: np.random.Generator) -> dict[str, int]:
    """Seeded orders that cross often: limits about 10.00 on both sides, some market
    orders, some cancels. Returns how many answers of each status came back."""
    instruments = options(base)[:4]
    answered: dict[str, int] = {}
    placed: list[tuple[Member, int]] = []
    for _ in range(ORDERS):
        member = members[int(rng.integers(len(members)))]
        instrument = instruments[int(rng.integers(len(instruments)))]
        side = "buy" if rng.random() < 0.5 else "sell"
        quantity = int(rng.integers(1, 8))
        if rng.random() < 0.1 and placed:
            # One of the last few placed, which may still rest (or may not: 404).
            owner, order_id = placed.pop(len(placed) - 1 - int(rng.integers(min(5, len(placed)))))
            reply = owner.http.delete(f"/orders/{order_id}")
        elif rng.random() < 0.1:
            reply = member.order(instrument, side, quantity)
        else:
            ticks = 1000 + int(rng.integers(-25, 26)) + (10 if side == "buy" else -10)
            reply = member.order(instrument, side, quantity, ticks / 100)
            if reply.status_code == 201:
                placed.append((member, int(reply.json()["order_id"])))
        answered[str(reply.status_code)] = answered.get(str(reply.status_code), 0) + 1
    return answered


@dataclass
class Restart:
    db: Path
    base: str
    members: list[Member]
    hash_before: str
    accounts_before: dict[str, tuple[Any, ...]]
    file_before: str
    resting: dict[str, dict[str, dict[str, Any]]]
    """Each team's open orders before the stop, by order id, as GET /orders gave them."""
    last_seq: dict[str, int]
    """Each team's last stream seq before the stop."""
    trades: int


@pytest.fixture(scope="module")
def restart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restart]:
    db = tmp_path_factory.mktemp("recovery") / "game.db"
    roster = Roster()
    try:
        with run_server(CONFIG, db_path=db) as base:
            members = [roster(base, f"team {n} {role}", role) for n, role in enumerate(ROLES)]
            answered = play(base, members, np.random.default_rng(SEED))
            assert answered.get("201", 0) > ORDERS // 2, answered
            settle(base)
            hash_before = answers_hash(members)
            accounts_before = {m.team_id: account_of(m.positions()) for m in members}
            resting = {m.team_id: {o["order_id"]: o for o in m.open_orders()} for m in members}
            last_seq = {}
            for m in members:
                with m.stream() as ws:
                    greeting = recv_until(ws, lambda msg: msg["type"] == "connection_status")
                    last_seq[m.team_id] = greeting[-1]["data"]["last_seq"]
        file_before, _ = restored(db)
        (trades,) = read(db, "SELECT COUNT(*) FROM trades")[0]
        with run_server(CONFIG, db_path=db) as base:
            for m in members:
                m.at(base)
            yield Restart(
                db, base, members, hash_before, accounts_before, file_before, resting,
                last_seq, trades,
            )  # fmt: skip
    finally:
        roster.close()


def test_the_session_traded_and_left_orders_resting(restart: Restart) -> None:
    assert restart.trades >= 50
    assert sum(len(orders) for orders in restart.resting.values()) >= 5
    assert all(len(orders) for orders in restart.resting.values())


def test_teams_positions_and_cash_after_a_restart_hash_the_same(restart: Restart) -> None:
    assert answers_hash(restart.members) == restart.hash_before
    assert health(restart.base)["teams"] == len(restart.members)


def test_the_file_holds_the_state_the_server_answered(restart: Restart) -> None:
    file_now, accounts = restored(restart.db)
    # The restart's own writes (the cancels) change no team, position or cash.
    assert file_now == restart.file_before
    assert accounts == {
        team_id: without_prices(account) for team_id, account in restart.accounts_before.items()
    }


def test_resting_orders_are_cancelled_by_the_restart(restart: Restart) -> None:
    for m in restart.members:
        assert m.open_orders() == []
    for team_id, orders in restart.resting.items():
        for order_id, before in orders.items():
            stored = read(
                restart.db,
                "SELECT team_id, status, filled, cancel_reason FROM orders WHERE order_id = ?",
                (int(order_id),),
            )
            assert stored == [(team_id, "cancelled", before["filled"], "restart")]
    assert read(
        restart.db, "SELECT COUNT(*) FROM orders WHERE status IN ('new', 'partially_filled')"
    ) == [(0,)]


def cancels_seen(member: Member, since: int | None, expected: int) -> dict[str, dict[str, Any]]:
    """The `order_cancelled` messages a new connection receives, by order id: once
    `expected` have come, or what came before the stream went quiet for a while."""
    seen: dict[str, dict[str, Any]] = {}
    with member.stream(since) as ws:
        while len(seen) < expected:
            try:
                message = json.loads(ws.recv(timeout=QUIET))
            except TimeoutError:
                break
            if message["type"] == "order_cancelled":
                seen[message["data"]["order_id"]] = message["data"]
    return seen


RESUMES = [
    pytest.param("from_zero", id="since=0"),
    pytest.param("last_seen", id="since=last seq before the stop"),
]


@pytest.mark.parametrize("resume", RESUMES)
def test_owners_are_told_of_the_restart_cancels(restart: Restart, resume: str) -> None:
    for m in restart.members:
        resting = restart.resting[m.team_id]
        since = {"from_zero": 0, "last_seen": restart.last_seq[m.team_id]}[resume]
        seen = cancels_seen(m, since, len(resting))
        assert set(seen) == set(resting), m.team_id
        for order_id, report in seen.items():
            before = resting[order_id]
            assert report["reason"] == "restart"
            assert (report["filled"], report["remaining"]) == (
                before["filled"], before["remaining"],
            )  # fmt: skip
            assert (report["instrument_id"], report["side"], report["price"]) == (
                before["instrument_id"], before["side"], before["price"],
            )  # fmt: skip


# -- the upgrade from an older schema --------------------------------------------------------

KEYS = {"T0001": "ex_old-maker-key-0000000000000000000000000", "T0002": "ex_old-fund-key-0000"}


def write_version_1(path: Path, option: str, now_ns: int) -> None:
    """A file as the first schema version left it: two teams, four orders (one resting,
    partly filled) and two trades, one in an option and one in SPX."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        configure(conn)
        assert migrate(conn, MIGRATIONS[:1]) == 1
        t = now_ns - 60_000_000_000
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO teams VALUES (?, ?, ?, ?, ?)", [
            ("T0001", "old maker", "market_maker", hash_key(KEYS["T0001"]), t),
            ("T0002", "old fund", "hedge_fund", hash_key(KEYS["T0002"]), t),
        ])  # fmt: skip
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (1, "T0001", option, "buy", "limit", 1000, 5, "old-1", t, "partially_filled", 3,
             None, t + 2),
            (2, "T0002", option, "sell", "limit", 950, 3, None, t + 1, "filled", 3, None, t + 2),
            (3, "T0002", "SPX", "buy", "limit", 440_000, 10, None, t + 3, "filled", 10, None,
             t + 4),
            (4, "T0001", "SPX", "sell", "market", None, 10, None, t + 4, "filled", 10, None,
             t + 4),
        ])  # fmt: skip
        conn.executemany("INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                         " ?, ?, ?, ?)", [
            (1, option, 1000, 3, "T0001", "T0002", 1, 2, 2, 0, "sell", t + 2, 6, -6, "maker",
             "taker", 3, -3),
            (2, "SPX", 440_000, 10, "T0002", "T0001", 3, 4, 0, 0, "sell", t + 4, 10, -10,
             "maker", "taker", 10, -10),
        ])  # fmt: skip
        conn.execute("INSERT INTO game_state VALUES ('game_time_ns', ?, ?)", (str(now_ns), now_ns))
        conn.execute("COMMIT")
        assert user_version(conn) == 1


def test_a_file_from_the_first_schema_version_is_upgraded_and_served(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    now_ns = time.time_ns()
    today = dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC).date()
    option = next(i.id for i in build_chain(CONFIG.instruments, today) if i.is_option)
    write_version_1(db, option, now_ns)

    roster = Roster()
    try:
        with run_server(CONFIG, db_path=db) as base:
            assert health(base)["status"] == "ok"
            with contextlib.closing(sqlite3.connect(db)) as conn:
                assert user_version(conn) == VERSION
            tables = {name for (name,) in read(db, "SELECT name FROM sqlite_master")}
            assert {"settlements", "admin_log"} <= tables
            maker = Member(base, "T0001", KEYS["T0001"], "old maker", "market_maker")
            fund = Member(base, "T0002", KEYS["T0002"], "old fund", "hedge_fund")
            roster.members += [maker, fund]
            # 3 options bought at 10.00 and 10 SPX sold at 4400.00, fees -0.04 in all.
            assert account_of(maker.positions()) == (
                "T0001", "market_maker", -300_000 + 4_400_000 - 4, -4, 0,
                sorted([(option, 3, 10.0), ("SPX", -10, 4400.0)]),
            )  # fmt: skip
            assert account_of(fund.positions()) == (
                "T0002", "hedge_fund", 300_000 - 4_400_000 + 4, 4, 0,
                sorted([(option, -3, 10.0), ("SPX", 10, 4400.0)]),
            )  # fmt: skip
            fills = [(f["trade_id"], f["order_id"], f["side"], f["price"], f["quantity"],
                      f["fee"], f["liquidity_type"], f["client_order_id"])
                     for f in maker.fills()]  # fmt: skip
            assert fills == [
                (1, "1", "buy", 10.0, 3, 0.06, "maker", "old-1"),
                (2, "4", "sell", 4400.0, 10, -0.1, "taker", None),
            ]
            # The order resting in the old file is cancelled, and its owner told.
            assert maker.open_orders() == []
            [cancel] = cancels_seen(maker, 0, 1).values()
            assert (cancel["order_id"], cancel["reason"], cancel["filled"]) == ("1", "restart", 3)
            # New teams and new orders carry on from the old file's ids.
            newcomer = roster(base, "new team", "market_maker")
            assert newcomer.team_id == "T0003"
            sold = newcomer.placed(option, "sell", 2, 11.00)
            assert sold > 4
            fund.placed(option, "buy", 2, 11.00)
            settle(base)
        assert read(db, "SELECT buyer, seller, quantity, price_ticks FROM trades WHERE"
                    " trade_id = 3") == [("T0002", "T0003", 2, 1100)]  # fmt: skip
        assert read(db, "SELECT status, cancel_reason FROM orders WHERE order_id = 1") == [
            ("cancelled", "restart")
        ]
    finally:
        roster.close()


def test_a_bot_resuming_after_a_restart_is_not_told_it_missed_nothing(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    roster = Roster()
    try:
        with run_server(CONFIG, db_path=db) as base:
            bot = roster(base, "resuming bot", "market_maker")
            option = options(base)[0]
            with bot.stream() as ws:
                for price in (5.00, 5.50):
                    bot.placed(option, "buy", 1, price)
                acks = recv_until(ws, lambda m: m["type"] == "new_order_ack")
                acks += recv_until(ws, lambda m: m["type"] == "new_order_ack")
            last_seq = acks[-1]["seq"]  # the two acks; both orders rest at the stop
        with run_server(CONFIG, db_path=db) as base:
            bot.at(base)
            assert bot.open_orders() == []
            with bot.stream(last_seq) as ws:
                greeting = recv_until(ws, lambda m: m["type"] == "connection_status")[-1]
            # A seq from before the restart is never current: it must resync, and it is
            # told of both cancels after the snapshot.
            assert greeting["data"]["resumed"] is False
            assert greeting["data"]["last_seq"] > last_seq
            assert len(cancels_seen(bot, last_seq, 2)) == 2
    finally:
        roster.close()


def test_a_restart_continues_the_game_clock_even_with_a_configured_start(tmp_path: Path) -> None:
    from exchange.app import Exchange
    from exchange.store import rows as store_rows
    from exchange.store.db import Database

    db = tmp_path / "clock.db"
    saved = 1_796_000_000_000_000_000  # where the game's clock stood at the stop
    with Database.open(db) as database:
        batch = store_rows.Batch()
        batch.game_state.append(store_rows.game_state_row("game_time_ns", saved, saved))
        database.write_batch(batch)
    preset_start = {"clock": {"start": "2026-12-01T08:00:00-06:00", "speed": 1}}
    exchange = Exchange(load_config(preset="sandbox", overrides=preset_start), db_path=str(db))
    assert saved <= exchange.clock.now() < saved + 60 * 10**9


def test_the_clock_resumes_no_earlier_than_the_last_commit(tmp_path: Path) -> None:
    from exchange.app import Exchange
    from exchange.domain.orders import Order
    from exchange.domain.types import (
        InstrumentId,
        OrderId,
        OrderType,
        Role,
        Side,
        TeamId,
        Ticks,
        TimeNs,
    )
    from exchange.store import rows as store_rows
    from exchange.store.db import Database
    from exchange.teams import Team

    db = tmp_path / "late.db"
    snapshot_at, order_at = 1_796_000_000_000_000_000, 1_796_000_600_000_000_000
    order = Order(OrderId(7), TeamId("T0001"), InstrumentId("SPX"), Side.BUY, OrderType.LIMIT,
                  1, Ticks(100), TimeNs(order_at), None, 0, 1)  # fmt: skip
    with Database.open(db) as database:
        batch = store_rows.Batch()
        batch.game_state.append(store_rows.game_state_row("game_time_ns", snapshot_at, 0))
        team = Team(TeamId("T0001"), "late team", Role.MARKET_MAKER, "0" * 64)
        batch.teams.append(store_rows.team_row(team, 0))
        batch.add_order(order)
        database.write_batch(batch)
    exchange = Exchange(load_config(preset="sandbox"), db_path=str(db))
    assert order_at <= exchange.clock.now() < order_at + 60 * 10**9
