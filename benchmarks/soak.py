"""`nox -s soak`: a running game under a steady crowd, for minutes, watched from outside.

The server runs in its own process (`serve --preset demo --speed 60`, a SQLite file in a
temporary directory, 127.0.0.1). Registered on it: 300 idle teams, which open no stream
(they hold their place in every team table, and the broadcasts' history counts them),
and 30 load bots (`bots.load`), each a market maker with its own WebSocket stream,
sending at 4 orders a second each (under the role's 10 a second). The bots run in a
process of their own; this process only watches: every `--sample` seconds it prints
the server's RSS (`/proc/PID/status`), the WAL file's size and the latency of `/health`
(polled every 0.5 s: p50, p99 and max over the interval).

At the end each bot checks its stream: the `seq` of its stream messages rose by one
with no gap (a `resync_required` counts what it skipped), and every order answered 201
was heard of on the stream (ack, fill, cancel or reject) or is among `GET /orders`; what
is neither is lost. Task crashes are the `restarts` and `failing` tasks of `/health`.
The last line is JSON:

    {"bench": "soak", "rss_growth_mb": X, "wal_mb": Y, "lost_messages": 0, "task_crashes": 0,
     "loop_stalls": S, "loop_worst_ms": W}

`loop_stalls` and `loop_worst_ms` are `/health`'s `loop` at the end: the times the
server's event loop was held 50 ms or more, and the longest.

`rss_growth_mb` is the RSS (the server's and its database process's) at the end minus
the RSS after the warm-up (the first minute, or the first 20% of a shorter run),
`wal_mb` the largest WAL seen. The bots' process shares this machine's cores with the
server, so latencies include that contention.

What the server holds per team is bounded, and the bounds are reached early: each
team's stream history keeps the last minute (`server.history_seconds`; a bot here is
sent about 9 messages of its own a second, an idle team only the shared broadcasts,
which are kept once), and the `request_id`s remembered for retries are the last 256 a
team sent (`server.idempotency_keys`; a bot here has 2.3 orders a second accepted, so
it reaches them in about two minutes, some 2 MB for all 30 past the warm-up). What still
grows after the warm-up grows with the game, not with teams x time: the game's fills,
kept for `GET /fills` for its length (about 120 a second here, both sides counted),
and, slower, the scorer's P&L points and the dashboard's market history, each a ring
per team or per sample with its own bound (`scoring.max_pnl_points`,
`server.market_history`).

    python -m benchmarks.soak --minutes 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from benchmarks.load import free_port
from benchmarks.stream import HOST
from bots.load import ROLE, LoadBot, LoadStats, reference_mid
from exchange.client import Client, ExchangeError
from exchange.wire.messages import STREAM_TYPES, Message

BOTS = 30
IDLE_TEAMS = 300
RATE_PER_BOT = 4.0
"""Orders a second per bot: a market maker may send 10."""
HEALTH_EVERY = 0.5
SETTLE_SECONDS = 15.0
"""How long a bot waits, after its last order, to hear of every order it was answered."""
MB = 1024 * 1024


# -- the server, as a process ----------------------------------------------------------


class Server:
    """`python -m exchange serve --preset demo` on a free loopback port, its log in a file."""

    def __init__(self, tmp: Path, speed: float) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.db = tmp / "soak.db"
        self.log = tmp / "server.log"
        command = [sys.executable, "-m", "exchange", "serve", "--preset", "demo",
                   "--speed", str(speed), "--host", HOST, "--port", str(self.port),
                   "--db", str(self.db), "--log-level", "warning"]  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(f"the server did not answer within {timeout:g}s: {self.tail()}")

    def rss_mb(self) -> float:
        """VmRSS of the server's process and its children (the database process), in
        MiB."""
        pids = [self.proc.pid, *children(self.proc.pid)]
        return sum(vm_rss_kb(pid) for pid in pids) / 1024

    def wal_mb(self) -> float:
        try:
            return os.path.getsize(f"{self.db}-wal") / MB
        except OSError:
            return 0.0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def children(pid: int) -> list[int]:
    """The pids of a process's children (every thread's), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(n) for n in (task / "children").read_text().split()]
    return found


def vm_rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # it ended meanwhile
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


