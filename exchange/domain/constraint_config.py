"""Constraint configs: the data side of validation (SPEC section 5), and their YAML loader.

Each constraint type is a frozen Struct tagged by `type`, so the config file reads
`{type: position_limit, max_option_position: 50}`. Every one carries its own
`error_code` and an `error_message` template filled from the constraint's settings and
the values the check computed (`COMPUTED` names them). Templates are checked when the
config is built or decoded, so a typo fails at load with its path, never mid-game.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any, ClassVar

import msgspec

from exchange.domain.ticks import to_ticks
from exchange.domain.types import OrderType, Phase, Role

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Percent = Annotated[float, msgspec.Meta(gt=0)]

_MESSAGE_KEYS = frozenset({"error_code", "error_message"})


def display(value: object) -> object:
    """A setting as a message shows it: enum values, lists joined by commas."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return ", ".join(str(display(v)) for v in value)
    return value


def check_template(template: str, values: Mapping[str, object]) -> None:
    """Raise ValueError (msgspec reports it with its path) if `template` cannot be filled."""
    try:
        template.format_map(values)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"message template {template!r} uses unknown field {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"message template {template!r}: {exc}") from None


class Constraint(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", kw_only=True
):
    """Base of every constraint config: an error code and a message template."""

    COMPUTED: ClassVar[Mapping[str, object]] = {}
    """Sample values of what the check adds to the template, with their runtime types."""

    error_code: str
    error_message: str

    def __post_init__(self) -> None:
        check_template(self.error_message, {**self.settings(), **self.COMPUTED})

    @property
    def name(self) -> str:
        """The `type` tag, e.g. `position_limit`."""
        return str(self.__struct_config__.tag)

    def settings(self) -> dict[str, object]:
        """The constraint's own fields, as messages show them."""
        return {
            key: display(getattr(self, key))
            for key in self.__struct_fields__
            if key not in _MESSAGE_KEYS
        }


class PositionLimit(Constraint, tag="position_limit", frozen=True, kw_only=True):
    """Worst-case net position per instrument; None means no limit for that kind."""

    COMPUTED: ClassVar[Mapping[str, object]] = {
        "instrument": "",
        "side": "",
        "limit": 0,
        "position": 0,
        "open": 0,
        "quantity": 0,
        "worst": 0,
    }
    max_option_position: NonNegative | None = None
    max_underlying_position: NonNegative | None = None
    error_code: str = "POSITION_LIMIT_EXCEEDED"
    error_message: str = (
        "Position limit {limit} in {instrument} would be exceeded: worst case {worst}"
    )


class PortfolioLimit(Constraint, tag="portfolio_limit", frozen=True, kw_only=True):
    """Sum over options of worst-case |exposure|; underlyings are not counted."""

    COMPUTED: ClassVar[Mapping[str, object]] = {
        "instrument": "",
        "other": 0,
        "exposure": 0,
        "total": 0,
    }
    max_total_option_position: NonNegative
    error_code: str = "PORTFOLIO_LIMIT_EXCEEDED"
    error_message: str = (
        "Total option position limit {max_total_option_position} would be exceeded: "
        "worst case {total}"
    )


class OrderSize(Constraint, tag="order_size", frozen=True, kw_only=True):
    COMPUTED: ClassVar[Mapping[str, object]] = {"side": "", "quantity": 0}
    min_quantity: Positive = 1
    max_quantity: Positive
    error_code: str = "INVALID_QUANTITY"
    error_message: str = "Quantity {quantity} must be between {min_quantity} and {max_quantity}"

    def __post_init__(self) -> None:
        if self.min_quantity > self.max_quantity:
            raise ValueError("min_quantity must not exceed max_quantity")
        super().__post_init__()


class OrderRate(Constraint, tag="order_rate", frozen=True, kw_only=True):
    """Orders in the sliding one-second window; a quote counts as one."""

    COMPUTED: ClassVar[Mapping[str, object]] = {"orders_in_window": 0}
    max_per_second: Positive
    error_code: str = "RATE_LIMIT_EXCEEDED"
    error_message: str = "Rate limit exceeded: at most {max_per_second} orders per second"


class OrderTypeAllowed(Constraint, tag="order_type_allowed", frozen=True, kw_only=True):
    COMPUTED: ClassVar[Mapping[str, object]] = {"order_type": ""}
    allowed: tuple[OrderType, ...] = (OrderType.LIMIT, OrderType.MARKET)
    error_code: str = "ORDER_TYPE_NOT_ALLOWED"
    error_message: str = "Order type {order_type} is not allowed for this role ({allowed})"


class TradingWindow(Constraint, tag="trading_window", frozen=True, kw_only=True):
    COMPUTED: ClassVar[Mapping[str, object]] = {"phase": ""}
    allowed_phases: tuple[Phase, ...] = (Phase.PRE_OPEN, Phase.CONTINUOUS)
    error_code: str = "MARKET_CLOSED"
    error_message: str = "Orders are not accepted during {phase}"


