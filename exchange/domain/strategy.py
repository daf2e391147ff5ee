"""The `TradingStrategy` interface: what a bot is told and what it may answer.

A strategy is told what happened (market snapshots, its own fills and refusals, phase
changes, news, signals) and answers with actions (`NewOrder`, `NewQuote`, `CancelOrder`,
`CancelAll`); it never calls the exchange itself. So the same strategy runs embedded,
driven by `exchange.domain.runner.StrategyRunner` on any clock, or remotely through the
client library, which turns actions into requests.

This module imports only the plain value types (no matching engine, no numpy), so the
client distribution ships it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll, CancelOrder, NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.types import InstrumentId, Phase, Role, TeamId, Ticks, TimeNs

Action = NewOrder | NewQuote | CancelOrder | CancelAll


class Top(msgspec.Struct, frozen=True, gc=False):
    bid: Ticks | None
    bid_quantity: int
    ask: Ticks | None
    ask_quantity: int
    last: Ticks | None


class Pricing(msgspec.Struct, frozen=True, gc=False):
    """The model's view of value: fair values (ticks), option deltas per unit of the
    underlying, and the underlyings' simulated prices. Empty where no model runs."""

    fair: dict[InstrumentId, Ticks] = {}
    delta: dict[InstrumentId, float] = {}
    spots: dict[str, float] = {}
    vol: float | None = None
    """The annualised volatility the chain is priced with (the regime's), if known."""


NO_PRICING = Pricing()


class MarketSnapshot(msgspec.Struct, frozen=True, gc=False):
    now_ns: TimeNs
    phase: Phase
    tops: dict[InstrumentId, Top]
    fair: dict[InstrumentId, Ticks] = {}
    delta: dict[InstrumentId, float] = {}
    spots: dict[str, float] = {}
    vol: float | None = None


class News(msgspec.Struct, frozen=True, gc=False):
    """A headline, as every team hears it (its effect on the market is not told)."""

    ts_ns: TimeNs
    headline: str


class MarketSignal(msgspec.Struct, frozen=True, gc=False):
    """A role's private signal: `volatility_forecast` for hedge funds, `tracking_error`
    for arbitrage desks; `details` as in the wire's `signal` message."""

    ts_ns: TimeNs
    kind: str
    details: dict[str, object]


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """One of the team's own requests that the exchange refused: the action, the
    contract's error code (`POSITION_LIMIT_EXCEEDED`, `ORDER_NOT_FOUND`, ...) and its
    message. A refused request changed nothing."""

    ts_ns: TimeNs
    action: Action
    code: str
    message: str


class TradingStrategy(Protocol):
    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        """Called once before the first step."""
        ...

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]: ...

    def on_fill(self, fill: Fill) -> Sequence[Action]: ...

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]: ...

    def on_news(self, news: News) -> Sequence[Action]: ...

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]: ...

    def on_reject(self, rejection: Rejection) -> Sequence[Action]: ...


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

    def on_news(self, news: News) -> Sequence[Action]:
        return ()

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]:
        return ()

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        return ()