@contextlib.contextmanager
def running(tmp: Path, speed: float) -> Iterator[Server]:
    server = Server(tmp, speed)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# -- the bots' process: load bots that check their streams -----------------------------


class SoakBot(LoadBot):
    """A load bot that remembers what it was answered and checks what its stream says."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.answered: set[str] = set()
        """Orders answered 201 not yet heard of on the stream."""
        self.early: set[str] = set()
        """Orders acknowledged on the stream before their HTTP answer came."""
        self.last_seq: int | None = None
        self.gaps = 0
        """Stream messages skipped: seqs missing between two that arrived."""

    def accepted(self, order_id: str) -> None:
        if order_id in self.early:
            self.early.remove(order_id)
        else:
            self.answered.add(order_id)

    def handle(self, message: Message) -> None:
        self.check_seq(message)
        if message.type in ("new_order_ack", "execution_report", "order_cancelled"):
            order_id = str(message.data.get("order_id"))
            if order_id in self.answered:
                self.answered.remove(order_id)
            elif message.type == "new_order_ack":
                self.early.add(order_id)
        super().handle(message)

    def check_seq(self, message: Message) -> None:
        data = message.data
        if message.type == "connection_status" and self.last_seq is None:
            self.last_seq = int(data.get("last_seq", 0))
        elif message.type == "resync_required":
            self.gaps += int(data["last_seq"]) - (self.last_seq or 0)
            self.last_seq = int(data["last_seq"])
        elif message.type in STREAM_TYPES:
            if self.last_seq is not None and message.seq != self.last_seq + 1:
                self.gaps += max(0, message.seq - self.last_seq - 1)
            self.last_seq = message.seq

    async def drain(self) -> None:
        """Wait (a bounded time) until every order answered 201 was heard of."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.answered and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def unheard(self) -> int:
        """Orders answered 201, never heard of on the stream and not open: lost."""
        if not self.answered:
            return 0
        open_ids = {o.order_id for o in await self.client.open_orders()}
        return len(self.answered - open_ids)


async def register(url: str, names: list[str]) -> list[Any]:
    return [await Client.register(url, name, ROLE) for name in names]


async def drive(url: str, seconds: float, bots: int, rate: float) -> dict[str, Any]:
    """Register the bots, run them for `seconds`, check their streams; a summary."""
    teams = await register(url, [f"soak-bot-{n}" for n in range(bots)])
    mid = await reference_mid(url)
    stats = LoadStats()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(7).spawn(bots)]
    clients = [Client(url, t.api_key, team_id=t.team_id, max_retries=0) for t in teams]
    runners = [SoakBot(n, c, mid, stats, rngs[n]) for n, c in enumerate(clients)]
    try:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(r.run(until, 1 / rate) for r in runners))
        unheard = [await r.unheard() for r in runners]
    finally:
        for client in clients:
            with contextlib.suppress(ExchangeError, httpx.HTTPError):
                await client.cancel_all()
            await client.aclose()
    return {
        "orders": stats.orders, "cancels": stats.cancels, "fills": len(stats.fill_ms),
        "errors": dict(sorted(stats.errors.items())),
        "seq_gaps": sum(r.gaps for r in runners), "unheard_orders": sum(unheard),
    }  # fmt: skip


def bots_main(url: str, seconds: float, bots: int, rate: float) -> None:
    print(json.dumps(asyncio.run(drive(url, seconds, bots, rate))), flush=True)


# -- the watcher ------------------------------------------------------------------------


class Watch:
    """What the sampling saw: RSS and WAL over time, /health latencies and tasks."""

    def __init__(self) -> None:
        self.rss: list[tuple[float, float]] = []
        """(seconds since the start, RSS MiB)."""
        self.wal_max = 0.0
        self.latencies: list[float] = []
        self.window: list[float] = []
        self.restarts: dict[str, int] = {}
        self.failing: set[str] = set()
        self.loop: dict[str, float] = {}
        """The server's event loop as `/health` last gave it (its stalls since start)."""

    def health(self, http: httpx.Client) -> None:
        started = time.perf_counter()
        reply = http.get("/health")
        elapsed = (time.perf_counter() - started) * 1000
        self.latencies.append(elapsed)
        self.window.append(elapsed)
        data = reply.json()["data"]
        for task, count in data["restarts"].items():
            self.restarts[task] = max(self.restarts.get(task, 0), count)
        self.failing.update(data["failing"])
        self.loop = data.get("loop", {})

    def crashes(self) -> int:
        """Task restarts, plus tasks seen failing that never restarted."""
        return sum(self.restarts.values()) + len(self.failing - set(self.restarts))


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def sample(server: Server, watch: Watch, elapsed: float) -> None:
    rss, wal = server.rss_mb(), server.wal_mb()
    watch.rss.append((elapsed, rss))
    watch.wal_max = max(watch.wal_max, wal)
    window, watch.window = watch.window, []
    print(f"{elapsed:7.0f}s  rss {rss:7.1f} MB  wal {wal:6.2f} MB  health ms p50 "
          f"{ms(window, 50)} p99 {ms(window, 99)} max {max(window, default=0):.1f}"
          f"  restarts {watch.restarts or 0}", flush=True)  # fmt: skip


