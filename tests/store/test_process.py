"""The database process (`exchange/store/process.py`) through its own protocol: chunks
committed in order, and the unlucky moment of a writer that lost a commit's answer.

A child that commits a chunk and dies before its answer is read leaves the writer not
knowing: the chunk goes again to the next child, which must see (by the mark its
writer's transactions leave in the file) that it is committed, answer so and write
nothing twice, rows without a key of their own included; the same chunk from another
writer is refused, as a duplicate is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from exchange.store import rows
from exchange.store.db import Database
from exchange.store.process import DatabaseProcess
from exchange.store.schema import COLUMNS

from .support import T0, batch_of, book, make_teams, new_ledger, random_trades


class Heard:
    """Collects a child's replies; `next` waits for the next one."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.gone = asyncio.Event()

    async def start(self, path: Path, writer: str = "writer-a") -> DatabaseProcess:
        return await DatabaseProcess.start(
            str(path), 1000, writer, [], self.replies.put_nowait, self.gone.set
        )

    async def next(self) -> list[Any]:
        return await asyncio.wait_for(self.replies.get(), 10)


def trade_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT trade_id FROM trades ORDER BY trade_id")]


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COLUMNS}


async def test_a_chunk_sent_again_after_its_answer_was_lost_is_written_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "game.db"
    Database.open(path).close()  # created and migrated, as the server does first
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 8, seed=3))
    chunk = batch_of(teams, booked[:5])
    chunk.prices = [rows.underlying_row(T0, "SPX", 440_012)]  # no key of its own
    chunk.events = [rows.event_row(T0, "Fed hikes", "macro", {"SPX": -0.02})]
    first = Heard()
    child = await first.start(path)
    child.send(["rows", 1, chunk.tables()])
    assert (await first.next())[:2] == ["committed", 1]
    await child.kill()  # the answer is all the writer would have lost
    await asyncio.wait_for(first.gone.wait(), 10)
    stored = counts(path)
    assert stored["trades"] == 5 and stored["prices"] == 1 and stored["events"] == 1

    other = Heard()  # from another writer, the chunk is a duplicate
    child = await other.start(path, writer="writer-b")
    child.send(["rows", 1, chunk.tables()])
    failing = await other.next()
    assert failing[:2] == ["failing", 1] and "UNIQUE" in failing[2]
    await child.kill()

    again = Heard()  # the same writer's next child: committed already, nothing written
    child = await again.start(path)
    child.send(["rows", 1, chunk.tables()])
    assert await again.next() == ["committed", 1, 0, 0.0]
    later = batch_of([], booked[5:])
    child.send(["rows", 2, later.tables()])  # and what comes after is written
    assert (await again.next())[:3] == ["committed", 2, len(later)]
    assert await child.close(5)
    assert counts(path) == {**stored, "trades": 8}


async def test_chunks_are_committed_in_order_and_the_child_ends_with_its_input(
    tmp_path: Path,
) -> None:
    path = tmp_path / "game.db"
    Database.open(path).close()
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 30, seed=4))
    heard = Heard()
    child = await heard.start(path)
    for n in range(3):
        chunk = batch_of(teams if n == 0 else [], booked[n * 10 : n * 10 + 10])
        child.send(["rows", n + 1, chunk.tables()])
    child.send(["checkpoint", 4])
    last = 0
    while last < 3:
        reply = await heard.next()
        assert reply[0] == "committed" and reply[1] > last
        last = reply[1]
    assert (await heard.next())[:2] == ["checkpointed", 4]
    assert await child.close(5)  # exits by itself once its input ends
    assert heard.gone.is_set()
    assert len(trade_ids(path)) == 30
