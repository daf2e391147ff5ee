"""The database writer task: the only holder of the database connection.

How it works. The publisher hands over each outcome's `Outbox` (TradeDBQueue); market
prices and events arrive as rows (PriceDBQueue, EventDBQueue). The writer takes what has
gathered (up to `batch_rows` rows, lingering at most `linger` seconds for more), writes
it in one transaction with `executemany` per table, and only then releases the outboxes
to the fan-out, in order: group commit. A client is told of a fill only once the fill is
committed, so killing the process loses nothing a client has seen. The connection lives
in a process of its own (`store/process.py`): with WAL and synchronous=NORMAL a commit
is an append to the WAL and no fsync, but binding and indexing the rows is CPU work,
which there runs beside the loop instead of on it. The writer sends each batch without
waiting for the one before to commit, and releases each batch's outboxes, in order,
once the process says it is committed. If that process ends, the writer starts it again
and sends every batch not yet confirmed once more; the new process skips those the
file holds already (each transaction marks its writer's last batch in the file). The
trading path never waits on the disk: the publisher only waits when TradeDBQueue is full, and that
back-pressure reaches the API as 503. Prices may be thinned when their queue is full; trades
and orders never are.

A failed write (a full disk, say) is logged, kept and retried with back-off; it never
kills the loop. From the first failed commit until one succeeds the writer is `failing`:
the validator and the registration route then refuse new orders, quotes and teams with
503, so nothing more is answered as accepted that a crash could take back (fail closed).
The retry of the kept batch reopens them by itself once the disk takes writes again.

Checkpoints, in two steps, both off the loop. First a second connection, in a thread,
copies the WAL into the database file (PASSIVE) while the writer goes on committing:
that is the bulk of the work, tens of milliseconds for a WAL of 16 MiB, and no answer
waits for it. Then, between two batches, the writer folds in what came meanwhile with
`wal_checkpoint(TRUNCATE)` on its own connection and waits for it: only the writer
appends to the WAL, so nothing races this step, which completes and empties the file,
and it is short (a few pages and the fsyncs). A checkpoint from another connection
alone, racing commits every few milliseconds, could never catch up with the end of the
WAL, so SQLite could never restart it, and it grew without bound. The first step starts
every `checkpoint_every` seconds and as soon as the WAL passes `wal_bytes`, so the WAL
stays under about `wal_bytes` plus what is committed while the copy runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exchange.pipeline.items import Outbox
from exchange.store.db import backfill_wal
from exchange.store.process import MAX_BACKOFF, DatabaseProcess
from exchange.store.rows import Batch
from exchange.store.schema import StoreError

log = logging.getLogger("exchange.writer")

Row = tuple[str, tuple[Any, ...]]
THINNABLE = frozenset({"prices", "position_snapshots"})
STOP_SECONDS = 5.0
"""How long a stopping server waits for what is queued or unconfirmed to commit."""


class StorageFailing(Exception):
    """The database cannot commit now: what must be durable before its answer is refused."""


class DbQueues:
    """What waits for the writer: TradeDBQueue, EventDBQueue and PriceDBQueue. Built
    before the writer, so the publisher and the tasks that save rows are given these."""

    def __init__(self, queue_size: int = 20_000, price_queue_size: int = 20_000) -> None:
        self.trades: asyncio.Queue[Outbox] = asyncio.Queue(queue_size)
        """TradeDBQueue: outboxes, never dropped (the publisher waits when it is full)."""
        self.events: asyncio.Queue[Row] = asyncio.Queue(queue_size)
        """EventDBQueue: news, signals, settings of the game (table, row)."""
        self.prices: asyncio.Queue[Row] = asyncio.Queue(price_queue_size)
        """PriceDBQueue: prices and position snapshots, thinned when the queue is full."""
        self.wake = asyncio.Event()
        self.thinned = 0

    async def put(self, outbox: Outbox) -> None:
        """The publisher's sink: wait for room rather than drop a trade."""
        await self.trades.put(outbox)
        self.wake.set()

    def put_row(self, table: str, row: tuple[Any, ...]) -> None:
        """A row for PriceDBQueue (prices, snapshots) or EventDBQueue (the rest); a price
        row is thinned when its queue is full, an event row only if the writer has been
        failing for long enough to fill a queue of 20,000 (it is then logged)."""
        queue = self.prices if table in THINNABLE else self.events
        try:
            queue.put_nowait((table, row))
        except asyncio.QueueFull:
            self.thinned += 1
            if queue is self.events:
                log.error(
                    "event row dropped: the database is not keeping up", extra={"table": table}
                )
            return
        self.wake.set()

    def rows_waiting(self) -> bool:
        return not self.events.empty() or not self.prices.empty()

    def next_row(self) -> Row:
        return self.events.get_nowait() if not self.events.empty() else self.prices.get_nowait()

    def queued(self) -> int:
        return self.trades.qsize() + self.events.qsize() + self.prices.qsize()


