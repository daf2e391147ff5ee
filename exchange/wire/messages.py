"""WebSocket messages (SPEC section 8): `{"seq", "type", "timestamp", "data"}`.

Two kinds share one envelope. *Stream* messages (acks, execution reports, cancels,
position updates, public trades, phase changes, news, signals) take the team's next
`seq` and are kept in a bounded history, so a client that reconnects with
`?since=<seq>` receives exactly what it missed. *Snapshot* messages (connection status,
position snapshot, market data, heartbeat, resync_required, and the `subscribed`,
`error` and order answers to what the connection sent) describe the present, are
never replayed, and carry the `seq` of the last stream message the snapshot includes:
market data may be conflated for a slow client, a fill never is. Clients must ignore
message types they do not know.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from exchange.domain.types import Role, Side
from exchange.wire.models import (
    CancelReasonText,
    ExecTypeText,
    LiquidityText,
    OrderStatusText,
    OrderTypeText,
    OrderView,
    PhaseText,
    PositionsView,
)

SPECTATOR = "spectator"
StreamRole = Annotated[str, Meta(extra_json_schema={"enum": [*map(str, Role), SPECTATOR]})]

STREAM_TYPES = frozenset(
    {"new_order_ack", "execution_report", "order_cancelled", "position_update", "trade",
     "phase_change", "event", "signal", "settlement", "leaderboard"}
)  # fmt: skip
SNAPSHOT_TYPES = frozenset(
    {"connection_status", "position_snapshot", "market_data", "heartbeat", "resync_required",
     "subscribed", "error", "order_accepted", "quote_accepted", "cancel_accepted",
     "cancel_all_accepted", "request_rejected"}
)  # fmt: skip


class Message(msgspec.Struct, frozen=True):
    seq: int
    type: str
    timestamp: str
    data: Any


class ConnectionStatus(msgspec.Struct, frozen=True):
    status: str
    team_id: str | None
    """Null for a spectator (a connection without a key: the public stream only)."""
    role: StreamRole
    """The team's role, or `spectator`."""
    heartbeat_interval: float
    """Seconds between heartbeats; a client that hears nothing for three should reconnect."""
    last_seq: int
    resumed: bool
    phase: PhaseText
    game_time: str
    ignore_unknown_types: bool = True
    """Always true: new message types may appear; skip those you do not know."""


class PositionSnapshot(msgspec.Struct, frozen=True):
    account: PositionsView
    open_orders: list[OrderView]


class ExecutionReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """One change in an order's life, FIX style: `exec_type` says what happened
    (new, trade, cancelled, rejected), `status` where the order now stands, and
    `quantity == filled + remaining` always holds."""

    order_id: str
    instrument_id: str
    side: Side
    order_type: OrderTypeText
    quantity: int
    filled: int
    remaining: int
    status: OrderStatusText
    exec_type: ExecTypeText
    price: float | None = None
    client_order_id: str | None = None
    trade_id: int | None = None
    last_price: float | None = None
    last_quantity: int | None = None
    liquidity_type: LiquidityText | None = None
    fee: float | None = None
    reason: CancelReasonText | None = None
    error_code: str | None = None
    error_message: str | None = None


class PositionUpdate(msgspec.Struct, frozen=True):
    instrument_id: str
    quantity: int
    cash: float
    fees: float
    realised_pnl: float


class MarketData(msgspec.Struct, frozen=True, omit_defaults=True):
    instrument_id: str
    phase: PhaseText
    bid: float | None
    bid_size: int
    ask: float | None
    ask_size: int
    last: float | None
    indicative_price: float | None = None
    indicative_volume: int | None = None
    underlying_price: float | None = None
    """The simulated price of the instrument's underlying (the market's reference)."""
    fair_value: float | None = None
    """Black-Scholes value at the current regime's volatility (options; for an
    underlying, its simulated price)."""
    implied_vol: float | None = None
    """Implied volatility of the book's mid (options with a two-sided book)."""
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    """Per 1.00 of volatility, per unit of the underlying."""


class SettlementReport(msgspec.Struct, frozen=True):
    """An expired option's position turned into cash at intrinsic value."""

    instrument_id: str
    quantity: int
    settlement_price: float
    cash: float
    realised_pnl: float
    game_time: str


class Event(msgspec.Struct, frozen=True):
    """A news headline: everyone sees it, nobody sees its effect."""

    headline: str
    game_time: str


class Signal(msgspec.Struct, frozen=True):
    """A role's private signal: `volatility_forecast` (hedge funds) or `tracking_error`
    (arbitrage desks); `details` as the signal kind defines."""

    kind: str
    game_time: str
    details: dict[str, Any]


class TradePrint(msgspec.Struct, frozen=True):
    trade_id: int
    instrument_id: str
    price: float
    quantity: int
    aggressor: Side | None


class Tape(msgspec.Struct, frozen=True):
    """The `trade` message: every public print since the previous one, oldest first.

    Prints are batched once per market data interval: one message to each team instead
    of one per print (sending a frame per print to every team was half the server's
    time under load). A `trade` message is a stream message: resume replays it."""

    trades: list[TradePrint]


class PhaseChange(msgspec.Struct, frozen=True):
    phase: PhaseText
    previous: PhaseText
    game_time: str


class Heartbeat(msgspec.Struct, frozen=True):
    game_time: str
    phase: PhaseText


class ResyncRequired(msgspec.Struct, frozen=True):
    """The requested resume point is older than the kept history; a fresh
    position_snapshot follows, and the stream continues from `last_seq`."""

    requested_since: int
    oldest_available: int
    last_seq: int


class SubscribeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a client sends on `/ws` to choose the books whose `market_data` it gets:
    `subscribe` adds the listed books, `unsubscribe` removes them."""

    type: str
    instruments: list[str] = []
    underlyings: list[str] = []


class Subscribed(msgspec.Struct, frozen=True):
    """The books whose `market_data` the connection now receives: every book when `all`,
    else the listed instruments and every instrument of the listed underlyings."""

    all: bool
    instruments: list[str]
    underlyings: list[str]


class StreamError(msgspec.Struct, frozen=True):
    """The `error` message: what the client sent was refused and changed nothing."""

    code: str
    message: str
