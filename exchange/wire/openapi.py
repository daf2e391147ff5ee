"""`GET /openapi.json`, generated from the same msgspec Structs that decode and encode.

The route table below is data: method, path, what it takes and what it answers. msgspec
writes the JSON schemas, so the document cannot drift from the code that enforces it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from exchange import __version__
from exchange.wire.admin import (
    ActionView,
    ClockRequest,
    GameStatus,
    InstrumentStatus,
    NewsPublished,
    NewsRequest,
    TeamChange,
    TeamStatus,
)
from exchange.wire.errors import ERRORS
from exchange.wire.models import (
    BookView,
    CancelAck,
    CancelAllAck,
    DeadMansSwitchRequest,
    DeadMansSwitchView,
    Envelope,
    FillView,
    HealthView,
    HistoryView,
    InstrumentView,
    LeaderboardView,
    OrderAck,
    OrderRequest,
    OrderView,
    PositionsView,
    PricesView,
    QuoteAck,
    QuoteRequest,
    Registered,
    RegisterRequest,
    StreamTicket,
)


class Endpoint(NamedTuple):
    method: str
    path: str
    summary: str
    body: type | None
    answer: Any
    status: int = 200
    auth: bool = True
    query: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    admin: bool = False
    """The organiser's (`/admin`): the admin token, not a team's key."""


def _admin(method: str, path: str, summary: str, body: type | None, answer: Any,
           query: tuple[tuple[str, str, dict[str, Any]], ...] = ()) -> Endpoint:  # fmt: skip
    return Endpoint(method, path, summary, body, answer, query=query, admin=True)


ENDPOINTS = (
    Endpoint("get", "/health", "Liveness, phase and game clock", None, HealthView, auth=False),
    Endpoint("post", "/auth/register", "Register a team; the API key is shown once",
             RegisterRequest, Registered, 201, auth=False),
    Endpoint("post", "/orders", "Submit an order; answered after validation", OrderRequest,
             OrderAck, 201),
    Endpoint("delete", "/orders", "Cancel all the team's orders (or one instrument's)", None,
             CancelAllAck, query=(("instrument_id", "Only this instrument", {"type": "string"}),)),
    Endpoint("get", "/orders", "The team's open orders, oldest first", None, list[OrderView]),
    Endpoint("delete", "/orders/{order_id}", "Cancel one of the team's orders", None, CancelAck),
    Endpoint("post", "/quotes", "Market makers: replace the quote in an instrument",
             QuoteRequest, QuoteAck, 201),
    Endpoint("get", "/fills", "The team's executions, oldest first", None, list[FillView],
             query=(("since_trade_id", "Only fills after this trade id",
                     {"type": "integer", "minimum": 0}),
                    ("limit", "At most this many fills (default 1000)",
                     {"type": "integer", "minimum": 1, "maximum": 10000}))),
    Endpoint("get", "/positions/{team_id}", "Positions, cash and P&L (own team only)", None,
             PositionsView),
    Endpoint("get", "/market/prices", "Underlyings and the top of every book", None, PricesView,
             auth=False),
    Endpoint("get", "/market/book/{instrument_id}", "Depth of one book", None, BookView,
             auth=False, query=(("depth", "Levels a side (1-50)",
                                 {"type": "integer", "minimum": 1, "maximum": 50}),)),
    Endpoint("get", "/market/history", "The day's public market so far: prices, prints, "
             "news, leaderboard", None, HistoryView, auth=False,
             query=(("since", "Only what came after this game time (ISO 8601, with its zone)",
                     {"type": "string", "format": "date-time"}),)),
    Endpoint("get", "/instruments", "The listed instruments", None, list[InstrumentView],
             auth=False),
    Endpoint("post", "/dead-mans-switch", "Cancel all orders if the team goes quiet",
             DeadMansSwitchRequest, DeadMansSwitchView),
    Endpoint("post", "/ws/ticket", "A single-use ticket for `/ws?ticket=` (browsers)", None,
             StreamTicket),
    Endpoint("get", "/leaderboard", "Scores: overall, by role, and the house's", None,
             LeaderboardView, auth=False),
    Endpoint("get", "/analytics/{team_id}", "A team's analytics: markouts, fees, timeline "
             "(own team only)", None, dict[str, Any]),
    _admin("get", "/admin/status", "The game's state", None, GameStatus),
    _admin("post", "/admin/start", "Start a game configured to start paused", None, GameStatus),
    _admin("post", "/admin/pause", "Freeze the game clock; orders wait, cancels work", None,
           GameStatus),
    _admin("post", "/admin/resume", "Let the game clock run again", None, GameStatus),
    _admin("post", "/admin/stop", "End the game: cancel every order, close the books", None,
           GameStatus),
    _admin("post", "/admin/clock", "Set the clock speed", ClockRequest, GameStatus),
    _admin("post", "/admin/news", "Publish a headline to every team", NewsRequest,
           NewsPublished),
    _admin("post", "/admin/instruments/{instrument_id}/halt", "Halt one instrument", None,
           InstrumentStatus),
    _admin("post", "/admin/instruments/{instrument_id}/resume", "Resume a halted instrument",
           None, InstrumentStatus),
    _admin("get", "/admin/teams", "Every team and how it stands", None, list[TeamStatus]),
    _admin("post", "/admin/teams/{team_id}/disable", "Disable a team", None, TeamChange),
    _admin("post", "/admin/teams/{team_id}/enable", "Enable a disabled team", None, TeamChange),
    _admin("post", "/admin/registration/open", "Let new teams register", None, GameStatus),
    _admin("post", "/admin/registration/close", "Refuse new teams; registered ones play on",
           None, GameStatus),
    _admin("get", "/admin/actions", "The organiser's recorded actions, oldest first", None,
           list[ActionView], query=(("limit", "The latest this many (default 100)",
                                     {"type": "integer", "minimum": 1, "maximum": 1000}),)),
)  # fmt: skip

REF = "#/components/schemas/{name}"


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the REST API."""
    answers = [Envelope[e.answer] for e in ENDPOINTS]  # type: ignore[name-defined]
    bodies = [e.body for e in ENDPOINTS if e.body is not None]
    (answer_refs, body_refs, error_ref), components = _schemas(answers, bodies)
    paths: dict[str, dict[str, Any]] = {}
    body_iter = iter(body_refs)
    for endpoint, answer_ref in zip(ENDPOINTS, answer_refs, strict=True):
        body_ref = next(body_iter) if endpoint.body is not None else None
        paths.setdefault(endpoint.path, {})[endpoint.method] = _operation(
            endpoint, answer_ref, body_ref, error_ref
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Trading game exchange",
            "version": __version__,
            "description": "Every answer is an envelope; error codes: " + ", ".join(ERRORS),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "AdminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The organiser's token (EXCHANGE_ADMIN_TOKEN); "
                    "X-Admin-Token is accepted too",
                },
            },
        },
    }


def _schemas(
    answers: list[Any], bodies: list[Any]
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], dict[str, Any]]:
    kinds = [*answers, *bodies, Envelope[None]]
    refs, components = msgspec.json.schema_components(kinds, ref_template=REF)
    listed = list(refs)
    return (listed[: len(answers)], listed[len(answers) : -1], listed[-1]), components


def _operation(
    e: Endpoint, answer: dict[str, Any], body: dict[str, Any] | None, error: dict[str, Any]
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": e.summary,
        "responses": {
            str(e.status): _json("Success", answer),
            "default": _json("An error, in the envelope", error),
        },
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(e.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": schema}
        for name, text, schema in e.query
    ]
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if e.admin:
        op["security"] = [{"AdminToken": []}]
    elif e.auth:
        op["security"] = [{"ApiKey": []}]
    return op


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def encoded() -> bytes:
    return msgspec.json.encode(document())
