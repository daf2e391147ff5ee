"""The house's own participants as plain strategies: quotes on the underlyings, a quoted
option chain, and the retail crowd (SPEC sections 3 and 6).

They are `TradingStrategy` objects like any team's bot, and the only implementation of
the house: a replay runs them on its virtual clock next to the teams' strategies, and
the live server runs the very same objects in a small task (`exchange.pipeline.house`)
that sends their actions through the validator like any team's. Each acts on what a
snapshot shows (spots, fair values, the regime's volatility, the books, the phase) and on
its own fills and refusals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from exchange.domain.instruments import Instrument
from exchange.domain.market.retail import Intent, RetailConfig, Room, draw_intents, priced
from exchange.domain.orders import CancelAll, NewOrder, NewQuote
from exchange.domain.positions import Fill
from exchange.domain.strategy import (
    Action,
    MarketSnapshot,
    Rejection,
    Strategy,
    TradingStrategy,
)
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import (
    NS_PER_SECOND,
    InstrumentId,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
)

LIQUIDITY, OPTIONS = "House liquidity", "House options"
MAX_CATCH_UP = 12
"""Ticks a retail trader draws at most at one snapshot when it saw none for a while."""
RETAIL_PREFIX = "Retail"


class HouseTeam(msgspec.Struct, frozen=True):
    """One of the house's teams: its name, role and strategy."""

    name: str
    role: Role
    strategy: TradingStrategy


def retail_name(n: int) -> str:
    """The crowd's n-th trader (from 1): 'Retail 01'."""
    return f"{RETAIL_PREFIX} {n:02d}"


def house_teams(
    retail_rng: np.random.Generator,
    retail: RetailConfig,
    tick_seconds: int,
    *,
    liquidity: bool = True,
    options_maker: bool = False,
    crowd: bool = True,
) -> list[HouseTeam]:
    """The house's teams in the order a game registers them, live and in replays alike.

    Each retail trader draws from a generator of its own, spawned from the retail
    stream, so a trader's orders do not depend on how many orders the others made."""
    teams: list[HouseTeam] = []
    if liquidity:
        teams.append(HouseTeam(LIQUIDITY, Role.HOUSE, HouseLiquidity()))
    if options_maker:
        teams.append(HouseTeam(OPTIONS, Role.HOUSE, HouseOptionsMaker()))
    if crowd:
        for n, rng in enumerate(retail_rng.spawn(retail.traders), start=1):
            trader = RetailTrader(rng, retail, tick_seconds)
            teams.append(HouseTeam(retail_name(n), Role.RETAIL, trader))
    return teams


def two_sided(
    team_id: TeamId, instrument_id: InstrumentId, mid: int, half_spread: int, size: int
) -> NewQuote:
    """A quote around `mid`; near zero the bid stays at the minimum tick and the ask
    above it, so even the cheapest option has a market."""
    bid = max(1, mid - half_spread)
    ask = max(bid + 1, mid + half_spread)
    return NewQuote(team_id, instrument_id, Ticks(bid), size, Ticks(ask), size)


class HouseStrategy(Strategy):
    """A house participant: told, as the runners list them, of new instruments."""

    def on_listed(self, instruments: Sequence[Instrument]) -> None:
        return None


class HouseLiquidity(HouseStrategy):
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
            out.append(two_sided(self.team_id, InstrumentId(symbol), mid, half, self.size))
            self.quoted[symbol] = mid
        return out

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.quoted.pop(fill.instrument_id, None)  # requote the side that was taken
        return ()


