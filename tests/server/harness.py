"""A real exchange server on 127.0.0.1 for tests: uvicorn in a thread, a free port.

Tests talk to it only through HTTP and WebSocket, as bots do. A server fails the test
that started it if any of its tasks crashed while it ran (see `serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from exchange.app import Exchange
from exchange.config import GameConfig, load_config
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.types import TeamId
from exchange.pipeline.items import Accepted, Submit
from exchange.web.server import create_app, uvicorn_config

_names = itertools.count(1)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served(NamedTuple):
    """A running test server: its base URL and, for the few tests that need to reach
    inside (to make a task crash on purpose), the `Exchange` it serves."""

    base: str
    exchange: Exchange

    def on_loop(self, action: Callable[[], Any]) -> Any:
        """Run `action` on the server's event loop, between two of its awaits, as its own
        tasks run (awaiting what it returns, if awaitable); wait for its result. The hook
        for tests that must reach inside, such as making a task crash."""

        async def run() -> Any:
            result = action()
            if inspect.isawaitable(result):
                return await result
            return result

        loop = self.exchange.supervisor.tasks["validator"].get_loop()
        return asyncio.run_coroutine_threadsafe(run(), loop).result(10)


class CrashWatch(logging.Handler):
    """Collects what the server's thread logs with a traceback: an exception a task or a
    route caught is a bug (docs/architecture.md), even when the task stays alive."""

    LOGGERS = ("exchange", "uvicorn.error")

    def __init__(self, thread_name: str) -> None:
        super().__init__(logging.ERROR)
        self.thread_name = thread_name
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.threadName == self.thread_name:
            self.records.append(record)

    def __enter__(self) -> CrashWatch:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


@contextlib.contextmanager
def serve(
    config: GameConfig | None = None,
    db_path: str | os.PathLike[str] | None = None,
    allow_crashes: bool = False,
    port: int | None = None,
    exchange: Exchange | None = None,
    **uvicorn_options: Any,
) -> Iterator[Served]:
    """Start an exchange (sandbox preset unless told otherwise), on the SQLite file
    `db_path` if given (a restart when it exists), on `port` if given (else a free one);
    yield it with its base URL. A test that measures the exchange in-thread may give it
    (`exchange`). `uvicorn_options` override the server's (e.g. `log_level="info"`,
    `access_log=True`).

    When the block ends without an error of its own, the test fails if any task of the
    server crashed or was restarted meanwhile, or anything in it logged a caught
    exception; a test that crashes a task on purpose says so with `allow_crashes`."""
    config = config or load_config(preset="sandbox")
    port = port or free_port()
    if exchange is None:
        exchange = Exchange(config, db_path=None if db_path is None else os.fspath(db_path))
    options = {"log_level": "warning", **uvicorn_options}
    settings = uvicorn_config(create_app(exchange), "127.0.0.1", port, **options)
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, name=f"test-server-{port}", daemon=True)
    with CrashWatch(thread.name) as watch:
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        try:
            yield Served(f"http://127.0.0.1:{port}", exchange)
        finally:
            server.should_exit = True
            thread.join(10)
    if not allow_crashes:
        assert_no_crashes(exchange, watch.records)


def assert_no_crashes(exchange: Exchange, records: list[logging.LogRecord]) -> None:
    restarts = {name: n for name, n in exchange.supervisor.restarts.items() if n}
    caught = [f"{r.name}: {r.getMessage()}\n{_traceback(r)}" for r in records]
    if restarts or caught:
        pytest.fail(
            f"the server's tasks crashed: restarts {restarts}; caught exceptions:\n"
            + "\n".join(caught),
            pytrace=False,
        )


def _traceback(record: logging.LogRecord) -> str:
    assert record.exc_info is not None
    return "".join(traceback.format_exception(*record.exc_info)[-6:])


@contextlib.contextmanager
def run_server(
    config: GameConfig | None = None,
    db_path: str | os.PathLike[str] | None = None,
    allow_crashes: bool = False,
    port: int | None = None,
    exchange: Exchange | None = None,
    **uvicorn_options: Any,
) -> Iterator[str]:
    """`serve`, yielding only the base URL: what a test that talks HTTP needs."""
    served = serve(config, db_path, allow_crashes, port, exchange, **uvicorn_options)
    with served as running:
        yield running.base


def wait_quoted(base: str, instruments: tuple[str, ...], timeout: float = 30.0) -> None:
    """Until the market trades continuously and each of `instruments` has a bid and an
    ask (the house quotes a moment after the open; a loaded machine makes it longer)."""

    def quoted() -> bool:
        data = httpx.get(f"{base}/market/prices", timeout=10).json()["data"]
        lines = {i["instrument_id"]: i for i in data["instruments"]}
        return data["phase"] == "CONTINUOUS" and all(
            lines[i]["bid"] is not None and lines[i]["ask"] is not None for i in instruments
        )

    deadline = time.monotonic() + timeout
    while not quoted():
        assert time.monotonic() < deadline, f"{instruments} not quoted in {timeout:g}s"
        time.sleep(0.05)


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


class InProcess:
    """A team of an in-process exchange that puts its requests on OrderQueue itself, as
    the API does, and awaits the validator's answer."""

    def __init__(self, team_id: TeamId, orders: asyncio.Queue[Any]) -> None:
        self.team_id, self.orders = team_id, orders

    async def send(self, request: NewOrder | NewQuote) -> bool:
        """True when the validator accepted the request."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.orders.put_nowait(Submit(request, reply, "in-process"))
        return isinstance(await reply, Accepted)


UNTHROTTLED = {"disabled_constraints": ["order_rate"]}
"""Sandbox overrides without the order rate rule, for modules whose tests send orders
back to back and are not about the rate limit (which counts in real time)."""


def stream(bot: Bot, since: int | None = None) -> ClientConnection:
    """An open WebSocket for the bot's team (use it in a `with` block)."""
    url = bot.ws_url if since is None else f"{bot.ws_url}?since={since}"
    return connect(url, additional_headers={"X-API-Key": bot.key}, open_timeout=5)
