"""Domain values as the wire shows them: ticks become decimals, ids become strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from exchange.domain.book import OrderBook
from exchange.domain.constraint_config import (
    ConstraintConfig,
    OrderRate,
    OrderSize,
    OrderTypeAllowed,
    PortfolioLimit,
    PositionLimit,
    TradingWindow,
)
from exchange.domain.fees import FeeSchedule
from exchange.domain.instruments import Instrument
from exchange.domain.orders import Order, OrderCancelled, Trade
from exchange.domain.positions import Account, Fill, Settlement
from exchange.domain.ticks import TICK, to_price
from exchange.domain.types import InstrumentId, OrderType, Phase, Side, Ticks
from exchange.wire.codec import game_time, price_out
from exchange.wire.messages import (
    ExecutionReport,
    MarketData,
    PositionUpdate,
    SettlementReport,
    TradePrint,
)
from exchange.wire.models import (
    AccountView,
    BookLevel,
    BookView,
    FeesView,
    FillView,
    InstrumentView,
    LimitsView,
    OrderView,
    PositionLine,
    PositionsView,
    PriceLine,
)


def order_view(o: Order) -> OrderView:
    return OrderView(
        str(o.order_id), o.instrument_id, o.side, o.order_type.value, price_out(o.price),
        o.quantity, o.filled, o.remaining, o.status.value, o.client_order_id,
        game_time(o.ts_ns),
    )  # fmt: skip


def report(o: Order, exec_type: str, status: str, remaining: int, **extra: Any) -> ExecutionReport:
    """An execution report about order `o`, built once with its kind's own fields."""
    return ExecutionReport(
        order_id=str(o.order_id), instrument_id=o.instrument_id, side=o.side,
        order_type=o.order_type.value, quantity=o.quantity, filled=o.quantity - remaining,
        remaining=remaining, status=status, exec_type=exec_type, price=price_out(o.price),
        client_order_id=o.client_order_id, **extra,
    )  # fmt: skip


def ack_report(o: Order) -> ExecutionReport:
    return report(o, "new", "new", o.quantity)


def trade_report(o: Order, trade: Trade, fill: Fill) -> ExecutionReport:
    remaining = trade.buy_remaining if o.side is Side.BUY else trade.sell_remaining
    return report(
        o, "trade", "filled" if remaining == 0 else "partially_filled", remaining,
        trade_id=trade.trade_id, last_price=to_price(trade.price),
        last_quantity=trade.quantity, liquidity_type=fill.liquidity.value,
        fee=to_price(fill.fee_ticks),
    )  # fmt: skip


def cancel_report(o: Order, event: OrderCancelled) -> ExecutionReport:
    return report(o, "cancelled", "cancelled", event.quantity, reason=event.reason.value)


def reject_report(o: Order, code: str, message: str) -> ExecutionReport:
    return report(o, "rejected", "rejected", o.quantity, error_code=code, error_message=message)


def position_update(account: Account, instrument_id: InstrumentId) -> PositionUpdate:
    return PositionUpdate(
        instrument_id, account.positions.get(instrument_id, 0), to_price(account.cash_ticks),
        to_price(account.fees_ticks), to_price(account.realised_pnl_ticks),
    )  # fmt: skip


def fill_view(fill: Fill, client_order_id: str | None) -> FillView:
    return FillView(
        fill.trade_id, str(fill.order_id), fill.instrument_id, fill.side, to_price(fill.price),
        fill.quantity, fill.liquidity.value, to_price(fill.fee_ticks), fill.position_after,
        game_time(fill.ts_ns), client_order_id,
    )  # fmt: skip


def positions_view(
    account: Account,
    instruments: Mapping[InstrumentId, Instrument],
    marks: Mapping[InstrumentId, Ticks],
) -> PositionsView:
    lines: list[PositionLine] = []
    unrealised = 0
    for instrument_id, qty in sorted(account.positions.items()):
        if qty == 0:
            continue
        mult = instruments[instrument_id].multiplier
        cost = account.open_costs.get(instrument_id, 0)
        mark = marks.get(instrument_id)
        line_pnl = 0 if mark is None else qty * mark * mult - cost
        unrealised += line_pnl
        average = cost / (qty * mult) / 100
        lines.append(
            PositionLine(
                instrument_id, qty, round(average, 4), price_out(mark), to_price(line_pnl)
            )
        )
    total = account.realised_pnl_ticks + unrealised + account.fees_ticks
    return PositionsView(
        account.team_id, account.role.value, to_price(account.cash_ticks),
        to_price(account.fees_ticks), to_price(account.realised_pnl_ticks),
        to_price(unrealised), to_price(total), lines,
    )  # fmt: skip