class HouseOptionsMaker(HouseStrategy):
    """Quotes every listed option on both sides through continuous trading.

    The quote is centred on fair value, shifted against the house's inventory in that
    option, and its half-width is `spread / 2` of the fair value scaled by the regime's
    volatility against `reference_vol` (never under `min_half_spread` ticks). It is sent
    again after every fill on it, and wherever the fair value (or the width) moved by
    `move_share` of the half-width; elsewhere a resting quote keeps its queue place."""

    def __init__(
        self,
        spread: float = 0.04,
        size: int = 10,
        min_half_spread: int = 5,
        reference_vol: float = 0.20,
        skew: float = 1.0,
        max_inventory: int = 100,
        move_share: float = 0.25,
    ) -> None:
        self.spread, self.size, self.min_half = spread, size, min_half_spread
        self.reference_vol, self.skew, self.max_inventory = reference_vol, skew, max_inventory
        self.move_share = move_share
        self.vol = reference_vol
        self.fair: dict[InstrumentId, int] = {}
        self.position: dict[InstrumentId, int] = {}
        self.quoted: dict[InstrumentId, tuple[int, int]] = {}
        """Each option's quoted (centre, half-width)."""
        self.settled: dict[InstrumentId, tuple[int, float, int]] = {}
        """Each option's (fair, vol, position) when a snapshot last looked at its quote:
        while they and the quote stand, the answer stands (no requote), so it is not
        worked out again at every snapshot."""
        self.continuous = False

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.continuous = snapshot.phase is Phase.CONTINUOUS
        if not self.continuous:
            self.quoted.clear()  # the close cancelled every quote
            return ()
        if snapshot.vol is not None:
            self.vol = snapshot.vol
        out: list[Action] = []
        spots, quoted, settled, position = snapshot.spots, self.quoted, self.settled, self.position
        for instrument_id, fair in snapshot.fair.items():
            if instrument_id in spots:
                continue  # the underlyings are the house liquidity's
            self.fair[instrument_id] = fair
            inputs = (fair, self.vol, position.get(instrument_id, 0))
            if instrument_id in quoted and settled.get(instrument_id) == inputs:
                continue  # quoted since at these very inputs (a fill), or left as it was
            settled[instrument_id] = inputs
            quote = self._requote(instrument_id, force=False)
            if quote is not None:
                out.append(quote)
        return out

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.position[fill.instrument_id] = fill.position_after
        if not self.continuous or fill.instrument_id not in self.fair:
            return ()
        quote = self._requote(fill.instrument_id, force=True)
        return () if quote is None else (quote,)

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        if isinstance(rejection.action, NewQuote):  # quote it afresh at the next snapshot
            self.quoted.pop(rejection.action.instrument_id, None)
        return ()

    def target(self, instrument_id: InstrumentId) -> tuple[int, int]:
        """The (centre, half-width) in ticks the option should be quoted at now."""
        fair = self.fair[instrument_id]
        half = max(self.min_half, round(fair * self.spread / 2 * self.vol / self.reference_vol))
        inventory = self.position.get(instrument_id, 0) / self.max_inventory
        centre = fair - round(self.skew * half * max(-1.0, min(1.0, inventory)))
        return centre, half

    def _requote(self, instrument_id: InstrumentId, force: bool) -> NewQuote | None:
        centre, half = self.target(instrument_id)
        quoted = self.quoted.get(instrument_id)
        if not force and quoted is not None:
            step = max(1, math.ceil(quoted[1] * self.move_share))
            if abs(quoted[0] - centre) < step and abs(quoted[1] - half) < step:
                return None
        self.quoted[instrument_id] = (centre, half)
        return two_sided(self.team_id, instrument_id, centre, half, self.size)


class Working(msgspec.Struct, gc=False):
    """A retail limit order that may still rest: what is left of it and until when."""

    side: Side
    remaining: int
    expires_ns: int