class InstrumentAllowed(Constraint, tag="instrument_allowed", frozen=True, kw_only=True):
    """Which listed instruments a role may trade; an unlisted one is always refused."""

    COMPUTED: ClassVar[Mapping[str, object]] = {"instrument": "", "underlying": ""}
    underlyings: tuple[str, ...] | None = None
    """Underlying symbols whose instruments may be traded; None means all."""
    allow_options: bool = True
    """Option contracts may be traded."""
    allow_underlyings: bool = True
    """The underlyings themselves (SPX, SPY) may be traded, e.g. to hedge."""
    error_code: str = "INSTRUMENT_NOT_ALLOWED"
    error_message: str = "Instrument {instrument} is not tradable for this role"
    unknown_error_code: str = "INVALID_INSTRUMENT"
    unknown_error_message: str = "Unknown instrument {instrument}"

    def __post_init__(self) -> None:
        check_template(self.unknown_error_message, {**self.settings(), "instrument": ""})
        super().__post_init__()


class PriceRange(Constraint, tag="price_range", frozen=True, kw_only=True):
    """Limit prices and quote legs: positive, and within a band around the reference."""

    COMPUTED: ClassVar[Mapping[str, object]] = {
        "side": "",
        "price": 0.0,
        "reference": None,
        "low": None,
        "high": None,
        "reason": "",
    }
    max_deviation_pct: Percent
    """Half-width of the band, in percent of the reference price."""
    min_deviation: float = 0.0
    """Half-width floor in price units, so options priced near zero stay tradable."""
    error_code: str = "PRICE_OUT_OF_RANGE"
    error_message: str = "Price {price:.2f} is out of range: {reason}"

    def __post_init__(self) -> None:
        if to_ticks(self.min_deviation) < 0:
            raise ValueError("min_deviation must not be negative")
        super().__post_init__()


class NoTwoSided(Constraint, tag="no_two_sided", frozen=True, kw_only=True):
    """Hedge funds may not rest a bid and an ask in one instrument (SPEC section 3)."""

    COMPUTED: ClassVar[Mapping[str, object]] = {"instrument": "", "side": "", "opposite_open": 0}
    error_code: str = "TWO_SIDED_NOT_ALLOWED"
    error_message: str = (
        "A resting {side} in {instrument} would leave both a bid and an ask resting"
    )


class QuoteShape(Constraint, tag="quote_shape", frozen=True, kw_only=True):
    """A market maker's quote: bid below ask, a bounded spread, enough size a side."""

    COMPUTED: ClassVar[Mapping[str, object]] = {
        "bid": 0.0,
        "ask": 0.0,
        "bid_quantity": 0,
        "ask_quantity": 0,
        "reason": "",
    }
    max_spread_pct_of_mid: Percent = 10.0
    min_quantity: Positive = 10
    error_code: str = "INVALID_QUOTE"
    error_message: str = "Invalid quote: {reason}"


ConstraintConfig = (
    PositionLimit
    | PortfolioLimit
    | OrderSize
    | OrderRate
    | OrderTypeAllowed
    | TradingWindow
    | InstrumentAllowed
    | PriceRange
    | NoTwoSided
    | QuoteShape
)


class _RoleSection(msgspec.Struct, frozen=True):
    """One role's entry; other keys (fees, ...) belong to other loaders and are skipped.

    `constraints` is required so that a misspelt key cannot silently drop a role's rules;
    `constraints: []` accepts everything.
    """

    constraints: list[ConstraintConfig]


class _RolesFile(msgspec.Struct, frozen=True):
    roles: dict[Role, dict[str, Any]]


def load_constraints(data: bytes | str) -> dict[Role, list[ConstraintConfig]]:
    """Read `roles: {<role>: {constraints: [...]}}` from YAML.

    Raises msgspec.ValidationError (naming the path, e.g. `$.roles.retail.constraints[0]`)
    for an unknown role, constraint type or key, a bad value or a bad message template;
    msgspec.DecodeError for text that is not YAML.
    """
    roles = msgspec.yaml.decode(data, type=_RolesFile).roles
    return {role: _section(role, raw).constraints for role, raw in roles.items()}


def _section(role: Role, raw: dict[str, Any]) -> _RoleSection:
    # Converted per role so that the error path names the role, not `$.roles[...]`.
    try:
        return msgspec.convert(raw, _RoleSection)
    except msgspec.ValidationError as exc:
        path, text = f"`$.roles.{role.value}", str(exc)
        text = text.replace("`$", path) if "`$" in text else f"{text} - at {path}`"
        raise msgspec.ValidationError(text) from None
