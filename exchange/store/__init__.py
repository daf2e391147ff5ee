"""SQLite persistence (SPEC section 9): schema, batched writes, restore, export.

Plain synchronous code over `sqlite3`: the writer task owns one `Database` and runs it
off the event loop; nothing here imports asyncio.
"""

from __future__ import annotations

from exchange.store.db import Database, NextIds
from exchange.store.restore import RestoreError, restore_ledger, state_hash
from exchange.store.rows import Batch, TradeRecord
from exchange.store.schema import StoreError

__all__ = [
    "Batch",
    "Database",
    "NextIds",
    "RestoreError",
    "StoreError",
    "TradeRecord",
    "restore_ledger",
    "state_hash",
]
