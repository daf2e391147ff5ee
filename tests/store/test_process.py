"""The database process (`exchange/store/process.py`) through its own protocol: chunks
committed in order, and the unlucky moment of a writer that lost a commit's answer.

A child that commits a chunk and dies before its answer is read leaves the writer not
knowing: the chunk goes again to the next child as a replay, which must commit what is
missing and repeat nothing; the same chunk sent plainly is refused, as a duplicate is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from exchange.store.db import Database
from exchange.store.process import DatabaseProcess

from .support import batch_of, book, make_teams, new_ledger, random_trades


class Heard:
    """Collects a child's replies; `next` waits for the next one."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.gone = asyncio.Event()

    async def start(self, path: Path) -> DatabaseProcess:
        return await DatabaseProcess.start(
            str(path), 1000, [], self.replies.put_nowait, self.gone.set
        )

    async def next(self) -> list[Any]:
        return await asyncio.wait_for(self.replies.get(), 10)


def trade_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT trade_id FROM trades ORDER BY trade_id")]


async def test_a_chunk_replayed_after_its_answer_was_lost_is_committed_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "game.db"
    Database.open(path).close()  # created and migrated, as the server does first
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 5, seed=3))
    tables = batch_of(teams, booked).tables()
    heard = Heard()
    first = await heard.start(path)
    first.send(["rows", 1, False, tables])
    assert (await heard.next())[:2] == ["committed", 1]
    await first.kill()  # the answer is all the writer would have lost
    await asyncio.wait_for(heard.gone.wait(), 10)
    stored = trade_ids(path)
    assert len(stored) == 5

    plain = Heard()  # sent plainly, the chunk is a duplicate
    second = await plain.start(path)
    second.send(["rows", 1, False, tables])
    failing = await plain.next()
    assert failing[:2] == ["failing", 1] and "UNIQUE" in failing[2]
    await second.kill()

    replaying = Heard()
    third = await replaying.start(path)
    third.send(["rows", 1, True, tables])
    assert (await replaying.next())[:2] == ["committed", 1]
    assert trade_ids(path) == stored
    await third.close(5)


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
        child.send(["rows", n + 1, False, chunk.tables()])
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
