"""The client's errors: one family, picked by HTTP status, carrying the contract's code.

A refusal is an `ExchangeError` with `code` (stable, e.g. `INVALID_PRICE`), `message`
(for people), `details` (what the check saw) and `status` (the HTTP status; 0 for the
stream). Callers catch the subclass they can act on: `RejectedError` (a rule said no),
`RateLimitError` (still 429 after the retries), `NotFoundError`, `AuthError`.
"""

from __future__ import annotations

from typing import Any

from websockets.exceptions import ConnectionClosed


class ExchangeError(Exception):
    """An error answer: `code` (stable, e.g. `INVALID_PRICE`), `message` (for people),
    `details` (what the check saw) and the HTTP `status` (0 for stream errors)."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status


class AuthError(ExchangeError):
    """401 or 403, or a stream closed with 1008."""


class NotFoundError(ExchangeError):
    """404: `NOT_FOUND`, `ORDER_NOT_FOUND`."""


class RateLimitError(ExchangeError):
    """429 still refused after the client's bounded retries."""


class RejectedError(ExchangeError):
    """422: a rule refused the request."""


_FAMILIES: dict[int, type[ExchangeError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    422: RejectedError,
    429: RateLimitError,
}


def error_for(status: int, code: str, message: str, details: dict[str, Any]) -> ExchangeError:
    """The error of the family that fits the HTTP status."""
    return _FAMILIES.get(status, ExchangeError)(code, message, details, status)


def closed_error(exc: ConnectionClosed) -> ExchangeError:
    """A WebSocket close as an error: 1008 is a wrong key or a bad `since` (do not retry)."""
    frame = exc.rcvd
    code = 0 if frame is None else frame.code
    reason = "" if frame is None else frame.reason
    if code == 1008 and "key" in reason.lower():
        return AuthError("UNAUTHORIZED", reason, {"close_code": code})
    if code == 1008:
        return ExchangeError("INVALID_FIELD", reason, {"close_code": code})
    return ExchangeError("CONNECTION_CLOSED", reason or str(exc), {"close_code": code})
