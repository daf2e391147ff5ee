"""The constraint-based validator (SPEC sections 3 and 5): each rule at its boundary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.domain.constraints import (
    ConstraintBasedOrderValidator,
    ConstraintConfig,
    InstrumentAllowed,
    NoTwoSided,
    OrderRate,
    OrderRefusal,
    OrderSize,
    OrderTypeAllowed,
    PortfolioLimit,
    PositionLimit,
    PriceRange,
    QuoteShape,
    TradingWindow,
    ValidationContext,
    compile_constraint,
    load_constraints,
)
from exchange.domain.instruments import Instrument, make_option
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.ratelimit import SlidingWindow
from exchange.domain.ticks import to_ticks
from exchange.domain.types import (
    InstrumentId,
    OptionKind,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
)

ROLES_YAML = Path(__file__).parents[2] / "exchange" / "presets" / "roles.yaml"
TEAM = TeamId("team-1")
EXPIRY = dt.date(2026, 12, 4)
CALL = make_option("SPX", OptionKind.CALL, to_ticks(4400), EXPIRY)
SPY_PUT = make_option("SPY", OptionKind.PUT, to_ticks(440), EXPIRY)
SPX = Instrument(InstrumentId("SPX"), "SPX")
SECOND = 1_000_000_000


def order(
    side: Side, quantity: int, price: str | None = "100.00", instrument: Instrument = CALL
) -> NewOrder:
    ticks = None if price is None else to_ticks(price)
    return NewOrder(TEAM, instrument.id, side, quantity, ticks)


def buy(quantity: int, price: str | None = "100.00", instrument: Instrument = CALL) -> NewOrder:
    return order(Side.BUY, quantity, price, instrument)


def sell(quantity: int, price: str | None = "100.00", instrument: Instrument = CALL) -> NewOrder:
    return order(Side.SELL, quantity, price, instrument)


def quote(bid: str, bid_qty: int, ask: str, ask_qty: int) -> NewQuote:
    return NewQuote(TEAM, CALL.id, to_ticks(bid), bid_qty, to_ticks(ask), ask_qty)


def context(o: NewOrder | NewQuote, **fields: Any) -> ValidationContext:
    """A context for `o` on CALL in continuous trading; `fields` override any part."""
    values: dict[str, Any] = {
        "order": o,
        "role": Role.MARKET_MAKER,
        "phase": Phase.CONTINUOUS,
        "now_ns": 0,
        "instrument": CALL,
    }
    values.update(fields)
    return ValidationContext(**values)


def check(config: ConstraintConfig, o: NewOrder | NewQuote, **fields: Any) -> OrderRefusal | None:
    return compile_constraint(config)(context(o, **fields))


def code(config: ConstraintConfig, o: NewOrder | NewQuote, **fields: Any) -> str | None:
    rejection = check(config, o, **fields)
    return None if rejection is None else rejection.code


# position_limit: worst case = position + resting same side + this order


OPTION_50 = PositionLimit(max_option_position=50)


def test_position_limit_buy_exactly_at_limit_passes() -> None:
    assert check(OPTION_50, buy(3), position=40, open_buy=7) is None


def test_position_limit_buy_counts_resting_buys_worst_case() -> None:
    rejection = check(OPTION_50, buy(3), position=40, open_buy=8)
    assert rejection is not None
    assert rejection.code == "POSITION_LIMIT_EXCEEDED"
    assert rejection.constraint == "position_limit"
    assert rejection.message == (
        f"Position limit 50 in {CALL.id} would be exceeded: worst case 51"
    )
    assert rejection.details["worst"] == 51
    assert rejection.details["open"] == 8


def test_position_limit_same_sell_passes_despite_resting_buys() -> None:
    assert check(OPTION_50, sell(3), position=40, open_buy=8) is None


def test_position_limit_sell_counts_resting_sells() -> None:
    assert check(OPTION_50, sell(3), position=-40, open_sell=7) is None
    rejection = check(OPTION_50, sell(4), position=-40, open_sell=7)
    assert rejection is not None
    assert rejection.details["worst"] == -51
    assert rejection.message.endswith("worst case -51")


def test_position_limit_reducing_order_passes_when_already_over() -> None:
    assert check(OPTION_50, sell(5), position=60) is None
    assert check(OPTION_50, buy(5), position=-60) is None


def test_position_limit_market_order_counts_like_a_limit_order() -> None:
    assert code(OPTION_50, buy(51, price=None)) == "POSITION_LIMIT_EXCEEDED"


def test_position_limit_underlying_uses_its_own_limit() -> None:
    limits = PositionLimit(max_option_position=50, max_underlying_position=200)
    assert check(limits, buy(200, instrument=SPX), instrument=SPX) is None
    assert code(limits, buy(201, instrument=SPX), instrument=SPX) == "POSITION_LIMIT_EXCEEDED"


def test_position_limit_none_means_no_limit_for_that_kind() -> None:
    assert check(OPTION_50, buy(10_000, instrument=SPX), instrument=SPX) is None
    underlying_only = PositionLimit(max_underlying_position=10)
    assert check(underlying_only, buy(10_000)) is None


@pytest.mark.parametrize(
    ("fields", "side"),
    [
        pytest.param({"position": 45}, "buy", id="bid-leg"),
        pytest.param({"position": -45}, "sell", id="ask-leg"),
    ],
)
def test_position_limit_quote_checks_both_legs(fields: dict[str, int], side: str) -> None:
    rejection = check(OPTION_50, quote("99.00", 6, "101.00", 6), **fields)
    assert rejection is not None
    assert rejection.details["side"] == side
    assert check(OPTION_50, quote("99.00", 5, "101.00", 5), **fields) is None


# portfolio_limit: other options' worst case + this one's worst case after the order

TOTAL_200 = PortfolioLimit(max_total_option_position=200)


def test_portfolio_limit_exactly_at_limit_passes() -> None:
    assert check(TOTAL_200, buy(10), portfolio_other=150, position=40) is None


def test_portfolio_limit_one_past_fails_across_instruments() -> None:
    rejection = check(TOTAL_200, buy(11), portfolio_other=150, position=40)
    assert rejection is not None
    assert rejection.code == "PORTFOLIO_LIMIT_EXCEEDED"
    assert rejection.message == (
        "Total option position limit 200 would be exceeded: worst case 201"
    )
    assert rejection.details["other"] == 150


def test_portfolio_limit_counts_the_worse_side_with_resting_orders() -> None:
    # Long 10 with 30 resting sells: the short side, |10 - 30 - 5| = 25, is the worst case.
    assert check(TOTAL_200, sell(5), position=10, open_sell=30, portfolio_other=175) is None
    assert code(TOTAL_200, sell(6), position=10, open_sell=30, portfolio_other=175) == (
        "PORTFOLIO_LIMIT_EXCEEDED"
    )


def test_portfolio_limit_ignores_underlyings() -> None:
    assert check(TOTAL_200, buy(500, instrument=SPX), instrument=SPX, portfolio_other=200) is None


def test_portfolio_limit_reducing_order_passes_when_already_over() -> None:
    assert check(TOTAL_200, sell(5), position=30, portfolio_other=190) is None


def test_portfolio_limit_quote_counts_both_legs() -> None:
    # Flat: the worst case of a 10 x 12 quote is the larger leg, 12.
    assert check(TOTAL_200, quote("99.00", 10, "101.00", 12), portfolio_other=188) is None
    assert code(TOTAL_200, quote("99.00", 10, "101.00", 12), portfolio_other=189) == (
        "PORTFOLIO_LIMIT_EXCEEDED"
    )


# order_size

SIZE = OrderSize(min_quantity=1, max_quantity=1000)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(1, None), (0, "INVALID_QUANTITY"), (1000, None), (1001, "INVALID_QUANTITY")],
)
def test_order_size_boundaries(quantity: int, expected: str | None) -> None:
    assert code(SIZE, buy(quantity)) == expected


def test_order_size_checks_every_quote_leg() -> None:
    assert check(SIZE, quote("99.00", 1000, "101.00", 1)) is None
    rejection = check(SIZE, quote("99.00", 10, "101.00", 1001))
    assert rejection is not None
    assert rejection.details["side"] == "sell"
    assert rejection.message == "Quantity 1001 must be between 1 and 1000"


def test_order_size_config_rejects_min_above_max() -> None:
    with pytest.raises(ValueError, match="min_quantity"):
        OrderSize(min_quantity=10, max_quantity=5)


# order_rate: orders already in the sliding one-second window


def test_order_rate_below_limit_passes_at_limit_fails() -> None:
    rate = OrderRate(max_per_second=10)
    assert check(rate, buy(1), orders_in_window=9) is None
    rejection = check(rate, buy(1), orders_in_window=10)
    assert rejection is not None
    assert rejection.code == "RATE_LIMIT_EXCEEDED"
    assert rejection.message == "Rate limit exceeded: at most 10 orders per second"


def test_order_rate_quote_counts_as_one_order() -> None:
    rate = OrderRate(max_per_second=2)
    assert check(rate, quote("99.00", 10, "101.00", 10), orders_in_window=1) is None


# order_type_allowed

LIMIT_MARKET = OrderTypeAllowed(allowed=(OrderType.LIMIT, OrderType.MARKET))


@pytest.mark.parametrize(
    ("o", "expected"),
    [
        pytest.param(buy(1), None, id="limit"),
        pytest.param(buy(1, price=None), None, id="market"),
        pytest.param(quote("99.00", 10, "101.00", 10), "ORDER_TYPE_NOT_ALLOWED", id="quote"),
    ],
)
def test_order_type_allowed_by_role(o: NewOrder | NewQuote, expected: str | None) -> None:
    assert code(LIMIT_MARKET, o) == expected


def test_order_type_without_price_is_market() -> None:
    rejection = check(OrderTypeAllowed(allowed=(OrderType.LIMIT,)), buy(1, price=None))
    assert rejection is not None
    assert rejection.message == "Order type market is not allowed for this role (limit)"


# trading_window


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (Phase.PRE_OPEN, None),
        (Phase.CONTINUOUS, None),
        (Phase.OPENING_AUCTION, "MARKET_CLOSED"),
        (Phase.CLOSED, "MARKET_CLOSED"),
    ],
)
def test_trading_window_default_phases(phase: Phase, expected: str | None) -> None:
    assert code(TradingWindow(), buy(1), phase=phase) == expected


def test_trading_window_message_names_the_phase() -> None:
    rejection = check(TradingWindow(), buy(1), phase=Phase.CLOSED)
    assert rejection is not None
    assert rejection.message == "Orders are not accepted during CLOSED"


# instrument_allowed


def test_instrument_allowed_unknown_instrument_is_invalid_instrument() -> None:
    o = NewOrder(TEAM, InstrumentId("XYZ_CALL_1_20261204"), Side.BUY, 1, to_ticks("1.00"))
    rejection = check(InstrumentAllowed(), o, instrument=None)
    assert rejection is not None
    assert rejection.code == "INVALID_INSTRUMENT"
    assert rejection.message == "Unknown instrument XYZ_CALL_1_20261204"


def test_instrument_allowed_defaults_allow_every_listed_instrument() -> None:
    for instrument in (CALL, SPY_PUT, SPX):
        assert (
            check(InstrumentAllowed(), buy(1, instrument=instrument), instrument=instrument)
            is None
        )


def test_instrument_allowed_underlyings_list_restricts() -> None:
    spx_only = InstrumentAllowed(underlyings=("SPX",))
    assert check(spx_only, buy(1)) is None
    rejection = check(spx_only, buy(1, instrument=SPY_PUT), instrument=SPY_PUT)
    assert rejection is not None
    assert rejection.code == "INSTRUMENT_NOT_ALLOWED"
    assert rejection.message == f"Instrument {SPY_PUT.id} is not tradable for this role"


def test_instrument_allowed_kind_switches() -> None:
    no_options = InstrumentAllowed(allow_options=False)
    no_underlyings = InstrumentAllowed(allow_underlyings=False)
    assert code(no_options, buy(1)) == "INSTRUMENT_NOT_ALLOWED"
    assert check(no_options, buy(1, instrument=SPX), instrument=SPX) is None
    assert code(no_underlyings, buy(1, instrument=SPX), instrument=SPX) == "INSTRUMENT_NOT_ALLOWED"
    assert check(no_underlyings, buy(1)) is None


# price_range: a band around the reference price, prices always positive

BAND_50 = PriceRange(max_deviation_pct=50)
REF_100 = to_ticks("100.00")


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("150.00", None),
        ("150.01", "PRICE_OUT_OF_RANGE"),
        ("50.00", None),
        ("49.99", "PRICE_OUT_OF_RANGE"),
    ],
)
def test_price_range_band_edges(price: str, expected: str | None) -> None:
    assert code(BAND_50, buy(1, price=price), reference_price=REF_100) == expected


def test_price_range_message_shows_the_band() -> None:
    rejection = check(BAND_50, sell(1, price="150.01"), reference_price=REF_100)
    assert rejection is not None
    assert rejection.message == (
        "Price 150.01 is out of range: more than 50% from the reference 100.00 "
        "(allowed 50.00 to 150.00)"
    )
    assert rejection.details["low"] == 50.0
    assert rejection.details["high"] == 150.0


def test_price_range_fractional_percent_is_exact() -> None:
    band = PriceRange(max_deviation_pct=12.5)
    assert check(band, buy(1, price="112.50"), reference_price=REF_100) is None
    assert code(band, buy(1, price="112.51"), reference_price=REF_100) == "PRICE_OUT_OF_RANGE"


def test_price_range_passes_without_reference_price() -> None:
    assert check(BAND_50, buy(1, price="100000.00")) is None


def test_price_range_price_must_be_positive() -> None:
    rejection = check(BAND_50, buy(1, price="0.00"))
    assert rejection is not None
    assert rejection.message == "Price 0.00 is out of range: prices must be positive"
    assert check(BAND_50, buy(1, price="0.01")) is None


def test_price_range_ignores_market_orders() -> None:
    assert check(BAND_50, buy(1, price=None), reference_price=REF_100) is None


def test_price_range_checks_both_quote_legs() -> None:
    assert check(BAND_50, quote("50.00", 10, "150.00", 10), reference_price=REF_100) is None
    rejection = check(BAND_50, quote("99.00", 10, "150.01", 10), reference_price=REF_100)
    assert rejection is not None
    assert rejection.details["side"] == "sell"
    assert code(BAND_50, quote("49.99", 10, "101.00", 10), reference_price=REF_100) == (
        "PRICE_OUT_OF_RANGE"
    )


def test_price_range_min_deviation_keeps_cheap_options_tradable() -> None:
    floored = PriceRange(max_deviation_pct=50, min_deviation=0.50)
    cheap = to_ticks("0.02")
    assert check(floored, buy(1, price="0.52"), reference_price=cheap) is None
    assert code(floored, buy(1, price="0.53"), reference_price=cheap) == "PRICE_OUT_OF_RANGE"
    assert code(BAND_50, buy(1, price="0.52"), reference_price=cheap) == "PRICE_OUT_OF_RANGE"


# no_two_sided (hedge fund)


@pytest.mark.parametrize(
    ("o", "fields", "expected"),
    [
        pytest.param(buy(1), {"open_sell": 1}, "TWO_SIDED_NOT_ALLOWED", id="bid-vs-ask"),
        pytest.param(sell(1), {"open_buy": 1}, "TWO_SIDED_NOT_ALLOWED", id="ask-vs-bid"),
        pytest.param(buy(1), {"open_buy": 5}, None, id="same-side"),
        pytest.param(buy(1, price=None), {"open_sell": 5}, None, id="market-never-rests"),
        pytest.param(quote("99.00", 10, "101.00", 10), {}, "TWO_SIDED_NOT_ALLOWED", id="quote"),
    ],
)
def test_no_two_sided(
    o: NewOrder | NewQuote, fields: dict[str, int], expected: str | None
) -> None:
    assert code(NoTwoSided(), o, **fields) == expected


def test_no_two_sided_message() -> None:
    rejection = check(NoTwoSided(), buy(1), open_sell=3)
    assert rejection is not None
    assert rejection.message == (
        f"A resting buy in {CALL.id} would leave both a bid and an ask resting"
    )
    assert rejection.details["opposite_open"] == 3


# quote_shape (market maker)

SHAPE = QuoteShape()


def test_quote_shape_ignores_plain_orders() -> None:
    assert check(SHAPE, buy(1)) is None


def test_quote_shape_bid_must_be_below_ask() -> None:
    rejection = check(SHAPE, quote("100.00", 10, "100.00", 10))
    assert rejection is not None
    assert rejection.code == "INVALID_QUOTE"
    assert rejection.message == "Invalid quote: bid 100.00 must be below ask 100.00"


def test_quote_shape_spread_exactly_ten_percent_of_mid_passes() -> None:
    assert check(SHAPE, quote("95.00", 10, "105.00", 10)) is None
    rejection = check(SHAPE, quote("94.99", 10, "105.00", 10))
    assert rejection is not None
    assert rejection.message == "Invalid quote: spread is more than 10% of mid"


@pytest.mark.parametrize(("bid_qty", "ask_qty"), [(9, 10), (10, 9)])
def test_quote_shape_needs_ten_contracts_a_side(bid_qty: int, ask_qty: int) -> None:
    assert check(SHAPE, quote("99.00", 10, "101.00", 10)) is None
    rejection = check(SHAPE, quote("99.00", bid_qty, "101.00", ask_qty))
    assert rejection is not None
    assert rejection.message == "Invalid quote: each side needs at least 10 contracts"


# every error code, with a message that has been filled in

EVERY_CODE = [
    (OPTION_50, buy(51), {}, "POSITION_LIMIT_EXCEEDED"),
    (TOTAL_200, buy(1), {"portfolio_other": 200}, "PORTFOLIO_LIMIT_EXCEEDED"),
    (SIZE, buy(0), {}, "INVALID_QUANTITY"),
    (OrderRate(max_per_second=1), buy(1), {"orders_in_window": 1}, "RATE_LIMIT_EXCEEDED"),
    (LIMIT_MARKET, quote("99.00", 10, "101.00", 10), {}, "ORDER_TYPE_NOT_ALLOWED"),
    (TradingWindow(), buy(1), {"phase": Phase.CLOSED}, "MARKET_CLOSED"),
    (InstrumentAllowed(allow_options=False), buy(1), {}, "INSTRUMENT_NOT_ALLOWED"),
    (InstrumentAllowed(), buy(1), {"instrument": None}, "INVALID_INSTRUMENT"),
    (BAND_50, buy(1, "200.00"), {"reference_price": REF_100}, "PRICE_OUT_OF_RANGE"),
    (NoTwoSided(), buy(1), {"open_sell": 1}, "TWO_SIDED_NOT_ALLOWED"),
    (SHAPE, quote("101.00", 10, "99.00", 10), {}, "INVALID_QUOTE"),
]


@pytest.mark.parametrize(
    ("config", "o", "fields", "expected"), EVERY_CODE, ids=[c[3] for c in EVERY_CODE]
)
def test_each_constraint_reports_its_code_and_a_filled_message(
    config: ConstraintConfig, o: NewOrder | NewQuote, fields: dict[str, Any], expected: str
) -> None:
    rejection = check(config, o, **fields)
    assert rejection is not None
    assert rejection.code == expected
    assert rejection.constraint == config.name
    assert rejection.message
    assert "{" not in rejection.message


def test_custom_error_code_and_message_template() -> None:
    config = OrderSize(
        max_quantity=5,
        error_code="TOO_BIG",
        error_message="{quantity} > {max_quantity} on the {side} side",
    )
    rejection = check(config, sell(6))
    assert rejection == OrderRefusal(
        "TOO_BIG",
        "6 > 5 on the sell side",
        "order_size",
        {"min_quantity": 1, "max_quantity": 5, "side": "sell", "quantity": 6},
    )


def test_message_template_with_unknown_field_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown field 'limt'"):
        PositionLimit(max_option_position=5, error_message="over {limt}")


# the validator: first failing constraint wins, roles without rules accept everything


def test_first_failing_constraint_is_reported_order_matters() -> None:
    size, window = OrderSize(max_quantity=10), TradingWindow()
    ctx = context(buy(11), phase=Phase.CLOSED)
    orders: list[list[ConstraintConfig]] = [[size, window], [window, size]]
    answers = [
        ConstraintBasedOrderValidator({Role.MARKET_MAKER: configs}).validate(ctx)
        for configs in orders
    ]
    assert [None if a is None else a.code for a in answers] == [
        "INVALID_QUANTITY",
        "MARKET_CLOSED",
    ]


def test_validator_accepts_when_every_constraint_passes() -> None:
    validator = ConstraintBasedOrderValidator(
        {Role.MARKET_MAKER: [TradingWindow(), SIZE, OPTION_50, TOTAL_200]}
    )
    assert validator.validate(context(buy(50))) is None


def test_role_without_constraints_accepts_everything() -> None:
    validator = ConstraintBasedOrderValidator({Role.RETAIL: [SIZE]})
    ctx = context(buy(10**9, price=None), role=Role.HOUSE, phase=Phase.CLOSED, instrument=None)
    assert validator.validate(ctx) is None


# the default roles.yaml enforces the SPEC section 3 table


class RoleRules(msgspec.Struct, frozen=True):
    role: Role
    max_size: int
    per_second: int
    per_option: int
    total: int
    quotes: bool


SPEC_TABLE = [
    RoleRules(Role.MARKET_MAKER, 1000, 10, 50, 200, quotes=True),
    RoleRules(Role.HEDGE_FUND, 500, 5, 150, 500, quotes=False),
    RoleRules(Role.ARBITRAGE, 500, 7, 100, 300, quotes=False),
    RoleRules(Role.RETAIL, 100, 1, 50, 50, quotes=False),
]
BY_ROLE = pytest.mark.parametrize("rules", SPEC_TABLE, ids=[r.role.value for r in SPEC_TABLE])


@pytest.fixture(scope="module")
def default_validator() -> ConstraintBasedOrderValidator:
    return ConstraintBasedOrderValidator(load_constraints(ROLES_YAML.read_bytes()))


def validate(
    validator: ConstraintBasedOrderValidator, rules: RoleRules, o: NewOrder | NewQuote, **f: Any
) -> str | None:
    rejection = validator.validate(context(o, role=rules.role, **f))
    return None if rejection is None else rejection.code


def test_default_roles_yaml_lists_the_four_roles_not_the_house() -> None:
    constraints = load_constraints(ROLES_YAML.read_text())
    assert set(constraints) == {Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE, Role.RETAIL}


def test_default_roles_yaml_fees_follow_the_spec_table() -> None:
    raw = msgspec.yaml.decode(ROLES_YAML.read_bytes())
    fees = {role: body["fees"] for role, body in raw["roles"].items()}
    assert fees == {
        "market_maker": {"maker": 0.02, "taker": -0.01},
        "hedge_fund": {"maker": 0.01, "taker": -0.02},
        "arbitrage": {"maker": 0.01, "taker": -0.02},
        "retail": {"maker": -0.01, "taker": -0.03},
    }


@BY_ROLE
def test_default_order_size(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    # Selling out a long position: within every position rule, so only the size counts.
    n = rules.max_size
    assert validate(default_validator, rules, sell(n), position=n) is None
    assert validate(default_validator, rules, sell(n + 1), position=n + 1) == "INVALID_QUANTITY"
    assert validate(default_validator, rules, buy(0)) == "INVALID_QUANTITY"


@BY_ROLE
def test_default_order_rate(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    n = rules.per_second
    assert validate(default_validator, rules, buy(1), orders_in_window=n - 1) is None
    assert validate(default_validator, rules, buy(1), orders_in_window=n) == "RATE_LIMIT_EXCEEDED"


@BY_ROLE
def test_default_position_per_option(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    n = rules.per_option
    assert validate(default_validator, rules, buy(n)) is None
    assert validate(default_validator, rules, buy(1), position=n) == "POSITION_LIMIT_EXCEEDED"
    assert validate(default_validator, rules, sell(1), open_sell=n) == "POSITION_LIMIT_EXCEEDED"


@BY_ROLE
def test_default_total_option_position(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    other = rules.total - rules.per_option
    assert validate(default_validator, rules, buy(rules.per_option), portfolio_other=other) is None
    assert validate(
        default_validator, rules, buy(rules.per_option), portfolio_other=other + 1
    ) == ("PORTFOLIO_LIMIT_EXCEEDED")


@BY_ROLE
def test_default_quotes_only_for_market_makers(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    result = validate(default_validator, rules, quote("99.00", 10, "101.00", 10))
    assert result == (None if rules.quotes else "ORDER_TYPE_NOT_ALLOWED")
    assert validate(default_validator, rules, buy(1, price=None)) is None


@BY_ROLE
def test_default_phase_instrument_and_price_rules(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    assert validate(default_validator, rules, buy(1), phase=Phase.PRE_OPEN) is None
    assert validate(default_validator, rules, buy(1), phase=Phase.CLOSED) == "MARKET_CLOSED"
    assert validate(default_validator, rules, buy(1), instrument=None) == "INVALID_INSTRUMENT"
    assert validate(default_validator, rules, buy(1, "150.00"), reference_price=REF_100) is None
    assert validate(default_validator, rules, buy(1, "150.01"), reference_price=REF_100) == (
        "PRICE_OUT_OF_RANGE"
    )


@BY_ROLE
def test_default_two_sided_only_refused_for_hedge_funds(
    default_validator: ConstraintBasedOrderValidator, rules: RoleRules
) -> None:
    result = validate(default_validator, rules, buy(1), open_sell=1)
    assert result == ("TWO_SIDED_NOT_ALLOWED" if rules.role is Role.HEDGE_FUND else None)


def test_default_hedge_fund_underlying_limit_200(
    default_validator: ConstraintBasedOrderValidator,
) -> None:
    hedge = SPEC_TABLE[1]
    spx = {"instrument": SPX}
    assert validate(default_validator, hedge, buy(200, instrument=SPX), **spx) is None
    assert validate(default_validator, hedge, buy(1, instrument=SPX), position=200, **spx) == (
        "POSITION_LIMIT_EXCEEDED"
    )


def test_default_market_maker_quote_shape(
    default_validator: ConstraintBasedOrderValidator,
) -> None:
    maker = SPEC_TABLE[0]
    assert validate(default_validator, maker, quote("94.99", 10, "105.00", 10)) == "INVALID_QUOTE"
    assert validate(default_validator, maker, quote("99.00", 9, "101.00", 10)) == "INVALID_QUOTE"


# loading YAML: typos fail loudly, with the path


def yaml_for(constraint: str) -> str:
    return (
        f"roles:\n  retail:\n    fees: {{maker: 0.01}}\n    constraints:\n      - {constraint}\n"
    )


def test_load_constraints_decodes_each_type_and_ignores_role_level_keys() -> None:
    loaded = load_constraints(yaml_for("{type: order_rate, max_per_second: 3}"))
    assert loaded == {Role.RETAIL: [OrderRate(max_per_second=3)]}


def test_load_constraints_unknown_constraint_type_fails() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.roles\.retail\.constraints\[0\]"):
        load_constraints(yaml_for("{type: position_limt, max_option_position: 5}"))


def test_load_constraints_unknown_key_in_constraint_fails() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `max_postion`"):
        load_constraints(yaml_for("{type: position_limit, max_postion: 5}"))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("roles: {trader: {constraints: []}}", id="unknown-role"),
        pytest.param("roles: {retail: {constraint: []}}", id="misspelt-constraints"),
        pytest.param(yaml_for("{type: order_size, max_quantity: -1}"), id="negative-limit"),
        pytest.param(yaml_for("{type: order_rate, max_per_second: '10'}"), id="string-number"),
        pytest.param(
            yaml_for("{type: order_rate, max_per_second: 1, error_message: '{nope}'}"),
            id="bad-template",
        ),
        pytest.param(yaml_for("{type: trading_window, allowed_phases: [OPEN]}"), id="bad-phase"),
    ],
)
def test_load_constraints_rejects_bad_config(text: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        load_constraints(text)


# the sliding window behind order_rate


def test_sliding_window_counts_events_within_one_second() -> None:
    window = SlidingWindow(limit=3)
    for t in (0, 100, 200):
        window.record(t)
    assert window.count(SECOND - 1) == 3
    assert window.remaining(SECOND - 1) == 0


def test_sliding_window_event_leaves_at_exactly_one_second() -> None:
    window = SlidingWindow(limit=2)
    window.record(0)
    window.record(500_000_000)
    assert window.count(SECOND - 1) == 2
    assert window.count(SECOND) == 1
    assert window.remaining(SECOND) == 1
    assert window.count(SECOND + 500_000_000) == 0


def test_sliding_window_retry_after_is_when_the_oldest_leaves() -> None:
    window = SlidingWindow(limit=2)
    assert window.retry_after_ns(0) == 0
    window.record(100)
    assert window.retry_after_ns(200) == 0
    window.record(300)
    assert window.retry_after_ns(400) == SECOND + 100 - 400
    assert window.retry_after_ns(SECOND + 100) == 0


def test_sliding_window_retry_after_with_more_events_than_the_limit() -> None:
    window = SlidingWindow(limit=2)
    for t in (0, 10, 20):
        window.record(t)
    # Room for one more once two events have left: the second oldest leaves at 1s + 10.
    assert window.retry_after_ns(30) == SECOND + 10 - 30


def test_sliding_window_custom_window_length() -> None:
    window = SlidingWindow(limit=1, window_ns=100)
    window.record(0)
    assert window.count(99) == 1
    assert window.count(100) == 0


def test_sliding_window_refuses_time_going_backwards_and_bad_limits() -> None:
    window = SlidingWindow(limit=1)
    window.record(10)
    with pytest.raises(ValueError, match="backwards"):
        window.record(9)
    with pytest.raises(ValueError):
        SlidingWindow(limit=0)
