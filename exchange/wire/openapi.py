"""`GET /openapi.json`, generated from the same msgspec Structs that decode and encode.

The route table below is data: method, path, what it takes and what it answers. msgspec
writes the JSON schemas, so the document cannot drift from the code that enforces it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, NamedTuple, get_args, get_origin

import msgspec

from exchange import __version__
from exchange.wire.admin import (
    ActionView,
    AssignRolesRequest,
    ClockRequest,
    GameStatus,
    ImportRequest,
    InstrumentStatus,
    IssuedKey,
    NewsPublished,
    NewsRequest,
    TeamChange,
    TeamStatus,
)
from exchange.wire.errors import ERRORS
from exchange.wire.models import (
    AccountView,
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
    errors: tuple[int, ...] = ()
    """Error statuses beyond those the rule in `error_statuses` gives every such route."""


def _admin(method: str, path: str, summary: str, body: type | None, answer: Any,
           query: tuple[tuple[str, str, dict[str, Any]], ...] = ()) -> Endpoint:  # fmt: skip
    errors = (409,) if method == "post" else ()  # GAME_STATE_CONFLICT
    return Endpoint(method, path, summary, body, answer, query=query, admin=True, errors=errors)


ENDPOINTS = (
    Endpoint("get", "/health", "Liveness, phase and game clock", None, HealthView, auth=False),
    Endpoint("post", "/auth/register", "Register a team; the API key is shown once",
             RegisterRequest, Registered, 201, auth=False, errors=(403, 409)),
    Endpoint("post", "/orders", "Submit an order; answered after validation", OrderRequest,
             OrderAck, 201, errors=(422, 429)),
    Endpoint("delete", "/orders", "Cancel all the team's orders (or one instrument's)", None,
             CancelAllAck, query=(("instrument_id", "Only this instrument", {"type": "string"}),),
             errors=(422,)),
    Endpoint("get", "/orders", "The team's open orders, oldest first", None, list[OrderView]),
    Endpoint("delete", "/orders/{order_id}", "Cancel one of the team's orders", None, CancelAck,
             errors=(422,)),
    Endpoint("post", "/quotes", "Market makers: replace the quote in an instrument",
             QuoteRequest, QuoteAck, 201, errors=(422, 429)),
    Endpoint("get", "/fills", "The team's executions, oldest first", None, list[FillView],
             query=(("since_trade_id", "Only fills after this trade id",
                     {"type": "integer", "minimum": 0}),
                    ("limit", "At most this many fills (default 1000)",
                     {"type": "integer", "minimum": 1, "maximum": 10000}))),
    Endpoint("get", "/account", "The calling team: id, name, role, its limits and fees", None,
             AccountView),
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
             "(own team only, any with the admin token)", None, dict[str, Any]),
    _admin("get", "/admin/status", "The game's state", None, GameStatus),
    _admin("post", "/admin/start", "Start a game configured to start paused", None, GameStatus),
    _admin("post", "/admin/pause", "Freeze the game clock; orders are refused, cancels work",
           None, GameStatus),
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
    _admin("post", "/admin/teams/{team_id}/reissue-key",
           "A new key for a team; the old one stops working, its streams close", None,
           IssuedKey),
    _admin("post", "/admin/teams/import", "Register the organiser's teams, all or none",
           ImportRequest, list[IssuedKey]),
    _admin("post", "/admin/registration/open", "Let new teams register", None, GameStatus),
    _admin("post", "/admin/registration/assign",
           "Fix the roles self-registered teams get (empty: teams choose)", AssignRolesRequest,
           GameStatus),
    _admin("post", "/admin/registration/close", "Refuse new teams; registered ones play on",
           None, GameStatus),
    _admin("post", "/admin/new-round", "Archive this round; the next starts from zero with "
           "the same teams", None, GameStatus),
    _admin("post", "/admin/reset", "Start over: no teams, rounds or record", None, GameStatus),
    _admin("get", "/admin/actions", "The organiser's recorded actions, oldest first", None,
           list[ActionView], query=(("limit", "The latest this many (default 100)",
                                     {"type": "integer", "minimum": 1, "maximum": 1000}),)),
)  # fmt: skip

REF = "#/components/schemas/{name}"

OPERATION_IDS = {
    ("get", "/health"): "getHealth",
    ("post", "/auth/register"): "registerTeam",
    ("post", "/orders"): "placeOrder",
    ("delete", "/orders"): "cancelAllOrders",
    ("get", "/orders"): "listOrders",
    ("delete", "/orders/{order_id}"): "cancelOrder",
    ("post", "/quotes"): "replaceQuote",
    ("get", "/fills"): "listFills",
    ("get", "/market/prices"): "getPrices",
    ("get", "/market/book/{instrument_id}"): "getBook",
    ("get", "/instruments"): "listInstruments",
    ("post", "/dead-mans-switch"): "setDeadMansSwitch",
    ("post", "/ws/ticket"): "createStreamTicket",
}
"""Names a client generator turns into method names; a route not listed gets one by the
rule in `operation_id` (method, then the path's words: `GET /positions/{team_id}` is
`getPositions`)."""

TAGS = {
    "health": "system", "auth": "teams", "orders": "orders", "quotes": "orders",
    "dead-mans-switch": "orders", "ws": "stream", "fills": "account",
    "positions": "account", "market": "market", "instruments": "market",
    "leaderboard": "scores", "analytics": "scores", "admin": "admin",
}  # fmt: skip
"""A route's tag by its first path segment; an unlisted segment is its own tag."""

