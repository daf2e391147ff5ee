"""Small builders so each domain test reads like the rule it checks."""

from __future__ import annotations

import datetime as dt

import numpy as np

from exchange.domain.instruments import Instrument, make_option
from exchange.domain.orders import CancelOrder, NewOrder, NewQuote, OrderResult, QuoteResult
from exchange.domain.ticks import to_ticks
from exchange.domain.types import (
    InstrumentId,
    OptionKind,
    OrderId,
    OrderType,
    Phase,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.domain.venue import ExchangeVenue

SPX = InstrumentId("SPX")
SPY = InstrumentId("SPY")
CALL = make_option("SPX", OptionKind.CALL, to_ticks(4400), dt.date(2026, 12, 4))
INSTRUMENTS = [Instrument(SPX, "SPX"), Instrument(SPY, "SPY"), CALL]


def px(price: float | str) -> Ticks:
    return to_ticks(price)


def make_venue(phase: Phase = Phase.CONTINUOUS, seed: int = 7) -> ExchangeVenue:
    return ExchangeVenue(INSTRUMENTS, np.random.default_rng(seed), phase)


def buy(team: str, qty: int, price: float | str | None = None, inst: str = SPX) -> NewOrder:
    return _order(team, Side.BUY, qty, price, inst)


def sell(team: str, qty: int, price: float | str | None = None, inst: str = SPX) -> NewOrder:
    return _order(team, Side.SELL, qty, price, inst)


def _order(team: str, side: Side, qty: int, price: float | str | None, inst: str) -> NewOrder:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    ticks = None if price is None else px(price)
    return NewOrder(TeamId(team), InstrumentId(inst), side, qty, ticks, kind)


def quote(
    team: str, bid: float, bid_qty: int, ask: float, ask_qty: int, inst: str = SPX
) -> NewQuote:
    return NewQuote(TeamId(team), InstrumentId(inst), px(bid), bid_qty, px(ask), ask_qty)


def cancel(team: str, order_id: int | None) -> CancelOrder:
    assert order_id is not None
    return CancelOrder(TeamId(team), OrderId(order_id))


def play(venue: ExchangeVenue, *requests: NewOrder, start: int = 1) -> list[OrderResult]:
    """Submit each order in turn at increasing times; return every result."""
    return [venue.submit_order(r, TimeNs(start + n)) for n, r in enumerate(requests)]


def play_quote(venue: ExchangeVenue, q: NewQuote, now: int = 100) -> QuoteResult:
    return venue.submit_quote(q, TimeNs(now))
