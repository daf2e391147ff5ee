"""REST requests and the `data` of REST answers (SPEC section 8).

Requests forbid unknown fields, so a typo is an error and not a silently ignored field.
Prices are decimals here (JSON numbers, at most two places); `codec` turns them into ticks.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

from exchange.domain.types import Side

Price = Annotated[float, Meta(gt=0, le=1_000_000, description="Decimal, 0.01 tick grid")]
Quantity = Annotated[int, Meta(ge=1, le=1_000_000)]
InstrumentIdText = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[A-Z0-9_.]+$")]
ClientId = Annotated[str, Meta(min_length=1, max_length=64)]
TeamName = Annotated[
    str, Meta(min_length=3, max_length=50, pattern=r"^[\w][\w .\-]*[\w]$",
              description="Letters, digits, spaces, '.', '-', '_'; 3 to 50 characters")
]  # fmt: skip
TeamRole = Literal["market_maker", "hedge_fund", "arbitrage", "retail"]

T = TypeVar("T")


class Request(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class RegisterRequest(Request, frozen=True):
    team_name: TeamName
    role: TeamRole


class OrderRequest(Request, frozen=True):
    """No price means a market order; `request_id` makes a retry safe (idempotent)."""

    instrument_id: InstrumentIdText
    side: Side
    quantity: Quantity
    price: Price | None = None
    order_type: Literal["limit", "market"] | None = None
    client_order_id: ClientId | None = None
    request_id: ClientId | None = None


class QuoteRequest(Request, frozen=True):
    instrument_id: InstrumentIdText
    bid_price: Price
    bid_quantity: Quantity
    ask_price: Price
    ask_quantity: Quantity
    request_id: ClientId | None = None


class DeadMansSwitchRequest(Request, frozen=True):
    """Cancel all the team's orders if it sends nothing for `cancel_after` seconds; 0 disarms."""

    cancel_after: Annotated[float, Meta(ge=0, le=3600)]


# -- answers ---------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any] = {}


class Envelope(msgspec.Struct, Generic[T], frozen=True):
    """Every REST answer: `data` on success, `error` on failure."""

    success: bool
    request_id: str
    timestamp: str
    data: T | None = None
    error: ErrorBody | None = None
    order_id: str | None = None


class Registered(msgspec.Struct, frozen=True):
    team_id: str
    team_name: str
    role: str
    api_key: str
    """Shown once; the server keeps only its hash."""


class StreamTicket(msgspec.Struct, frozen=True):
    ticket: str
    """For `/ws?ticket=`: one connection, within `expires_in` seconds."""
    expires_in: int


class OrderAck(msgspec.Struct, frozen=True):
    """An order accepted by validation; its fills arrive as execution reports."""

    order_id: str
    instrument_id: str
    side: Side
    order_type: str
    quantity: int
    price: float | None
    status: str
    client_order_id: str | None = None


class QuoteAck(msgspec.Struct, frozen=True):
    instrument_id: str
    bid_order_id: str
    ask_order_id: str
    bid_price: float
    bid_quantity: int
    ask_price: float
    ask_quantity: int
    status: str


class OrderView(msgspec.Struct, frozen=True):
    order_id: str
    instrument_id: str
    side: Side
    order_type: str
    price: float | None
    quantity: int
    filled: int
    remaining: int
    status: str
    client_order_id: str | None
    created_at: str


class CancelAck(msgspec.Struct, frozen=True):
    order_id: str
    instrument_id: str
    status: str
    cancelled_quantity: int
    filled: int
    client_order_id: str | None = None


class CancelAllAck(msgspec.Struct, frozen=True):
    cancelled: list[CancelAck]
    count: int


class FillView(msgspec.Struct, frozen=True):
    trade_id: int
    order_id: str
    instrument_id: str
    side: Side
    price: float
    quantity: int
    liquidity_type: str
    fee: float
    position_after: int
    timestamp: str
    client_order_id: str | None = None


class PositionLine(msgspec.Struct, frozen=True):
    instrument_id: str
    quantity: int
    average_price: float | None
    mark_price: float | None
    unrealised_pnl: float


class PositionsView(msgspec.Struct, frozen=True):
    team_id: str
    role: str
    cash: float
    fees: float
    realised_pnl: float
    unrealised_pnl: float
    total_pnl: float
    positions: list[PositionLine]


