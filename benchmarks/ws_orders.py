"""Order entry on the WebSocket beside HTTP: the same bots, the same server, one run.

N bots each hold one WebSocket to a bench server in another process (`serve --preset
bench`: no rate or position limits, no database) and send `new_order` messages on it,
keeping `--window` orders in flight (a new one as each answer comes back). Measured:
accepted orders per second, the answer latency (from writing the frame to its
`order_accepted`, which the server sends after the order's ack and first fills), and
the order-to-execution-report latency of the orders that traded on arrival (to the
taker's `execution_report`). In the same round the same bots send over HTTP as
`benchmarks.e2e` does (one request in flight on a keep-alive connection each), in
`--slices` turns of HTTP then WebSocket, so that both see the same machine (on a shared
machine, whatever else runs changes from second to second). Both kinds of bot hear their
stream on the same lean WebSocket client (`benchmarks.stream`), as `benchmarks.e2e`
writes its requests as bytes: a general client library would measure itself more than
the server.
Each round uses a fresh server; the figures printed are the medians of the rounds. The
load generator (this process) shares the cores with the server.

The window sets what the latencies say. With one order in flight a bot waits for each
answer, as the HTTP bots do: the latency is the server's. With more in flight the loop
is kept full and each order waits behind the others sent (about the bots times the
window times an order's cost, in a closed loop): the rate is the server's, the latency
mostly the queue's. `nox -s bench` runs both, `--window 1` then `--window 4`.

Also measured: the server's CPU time in each kind of turn per order it accepted
(`server_us_per_order`, `http_server_us_per_order`, and `cpu_ratio_to_http`, the
second over the first). Where neighbours take the cores, the rates say how much CPU the
two processes got as much as what an order costs; the CPU per order says the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import statistics
import time
from typing import Any

import msgspec
import numpy as np

from benchmarks import e2e
from benchmarks.stream import data_of, message_of, open_stream

ANSWERS = ("order_accepted", "request_rejected")


class Stats:
    def __init__(self) -> None:
        self.answer_ms: list[float] = []
        self.fill_ms: list[float] = []
        self.accepted = 0
        self.refused = 0


class WsBot:
    """One team sending limit orders on its stream, `window` in flight."""

    def __init__(self, n: int, port: int, key: str, stats: Stats, window: int) -> None:
        self.n, self.port, self.key, self.stats = n, port, key, stats
        self.rng = np.random.default_rng(n)
        self.sent: dict[str, float] = {}
        """Send time of each order, by client id (also its client_order_id)."""
        self.unanswered = 0
        self.window = window
        self.room = asyncio.Event()

    def frame(self, k: int) -> tuple[str, bytes]:
        """A limit order near a mid of 4400, as in `benchmarks.e2e`: about half cross."""
        side = "buy" if self.rng.random() < 0.5 else "sell"
        offset = int(self.rng.integers(-3, 6))
        price = 4400 + (-offset if side == "buy" else offset) * 0.25
        cid = f"w{self.n}-{k}"
        return cid, msgspec.json.encode({
            "type": "new_order", "client_id": cid, "instrument_id": e2e.INSTRUMENT,
            "side": side, "quantity": int(self.rng.integers(1, 10)), "price": round(price, 2),
            "client_order_id": cid,
        })  # fmt: skip

    async def run(self, until: float) -> None:
        stream = await open_stream(self.port, self.key, self.heard)
        k = 0
        while time.perf_counter() < until:
            while self.unanswered >= self.window:
                self.room.clear()
                await self.room.wait()
            k += 1
            cid, raw = self.frame(k)
            self.sent[cid] = time.perf_counter()
            self.unanswered += 1
            stream.send(raw)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while self.unanswered:
                    self.room.clear()
                    await self.room.wait()
        stream.close()

    def heard(self, raw: bytes) -> None:
        message, stats = message_of(raw), self.stats
        kind = message.type
        if kind not in ANSWERS and kind != "execution_report":
            return
        data = data_of(message)
        if kind in ANSWERS:
            started = self.sent.get(data["client_id"])
            if started is not None:
                stats.answer_ms.append((time.perf_counter() - started) * 1000)
            stats.accepted += kind == "order_accepted"
            stats.refused += kind != "order_accepted"
            self.unanswered -= 1
            self.room.set()
        elif kind == "execution_report" and data.get("exec_type") == "trade":
            started = self.sent.pop(data.get("client_order_id", ""), None)
            if started is not None and data.get("liquidity_type") == "taker":
                stats.fill_ms.append((time.perf_counter() - started) * 1000)


async def drive_http(port: int, keys: list[str], seconds: float) -> e2e.Stats:
    stats = e2e.Stats()
    until = time.perf_counter() + seconds
    bots = [e2e.Bot(n, port, key, stats, seed=n) for n, key in enumerate(keys)]
    await asyncio.gather(*(b.run(until) for b in bots))
    return stats


async def drive(port: int, keys: list[str], seconds: float, window: int) -> Stats:
    stats = Stats()
    until = time.perf_counter() + seconds
    bots = [WsBot(n, port, key, stats, window) for n, key in enumerate(keys)]
    await asyncio.gather(*(b.run(until) for b in bots))
    return stats


def add(total: Any, part: Any) -> None:
    """Add one turn's figures to the round's (`Stats` of either kind)."""
    total.answer_ms += part.answer_ms
    total.fill_ms += part.fill_ms
    total.accepted += part.accepted
    total.refused += part.refused


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def server_cpu() -> float:
    """CPU seconds used so far by this process's children (the bench server), read
    from /proc (nan where there is none)."""
    total, me, found = 0.0, str(os.getpid()), False
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        if fields[1] == me:  # the parent's pid; then utime and stime, in ticks
            total, found = total + int(fields[11]) + int(fields[12]), True
    return total / os.sysconf("SC_CLK_TCK") if found else float("nan")


def per_order_us(cpu: float, orders: int) -> float:
    return round(cpu / orders * 1e6) if orders else float("nan")


def one_round(args: argparse.Namespace, n: int) -> dict[str, float]:
    """A fresh server: the bots over HTTP and on the stream, turn about, with the
    server's CPU time in each kind of turn."""
    http, ws = e2e.Stats(), Stats()
    http_cpu = ws_cpu = 0.0
    turn = args.seconds / args.slices
    with e2e.server(args.port, args.preset, []):
        keys = e2e.register(args.port, args.bots, f"ws{n}")
        e2e.steady_collector()
        for _ in range(args.slices):
            start = server_cpu()
            add(http, asyncio.run(drive_http(args.port, keys, turn)))
            middle = server_cpu()
            add(ws, asyncio.run(drive(args.port, keys, turn, args.window)))
            http_cpu, ws_cpu = http_cpu + middle - start, ws_cpu + server_cpu() - middle
    http_rate, ws_rate = http.accepted / args.seconds, ws.accepted / args.seconds
    ws_us, http_us = per_order_us(ws_cpu, ws.accepted), per_order_us(http_cpu, http.accepted)
    return {
        "orders_per_s": ws_rate, "p50_ms": percentile(ws.answer_ms, 50),
        "p99_ms": percentile(ws.answer_ms, 99), "fill_p50_ms": percentile(ws.fill_ms, 50),
        "fill_p99_ms": percentile(ws.fill_ms, 99), "refused": ws.refused,
        "http_orders_per_s": http_rate, "http_p99_ms": percentile(http.answer_ms, 99),
        "ratio_to_http": ws_rate / http_rate if http_rate else float("nan"),
        "server_us_per_order": ws_us, "http_server_us_per_order": http_us,
        "cpu_ratio_to_http": http_us / ws_us if ws_us else float("nan"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--window", type=int, default=4, help="orders in flight per bot")
    parser.add_argument("--seconds", type=float, default=6.0, help="per kind and round")
    parser.add_argument("--slices", type=int, default=3, help="turns of each kind a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--preset", default="bench")
    args = parser.parse_args()
    print(f"load generator and server share {os.cpu_count()} cores on loopback")
    rounds = []
    for n in range(args.rounds):
        figures = one_round(args, n)
        rounds.append(figures)
        print(f"round {n + 1}: " + "  ".join(f"{k}={v:.2f}" for k, v in figures.items()))
    median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    line = {
        "bench": "ws_orders", "bots": args.bots,
        "orders_per_s": round(median["orders_per_s"]), "p50_ms": median["p50_ms"],
        "p99_ms": median["p99_ms"], "fill_p99_ms": median["fill_p99_ms"],
        "fill_p50_ms": median["fill_p50_ms"],
        "http_orders_per_s": round(median["http_orders_per_s"]),
        "http_p99_ms": median["http_p99_ms"],
        "ratio_to_http": round(median["ratio_to_http"], 2),
        "server_us_per_order": median["server_us_per_order"],
        "http_server_us_per_order": median["http_server_us_per_order"],
        "cpu_ratio_to_http": round(median["cpu_ratio_to_http"], 2),
        "window": args.window, "rounds": args.rounds, "seconds": args.seconds,
    }  # fmt: skip
    print(json.dumps(line))


if __name__ == "__main__":
    main()
