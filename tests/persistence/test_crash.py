"""kill -9 of the server under load loses no fill a client was told about (SPEC section 9).

The server runs as its own process (`python -m exchange serve --db FILE`). Bots, each
with its own WebSocket, send crossing orders and record every execution report of a
fill they receive. After a seeded number of reported fills the process is killed with
SIGKILL, started again on the same file, and the file must hold every fill any bot was
told about, with the quantity, price and fee it was told; each team's positions and
cash after the restart must be the sum of its committed fills; and order ids must go
on above every id a bot was answered before the kill.

A commit on the server's loop leaves no moment between releasing a batch's messages
and committing it in which the process could die, so one more case makes that moment
long: the writer's batch is made to fail (rows under the ids it is about to insert) and
the kill comes while it is being retried. A server that released before committing
would have told the bots of fills that are not in the file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from websockets.sync.client import ClientConnection

from tests.persistence import Member, cents, failed_writes, order_in, read, taken_order_ids
from tests.server.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
UNLIMITED = "disabled_constraints: [order_rate, position_limit, portfolio_limit]\n"
"""Lifted so the bots can trade fast and far; every other rule still holds."""
ROLES = ("market_maker", "hedge_fund", "arbitrage", "market_maker")
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 20.0
"""Bounds on waits, not timing claims: a wait that runs out fails the test."""


# -- the server, as a process ---------------------------------------------------------------


class ServerProcess:
    """`python -m exchange serve` on a free 127.0.0.1 port, with its stderr in a file."""

    def __init__(self, db: Path, config: Path, log: Path, preset: str = "sandbox") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            sys.executable, "-m", "exchange", "serve", "--preset", preset,
            "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port),
            "--db", str(db), "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.base, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"the server exited with {self.proc.returncode}: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return
                time.sleep(0.05)
        pytest.fail(f"the server did not answer within {START_TIMEOUT}s: {self.tail()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[ServerProcess]:
    config = tmp_path / "unlimited.yaml"
    config.write_text(UNLIMITED)
    server = ServerProcess(tmp_path / "game.db", config, tmp_path / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()


# -- bots that remember what they were told ---------------------------------------------------


@dataclass
class Told:
    """What one execution report of a fill said."""

    team_id: str
    trade_id: int
    order_id: int
    side: str
    quantity: int
    price_ticks: int
    fee_ticks: int


@dataclass
class Load:
    """What every bot was answered and told, shared by the bots' threads."""

    kill_at: int
    told: list[Told] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    """Every order id an accepted POST /orders answered."""
    acked: set[int] = field(default_factory=set)
    """Order ids whose `new_order_ack` arrived."""
    idle: set[str] = field(default_factory=set)
    """Teams whose bot has paused."""
    probe: int | None = None
    """The buy whose fill is in the failing batch, if one was made."""
    selling: concurrent.futures.Future[httpx.Response] | None = None
    """The sell that made that fill: its 201 waits for the batch's commit."""
    enough: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, told: Told) -> None:
        with self.lock:
            self.told.append(told)
            if len(self.told) >= self.kill_at:
                self.enough.set()


def listen(ws: ClientConnection, team_id: str, load: Load) -> None:
    """Record every fill report (and ack) until the connection ends (the kill ends it)."""
    with contextlib.suppress(websockets.exceptions.ConnectionClosed, OSError):
        while True:
            try:
                message = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                if load.stop.is_set():
                    return
                continue
            data = message["data"]
            if message["type"] == "new_order_ack":
                load.acked.add(int(data["order_id"]))
            if message["type"] == "execution_report" and data.get("exec_type") == "trade":
                load.record(
                    Told(
                        team_id, data["trade_id"], int(data["order_id"]), data["side"],
                        data["last_quantity"], cents(data["last_price"]), cents(data["fee"]),
                    )
                )  # fmt: skip


