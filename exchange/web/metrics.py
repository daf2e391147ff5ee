"""`GET /metrics`: the exchange's figures in the Prometheus text format (no envelope, no
key: what a scraper reads). Besides what `exchange.pipeline.metrics` measures as it
happens, each scrape reads the queues, the open connections, the task restarts and the
database writer's counters as they stand."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.web.game import Game


def metrics_route(exchange: Game) -> Route:
    registry = exchange.metrics.registry
    exchange.metrics.watch("exchange", lambda: figures(exchange))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"])


def figures(e: Game) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "exchange_queue_depth", "Items waiting in a queue between tasks", labels=["queue"]
    )
    queues = e.queue_depths()
    if e.writer is not None:
        db = e.writer.queues
        queues |= {"db_trades": db.trades.qsize(), "db_events": db.events.qsize(),
                   "db_prices": db.prices.qsize()}  # fmt: skip
    for name, size in queues.items():
        depth.add_metric([name], size)
    yield depth
    yield GaugeMetricFamily(
        "exchange_open_connections", "Open WebSocket connections (teams' and spectators')",
        value=e.fanout.connections(),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "exchange_orders_awaiting_report", "Accepted orders whose first report is not out",
        value=e.metrics.pending(),
    )  # fmt: skip
    yield restarts(e.supervisor.restarts)
    if e.writer is not None:
        w = e.writer
        yield CounterMetricFamily(
            "exchange_db_write_failures", "Database transactions that failed (and were retried)",
            value=w.failures,
        )  # fmt: skip
        yield CounterMetricFamily(
            "exchange_db_rows_written", "Rows committed to the database", value=w.rows_written
        )
        yield GaugeMetricFamily(
            "exchange_db_failing", "1 while the database cannot commit", value=int(w.failing)
        )


def restarts(by_task: dict[str, int]) -> CounterMetricFamily:
    """Restarts by kind of task: the matchers (one per instrument) counted together."""
    family = CounterMetricFamily(
        "exchange_task_restarts", "Tasks restarted after a crash", labels=["task"]
    )
    kinds: dict[str, int] = {}
    for name, count in by_task.items():
        kind = name.partition(":")[0]
        kinds[kind] = kinds.get(kind, 0) + count
    for kind, count in sorted(kinds.items()):
        family.add_metric([kind], count)
    return family
