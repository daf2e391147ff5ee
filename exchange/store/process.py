"""The writer's database connection in a process of its own, so commits leave the loop's core.

Why. A commit is CPU work in SQLite: binding every row, updating the b-trees and
indexes, appending pages to the WAL. Run on the event loop it was about a third of a
loaded server's time, and the loop stood still meanwhile; run in a thread it fought the
loop for the GIL at every row. A child process has an interpreter of its own and, on a
machine with two cores, a core of its own: the loop goes on validating, matching and
answering while the child commits.

How. `DatabaseProcess.start` runs `python -m exchange.store.process PATH ROWS WRITER
PRAGMA...` with pipes on its standard input and output (WRITER names the writer, the
same for every child it starts). Each message is one frame: a 4-byte
big-endian length, then a msgpack body. The parent streams numbered chunks of rows and
never waits for one before sending the next; the child commits whatever has arrived
in one transaction of up to ROWS rows (group commit: waiting for nothing is the best linger) and
says up to which chunk it is committed. So a commit's round trip between the processes
is paid once per transaction, not once per batch the loop gathered.

Parent to child:
- `["rows", seq, tables]`: a chunk's `(table, rows)`, seqs rising by one. After a child
  died the parent sends its unconfirmed chunks again to the next one, and some may be
  committed already: each transaction also sets the game state's `MARK` to its writer
  and last chunk, so a child skips (and answers as committed) the chunks up to the mark
  its writer left. Nothing is written twice, rows without a key of their own (prices,
  news, signals, scores) included; a chunk a file holds sent by another writer is a
  duplicate, refused as one.
- `["checkpoint", seq]`: `wal_checkpoint(TRUNCATE)` on this connection, once the chunks
  before it are committed (nothing races it: this connection is the only writer).

Child to parent, in order:
- `["opened"]` once, or `["unusable", message]` and an exit when the file cannot be used;
- `["committed", seq, rows, seconds]`: every chunk up to `seq` is committed, in one
  transaction of `rows` rows that took `seconds`;
- `["failing", seq, message]`: the transaction from chunk `seq` on failed (a full disk,
  say); it is retried with back-off, with what arrives meanwhile, until it commits;
- `["checkpointed", seq, busy, error]`: SQLite's busy flag, or why it failed.

The child ends at the end of its input, once what it holds is committed (or after
`DRAIN_SECONDS` of failing). It ignores SIGINT and SIGTERM, which a terminal or a
supervisor sends to the whole process group, so that a parent stopping cleanly can still
hand it the last rows. Before each commit it checks that its parent is still the process
that started it: when the parent was killed nobody was told of those rows, and a server
restarting on the same file must not see them appear behind its back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sqlite3
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from exchange.store.db import Database
from exchange.store.rows import TABLES, game_state_row
from exchange.store.schema import StoreError

HEADER = struct.Struct("!I")
"""A frame's length prefix."""
MAX_BACKOFF = 1.0
"""Seconds between retries of a failing transaction (or of starting the process), at
most: order entry waits on them."""
MARK = "db_chunk"
"""The game state key each transaction sets to its writer and last chunk."""
DRAIN_SECONDS = 5.0
"""How long the child keeps retrying what it holds once its input has ended."""

Tables = list[tuple[str, list[Any]]]
Reply = Callable[[list[Any]], None]