EXTRA_CODES = {404: ("INVALID_INSTRUMENT",), 422: ("INVALID_QUANTITY", "INVALID_INSTRUMENT")}
"""Codes answered with another status than their own in the table: an admin action on an
unknown instrument is a 404, and a game rule's refusal is a 422 whatever its code."""

RATE_HEADERS = {
    "X-RateLimit-Limit": "Orders the team may send per second (its role's limit)",
    "X-RateLimit-Remaining": "Orders left in the current one-second window",
}
RETRY_AFTER = "Seconds to wait before retrying"


def operation_id(method: str, path: str) -> str:
    known = OPERATION_IDS.get((method, path))
    if known is not None:
        return known
    words = [w for part in path.split("/") if part and not part.startswith("{")
             for w in part.replace("-", "_").split("_")]  # fmt: skip
    return method + "".join(w.capitalize() for w in words)


def tag(path: str) -> str:
    first = path.strip("/").split("/")[0]
    return TAGS.get(first, first)


def error_statuses(e: Endpoint) -> list[int]:
    """The error statuses the route can answer, each with its enum of codes."""
    statuses = {431, 503} | set(e.errors)  # the HTTP edge's, on every route
    if e.body is not None or (e.admin and e.method == "post"):
        statuses |= {400, 413, 415}  # admin actions take `{}` or an empty body
    if e.query:
        statuses.add(400)
    if _path_params(e.path):
        statuses.add(404)
    if e.auth or e.admin:
        statuses |= {401, 403}
    return sorted(statuses)


def codes_of(status: int) -> list[str]:
    codes = [code for code, kind in ERRORS.items() if kind.status == status]
    return codes + [c for c in EXTRA_CODES.get(status, ()) if c not in codes]


def error_name(status: int) -> str:
    """`NotFoundError` for 404: the status's name, as a schema name."""
    return "".join(w.capitalize() for w in HTTPStatus(status).name.split("_")) + "Error"


def envelope_name(answer: Any) -> str:
    """An explicit name for `Envelope[answer]`: `FillListEnvelope` for `list[FillView]`,
    `OrderAckEnvelope` for `OrderAck` (msgspec's would hold module paths)."""
    if answer is None:
        return "ErrorEnvelope"
    if get_origin(answer) is list:
        return _stem(get_args(answer)[0]) + "ListEnvelope"
    if get_origin(answer) is dict:
        return "ObjectEnvelope"
    return _stem(answer) + "Envelope"


