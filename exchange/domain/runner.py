"""Bots that run inside the process: the game loop that drives `TradingStrategy` objects
against a `TradingSession` on any clock (scenarios, replays, backtests, tests).

The interface itself is in `exchange.domain.strategy`, which the client distribution
ships without this engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from exchange.domain.orders import CancelAll, CancelOrder, OrderResult, QuoteResult
from exchange.domain.phases import Schedule
from exchange.domain.positions import Fill
from exchange.domain.session import Executed, TradingSession
from exchange.domain.strategy import (
    NO_PRICING,
    Action,
    MarketSignal,
    MarketSnapshot,
    News,
    Pricing,
    Rejection,
    Top,
    TradingStrategy,
)
from exchange.domain.types import InstrumentId, Role, Side, TeamId, Ticks, TimeNs
from exchange.domain.venue import ExchangeVenue

MAX_ACTIONS_PER_STEP = 10_000
"""A bound on the work one step may do, so a strategy that answers every fill with an
order that fills again cannot loop forever."""


def snapshot(
    session: TradingSession,
    now: TimeNs,
    pricing: Pricing = NO_PRICING,
    tops: TopCache | None = None,
) -> MarketSnapshot:
    venue = session.venue
    tops = tops if tops is not None else TopCache()
    return MarketSnapshot(
        now, venue.phase, tops.read(venue), pricing.fair, pricing.delta, pricing.spots,
        pricing.vol,
    )  # fmt: skip


class TopCache:
    """Each book's `Top`, built again only when the book or its last price changed: a
    snapshot a step reads hundreds of books of which few moved."""

    def __init__(self) -> None:
        self.built: dict[InstrumentId, tuple[int, Ticks | None, Top]] = {}

    def read(self, venue: ExchangeVenue) -> dict[InstrumentId, Top]:
        out: dict[InstrumentId, Top] = {}
        built, last_price = self.built, venue.last_price
        for instrument_id, book in venue.books.items():
            last = last_price.get(instrument_id)
            seen = built.get(instrument_id)
            if seen is not None and seen[0] == book.version and seen[1] == last:
                out[instrument_id] = seen[2]
                continue
            bid, ask = book.best(Side.BUY), book.best(Side.SELL)
            top = Top(
                None if bid is None else bid.price, 0 if bid is None else bid.quantity,
                None if ask is None else ask.price, 0 if ask is None else ask.quantity, last,
            )  # fmt: skip
            built[instrument_id] = (book.version, last, top)
            out[instrument_id] = top
        if len(built) > len(out):  # delisted books
            for gone in built.keys() - out.keys():
                del built[gone]
        return out


class RunnerListener(Protocol):
    """What a runner tells an onlooker (a scorer, a recorder): every request a team made
    with its outcome, and every fill, in the order they happened."""

    def executed(
        self, team_id: TeamId, action: Action, outcome: Executed | None, now: TimeNs
    ) -> None:
        """`outcome` is None for cancels."""
        ...

    def filled(self, fills: Sequence[Fill]) -> None: ...


class StrategyRunner:
    """The game loop for in-process bots: phases from the schedule, then one market
    snapshot per step to every strategy, in an order fixed by registration and the step
    (so runs repeat).

    Teams without a strategy may act too (`act`): scripted orders in a scenario."""

    def __init__(
        self,
        session: TradingSession,
        schedule: Schedule,
        start: TimeNs,
        listener: RunnerListener | None = None,
    ) -> None:
        self.session = session
        self.schedule = schedule
        self.now = start
        self.listener = listener
        self.strategies: dict[TeamId, TradingStrategy] = {}
        self.tops = TopCache()
        self.requests = 0
        self.showings = 0

    def add(self, team_id: TeamId, role: Role, strategy: TradingStrategy | None) -> None:
        self.session.register(team_id, role)
        if strategy is not None:
            strategy.on_start(team_id, role, list(self.session.venue.instruments.values()))
            self.strategies[team_id] = strategy

    def step(self, now: TimeNs, pricing: Pricing = NO_PRICING) -> None:
        """Move to `now` (phase changes on the way), then show every strategy the market."""
        self.advance(now)
        self.show(self.snapshot(now, pricing))

    def snapshot(self, now: TimeNs, pricing: Pricing = NO_PRICING) -> MarketSnapshot:
        return snapshot(self.session, now, pricing, self.tops)

    def show(self, market: MarketSnapshot) -> None:
        """Every strategy sees the same snapshot, in registration order rotated by one
        at each showing: whoever acts first in an instant trades on the others' older
        quotes, so no team may always be first."""
        turn = self.showings % max(1, len(self.strategies))
        self.showings += 1
        self._each(lambda s: s.on_market(market), first=turn)

    def advance(self, now: TimeNs) -> None:
        """Apply the schedule's phase changes up to `now` and tell the strategies."""
        pending: deque[tuple[TeamId, Action]] = deque()
        for change, fills in self.session.follow(self.schedule, self.now, now):
            for team, strategy in self.strategies.items():
                pending.extend((team, a) for a in strategy.on_phase(change.phase, now))
            self._dispatch(fills, pending)
        self.now = max(self.now, now)
        self._drain(pending, now)

    def news(self, news: News) -> None:
        self._each(lambda s: s.on_news(news))

    def signal(self, role: Role, signal: MarketSignal) -> None:
        roles = self.session.roles
        self._each(lambda s: s.on_signal(signal), lambda team: roles.get(team) is role)

    def act(self, team_id: TeamId, actions: Sequence[Action]) -> None:
        """Requests from outside the strategies (a scenario's script), at the runner's now."""
        self._drain(deque((team_id, a) for a in actions), self.now)

    def _each(
        self,
        call: Callable[[TradingStrategy], Sequence[Action]],
        wanted: Callable[[TeamId], bool] = lambda team: True,
        first: int = 0,
    ) -> None:
        """Call every wanted strategy, from the `first`-th registered on, round the end;
        then perform their actions in that order."""
        pending: deque[tuple[TeamId, Action]] = deque()
        teams = list(self.strategies.items())
        for team, strategy in teams[first:] + teams[:first]:
            if wanted(team):
                pending.extend((team, a) for a in call(strategy))
        self._drain(pending, self.now)

    def _drain(self, pending: deque[tuple[TeamId, Action]], now: TimeNs) -> None:
        done = 0
        while pending and done < MAX_ACTIONS_PER_STEP:
            team, action = pending.popleft()
            done += 1
            if action.team_id != team:
                continue  # a strategy may only act for its own team
            self.requests += 1
            outcome, result = self._perform(action, now)
            if self.listener is not None:
                self.listener.executed(team, action, outcome, now)
            if outcome is not None:
                self._dispatch(outcome.fills, pending)
            if result is not None and not result.accepted:
                self._refused(action, result, now, pending)

    def _perform(
        self, action: Action, now: TimeNs
    ) -> tuple[Executed | None, OrderResult | QuoteResult | None]:
        """The request's outcome (None for cancels) and its result, refused or not."""
        if isinstance(action, CancelOrder):
            return None, self.session.cancel(action, now)
        if isinstance(action, CancelAll):
            self.session.venue.cancel_all(action.team_id, now, action.instrument_id)
            return None, None
        executed = self.session.submit(action, now)
        return executed, executed.result

    def _refused(
        self,
        action: Action,
        result: OrderResult | QuoteResult,
        now: TimeNs,
        pending: deque[tuple[TeamId, Action]],
    ) -> None:
        strategy = self.strategies.get(action.team_id)
        if strategy is not None:
            code, message = result.error_code or "", result.error_message or ""
            answer = strategy.on_reject(Rejection(now, action, code, message))
            pending.extend((action.team_id, a) for a in answer)

    def _dispatch(self, fills: list[Fill], pending: deque[tuple[TeamId, Action]]) -> None:
        if fills and self.listener is not None:
            self.listener.filled(fills)
        for fill in fills:
            strategy = self.strategies.get(fill.team_id)
            if strategy is not None:
                pending.extend((fill.team_id, a) for a in strategy.on_fill(fill))
