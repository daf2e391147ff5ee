"""One SQLite connection: batched writes in one transaction each, and the restart reads.

How this works: the writer task is the only owner of a `Database` (STYLE section 1), so
there is no lock here. `write_batch` wraps a whole `Batch` (up to ~1000 rows, several
tables) in one BEGIN IMMEDIATE ... COMMIT with one `executemany` per table. The server
tells a client about a fill only after `write_batch` has returned.

Durability: WAL with synchronous=NORMAL, see `schema.configure` for why a committed
batch survives kill -9 of the process.

Connections run in autocommit mode (isolation_level=None) and BEGIN explicitly: Python's
implicit transactions would open one per DML statement at the wrong moments.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from exchange.domain.orders import Order
from exchange.domain.positions import Fill, Settlement
from exchange.domain.types import OrderId, TradeId
from exchange.store import rows
from exchange.store.schema import (
    COLUMNS,
    VERSION,
    StoreError,
    configure,
    migrate,
    user_version,
)
from exchange.teams import Team

MIN_SQLITE = (3, 37, 0)  # STRICT tables


def _insert(table: str, verb: str = "INSERT") -> str:
    cols = COLUMNS[table]
    return f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


# Fills and cancels are monotone and idempotent: `filled` only grows, a cancel is final,
# so replaying a batch or meeting a fill after its cancel cannot move an order backwards.
_FILL = """UPDATE orders SET
    filled = MAX(filled, quantity - ?2),
    status = CASE
        WHEN status IN ('cancelled', 'rejected', 'filled') THEN status
        WHEN MAX(filled, quantity - ?2) >= quantity THEN 'filled'
        ELSE 'partially_filled' END,
    updated_ns = MAX(updated_ns, ?3)
    WHERE order_id = ?1"""
_CANCEL = """UPDATE orders SET
    status = 'cancelled', filled = MAX(filled, ?2), cancel_reason = ?3,
    updated_ns = MAX(updated_ns, ?4)
    WHERE order_id = ?1"""

# A reissued key replaces the team's key hash, nothing else of its row.
_KEY = "UPDATE teams SET key_hash = ?2 WHERE team_id = ?1"

# Batch field -> statement. Keyed rows (snapshots, state, settlements) are replaced; the
# rest are plain inserts: a duplicate trade or order id is a bug and must be loud.
STATEMENTS: dict[str, str] = {
    "teams": _insert("teams"),
    "team_keys": _KEY,
    "orders": _insert("orders"),
    "trades": _insert("trades"),
    "order_fills": _FILL,
    "cancels": _CANCEL,
    "settlements": _insert("settlements", "INSERT OR REPLACE"),
    "prices": _insert("prices"),
    "events": _insert("events"),
    "signals": _insert("signals"),
    "position_snapshots": _insert("position_snapshots", "INSERT OR REPLACE"),
    "game_state": _insert("game_state", "INSERT OR REPLACE"),
    "admin_log": _insert("admin_log"),
    "admin_actions": _insert("admin_actions"),
    "scores": _insert("scores"),
    "arrivals": _insert("arrivals"),
}

_FILL_COLS = (
    ", {who}, {side}_order_id, instrument_id, '{side}', price_ticks, quantity,"
    " {who}_liquidity, {who}_fee_ticks, {who}_position_after, ts_ns"
)
_FILLS_SQL = (
    "SELECT * FROM (SELECT trade_id" + _FILL_COLS.format(who="buyer", side="buy")
    + " FROM trades WHERE buyer = ?1 AND trade_id > ?2 ORDER BY trade_id LIMIT ?3)"
    " UNION ALL SELECT * FROM (SELECT trade_id" + _FILL_COLS.format(who="seller", side="sell")
    + " FROM trades WHERE seller = ?1 AND trade_id > ?2 ORDER BY trade_id LIMIT ?3)"
    " ORDER BY 1, 5 LIMIT ?3"
)  # fmt: skip


class NextIds(msgspec.Struct, frozen=True):
    order_id: OrderId
    trade_id: TradeId


class Database:
    """One connection, one owner. Raises `StoreError` for anything SQLite refuses."""

    def __init__(self, conn: sqlite3.Connection, path: Path, keep_latencies: int) -> None:
        self.conn = conn
        self.path = path
        self.transactions = 0
        """Batches committed: one transaction each."""
        self.rows_written = 0
        self.latencies_ns: deque[int] = deque(maxlen=keep_latencies)
        """How long each of the last `keep_latencies` write_batch calls took, BEGIN to COMMIT."""

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        durable: bool = False,
        readonly: bool = False,
        busy_timeout_ms: int = 5000,
        keep_latencies: int = 1024,
    ) -> Database:
        """Open (create, upgrade) a database file; StoreError if it is not usable.

        `readonly` opens an existing file without migrating it (export, inspection).
        """
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is older than 3.37 (STRICT)")
        path = Path(path)
        try:
            conn = _connect(path, readonly, busy_timeout_ms)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc
        try:
            _prepare(conn, path, durable, readonly)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, keep_latencies)

    def write_batch(self, batch: rows.Batch) -> None:
        """Write every row of `batch` in one transaction, or none of them (StoreError)."""
        self.write_tables(batch.tables())

    def write_tables(self, tables: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """`write_batch` for a batch's `(table, rows)`, in this order."""
        if not tables:
            return
        size = sum(len(table_rows) for _, table_rows in tables)
        started = time.perf_counter_ns()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for name, table_rows in tables:
                self.conn.executemany(STATEMENTS[name], table_rows)
            self.conn.execute("COMMIT")
        except BaseException as exc:
            # Whatever stopped it (a bad row, a full disk, a lock), leave no transaction
            # open: the next batch must start clean, and this one must be all or nothing.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | OverflowError):
                message = f"batch of {size} rows not written to {self.path}: {exc}"
                raise StoreError(message) from exc
            raise
        self.latencies_ns.append(time.perf_counter_ns() - started)
        self.transactions += 1
        self.rows_written += size

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------

    def read_table(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of a table in `COLUMNS` order, in insertion (rowid) order."""
        cols = ", ".join(COLUMNS[table])  # KeyError for a table that is not ours
        return self._read(f"SELECT {cols} FROM {table} ORDER BY rowid")

    def iter_rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        """`read_table`, streamed: a long game's orders or prices need not fit in memory."""
        cols = ", ".join(COLUMNS[table])
        try:
            yield from self.conn.execute(f"SELECT {cols} FROM {table} ORDER BY rowid")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {table} from {self.path}: {exc}") from exc

    def load_teams(self) -> list[Team]:
        sql = f"SELECT {', '.join(COLUMNS['teams'])} FROM teams ORDER BY created_ns, rowid"
        return [rows.team_from_row(r) for r in self._read(sql)]

    def iter_trades(self, since_trade_id: int = 0) -> Iterator[rows.TradeRecord]:
        """Trades with their fills in trade id order, streamed (a game has millions)."""
        sql = f"SELECT {', '.join(COLUMNS['trades'])} FROM trades WHERE trade_id > ?"
        sql += " ORDER BY trade_id"
        try:
            for row in self.conn.execute(sql, (since_trade_id,)):
                yield rows.trade_from_row(row)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read trades from {self.path}: {exc}") from exc

    def load_trades(self) -> list[rows.TradeRecord]:
        return list(self.iter_trades())

    def bookings(self) -> Iterator[tuple[str, int, int, str, str, int, int]]:
        """What the ledger needs per trade, in trade id order, streamed: no struct per row.

        (instrument_id, price_ticks, quantity, buyer, seller, buyer_fee, seller_fee).
        """
        sql = "SELECT instrument_id, price_ticks, quantity, buyer, seller, buyer_fee_ticks,"
        sql += " seller_fee_ticks FROM trades ORDER BY trade_id"
        try:
            yield from self.conn.execute(sql)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read trades from {self.path}: {exc}") from exc

    def last_prices(self) -> dict[str, int]:
        """Each traded instrument's last trade price (the highest trade id's)."""
        sql = "SELECT instrument_id, price_ticks FROM trades WHERE trade_id IN"
        sql += " (SELECT MAX(trade_id) FROM trades GROUP BY instrument_id)"
        return dict(self._read(sql))

    def trading_teams(self) -> set[str]:
        """Every team id that appears in a trade, registered or not (the house may not be)."""
        return {
            r[0] for r in self._read("SELECT buyer FROM trades UNION SELECT seller FROM trades")
        }

    def load_orders(self) -> list[Order]:
        sql = f"SELECT {', '.join(COLUMNS['orders'])} FROM orders ORDER BY order_id"
        return [rows.order_from_row(r) for r in self._read(sql)]

    def open_orders_at_crash(self) -> list[Order]:
        """Orders still live in the last commit, oldest first: restart cancels them."""
        sql = f"SELECT {', '.join(COLUMNS['orders'])} FROM orders"
        sql += " WHERE status IN ('new', 'partially_filled') ORDER BY order_id"
        return [rows.order_from_row(r) for r in self._read(sql)]

    def max_ids(self) -> NextIds:
        """The next order id and trade id to hand out after a restart.

        Counts ids seen in trades too, and takes `game_state` keys `next_order_id` and
        `next_trade_id` as floors: ids answered to a client before their row committed
        are only safe from reuse if the server stored such a reservation first.
        """
        (order_max, trade_max, buy_max, sell_max), = self._read(
            "SELECT (SELECT MAX(order_id) FROM orders), (SELECT MAX(trade_id) FROM trades),"
            " (SELECT MAX(buy_order_id) FROM trades), (SELECT MAX(sell_order_id) FROM trades)"
        )  # fmt: skip
        state = self.load_game_state()
        order_id = max(order_max or 0, buy_max or 0, sell_max or 0) + 1
        trade_id = (trade_max or 0) + 1
        return NextIds(
            OrderId(max(order_id, int(state.get("next_order_id", 0)))),
            TradeId(max(trade_id, int(state.get("next_trade_id", 0)))),
        )

    def last_arrival_seq(self) -> int:
        """The highest seq in the arrivals log (0 when it is empty)."""
        ((seq,),) = self._read("SELECT MAX(seq) FROM arrivals")
        return int(seq or 0)

    def load_game_state(self) -> dict[str, Any]:
        found = self._read("SELECT key, value FROM game_state ORDER BY key")
        return {key: rows.from_json(value) for key, value in found}

    def load_settlements(self) -> list[Settlement]:
        sql = f"SELECT {', '.join(COLUMNS['settlements'])} FROM settlements"
        sql += " ORDER BY ts_ns, rowid"
        return [rows.settlement_from_row(r) for r in self._read(sql)]

    def fills_for(self, team_id: str, since_trade_id: int = 0, limit: int = 1000) -> list[Fill]:
        """A team's fills after `since_trade_id`, oldest first (GET /fills).

        A self-trade gives two fills with one trade id; a page never splits such a pair,
        so paging by the last trade id seen loses nothing.
        """
        found = self._read(_FILLS_SQL, (team_id, since_trade_id, limit + 1))
        if len(found) > limit:
            last = found[limit - 1][0]
            whole = [r for r in found[:limit] if r[0] != last or found[limit][0] != last]
            found = whole or found  # limit 1 and a self-trade: both fills, over the limit
        return [rows.fill_from_row(r) for r in found]

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc


def backfill_wal(path: str | Path) -> None:
    """Copy what the WAL holds into the database file from a connection of its own,
    waiting for no one (a PASSIVE checkpoint): commits on other connections go on
    meanwhile. It leaves the WAL as long as it was; only a checkpoint on the writer's
    connection, with no commit beside it, can empty it (see `pipeline/writer.py`)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()


def _connect(path: Path, readonly: bool, busy_timeout_ms: int) -> sqlite3.Connection:
    if readonly:
        if not path.exists():
            raise sqlite3.OperationalError("no such file")
        target, uri = path.resolve().as_uri() + "?mode=ro", True
    else:
        target, uri = str(path), False
    # check_same_thread=False: the owner may run it in a worker thread (one at a time).
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def _prepare(conn: sqlite3.Connection, path: Path, durable: bool, readonly: bool) -> None:
    """Set WAL and the sync level, then migrate (or, read-only, check the version)."""
    try:
        if readonly:
            if user_version(conn) != VERSION:
                raise StoreError(f"{path} has schema version {user_version(conn)}, not {VERSION}")
            return
        configure(conn, durable)
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot use {path} as the exchange database: {exc}") from exc
