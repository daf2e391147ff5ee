"""The SQLite schema as a list of migrations, upgraded in place (SPEC section 9).

How this works: migration n (1-based) is `MIGRATIONS[n - 1]`; `PRAGMA user_version`
holds the number of the last one applied. `migrate` runs each missing migration and
bumps user_version inside the same transaction, so a crash mid-upgrade leaves the file
at the previous version, never half-migrated. Migrations are append-only: never edit
one that has shipped, add a new one.

Every table is STRICT: a float price or a str quantity is refused at the first batch in
the tests instead of being stored silently. Money is integer ticks everywhere (columns
end in `_ticks`), times are game-clock nanoseconds (columns end in `_ns`). There are no
foreign keys or CHECKs on values: the database must never refuse a row the engine has
already acted on, because a refused row rolls back the whole batch, fills included.

Orders are one row each, inserted when accepted and updated in place by fills and the
cancel (no `order_events` table): the fills are already in `trades`, a cancel is the
order's last event, so status, filled, cancel_reason and updated_ns tell the whole life
cycle and "which orders were live at the crash" is one indexed query.
"""

from __future__ import annotations

import sqlite3

_V1_CORE = """
CREATE TABLE teams (
    team_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL,
    created_ns  INTEGER NOT NULL
) STRICT;

CREATE TABLE orders (
    order_id        INTEGER PRIMARY KEY,
    team_id         TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    side            TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    price_ticks     INTEGER,            -- NULL for a market order
    quantity        INTEGER NOT NULL,
    client_order_id TEXT,
    created_ns      INTEGER NOT NULL,
    status          TEXT NOT NULL,
    filled          INTEGER NOT NULL,
    cancel_reason   TEXT,               -- set by the cancel, NULL otherwise
    updated_ns      INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_by_team ON orders (team_id, order_id);
-- Partial: stays as small as the live books, so the restart query is cheap.
CREATE INDEX orders_live ON orders (order_id) WHERE status IN ('new', 'partially_filled');

CREATE TABLE trades (
    trade_id              INTEGER PRIMARY KEY,
    instrument_id         TEXT NOT NULL,
    price_ticks           INTEGER NOT NULL,
    quantity              INTEGER NOT NULL,
    buyer                 TEXT NOT NULL,
    seller                TEXT NOT NULL,
    buy_order_id          INTEGER NOT NULL,
    sell_order_id         INTEGER NOT NULL,
    buy_remaining         INTEGER NOT NULL,
    sell_remaining        INTEGER NOT NULL,
    aggressor             TEXT,           -- NULL for an auction print
    ts_ns                 INTEGER NOT NULL,
    buyer_fee_ticks       INTEGER NOT NULL,
    seller_fee_ticks      INTEGER NOT NULL,
    buyer_liquidity       TEXT NOT NULL,
    seller_liquidity      TEXT NOT NULL,
    buyer_position_after  INTEGER NOT NULL,
    seller_position_after INTEGER NOT NULL
) STRICT;
-- GET /fills pages a team's executions by trade id, from either side of the trade.
CREATE INDEX trades_by_buyer ON trades (buyer, trade_id);
CREATE INDEX trades_by_seller ON trades (seller, trade_id);
CREATE INDEX trades_by_instrument ON trades (instrument_id, trade_id);

CREATE TABLE prices (
    ts_ns         INTEGER NOT NULL,
    instrument_id TEXT NOT NULL,
    kind          TEXT NOT NULL,          -- 'underlying' (price) or 'top' (bid/ask/last)
    price_ticks   INTEGER,
    bid_ticks     INTEGER,
    bid_qty       INTEGER,
    ask_ticks     INTEGER,
    ask_qty       INTEGER,
    last_ticks    INTEGER
) STRICT;
CREATE INDEX prices_by_instrument ON prices (instrument_id, ts_ns);

CREATE TABLE events (
    event_id INTEGER PRIMARY KEY,
    ts_ns    INTEGER NOT NULL,
    headline TEXT NOT NULL,
    kind     TEXT NOT NULL,
    effect   TEXT NOT NULL                -- JSON
) STRICT;
CREATE INDEX events_by_time ON events (ts_ns);

CREATE TABLE signals (
    signal_id INTEGER PRIMARY KEY,
    ts_ns     INTEGER NOT NULL,
    role      TEXT,                       -- NULL: sent to every role
    kind      TEXT NOT NULL,
    payload   TEXT NOT NULL               -- JSON
) STRICT;
CREATE INDEX signals_by_time ON signals (ts_ns);

CREATE TABLE position_snapshots (
    ts_ns              INTEGER NOT NULL,
    team_id            TEXT NOT NULL,
    role               TEXT NOT NULL,
    cash_ticks         INTEGER NOT NULL,
    fees_ticks         INTEGER NOT NULL,
    realised_pnl_ticks INTEGER NOT NULL,
    positions          TEXT NOT NULL,     -- JSON {instrument_id: [quantity, open_cost_ticks]}
    PRIMARY KEY (team_id, ts_ns)
) STRICT;

CREATE TABLE game_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,             -- JSON
    updated_ns INTEGER NOT NULL
) STRICT;
"""

