"""`GET /metrics`: the Prometheus text format, parsed by prometheus_client's own parser;
its counters and histograms move with the traffic sent, and two exchanges in one
process keep their figures apart."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from exchange.web.metrics import restarts
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox, serve
from tests.server.test_health import crash_loop
from tests.support import is_type, recv_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str) -> Samples:
    reply = httpx.get(base + "/metrics", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_figures_move_with_orders_answers_reports_and_commits(tmp_path: Path) -> None:
    with run_server(sandbox(**UNTHROTTLED), db_path=tmp_path / "game.db") as base:
        option = next(
            i["instrument_id"] for i in httpx.get(base + "/instruments").json()["data"]
            if i["kind"] != "UNDERLYING"
        )  # fmt: skip
        before = scrape(base)
        maker, taker = Bot(base), Bot(base, "hedge_fund")
        with connect(maker.ws_url, additional_headers={"X-API-Key": maker.key}) as ws:
            recv_until(ws, is_type("position_snapshot"))
            during = scrape(base)
            for n in range(5):
                assert maker.order(option, "sell", 1, 2.0 + n / 100).status_code == 201
            assert maker.quote(option, 1.50, 1.60).status_code == 201
            assert taker.order(option, "buy", 2, 2.01).status_code == 201
            assert maker.order(option, "sell", 1, 2.001).status_code == 400  # off the grid
            assert maker.order("NOPE", "sell", 1, 2.0).status_code == 400
            recv_until(ws, lambda m: m["type"] == "new_order_ack" and m["data"]["price"] == 1.6)
            after = wait_for_reports(base, 5 + 2 + 1)
        for bot in (maker, taker):
            bot.http.delete("/orders")
            bot.close()
    accepted = value(after, "exchange_orders_total", outcome="accepted", code="")
    assert accepted - value(before, "exchange_orders_total", outcome="accepted", code="") == 7
    assert value(after, "exchange_orders_total", outcome="rejected", code="INVALID_PRICE") == 1
    assert (
        value(after, "exchange_orders_total", outcome="rejected", code="INVALID_INSTRUMENT") == 1
    )
    assert value(after, "exchange_order_answer_seconds_count") == 9
    assert value(after, "exchange_order_answer_seconds_bucket", le="+Inf") == 9
    assert value(after, "exchange_order_answer_seconds_sum") > 0
    for name in ("exchange_db_write_seconds_count", "exchange_db_rows_written_total"):
        assert value(after, name) > value(before, name), name
    assert value(after, "exchange_db_write_failures_total") == 0
    assert value(during, "exchange_open_connections") == 1
    assert value(before, "exchange_open_connections") == 0
    assert ("exchange_queue_depth", (("queue", "orders"),)) in after
    assert ("exchange_queue_depth", (("queue", "db_trades"),)) in after
    assert value(after, "exchange_orders_awaiting_report") == 0


def wait_for_reports(base: str, count: int) -> Samples:
    """The scrape once `count` orders have had their first report released (each ack is
    released after its commit, so it may trail the answer)."""
    deadline = time.monotonic() + 5
    while True:
        samples = scrape(base)
        if value(samples, "exchange_order_report_seconds_count") >= count:
            return samples
        if time.monotonic() > deadline:
            pytest.fail(f"reports timed: {value(samples, 'exchange_order_report_seconds_count')}")
        time.sleep(0.05)


def test_two_exchanges_in_one_process_keep_their_own_figures() -> None:
    with run_server() as one, run_server() as two:
        bot = Bot(one)
        option = next(
            i["instrument_id"] for i in httpx.get(one + "/instruments").json()["data"]
            if i["kind"] != "UNDERLYING"
        )  # fmt: skip
        assert bot.order(option, "buy", 1, 1.0).status_code == 201
        bot.http.delete("/orders")
        bot.close()
        assert value(scrape(one), "exchange_orders_total", outcome="accepted", code="") == 1
        assert value(scrape(two), "exchange_orders_total", outcome="accepted", code="") == 0


def test_restarts_count_the_matchers_together() -> None:
    family = restarts({"validator": 1, "matcher:SPX": 2, "matcher:SPY": 1, "writer": 0})
    counts = {s.labels["task"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert counts == {"matcher": 3, "validator": 1, "writer": 0}


def test_a_crash_looping_task_shows_in_the_restarts() -> None:
    with serve(allow_crashes=True) as served:
        assert value(scrape(served.base), "exchange_task_restarts_total", task="made") == 0
        crash_loop(served, "made:to_crash")
        restarts = value(scrape(served.base), "exchange_task_restarts_total", task="made")
        supervisor = served.exchange.supervisor
        served.on_loop(lambda: supervisor.stop_one("made:to_crash"))
    assert restarts >= 2