class DatabaseProcess:
    """The parent's end: sends frames without waiting, hands each reply to `on_reply`
    and tells `on_gone` once when the child's output ends (it exited or died)."""

    def __init__(
        self, process: asyncio.subprocess.Process, on_reply: Reply, on_gone: Callable[[], None]
    ) -> None:
        self.process = process
        self.on_reply = on_reply
        self.on_gone = on_gone
        self.encoder = msgspec.msgpack.Encoder()
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        path: str,
        max_rows: int,
        writer: str,
        pragmas: list[str],
        on_reply: Reply,
        on_gone: Callable[[], None],
    ) -> DatabaseProcess:
        """Start a child on `path` for `writer` (a name of its own, the same for each
        child it starts) that puts at most `max_rows` rows in a transaction (more only
        when one chunk has more) and runs `pragmas` on its connection; returns once the
        file is open (StoreError if it cannot be)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exchange.store.process", path, str(max_rows), writer,
            *pragmas,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        child = cls(process, on_reply, on_gone)
        try:
            first = await child.receive()
        except BaseException:
            await child.kill()
            raise
        if first is None or first[0] != "opened":
            await child.kill()
            raise StoreError(first[1] if first else f"the database process for {path} ended")
        child.reader = asyncio.get_running_loop().create_task(child.read())
        return child

    def send(self, message: list[Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        if stdin.is_closing():
            return  # gone: `on_gone` has been or will be told
        body = self.encoder.encode(message)
        stdin.write(HEADER.pack(len(body)) + body)

    async def receive(self) -> list[Any] | None:
        """The next reply; None at the end of the child's output."""
        stdout = self.process.stdout
        assert stdout is not None
        try:
            (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
            return msgspec.msgpack.decode(await stdout.readexactly(size), type=list)
        except (OSError, asyncio.IncompleteReadError):
            return None

    async def read(self) -> None:
        while (reply := await self.receive()) is not None:
            self.on_reply(reply)
        self.on_gone()

    async def close(self, seconds: float) -> bool:
        """End the child's input and wait until it has answered everything and exited;
        killed after `seconds`. True if it finished by itself."""
        stdin = self.process.stdin
        if stdin is not None:
            stdin.close()
        try:
            if self.reader is not None:
                await asyncio.wait_for(asyncio.shield(self.reader), seconds)
            await asyncio.wait_for(self.process.wait(), 1.0)
        except TimeoutError:
            await self.kill()
            return False
        return True

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader


# -- the child ------------------------------------------------------------------------


class Child:
    """Reads frames from stdin, commits the chunks in arrival order, replies on stdout."""

    def __init__(self, db: Database, max_rows: int, writer: str) -> None:
        self.db = db
        self.max_rows = max_rows
        self.writer = writer
        self.marked = marked_chunk(db, writer)
        """The last chunk of this writer the file holds (-1: none)."""
        self.parent = os.getppid()
        self.buffer = bytearray()
        self.waiting: list[list[Any]] = []
        self.ended = False
        self.backoff = 0.0
        self.ended_at = 0.0

    def run(self) -> None:
        while True:
            self.read(block=not self.waiting)
            if self.orphaned() or (not self.waiting and self.ended):
                return
            if self.ended and time.monotonic() - self.ended_at > DRAIN_SECONDS:
                return  # the parent has given up on these rows already
            self.step()

    def orphaned(self) -> bool:
        """The parent was killed: nobody will hear of what is left."""
        return os.getppid() != self.parent

    def read(self, block: bool) -> None:
        """Take in every frame that has arrived; with `block`, wait for at least one."""
        while not self.ended and (block or select.select([0], [], [], 0)[0]):
            data = os.read(0, 1 << 20)
            if not data:
                self.ended, self.ended_at = True, time.monotonic()
                break
            self.buffer += data
            block = not self.frames() and block
        self.frames()

    def frames(self) -> bool:
        """Move the complete frames of the buffer to `waiting`; whether there were any."""
        found = False
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            body = bytes(self.buffer[HEADER.size : HEADER.size + size])
            del self.buffer[: HEADER.size + size]
            self.waiting.append(msgspec.msgpack.decode(body, type=list))
            found = True
        return found

    def step(self) -> None:
        """Commit the chunks at the head of `waiting`, or run the checkpoint there."""
        head = self.waiting[0]
        if head[0] == "checkpoint":
            self.waiting.pop(0)
            self.checkpoint(head[1])
            return
        if head[1] <= self.marked:
            self.skip_committed()
            return
        count, tables, rows = self.chunks()
        last = self.waiting[count - 1][1]
        started = time.perf_counter()
        try:
            self.db.write_tables([*tables, mark(self.writer, last)])
        except (StoreError, sqlite3.Error) as exc:
            reply(["failing", head[1], str(exc)])
            self.backoff = min(MAX_BACKOFF, max(0.05, self.backoff * 2))
            time.sleep(self.backoff)
            return
        self.backoff = 0.0
        self.marked = last
        del self.waiting[:count]
        reply(["committed", last, rows, time.perf_counter() - started])

    def skip_committed(self) -> None:
        """Answer the leading chunks the file holds already (a child before this one
        committed them and died before its answer was read) as committed."""
        last = -1
        while self.waiting and self.waiting[0][0] == "rows" and self.waiting[0][1] <= self.marked:
            last = self.waiting.pop(0)[1]
        reply(["committed", last, 0, 0.0])

    def chunks(self) -> tuple[int, Tables, int]:
        """The leading run of row chunks, merged table by table in execution order (as
        one larger batch would be): how many chunks, the tables and the rows."""
        merged: dict[str, list[Any]] = {}
        count = rows = 0
        for message in self.waiting:
            if message[0] != "rows":
                break
            size = sum(len(table_rows) for _, table_rows in message[2])
            if count and rows + size > self.max_rows:
                break
            count, rows = count + 1, rows + size
            for name, table_rows in message[2]:
                merged.setdefault(name, []).extend(table_rows)
        return count, [(name, merged[name]) for name in TABLES if name in merged], rows

    def checkpoint(self, seq: int) -> None:
        try:
            busy, _, _ = self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            reply(["checkpointed", seq, False, str(exc)])
            return
        reply(["checkpointed", seq, bool(busy), None])


def marked_chunk(db: Database, writer: str) -> int:
    """The last chunk of `writer` committed to the file, from its mark (-1: none)."""
    found = db.load_game_state().get(MARK)
    if isinstance(found, dict) and found.get("writer") == writer:
        return int(found["chunk"])
    return -1


def mark(writer: str, chunk: int) -> tuple[str, list[Any]]:
    """The game state row that says, in the transaction that commits it, up to which
    chunk the file holds the writer's rows."""
    return "game_state", [game_state_row(MARK, {"writer": writer, "chunk": chunk}, 0)]


def reply(message: list[Any]) -> None:
    body = msgspec.msgpack.encode(message)
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(1, data) :]


def serve(path: str, max_rows: int, writer: str, pragmas: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        db = Database.open(path)
        for pragma in pragmas:
            db.conn.execute(pragma)
    except (StoreError, sqlite3.Error) as exc:
        reply(["unusable", str(exc)])
        return
    reply(["opened"])
    try:
        Child(db, max_rows, writer).run()
    finally:
        db.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
