"""The validation vocabulary: what a check sees, what it answers (SPEC section 5).

The caller (`TradingSession.check`, for the validator task) gathers a
`ValidationContext` from the team's state; a validator answers None (accepted) or a
`OrderRefusal`. Validation changes nothing: on a rejection no book or account moved. The
rate window is the caller's: `TradingSession.check` counts every request it screens,
accepted or refused by another rule, except one refused by the rate limit itself (so
a refused retry does not push the window on), in the clock's rate time (the wall's in
a live game, the game's in a replay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from exchange.domain.constraint_config import Constraint
from exchange.domain.instruments import Instrument
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.types import OrderType, Phase, Role, Side, Ticks


class ValidationContext(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Everything a check may look at; the caller gathers it before validating."""

    order: NewOrder | NewQuote
    role: Role
    phase: Phase
    now_ns: int
    instrument: Instrument | None
    """None: the instrument is not listed."""
    position: int = 0
    """The team's net position in this instrument."""
    open_buy: int = 0
    open_sell: int = 0
    """Resting quantity per side here; for a quote, without the legs it replaces."""
    portfolio_other: int = 0
    """Sum over the team's other options of max(|pos + open_buy|, |pos - open_sell|)."""
    orders_in_window: int = 0
    """Orders already counted in the sliding one-second window."""
    reference_price: Ticks | None = None


class OrderRefusal(msgspec.Struct, frozen=True, gc=False):
    """Why an order was refused: SPEC error code, filled message, and the numbers."""

    code: str
    message: str
    constraint: str
    """The constraint's `type`, e.g. `position_limit`."""
    details: dict[str, object] = {}


class OrderValidator(Protocol):
    """Decides whether an order may reach a book."""

    def validate(self, ctx: ValidationContext) -> OrderRefusal | None:
        """None if accepted, else the first failing constraint's rejection."""
        ...


Check = Callable[[ValidationContext], OrderRefusal | None]
"""One compiled constraint."""


class Reporter:
    """Builds one constraint's rejections; runs only on the rejection path."""

    __slots__ = ("code", "details", "name", "settings", "template")

    def __init__(self, config: Constraint, code: str = "", template: str = "") -> None:
        self.name = config.name
        self.code = code or config.error_code
        self.template = template or config.error_message
        self.settings = config.settings()
        self.details = {key: msgspec.to_builtins(getattr(config, key)) for key in self.settings}

    def __call__(self, **values: object) -> OrderRefusal:
        message = self.template.format_map({**self.settings, **values})
        return OrderRefusal(self.code, message, self.name, {**self.details, **values})


def is_market(order: NewOrder) -> bool:
    """A market order takes liquidity and never rests."""
    return order.price is None or order.order_type is OrderType.MARKET


def order_type_of(order: NewOrder | NewQuote) -> OrderType:
    """The type a rule sees: a quote is QUOTE, an order without a price is MARKET."""
    if isinstance(order, NewQuote):
        return OrderType.QUOTE
    return OrderType.MARKET if is_market(order) else order.order_type


def quantities(order: NewOrder | NewQuote) -> tuple[int, int]:
    """(buy, sell) quantity the order adds; a quote adds both legs."""
    if isinstance(order, NewQuote):
        return order.bid_quantity, order.ask_quantity
    return (order.quantity, 0) if order.side is Side.BUY else (0, order.quantity)
