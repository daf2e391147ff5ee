"""REST requests and the `data` of REST answers (SPEC section 8).

Requests forbid unknown fields, so a typo is an error and not a silently ignored field.
Prices are decimals here (JSON numbers, at most two places); `codec` turns them into ticks.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

from exchange.domain.types import (
    CancelReason,
    Liquidity,
    OrderStatus,
    OrderType,
    Phase,
    Role,
    Side,
)

Price = Annotated[float, Meta(gt=0, le=1_000_000, description="Decimal, 0.01 tick grid")]
Quantity = Annotated[int, Meta(ge=1, le=1_000_000)]
InstrumentIdText = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[A-Z0-9_.]+$")]
ClientId = Annotated[str, Meta(min_length=1, max_length=64)]
TeamName = Annotated[
    str, Meta(min_length=3, max_length=50, pattern=r"^[\w][\w .\-]*[\w]$",
              description="Letters, digits, spaces, '.', '-', '_'; 3 to 50 characters")
]  # fmt: skip
TeamRole = Literal["market_maker", "hedge_fund", "arbitrage", "retail"]


def _enum(values: Any) -> Meta:
    return Meta(extra_json_schema={"enum": [str(v) for v in values]})


# Enums in the JSON schema, plain `str` in the Structs and on the wire: the server fills
# them from the domain's StrEnums (`.value`), and decoders stay lenient about new values.
RoleText = Annotated[str, _enum(Role)]
OrderTypeText = Annotated[str, _enum(OrderType)]
OrderStatusText = Annotated[str, _enum(OrderStatus)]
LiquidityText = Annotated[str, _enum(Liquidity)]
PhaseText = Annotated[str, _enum(Phase)]
ExecTypeText = Annotated[str, _enum(("new", "trade", "cancelled", "rejected"))]
CancelReasonText = Annotated[str, _enum(CancelReason)]
AcceptedText = Annotated[str, _enum(("accepted",))]
CancelledText = Annotated[str, _enum(("cancelled",))]

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
    role: RoleText
    api_key: str
    """Shown once; the server keeps only its hash."""


class LimitsView(msgspec.Struct, frozen=True):
    """The role's main limits, read from its constraints; null where the role has none."""

    max_orders_per_second: int | None
    """Orders (a quote counts as one) in a sliding second."""
    min_quantity: int | None
    max_quantity: int | None
    max_option_position: int | None
    """Worst-case net position per option (position plus open orders on that side)."""
    max_underlying_position: int | None
    max_total_option_position: int | None
    """Sum over options of the worst-case absolute position."""
    order_types: list[str]
    """The order types the role may send (`limit`, `market`, `quote`)."""
    trading_phases: list[str] | None
    """The phases in which it may send orders; null when any phase."""


class FeesView(msgspec.Struct, frozen=True):
    """Per contract filled, in price units; positive when the team receives it."""

    maker: float
    taker: float


class AccountView(msgspec.Struct, frozen=True):
    """`GET /account`: who the key belongs to and the rules its orders are checked by."""

    team_id: str
    team_name: str
    role: str
    limits: LimitsView
    fees: FeesView
    constraints: list[dict[str, Any]]
    """Every constraint of the role as configured, in the order checked, each with its
    `type`, settings, `error_code` and `error_message` template (docs/validation.md)."""


class StreamTicket(msgspec.Struct, frozen=True):
    ticket: str
    """For `/ws?ticket=`: one connection, within `expires_in` seconds."""
    expires_in: int


class OrderAck(msgspec.Struct, frozen=True):
    """An order accepted by validation; its fills arrive as execution reports."""

    order_id: str
    instrument_id: str
    side: Side
    order_type: OrderTypeText
    quantity: int
    price: float | None
    status: AcceptedText
    client_order_id: str | None = None


class QuoteAck(msgspec.Struct, frozen=True):
    instrument_id: str
    bid_order_id: str
    ask_order_id: str
    bid_price: float
    bid_quantity: int
    ask_price: float
    ask_quantity: int
    status: AcceptedText


class OrderView(msgspec.Struct, frozen=True):
    order_id: str
    instrument_id: str
    side: Side
    order_type: OrderTypeText
    price: float | None
    quantity: int
    filled: int
    remaining: int
    status: OrderStatusText
    client_order_id: str | None
    created_at: str


class CancelAck(msgspec.Struct, frozen=True):
    order_id: str
    instrument_id: str
    status: CancelledText
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
    liquidity_type: LiquidityText
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
    role: RoleText
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
    phase: PhaseText
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
    fair_value: float | None = None
    """The market's reference value (Black-Scholes for an option, the simulated price
    for an underlying); null until the market is priced."""


class PricesView(msgspec.Struct, frozen=True):
    phase: PhaseText
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
    phase: PhaseText
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
    next_open: str | None = None
    """While the market is closed: the game time it next opens (else null)."""
    failing: list[str] = []
    """What makes the status `degraded`: internal tasks that stopped or crashed in the
    last 30 seconds (a crash-looping task stays here), and `database` while writes fail."""
    loop: dict[str, float] = {}
    """How late the event loop woke a 10 ms timer: p50, p99 and most over the last
    minute, the worst since start (ms), and `stalls`, wake-ups 50 ms late or more."""


class DeadMansSwitchView(msgspec.Struct, frozen=True):
    cancel_after: float
    armed: bool


class ScoreView(msgspec.Struct, kw_only=True):
    """One team's standing (docs/scoring.md): money in currency, `score = pnl - penalties`."""

    rank: int | None = None
    team_id: str
    name: str
    role: RoleText
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
