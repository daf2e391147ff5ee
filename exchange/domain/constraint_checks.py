"""What each constraint checks: configs compiled into closures (SPEC sections 3 and 5).

A check reads only the `ValidationContext`, so it is pure and cheap; it builds message
values only when it rejects. Position rules count the worst case: the current position
plus every resting order on the same side plus this order, so resting orders can never
fill a team past its limit. Percent bands are compared in integer arithmetic (the
percent as an exact fraction): prices are integer ticks, and a float compare could flip
exactly at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from exchange.domain.constraint_config import (
    Constraint,
    ConstraintConfig,
    InstrumentAllowed,
    NoTwoSided,
    OrderRate,
    OrderSize,
    OrderTypeAllowed,
    PortfolioLimit,
    PositionLimit,
    PriceRange,
    QuoteShape,
    TradingWindow,
)
from exchange.domain.orders import NewQuote
from exchange.domain.ticks import to_price, to_ticks
from exchange.domain.types import Side
from exchange.domain.validation import (
    Check,
    OrderRefusal,
    Reporter,
    ValidationContext,
    is_market,
    order_type_of,
    quantities,
)


def _fraction(percent: float) -> tuple[int, int]:
    """A config percent as an exact (numerator, denominator), read via its shortest repr."""
    return Fraction(repr(percent)).as_integer_ratio()


def position_limit(config: PositionLimit) -> Check:
    reject = Reporter(config)
    option_limit, underlying_limit = config.max_option_position, config.max_underlying_position

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        instrument = ctx.instrument
        if instrument is None:  # not listed: instrument_allowed reports it
            return None
        limit = option_limit if instrument.is_option else underlying_limit
        if limit is None:
            return None
        buy, sell = quantities(ctx.order)
        # Only the side being added is checked, so reducing an oversized position passes.
        long_worst = ctx.position + ctx.open_buy + buy
        if buy and long_worst > limit:
            return reject(instrument=instrument.id, side="buy", limit=limit,
                          position=ctx.position, open=ctx.open_buy, quantity=buy,
                          worst=long_worst)  # fmt: skip
        short_worst = ctx.position - ctx.open_sell - sell
        if sell and short_worst < -limit:
            return reject(instrument=instrument.id, side="sell", limit=limit,
                          position=ctx.position, open=ctx.open_sell, quantity=sell,
                          worst=short_worst)  # fmt: skip
        return None

    return check


def portfolio_limit(config: PortfolioLimit) -> Check:
    reject = Reporter(config)
    limit = config.max_total_option_position

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        instrument = ctx.instrument
        if instrument is None or not instrument.is_option:
            return None
        buy, sell = quantities(ctx.order)
        long, short = ctx.position + ctx.open_buy, ctx.position - ctx.open_sell
        exposure = max(abs(long + buy), abs(short - sell))
        total = ctx.portfolio_other + exposure
        # An order that does not raise this instrument's worst case always passes.
        if total <= limit or exposure <= max(abs(long), abs(short)):
            return None
        return reject(instrument=instrument.id, other=ctx.portfolio_other,
                      exposure=exposure, total=total)  # fmt: skip

    return check


def order_size(config: OrderSize) -> Check:
    reject = Reporter(config)
    low, high = config.min_quantity, config.max_quantity

    def size(quantity: int, side: str) -> OrderRefusal | None:
        return None if low <= quantity <= high else reject(side=side, quantity=quantity)

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        order = ctx.order
        if isinstance(order, NewQuote):
            return size(order.bid_quantity, "buy") or size(order.ask_quantity, "sell")
        return size(order.quantity, order.side.value)

    return check


def order_rate(config: OrderRate) -> Check:
    reject = Reporter(config)
    limit = config.max_per_second

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        if ctx.orders_in_window < limit:
            return None
        return reject(orders_in_window=ctx.orders_in_window)

    return check


def order_type_allowed(config: OrderTypeAllowed) -> Check:
    reject = Reporter(config)
    allowed = frozenset(config.allowed)

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        order_type = order_type_of(ctx.order)
        return None if order_type in allowed else reject(order_type=order_type.value)

    return check


def trading_window(config: TradingWindow) -> Check:
    reject = Reporter(config)
    phases = frozenset(config.allowed_phases)

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        return None if ctx.phase in phases else reject(phase=ctx.phase.value)

    return check


def instrument_allowed(config: InstrumentAllowed) -> Check:
    reject = Reporter(config)
    unknown = Reporter(config, config.unknown_error_code, config.unknown_error_message)
    underlyings = None if config.underlyings is None else frozenset(config.underlyings)
    options, spot = config.allow_options, config.allow_underlyings

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        instrument = ctx.instrument
        if instrument is None:
            return unknown(instrument=ctx.order.instrument_id)
        kind_ok = options if instrument.is_option else spot
        if kind_ok and (underlyings is None or instrument.underlying in underlyings):
            return None
        return reject(instrument=instrument.id, underlying=instrument.underlying)

    return check


def price_range(config: PriceRange) -> Check:
    reject = Reporter(config)
    numerator, denominator = _fraction(config.max_deviation_pct)
    floor = to_ticks(config.min_deviation)

    def half_width(reference: int) -> int:
        return max(reference * numerator // (100 * denominator), floor)

    def within(price: int, reference: int | None) -> bool:
        if price <= 0:
            return False
        if reference is None:
            return True
        deviation = abs(price - reference)
        # |price - ref| <= ref * pct / 100, exactly, in integers.
        return deviation * 100 * denominator <= reference * numerator or deviation <= floor

    def fail(price: int, reference: int | None, side: Side) -> OrderRefusal:
        low = high = None
        reason = "prices must be positive"
        if reference is not None and price > 0:
            half = half_width(reference)
            low, high = to_price(max(reference - half, 1)), to_price(reference + half)
            reason = (f"more than {config.max_deviation_pct:g}% from the reference "
                      f"{to_price(reference):.2f} (allowed {low:.2f} to {high:.2f})")  # fmt: skip
        ref = None if reference is None else to_price(reference)
        return reject(side=side.value, price=to_price(price), reference=ref,
                      low=low, high=high, reason=reason)  # fmt: skip

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        order, reference = ctx.order, ctx.reference_price
        if isinstance(order, NewQuote):
            if not within(order.bid_price, reference):
                return fail(order.bid_price, reference, Side.BUY)
            if not within(order.ask_price, reference):
                return fail(order.ask_price, reference, Side.SELL)
            return None
        if order.price is None or is_market(order) or within(order.price, reference):
            return None
        return fail(order.price, reference, order.side)

    return check


def no_two_sided(config: NoTwoSided) -> Check:
    reject = Reporter(config)

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        order = ctx.order
        if isinstance(order, NewQuote):  # a quote is two-sided by definition
            return reject(instrument=order.instrument_id, side="quote",
                          opposite_open=order.ask_quantity)  # fmt: skip
        if is_market(order):  # takes liquidity, never rests
            return None
        opposite = ctx.open_sell if order.side is Side.BUY else ctx.open_buy
        if opposite == 0:
            return None
        return reject(instrument=order.instrument_id, side=order.side.value,
                      opposite_open=opposite)  # fmt: skip

    return check


def quote_shape(config: QuoteShape) -> Check:
    reject = Reporter(config)
    numerator, denominator = _fraction(config.max_spread_pct_of_mid)
    min_quantity = config.min_quantity

    def problem(quote: NewQuote) -> str | None:
        bid, ask = quote.bid_price, quote.ask_price
        if bid >= ask:
            return f"bid {to_price(bid):.2f} must be below ask {to_price(ask):.2f}"
        # spread / mid <= pct / 100 with mid = (bid + ask) / 2, in integers.
        if (ask - bid) * 200 * denominator > (ask + bid) * numerator:
            return f"spread is more than {config.max_spread_pct_of_mid:g}% of mid"
        if min(quote.bid_quantity, quote.ask_quantity) < min_quantity:
            return f"each side needs at least {min_quantity} contracts"
        return None

    def check(ctx: ValidationContext) -> OrderRefusal | None:
        quote = ctx.order
        if not isinstance(quote, NewQuote):
            return None
        reason = problem(quote)
        if reason is None:
            return None
        return reject(bid=to_price(quote.bid_price), ask=to_price(quote.ask_price),
                      bid_quantity=quote.bid_quantity, ask_quantity=quote.ask_quantity,
                      reason=reason)  # fmt: skip

    return check


# Config type -> the function that compiles it: the one place a new constraint is wired.
COMPILERS: Mapping[type[Constraint], Callable[[Any], Check]] = {
    PositionLimit: position_limit,
    PortfolioLimit: portfolio_limit,
    OrderSize: order_size,
    OrderRate: order_rate,
    OrderTypeAllowed: order_type_allowed,
    TradingWindow: trading_window,
    InstrumentAllowed: instrument_allowed,
    PriceRange: price_range,
    NoTwoSided: no_two_sided,
    QuoteShape: quote_shape,
}


def compile_constraint(config: ConstraintConfig) -> Check:
    """The check for one constraint config."""
    return COMPILERS[type(config)](config)
