"""Simulated retail order flow, drawn once a tick (SPEC section 6).

How it works: a Poisson(3) number of orders per tick; all of a tick's random draws are
made at once (one array of uniforms per order), then each order is assembled:
- instrument: an underlying uniformly, a call with probability 0.6 (else a put), the
  nearest expiry with probability 0.8 (else one of the later ones uniformly), an
  out-of-the-money strike with probability 0.7 (else an in- or at-the-money one), then a
  strike uniformly within that group; an empty group falls back to the other one;
- size: exponential of mean 5, rounded and clipped to 1..50; side: buy or sell evenly;
- type: market with probability 0.4, else limit, priced from the option's fair value by
  a style from the `limit_styles` table: aggressive (30%) crosses fair value by 0.5-3%,
  passive (50%) rests 0.5-3% on the patient side, far (20%) rests 10-30% away. Prices are
  whole ticks, at least one tick from fair value and at least one tick.

Positions: the generator never produces an order that could carry the retail position
in an instrument past +-`max_position` (50), counting the worst case: the position given
plus every same-side order it has produced this tick (SPEC section 3's rule). An order
that does not fit is cut to the room left, or turned to the other side if only that side
has room, or dropped. Pass positions that include resting orders for a stricter bound.
`max_total_position` optionally caps the sum of absolute positions too (the retail row
of SPEC section 3's table says 50), off by default.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np

from exchange.domain.instruments import Instrument
from exchange.domain.orders import NewOrder
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import InstrumentId, OptionKind, OrderType, Side, TeamId, Ticks


class LimitStyle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    share: float
    min_offset: float
    max_offset: float
    """Distance from fair value, as a fraction of it (uniform between min and max)."""
    crosses: bool
    """True: a buy above fair value, a sell below; False: on the patient side."""


LIMIT_STYLES: tuple[LimitStyle, ...] = (
    LimitStyle("aggressive", 0.30, 0.005, 0.03, crosses=True),
    LimitStyle("passive", 0.50, 0.005, 0.03, crosses=False),
    LimitStyle("far", 0.20, 0.10, 0.30, crosses=False),
)


class RetailConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    orders_per_tick: float = 3.0
    mean_size: float = 5.0
    size_range: tuple[int, int] = (1, 50)
    call_share: float = 0.6
    otm_share: float = 0.7
    nearest_expiry_share: float = 0.8
    market_share: float = 0.4
    buy_share: float = 0.5
    limit_styles: tuple[LimitStyle, ...] = LIMIT_STYLES
    max_position: int = 50
    max_total_position: int | None = None
    traders: int = 50
    """The crowd's size: each trader is a retail team of its own, with the retail role's
    limits, and draws `orders_per_tick / traders` orders a tick (the crowd's sum keeps
    the SPEC's Poisson(3)), so no single account fills up."""
    limit_lifetime_ticks: int = 3
    """Ticks a retail limit order rests before its trader cancels it (a day order that
    its broker manages); 0 keeps it until it fills or the book closes."""

    def __post_init__(self) -> None:
        if not np.isclose(sum(s.share for s in self.limit_styles), 1.0):
            raise ValueError("limit style shares must sum to 1")
        if self.traders < 1:
            raise ValueError("the retail crowd needs at least one trader")
        if self.limit_lifetime_ticks < 0:
            raise ValueError("limit_lifetime_ticks cannot be negative")


# Columns of the per-order uniforms, one draw each.
(U_UNDERLYING, U_CALL, U_NEAREST, U_LATER, U_OTM, U_STRIKE, U_BUY, U_MARKET, U_STYLE, U_OFFSET,
 U_AT) = range(11)  # fmt: skip

Group = dict[bool, list[Instrument]]
"""Options of one underlying, kind and expiry, split by out of the money (True) or not."""


class _Chain:
    """The listed options grouped for picking: underlying -> expiries, and the groups."""

    def __init__(self, options: Sequence[Instrument], spots: Mapping[str, float]) -> None:
        self.groups: dict[tuple[str, OptionKind, dt.date], Group] = defaultdict(
            lambda: {True: [], False: []}
        )
        expiries: dict[str, set[dt.date]] = defaultdict(set)
        for o in options:
            if o.kind is None or o.strike is None or o.expiry is None:
                raise ValueError(f"not an option: {o.id}")
            spot = spots[o.underlying] * TICKS_PER_UNIT
            otm = o.strike > spot if o.kind is OptionKind.CALL else o.strike < spot
            self.groups[o.underlying, o.kind, o.expiry][otm].append(o)
            expiries[o.underlying].add(o.expiry)
        self.underlyings = sorted(expiries)
        self.expiries = {u: sorted(e) for u, e in expiries.items()}

    def pick(self, u: np.ndarray, config: RetailConfig) -> Instrument:
        underlying = self.underlyings[int(u[U_UNDERLYING] * len(self.underlyings))]
        kind = OptionKind.CALL if u[U_CALL] < config.call_share else OptionKind.PUT
        expiries = self.expiries[underlying]
        later = expiries[1:]
        nearest = u[U_NEAREST] < config.nearest_expiry_share or not later
        expiry = expiries[0] if nearest else later[int(u[U_LATER] * len(later))]
        group = self.groups.get((underlying, kind, expiry)) or {True: [], False: []}
        otm = bool(u[U_OTM] < config.otm_share)
        choices = group[otm] or group[not otm]
        if not choices:  # a chain listed without this kind: any option of the expiry
            choices = [o for g in self._groups_of(underlying, expiry) for o in g]
        return choices[int(u[U_STRIKE] * len(choices))]

    def _groups_of(self, underlying: str, expiry: dt.date) -> list[list[Instrument]]:
        return [
            g[flag]
            for (und, _, exp), g in self.groups.items()
            for flag in (True, False)
            if und == underlying and exp == expiry
        ]


class Room:
    """Worst-case positions as orders are produced: the long and the short extreme."""

    def __init__(
        self,
        positions: Mapping[InstrumentId, int],
        config: RetailConfig,
        open_buy: Mapping[InstrumentId, int] | None = None,
        open_sell: Mapping[InstrumentId, int] | None = None,
    ) -> None:
        self.config = config
        self.long: dict[InstrumentId, int] = dict(positions)
        self.short: dict[InstrumentId, int] = dict(positions)
        for iid, quantity in (open_buy or {}).items():
            self.long[iid] = self.long.get(iid, 0) + quantity
        for iid, quantity in (open_sell or {}).items():
            self.short[iid] = self.short.get(iid, 0) - quantity

    def fit(self, iid: InstrumentId, side: Side, size: int) -> tuple[Side, int]:
        """The side and quantity to send (quantity 0: nothing fits), and reserve them."""
        for s in (side, side.opposite):
            room = self._room(iid, s)
            if room > 0:
                quantity = min(size, room)
                book = self.long if s is Side.BUY else self.short
                book[iid] = book.get(iid, 0) + s.sign * quantity
                return s, quantity
        return side, 0

    def _room(self, iid: InstrumentId, side: Side) -> int:
        cap = self.config.max_position
        total = self.config.max_total_position
        if total is not None:
            others = sum(self._worst(i) for i in self.long.keys() | self.short.keys() if i != iid)
            cap = min(cap, total - others)
        if side is Side.BUY:
            return cap - self.long.get(iid, 0)
        return cap + self.short.get(iid, 0)

    def _worst(self, iid: InstrumentId) -> int:
        return max(abs(self.long.get(iid, 0)), abs(self.short.get(iid, 0)))


def limit_price(fair: int, side: Side, style: LimitStyle, u: float) -> Ticks:
    """A limit price `u` of the way through the style's offset band, on the tick grid."""
    fraction = style.min_offset + u * (style.max_offset - style.min_offset)
    offset = max(1, round(fair * fraction))
    direction = side.sign if style.crosses else -side.sign
    return Ticks(max(1, fair + direction * offset))


def _style(u: float, styles: tuple[LimitStyle, ...]) -> LimitStyle:
    cumulative = 0.0
    for style in styles:
        cumulative += style.share
        if u < cumulative:
            return style
    return styles[-1]


class Intent(msgspec.Struct, frozen=True, gc=False):
    """A retail order as drawn, before it is priced: what to trade and how.

    The price is set only when the order is sent (`priced`), from the fair value of
    that moment, so an order drawn early in a tick is not priced off a stale value."""

    instrument: Instrument
    side: Side
    quantity: int
    market: bool
    style: LimitStyle
    offset: float
    """Where in the style's offset band the limit price falls (a uniform draw)."""
    at: float
    """When in the tick it is sent, as a fraction of the tick (a uniform draw)."""


def draw_intents(
    rng: np.random.Generator,
    options: Sequence[Instrument],
    spot_by_underlying: Mapping[str, float],
    config: RetailConfig,
    rate: float | None = None,
) -> list[Intent]:
    """One tick's orders, drawn but not yet sized to the room or priced, in send order.

    `rate` is the Poisson mean (default: the config's orders per tick)."""
    count = int(rng.poisson(config.orders_per_tick if rate is None else rate))
    if count == 0 or not options:
        return []
    uniforms = rng.random((count, 11))
    low, high = config.size_range
    sizes = np.clip(np.rint(rng.exponential(config.mean_size, count)), low, high).astype(int)
    chain = _Chain(options, spot_by_underlying)
    out = []
    for u, size in zip(uniforms, sizes, strict=True):
        side = Side.BUY if u[U_BUY] < config.buy_share else Side.SELL
        out.append(Intent(
            chain.pick(u, config), side, int(size), bool(u[U_MARKET] < config.market_share),
            _style(float(u[U_STYLE]), config.limit_styles), float(u[U_OFFSET]),
            float(u[U_AT]),
        ))  # fmt: skip
    out.sort(key=lambda intent: intent.at)
    return out


def priced(
    intent: Intent,
    team_id: TeamId,
    side: Side,
    quantity: int,
    fair: int,
    best_opposite: int | None,
) -> NewOrder:
    """The order to send for `intent` now: a market order, or a limit priced off `fair`.

    A passive or far limit stays on its patient side of the book: it is kept a tick
    inside the best opposite price rather than crossing it."""
    iid = intent.instrument.id
    if intent.market:
        return NewOrder(team_id, iid, side, quantity, None, OrderType.MARKET)
    price = limit_price(fair, side, intent.style, intent.offset)
    if not intent.style.crosses and best_opposite is not None:
        inside = best_opposite - side.sign
        price = Ticks(max(1, min(price, inside) if side is Side.BUY else max(price, inside)))
    return NewOrder(team_id, iid, side, quantity, price, OrderType.LIMIT)


def retail_orders(
    rng: np.random.Generator,
    team_id: TeamId,
    options: Sequence[Instrument],
    fair_values: Mapping[InstrumentId, int],
    spot_by_underlying: Mapping[str, float],
    positions: Mapping[InstrumentId, int],
    config: RetailConfig | None = None,
) -> list[NewOrder]:
    """One tick of retail orders for `team_id` on the listed `options`, priced at once.

    `fair_values` are in ticks per unit (every option needs one), spots in price units.
    Never returns an order that could take a position past the limits (module docstring).
    """
    config = config or RetailConfig()
    room = Room(positions, config)
    orders: list[NewOrder] = []
    for intent in draw_intents(rng, options, spot_by_underlying, config):
        side, quantity = room.fit(intent.instrument.id, intent.side, intent.quantity)
        if quantity > 0:
            fair = fair_values[intent.instrument.id]
            orders.append(priced(intent, team_id, side, quantity, fair, None))
    return orders
