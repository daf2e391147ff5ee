"""`GET /openapi.json`, generated from the same msgspec Structs that decode and encode.

The route table below is data: method, path, what it takes and what it answers. msgspec
writes the JSON schemas, so the document cannot drift from the code that enforces it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from exchange import __version__
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
    InstrumentView,
    OrderAck,
    OrderRequest,
    OrderView,
    PositionsView,
    PricesView,
    QuoteAck,
    QuoteRequest,
    Registered,
    RegisterRequest,
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
    Endpoint("get", "/instruments", "The listed instruments", None, list[InstrumentView],
             auth=False),
    Endpoint("post", "/dead-mans-switch", "Cancel all orders if the team goes quiet",
             DeadMansSwitchRequest, DeadMansSwitchView),
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
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
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
    if e.auth:
        op["security"] = [{"ApiKey": []}]
    return op


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def encoded() -> bytes:
    return msgspec.json.encode(document())
