"""The database process dying under a running game: the writer starts it again, sends it
what it had not confirmed, and nothing a client was told is lost or written twice.

The writer's SQLite connection lives in a child process (`exchange/store/process.py`).
The unlucky moment is a child that dies holding rows it was sent and never confirmed:
here it is stopped (SIGSTOP) while orders wait on their commit, then killed, so those
rows can only reach the file through the writer sending them again to a new child.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
from pathlib import Path

from tests.persistence import Roster, accepted_id, health, options, order_in, read, unthrottled
from tests.server.harness import run_server
from tests.support import wait_for


def database_process(db: Path) -> int:
    """The pid of this process's child that holds the writer's connection to `db`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                words = cmdline.read().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        if (
            parent == os.getpid()
            and b"exchange.store.process" in words
            and str(db).encode() in words
        ):
            found.append(int(entry))
    assert len(found) == 1, found
    return found[0]


def restarts(base: str) -> int:
    return int(health(base)["database"]["process_restarts"])


def test_a_killed_database_process_is_started_again_and_loses_nothing_it_held(
    enrol: Roster, db: Path
) -> None:
    with run_server(unthrottled(), db_path=db) as base:
        chosen = options(base)[:4]
        a = enrol(base, "replay maker", "market_maker")
        b = enrol(base, "replay taker", "market_maker")
        answered = [accepted_id(a.order(chosen[0], "buy", 1, 10.0))]
        child = database_process(db)
        os.kill(child, signal.SIGSTOP)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            # Crossing pairs sent while the child cannot read: their rows sit in its pipe
            # (or in the writer's buffer), unconfirmed, and no 201 comes before a commit.
            waiting = [
                order_in(pool, who, chosen[n % 4], side, 1, 10.0)
                for n in range(4)
                for who, side in ((a, "buy"), (b, "sell"))
            ]
            concurrent.futures.wait(waiting, timeout=1.0)
            assert not any(reply.done() for reply in waiting)
            os.kill(child, signal.SIGKILL)
            answered += [accepted_id(reply.result(timeout=30)) for reply in waiting]
        wait_for(lambda: restarts(base) == 1 and not health(base)["database"]["failing"])
        assert database_process(db) != child
        # Order entry goes on with the new process.
        answered.append(accepted_id(a.order(chosen[1], "buy", 1, 9.0)))
        stored = [r[0] for r in read(db, "SELECT order_id FROM orders WHERE team_id != 'house'")]
        assert sorted(stored) == sorted(answered)  # each once, none lost
        bought = read(db, "SELECT instrument_id, SUM(quantity) FROM trades WHERE buyer = ?"
                      " GROUP BY instrument_id", (a.team_id,))  # fmt: skip
        sold = read(db, "SELECT COUNT(*) FROM trades WHERE seller = ?", (b.team_id,))
        assert sold == [(4,)]  # b's four sells traded once each
        held = {p["instrument_id"]: p["quantity"] for p in a.positions()["positions"]}
        assert held == dict(bought)  # and a's account is what the file holds
