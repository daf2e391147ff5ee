"""Run a `TradingStrategy` remotely, unchanged: the same object that runs embedded in the
server's process (`StrategyRunner`) trades here through the REST API and the stream.

How it works: three tasks share one event loop and so never run a strategy callback at
the same time.
- The listener reads the team's stream (which resumes by itself after a drop) and turns
  each message into what the strategy knows: `connection_status` -> `on_start` once
  (with `GET /instruments`), then `on_phase` on a change; `market_data` -> the market
  picture; `execution_report` + `position_update` -> `Fill` -> `on_fill`; `event` ->
  `on_news`; `signal` -> `on_signal`. After a `resync_required` it fetches the fills it
  missed with `GET /fills` (tried again at the next snapshot if the server cannot be
  reached).
- The ticker shows the strategy the latest market (`on_market`) every `interval` wall
  seconds, skipping a beat while earlier actions still wait to go out.
- The sender (`sender.py`) performs the actions in order, one request at a time: `NewOrder`
  -> `POST /orders`, `NewQuote` -> `POST /quotes`, `CancelOrder` -> `DELETE /orders/{id}`,
  `CancelAll` -> `DELETE /orders` (with `via="ws"`, the same requests as messages on an
  order stream); orders and quotes are paced to the role's rate.

What differs from the embedded runner, and only this: actions take a round trip, fills
and refusals (`on_reject`) come back when the answer or the stream brings them, game
time is the server's (estimated between its stamps), and every refusal is also counted
by error code (`RunStats.rejected`) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence

import httpx
import msgspec

from exchange.client.convert import game_ns, instrument_of, news_of, signal_of
from exchange.client.errors import AuthError, ConnectionLostError, ExchangeError, ServerError
from exchange.client.rest import Client, Via
from exchange.client.sender import RunStats, Sender
from exchange.client.state import ROLE_RATES, FillTracker, GameClock, MarketPicture
from exchange.client.stream import Stream
from exchange.domain.instruments import Instrument
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, Rejection, TradingStrategy
from exchange.domain.ticks import to_price
from exchange.domain.types import Phase, Role, TeamId, TimeNs
from exchange.wire.messages import (
    ConnectionStatus,
    Event,
    ExecutionReport,
    Heartbeat,
    MarketData,
    Message,
    PhaseChange,
    PositionSnapshot,
    PositionUpdate,
    Signal,
)

log = logging.getLogger("exchange.remote")


class RemoteRunner:
    """Drive one strategy against a running exchange with one team's API key.

    `interval`: wall seconds between `on_market` calls. `max_rate`: orders per second
    (default: the server's `X-RateLimit-Limit`, the role's limit until it is known).
    `cancel_on_stop`: cancel the team's resting orders when the run ends.
    `max_backoff` and `max_attempts`: the stream's reconnecting (see `Client.stream`):
    the longest wait between attempts, and how many attempts in a row may fail before
    the run ends with `ConnectionLostError` (None: keep trying as long as the run lasts).
    `instruments`: the books whose market data the strategy is shown (None: every book);
    its fills and positions come whatever it watches. `via="ws"`: the actions go as
    messages on an order stream instead of REST calls (see `Client.place_order`).
    """

    def __init__(
        self,
        strategy: TradingStrategy,
        base_url: str,
        api_key: str,
        *,
        interval: float = 1.0,
        max_rate: int | None = None,
        cancel_on_stop: bool = True,
        max_backlog: int = 50,
        max_backoff: float = 5.0,
        max_attempts: int | None = None,
        instruments: Iterable[str] | None = None,
        via: Via = "http",
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.strategy = strategy
        self.base_url = base_url
        self.api_key = api_key
        self.interval = interval
        self.max_rate = max_rate
        self.cancel_on_stop = cancel_on_stop
        self.max_backlog = max_backlog
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.watched = None if instruments is None else list(instruments)
        self.stats = RunStats()
        self.market = MarketPicture()
        self.clock = GameClock()
        self.instruments: list[Instrument] = []
        self.team_id: TeamId | None = None
        self.tracker = FillTracker(TeamId(""))
        self.sender = Sender(self.stats, max_rate, on_refused=self._refused, via=via)
        self._started = asyncio.Event()
        self._resync = False
        self._start_ns = TimeNs(0)
        self.client: Client | None = None
        self.stream: Stream | None = None
        self._handlers: dict[str, Callable[[Message], Awaitable[None]]] = {
            "connection_status": self._on_status,
            "position_snapshot": self._on_snapshot,
            "resync_required": self._on_resync,
            "market_data": self._on_market_data,
            "execution_report": self._on_report,
            "position_update": self._on_position,
            "phase_change": self._on_phase_change,
            "heartbeat": self._on_heartbeat,
            "event": self._on_event,
            "signal": self._on_signal,
        }

    async def run(self, seconds: float | None = None) -> RunStats:
        """Trade until `seconds` have passed (forever when None) or the task is cancelled;
        then stop the tasks and, if asked, cancel the team's orders. Raises the error that
        ended a task early: an `AuthError` for a wrong key, a `TeamDisabledError` when
        the organiser disables the team, a `ConnectionLostError` when the server cannot
        be reached at the start (later the stream reconnects, with backoff, until the run
        ends), or an exception from the strategy itself (a bug in a callback ends it)."""
        async with Client(self.base_url, self.api_key) as client:
            self.client = client
            await self._prepare(client)
            stream = self.stream = client.stream(
                first_backoff=min(0.05, self.max_backoff),
                max_backoff=self.max_backoff,
                max_attempts=self.max_attempts,
                instruments=self.watched,
            )
            tasks = [
                asyncio.create_task(self._listen(stream), name="remote-listen"),
                asyncio.create_task(self._tick(), name="remote-tick"),
                asyncio.create_task(self.sender.run(client), name="remote-send"),
            ]
            try:
                done, _ = await asyncio.wait(
                    tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION
                )
                for task in done:
                    task.result()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.stats.reconnects = stream.reconnects
                if self.cancel_on_stop and self.team_id is not None:
                    with contextlib.suppress(ExchangeError, httpx.HTTPError):
                        await client.cancel_all()
        return self.stats

    async def _prepare(self, client: Client) -> None:
        """The listed instruments, every book's top, and the game clock's speed."""
        self.instruments = [instrument_of(v) for v in await client.instruments()]
        self.market.seed(await client.prices(), self.watched)
        health = await client.health()
        self.clock.speed = health.clock_speed
        self._start_ns = game_ns(health.game_time)
        self.clock.stamp(self._start_ns, time.monotonic())

    def now(self) -> TimeNs:
        return self.clock.now(time.monotonic())

    # -- the listener ----------------------------------------------------------------

    async def _listen(self, stream: AsyncIterator[Message]) -> None:
        async for message in stream:
            await self.handle(message)

    async def handle(self, message: Message) -> None:
        """Take in one stream message (types the runner does not use are ignored)."""
        handler = self._handlers.get(message.type)
        if handler is not None:
            await handler(message)

    @property
    def backlog(self) -> int:
        """Actions waiting to be sent."""
        return self.sender.backlog

    async def _on_status(self, message: Message) -> None:
        status = msgspec.convert(message.data, ConnectionStatus)
        self.clock.stamp(game_ns(status.game_time), time.monotonic())
        if self.team_id is None:
            if status.team_id is None:
                raise AuthError("UNAUTHORIZED", "the stream took this key for a spectator's")
            self.team_id = self.sender.team_id = TeamId(status.team_id)
            self.tracker = FillTracker(self.team_id)
            self.stats.team_id, self.stats.role = status.team_id, status.role
            self.market.phase = Phase(status.phase)
            if self.max_rate is None:
                self.sender.pacer.limit = ROLE_RATES.get(status.role, 1)
            self.strategy.on_start(self.team_id, Role(status.role), list(self.instruments))
            self._started.set()
            return
        self._enter(Phase(status.phase))  # a phase change missed while away

    async def _on_snapshot(self, message: Message) -> None:
        self.tracker.reset(msgspec.convert(message.data, PositionSnapshot))
        if not self._resync:
            return
        try:
            await self._recover()
        except (ConnectionLostError, ServerError) as exc:
            # Still owed: the next connection's snapshot tries again (fills seen are skipped).
            log.warning("missed fills not fetched: %s", exc, extra={"code": exc.code})
            return
        self._resync = False

    async def _on_resync(self, message: Message) -> None:
        log.warning("stream resync: fetching missed fills", extra={"data": message.data})
        self._resync = True

    async def _recover(self) -> None:
        """Fills missed beyond the stream's history, from `GET /fills`."""
        assert self.client is not None
        views = await self.client.fills(since_trade_id=self.tracker.last_trade_id)
        fills = [f for f in self.tracker.recovered(views) if f.ts_ns >= self._start_ns]
        for fill in fills:
            self._fill(fill)

    async def _on_market_data(self, message: Message) -> None:
        self.market.apply(msgspec.convert(message.data, MarketData))

    async def _on_report(self, message: Message) -> None:
        report = msgspec.convert(message.data, ExecutionReport)
        if report.exec_type == "trade":
            for fill in self.tracker.report(report, self.now()):
                self._fill(fill)

    async def _on_position(self, message: Message) -> None:
        update = msgspec.convert(message.data, PositionUpdate)
        for fill in self.tracker.update(update, self.now()):
            self._fill(fill)

    async def _on_phase_change(self, message: Message) -> None:
        self._enter(Phase(msgspec.convert(message.data, PhaseChange).phase))

    async def _on_heartbeat(self, message: Message) -> None:
        beat = msgspec.convert(message.data, Heartbeat)
        self.clock.stamp(game_ns(beat.game_time), time.monotonic())

    async def _on_event(self, message: Message) -> None:
        self.stats.news += 1
        self._act(self.strategy.on_news(news_of(msgspec.convert(message.data, Event))))

    async def _on_signal(self, message: Message) -> None:
        self.stats.signals += 1
        self._act(self.strategy.on_signal(signal_of(msgspec.convert(message.data, Signal))))

    def _enter(self, phase: Phase) -> None:
        if phase is self.market.phase:
            return
        self.market.phase = phase
        self._act(self.strategy.on_phase(phase, self.now()))

    def _fill(self, fill: Fill) -> None:
        self.stats.fills += 1
        log.info(
            "fill: %s %d %s @ %s, position %d", fill.side.value, fill.quantity,
            fill.instrument_id, to_price(fill.price), fill.position_after,
            extra={"instrument_id": fill.instrument_id, "side": fill.side.value,
                   "quantity": fill.quantity, "price": to_price(fill.price),
                   "position": fill.position_after},
        )  # fmt: skip
        self._act(self.strategy.on_fill(fill))

    def _refused(self, action: Action, exc: ExchangeError) -> None:
        self._act(self.strategy.on_reject(Rejection(self.now(), action, exc.code, exc.message)))

    def _act(self, actions: Sequence[Action]) -> None:
        self.sender.put(actions)

    # -- the ticker ------------------------------------------------------------------

    async def _tick(self) -> None:
        await self._started.wait()
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            if self.backlog > self.max_backlog:
                self.stats.skipped_ticks += 1
            else:
                self.stats.market_calls += 1
                self._act(self.strategy.on_market(self.market.snapshot(self.now())))
            due += self.interval
            await asyncio.sleep(max(0.0, due - loop.time()))


async def run_remote(
    strategy: TradingStrategy,
    base_url: str,
    api_key: str,
    *,
    seconds: float | None = None,
    interval: float = 1.0,
    max_rate: int | None = None,
    cancel_on_stop: bool = True,
    via: Via = "http",
) -> RunStats:
    """Run `strategy` against the exchange at `base_url` as the team of `api_key`;
    `via="ws"` sends its orders on the stream."""
    runner = RemoteRunner(
        strategy, base_url, api_key, interval=interval, max_rate=max_rate,
        cancel_on_stop=cancel_on_stop, via=via,
    )  # fmt: skip
    return await runner.run(seconds)
