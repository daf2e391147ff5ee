"""Schema, migrations and opening: versions, upgrade in place, WAL, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exchange.store.db import Database
from exchange.store.rows import Batch, underlying_row
from exchange.store.schema import (
    COLUMNS,
    MIGRATIONS,
    PAGE_SIZE,
    VERSION,
    StoreError,
    migrate,
    user_version,
)

from .support import T0


def tables(conn: sqlite3.Connection) -> set[str]:
    found = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    return {name for (name,) in found}


def test_new_file_has_every_table_at_current_version(tmp_path: Path) -> None:
    with Database.open(tmp_path / "game.db") as db:
        assert user_version(db.conn) == VERSION == len(MIGRATIONS)
        assert tables(db.conn) == set(COLUMNS)


def test_columns_table_matches_the_sql(tmp_path: Path) -> None:
    with Database.open(tmp_path / "game.db") as db:
        for table, columns in COLUMNS.items():
            info = db.conn.execute(f"PRAGMA table_info({table})").fetchall()
            declared = tuple(name for _, name, *_ in info)
            # A leading INTEGER PRIMARY KEY id (events, signals, admin_log) is the rowid:
            # rows leave it out and SQLite numbers them.
            assert columns in (declared, declared[1:]), table


def test_wal_and_normal_sync_by_default_full_when_durable(tmp_path: Path) -> None:
    with Database.open(tmp_path / "a.db") as db:
        assert db.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with Database.open(tmp_path / "b.db", durable=True) as db:
        assert db.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_a_new_file_has_small_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    with Database.open(tmp_path / "new.db") as db:
        assert db.conn.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,)
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE made_before (x INTEGER)")  # the size is fixed from here
    conn.close()
    with Database.open(old) as db:
        assert db.conn.execute("PRAGMA page_size").fetchone() == (4096,)
        assert user_version(db.conn) == VERSION


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "game.db"
    Database.open(path).close()
    with Database.open(path) as db:
        assert user_version(db.conn) == VERSION
        assert migrate(db.conn) == VERSION


def test_upgrade_from_v1_keeps_data_and_adds_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO teams VALUES ('T0001', 'alpha', 'hedge_fund', 'ab12', ?)", (T0,))
    conn.execute(
        "INSERT INTO trades VALUES (1, 'SPX', 440000, 5, 'T0001', 'T0002', 10, 11, 0, 0,"
        " 'buy', ?, -10, 5, 'taker', 'maker', 5, -5)",
        (T0,),
    )
    conn.close()

    with Database.open(path) as db:
        assert user_version(db.conn) == VERSION
        assert {"settlements", "admin_log"} <= tables(db.conn)
        assert [t.name for t in db.load_teams()] == ["alpha"]
        assert [r.trade.quantity for r in db.load_trades()] == [5]
        assert db.read_table("settlements") == []


def test_a_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "game.db", isolation_level=None)
    broken = "CREATE TABLE extra (a INTEGER) STRICT;\nCREATE TABLE broken (;\n"
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, (MIGRATIONS[0], broken))
    assert user_version(conn) == 1
    assert "extra" not in tables(conn)
    assert not conn.in_transaction


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this code"):
        Database.open(path)


def test_a_file_that_is_not_a_database_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite file\n" * 200)
    with pytest.raises(StoreError, match=r"garbage\.db.*not a database"):
        Database.open(path)


def test_a_locked_database_raises_and_the_batch_can_be_retried(tmp_path: Path) -> None:
    path = tmp_path / "game.db"
    db = Database.open(path, busy_timeout_ms=20)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    batch = Batch(prices=[underlying_row(T0, "SPX", 440_000)])

    with pytest.raises(StoreError, match="locked"):
        db.write_batch(batch)
    with pytest.raises(StoreError, match="locked"):
        Database.open(path, busy_timeout_ms=20)
    assert db.transactions == 0 and not db.conn.in_transaction

    other.execute("ROLLBACK")
    other.close()
    db.write_batch(batch)
    assert db.transactions == 1
    assert len(db.read_table("prices")) == 1
    db.close()


def test_readonly_open_needs_an_existing_current_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        Database.open(tmp_path / "missing.db", readonly=True)
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(StoreError, match="schema version 1"):
        Database.open(old, readonly=True)


def test_a_row_of_the_wrong_type_rolls_back_the_whole_batch(tmp_path: Path) -> None:
    with Database.open(tmp_path / "game.db") as db:
        good = underlying_row(T0, "SPX", 440_000)
        bad = (T0, "SPX", "underlying", 4400.5, None, None, None, None, None)  # float money
        with pytest.raises(StoreError, match="rows not written"):
            db.write_batch(Batch(prices=[good, bad]))  # type: ignore[list-item]
        assert db.read_table("prices") == []
        assert db.transactions == 0 and not db.conn.in_transaction
