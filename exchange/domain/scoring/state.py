"""The scorer's state, as plain mutable Structs: what it keeps is exactly what it saves.

All of a scorer's numbers live in one `ScorerState`, so `snapshot()` is one msgpack
encode and a restore one typed decode, and a restarted game carries on from the same
numbers. Only counts, sums and bounded lists are kept; every reported figure is derived
from them. Each team's P&L series (`Series`, for its chart) is kept beside it and saved
apart, a few teams at a time (`Scorer.series_snapshot`): it is most of the bytes, and
nothing is computed from it.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from exchange.domain.instruments import Instrument
from exchange.domain.scoring.results import PnlPoint, TimelineEntry, Window
from exchange.domain.types import InstrumentId, Role, TeamId

SNAPSHOT_VERSION = 3
"""2: markouts wait as aggregated lots, and the state knows the last trade it booked.
3: the P&L series are saved apart (a version 2 state carries them in its teams)."""
T = TypeVar("T")


class Tally(msgspec.Struct, array_like=True):
    """Resolved markouts: fills, contracts and the sum in ticks."""

    count: int = 0
    contracts: int = 0
    total: int = 0

    def add(self, count: int, quantity: int, value: int) -> None:
        self.count += count
        self.contracts += quantity
        self.total += value


class MarkoutLot(msgspec.Struct, array_like=True):
    """The fills of one team in one instrument at one price, on one side, as maker or
    taker, between two observations: they share a markout sign, so adding them up loses
    nothing. `exposure` sums side sign x quantity x multiplier, so the lot's markout is
    (mark - price) x exposure."""

    price: int
    maker: bool
    exposure: int = 0
    quantity: int = 0
    count: int = 0


class MarkoutBucket(msgspec.Struct, array_like=True):
    """The lots of the fills that came after observation `observation` (and before the
    next), by instrument and team: each horizon h marks them out at observation
    `observation + h`. Nested, so each id is saved once per bucket, not once per lot."""

    observation: int
    lots: dict[InstrumentId, dict[TeamId, list[MarkoutLot]]] = msgspec.field(default_factory=dict)


class MakerState(msgspec.Struct):
    """Quote uptime counts: observations with listed options, covered ones, and per
    instrument the observations listed and quoted two-sided."""

    observations: int = 0
    covered: int = 0
    listed: dict[InstrumentId, int] = msgspec.field(default_factory=dict)
    quoted: dict[InstrumentId, int] = msgspec.field(default_factory=dict)


class HedgeState(msgspec.Struct):
    delta: float | None = None
    """Portfolio delta at the last observation, in reference-underlying units."""
    penalty: int = 0
    breaches: int = 0
    """Observations spent past the delta limit."""
    in_breach: bool = False


class PendingSignal(msgspec.Struct, array_like=True):
    ts_ns: int
    kind: str
    left: int
    """Observations later than the signal still to come before it becomes a miss."""


class Windows(msgspec.Struct):
    """Consecutive event-to-event P&L windows: the open one, totals, the newest closed."""

    open_pnl: int | None = None
    open_ns: int = 0
    open_label: str = ""
    count: int = 0
    total: int = 0
    last: int | None = None
    kept: list[Window] = msgspec.field(default_factory=list)


class ArbState(msgspec.Struct):
    signals: int = 0
    responses: int = 0
    misses: int = 0
    response_ns_total: int = 0
    pending: list[PendingSignal] = msgspec.field(default_factory=list)
    windows: Windows = msgspec.field(default_factory=Windows)
    ratio: float | None = None
    """Larger over smaller absolute dollar exposure at the last observation."""
    imbalanced: bool = False
    imbalanced_observations: int = 0
    penalty: int = 0


class TeamState(msgspec.Struct):
    team_id: TeamId
    name: str
    role: Role
    cash: int = 0
    fees_paid: int = 0
    """Fees paid, as a positive number of ticks."""
    fees_received: int = 0
    positions: dict[InstrumentId, int] = msgspec.field(default_factory=dict)
    inventory: int = 0
    """Sum of absolute option positions, kept up to date on every fill."""
    max_inventory: int = 0
    spread_capture: int = 0
    fills: int = 0
    contracts: int = 0
    observations: int = 0
    markouts: list[list[Tally]] = msgspec.field(default_factory=list)
    """Per horizon: [all fills, maker fills, taker fills]."""
    adverse: int = 0
    """Maker fills with a negative markout at the middle horizon."""
    news: Windows = msgspec.field(default_factory=Windows)
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)
    rejections: int = 0
    limit_breach_attempts: int = 0
    markouts_untracked: int = 0
    """Fills not marked out because `max_pending_lots` lots were already waiting."""
    maker: MakerState | None = None
    hedge: HedgeState | None = None
    arb: ArbState | None = None


class ScorerState(msgspec.Struct):
    markout_ticks: tuple[int, ...]
    version: int = SNAPSHOT_VERSION
    instruments: dict[InstrumentId, Instrument] = msgspec.field(default_factory=dict)
    listed: dict[InstrumentId, None] = msgspec.field(default_factory=dict)
    """Ordered set of the instruments listed now."""
    observations: int = 0
    last_ns: int | None = None
    marks: dict[InstrumentId, int] = msgspec.field(default_factory=dict)
    deltas: dict[InstrumentId, float] = msgspec.field(default_factory=dict)
    spots: dict[str, float] = msgspec.field(default_factory=dict)
    teams: dict[TeamId, TeamState] = msgspec.field(default_factory=dict)
    pending: list[MarkoutBucket] = msgspec.field(default_factory=list)
    """Fills waiting for their marks, one bucket per observation, oldest first: at most
    the longest horizon's number of buckets, each dropped once its last horizon is due."""
    pending_lots: int = 0
    """Lots in `pending`, held under `max_pending_lots`."""
    fallback: dict[InstrumentId, int] = msgspec.field(default_factory=dict)
    """A price for a position with no mark (its average open price in the ledger, taken
    on `adopt`): the standing names such instruments in `unmarked`."""
    last_trade_id: int = 0
    """The highest trade id booked: a restored scorer books committed fills above it."""


