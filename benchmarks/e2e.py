"""End to end: N bots send orders over HTTP on loopback to a server in another process.

Each bot keeps one request in flight (closed loop) on a keep-alive connection and listens
on its WebSocket for execution reports. Latency is measured from writing the request to
the HTTP answer (validation), and from writing it to the first execution report of an
order that traded (a fill). The server runs `serve --preset bench` (no rate or position
limits) in its own process; the load generator is this process. On a 2-core machine they
share the two cores, so the figures are for that: a server alone on its core with a
faster client would do better.

The floor (`benchmarks.floor`: a Starlette app that only decodes the order and answers
the envelope, under the same uvicorn, uvloop and httptools) is driven the same way in the
same run, so each exchange line also says `floor_orders_per_s` and `ratio_to_floor`: a
ratio holds up on a shared machine where the absolute rates drift with the neighbours.
Each exchange line also says `server_us_per_order`: the server process's CPU time over
the run (user and system, from /proc) per accepted order, which a busy neighbour
changes far less than it changes the rates; with the database, `db_process_us_per_order`
is the same for the process that holds its connection and commits.
`loop_lag_p99_ms` and `loop_lag_max_ms` say how late the server's event loop woke a
timer due every 10 ms (`/health`'s `loop`, over the last minute, which the run fills):
how long the loop was held at a time; `loop_stalls` counts wake-ups 50 ms late or more
during the run.

Requests are written as bytes and answers parsed with httptools (the parser uvicorn
uses): a general HTTP client would measure itself more than the server. The stream is
read with the lean WebSocket client of `benchmarks.stream`, which decodes a message's
`data` only when the bot reads it (execution reports, not the tape). Before it
drives, the load generator moves what it has made so far (its imported libraries) out
of the garbage collector's sight (`steady_collector`): a full collection walked them
all, for tens of milliseconds in which every bot's latency grew by as much.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httptools
import httpx
import msgspec
import numpy as np

from benchmarks.stream import HOST, data_of, message_of, open_stream

INSTRUMENT = "SPX"


class Answer:
    """httptools callbacks collecting one response."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class Stats:
    def __init__(self) -> None:
        self.answer_ms: list[float] = []
        self.fill_ms: list[float] = []
        self.accepted = 0
        self.refused = 0


