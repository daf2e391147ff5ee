"""Input that looks right and is not: a team name drawn like another team's, a JSON body
that gives a field twice, and the dashboard page fetched by its file path."""

from __future__ import annotations

import json

import httpx
import pytest

from exchange.web.dashboard import PAGE_HEADERS
from tests.server.harness import Bot
from tests.support import assert_error

ORIGINAL = "Alpha Desk"
LOOKALIKES = {
    "cyrillic capital a": "\u0410lpha Desk",
    "greek capitals": "\u0391LPHA DESK",
    "full-width": "\uff21\uff4c\uff50\uff48\uff41 Desk",
    "mathematical bold": "\U0001d400\U0001d425\U0001d429\U0001d421\U0001d41a Desk",
    "cyrillic o and e in lower case": "Alpha D\u0435sk",
    "doubled space": "alpha  desk",
}


def register(server: str, name: str) -> httpx.Response:
    return httpx.post(f"{server}/auth/register", json={"team_name": name, "role": "retail"})


@pytest.fixture(scope="module")
def original(server: str) -> str:
    reply = register(server, ORIGINAL)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["team_id"])


@pytest.mark.parametrize("name", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_lookalike_of_a_registered_name_is_taken(server: str, original: str, name: str) -> None:
    assert_error(register(server, name), 409, "TEAM_NAME_TAKEN")


def test_a_different_name_with_foreign_letters_still_registers(server: str, original: str) -> None:
    reply = register(server, "\u0416\u0443\u043a Desk")  # Cyrillic ZHE: no Latin twin
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["team_name"] == "\u0416\u0443\u043a Desk"  # kept as written


REPEATS = {
    "plain": '{"instrument_id": "SPX", "side": "buy", "quantity": 1, "quantity": 1000}',
    "escaped": '{"instrument_id": "SPX", "side": "buy", "quantity": 1, "quantit\\u0079": 9}',
    "spaced": '{"side": "buy", "instrument_id": "SPX", "quantity": 1, "side" : "sell"}',
}


@pytest.mark.parametrize("body", REPEATS.values(), ids=REPEATS.keys())
def test_a_field_given_twice_is_refused(server: str, body: str) -> None:
    bot = Bot(server, "hedge_fund")
    reply = bot.http.post("/orders", content=body, headers={"Content-Type": "application/json"})
    error = assert_error(reply, 400, "INVALID_FIELD")
    assert error["details"]["field"] in {"quantity", "side"}
    assert bot.http.get("/orders").json()["data"] == []  # nothing was placed
    bot.close()


def test_a_field_name_as_a_value_is_no_repeat(server: str) -> None:
    bot = Bot(server, "hedge_fund")
    body = {"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 1.0,
            "client_order_id": "quantity"}  # fmt: skip
    reply = bot.http.post("/orders", content=json.dumps(body))
    assert reply.status_code != 400, reply.text
    bot.close()


def test_the_page_has_its_headers_at_every_path_it_is_served_from(server: str) -> None:
    for path in ("/", "/static/index.html", "/static/dashboard.js"):
        reply = httpx.get(server + path)
        assert reply.status_code == 200, path
        for name, value in PAGE_HEADERS.items():
            assert reply.headers.get(name) == value, (path, name)