def _stem(kind: Any) -> str:
    return str(kind.__name__).removesuffix("View")


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the REST API."""
    answers = [Envelope[e.answer] for e in ENDPOINTS]  # type: ignore[name-defined]
    bodies = [e.body for e in ENDPOINTS if e.body is not None]
    (answer_refs, body_refs, error_ref), components = _schemas(answers, bodies)
    components.update(_error_schemas(components))
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
            "description": "Every answer is an envelope; error codes: "
            + ", ".join(ERRORS)
            + ". The WebSocket stream `/ws` is described by `GET /asyncapi.json`.",
        },
        "tags": [{"name": name} for name in dict.fromkeys(tag(e.path) for e in ENDPOINTS)],
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
    answered = [*(e.answer for e in ENDPOINTS), *(None for _ in bodies), None]
    names = {_ref_name(ref): envelope_name(a) for ref, a in zip(refs, answered, strict=True)}
    names = {old: new for old, new in names.items() if old.startswith("Envelope")}
    components = {names.get(k, k): _renamed(v, names) for k, v in components.items()}
    for name in names.values():  # generators name their classes by the title
        components[name]["title"] = name
    listed = [_renamed(ref, names) for ref in refs]
    return (listed[: len(answers)], listed[len(answers) : -1], listed[-1]), components


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _renamed(node: Any, names: dict[str, str]) -> Any:
    """`node` with every `$ref` to a renamed schema pointing at its new name."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return {**node, "$ref": REF.format(name=names.get(_ref_name(node), _ref_name(node)))}
        return {k: _renamed(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, names) for v in node]
    return node


def _error_schemas(components: dict[str, Any]) -> dict[str, Any]:
    """For each error status, the envelope whose `error.code` is that status's enum."""
    statuses = sorted({s for e in ENDPOINTS for s in error_statuses(e)})
    envelope, body = components["ErrorEnvelope"], components["ErrorBody"]
    schemas: dict[str, Any] = {}
    for status in statuses:
        name = error_name(status)
        code = {"type": "string", "enum": codes_of(status)}
        properties = {**body["properties"], "code": code}
        schemas[name + "Body"] = {**body, "title": name + "Body", "properties": properties}
        error = {"anyOf": [{"$ref": REF.format(name=name + "Body")}, {"type": "null"}]}
        properties = {**envelope["properties"], "error": {**error, "default": None}}
        schemas[name] = {**envelope, "title": name, "properties": properties}
    return schemas


def _headers(names: list[str], required: bool) -> dict[str, Any]:
    """Response headers: the order budget (`X-RateLimit-*`) and `Retry-After`."""
    texts = {**RATE_HEADERS, "Retry-After": RETRY_AFTER}
    return {
        name: {"description": texts[name], "required": required,
               "schema": {"type": "integer", "minimum": 0}}
        for name in names
    }  # fmt: skip


def _operation(
    e: Endpoint, answer: dict[str, Any], body: dict[str, Any] | None, error: dict[str, Any]
) -> dict[str, Any]:
    team = e.auth and not e.admin  # a team's key: its order budget comes with the answer
    success = _json("Success", answer)
    if team:
        success["headers"] = _headers(list(RATE_HEADERS), required=True)
    responses: dict[str, Any] = {str(e.status): success}
    for status in error_statuses(e):
        reply = _json(HTTPStatus(status).phrase, {"$ref": REF.format(name=error_name(status))})
        names = ["Retry-After"] if status in (429, 503) else []
        names += list(RATE_HEADERS) if team and status not in (401, 431) else []
        if names:
            reply["headers"] = _headers(names, required=False)
        responses[str(status)] = reply
    responses["default"] = _json("An error, in the envelope", error)
    op: dict[str, Any] = {
        "operationId": operation_id(e.method, e.path),
        "tags": [tag(e.path)],
        "summary": e.summary,
        "responses": responses,
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
