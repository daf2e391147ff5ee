"""kill -9 of the writing process loses no batch whose write_batch had returned (SPEC 9).

The child prints a batch's number only after `write_batch` returns, as the server
releases fills only after the commit; WAL with synchronous=NORMAL must keep them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from exchange.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from exchange.store.db import Database
from exchange.store.rows import Batch, underlying_row

db = Database.open(sys.argv[1])
n = 0
while True:
    n += 1
    db.write_batch(Batch(prices=[underlying_row(n, "SPX", i) for i in range(1000)]))
    print(n, flush=True)
"""


def test_committed_batches_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "game.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    told = 0
    try:
        while told < 25:
            line = child.stdout.readline()
            assert line, "the writer died before it was killed"
            told = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with Database.open(path) as db:
        stored = db.conn.execute("SELECT COUNT(*), MAX(ts_ns) FROM prices").fetchone()
    count, last = stored
    assert last >= told  # every batch the child reported is there
    assert count == 1000 * last  # and no batch is there in part
