"""The client's error classes by meaning: every code of the API's table, every code a
rule or the venue refuses an order with, and what an unknown code falls back to. Also
the backoff the stream waits by between attempts."""

from __future__ import annotations

import random

import msgspec
import pytest

from exchange.client import (
    AuthError,
    Backoff,
    ConnectionLostError,
    ExchangeError,
    InvalidRequestError,
    NotFoundError,
    OrderNotFoundError,
    RateLimitedError,
    RateLimitError,
    RejectedError,
    ServerError,
    TeamDisabledError,
)
from exchange.client.errors import error_for, stream_error
from exchange.domain.constraint_config import Constraint
from exchange.wire.errors import ERRORS

EXPECTED: dict[str, type[ExchangeError]] = {
    "INVALID_JSON": InvalidRequestError,
    "INVALID_FIELD": InvalidRequestError,
    "INVALID_INSTRUMENT": RejectedError,
    "INVALID_SIDE": RejectedError,
    "INVALID_QUANTITY": RejectedError,
    "INVALID_PRICE": RejectedError,
    "INVALID_QUOTE": RejectedError,
    "UNAUTHORIZED": AuthError,
    "FORBIDDEN": AuthError,
    "TEAM_DISABLED": TeamDisabledError,
    "ADMIN_DISABLED": AuthError,
    "NOT_FOUND": NotFoundError,
    "TEAM_NAME_TAKEN": InvalidRequestError,
    "ORDER_NOT_FOUND": OrderNotFoundError,
    "MARKET_CLOSED": RejectedError,
    "GAME_NOT_STARTED": RejectedError,
    "GAME_PAUSED": RejectedError,
    "GAME_STOPPED": RejectedError,
    "INSTRUMENT_HALTED": RejectedError,
    "GAME_STATE_CONFLICT": InvalidRequestError,
    "RATE_LIMIT_EXCEEDED": RateLimitedError,
    "POSITION_LIMIT_EXCEEDED": RejectedError,
    "PORTFOLIO_LIMIT_EXCEEDED": RejectedError,
    "ORDER_TYPE_NOT_ALLOWED": RejectedError,
    "INSTRUMENT_NOT_ALLOWED": RejectedError,
    "PRICE_OUT_OF_RANGE": RejectedError,
    "TWO_SIDED_NOT_ALLOWED": RejectedError,
    "METHOD_NOT_ALLOWED": InvalidRequestError,
    "PAYLOAD_TOO_LARGE": InvalidRequestError,
    "UNSUPPORTED_MEDIA_TYPE": InvalidRequestError,
    "HEADERS_TOO_LARGE": InvalidRequestError,
    "REQUEST_TIMEOUT": InvalidRequestError,
    "TEAM_LIMIT_REACHED": InvalidRequestError,
    "REGISTRATION_CLOSED": AuthError,
    "SERVICE_UNAVAILABLE": ServerError,
    "INTERNAL_ERROR": ServerError,
}
"""Written out by hand, so that a new code in the table needs a decision here."""

VENUE_CODES = (
    "INVALID_INSTRUMENT", "INSTRUMENT_HALTED", "INVALID_QUANTITY", "INVALID_PRICE",
    "ORDER_TYPE_NOT_ALLOWED", "INVALID_QUOTE", "ORDER_NOT_FOUND", "MARKET_CLOSED",
    "GAME_NOT_STARTED", "GAME_PAUSED", "GAME_STOPPED",
)  # fmt: skip
"""What the venue and the game's state refuse orders, quotes and cancels with."""


def rule_codes() -> set[str]:
    """Every code a configurable rule of the validator refuses with by default."""
    codes: set[str] = set()
    for kind in Constraint.__subclasses__():
        for field in msgspec.structs.fields(kind):
            if field.name.endswith("error_code") and isinstance(field.default, str):
                codes.add(field.default)
    return codes


