"""The asyncio pipeline: the supervisor, the scheduler, back-pressure on the order queue,
and the validator's count of orders in flight."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import subprocess
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from exchange.domain.phases import TradingDaySchedule
from exchange.domain.types import CancelReason, Phase, TeamId, TimeNs
from exchange.pipeline.items import PhaseStep
from exchange.pipeline.scheduler import Scheduler
from exchange.pipeline.supervisor import Supervisor
from exchange.pipeline.watchdog import Watchdog
from tests.server.harness import Bot, run_server, sandbox

CHICAGO = ZoneInfo("America/Chicago")

# -- the supervisor -----------------------------------------------------------------------


async def test_supervisor_restarts_a_task_that_raises(caplog: pytest.LogCaptureFixture) -> None:
    runs = 0
    running = asyncio.Event()

    async def body() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("boom")
        running.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(first_backoff=0.001)
    with caplog.at_level(logging.ERROR, logger="exchange.supervisor"):
        supervisor.start("worker", body)
        await asyncio.wait_for(running.wait(), timeout=5)
    assert runs == 2
    assert supervisor.restarts == {"worker": 1}
    assert supervisor.alive() == {"worker": True}
    crashes = [r for r in caplog.records if r.message == "task crashed; restarting"]
    assert len(crashes) == 1
    assert crashes[0].exc_info is not None and str(crashes[0].exc_info[1]) == "boom"
    await supervisor.stop()
    assert supervisor.tasks == {}


async def test_supervisor_restarts_a_task_that_returns_and_stop_cancels_it() -> None:
    runs = 0
    third = asyncio.Event()

    async def body() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()
            await asyncio.Event().wait()

    supervisor = Supervisor(first_backoff=0.001)
    supervisor.start("worker", body)
    await asyncio.wait_for(third.wait(), timeout=5)
    task = supervisor.tasks["worker"]
    assert supervisor.restarts == {"worker": 2}
    await supervisor.stop()
    assert task.cancelled()


async def test_stop_copes_with_tasks_that_stop_and_start_others_as_they_wind_down() -> None:
    """An expiry delists (stops a matcher) and lists (starts one) as it is cancelled."""
    supervisor = Supervisor()
    started = asyncio.Event()

    async def idle() -> None:
        await asyncio.Event().wait()

    async def expiry() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await supervisor.stop_one("matcher-old")
            supervisor.start("matcher-new", idle)

    supervisor.start("expiry", expiry)
    supervisor.start("matcher-old", idle)
    for n in range(3):
        supervisor.start(f"other-{n}", idle)
    await asyncio.wait_for(started.wait(), timeout=5)
    tasks = list(supervisor.tasks.values())
    await asyncio.wait_for(supervisor.stop(), timeout=5)
    assert supervisor.tasks == {}
    assert all(task.done() for task in tasks)
    assert "matcher-new" not in supervisor.restarts  # not started while stopping


# -- the scheduler ------------------------------------------------------------------------


def game_ns(hhmmss: str) -> TimeNs:
    when = dt.datetime.combine(dt.date(2026, 11, 24), dt.time.fromisoformat(hhmmss), CHICAGO)
    return TimeNs(int(when.timestamp()) * 1_000_000_000)


class LateWaker:
    """A game clock on which every wait ends a little after the moment waited for, as
    `asyncio.sleep` does: a sleep never ends early, and the clock keeps running."""

    def __init__(self, start: TimeNs, overshoot_ns: int) -> None:
        self.t = start
        self.overshoot_ns = overshoot_ns

    def now(self) -> TimeNs:
        return self.t

    def wall_seconds_until(self, game_ns: int) -> float:
        if game_ns <= self.t:
            return 0.0
        self.t = TimeNs(game_ns + self.overshoot_ns)  # the sleep that follows ends late
        return 0.001


class Venue:
    phase = Phase.PRE_OPEN


async def test_scheduler_enters_every_phase_in_order_even_when_it_wakes_late() -> None:
    clock = LateWaker(game_ns("09:29:00"), overshoot_ns=1_000_000)
    matchers: dict[Any, asyncio.Queue[Any]] = {"SPX": asyncio.Queue(), "SPY": asyncio.Queue()}
    announced: list[tuple[Phase, Phase, TimeNs]] = []
    closed = asyncio.Event()

    def announce(previous: Phase, phase: Phase, at: TimeNs) -> None:
        announced.append((previous, phase, at))
        if phase is Phase.CLOSED:
            closed.set()

    schedule = TradingDaySchedule(CHICAGO)
    scheduler = Scheduler(schedule, clock, Venue(), matchers, announce)  # type: ignore[arg-type]
    task = asyncio.get_running_loop().create_task(scheduler.run())
    try:
        await asyncio.wait_for(closed.wait(), timeout=5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    expected = [
        (Phase.PRE_OPEN, Phase.OPENING_AUCTION, game_ns("09:29:30")),
        (Phase.OPENING_AUCTION, Phase.CONTINUOUS, game_ns("09:30:00")),
        (Phase.CONTINUOUS, Phase.CLOSED, game_ns("15:00:00")),
    ]
    assert announced[:3] == expected
    for queue in matchers.values():
        steps = [queue.get_nowait() for _ in range(queue.qsize())]
        assert steps[:3] == [PhaseStep(phase, at) for _, phase, at in expected]


async def test_a_change_between_reading_the_phase_and_starting_the_scheduler_is_applied() -> None:
    # The venue's phase was read at 09:29:20 (PRE_OPEN); the task starts at 09:29:40, after
    # the auction call began: the scheduler must still enter OPENING_AUCTION.
    clock = LateWaker(game_ns("09:29:40"), overshoot_ns=0)
    announced: list[Phase] = []
    schedule = TradingDaySchedule(CHICAGO)
    scheduler = Scheduler(
        schedule,
        clock,  # type: ignore[arg-type]
        Venue(),  # type: ignore[arg-type]
        {},
        lambda _, phase, __: announced.append(phase),
        TimeNs(game_ns("09:29:20")),
    )
    task = asyncio.get_running_loop().create_task(scheduler.run())
    try:
        for _ in range(100):
            if announced:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert announced[:1] == [Phase.OPENING_AUCTION]


# -- back-pressure and in-flight accounting ------------------------------------------------

# Sends POST /orders on many connections at once from a process of its own. A client in
# the test process shares the interpreter lock with the server's thread, so its requests
# reach the server one at a time and no two are ever waiting in the queue together; from
# another process they arrive together and the validator sees them as one burst.
FIRE_AT_ONCE = r"""
import json, socket, sys