class Bot:
    def __init__(self, n: int, port: int, key: str, stats: Stats, seed: int) -> None:
        self.n, self.port, self.key, self.stats = n, port, key, stats
        self.rng = np.random.default_rng(seed)
        self.sent: dict[str, float] = {}

    def request(self, k: int) -> tuple[str, bytes]:
        """A limit order near a mid of 4400: about half cross the other side."""
        side = "buy" if self.rng.random() < 0.5 else "sell"
        offset = int(self.rng.integers(-3, 6))
        price = 4400 + (-offset if side == "buy" else offset) * 0.25
        cid = f"b{self.n}-{k}"
        body = msgspec.json.encode({
            "instrument_id": INSTRUMENT, "side": side, "quantity": int(self.rng.integers(1, 10)),
            "price": round(price, 2), "client_order_id": cid,
        })  # fmt: skip
        head = (
            f"POST /orders HTTP/1.1\r\nHost: {HOST}\r\nX-API-Key: {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return cid, head.encode() + body

    async def run(self, until: float, stream: bool = True) -> None:
        """Send orders until `until`; with `stream`, listen for reports on `/ws` too."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        reports = await open_stream(self.port, self.key, self.heard) if stream else None
        await self.send_orders(reader, writer, until)
        if reports is not None:
            await asyncio.sleep(0.2)  # let the last reports arrive
            reports.close()
        writer.close()

    async def send_orders(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, until: float
    ) -> None:
        k = 0
        while time.perf_counter() < until:
            k += 1
            cid, raw = self.request(k)
            started = time.perf_counter()
            self.sent[cid] = started
            writer.write(raw)
            status = await read_answer(reader)
            self.stats.answer_ms.append((time.perf_counter() - started) * 1000)
            if status == 201:
                self.stats.accepted += 1
            else:
                self.stats.refused += 1

    def heard(self, raw: bytes) -> None:
        message = message_of(raw)
        if message.type != "execution_report":
            return
        data = data_of(message)
        started = self.sent.pop(data.get("client_order_id", ""), None)
        # Fill latency is for orders that traded on arrival (the taker side); a resting
        # order's fill waits for another order, not for the server.
        taker = data.get("liquidity_type") == "taker"
        if started is not None and taker and data.get("exec_type") == "trade":
            self.stats.fill_ms.append((time.perf_counter() - started) * 1000)


async def read_answer(reader: asyncio.StreamReader) -> int:
    answer = Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.done:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        parser.feed_data(chunk)
    return int(parser.get_status_code())


@contextlib.contextmanager
def server(port: int, preset: str, extra: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "exchange", "serve", "--preset", preset, "--port",
               str(port), "--log-level", "warning", *extra]  # fmt: skip
    with process(port, command) as proc:
        yield proc


@contextlib.contextmanager
def process(port: int, command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server command and wait until its /health answers."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_up(port)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def wait_until_up(port: int, seconds: float = 20) -> None:
    """Return once the server on `port` answers `/health`; RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def register(port: int, bots: int, tag: str) -> list[str]:
    keys = []
    with httpx.Client(base_url=f"http://{HOST}:{port}") as http:
        for n in range(bots):
            body = {"team_name": f"bench-{tag}-{n}", "role": "market_maker"}
            keys.append(http.post("/auth/register", json=body).json()["data"]["api_key"])
    return keys


def steady_collector() -> None:
    """Freeze what exists now: the collector then walks only what the run makes."""
    gc.collect()
    gc.freeze()


async def drive(port: int, keys: list[str], seconds: float, stream: bool = True) -> Stats:
    stats = Stats()
    until = time.perf_counter() + seconds
    bots = [Bot(n, port, key, stats, seed=n) for n, key in enumerate(keys)]
    await asyncio.gather(*(b.run(until, stream) for b in bots))
    return stats


def summary(bots: int, seconds: float, stats: Stats, db: bool | None) -> dict[str, Any]:
    """One run's figures; `db` None is the floor."""
    answers = np.array(stats.answer_ms)
    fills = np.array(stats.fill_ms) if stats.fill_ms else np.array([float("nan")])
    return {
        "bench": "e2e" if db is not None else "e2e_floor", "bots": bots, "db": db,
        "seconds": seconds,
        "orders_per_s": round(stats.accepted / seconds), "refused": stats.refused,
        "p50_ms": round(float(np.percentile(answers, 50)), 2),
        "p99_ms": round(float(np.percentile(answers, 99)), 2),
        "fills": len(stats.fill_ms),
        "fill_p50_ms": round(float(np.percentile(fills, 50)), 2),
        "fill_p99_ms": round(float(np.percentile(fills, 99)), 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--db", choices=["off", "on", "both"], default="both",
                        help="run with the database off, on (group commit), or both")  # fmt: skip
    args = parser.parse_args()
    print(f"load generator and server share {os.cpu_count()} cores on loopback")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.db]
    lines = []
    for bots in args.bots:
        floor = run_floor(args, bots)
        print("  ".join(f"{k}={v}" for k, v in floor.items()))
        for db in modes:
            line = run_once(args, bots, db)
            line["floor_orders_per_s"] = floor["orders_per_s"]
            line["ratio_to_floor"] = round(line["orders_per_s"] / max(1, floor["orders_per_s"]), 3)
            lines.append(line)
            print("  ".join(f"{k}={v}" for k, v in line.items()))
    for line in lines:
        print(json.dumps(line))


def run_floor(args: argparse.Namespace, bots: int) -> dict[str, Any]:
    """The same load against the framework floor (`benchmarks.floor`), no stream."""
    port = args.port + 1
    command = [sys.executable, "-m", "benchmarks.floor", "--port", str(port)]
    with process(port, command):
        keys = [f"floor-{n}" for n in range(bots)]
        steady_collector()
        stats = asyncio.run(drive(port, keys, args.seconds, stream=False))
    return summary(bots, args.seconds, stats, None)


def run_once(args: argparse.Namespace, bots: int, db: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--db", f"{tmp}/bench.db"] if db else []
        with server(args.port, args.preset, extra) as proc:
            keys = register(args.port, bots, str(bots))
            steady_collector()
            kids = children(proc.pid)  # the database process, with --db
            started = cpu_seconds(proc.pid), sum(map(cpu_seconds, kids))
            stalls = loop_lag(args.port)["stalls"]
            stats = asyncio.run(drive(args.port, keys, args.seconds))
            used = cpu_seconds(proc.pid) - started[0], sum(map(cpu_seconds, kids)) - started[1]
            lag = loop_lag(args.port)
    line = summary(bots, args.seconds, stats, db)
    line["loop_lag_p99_ms"], line["loop_lag_max_ms"] = lag["lag_p99_ms"], lag["lag_max_ms"]
    line["loop_stalls"] = lag["stalls"] - stalls
    orders = max(1, stats.accepted)
    line["server_us_per_order"] = round(used[0] / orders * 1e6, 1)
    if db:
        line["db_process_us_per_order"] = round(used[1] / orders * 1e6, 1)
    return line


def loop_lag(port: int) -> dict[str, float]:
    """The server's `/health` `loop`: how late its event loop woke a 10 ms timer (the
    percentiles over the last minute, which the run fills), and its stalls so far."""
    reply = httpx.get(f"http://{HOST}:{port}/health", timeout=10)
    return reply.json()["data"]["loop"]  # type: ignore[no-any-return]


def children(pid: int) -> list[int]:
    """The pids of a process's children, from /proc."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listed:
            found += [int(n) for n in listed.read().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used (user and system), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