class InstrumentView(msgspec.Struct, frozen=True):
    instrument_id: str
    underlying: str
    kind: str
    strike: float | None
    expiry: str | None
    multiplier: int
    tick_size: float


class BookLevel(msgspec.Struct, frozen=True):
    price: float
    quantity: int
    orders: int


class BookView(msgspec.Struct, frozen=True):
    instrument_id: str
    phase: str
    bids: list[BookLevel]
    asks: list[BookLevel]
    last: float | None
    indicative_price: float | None = None
    indicative_volume: int | None = None


class PriceLine(msgspec.Struct, frozen=True):
    instrument_id: str
    bid: float | None
    bid_size: int
    ask: float | None
    ask_size: int
    last: float | None
    indicative_price: float | None = None
    indicative_volume: int | None = None


class PricesView(msgspec.Struct, frozen=True):
    phase: str
    game_time: str
    underlyings: dict[str, float | None]
    instruments: list[PriceLine]


class PricePoint(msgspec.Struct, frozen=True):
    """An underlying sampled: its book's mid (null while one-sided) and simulated price."""

    game_time: str
    symbol: str
    mid: float | None
    fair_value: float | None


class TradePoint(msgspec.Struct, frozen=True):
    """A public print, with the game time its `trade` message went out."""

    game_time: str
    trade_id: int
    instrument_id: str
    price: float
    quantity: int
    aggressor: str | None


class NewsPoint(msgspec.Struct, frozen=True):
    """A headline (`kind` "news") or a phase change (`kind` "phase", text "OLD → NEW"),
    with the `game_time` its stream message (`event`, `phase_change`) carries."""

    game_time: str
    kind: str
    text: str


class BoardEntry(msgspec.Struct, frozen=True):
    team_id: str
    name: str
    pnl: float


class BoardPoint(msgspec.Struct, frozen=True):
    """The overall ranking's P&L at one moment (a leaderboard sampled)."""

    game_time: str
    teams: list[BoardEntry]


class HistoryView(msgspec.Struct, frozen=True):
    """`GET /market/history`: the day so far, oldest first, each list bounded by
    `server.market_history` (the oldest dropped first)."""

    game_time: str
    prices: list[PricePoint]
    trades: list[TradePoint]
    news: list[NewsPoint]
    leaderboard: list[BoardPoint]


class HealthView(msgspec.Struct, frozen=True):
    status: str
    phase: str
    game_time: str
    clock_speed: float
    teams: int
    connections: int
    queues: dict[str, int]
    restarts: dict[str, int]
    database: dict[str, Any] | None = None
    """Write latency, batch sizes, failures; null when the game keeps no database."""
    game_state: str = "running"
    """The organiser's: `waiting` (to be started), `running`, `paused` or `stopped`."""
    paused: bool = False
    """The game clock stands still (waiting or paused): orders are refused, cancels work."""
    stopped: bool = False
    halted: list[str] = []
    """Instruments the organiser halted."""
    failing: list[str] = []
    """What makes the status `degraded`: internal tasks that stopped or crashed in the
    last 30 seconds (a crash-looping task stays here), and `database` while writes fail."""


class DeadMansSwitchView(msgspec.Struct, frozen=True):
    cancel_after: float
    armed: bool


class ScoreView(msgspec.Struct, kw_only=True):
    """One team's standing (docs/scoring.md): money in currency, `score = pnl - penalties`."""

    rank: int | None = None
    team_id: str
    name: str
    role: str
    pnl: float
    fees_paid: float
    fees_received: float
    penalties: float
    score: float
    kpis: dict[str, float | int | bool | None]
    unmarked: list[str] = []
    """Instruments held with no mark, valued at their average open price: while this is
    not empty, `pnl` is an estimate."""


class LeaderboardView(msgspec.Struct, kw_only=True):
    """Ranked by score overall and within each role; the house's teams unranked. P&L is
    at the marks of `as_of` (game time now); the KPIs as of the last market tick's
    observation, `as_of_ns` (game nanoseconds; null before the first)."""

    as_of: str
    as_of_ns: int | None
    overall: list[ScoreView]
    by_role: dict[str, list[ScoreView]]
    house: list[ScoreView]