def new_team(team_id: TeamId, name: str, role: Role, horizons: int) -> TeamState:
    team = TeamState(team_id, name, role)
    team.markouts = [[Tally(), Tally(), Tally()] for _ in range(horizons)]
    if role is Role.MARKET_MAKER:
        team.maker = MakerState()
    elif role is Role.HEDGE_FUND:
        team.hedge = HedgeState()
    elif role is Role.ARBITRAGE:
        team.arb = ArbState()
    return team


def push_bounded(items: list[T], item: T, limit: int) -> None:
    """Append and keep only the newest `limit` items."""
    items.append(item)
    if len(items) > limit:
        del items[0]


class Series(msgspec.Struct, array_like=True):
    """A team's P&L at every `stride`-th observation: `(ts_ns, pnl)` pairs, oldest first."""

    points: list[tuple[int, int]] = msgspec.field(default_factory=list)
    stride: int = 1


class SeriesSlice(msgspec.Struct, array_like=True):
    """The series of some teams as of `ts_ns`: what `Scorer.series_snapshot` saves."""

    ts_ns: int
    series: dict[TeamId, Series]


class V2Team(msgspec.Struct):
    """What a version 2 state kept of a team's series, inside the team."""

    pnl_points: list[PnlPoint] = msgspec.field(default_factory=list)
    pnl_stride: int = 1


class V2State(msgspec.Struct):
    teams: dict[TeamId, V2Team] = msgspec.field(default_factory=dict)


def add_pnl_point(series: Series, point: tuple[int, int], index: int, limit: int) -> None:
    """Keep the point of every `stride`-th observation (`index` counts from 0); when
    full, drop every other point and double the stride, so the kept points stay evenly
    spaced over the whole game."""
    if index % series.stride:
        return
    series.points.append(point)
    if len(series.points) >= limit:
        del series.points[1::2]
        series.stride *= 2
