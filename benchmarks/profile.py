"""Where the server's time goes under order entry: a profile of a loaded bench server.

The server runs as `benchmarks.e2e` runs it (`serve --preset bench`, its own process,
127.0.0.1, no database unless `--db`), with `cProfile` on only while N bots send orders
over HTTP in a closed loop and read their streams, as in the e2e benchmark (SIGUSR1
turns it on once the bots are registered, SIGUSR2 off and writes the profile: start-up
and shutdown stay out of it). Then this prints the functions that took the most time by
themselves, the most time with what they called, and the share of each part of the
server (the web layer, the pipeline's tasks, the stream fan-out, the domain, uvicorn and
Starlette, asyncio).

cProfile slows every Python call by a similar amount, so the shares are a map of the
time, not a measurement of it: the e2e benchmark's rates and `server_us_per_order` are
that. The load generator (this process) shares the cores with the server.

    python -m benchmarks.profile --bots 30 --seconds 10 [--db] [--out server.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import e2e

PARTS = (
    ("exchange/web/", "web"),
    ("exchange/pipeline/fanout", "fan-out"),
    ("exchange/pipeline/", "pipeline"),
    ("exchange/domain/", "domain"),
    ("exchange/wire/", "wire"),
    ("exchange/store/", "store"),
    ("exchange/", "exchange, other"),
    ("uvicorn/", "uvicorn"),
    ("starlette/", "starlette"),
    ("asyncio/", "asyncio"),
)


def part_of(filename: str) -> str:
    for marker, name in PARTS:
        if marker in filename:
            return name
    return "other (C calls, libraries)"


def where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    short = filename.split("site-packages/")[-1].split("/work/")[-1]
    return f"{name} ({short}:{line})"


def run_profiled(args: argparse.Namespace, out: Path, db_dir: str) -> int:
    """The server, profiled while the bots send; the orders accepted."""
    command = [sys.executable, "-m", "benchmarks.profile", "--serve", "--out", str(out),
               "--port", str(args.port)]  # fmt: skip
    if args.db:
        command += ["--db-file", f"{db_dir}/profile.db"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        e2e.wait_until_up(args.port)
        keys = e2e.register(args.port, args.bots, "profile")
        proc.send_signal(signal.SIGUSR1)
        stats = asyncio.run(e2e.drive(args.port, keys, args.seconds))
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    return stats.accepted


def serve_profiled(port: int, out: Path, db_file: str | None) -> int:
    """`serve --preset bench`, profiling from SIGUSR1 to SIGUSR2 (then written to `out`)."""
    from exchange.__main__ import main as exchange

    profiler = cProfile.Profile()

    def finish(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(str(out))

    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, finish)
    argv = ["serve", "--preset", "bench", "--port", str(port), "--log-level", "warning"]
    return exchange(argv + (["--db", db_file] if db_file else []))


def report(out: Path, orders: int, top: int) -> dict[str, object]:
    stats = pstats.Stats(str(out))
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values()) or 1.0
    by_self = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:top]
    by_all = sorted(table.items(), key=lambda item: item[1][3], reverse=True)
    parts: Counter[str] = Counter()
    for key, row in table.items():
        parts[part_of(key[0])] += row[2]
    print(f"profiled: {orders} orders accepted; {total:.2f} s of profiled time in the server")
    print("-- by their own time")
    for key, row in by_self:
        print(f"{100 * row[2] / total:5.1f}%  {row[1]:>8} calls  {where(key)}")
    print("-- with what they call (the server's own code)")
    own = [(k, r) for k, r in by_all if "exchange/" in k[0]][:top]
    for key, row in own:
        print(f"{100 * row[3] / total:5.1f}%  {where(key)}")
    print("-- by part")
    shares = {name: round(100 * t / total, 1) for name, t in parts.most_common()}
    for name, share in shares.items():
        print(f"{share:5.1f}%  {name}")
    return {"bench": "profile", "orders": orders, "parts_pct": shares}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8795)
    parser.add_argument("--db", action="store_true", help="with the SQLite database")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, help="keep the profile here (pstats format)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve_profiled(args.port, args.out, args.db_file))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "server.prof"
        orders = run_profiled(args, out, tmp)
        line = report(out, orders, args.top)
    line.update(bots=args.bots, seconds=args.seconds, db=args.db)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
