"""The client's errors: one family, picked by what the error means, carrying its code.

Every error is an `ExchangeError` with `code` (stable, e.g. `INVALID_PRICE`), `message`
(for people), `details` (what the check saw) and `status` (the HTTP status; 0 for the
stream and for transport failures). The subclass says what to do about it, whatever
the HTTP status was:

- `RejectedError`: an order, quote or cancel was refused by a rule (a bad tick, an
  unknown instrument, a closed market, a limit, an order gone); nothing was placed.
  `RateLimitedError` (still 429 after the client's retries) and `OrderNotFoundError`
  (a cancel that came too late) are kinds of it.
- `InvalidRequestError`: the request itself is wrong (a malformed body, an unknown
  field, a taken name, a wrong path); `NotFoundError` is a kind of it.
- `AuthError`: a wrong key or token; `TeamDisabledError` when the organiser has
  disabled the team (HTTP 403 or the stream's close code 4003).
- `ServerError`: a 5xx; the request's fate is unknown.
- `ConnectionLostError`: the request or the stream could not reach the server (the
  transport's exception is its `__cause__`); the request's fate is unknown.
"""

from __future__ import annotations

from typing import Any

from websockets.exceptions import ConnectionClosed


class ExchangeError(Exception):
    """An error answer: `code` (stable, e.g. `INVALID_PRICE`), `message` (for people),
    `details` (what the check saw) and the HTTP `status` (0 for the stream and for
    transport failures)."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status


class RejectedError(ExchangeError):
    """A rule refused an order, a quote or a cancel; nothing was placed or changed."""


class RateLimitedError(RejectedError):
    """429 `RATE_LIMIT_EXCEEDED`, still refused after the client's bounded retries."""


class OrderNotFoundError(RejectedError):
    """`ORDER_NOT_FOUND`: the order is not open (often: it filled first)."""


class InvalidRequestError(ExchangeError):
    """The request itself is wrong: fix it, resending it unchanged cannot help."""


class NotFoundError(InvalidRequestError):
    """`NOT_FOUND`: the path or the id names nothing."""


class AuthError(ExchangeError):
    """A missing or wrong key or admin token, or another team's resource."""


class TeamDisabledError(AuthError):
    """The organiser has disabled the team: every request is refused and the stream
    closed (4003) until the team is enabled again."""


class ServerError(ExchangeError):
    """A 5xx answer (still 503 after the retries, or 500): the request's fate is unknown."""


class ConnectionLostError(ExchangeError):
    """The server could not be reached, or stopped answering; the request's fate is
    unknown (resend an order with the same `request_id`: it is placed at most once)."""


RateLimitError = RateLimitedError
"""The former name, kept as an alias."""

_REJECTED = (
    "INVALID_INSTRUMENT", "INVALID_SIDE", "INVALID_QUANTITY", "INVALID_PRICE", "INVALID_QUOTE",
    "MARKET_CLOSED", "GAME_NOT_STARTED", "GAME_PAUSED", "GAME_STOPPED", "INSTRUMENT_HALTED",
    "POSITION_LIMIT_EXCEEDED", "PORTFOLIO_LIMIT_EXCEEDED", "ORDER_TYPE_NOT_ALLOWED",
    "INSTRUMENT_NOT_ALLOWED", "PRICE_OUT_OF_RANGE", "TWO_SIDED_NOT_ALLOWED",
)  # fmt: skip
_INVALID = (
    "INVALID_JSON", "INVALID_FIELD", "TEAM_NAME_TAKEN", "GAME_STATE_CONFLICT",
    "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "TEAM_LIMIT_REACHED",
    "HEADERS_TOO_LARGE", "REQUEST_TIMEOUT",
)  # fmt: skip

BY_CODE: dict[str, type[ExchangeError]] = {
    **dict.fromkeys(_REJECTED, RejectedError),
    **dict.fromkeys(_INVALID, InvalidRequestError),
    "RATE_LIMIT_EXCEEDED": RateLimitedError,
    "ORDER_NOT_FOUND": OrderNotFoundError,
    "NOT_FOUND": NotFoundError,
    "UNAUTHORIZED": AuthError,
    "FORBIDDEN": AuthError,
    "ADMIN_DISABLED": AuthError,
    "REGISTRATION_CLOSED": AuthError,
    "TEAM_DISABLED": TeamDisabledError,
    "SERVICE_UNAVAILABLE": ServerError,
    "INTERNAL_ERROR": ServerError,
}
"""The class of every code in the API's table (`exchange.wire.errors.ERRORS`; a test
keeps the two in step)."""

_BY_STATUS: dict[int, type[ExchangeError]] = {
    400: InvalidRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    405: InvalidRequestError,
    409: InvalidRequestError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: RejectedError,  # a rule's own code, named in the game's config
    429: RateLimitedError,
}
"""For a code the table does not know (a configured rule's, or a newer server's)."""


def error_class(status: int, code: str) -> type[ExchangeError]:
    """The class for an error answer: by its code, else by its HTTP status."""
    kind = BY_CODE.get(code) or _BY_STATUS.get(status)
    if kind is not None:
        return kind
    return ServerError if status >= 500 else ExchangeError


def error_for(status: int, code: str, message: str, details: dict[str, Any]) -> ExchangeError:
    """The error that fits the answer's code (or, for an unknown code, its status)."""
    return error_class(status, code)(code, message, details, status)


def stream_error(code: str, message: str, details: dict[str, Any]) -> ExchangeError:
    """A refusal answered on the stream (`request_rejected`, status 0): by its code; a
    code the table does not know is a configured rule's, so a `RejectedError`."""
    return BY_CODE.get(code, RejectedError)(code, message, details, 0)


TEAM_DISABLED_CLOSE = 4003
POLICY_VIOLATION = 1008


def terminal_close(exc: ConnectionClosed) -> ExchangeError | None:
    """The error for a close that reconnecting cannot mend, None for one it can: 1008
    (a wrong key, a bad `since`) and 4003 (the team is disabled) are final."""
    frame = exc.rcvd
    if frame is None:
        return None
    details = {"close_code": frame.code}
    if frame.code == POLICY_VIOLATION and "key" in frame.reason.lower():
        return AuthError("UNAUTHORIZED", frame.reason, details)
    if frame.code == POLICY_VIOLATION and "unknown instrument" in frame.reason:
        return InvalidRequestError("INVALID_INSTRUMENT", frame.reason, details)
    if frame.code == POLICY_VIOLATION:
        return InvalidRequestError("INVALID_FIELD", frame.reason, details)
    if frame.code == TEAM_DISABLED_CLOSE:
        return TeamDisabledError("TEAM_DISABLED", frame.reason or "team disabled", details)
    return None


def closed_error(exc: ConnectionClosed) -> ExchangeError:
    """A WebSocket close as an error: the final ones as `terminal_close` says, any other
    as a `ConnectionLostError`."""
    final = terminal_close(exc)
    if final is not None:
        return final
    code = 0 if exc.rcvd is None else exc.rcvd.code
    return ConnectionLostError("CONNECTION_CLOSED", str(exc), {"close_code": code})
