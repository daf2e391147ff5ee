"""`GET /openapi.json` is a valid OpenAPI 3.1 document that lists every route, and the
server keeps to it: Schemathesis sends generated requests to every operation (valid ones,
then invalid ones) and checks no answer is a 5xx and every answer fits its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route

from exchange.app import Exchange
from exchange.web import dashboard
from exchange.web.server import create_app
from exchange.wire.errors import ERRORS
from exchange.wire.openapi import ENDPOINTS
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox
from tests.support import assert_error, assert_ok

# The documents themselves (/asyncapi.json describes /ws, a WebSocket, not REST), the
# Prometheus text at /metrics, and the dashboard's page and files.
UNDOCUMENTED = {"/openapi.json", "/asyncapi.json", "/metrics", *dashboard.PAGES}
OPERATIONS = [f"{e.method.upper()} {e.path}" for e in ENDPOINTS]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # Generated orders come back to back; the rate limit would answer most with a 429.
    with run_server(sandbox(**UNTHROTTLED)) as base:
        yield base


@pytest.fixture(scope="module")
def document(server: str) -> dict[str, Any]:
    reply = httpx.get(f"{server}/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    return reply.json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = [e.message for e in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(document)]
    assert errors == []
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    assert all(r.startswith(prefix) and r[len(prefix) :] in schemas for r in refs)


def test_every_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    app = create_app(Exchange(sandbox()))
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path not in UNDOCUMENTED
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served == set(operations(document))


def test_each_operation_has_one_success_and_an_error_envelope(document: dict[str, Any]) -> None:
    error_ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for (method, path), op in operations(document).items():
        statuses = {s for s in op["responses"] if s.startswith("2")}
        expected = "201" if (method, path) in {
            ("POST", "/auth/register"), ("POST", "/orders"), ("POST", "/quotes"),
        } else "200"  # fmt: skip
        assert statuses == {expected}, (method, path)
        error = op["responses"]["default"]["content"]["application/json"]["schema"]
        assert error == error_ref, (method, path)


def test_every_error_code_is_documented(document: dict[str, Any]) -> None:
    described = document["info"]["description"]
    assert all(code in described for code in ERRORS)


def test_security_matches_what_the_server_demands(server: str, document: dict[str, Any]) -> None:
    """Documented as needing the key exactly when the server answers 401 without it."""
    sample = {"order_id": "1", "team_id": "T0001", "instrument_id": "SPX"}
    with httpx.Client(base_url=server) as client:
        for (method, path), op in operations(document).items():
            reply = client.request(
                method, path.format(**sample), json={} if "requestBody" in op else None
            )
            if op.get("security") == [{"AdminToken": []}]:
                assert path.startswith("/admin/")  # this server has no admin token
                assert_error(reply, 403, "ADMIN_DISABLED")
            elif op.get("security"):
                assert op["security"] == [{"ApiKey": []}]
                assert_error(reply, 401, "UNAUTHORIZED")
            else:
                assert reply.status_code != 401, (method, path)
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    admin = document["components"]["securitySchemes"]["AdminToken"]
    assert (admin["type"], admin["scheme"]) == ("http", "bearer")


# -- Schemathesis ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


@pytest.fixture(scope="module")
def key(server: str) -> Iterator[str]:
    bot = Bot(server, "market_maker")
    yield bot.key
    bot.close()


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
GENERATED = [
    *(pytest.param(label, POSITIVE, id=f"{label}-valid") for label in OPERATIONS),
    *(
        pytest.param(
            f"{e.method.upper()} {e.path}", NEGATIVE, id=f"{e.method.upper()} {e.path}-invalid"
        )
        for e in ENDPOINTS
        if e.body is not None or e.query or "{" in e.path  # only what takes input can be wrong
    ),
]


@pytest.mark.parametrize(("label", "mode"), GENERATED)
def test_schemathesis(
    api: schemathesis.BaseSchema, server: str, key: str, label: str, mode: Any
) -> None:
    operation = api.find_operation_by_label(label)
    assert operation is not None, label

    @settings(
        max_examples=20, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )  # fmt: skip
    @given(case=operation.as_strategy(mode))
    def call(case: Any) -> None:
        case.call_and_validate(base_url=server, headers={"X-API-Key": key}, checks=CHECKS)

    call()
    assert assert_ok(httpx.get(f"{server}/health"))["status"] == "ok"
