"""A new round, or a full reset, of a game's database (`admin new-round`, `admin reset`).

A new round moves every row of the round's play (orders, trades, prices, news, signals,
settlements, snapshots, scores, arrivals) into `round_rows`, tagged with the round, and
keeps the teams (with their keys), the organiser's record, the finished rounds' results
and the id reservations: the file then reads as a new game with the same teams, so a
restart restores the new round, not the old one. A reset empties every table. Each is
one transaction: a failure changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.store import rows
from exchange.store.db import Database
from exchange.store.schema import COLUMNS

PLAYED = ("orders", "trades", "prices", "events", "signals", "settlements",
          "position_snapshots", "scores", "arrivals")  # fmt: skip
"""The tables a round's play fills."""
KEPT_STATE = ("stream_run", "next_order_id", "next_trade_id")
"""`game_state` keys a new round keeps: ids and stream numbers never repeat."""
ROUND_KEY = "round"
"""`game_state` key of the round being played (1 when absent)."""


def archive_round(
    path: str | Path, finished: int, results: Any, control: dict[str, Any], now_ns: int
) -> None:
    """Close round `finished`: its rows into `round_rows`, its `results` kept under
    `round:<finished>`, the organiser's settings `control` kept for the next round."""
    with Database.open(path) as db:
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in PLAYED:
                columns = ", ".join(COLUMNS[table])
                conn.execute(
                    f"INSERT INTO round_rows (round, tbl, row) "
                    f"SELECT ?, ?, json_array({columns}) FROM {table}",
                    (finished, table),
                )
                conn.execute(f"DELETE FROM {table}")
            kept = ", ".join("?" * len(KEPT_STATE))
            conn.execute(
                f"DELETE FROM game_state WHERE key NOT IN ({kept}) AND key NOT LIKE 'round:%'",
                KEPT_STATE,
            )
            for key, value in ((f"round:{finished}", results), (ROUND_KEY, finished + 1),
                               ("control", control)):  # fmt: skip
                conn.execute(
                    "INSERT OR REPLACE INTO game_state (key, value, updated_ns) VALUES (?, ?, ?)",
                    rows.game_state_row(key, value, now_ns),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def reset(path: str | Path) -> None:
    """Empty every table: a new game on the same file (the config is not in it)."""
    with Database.open(path) as db:
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in COLUMNS:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
