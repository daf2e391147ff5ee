"""Every error code the API answers with, its HTTP status and its meaning (one table)."""

from __future__ import annotations

from typing import Any, NamedTuple


class ErrorKind(NamedTuple):
    status: int
    meaning: str


ERRORS: dict[str, ErrorKind] = {
    "INVALID_JSON": ErrorKind(400, "The body is not a JSON object (or not valid JSON)."),
    "INVALID_FIELD": ErrorKind(400, "A field is missing, unknown, or of the wrong type."),
    "INVALID_INSTRUMENT": ErrorKind(400, "The instrument id is malformed or not listed."),
    "INVALID_SIDE": ErrorKind(400, "`side` is neither `buy` nor `sell`."),
    "INVALID_QUANTITY": ErrorKind(400, "The quantity is not a whole number in range."),
    "INVALID_PRICE": ErrorKind(400, "The price is not positive, too large, or off the 0.01 grid."),
    "INVALID_QUOTE": ErrorKind(422, "The quote breaks a quoting rule (bid below ask, spread, size)."),
    "UNAUTHORIZED": ErrorKind(401, "The API key is missing or wrong (on /admin: the admin token is missing)."),
    "FORBIDDEN": ErrorKind(403, "The resource belongs to another team (on /admin: the admin token is wrong)."),
    "TEAM_DISABLED": ErrorKind(403, "The organiser has disabled the team."),
    "ADMIN_DISABLED": ErrorKind(403, "No admin token is configured: set EXCHANGE_ADMIN_TOKEN."),
    "NOT_FOUND": ErrorKind(404, "No such resource."),
    "TEAM_NAME_TAKEN": ErrorKind(409, "Another team has registered that name."),
    "TEAM_LIMIT_REACHED": ErrorKind(409, "The game has as many teams as it takes (`server.max_teams`)."),
    "REGISTRATION_CLOSED": ErrorKind(403, "The organiser has closed registration; registered teams play on."),
    "ORDER_NOT_FOUND": ErrorKind(404, "No open order with that id belongs to the team."),
    "MARKET_CLOSED": ErrorKind(422, "The current phase does not accept the request."),
    "GAME_NOT_STARTED": ErrorKind(422, "The organiser has not started the game yet; cancels work."),
    "GAME_PAUSED": ErrorKind(422, "The organiser has paused the game; cancels work."),
    "GAME_STOPPED": ErrorKind(422, "The organiser has ended the game; reads still work."),
    "INSTRUMENT_HALTED": ErrorKind(422, "The organiser has halted the instrument; cancels work."),
    "GAME_STATE_CONFLICT": ErrorKind(409, "The organiser's action does not fit the game's state."),
    "RATE_LIMIT_EXCEEDED": ErrorKind(429, "The team sent more orders than its role allows per second."),
    "POSITION_LIMIT_EXCEEDED": ErrorKind(422, "Filled in the worst case, the order would pass the position limit."),
    "PORTFOLIO_LIMIT_EXCEEDED": ErrorKind(422, "Filled in the worst case, the order would pass the total option limit."),
    "ORDER_TYPE_NOT_ALLOWED": ErrorKind(422, "The role may not send this order type now."),
    "INSTRUMENT_NOT_ALLOWED": ErrorKind(422, "The role may not trade this instrument."),
    "PRICE_OUT_OF_RANGE": ErrorKind(422, "The limit price is outside the band around the reference price."),
    "TWO_SIDED_NOT_ALLOWED": ErrorKind(422, "A hedge fund may not rest a bid and an ask in one instrument."),
    "METHOD_NOT_ALLOWED": ErrorKind(405, "The path does not take this HTTP method."),
    "REQUEST_TIMEOUT": ErrorKind(408, "The request's headers did not arrive in time; the connection is closed."),
    "PAYLOAD_TOO_LARGE": ErrorKind(413, "The body is larger than the server accepts."),
    "HEADERS_TOO_LARGE": ErrorKind(431, "The request line and headers are longer than the server accepts."),
    "UNSUPPORTED_MEDIA_TYPE": ErrorKind(415, "The body is declared as something other than application/json."),
    "SERVICE_UNAVAILABLE": ErrorKind(503, "The exchange is overloaded, stopping, or cannot write to its database; retry later."),
    "INTERNAL_ERROR": ErrorKind(500, "A bug on the server; it was logged with the request id."),
}  # fmt: skip


class ApiError(Exception):
    """An answer in the error envelope; raised at the edge, turned into a response."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        self.status = status_of(code) if status is None else status


def status_of(code: str) -> int:
    """HTTP status for an error code; a rule's own code (from config) is a 422."""
    kind = ERRORS.get(code)
    return 422 if kind is None else kind.status
