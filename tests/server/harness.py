"""A real exchange server on 127.0.0.1 for tests: uvicorn in a thread, a free port.

Tests talk to it only through HTTP and WebSocket, as bots do.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from exchange.app import Exchange
from exchange.config import GameConfig, load_config
from exchange.web.server import create_app, uvicorn_config

_names = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_server(
    config: GameConfig | None = None,
    db_path: str | os.PathLike[str] | None = None,
    exchange: Exchange | None = None,
    **options: Any,
) -> Iterator[str]:
    """Start an exchange (sandbox preset unless told otherwise), on the SQLite file
    `db_path` if given (a restart when it exists), or the one given (for a test that
    measures it in-thread), with uvicorn `options` if any; yield its base URL."""
    config = config or load_config(preset="sandbox")
    port = free_port()
    if exchange is None:
        exchange = Exchange(config, db_path=None if db_path is None else os.fspath(db_path))
    settings = uvicorn_config(
        create_app(exchange), "127.0.0.1", port, log_level="warning", **options
    )
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def sandbox(**overrides: Any) -> GameConfig:
    return load_config(preset="sandbox", overrides=overrides)


class Bot:
    """A registered team with a synchronous HTTP client."""

    def __init__(self, base: str, role: str = "market_maker", name: str | None = None) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)
        name = name or f"{role}-{next(_names)}"
        reply = self.http.post("/auth/register", json={"team_name": name, "role": role})
        assert reply.status_code == 201, reply.text
        data = reply.json()["data"]
        self.team_id: str = data["team_id"]
        self.key: str = data["api_key"]
        self.http.headers["X-API-Key"] = self.key

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    def order(self, instrument: str, side: str, quantity: int, price: float | None = None,
              **extra: Any) -> httpx.Response:  # fmt: skip
        body: dict[str, Any] = {"instrument_id": instrument, "side": side, "quantity": quantity}
        if price is not None:
            body["price"] = price
        return self.http.post("/orders", json={**body, **extra})

    def quote(self, instrument: str, bid: float, ask: float, size: int = 10) -> httpx.Response:
        return self.http.post("/quotes", json={
            "instrument_id": instrument, "bid_price": bid, "bid_quantity": size,
            "ask_price": ask, "ask_quantity": size,
        })  # fmt: skip

    def positions(self) -> dict[str, Any]:
        reply = self.http.get(f"/positions/{self.team_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()
