"""Bots that run inside the process: the `TradingStrategy` interface and its game loop.

A strategy is told what happened (market snapshots, its own fills, phase changes) and
answers with actions (`NewOrder`, `NewQuote`, `CancelOrder`); it never calls the
exchange itself. So the same strategy runs embedded here, driven by `StrategyRunner`
on any clock, or remotely through the client library, which turns actions into requests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

import msgspec

from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelOrder, NewOrder, NewQuote
from exchange.domain.phases import Schedule
from exchange.domain.positions import Fill
from exchange.domain.session import Executed, TradingSession
from exchange.domain.types import InstrumentId, Phase, Role, TeamId, Ticks, TimeNs

Action = NewOrder | NewQuote | CancelOrder

MAX_ACTIONS_PER_STEP = 10_000
"""A bound on the work one step may do, so a strategy that answers every fill with an
order that fills again cannot loop forever."""


class Top(msgspec.Struct, frozen=True, gc=False):
    bid: Ticks | None
    bid_quantity: int
    ask: Ticks | None
    ask_quantity: int
    last: Ticks | None


class MarketSnapshot(msgspec.Struct, frozen=True, gc=False):
    now_ns: TimeNs
    phase: Phase
    tops: dict[InstrumentId, Top]


class TradingStrategy(Protocol):
    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        """Called once before the first step."""
        ...

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]: ...

    def on_fill(self, fill: Fill) -> Sequence[Action]: ...

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]: ...


class Strategy:
    """A base that does nothing: override only what the bot needs."""

    team_id: TeamId
    role: Role

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        self.team_id, self.role = team_id, role

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        return ()

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        return ()

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]:
        return ()


def snapshot(session: TradingSession, now: TimeNs) -> MarketSnapshot:
    venue = session.venue
    tops = {}
    for instrument_id, book in venue.books.items():
        bids, asks = book.depth(1)
        tops[instrument_id] = Top(
            bids[0].price if bids else None, bids[0].quantity if bids else 0,
            asks[0].price if asks else None, asks[0].quantity if asks else 0,
            venue.last_price.get(instrument_id),
        )  # fmt: skip
    return MarketSnapshot(now, venue.phase, tops)


class StrategyRunner:
    """The game loop for in-process bots: phases from the schedule, then one market
    snapshot per step to every strategy, in registration order (so runs repeat)."""

    def __init__(self, session: TradingSession, schedule: Schedule, start: TimeNs) -> None:
        self.session = session
        self.schedule = schedule
        self.now = start
        self.strategies: dict[TeamId, TradingStrategy] = {}
        self.results: list[Executed] = []

    def add(self, team_id: TeamId, role: Role, strategy: TradingStrategy) -> None:
        self.session.register(team_id, role)
        strategy.on_start(team_id, role, list(self.session.venue.instruments.values()))
        self.strategies[team_id] = strategy

    def step(self, now: TimeNs) -> None:
        pending: deque[tuple[TeamId, Action]] = deque()
        for change, fills in self.session.follow(self.schedule, self.now, now):
            for team, strategy in self.strategies.items():
                pending.extend((team, a) for a in strategy.on_phase(change.phase, now))
            self._dispatch(fills, pending)
        self.now = now
        market = snapshot(self.session, now)
        for team, strategy in self.strategies.items():
            pending.extend((team, a) for a in strategy.on_market(market))
        self._drain(pending, now)

    def _drain(self, pending: deque[tuple[TeamId, Action]], now: TimeNs) -> None:
        done = 0
        while pending and done < MAX_ACTIONS_PER_STEP:
            team, action = pending.popleft()
            done += 1
            if action.team_id != team:
                continue  # a strategy may only act for its own team
            if isinstance(action, CancelOrder):
                self.session.cancel(action, now)
                continue
            executed = self.session.submit(action, now)
            self.results.append(executed)
            self._dispatch(executed.fills, pending)

    def _dispatch(self, fills: list[Fill], pending: deque[tuple[TeamId, Action]]) -> None:
        for fill in fills:
            strategy = self.strategies.get(fill.team_id)
            if strategy is not None:
                pending.extend((fill.team_id, a) for a in strategy.on_fill(fill))