def settlement(s: Settlement) -> SettlementReport:
    return SettlementReport(
        s.instrument_id, s.quantity, to_price(s.value_ticks), to_price(s.cash_ticks),
        to_price(s.realised_pnl_ticks), game_time(s.ts_ns),
    )  # fmt: skip


def trade_print(trade: Trade) -> TradePrint:
    return TradePrint(
        trade.trade_id, trade.instrument_id, to_price(trade.price), trade.quantity,
        trade.aggressor,
    )  # fmt: skip


def instrument_view(i: Instrument) -> InstrumentView:
    return InstrumentView(
        i.id, i.underlying, "UNDERLYING" if i.kind is None else i.kind.value,
        price_out(i.strike), None if i.expiry is None else i.expiry.isoformat(),
        i.multiplier, float(TICK),
    )  # fmt: skip


def top_of(book: OrderBook) -> tuple[Ticks | None, int, Ticks | None, int]:
    bids, asks = book.depth(1)
    return (
        bids[0].price if bids else None, bids[0].quantity if bids else 0,
        asks[0].price if asks else None, asks[0].quantity if asks else 0,
    )  # fmt: skip


def indicative(
    book: OrderBook, phase: Phase, reference: Ticks | None
) -> tuple[float | None, int | None]:
    """The auction's indicative price and volume while orders gather (PRE_OPEN only)."""
    if phase not in (Phase.PRE_OPEN, Phase.OPENING_AUCTION):
        return None, None
    result = book.indicative(reference)
    return (None, 0) if result is None else (to_price(result.price), result.volume)


Top = tuple[float | None, int, float | None, int, float | None, float | None, int | None]


def top_line(book: OrderBook, phase: Phase, last: Ticks | None, reference: Ticks | None) -> Top:
    """(bid, bid_size, ask, ask_size, last, indicative_price, indicative_volume)."""
    bid, bid_size, ask, ask_size = top_of(book)
    price, volume = indicative(book, phase, reference)
    return price_out(bid), bid_size, price_out(ask), ask_size, price_out(last), price, volume


def market_data(
    book: OrderBook, phase: Phase, last: Ticks | None, reference: Ticks | None
) -> MarketData:
    return MarketData(book.instrument_id, phase.value, *top_line(book, phase, last, reference))


def price_line(
    book: OrderBook,
    phase: Phase,
    last: Ticks | None,
    reference: Ticks | None,
    fair: Ticks | None = None,
) -> PriceLine:
    top = top_line(book, phase, last, reference)
    return PriceLine(book.instrument_id, *top, fair_value=price_out(fair))


def book_view(
    book: OrderBook, depth: int, phase: Phase, last: Ticks | None, reference: Ticks | None
) -> BookView:
    bids, asks = book.depth(depth)
    price, volume = indicative(book, phase, reference)
    return BookView(
        book.instrument_id, phase.value,
        [BookLevel(to_price(lv.price), lv.quantity, lv.orders) for lv in bids],
        [BookLevel(to_price(lv.price), lv.quantity, lv.orders) for lv in asks],
        price_out(last), price, volume,
    )  # fmt: skip


def account_view(
    team: tuple[str, str, str], constraints: list[ConstraintConfig], fees: FeeSchedule
) -> AccountView:
    """A team (id, name, role) with its role's constraints and fees."""

    def setting(kind: type[ConstraintConfig], name: str) -> Any:
        found = next((c for c in constraints if isinstance(c, kind)), None)
        return None if found is None else getattr(found, name)

    kinds = setting(OrderTypeAllowed, "allowed")
    kinds = tuple(OrderType) if kinds is None else kinds
    phases = setting(TradingWindow, "allowed_phases")
    limits = LimitsView(
        setting(OrderRate, "max_per_second"), setting(OrderSize, "min_quantity"),
        setting(OrderSize, "max_quantity"), setting(PositionLimit, "max_option_position"),
        setting(PositionLimit, "max_underlying_position"),
        setting(PortfolioLimit, "max_total_option_position"), [t.value for t in kinds],
        None if phases is None else [p.value for p in phases],
    )  # fmt: skip
    return AccountView(
        *team,
        limits,
        FeesView(to_price(fees.maker_ticks), to_price(fees.taker_ticks)),
        [msgspec.to_builtins(c) for c in constraints],
    )