host, port, key, bodies = json.load(sys.stdin)


def request(method, path, body=b""):
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(":", 1) for line in lines[1:])
    while len(body) < int(fields["content-length"]):
        body += sock.recv(65536)
    return [int(lines[0].split()[1]), json.loads(body)]


socks = [socket.create_connection((host, port), timeout=10) for _ in bodies]
for sock in socks:  # every connection accepted and ready before the burst
    sock.sendall(request("GET", "/health"))
    response(sock)
posts = [request("POST", "/orders", json.dumps(b).encode()) for b in bodies]
for sock, post in zip(socks, posts):
    sock.sendall(post)
replies = [response(sock) for sock in socks]
for sock in socks:
    sock.close()
json.dump(replies, sys.stdout)
"""


def fire_at_once(base: str, key: str, bodies: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """(status, envelope) for each body, in order."""
    host, port = base.removeprefix("http://").split(":")
    done = subprocess.run(
        [sys.executable, "-c", FIRE_AT_ONCE], input=json.dumps([host, int(port), key, bodies]),
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return [(status, envelope) for status, envelope in json.loads(done.stdout)]


def order(instrument: str, side: str, quantity: int, price: float) -> dict[str, Any]:
    return {"instrument_id": instrument, "side": side, "quantity": quantity, "price": price}


def test_a_full_order_queue_answers_503_and_the_server_keeps_working() -> None:
    config = sandbox(server={"order_queue_size": 1}, disabled_constraints=["order_rate"])
    with run_server(config) as base:
        bot = Bot(base)
        try:
            replies = fire_at_once(base, bot.key, [order("SPX", "buy", 1, 10.0)] * 30)
            after = bot.order("SPX", "buy", 1, 10.0)
            resting = bot.http.get("/orders").json()["data"]
        finally:
            bot.close()
    busy = [envelope for status, envelope in replies if status == 503]
    accepted = [envelope for status, envelope in replies if status == 201]
    assert busy, "no request found the order queue full"
    assert accepted, "the queue took nothing"
    assert len(busy) + len(accepted) == len(replies)
    for envelope in busy:
        assert (envelope["success"], envelope["data"]) == (False, None)
        assert envelope["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert all(e["success"] is True and e["order_id"] for e in accepted)
    assert after.status_code == 201, after.text
    # Every accepted order, and only those, rests in the book.
    expected = {e["order_id"] for e in accepted} | {after.json()["order_id"]}
    assert {o["order_id"] for o in resting} == expected


def test_concurrent_buys_past_the_position_limit_are_refused_while_in_flight() -> None:
    """A market maker may hold +-50 per option: twenty buys of 10 sent at once leave five
    accepted, though none was in a book yet when the others were checked."""
    with run_server(sandbox(disabled_constraints=["order_rate"])) as base:
        bot = Bot(base)
        try:
            listed = bot.http.get("/instruments").json()["data"]
            option = next(i["instrument_id"] for i in listed if i["strike"] is not None)
            replies = fire_at_once(base, bot.key, [order(option, "buy", 10, 1.0)] * 20)
            resting = bot.http.get("/orders").json()["data"]
            positions = bot.positions()
        finally:
            bot.close()
    accepted = [envelope for status, envelope in replies if status == 201]
    refused = [(status, envelope) for status, envelope in replies if status != 201]
    assert len(accepted) == 5
    for status, envelope in refused:
        assert status == 422, envelope
        assert envelope["error"]["code"] == "POSITION_LIMIT_EXCEEDED"
    assert sorted(o["order_id"] for o in resting) == sorted(e["order_id"] for e in accepted)
    assert sum(o["remaining"] for o in resting) == 50
    assert positions["positions"] == []  # nothing traded


async def test_dead_mans_switch_waits_while_the_phase_refuses_cancels() -> None:
    """During the auction's freeze a user's cancel is refused; the switch waits too, then
    fires once cancels are allowed again, once per silence."""
    orders: asyncio.Queue[Any] = asyncio.Queue()
    frozen = True
    watchdog = Watchdog(orders, lambda: not frozen)
    team = TeamId("T0001")
    watchdog.arm(team, 0.5)
    later = time.monotonic() + 10
    watchdog.check(later)
    assert orders.empty()
    frozen = False
    watchdog.check(later)
    watchdog.check(later + 1)
    assert orders.qsize() == 1
    item = orders.get_nowait()
    assert (item.team_id, item.reason) == (team, CancelReason.DEAD_MANS_SWITCH)
