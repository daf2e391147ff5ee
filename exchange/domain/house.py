"""The house's own participants as plain strategies: quotes on the underlyings, a quoted
option chain, and retail flow (SPEC sections 3 and 6).

They are `TradingStrategy` objects like any team's bot, so a replay runs them on its
virtual clock next to the teams' strategies, trade for trade the same on every run. Each
acts on what a snapshot shows (spots, fair values, the phase) and on its own fills.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from exchange.domain.instruments import Instrument
from exchange.domain.market.retail import RetailConfig, retail_orders
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, MarketSnapshot, Strategy
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import InstrumentId, Phase, Role, TeamId, Ticks, TimeNs

NS = 1_000_000_000

HOUSE_TEAMS = {"House liquidity": Role.HOUSE, "House options": Role.HOUSE,
               "Retail flow": Role.RETAIL}  # fmt: skip
"""The house's teams, in the order a game registers them."""


def two_sided(
    team_id: TeamId, instrument_id: InstrumentId, mid: int, half_spread: int, size: int
) -> NewQuote | None:
    """A quote around `mid`, or None when the bid would not be a positive price."""
    bid, ask = mid - half_spread, mid + half_spread
    if bid < 1:
        return None
    return NewQuote(team_id, instrument_id, Ticks(bid), size, Ticks(ask), size)


class HouseLiquidity(Strategy):
    """Quotes SPX and SPY around their simulated prices whenever the price moves a tick."""

    def __init__(self, spread_bp: float = 2.0, size: int = 100) -> None:
        self.spread_bp, self.size = spread_bp, size
        self.quoted: dict[str, int] = {}

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS:
            self.quoted.clear()  # the close cancelled every quote
            return ()
        out: list[Action] = []
        for symbol, spot in snapshot.spots.items():
            mid = round(spot * TICKS_PER_UNIT)
            if self.quoted.get(symbol) == mid:
                continue
            half = max(1, round(mid * self.spread_bp / 20_000))
            quote = two_sided(self.team_id, InstrumentId(symbol), mid, half, self.size)
            if quote is not None:
                out.append(quote)
                self.quoted[symbol] = mid
        return out

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.quoted.pop(fill.instrument_id, None)  # requote the side that was taken
        return ()


class HouseOptionsMaker(Strategy):
    """Quotes every listed option around its fair value: a live chain with no bots.

    Requotes where the fair value moved a quarter of the half-spread, or where a fill took
    some of the quote; elsewhere a resting quote keeps its place in the queue."""

    def __init__(self, spread: float = 0.04, size: int = 10, min_half_spread: int = 5) -> None:
        self.spread, self.size, self.min_half = spread, size, min_half_spread
        self.quoted: dict[InstrumentId, int] = {}

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS:
            self.quoted.clear()
            return ()
        out: list[Action] = []
        for instrument_id, fair in snapshot.fair.items():
            if instrument_id in snapshot.spots:
                continue  # the underlyings are the house liquidity's
            half = max(self.min_half, round(fair * self.spread / 2))
            quoted = self.quoted.get(instrument_id)
            if quoted is not None and abs(quoted - fair) * 4 < half:
                continue
            quote = two_sided(self.team_id, instrument_id, fair, half, self.size)
            if quote is not None:
                out.append(quote)
                self.quoted[instrument_id] = fair
        return out

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.quoted.pop(fill.instrument_id, None)
        return ()


class RetailFlow(Strategy):
    """The simulated retail crowd: a tick's orders drawn at the tick's first snapshot,
    then sent no faster than `per_second`, the retail role's rate limit."""

    def __init__(
        self,
        rng: np.random.Generator,
        config: RetailConfig | None = None,
        tick_seconds: int = 300,
        per_second: int = 1,
    ) -> None:
        self.rng, self.config = rng, config or RetailConfig()
        self.tick_ns, self.per_second = tick_seconds * NS, per_second
        self.options: dict[InstrumentId, Instrument] = {}
        self.positions: dict[InstrumentId, int] = {}
        self.queued: deque[NewOrder] = deque()
        self.tick: int | None = None
        self.sent_until: TimeNs | None = None

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        super().on_start(team_id, role, instruments)
        self.options = {i.id: i for i in instruments if i.is_option}

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS or not snapshot.fair:
            self.queued.clear()
            return ()
        tick = snapshot.now_ns // self.tick_ns
        if tick != self.tick:
            self.tick = tick
            self.queued.extend(self._draw(snapshot))
        return self._release(snapshot.now_ns)

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.positions[fill.instrument_id] = fill.position_after
        return ()

    def _draw(self, snapshot: MarketSnapshot) -> list[NewOrder]:
        listed = [o for i, o in self.options.items() if i in snapshot.fair]
        fair = {i: int(v) for i, v in snapshot.fair.items()}
        return retail_orders(
            self.rng, self.team_id, listed, fair, snapshot.spots, self.positions, self.config
        )

    def _release(self, now: TimeNs) -> list[Action]:
        """Up to the rate's worth of queued orders, at most once a second: a replay's step
        is one instant of game time, so a rate window would refuse any more."""
        since = self.sent_until if self.sent_until is not None else now - NS
        budget = self.per_second if now - since >= NS else 0  # all of a step is one instant
        out: list[Action] = []
        while self.queued and len(out) < budget:
            order = self.queued.popleft()
            if order.instrument_id in self.options:
                out.append(order)
        if out or not self.queued:
            self.sent_until = now
        return out

    def list_instruments(self, instruments: Sequence[Instrument]) -> None:
        """New weeklies are listed (the replay tells the house as the exchange lists them)."""
        self.options.update({i.id: i for i in instruments if i.is_option})