def trade(member: Member, instruments: list[str], seed: int, load: Load) -> None:
    """Crossing limit orders about 10.00, until told to stop or the server is gone."""
    rng = np.random.default_rng(seed)
    with contextlib.suppress(httpx.HTTPError):
        while not load.stop.is_set():
            if load.pause.is_set():
                load.idle.add(member.team_id)
                load.stop.wait(0.01)
                continue
            side = "buy" if rng.random() < 0.5 else "sell"
            ticks = 1000 + int(rng.integers(-3, 4)) + (3 if side == "buy" else -3)
            instrument = instruments[int(rng.integers(len(instruments)))]
            reply = member.order(instrument, side, int(rng.integers(1, 6)), ticks / 100)
            if reply.status_code == 201:
                with load.lock:
                    load.answered.append(int(reply.json()["order_id"]))


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"not within {LOAD_TIMEOUT}s: {what}"
        time.sleep(0.01)


def drive_until_killed(
    server: ServerProcess, members: list[Member], seed: int, load: Load, stall: Path | None
) -> None:
    """Run the bots; kill the server once `load.kill_at` fills were told (after making
    its writer fail first, with `stall`: the database file)."""
    with httpx.Client(base_url=server.base, timeout=10) as client:
        listed = client.get("/instruments").json()["data"]
    instruments = [i["instrument_id"] for i in listed if i["kind"] != "UNDERLYING"]
    with contextlib.ExitStack() as stack:
        threads = []
        for n, member in enumerate(members):
            ws = stack.enter_context(member.stream())
            threads.append(threading.Thread(target=listen, args=(ws, member.team_id, load)))
            bot = (member, instruments[:3], seed * 100 + n, load)
            threads.append(threading.Thread(target=trade, args=bot))
        for thread in threads:
            thread.start()
        try:
            assert load.enough.wait(LOAD_TIMEOUT), f"only {len(load.told)} fills told"
            if stall is not None:
                fill_in_a_failing_batch(server, stall, members, load, instruments[-1])
        finally:
            server.kill()
            load.stop.set()
            for thread in threads:
                thread.join(10)
    assert not any(t.is_alive() for t in threads)


