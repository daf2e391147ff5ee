"""The remote runner's sender: a strategy's actions as REST requests, one at a time, in
the order the strategy gave them, orders and quotes paced to the role's rate.

`NewOrder` -> `POST /orders`, `NewQuote` -> `POST /quotes`, `CancelOrder` ->
`DELETE /orders/{id}`, `CancelAll` -> `DELETE /orders[?instrument_id=]`; with
`via="ws"` the same requests as messages on the client's order stream (`new_order`,
`quote`, `cancel`, `cancel_all`), with the same answers and errors. A refusal is an
outcome, not a failure: it is counted by error code in `RunStats.rejected`, logged, and
handed to `on_refused` when the exchange itself said no (a `RejectedError`,
`InvalidRequestError` or `AuthError`; after a `ConnectionLostError` or a `ServerError`
the request's fate is unknown, so it is only counted); then the next action goes out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import msgspec

from exchange.client.convert import price_of
from exchange.client.errors import AuthError, ExchangeError, InvalidRequestError, RejectedError
from exchange.client.rest import Client, Via
from exchange.client.state import RatePacer
from exchange.domain.orders import CancelAll, CancelOrder, NewQuote
from exchange.domain.strategy import Action
from exchange.domain.ticks import to_price
from exchange.domain.types import TeamId

log = logging.getLogger("exchange.remote")

RATE_WINDOW = 1.05
"""Seconds of the local pacing window: a little over the server's one second, so that
network jitter does not turn a paced order into a 429."""

SAID_NO = (RejectedError, InvalidRequestError, AuthError)
"""The errors that are the exchange's own answer: the request changed nothing."""


class RunStats(msgspec.Struct):
    """What a run did: requests that passed and refusals by error code."""

    team_id: str = ""
    role: str = ""
    orders: int = 0
    """Orders and quotes the exchange accepted."""
    cancels: int = 0
    rejected: dict[str, int] = {}
    fills: int = 0
    news: int = 0
    signals: int = 0
    market_calls: int = 0
    skipped_ticks: int = 0
    """`on_market` calls skipped because earlier actions were still queued."""
    reconnects: int = 0
    foreign: int = 0
    """Actions for another team, ignored (as the embedded runner ignores them)."""


class Sender:
    """Holds the actions waiting to go out and sends them. `max_rate` fixes the pace;
    without it the pace follows the server's `X-RateLimit-Limit`."""

    def __init__(
        self,
        stats: RunStats,
        max_rate: int | None = None,
        on_refused: Callable[[Action, ExchangeError], None] | None = None,
        via: Via = "http",
    ) -> None:
        self.stats = stats
        self.max_rate = max_rate
        self.on_refused = on_refused
        self.via: Via = via
        self.team_id: TeamId | None = None
        """Set once the stream has said whose key this is; other teams' actions are dropped."""
        self.pacer = RatePacer(max_rate or 1, RATE_WINDOW)
        self._queue: asyncio.Queue[Action] = asyncio.Queue()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def put(self, actions: Sequence[Action]) -> None:
        for action in actions:
            self._queue.put_nowait(action)

    async def run(self, client: Client) -> None:
        while True:
            action = await self._queue.get()
            if action.team_id != self.team_id:
                self.stats.foreign += 1
                continue
            try:
                await self.perform(client, action)
            except ExchangeError as exc:
                self.refused(action, exc)

    async def perform(self, client: Client, action: Action) -> None:
        """One action as its request; raises the client's error for a refusal."""
        via = self.via
        if isinstance(action, CancelOrder):
            await client.cancel(str(action.order_id), via=via)
            self.stats.cancels += 1
            return
        if isinstance(action, CancelAll):
            answer = await client.cancel_all(action.instrument_id, via=via)
            self.stats.cancels += answer.count
            return
        await self._pace(client)
        if isinstance(action, NewQuote):
            await client.quote(
                action.instrument_id, to_price(action.bid_price), action.bid_quantity,
                to_price(action.ask_price), action.ask_quantity, via=via,
            )  # fmt: skip
        else:
            await client.place_order(
                action.instrument_id, action.side.value, action.quantity, price_of(action),
                action.client_order_id, via=via,
            )  # fmt: skip
        self.stats.orders += 1

    async def _pace(self, client: Client) -> None:
        """Wait for room in the local one-second window (cancels do not count)."""
        if self.max_rate is None and client.rate_limit is not None:
            self.pacer.limit = max(1, client.rate_limit)
        wait = self.pacer.wait(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)
        self.pacer.record(time.monotonic())

    def refused(self, action: Action, exc: ExchangeError) -> None:
        rejected = self.stats.rejected
        rejected[exc.code] = rejected.get(exc.code, 0) + 1
        # A cancel that finds its order already filled is the normal race, not news.
        level = logging.DEBUG if exc.code == "ORDER_NOT_FOUND" else logging.INFO
        log.log(
            level, "refused: %s %s: %s %s", type(action).__name__,
            getattr(action, "instrument_id", ""), exc.code, exc.message,
            extra={"code": exc.code, "reason": exc.message, "action": type(action).__name__,
                   "instrument_id": getattr(action, "instrument_id", None)},
        )  # fmt: skip
        if self.on_refused is not None and isinstance(exc, SAID_NO):
            self.on_refused(action, exc)