class RetailTrader(HouseStrategy):
    """One member of the retail crowd, with the retail role's rules as its own.

    Each tick it draws its orders (the crowd's share of the SPEC's flow) with a moment
    in the tick for each; an order is sized to the room its position limits leave, and
    priced from the fair value and the book only when its moment comes. It sends at most
    one order per `min_gap_ns` (the role's one order a second), keeps one limit order
    per option at a time (a new one replaces it) and cancels a limit order once it has
    rested `limit_lifetime_ticks`."""

    def __init__(
        self,
        rng: np.random.Generator,
        config: RetailConfig | None = None,
        tick_seconds: int = 300,
        min_gap_ns: int = NS_PER_SECOND,
    ) -> None:
        self.rng, self.config = rng, config or RetailConfig()
        if self.config.max_total_position is None:  # the role's portfolio limit
            limit = self.config.max_position
            self.config = msgspec.structs.replace(self.config, max_total_position=limit)
        self.tick_ns, self.min_gap_ns = tick_seconds * NS_PER_SECOND, min_gap_ns
        self.rate = self.config.orders_per_tick / self.config.traders
        self.options: dict[InstrumentId, Instrument] = {}
        self.positions: dict[InstrumentId, int] = {}
        self.working: dict[InstrumentId, Working] = {}
        self.queued: list[tuple[int, Intent]] = []
        self.tick: int | None = None
        self.last_sent: int | None = None
        self.drawn = 0
        """Orders drawn so far (before any found no room): the market quality report's."""

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        super().on_start(team_id, role, instruments)
        self.on_listed(instruments)

    def on_listed(self, instruments: Sequence[Instrument]) -> None:
        self.options.update({i.id: i for i in instruments if i.is_option})

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS or not snapshot.fair:
            self.queued.clear()
            self.working.clear()  # the close cancelled what rested
            return ()
        tick = snapshot.now_ns // self.tick_ns
        if self.tick is None or tick > self.tick:
            # Ticks passed between two snapshots are drawn too (a busy loop may show the
            # market less often than once a tick): the flow follows the game clock.
            first = tick if self.tick is None else max(self.tick + 1, tick - MAX_CATCH_UP + 1)
            self.tick = tick
            for missed in range(first, tick + 1):
                self._draw(snapshot, missed * self.tick_ns)
        return self._expire(snapshot.now_ns) + self._next(snapshot)

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.positions[fill.instrument_id] = fill.position_after
        working = self.working.get(fill.instrument_id)
        if working is not None:
            working.remaining -= fill.quantity
            if working.remaining <= 0:
                del self.working[fill.instrument_id]
        return ()

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        action = rejection.action
        if isinstance(action, NewOrder) and action.order_type is OrderType.LIMIT:
            self.working.pop(action.instrument_id, None)  # it never rested
        return ()

    def _draw(self, snapshot: MarketSnapshot, tick_start: int) -> None:
        listed = [o for i, o in self.options.items() if i in snapshot.fair]
        intents = draw_intents(self.rng, listed, snapshot.spots, self.config, self.rate)
        self.drawn += len(intents)
        self.queued += [(tick_start + int(i.at * self.tick_ns), i) for i in intents]

    def _expire(self, now: int) -> list[Action]:
        lifetime = self.config.limit_lifetime_ticks
        if lifetime == 0:
            return []
        ended = [iid for iid, w in self.working.items() if w.expires_ns <= now]
        for iid in ended:
            del self.working[iid]
        return [CancelAll(self.team_id, iid) for iid in ended]

    def _next(self, snapshot: MarketSnapshot) -> list[Action]:
        """The next due order (after the cancel of the limit order it replaces), if the
        pace allows one now and it finds room."""
        now = snapshot.now_ns
        if self.last_sent is not None and now - self.last_sent < self.min_gap_ns:
            return []
        while self.queued and self.queued[0][0] <= now:
            _, intent = self.queued.pop(0)
            replaces = intent.instrument.id in self.working
            order = self._order(intent, snapshot)
            if order is not None:
                self.last_sent = now
                if replaces and order.order_type is OrderType.LIMIT:
                    return [CancelAll(self.team_id, order.instrument_id), order]
                return [order]
        return []

    def _order(self, intent: Intent, snapshot: MarketSnapshot) -> NewOrder | None:
        iid = intent.instrument.id
        fair = snapshot.fair.get(iid)
        if fair is None or iid not in self.options:
            return None  # expired or delisted since it was drawn
        side, quantity = self._room().fit(iid, intent.side, intent.quantity)
        if quantity == 0:
            return None
        top = snapshot.tops.get(iid)
        opposite = None if top is None else (top.ask if side is Side.BUY else top.bid)
        order = priced(intent, self.team_id, side, quantity, int(fair), opposite)
        if order.order_type is OrderType.LIMIT:
            lifetime = self.config.limit_lifetime_ticks * self.tick_ns
            self.working[iid] = Working(side, quantity, snapshot.now_ns + lifetime)
        return order

    def _room(self) -> Room:
        """Room under the limits, counting every limit order that may still rest at its
        worst (one being replaced too: the exchange may not have cancelled it yet)."""
        buy: dict[InstrumentId, int] = {}
        sell: dict[InstrumentId, int] = {}
        for iid, w in self.working.items():
            (buy if w.side is Side.BUY else sell)[iid] = w.remaining
        return Room(self.positions, self.config, buy, sell)