def fill_in_a_failing_batch(
    server: ServerProcess, db: Path, members: list[Member], load: Load, instrument: str
) -> None:
    """Make a fill whose batch cannot commit, and leave the writer retrying it.

    The bots pause; one rests a buy in an instrument nobody else trades and waits for
    its ack (so everything so far is committed); rows then take every id above it, and
    another bot's crossing sell trades in a batch that fails on its order's id. Once the
    writer has failed twice it has slept in between, so a fill released before its
    commit would have been sent by then."""
    load.pause.set()
    wait_until(lambda: len(load.idle) == len(members), "the bots pause")
    buyer, seller = members[0], members[1]
    buy = buyer.placed(instrument, "buy", 1, 10.00)
    wait_until(lambda: buy in load.acked, "the resting buy is acknowledged")
    failed = failed_writes(server.base)
    with contextlib.closing(sqlite3.connect(db, timeout=10, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO orders VALUES ({', '.join('?' * 13)})", taken_order_ids(buy + 1, 1000)
        )
        conn.execute("COMMIT")
    pool = concurrent.futures.ThreadPoolExecutor(1)
    load.selling = order_in(pool, seller, instrument, "sell", 1, 10.00)
    pool.shutdown(wait=False)  # the kill ends the wait for its answer
    load.answered.append(buy)
    load.probe = buy
    wait_until(lambda: failed_writes(server.base) >= failed + 2, "the writer fails twice")
    time.sleep(0.3)  # let the bots read what is on its way before the kill cuts it off


# -- what the file must hold ------------------------------------------------------------------


def stored_trades(db: Path) -> dict[int, tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        found = conn.execute(
            "SELECT trade_id, instrument_id, price_ticks, quantity, buyer, seller, buy_order_id,"
            " sell_order_id, buyer_fee_ticks, seller_fee_ticks FROM trades"
        ).fetchall()
    return {row[0]: row[1:] for row in found}


def assert_every_told_fill_is_stored(told: list[Told], trades: dict[int, tuple[Any, ...]]) -> None:
    missing, different = [], []
    for t in told:
        row = trades.get(t.trade_id)
        if row is None:
            missing.append(t)
            continue
        _, price, quantity, buyer, seller, buy_order, sell_order, buy_fee, sell_fee = row
        side = (buyer, buy_order, buy_fee) if t.side == "buy" else (seller, sell_order, sell_fee)
        if (price, quantity, *side) != (t.price_ticks, t.quantity, t.team_id, t.order_id,
                                        t.fee_ticks):  # fmt: skip
            different.append((t, row))
    assert not missing, f"{len(missing)} fills told but not in the file, e.g. {missing[:3]}"
    assert not different, f"fills stored unlike told: {different[:3]}"


def expected_accounts(
    trades: dict[int, tuple[Any, ...]], multipliers: dict[str, int]
) -> dict[str, tuple[int, int, dict[str, int]]]:
    """(cash, fees, positions) per team from the committed trades alone: a buy pays
    price x quantity x multiplier, a sell receives it; fees are added to cash."""
    accounts: dict[str, tuple[int, int, dict[str, int]]] = {}
    for iid, price, qty, buyer, seller, _, _, buy_fee, sell_fee in trades.values():
        value = price * qty * multipliers[iid]
        for team, sign, fee in ((buyer, 1, buy_fee), (seller, -1, sell_fee)):
            cash, fees, positions = accounts.get(team, (0, 0, {}))
            positions[iid] = positions.get(iid, 0) + sign * qty
            accounts[team] = (cash - sign * value + fee, fees + fee, positions)
    return {
        team: (cash, fees, {i: q for i, q in positions.items() if q})
        for team, (cash, fees, positions) in accounts.items()
    }


def check_restart(tmp_path: Path, members: list[Member], load: Load) -> None:
    db = tmp_path / "game.db"
    with serving(tmp_path) as server:
        trades = stored_trades(db)
        assert_every_told_fill_is_stored(load.told, trades)
        with httpx.Client(base_url=server.base, timeout=10) as client:
            listed = client.get("/instruments").json()["data"]
        multipliers = {i["instrument_id"]: i["multiplier"] for i in listed}
        expected = expected_accounts(trades, multipliers)
        for member in members:
            member.at(server.base)
            answer = member.positions()
            positions = {p["instrument_id"]: p["quantity"] for p in answer["positions"]}
            assert (cents(answer["cash"]), cents(answer["fees"]), positions) == expected.get(
                member.team_id, (0, 0, {})
            ), member.team_id
        assert sum(len(expected.get(m.team_id, (0, 0, {}))[2]) for m in members) > 0
        # Ids answered before the kill may never have been committed; none is reused.
        highest = max(load.answered)
        for member in members:
            assert member.placed(listed[-1]["instrument_id"], "buy", 1, 1.00) > highest


def crash(tmp_path: Path, seed: int, kill_at: int, stall: bool) -> Load:
    load = Load(kill_at)
    members: list[Member] = []
    try:
        with serving(tmp_path) as server:
            members += [
                Member.register(server.base, f"crash bot {n}", role)
                for n, role in enumerate(ROLES)
            ]
            drive_until_killed(
                server, members, seed, load, tmp_path / "game.db" if stall else None
            )
            assert server.proc.returncode == -signal.SIGKILL
        if stall:  # the rows that made the writer fail are no part of the game
            with contextlib.closing(sqlite3.connect(tmp_path / "game.db")) as conn, conn:
                conn.execute("DELETE FROM orders WHERE team_id = 'nobody'")
        assert len(load.told) >= kill_at
        check_restart(tmp_path, members, load)
    finally:
        for member in members:
            member.close()
    return load


@pytest.mark.parametrize("seed, around", [(1, 50), (2, 200), (3, 500)])
def test_a_kill_under_load_loses_no_fill_a_bot_was_told_about(
    tmp_path: Path, seed: int, around: int
) -> None:
    kill_at = around + int(np.random.default_rng(seed).integers(0, around // 2))
    crash(tmp_path, seed, kill_at, stall=False)


def test_a_kill_while_the_writer_retries_a_batch_loses_no_fill_a_bot_was_told_about(
    tmp_path: Path,
) -> None:
    load = crash(tmp_path, seed=4, kill_at=100, stall=True)
    assert load.probe is not None and load.selling is not None
    # The sell's 201 waited for the batch that never committed: the kill cut it off.
    with pytest.raises(httpx.HTTPError):
        load.selling.result(timeout=10)
    # The batch never committed: its fill is not in the file, so it must not have been
    # told (which `crash` checked) and is not in anyone's positions after the restart.
    stored = read(tmp_path / "game.db", "SELECT COUNT(*) FROM trades WHERE buy_order_id = ?",
                  (load.probe,))  # fmt: skip
    assert stored == [(0,)]