def test_the_table_and_the_expectations_name_the_same_codes() -> None:
    assert set(EXPECTED) == set(ERRORS)


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_code_of_the_table_raises_its_class(code: str) -> None:
    status = ERRORS[code].status
    error = error_for(status, code, "what happened", {"field": "x"})
    assert type(error) is EXPECTED[code]
    assert (error.code, error.message, error.status) == (code, "what happened", status)
    assert error.details == {"field": "x"} and code in str(error)


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_a_refusal_on_the_stream_raises_the_class_of_its_code(code: str) -> None:
    error = stream_error(code, "what happened", {"field": "x"})
    assert type(error) is EXPECTED[code]
    assert (error.code, error.status, error.details) == (code, 0, {"field": "x"})


def test_a_rule_s_own_code_on_the_stream_is_a_rejection() -> None:
    assert type(stream_error("DESK_LIMIT", "configured rule", {})) is RejectedError


def test_the_rules_have_codes_to_check() -> None:
    assert {"POSITION_LIMIT_EXCEEDED", "PRICE_OUT_OF_RANGE", "INVALID_QUOTE"} <= rule_codes()


@pytest.mark.parametrize("code", sorted(rule_codes() | set(VENUE_CODES)))
@pytest.mark.parametrize("status", [400, 404, 409, 422, 429])
def test_an_order_refusal_is_rejected_whatever_its_status(code: str, status: int) -> None:
    assert isinstance(error_for(status, code, "no", {}), RejectedError)


def test_a_rate_limit_is_a_rejection_under_both_names() -> None:
    error = error_for(429, "RATE_LIMIT_EXCEEDED", "slow down", {"retry_after_ms": 500})
    assert isinstance(error, RateLimitError) and isinstance(error, RejectedError)
    assert RateLimitError is RateLimitedError


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (422, RejectedError),  # a rule's own code from the game's config
        (400, InvalidRequestError),
        (409, InvalidRequestError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (418, ExchangeError),
    ],
)
def test_an_unknown_code_falls_back_to_its_status(status: int, kind: type[ExchangeError]) -> None:
    error = error_for(status, "SOMETHING_NEW", "?", {})
    assert type(error) is kind and error.code == "SOMETHING_NEW"


def test_the_kinds_of_fault_do_not_overlap() -> None:
    assert not issubclass(NotFoundError, RejectedError)
    assert not issubclass(OrderNotFoundError, InvalidRequestError)
    assert not issubclass(ConnectionLostError, (RejectedError, InvalidRequestError, AuthError))
    assert issubclass(TeamDisabledError, AuthError)


# -- backoff ------------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    backoff = Backoff(first=0.1, cap=2.0, rng=random.Random(5))
    for attempt in range(1, 40):
        ceiling = min(2.0, 0.1 * 2 ** (attempt - 1))
        assert ceiling / 2 <= backoff.delay(attempt) <= ceiling
    assert backoff.delay(10**6) <= 2.0


def test_backoff_jitter_comes_from_its_source() -> None:
    first = [Backoff(rng=random.Random(11)).delay(n) for n in range(1, 20)]
    again = [Backoff(rng=random.Random(11)).delay(n) for n in range(1, 20)]
    other = [Backoff(rng=random.Random(12)).delay(n) for n in range(1, 20)]
    assert first == again and first != other


def test_backoff_gives_up_only_past_max_attempts() -> None:
    forever = Backoff()
    assert not any(forever.exhausted(n) for n in range(10_000))
    three = Backoff(max_attempts=3)
    assert [three.exhausted(n) for n in range(1, 6)] == [False, False, False, True, True]
    assert Backoff(max_attempts=0).exhausted(1)


@pytest.mark.parametrize(
    "arguments",
    [{"first": 0.0}, {"first": -1.0}, {"first": 2.0, "cap": 1.0}, {"max_attempts": -1}],
)
def test_backoff_refuses_settings_that_make_no_sense(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**arguments)  # type: ignore[arg-type]