# Expiry settlements move cash without a trade, so replaying trades alone is not enough.
_V2_SETTLEMENTS_ADMIN = """
CREATE TABLE settlements (
    instrument_id      TEXT NOT NULL,
    team_id            TEXT NOT NULL,
    quantity           INTEGER NOT NULL,
    value_ticks        INTEGER NOT NULL,
    cash_ticks         INTEGER NOT NULL,
    realised_pnl_ticks INTEGER NOT NULL,
    ts_ns              INTEGER NOT NULL,
    PRIMARY KEY (instrument_id, team_id)
) STRICT;

CREATE TABLE admin_log (
    log_id  INTEGER PRIMARY KEY,
    ts_ns   INTEGER NOT NULL,
    action  TEXT NOT NULL,
    payload TEXT NOT NULL                 -- JSON
) STRICT;
"""

# The organiser's controls (`/admin`): every action with its arguments and outcome.
# (`admin_log` of v2 predates them and stays unused.)
_V3_ADMIN_ACTIONS = """
CREATE TABLE admin_actions (
    action_id INTEGER PRIMARY KEY,
    ts_ns     INTEGER NOT NULL,           -- game time of the action
    wall_time TEXT NOT NULL,              -- UTC, ISO 8601
    action    TEXT NOT NULL,
    arguments TEXT NOT NULL,              -- JSON
    outcome   TEXT NOT NULL               -- 'ok', or the error code it was refused with
) STRICT;
"""

# Scores (SPEC section 7): each team's standing as the leaderboard published it.
_V4_SCORES = """
CREATE TABLE scores (
    ts_ns     INTEGER NOT NULL,           -- game time of the leaderboard
    team_id   TEXT NOT NULL,
    role      TEXT NOT NULL,
    pnl       REAL NOT NULL,              -- currency, as on the wire
    penalties REAL NOT NULL,
    score     REAL NOT NULL,
    kpis      TEXT NOT NULL               -- JSON
) STRICT;
CREATE INDEX scores_by_team ON scores (team_id, ts_ns);
"""

# The arrivals log: every operation that changed the venue, in the order the venue applied
# it (`seq`), so `replay game.db` can apply them again and compare the trades. `kind` is
# one of `exchange.store.arrivals.KINDS`; `payload` holds the operation's other inputs.
_V5_ARRIVALS = """
CREATE TABLE arrivals (
    seq           INTEGER PRIMARY KEY,
    ts_ns         INTEGER NOT NULL,       -- the game time the venue was called with
    kind          TEXT NOT NULL,
    team_id       TEXT,
    instrument_id TEXT,
    payload       TEXT NOT NULL           -- JSON
) STRICT;
"""

