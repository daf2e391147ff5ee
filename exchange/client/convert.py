"""Wire values back into the domain's: what a remote strategy sees is what an embedded
one sees (`Instrument`, `Top`, `Fill`, `News`, `MarketSignal`, ticks and game-time ns).

Prices here come from the server, so they are rounded to the tick grid rather than
refused (a float like 4400.1 must not fail on its binary representation).
"""

from __future__ import annotations

import datetime as dt

from exchange.domain.instruments import Instrument, parse_instrument_id
from exchange.domain.orders import NewOrder
from exchange.domain.positions import Fill
from exchange.domain.strategy import MarketSignal, News, Top
from exchange.domain.ticks import round_to_tick, to_price
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)
from exchange.wire.messages import Event, ExecutionReport, MarketData, Signal
from exchange.wire.models import FillView, InstrumentView, PriceLine

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def game_ns(text: str) -> TimeNs:
    """An ISO 8601 game time (`2026-12-01T14:05:00.000000Z`) as ns since the epoch."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return TimeNs((moment - EPOCH) // dt.timedelta(microseconds=1) * 1000)


def ticks(price: float | None) -> Ticks | None:
    return None if price is None else round_to_tick(price)


def instrument_of(view: InstrumentView) -> Instrument:
    """The domain instrument, rebuilt from its id (kind, strike, expiry, multiplier)."""
    return parse_instrument_id(view.instrument_id)


def underlying_of(instrument_id: str) -> str:
    """`SPX_CALL_4400_20261204` -> `SPX`; an underlying is its own."""
    return instrument_id.split("_", 1)[0]


def top_of(data: MarketData | PriceLine) -> Top:
    bid_size = data.bid_size if data.bid is not None else 0
    ask_size = data.ask_size if data.ask is not None else 0
    return Top(ticks(data.bid), bid_size, ticks(data.ask), ask_size, ticks(data.last))


def fill_of(report: ExecutionReport, team_id: TeamId, position_after: int, ts_ns: TimeNs) -> Fill:
    """A trade's execution report as the domain's `Fill` (which the report lacks the
    position for: the runner takes it from the `position_update` that follows)."""
    assert report.trade_id is not None and report.last_price is not None
    return Fill(
        TradeId(report.trade_id), team_id, OrderId(int(report.order_id)),
        InstrumentId(report.instrument_id), Side(report.side), round_to_tick(report.last_price),
        report.last_quantity or 0, Liquidity(report.liquidity_type or "taker"),
        round_to_tick(report.fee or 0.0), position_after, ts_ns,
    )  # fmt: skip


def fill_of_view(view: FillView, team_id: TeamId) -> Fill:
    """A fill from `GET /fills` (used after a `resync_required`)."""
    return Fill(
        TradeId(view.trade_id), team_id, OrderId(int(view.order_id)),
        InstrumentId(view.instrument_id), Side(view.side), round_to_tick(view.price),
        view.quantity, Liquidity(view.liquidity_type), round_to_tick(view.fee),
        view.position_after, game_ns(view.timestamp),
    )  # fmt: skip


def news_of(event: Event) -> News:
    return News(game_ns(event.game_time), event.headline)


def signal_of(signal: Signal) -> MarketSignal:
    return MarketSignal(game_ns(signal.game_time), signal.kind, dict(signal.details))


def price_of(order: NewOrder) -> float | None:
    """The limit price to send, None for a market order."""
    return None if order.price is None else to_price(order.price)
