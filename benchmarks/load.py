"""`nox -s load`: the load generator (`bots.load`) against a server in another process.

Starts `python -m exchange serve --preset bench` on a free loopback port (no rate or
position limits), waits for `/health`, then runs `python -m bots.load` in a process of
its own for each number of bots (1, 10 and 30 by default), printing each run as it
ends, and last one JSON line with orders/s and latency percentiles per run. Server and
generator share this machine's cores: the figures are for that arrangement.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from typing import Any

from benchmarks.e2e import server
from benchmarks.stream import HOST


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def one_run(port: int, bots: int, rate: float, seconds: float) -> dict[str, Any]:
    """Run the generator once; echo what it prints; return its last line's JSON."""
    command = [sys.executable, "-m", "bots.load", "--url", f"http://{HOST}:{port}",
               "--bots", str(bots), "--rate", str(rate), "--seconds", str(seconds)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bots.load failed with {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="target orders/s per run")
    parser.add_argument("--preset", default="bench")
    args = parser.parse_args()
    port = free_port()
    runs = []
    with server(port, args.preset, []):
        for bots in args.bots:
            print(f"== {bots} bots, target {args.rate:g} orders/s, {args.seconds:g} s")
            runs.append(one_run(port, bots, args.rate, args.seconds))
    cores = os.cpu_count()
    print(f"server (preset {args.preset}) and load generator shared {cores} cores on loopback")
    for r in runs:
        print(f"  {r['bots']:>3} bots: {r['orders_per_s']:>8} orders/s  accept ms "
              f"p50 {r['accept_ms']['p50']} p90 {r['accept_ms']['p90']} "
              f"p99 {r['accept_ms']['p99']}  fill ms p50 {r['fill_ms']['p50']} "
              f"p99 {r['fill_ms']['p99']}  errors {r['errors']}")  # fmt: skip
    keys = ("bots", "orders_per_s", "accept_ms", "fill_ms", "errors")
    line = {"bench": "load", "preset": args.preset, "cores": cores, "seconds": args.seconds,
            "runs": [{k: r[k] for k in keys} for r in runs]}  # fmt: skip
    print(json.dumps(line))


if __name__ == "__main__":
    main()