def watch_bots(server: Server, bots: subprocess.Popen[str], every: float) -> Watch:
    """Poll /health and sample RSS and the WAL until the bots' process exits."""
    watch = Watch()
    started = time.monotonic()
    next_sample = started
    with httpx.Client(base_url=server.base, timeout=10) as http:
        while bots.poll() is None:
            if server.proc.poll() is not None:
                bots.kill()
                raise SystemExit(f"the server died ({server.proc.returncode}): {server.tail()}")
            watch.health(http)
            if time.monotonic() >= next_sample:
                sample(server, watch, time.monotonic() - started)
                next_sample += every
            time.sleep(HEALTH_EVERY)
        watch.health(http)
    sample(server, watch, time.monotonic() - started)
    return watch


def growth(rss: list[tuple[float, float]], warmup: float) -> float:
    """RSS at the end minus the first sample at or after the warm-up."""
    after = [mb for at, mb in rss if at >= warmup] or [rss[-1][1]]
    return round(rss[-1][1] - after[0], 1)


def soak(minutes: float, every: float, speed: float) -> dict[str, Any]:
    seconds = minutes * 60
    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp), speed) as server:
        asyncio.run(register(server.base, [f"soak-idle-{n}" for n in range(IDLE_TEAMS)]))
        print(f"server pid {server.proc.pid} on {server.base}: {IDLE_TEAMS} idle teams, "
              f"{BOTS} bots at {RATE_PER_BOT:g} orders/s each for {minutes:g} min; "
              f"they share {os.cpu_count()} cores", flush=True)  # fmt: skip
        command = [sys.executable, "-m", "benchmarks.soak", "--bots-at", server.base,
                   "--minutes", str(minutes)]  # fmt: skip
        bots = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        watch = watch_bots(server, bots, every)
        out = bots.stdout.read() if bots.stdout else ""
        if bots.wait() != 0:
            raise SystemExit(f"the bots' process failed with {bots.returncode}")
        result: dict[str, Any] = msgspec.json.decode(out.strip().splitlines()[-1])
        errors = [line for line in server.tail().splitlines() if "ERROR" in line]
    warmup = min(60.0, 0.2 * seconds)
    lat = watch.latencies
    print(f"bots: {result}")
    print(f"/health over the run ms: p50 {ms(lat, 50)} p99 {ms(lat, 99)} max {max(lat):.1f}")
    print(f"rss: {watch.rss[0][1]:.1f} MB at the start, {watch.rss[-1][1]:.1f} MB at the end;"
          f" warm-up {warmup:g}s; server log errors {len(errors)}")  # fmt: skip
    return {
        "bench": "soak", "rss_growth_mb": growth(watch.rss, warmup),
        "wal_mb": round(watch.wal_max, 2),
        "lost_messages": result["seq_gaps"] + result["unheard_orders"],
        "task_crashes": watch.crashes(),
        "loop_stalls": watch.loop.get("stalls"), "loop_worst_ms": watch.loop.get("worst_ms"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--speed", type=float, default=60.0, help="the game clock's speed")
    parser.add_argument("--bots-at", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.minutes <= 60:
        parser.error("--minutes: more than 0, at most 60 (a soak is bounded)")
    if args.bots_at:
        bots_main(args.bots_at, args.minutes * 60, BOTS, RATE_PER_BOT)
        return
    print(json.dumps(soak(args.minutes, args.sample, args.speed)), flush=True)


if __name__ == "__main__":
    main()
