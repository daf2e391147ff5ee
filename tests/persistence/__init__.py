"""Persistence through a real server on a real SQLite file (SPEC section 9).

The helpers here are shared by the modules of this package: a team that outlives a
server (its key is all it needs to talk to the next one), rows that make the server's
writer fail until a test removes them, and the wait for a server to go quiet.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from exchange.config import GameConfig
from exchange.store.schema import COLUMNS
from tests.server.harness import UNTHROTTLED, sandbox


class Member:
    """A registered team with an HTTP client for one server; `at` follows it to the next
    server on the same database, where the same key must still work."""

    def __init__(self, base: str, team_id: str, key: str, name: str, role: str) -> None:
        self.base = base
        self.team_id = team_id
        self.key = key
        self.name = name
        self.role = role
        self.http = httpx.Client(base_url=base, timeout=10, headers={"X-API-Key": key})

    @classmethod
    def register(cls, base: str, name: str, role: str) -> Member:
        with httpx.Client(base_url=base, timeout=10) as client:
            reply = client.post("/auth/register", json={"team_name": name, "role": role})
        assert reply.status_code == 201, reply.text
        data = reply.json()["data"]
        return cls(base, data["team_id"], data["api_key"], name, role)

    def at(self, base: str) -> Member:
        """Talk to the server at `base` from now on, with the same key; returns self."""
        self.close()
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10, headers={"X-API-Key": self.key})
        return self

    def close(self) -> None:
        self.http.close()

    def order(self, instrument: str, side: str, quantity: int, price: float | None = None,
              **extra: Any) -> httpx.Response:  # fmt: skip
        body: dict[str, Any] = {"instrument_id": instrument, "side": side, "quantity": quantity}
        if price is not None:
            body["price"] = price
        return self.http.post("/orders", json={**body, **extra})

    def placed(self, instrument: str, side: str, quantity: int, price: float | None = None,
               **extra: Any) -> int:  # fmt: skip
        """The id of an order the server accepted (201)."""
        reply = self.order(instrument, side, quantity, price, **extra)
        assert reply.status_code == 201, reply.text
        return int(reply.json()["order_id"])

    def get(self, path: str) -> Any:
        reply = self.http.get(path)
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]

    def positions(self) -> dict[str, Any]:
        return self.get(f"/positions/{self.team_id}")  # type: ignore[no-any-return]

    def fills(self) -> list[dict[str, Any]]:
        return self.get("/fills")  # type: ignore[no-any-return]

    def open_orders(self) -> list[dict[str, Any]]:
        return self.get("/orders")  # type: ignore[no-any-return]

    def stream(self, since: int | None = None) -> ClientConnection:
        url = self.base.replace("http://", "ws://") + "/ws"
        if since is not None:
            url += f"?since={since}"
        return connect(url, additional_headers={"X-API-Key": self.key}, open_timeout=5)


def order_in(
    pool: concurrent.futures.ThreadPoolExecutor,
    member: Member,
    instrument: str,
    side: str,
    quantity: int,
    price: float,
) -> concurrent.futures.Future[httpx.Response]:
    """`member.order(...)` sent from a thread of `pool` on a client of its own: an
    order is answered 201 only once it is committed, so while the writer fails the
    answer waits, and the test goes on meanwhile."""
    body = {"instrument_id": instrument, "side": side, "quantity": quantity, "price": price}

    def send() -> httpx.Response:
        headers = {"X-API-Key": member.key}
        with httpx.Client(base_url=member.base, timeout=30, headers=headers) as http:
            return http.post("/orders", json=body)

    return pool.submit(send)


def accepted_id(reply: httpx.Response) -> int:
    """The order id of a 201 answer."""
    assert reply.status_code == 201, reply.text
    return int(reply.json()["order_id"])


class Roster:
    """Registers teams and closes their clients at the end of a test, failed or not."""

    def __init__(self) -> None:
        self.members: list[Member] = []

    def __call__(self, base: str, name: str, role: str = "market_maker") -> Member:
        member = Member.register(base, name, role)
        self.members.append(member)
        return member

    def close(self) -> None:
        for member in self.members:
            member.close()


def options(base: str) -> list[str]:
    """The listed options, as GET /instruments gives them."""
    with httpx.Client(base_url=base, timeout=10) as client:
        listed = client.get("/instruments").json()["data"]
    return [i["instrument_id"] for i in listed if i["kind"] != "UNDERLYING"]


def health(base: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=10) as client:
        reply = client.get("/health")
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]  # type: ignore[no-any-return]


def settle(base: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until every queue of the server, the writer's included, is empty; its /health.

    The API answers an order after validation; matching, booking and writing follow.
    A queue's size counts an item until its task has taken it, and each task handles an
    item without awaiting, so empty queues mean every order sent so far has been booked.
    """
    deadline = time.monotonic() + timeout
    while True:
        data = health(base)
        if not any(data["queues"].values()) and data["database"]["queued"] == 0:
            return data
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not go quiet within {timeout}s: {data}")
        time.sleep(0.02)


def cents(amount: float) -> int:
    """Money on the wire has at most two decimals: compare it exactly, in cents (ticks)."""
    value = round(amount * 100)
    assert abs(amount * 100 - value) < 1e-6, f"{amount} is not a whole number of cents"
    return value


def read(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the database file, read by a connection of the test's own."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
        return conn.execute(sql, params).fetchall()


@contextlib.contextmanager
def refused(path: Path, table: str, key: str, rows: list[tuple[Any, ...]]) -> Iterator[None]:
    """Make the server's writer fail until the block ends: rows already in `table` under
    the `key`s the server is about to insert make its batch break a PRIMARY KEY, so it
    rolls back, is kept and retried (SPEC section 9). The loop is not blocked meanwhile:
    the server goes on trading, and only what waits for the commit waits."""
    columns = COLUMNS[table]
    insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})"
    with contextlib.closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as conn:
        with conn:
            conn.executemany(insert, rows)
        try:
            yield
        finally:
            position = columns.index(key)
            with conn:
                conn.executemany(
                    f"DELETE FROM {table} WHERE {key} = ?", [(r[position],) for r in rows]
                )


def taken_order_ids(first: int, count: int = 1) -> list[tuple[Any, ...]]:
    """Order rows (of no team) holding the ids the server hands out next."""
    return [
        (n, "nobody", "SPX", "buy", "limit", 1, 1, None, 0, "filled", 1, None, 0)
        for n in range(first, first + count)
    ]


def failed_writes(base: str) -> int:
    return int(health(base)["database"]["write_failures"])


def unthrottled(**server: Any) -> GameConfig:
    """The sandbox without the order rate rule (these tests send orders back to back),
    with the given `server` settings."""
    overrides: dict[str, Any] = dict(UNTHROTTLED)
    if server:
        overrides["server"] = server
    return sandbox(**overrides)
