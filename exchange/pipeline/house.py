"""The house task: the house's strategies (`exchange.domain.house`) run live.

The same strategy objects a replay runs on its virtual clock: every `interval` wall
seconds each is shown one market snapshot, in registration order rotated by one at each
showing (as the replay's runner does), and its actions go onto OrderQueue like any
team's requests, through the same validator, books and ledger. Its fills come back from
the publisher (`released`, a tap on each durable outbox), its refusals from the answers.

A team's orders are paced to its role's rate limit in wall time, the limit the
validator counts in: an order that would pass it waits for a later showing, so the
crowd's flow at a fast game clock is held back, never refused. When OrderQueue is full
the house steps back (the action is dropped and counted) rather than push.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from exchange.clock import Clock
from exchange.domain.house import HouseStrategy
from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll, CancelOrder, NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.ratelimit import SlidingWindow
from exchange.domain.strategy import Action, MarketSnapshot, Rejection, TradingStrategy
from exchange.domain.types import NS_PER_SECOND, TeamId
from exchange.pipeline import items
from exchange.pipeline.items import Outbox

log = logging.getLogger("exchange.house")

PACE_MARGIN = 1.05
"""A team's rate window is taken this much longer than the validator's one second, so
the wall time between enqueueing and validating an order cannot make it one too many."""


class MarketView(Protocol):
    """What the house reads of the market: one snapshot of books, prices and phase."""

    def snapshot(self) -> MarketSnapshot: ...


class HouseRunner:
    def __init__(
        self,
        strategies: Mapping[TeamId, TradingStrategy],
        rate_limits: Mapping[TeamId, int],
        orders: asyncio.Queue[Any],
        market: MarketView,
        clock: Clock,
        interval: float = 0.1,
    ) -> None:
        self.strategies = dict(strategies)
        self.orders = orders
        self.market = market
        self.clock = clock
        self.interval = interval
        self.windows = {
            team: SlidingWindow(limit, int(NS_PER_SECOND * PACE_MARGIN))
            for team, limit in rate_limits.items()
        }
        self.held: dict[TeamId, deque[Action]] = {team: deque() for team in self.strategies}
        """Orders waiting for room in their team's rate window, oldest first."""
        self.showings = 0
        self.dropped = 0
        """Actions the house gave up because OrderQueue was full."""
        self._ids = itertools.count(1)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.show()

    def show(self) -> None:
        """One snapshot to every strategy, first whoever's turn it is; then their actions."""
        market = self.market.snapshot()
        teams = list(self.strategies.items())
        turn = self.showings % max(1, len(teams))
        self.showings += 1
        for team, strategy in teams[turn:] + teams[:turn]:
            self._release(team)
            self.act(team, strategy.on_market(market))

    def released(self, out: Outbox) -> None:
        """A durable outbox (the publisher's tap): fills of the house's teams."""
        for _, buy, sell, _, _ in out.trades:
            for fill in (buy, sell):
                if fill.team_id in self.strategies:
                    self._filled(fill)

    def listed(self, instruments: Sequence[Instrument]) -> None:
        for strategy in self.strategies.values():
            if isinstance(strategy, HouseStrategy):
                strategy.on_listed(instruments)

    def act(self, team: TeamId, actions: Sequence[Action]) -> None:
        for action in actions:
            if action.team_id != team:
                continue  # a strategy may only act for its own team
            if isinstance(action, NewOrder | NewQuote) and (self.held[team] or self._busy(team)):
                self.held[team].append(action)
                continue
            self._send(team, action)

    def _filled(self, fill: Fill) -> None:
        self.act(fill.team_id, self.strategies[fill.team_id].on_fill(fill))

    def _busy(self, team: TeamId) -> bool:
        window = self.windows.get(team)
        return window is not None and window.count(self.clock.rate_ns()) >= window.limit

    def _release(self, team: TeamId) -> None:
        """Send what waited for the team's rate window, as far as the window allows."""
        held = self.held[team]
        while held and not self._busy(team):
            self._send(team, held.popleft())

    def _send(self, team: TeamId, action: Action) -> None:
        item, reply = self._item(action)
        try:
            self.orders.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if isinstance(action, NewOrder | NewQuote):
            window = self.windows.get(team)
            if window is not None:
                window.record(self.clock.rate_ns())
            reply.add_done_callback(self._answered(team, action))

    def _item(self, action: Action) -> tuple[Any, asyncio.Future[Any]]:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        request_id = f"house-{next(self._ids)}"
        if isinstance(action, CancelAll):
            item: Any = items.CancelTeam(action.team_id, action.instrument_id, reply, request_id)
        elif isinstance(action, CancelOrder):
            item = items.Cancel(action.team_id, action.order_id, reply, request_id)
        else:
            item = items.Submit(action, reply, request_id)
        return item, reply

    def _answered(
        self, team: TeamId, action: NewOrder | NewQuote
    ) -> Callable[[asyncio.Future[Any]], None]:
        def done(reply: asyncio.Future[Any]) -> None:
            if reply.cancelled() or reply.exception() is not None:
                return
            outcome = reply.result()
            if isinstance(outcome, items.Refused):
                r = outcome.rejection
                rejection = Rejection(self.clock.now(), action, r.code, r.message)
                self.act(team, self.strategies[team].on_reject(rejection))

        return done
