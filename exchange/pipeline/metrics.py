"""The exchange's Prometheus metrics, in a registry of its own (not the process-wide
default, so several exchanges in one process keep apart).

Measured as things happen, at a small fixed cost per order: how long the API took to
answer an order (route entry to answer), how long from the validator's accept to the
release of the order's first execution report, orders by outcome and error code, and
the database's commit times. Read at scrape time, at no cost between scrapes: queue
depths, open connections, task restarts, the writer's counters (`watch`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exchange.domain.types import OrderId
from exchange.pipeline.items import Outbox

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
)  # fmt: skip
"""Seconds: an order is answered in well under a millisecond on an idle exchange."""
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: the loop's timer is kept in milliseconds, and a stall is tens of them."""
MAX_PENDING = 100_000
"""Accepted orders awaiting their first report that are timed; beyond it the oldest are
forgotten (an order the venue refused after the accept never gets an ack)."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.answer_seconds = Histogram(
            "exchange_order_answer_seconds",
            "From a POST /orders or /quotes reaching its route to its answer",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.report_seconds = Histogram(
            "exchange_order_report_seconds",
            "From the validator accepting an order to the release of its first report",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.db_write_seconds = Histogram(
            "exchange_db_write_seconds", "One database transaction (a batch of rows)",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.loop_lag_seconds = Histogram(
            "exchange_loop_lag_seconds",
            "How late the event loop woke a timer due every 10 ms (how long it was held)",
            buckets=LOOP_LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.orders = Counter(
            "exchange_orders", "Orders and quotes answered, by outcome and error code",
            ["outcome", "code"], registry=r,
        )  # fmt: skip
        self._by_code: dict[str, Callable[[], None]] = {}
        self._accepted_at: dict[OrderId, float] = {}
        self._watched: set[str] = set()

    def answered(self, started: float, code: str) -> None:
        """An order or quote was answered: accepted (no code) or refused with `code`."""
        self.answer_seconds.observe(time.perf_counter() - started)
        count = self._by_code.get(code)
        if count is None:
            outcome = "rejected" if code else "accepted"
            count = self._by_code[code] = self.orders.labels(outcome, code).inc
        count()

    def admitted(self, order_ids: Iterable[OrderId]) -> None:
        """The validator accepted these orders (a quote's two legs) just now."""
        now, pending = time.perf_counter(), self._accepted_at
        for order_id in order_ids:
            pending[order_id] = now
        while len(pending) > MAX_PENDING:
            del pending[next(iter(pending))]

    def released(self, out: Outbox) -> None:
        """A publisher tap: the acks in `out` have been released to their teams."""
        pending = self._accepted_at
        if not pending:
            return
        now = time.perf_counter()
        for order in out.orders:
            started = pending.pop(order.order_id, None)
            if started is not None:
                self.report_seconds.observe(now - started)

    def pending(self) -> int:
        return len(self._accepted_at)

    def watch(self, name: str, collect: Callable[[], Iterable[Metric]]) -> None:
        """Figures read at each scrape; a name watched already is not added again."""
        if name not in self._watched:
            self._watched.add(name)
            self.registry.register(_Scraped(collect))


class _Scraped(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()

    def describe(self) -> Iterable[Metric]:
        return ()  # nothing to read before the exchange runs