# Rounds (`admin new-round`): a finished round's rows, moved out of the live tables so the
# next round starts empty; `row` is a JSON array of the table's columns (`COLUMNS`).
_V6_ROUNDS = """
CREATE TABLE round_rows (
    round INTEGER NOT NULL,
    tbl   TEXT NOT NULL,
    row   TEXT NOT NULL                   -- JSON array
) STRICT;
CREATE INDEX round_rows_by_round ON round_rows (round, tbl);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_CORE, _V2_SETTLEMENTS_ADMIN, _V3_ADMIN_ACTIONS, _V4_SCORES, _V5_ARRIVALS, _V6_ROUNDS,
)  # fmt: skip
VERSION = len(MIGRATIONS)

# Columns each row tuple in `rows.py` follows, in order; the tests hold them to the SQL.
COLUMNS: dict[str, tuple[str, ...]] = {
    "teams": ("team_id", "name", "role", "key_hash", "created_ns"),
    "orders": (
        "order_id", "team_id", "instrument_id", "side", "order_type", "price_ticks",
        "quantity", "client_order_id", "created_ns", "status", "filled", "cancel_reason",
        "updated_ns",
    ),
    "trades": (
        "trade_id", "instrument_id", "price_ticks", "quantity", "buyer", "seller",
        "buy_order_id", "sell_order_id", "buy_remaining", "sell_remaining", "aggressor",
        "ts_ns", "buyer_fee_ticks", "seller_fee_ticks", "buyer_liquidity",
        "seller_liquidity", "buyer_position_after", "seller_position_after",
    ),
    "prices": (
        "ts_ns", "instrument_id", "kind", "price_ticks", "bid_ticks", "bid_qty",
        "ask_ticks", "ask_qty", "last_ticks",
    ),
    "events": ("ts_ns", "headline", "kind", "effect"),
    "signals": ("ts_ns", "role", "kind", "payload"),
    "position_snapshots": (
        "ts_ns", "team_id", "role", "cash_ticks", "fees_ticks", "realised_pnl_ticks",
        "positions",
    ),
    "game_state": ("key", "value", "updated_ns"),
    "settlements": (
        "instrument_id", "team_id", "quantity", "value_ticks", "cash_ticks",
        "realised_pnl_ticks", "ts_ns",
    ),
    "admin_log": ("ts_ns", "action", "payload"),
    "admin_actions": ("ts_ns", "wall_time", "action", "arguments", "outcome"),
    "scores": ("ts_ns", "team_id", "role", "pnl", "penalties", "score", "kpis"),
    "arrivals": ("seq", "ts_ns", "kind", "team_id", "instrument_id", "payload"),
    "round_rows": ("round", "tbl", "row"),
}  # fmt: skip


class StoreError(Exception):
    """The database cannot be used: not SQLite, corrupt, locked, or from newer code."""


def user_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


PAGE_SIZE = 1024
"""Bytes per page of a new database file (SQLite's default is 4096; a file keeps the
size it was made with). Every commit writes each page it touched to the WAL whole, and
a commit of the trading path touches a page at the end of each table and one in each
index for each team in it (orders by team, trades by buyer and by seller): with 4096
a row cost about 5 KB of WAL, with 1024 about 1.9 KB, and the process that commits
spent about a tenth less CPU per row (`python -m bots.load` at 30 bots against
`serve --preset bench --db`)."""


def configure(conn: sqlite3.Connection, durable: bool = False) -> None:
    """WAL, and fsync only at checkpoints unless `durable`.

    Why NORMAL is enough for SPEC section 9 ("no fill a client was told about is lost
    when the process is killed"): the server tells a client about a fill only after the
    COMMIT of its batch has returned. In WAL mode that COMMIT has already appended the
    transaction, commit marker included, to the -wal file with write(2); NORMAL skips
    only the fsync. Written bytes live in the kernel's page cache, not in the process,
    so kill -9 (or any crash of the process) cannot take them back, and the next open
    replays the WAL: every committed transaction survives a process crash. What NORMAL
    gives up is power loss or a kernel crash, which may roll back the last commits
    since the previous checkpoint (the file stays consistent, it only ends earlier).
    `durable=True` selects FULL, an fsync of the WAL per commit, for that stronger
    promise; with batches of up to 1000 rows it costs one fsync per batch.
    """
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file's; ignored after
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"cannot use WAL here (journal_mode is {mode})")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")


def statements(script: str) -> list[str]:
    """Split a script into statements; `complete_statement` knows about triggers' `;`."""
    done: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            done.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]!r}")
    return done


def migrate(conn: sqlite3.Connection, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Apply the missing migrations, one transaction each; return the version reached.

    `conn` must be in autocommit mode (isolation_level None). Raises StoreError if the
    file was written by newer code: running old code on it could lose columns' meaning.
    """
    for number, script in enumerate(migrations, start=1):
        # IMMEDIATE takes the write lock before reading the version: two processes
        # opening the same old file cannot both apply the same migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if current >= number:
                conn.execute("ROLLBACK")
                continue
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # some errors (disk full) already rolled back
                conn.execute("ROLLBACK")
            raise
    reached = user_version(conn)
    if reached > len(migrations):
        raise StoreError(
            f"database schema version {reached} is newer than this code's {len(migrations)}"
        )
    return reached
