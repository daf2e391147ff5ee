"""Domain values to rows (tuples in `schema.COLUMNS` order) and back, and the `Batch`.

Enums are stored as their values, money as integer ticks, JSON as sorted-key text so the
same value always gives the same bytes. Updates are tuples in their statement's
parameter order (see `db.UPDATES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec

from exchange.domain.orders import Order, OrderCancelled, Trade
from exchange.domain.positions import AccountState, Fill, Settlement
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    OrderStatus,
    OrderType,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)
from exchange.teams import Team

TeamRow = tuple[str, str, str, str, int]
OrderRow = tuple[
    int, str, str, str, str, int | None, int, str | None, int, str, int, str | None, int
]
TradeRow = tuple[
    int, str, int, int, str, str, int, int, int, int, str | None, int, int, int, str, str,
    int, int,
]  # fmt: skip
_Maybe = int | None
PriceRow = tuple[int, str, str, _Maybe, _Maybe, _Maybe, _Maybe, _Maybe, _Maybe]
"""(ts_ns, instrument_id, kind, price, bid, bid_qty, ask, ask_qty, last): ticks or None."""
EventRow = tuple[int, str, str, str]
SignalRow = tuple[int, str | None, str, str]
SnapshotRow = tuple[int, str, str, int, int, int, str]
GameStateRow = tuple[str, str, int]
SettlementRow = tuple[str, str, int, int, int, int, int]
AdminRow = tuple[int, str, str]
ArrivalRow = tuple[int, int, str, str | None, str | None, str]
"""(seq, ts_ns, kind, team_id, instrument_id, payload JSON): see `store/arrivals.py`."""
AdminActionRow = tuple[int, str, str, str, str]
"""(ts_ns, wall_time, action, arguments JSON, outcome)."""
FillUpdate = tuple[int, int, int]
"""(order_id, the order's remaining quantity after the trade, ts_ns)."""
CancelUpdate = tuple[int, int, str, int]
"""(order_id, filled, reason, ts_ns)."""

_json = msgspec.json.Encoder(order="sorted")


def to_json(value: object) -> str:
    return _json.encode(value).decode()


def from_json(text: str) -> Any:
    return msgspec.json.decode(text)


class TradeRecord(msgspec.Struct, frozen=True):
    """A stored trade with both sides' fills, exactly as `Ledger.apply` returned them."""

    trade: Trade
    buy: Fill
    sell: Fill


def team_row(team: Team, created_ns: int) -> TeamRow:
    return (team.team_id, team.name, team.role.value, team.key_hash, created_ns)


def team_from_row(row: TeamRow) -> Team:
    return Team(TeamId(row[0]), row[1], Role(row[2]), row[3])


def order_row(order: Order) -> OrderRow:
    return (
        order.order_id, order.team_id, order.instrument_id, order.side.value,
        order.order_type.value, order.price, order.quantity, order.client_order_id,
        order.ts_ns, order.status.value, order.filled, None, order.ts_ns,
    )  # fmt: skip


def order_from_row(row: OrderRow) -> Order:
    """The order as stored; `remaining` is what is unfilled (resting, or cancelled)."""
    quantity, filled = row[6], row[10]
    return Order(
        OrderId(row[0]), TeamId(row[1]), InstrumentId(row[2]), Side(row[3]),
        OrderType(row[4]), quantity, None if row[5] is None else Ticks(row[5]),
        TimeNs(row[8]), row[7], filled, quantity - filled, OrderStatus(row[9]),
    )  # fmt: skip


def fill_updates(trade: Trade) -> tuple[FillUpdate, FillUpdate]:
    return (
        (trade.buy_order_id, trade.buy_remaining, trade.ts_ns),
        (trade.sell_order_id, trade.sell_remaining, trade.ts_ns),
    )


def cancel_update(cancelled: OrderCancelled) -> CancelUpdate:
    return (cancelled.order_id, cancelled.filled, cancelled.reason.value, cancelled.ts_ns)


def trade_row(trade: Trade, buy: Fill, sell: Fill) -> TradeRow:
    """One row per trade: both sides' fees, liquidity and positions after it."""
    aggressor = None if trade.aggressor is None else trade.aggressor.value
    return (
        trade.trade_id, trade.instrument_id, trade.price, trade.quantity, trade.buyer,
        trade.seller, trade.buy_order_id, trade.sell_order_id, trade.buy_remaining,
        trade.sell_remaining, aggressor, trade.ts_ns, buy.fee_ticks, sell.fee_ticks,
        buy.liquidity.value, sell.liquidity.value, buy.position_after, sell.position_after,
    )  # fmt: skip


def trade_from_row(row: TradeRow) -> TradeRecord:
    trade = Trade(
        TradeId(row[0]), InstrumentId(row[1]), Ticks(row[2]), row[3], TeamId(row[4]),
        TeamId(row[5]), OrderId(row[6]), OrderId(row[7]), row[8], row[9],
        None if row[10] is None else Side(row[10]), TimeNs(row[11]),
    )  # fmt: skip
    buy = Fill(trade.trade_id, trade.buyer, trade.buy_order_id, trade.instrument_id,
               Side.BUY, trade.price, trade.quantity, Liquidity(row[14]), row[12], row[16],
               trade.ts_ns)  # fmt: skip
    sell = Fill(trade.trade_id, trade.seller, trade.sell_order_id, trade.instrument_id,
                Side.SELL, trade.price, trade.quantity, Liquidity(row[15]), row[13], row[17],
                trade.ts_ns)  # fmt: skip
    return TradeRecord(trade, buy, sell)


def fill_from_row(r: tuple[Any, ...]) -> Fill:
    """A row of `db.fills_for`'s query: one side of a trade as its team saw it."""
    return Fill(TradeId(r[0]), TeamId(r[1]), OrderId(r[2]), InstrumentId(r[3]), Side(r[4]),
                Ticks(r[5]), r[6], Liquidity(r[7]), r[8], r[9], TimeNs(r[10]))  # fmt: skip


def underlying_row(ts_ns: int, instrument_id: str, price: int) -> PriceRow:
    return (ts_ns, instrument_id, "underlying", price, None, None, None, None, None)


def top_row(
    ts_ns: int, instrument_id: str, bid: int | None, bid_qty: int, ask: int | None,
    ask_qty: int, last: int | None,
) -> PriceRow:  # fmt: skip
    """Best bid/ask (None when that side is empty), their sizes, and the last trade."""
    return (ts_ns, instrument_id, "top", None, bid, bid_qty, ask, ask_qty, last)


def event_row(ts_ns: int, headline: str, kind: str, effect: object) -> EventRow:
    return (ts_ns, headline, kind, to_json(effect))


def signal_row(ts_ns: int, role: Role | None, kind: str, payload: object) -> SignalRow:
    return (ts_ns, None if role is None else role.value, kind, to_json(payload))


def snapshot_row(ts_ns: int, state: AccountState) -> SnapshotRow:
    return (
        ts_ns, state.team_id, state.role.value, state.cash_ticks, state.fees_ticks,
        state.realised_pnl_ticks, to_json(state.positions),
    )  # fmt: skip


def snapshot_from_row(row: SnapshotRow) -> tuple[TimeNs, AccountState]:
    positions = msgspec.json.decode(row[6], type=dict[InstrumentId, tuple[int, int]])
    state = AccountState(TeamId(row[1]), Role(row[2]), row[3], row[4], row[5], positions)
    return TimeNs(row[0]), state


def settlement_row(s: Settlement) -> SettlementRow:
    return (s.instrument_id, s.team_id, s.quantity, s.value_ticks, s.cash_ticks,
            s.realised_pnl_ticks, s.ts_ns)  # fmt: skip


def settlement_from_row(row: SettlementRow) -> Settlement:
    return Settlement(TeamId(row[1]), InstrumentId(row[0]), row[2], Ticks(row[3]), row[4],
                      row[5], TimeNs(row[6]))  # fmt: skip


def game_state_row(key: str, value: object, ts_ns: int) -> GameStateRow:
    return (key, to_json(value), ts_ns)


def admin_row(ts_ns: int, action: str, payload: object) -> AdminRow:
    return (ts_ns, action, to_json(payload))


ScoreRow = tuple[int, str, str, float, float, float, str]
"""(ts_ns, team_id, role, pnl, penalties, score, kpis JSON), money in currency."""


def score_row(ts_ns: int, standing: Mapping[str, Any]) -> ScoreRow:
    """A leaderboard row as the wire shows it (`TeamScore.to_wire()`)."""
    return (
        ts_ns, standing["team_id"], standing["role"], standing["pnl"],
        standing["penalties"], standing["score"], to_json(standing["kpis"]),
    )  # fmt: skip


def admin_action_row(
    ts_ns: int, wall_time: str, action: str, arguments: object, outcome: str
) -> AdminActionRow:
    return (ts_ns, wall_time, action, to_json(arguments), outcome)


@dataclass(slots=True)
class Batch:
    """Rows waiting for one transaction; `Database.write_batch` writes them in field order.

    Field order is execution order: an order's insert comes before the fills and the
    cancel that update it (the updates are idempotent and monotone anyway, see db.py).
    """

    teams: list[TeamRow] = field(default_factory=list)
    team_keys: list[tuple[str, str]] = field(default_factory=list)
    """(team_id, key_hash) of reissued keys."""
    orders: list[OrderRow] = field(default_factory=list)
    trades: list[TradeRow] = field(default_factory=list)
    order_fills: list[FillUpdate] = field(default_factory=list)
    cancels: list[CancelUpdate] = field(default_factory=list)
    settlements: list[SettlementRow] = field(default_factory=list)
    prices: list[PriceRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    signals: list[SignalRow] = field(default_factory=list)
    position_snapshots: list[SnapshotRow] = field(default_factory=list)
    game_state: list[GameStateRow] = field(default_factory=list)
    admin_log: list[AdminRow] = field(default_factory=list)
    admin_actions: list[AdminActionRow] = field(default_factory=list)
    scores: list[ScoreRow] = field(default_factory=list)
    arrivals: list[ArrivalRow] = field(default_factory=list)
    placed: dict[int, OrderRow] = field(default_factory=dict, metadata={"table": False})
    """The rows of `orders` by order id (not a table)."""

    def add_order(self, order: Order) -> None:
        row = order_row(order)
        self.orders.append(row)
        self.placed[order.order_id] = row

    def add_trade(self, trade: Trade, buy: Fill, sell: Fill) -> None:
        """The trade row and the fill updates of both its orders, less those that would
        change nothing: an order inserted by this batch has its row made from the live
        order after matching, so the row of the order that traded on arrival already
        shows that trade (about one update in six of an order's rows)."""
        self.trades.append(trade_row(trade, buy, sell))
        for update in fill_updates(trade):
            if not self._shows(update):
                self.order_fills.append(update)

    def _shows(self, update: FillUpdate) -> bool:
        """Whether `db._FILL` would leave the order's row in this batch as it is."""
        row = self.placed.get(update[0])
        if row is None:
            return False
        _, remaining, ts_ns = update
        quantity, status, filled, updated_ns = row[6], row[9], row[10], row[12]
        if filled < quantity - remaining or updated_ns < ts_ns:
            return False
        if status in ("cancelled", "rejected", "filled"):
            return True
        return status == "partially_filled" and filled < quantity

    def add_cancel(self, cancelled: OrderCancelled) -> None:
        self.cancels.append(cancel_update(cancelled))

    def tables(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """(field name, rows) in execution order, empty ones left out."""
        named = ((name, getattr(self, name)) for name in TABLES)
        return [(name, rows) for name, rows in named if rows]

    def __len__(self) -> int:
        # The names are listed once (`dataclasses.fields` builds them anew on each call,
        # and the writer counts a batch at every outbox it adds).
        return sum(len(getattr(self, name)) for name in TABLES)


TABLES = tuple(f.name for f in fields(Batch) if f.metadata.get("table", True))
"""`Batch`'s tables in execution order."""
