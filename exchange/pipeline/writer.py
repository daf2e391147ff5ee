"""The database writer task: the only holder of the database connection.

How it works. The publisher hands over each outcome's `Outbox` (TradeDBQueue); market
prices and events arrive as rows (PriceDBQueue, EventDBQueue). The writer takes what has
gathered (up to `batch_rows` rows, lingering at most `linger` seconds for more), writes
it in one transaction with `executemany` per table, and only then releases the outboxes
to the fan-out, in order: group commit. A client is told of a fill only once the fill is
committed, so killing the process loses nothing a client has seen. The commit runs on
the loop: with WAL and synchronous=NORMAL it is an append to the WAL, no fsync. The
trading path never waits on the disk: the publisher only waits when TradeDBQueue is full,
and that back-pressure reaches the API as 503. Prices may be thinned when their queue is
full; trades and orders never are.

A failed write (a full disk, say) is logged, kept and retried with back-off; it never
kills the loop. From the first failed commit until one succeeds the writer is `failing`:
the validator and the registration route then refuse new orders, quotes and teams with
503, so nothing more is answered as accepted that a crash could take back (fail closed).
The retry of the kept batch reopens them by itself once the disk takes writes again.

Checkpoints, in two steps, both in a thread (the fsyncs stay off the loop). First a
second connection copies the WAL into the database file (PASSIVE) while the writer
goes on committing: that is the bulk of the work, tens of milliseconds for a WAL of
16 MiB, and no answer waits for it. Then, between two batches, the writer folds in what
came meanwhile with `wal_checkpoint(TRUNCATE)` on its own connection and waits for it:
only the writer appends to the WAL, so nothing races this step, which completes and
empties the file, and it is short (a few pages and the fsyncs). A checkpoint from
another connection alone, racing commits every few milliseconds, could never catch up
with the end of the WAL, so SQLite could never restart it, and it grew without bound.
The first step starts every `checkpoint_every` seconds and as soon as the WAL passes
`wal_bytes`, so the WAL stays under about `wal_bytes` plus what is committed while the
copy runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exchange.pipeline.items import Outbox
from exchange.store.db import Database, backfill_wal
from exchange.store.rows import Batch

log = logging.getLogger("exchange.writer")

Row = tuple[str, tuple[Any, ...]]
THINNABLE = frozenset({"prices", "position_snapshots"})
MAX_BACKOFF = 1.0
"""Seconds between retries of a failing commit, at most: order entry waits on it."""


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
        self.db: Database | None = None
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-checkpoint")
        self.stop_by: float | None = None
        """Set when the server stops: a failing write is given up after this moment."""
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

    async def open(self) -> None:
        self.db = Database.open(self.path)
        conn = self.db.conn
        # Commits only append to the WAL (no fsync with synchronous=NORMAL); the fsyncs
        # come with checkpoints, which `checkpoint` runs off the loop.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        # Whenever SQLite restarts the WAL it cuts the file back to this size.
        conn.execute(f"PRAGMA journal_size_limit = {int(self.wal_bytes)}")
        if self.max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")

    def wal_size(self) -> int:
        try:
            return os.path.getsize(f"{self.path}-wal")
        except OSError:
            return 0

    def checkpoint_due(self) -> bool:
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_every:
            return self.wal_size() > 0
        return self.wal_size() >= self.wal_bytes

    async def fold_wal(self) -> None:
        """Between two batches: start a checkpoint's first step when one is due, or,
        once that step is done, finish it (`checkpoint`). Never raises."""
        backfill = self.backfill
        if backfill is None:
            if self.checkpoint_due():
                self.last_checkpoint = time.monotonic()
                loop = asyncio.get_running_loop()
                self.backfill = loop.run_in_executor(self.checkpointer, backfill_wal, self.path)
            return
        if not backfill.done():
            return
        self.backfill = None
        if (exc := backfill.exception()) is not None:  # the second step does it all then
            log.warning("WAL copy beside the commits failed", extra={"error": repr(exc)})
        await self.checkpoint()

    async def checkpoint(self) -> None:
        """Fold the WAL into the database file and empty it: on the writer's connection,
        in a thread, while the writer waits (so no commit races it). Never raises."""
        assert self.db is not None
        size = self.wal_size()
        self.wal_bytes_max = max(self.wal_bytes_max, size)
        self.last_checkpoint = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            busy = await loop.run_in_executor(self.checkpointer, _checkpoint, self.db)
        except Exception as exc:  # a full disk may refuse it too: the next one retries
            log.error("WAL checkpoint failed", extra={"error": repr(exc)})
            return
        self.checkpoints += 1
        if not busy:
            self.checkpointed_bytes += size
        else:
            self.checkpoint_busy += 1
            log.warning("WAL checkpoint incomplete: a reader holds an old snapshot")

    async def close(self) -> None:
        """Write what is still queued, then close (a clean stop loses nothing either)."""
        if self.db is None:
            return
        self.stop_by = time.monotonic() + 5
        queues = self.queues
        while (
            not queues.trades.empty() or queues.rows_waiting()
        ) and time.monotonic() < self.stop_by:
            await self.flush_once(wait=False)
        if self.backfill is not None:
            with contextlib.suppress(Exception):  # the database is consistent either way
                await self.backfill
            self.backfill = None
        self.db.close()
        self.db = None
        self.checkpointer.shutdown(wait=True)

    async def run(self) -> None:
        if self.db is None:
            await self.open()
        while True:
            await self.flush_once(wait=True)
            await self.fold_wal()

    async def flush_once(self, wait: bool) -> None:
        outboxes, batch = await self.gather(wait)
        if len(batch) and not await self.write(batch):
            return  # stopping, and the database still refuses: nothing is released
        for outbox in outboxes:
            self.release(outbox)

    async def gather(self, wait: bool) -> tuple[list[Outbox], Batch]:
        """Take what is waiting, up to `batch_rows` rows; linger briefly for more."""
        outboxes: list[Outbox] = []
        batch = Batch()
        queues, wake = self.queues, self.queues.wake
        while wait and queues.trades.empty() and not queues.rows_waiting():
            wake.clear()
            await wake.wait()
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
            elif wait and (left := deadline - time.monotonic()) > 0:
                # Group commit: a commit costs about the same for one row or hundreds
                # (the pages it touches are rewritten either way), so wait a moment for
                # more; a fill waits at most `linger` longer for its report.
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), left)
            else:
                break
        return outboxes, batch

    async def write(self, batch: Batch) -> bool:
        """One transaction for the whole batch; on failure keep it and retry with back-off
        (until `stop_by`, when the server is stopping). False if it was never written."""
        backoff = 0.05
        while True:
            started = time.perf_counter()
            try:
                # On the loop, deliberately: with WAL and synchronous=NORMAL a commit is a
                # few hundred microseconds of CPU and no fsync. In a thread it fought the
                # busy loop for the GIL at every row and a 1000-row batch took a second.
                assert self.db is not None
                self.db.write_batch(batch)
            except Exception as exc:
                self.failed(exc, len(batch))
                if self.stop_by is not None and time.monotonic() > self.stop_by:
                    log.error(
                        "stopping with a batch the database refused", extra={"rows": len(batch)}
                    )
                    return False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if self.failing:
                log.warning("database writes succeed again; order entry reopens")
            self.failing = False
            self.trouble.clear()
            self.last_error = None
            self.transactions += 1
            self.rows_written += len(batch)
            self.batch_sizes.append(len(batch))
            seconds = time.perf_counter() - started
            self.latencies_ms.append(seconds * 1000)
            if self.on_commit is not None:
                self.on_commit(seconds)
            return True

    def failed(self, exc: Exception, rows: int) -> None:
        """A commit failed: close order entry (at once, before anyone else runs)."""
        self.failures += 1
        self.last_error = repr(exc)
        self.failing = True
        self.trouble.set()
        log.error("database write failed; retrying", extra={"error": repr(exc), "rows": rows})

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
            "queued": self.queues.queued(),
            "write_ms_p50": _percentile(latencies, 0.5),
            "write_ms_p99": _percentile(latencies, 0.99),
            "batch_rows_mean": round(sum(sizes) / len(sizes), 1) if sizes else None,
            "wal_bytes": self.wal_size(),
            "wal_bytes_max": max(self.wal_bytes_max, self.wal_size()),
            "checkpoints": self.checkpoints,
            "checkpointed_bytes": self.checkpointed_bytes,
            "checkpoints_busy": self.checkpoint_busy,
        }


def add_outbox(batch: Batch, outbox: Outbox) -> int:
    """Add an outbox's rows to the batch; how many rows that was."""
    before = len(batch)
    for order in outbox.orders:
        batch.add_order(order)
    for trade, buy, sell, _, _ in outbox.trades:
        batch.add_trade(trade, buy, sell)
    for cancelled in outbox.cancels:
        batch.add_cancel(cancelled)
    for table, row in outbox.rows:
        getattr(batch, table).append(row)
    return len(batch) - before


def _checkpoint(db: Database) -> bool:
    """Fold the whole WAL into the file and truncate it; True if a reader kept it from
    completing (SQLite's busy flag)."""
    busy, _, _ = db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return bool(busy)


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