class Chunk:
    """Rows sent to the database process and not yet committed, with the outboxes they
    release."""

    __slots__ = ("outboxes", "rows", "seq", "tables")

    def __init__(self, seq: int, outboxes: list[Outbox], batch: Batch) -> None:
        self.seq = seq
        self.outboxes = outboxes
        self.tables = batch.tables()
        self.rows = len(batch)


class Writer:
    def __init__(
        self,
        path: str,
        queues: DbQueues,
        release: Callable[[Outbox], None],
        batch_rows: int = 1000,
        linger: float = 0.0,
        *,
        max_pages: int | None = None,
        wal_bytes: int = 16 * 1024 * 1024,
        checkpoint_every: float = 5.0,
        on_commit: Callable[[float], None] | None = None,
    ) -> None:
        self.path = path
        self.queues = queues
        self.release = release
        """Sends each committed outbox (`Release.release`), in order."""
        self.batch_rows = batch_rows
        self.linger = linger
        self.max_pages = max_pages
        """The database file may hold at most this many pages (SQLite's max_page_count);
        past it a commit fails as on a full disk. None: no limit but the disk's."""
        self.wal_bytes = wal_bytes
        self.checkpoint_every = checkpoint_every
        self.db: DatabaseProcess | None = None
        """The connection, in a process of its own (`store/process.py`)."""
        self.replies: deque[list[Any]] = deque()
        """What the database process said, for the writer's task to act on."""
        self.gone = False
        """The database process's output ended: it is started again."""
        self.unconfirmed: deque[Chunk] = deque()
        """Chunks sent and not yet committed, in order."""
        self.unconfirmed_rows = 0
        self.max_unconfirmed_rows = 10 * batch_rows
        """Past this the writer takes nothing more from its queues (back-pressure)."""
        self.next_seq = 1
        self.name = secrets.token_hex(8)
        """This writer's, for the marks its transactions leave in the file: a database
        process started again skips the chunks marked as committed."""
        self.restarts = 0
        """Times the database process was started again after it ended."""
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-checkpoint")
        """Where the first step of a checkpoint runs (SQLite works there without the GIL)."""
        self.checkpoint_sizes: deque[int] = deque()
        """The WAL's size at each checkpoint sent and not yet answered."""
        self.transactions = 0
        self.rows_written = 0
        self.failures = 0
        self.last_error: str | None = None
        self.failing = False
        """True from a failed commit until a commit succeeds: order entry is closed."""
        self.trouble = asyncio.Event()
        """Set while `failing`, for whoever waits on a commit and must not wait forever."""
        self.checkpoints = 0
        self.checkpointed_bytes = 0
        """The sizes of the WAL at each completed checkpoint, summed: what went through it."""
        self.checkpoint_busy = 0
        """Checkpoints that could not empty the WAL (a reader held an old snapshot)."""
        self.wal_bytes_max = 0
        """The largest size of the WAL file seen before a checkpoint."""
        self.last_checkpoint = time.monotonic()
        self.backfill: asyncio.Future[None] | None = None
        """The first step of a checkpoint while it runs beside the commits."""
        self.latencies_ms: deque[float] = deque(maxlen=1000)
        self.on_commit = on_commit
        """Told the seconds of every committed transaction (the metrics)."""
        self.batch_sizes: deque[int] = deque(maxlen=1000)

    # -- the database process ---------------------------------------------------------

    async def open(self) -> None:
        self.gone = False
        self.db = await DatabaseProcess.start(
            self.path, self.batch_rows, self.name, self.pragmas(), self.heard, self.ended
        )

    def pragmas(self) -> list[str]:
        # Commits only append to the WAL (no fsync with synchronous=NORMAL); the fsyncs
        # come with checkpoints.
        pragmas = ["PRAGMA wal_autocheckpoint = 0"]
        # Whenever SQLite restarts the WAL it cuts the file back to this size.
        pragmas.append(f"PRAGMA journal_size_limit = {int(self.wal_bytes)}")
        if self.max_pages is not None:
            pragmas.append(f"PRAGMA max_page_count = {int(self.max_pages)}")
        return pragmas

    def heard(self, reply: list[Any]) -> None:
        self.replies.append(reply)
        self.queues.wake.set()

    def ended(self) -> None:
        self.gone = True
        self.queues.wake.set()

    async def restart(self) -> None:
        """Start the database process again and send it every unconfirmed chunk: it
        may have committed some before it ended, which the new one skips (by the mark
        each transaction leaves in the file)."""
        if self.db is not None:
            await self.db.kill()
        self.db = None
        self.restarts += 1
        self.failed(StoreError("the database process ended"))
        backoff = 0.05
        while self.db is None:
            try:
                await self.open()
            except Exception as exc:
                self.failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        for chunk in self.unconfirmed:
            self.db.send(["rows", chunk.seq, chunk.tables])
        self.checkpoint_sizes.clear()  # the old process's were lost with it

    # -- the task ---------------------------------------------------------------------

    async def run(self) -> None:
        if self.db is None:
            await self.open()
        while True:
            await self.step(wait=True)

    async def step(self, wait: bool) -> None:
        """Act on what the database process said, then send what has gathered."""
        wake = self.queues.wake
        while wait and not self.has_work():
            wake.clear()
            await wake.wait()
        while self.replies:
            self.act_on(self.replies.popleft())
        if self.gone:
            await self.restart()
        if self.unconfirmed_rows < self.max_unconfirmed_rows:
            outboxes, batch = await self.gather(wait)
            if outboxes or len(batch):
                self.send(outboxes, batch)
        self.fold_wal()

    def has_work(self) -> bool:
        queues = self.queues
        if self.replies or self.gone or (self.backfill is not None and self.backfill.done()):
            return True
        if self.unconfirmed_rows >= self.max_unconfirmed_rows:
            return False
        return not queues.trades.empty() or queues.rows_waiting()

    async def gather(self, wait: bool) -> tuple[list[Outbox], Batch]:
        """Take what is waiting, up to `batch_rows` rows; with `linger`, wait that long
        for more (the database process already commits whatever has arrived at once)."""
        outboxes: list[Outbox] = []
        batch = Batch()
        queues, wake = self.queues, self.queues.wake
        deadline = time.monotonic() + self.linger
        rows = 0
        while rows < self.batch_rows:
            if not queues.trades.empty():
                outbox = queues.trades.get_nowait()
                outboxes.append(outbox)
                rows += add_outbox(batch, outbox)
            elif queues.rows_waiting():
                table, row = queues.next_row()
                getattr(batch, table).append(row)
                rows += 1
            elif wait and rows and (left := deadline - time.monotonic()) > 0:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), left)
            else:
                break
        return outboxes, batch

    def send(self, outboxes: list[Outbox], batch: Batch) -> None:
        """Send a chunk; outboxes without rows (markers that what came before is
        durable) go with the last chunk sent, or out at once when all is committed."""
        if not len(batch):
            if self.unconfirmed:
                self.unconfirmed[-1].outboxes.extend(outboxes)
            else:
                for outbox in outboxes:
                    self.release(outbox)
            return
        chunk = Chunk(self.next_seq, outboxes, batch)
        self.next_seq += 1
        self.unconfirmed.append(chunk)
        self.unconfirmed_rows += chunk.rows
        if self.db is not None and not self.gone:  # else `restart` sends it
            self.db.send(["rows", chunk.seq, chunk.tables])

    def act_on(self, reply: list[Any]) -> None:
        kind = reply[0]
        if kind == "committed":
            self.committed(reply[1], reply[2], reply[3])
        elif kind == "failing":
            self.failed(StoreError(reply[2]))
        elif kind == "checkpointed":
            self.checkpointed(reply[2], reply[3])

    def committed(self, seq: int, rows: int, seconds: float) -> None:
        """Every chunk up to `seq` is in the file: release their outboxes, in order."""
        while self.unconfirmed and self.unconfirmed[0].seq <= seq:
            chunk = self.unconfirmed.popleft()
            self.unconfirmed_rows -= chunk.rows
            for outbox in chunk.outboxes:
                self.release(outbox)
        if self.failing:
            log.warning("database writes succeed again; order entry reopens")
        self.failing = False
        self.trouble.clear()
        self.last_error = None
        if rows:  # no rows: chunks a process before this one had committed, skipped
            self.counted(rows, seconds)

    def counted(self, rows: int, seconds: float) -> None:
        """A transaction of `rows` rows took `seconds` (for /health and the metrics)."""
        self.transactions += 1
        self.rows_written += rows
        self.batch_sizes.append(rows)
        self.latencies_ms.append(seconds * 1000)
        if self.on_commit is not None:
            self.on_commit(seconds)

    def failed(self, exc: Exception) -> None:
        """A commit failed: close order entry (at once, before anyone else runs)."""
        self.failures += 1
        self.last_error = repr(exc)
        self.failing = True
        self.trouble.set()
        log.error(
            "database write failed; retrying",
            extra={"error": repr(exc), "rows": self.unconfirmed_rows},
        )

    # -- checkpoints ------------------------------------------------------------------

    def wal_size(self) -> int:
        try:
            return os.path.getsize(f"{self.path}-wal")
        except OSError:
            return 0

    def checkpoint_due(self) -> bool:
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_every:
            return self.wal_size() > 0
        return self.wal_size() >= self.wal_bytes

    def fold_wal(self) -> None:
        """Start a checkpoint's first step when one is due; once that step is done, have
        the database process finish it (`wal_checkpoint(TRUNCATE)` between two of its
        transactions)."""
        backfill = self.backfill
        if backfill is None:
            if self.db is not None and not self.checkpoint_sizes and self.checkpoint_due():
                self.last_checkpoint = time.monotonic()
                loop = asyncio.get_running_loop()
                self.backfill = loop.run_in_executor(self.checkpointer, backfill_wal, self.path)
                self.backfill.add_done_callback(lambda _: self.queues.wake.set())
            return
        if not backfill.done():
            return
        self.backfill = None
        if (exc := backfill.exception()) is not None:  # the second step does it all then
            log.warning("WAL copy beside the commits failed", extra={"error": repr(exc)})
        size = self.wal_size()
        self.wal_bytes_max = max(self.wal_bytes_max, size)
        self.last_checkpoint = time.monotonic()
        if self.db is not None and not self.gone:
            self.checkpoint_sizes.append(size)
            self.db.send(["checkpoint", self.next_seq])

    def checkpointed(self, busy: bool, error: str | None) -> None:
        size = self.checkpoint_sizes.popleft() if self.checkpoint_sizes else 0
        if error is not None:  # a full disk may refuse it too: the next one retries
            log.error("WAL checkpoint failed", extra={"error": error})
            return
        self.checkpoints += 1
        if not busy:
            self.checkpointed_bytes += size
        else:
            self.checkpoint_busy += 1
            log.warning("WAL checkpoint incomplete: a reader holds an old snapshot")

    # -- stopping ---------------------------------------------------------------------

    async def close(self) -> None:
        """Commit what is still queued or unconfirmed, then close (a clean stop loses
        nothing either); what the database still refuses after `STOP_SECONDS` is given up."""
        if self.db is None:
            return
        try:
            await asyncio.wait_for(self.drain(), STOP_SECONDS)
        except TimeoutError:
            log.error(
                "stopping with rows the database refused", extra={"rows": self.unconfirmed_rows}
            )
        if self.backfill is not None:
            with contextlib.suppress(Exception):  # the database is consistent either way
                await self.backfill
            self.backfill = None
        if self.db is not None:
            await self.db.close(2.0)
        self.db = None
        self.checkpointer.shutdown(wait=True)

    async def drain(self) -> None:
        queues = self.queues
        while self.unconfirmed or not queues.trades.empty() or queues.rows_waiting():
            await self.step(wait=True)

    def health(self) -> dict[str, Any]:
        latencies = sorted(self.latencies_ms)
        sizes = list(self.batch_sizes)
        return {
            "ok": not self.failing,
            "failing": self.failing,
            "last_error": self.last_error,
            "transactions": self.transactions,
            "rows_written": self.rows_written,
            "write_failures": self.failures,
            "prices_thinned": self.queues.thinned,
            "queued": self.queues.queued() + self.unconfirmed_rows,
            "write_ms_p50": _percentile(latencies, 0.5),
            "write_ms_p99": _percentile(latencies, 0.99),
            "batch_rows_mean": round(sum(sizes) / len(sizes), 1) if sizes else None,
            "wal_bytes": self.wal_size(),
            "wal_bytes_max": max(self.wal_bytes_max, self.wal_size()),
            "checkpoints": self.checkpoints,
            "checkpointed_bytes": self.checkpointed_bytes,
            "checkpoints_busy": self.checkpoint_busy,
            "process_restarts": self.restarts,
        }


def add_outbox(batch: Batch, outbox: Outbox) -> int:
    """Add an outbox's rows to the batch; how many rows that was."""
    before = trading_rows(batch)
    for order in outbox.orders:
        batch.add_order(order)
    for trade, buy, sell, _, _ in outbox.trades:
        batch.add_trade(trade, buy, sell)
    for cancelled in outbox.cancels:
        batch.add_cancel(cancelled)
    added = trading_rows(batch) - before
    for table, row in outbox.rows:
        getattr(batch, table).append(row)
    return added + len(outbox.rows)


def trading_rows(batch: Batch) -> int:
    """The rows of the tables an outbox's orders, trades and cancels go to: these are
    counted at every outbox, not the batch's sixteen tables."""
    return len(batch.orders) + len(batch.trades) + len(batch.order_fills) + len(batch.cancels)


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
