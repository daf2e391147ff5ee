"""Bad input of every kind gets an error envelope with the right status, and changes
nothing (SPEC section 8: malformed input never reaches the validator).

Each case snapshots what a bad request could have touched (the team's open orders, the
book it trades in, the number of teams) and compares after the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.wire.errors import ERRORS
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox
from tests.support import assert_error, assert_ok

Fresh = Callable[[], str]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_server(sandbox(**UNTHROTTLED)) as base:
        yield base


class Victim:
    """A team with one resting order: what a bad request must leave as it was."""

    def __init__(self, bot: Bot, option: str) -> None:
        self.bot, self.option = bot, option
        assert_ok(bot.order(option, "buy", 3, 2.5), 201)

    def snapshot(self) -> tuple[Any, ...]:
        http = self.bot.http
        return (
            assert_ok(http.get("/orders")),
            assert_ok(http.get(f"/market/book/{self.option}")),
            assert_ok(http.get("/market/book/SPX")),
            assert_ok(http.get("/fills")),
            assert_ok(http.get("/health"))["teams"],
        )

    def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return self.bot.http.post(
            path, content=body, headers={"content-type": "application/json", **headers}
        )


@pytest.fixture
def victim(server: str, fresh_option: Fresh) -> Iterator[Victim]:
    bot = Bot(server, "market_maker")
    yield Victim(bot, fresh_option())
    bot.http.delete("/orders")
    bot.close()


def order(**fields: Any) -> bytes:
    base = {"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 1.5}
    return json.dumps({**base, **fields}, ensure_ascii=False).encode()


def raw_order(field: str, literal: str) -> bytes:
    """An order whose `field` holds `literal` as written (NaN, 1e400, ...), not as Python
    would encode it."""
    text = order(**{field: "@@"}).decode()
    return text.replace('"@@"', literal).encode()


def without(field: str) -> bytes:
    body = json.loads(order())
    del body[field]
    return json.dumps(body).encode()


FULLWIDTH_SPX = "\uff33\uff30\uff38"  # looks like SPX, is not

ORDER_CASES = [
    # not JSON, or not an object
    pytest.param(b'{"instrument_id": "SPX", "side": ', "INVALID_JSON", id="truncated"),
    pytest.param(b"", "INVALID_JSON", id="empty-body"),
    pytest.param(b"   ", "INVALID_JSON", id="whitespace"),
    pytest.param(b"{'instrument_id': 'SPX'}", "INVALID_JSON", id="single-quotes"),
    pytest.param(order() + b"garbage", "INVALID_JSON", id="trailing-garbage"),
    pytest.param(b"\xef\xbb\xbf" + order(), "INVALID_JSON", id="byte-order-mark"),
    pytest.param(b"\xff\xfe\x00{", "INVALID_JSON", id="not-utf8"),
    pytest.param(b"[" + order() + b"]", "INVALID_JSON", id="json-array"),
    pytest.param(b"[]", "INVALID_JSON", id="empty-array"),
    pytest.param(b'"order"', "INVALID_JSON", id="json-string"),
    pytest.param(b"42", "INVALID_JSON", id="json-number"),
    pytest.param(b"null", "INVALID_JSON", id="json-null"),
    pytest.param(b"true", "INVALID_JSON", id="json-bool"),
    pytest.param(b"[" * 2000 + b"]" * 2000, "INVALID_JSON", id="deeply-nested"),
    # NaN and the infinities are not JSON
    pytest.param(raw_order("price", "NaN"), "INVALID_JSON", id="price-nan"),
    pytest.param(raw_order("price", "Infinity"), "INVALID_JSON", id="price-infinity"),
    pytest.param(raw_order("price", "-Infinity"), "INVALID_JSON", id="price-minus-infinity"),
    pytest.param(raw_order("quantity", "NaN"), "INVALID_JSON", id="quantity-nan"),
    pytest.param(raw_order("quantity", "Infinity"), "INVALID_JSON", id="quantity-infinity"),
    # missing and unknown fields
    pytest.param(b"{}", "INVALID_FIELD", id="empty-object"),
    pytest.param(without("quantity"), "INVALID_FIELD", id="missing-quantity"),
    pytest.param(without("side"), "INVALID_FIELD", id="missing-side"),
    pytest.param(without("instrument_id"), "INVALID_FIELD", id="missing-instrument"),
    pytest.param(order(stop_price=1.0), "INVALID_FIELD", id="unknown-field"),
    pytest.param(order(Quantity=1), "INVALID_FIELD", id="field-case"),
    # wrong types
    pytest.param(order(quantity="1"), "INVALID_QUANTITY", id="quantity-string"),
    pytest.param(order(quantity=1.5), "INVALID_QUANTITY", id="quantity-fraction"),
    pytest.param(order(quantity=1.0), "INVALID_QUANTITY", id="quantity-float"),
    pytest.param(order(quantity=True), "INVALID_QUANTITY", id="quantity-bool"),
    pytest.param(order(quantity=None), "INVALID_QUANTITY", id="quantity-null"),
    pytest.param(order(quantity=[1]), "INVALID_QUANTITY", id="quantity-list"),
    pytest.param(order(price="1.50"), "INVALID_PRICE", id="price-string"),
    pytest.param(order(price={"value": 1}), "INVALID_PRICE", id="price-object"),
    pytest.param(order(side=1), "INVALID_SIDE", id="side-number"),
    pytest.param(order(side="BUY"), "INVALID_SIDE", id="side-upper-case"),
    pytest.param(order(side="hold"), "INVALID_SIDE", id="side-unknown"),
    pytest.param(order(side=None), "INVALID_SIDE", id="side-null"),
    pytest.param(order(instrument_id=4400), "INVALID_INSTRUMENT", id="instrument-number"),
    pytest.param(order(order_type="stop"), "INVALID_FIELD", id="order-type-unknown"),
    pytest.param(order(order_type="quote"), "INVALID_FIELD", id="order-type-quote"),
    pytest.param(order(client_order_id=7), "INVALID_FIELD", id="client-id-number"),
    pytest.param(order(client_order_id=""), "INVALID_FIELD", id="client-id-empty"),
    pytest.param(order(client_order_id="x" * 65), "INVALID_FIELD", id="client-id-long"),
    pytest.param(order(request_id=["a"]), "INVALID_FIELD", id="request-id-list"),
    # quantities out of range
    pytest.param(order(quantity=0), "INVALID_QUANTITY", id="quantity-zero"),
    pytest.param(order(quantity=-1), "INVALID_QUANTITY", id="quantity-negative"),
    pytest.param(order(quantity=10**30), "INVALID_QUANTITY", id="quantity-10e30"),
    pytest.param(order(quantity=-(10**30)), "INVALID_QUANTITY", id="quantity-minus-10e30"),
    pytest.param(raw_order("quantity", "9" * 400), "INVALID_QUANTITY", id="quantity-400-digits"),
    pytest.param(raw_order("quantity", "1e30"), "INVALID_QUANTITY", id="quantity-exponent"),
    # prices off the grid or out of range
    pytest.param(order(price=100.001), "INVALID_PRICE", id="price-off-grid"),
    pytest.param(order(price=0.001), "INVALID_PRICE", id="price-below-tick"),
    pytest.param(order(price=0), "INVALID_PRICE", id="price-zero"),
    pytest.param(order(price=-1.5), "INVALID_PRICE", id="price-negative"),
    pytest.param(order(price=10**30), "INVALID_PRICE", id="price-huge"),
    pytest.param(raw_order("price", "1e400"), "INVALID_PRICE", id="price-overflow"),
    pytest.param(raw_order("price", "1e-400"), "INVALID_PRICE", id="price-underflow"),
    pytest.param(order(order_type="market"), "INVALID_PRICE", id="market-with-price"),
    pytest.param(order(price=None, order_type="limit"), "INVALID_PRICE", id="limit-no-price"),
    # instruments: well formed but not listed, or malformed
    pytest.param(order(instrument_id="SPX_CALL_9_20991231"), "INVALID_INSTRUMENT", id="unlisted"),
    pytest.param(order(instrument_id="QQQ"), "INVALID_INSTRUMENT", id="unlisted-underlying"),
    pytest.param(order(instrument_id="spx"), "INVALID_INSTRUMENT", id="lower-case"),
    pytest.param(order(instrument_id=""), "INVALID_INSTRUMENT", id="instrument-empty"),
    pytest.param(order(instrument_id="SPX CALL"), "INVALID_INSTRUMENT", id="instrument-space"),
    pytest.param(order(instrument_id="S" * 41), "INVALID_INSTRUMENT", id="instrument-long"),
    pytest.param(order(instrument_id="../SPX"), "INVALID_INSTRUMENT", id="instrument-path"),
    # unicode where an instrument id goes
    pytest.param(order(instrument_id=FULLWIDTH_SPX), "INVALID_INSTRUMENT", id="fullwidth"),
    pytest.param(order(instrument_id="SPX_CALL_\uff14\uff14\uff10\uff10"), "INVALID_INSTRUMENT",
                 id="fullwidth-digits"),
    pytest.param(order(instrument_id="SPX📈"), "INVALID_INSTRUMENT", id="emoji"),
    pytest.param(order(instrument_id="SPX\u202e"), "INVALID_INSTRUMENT", id="rtl-override"),
    pytest.param(order(instrument_id="\u0633\u0628\u0643"), "INVALID_INSTRUMENT", id="arabic"),
    pytest.param(order(instrument_id="SPX\u0000"), "INVALID_INSTRUMENT", id="nul"),
    pytest.param(order(instrument_id="SPÉ"), "INVALID_INSTRUMENT", id="accented"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), ORDER_CASES)
def test_bad_order_is_refused_and_changes_nothing(victim: Victim, body: bytes, code: str) -> None:
    before = victim.snapshot()
    assert_error(victim.post("/orders", body), 400, code)
    assert victim.snapshot() == before


def test_error_names_the_field_at_fault(victim: Victim) -> None:
    error = assert_error(victim.post("/orders", order(quantity="2")), 400, "INVALID_QUANTITY")
    assert error["details"] == {"field": "quantity"}
    assert "quantity" in error["message"]


def test_error_envelope_carries_the_clients_request_id(victim: Victim) -> None:
    reply = victim.post("/orders", b"{", **{"X-Request-Id": "bot-42"})
    assert_error(reply, 400, "INVALID_JSON")
    assert reply.json()["request_id"] == "bot-42"


def quote(**fields: Any) -> bytes:
    base = {
        "instrument_id": "SPX", "bid_price": 10.0, "bid_quantity": 10, "ask_price": 10.5,
        "ask_quantity": 10,
    }  # fmt: skip
    return json.dumps({**base, **fields}, ensure_ascii=False).encode()


QUOTE_CASES = [
    pytest.param(b"[]", "INVALID_JSON", id="array"),
    pytest.param(quote(bid_quantity=0), "INVALID_QUANTITY", id="bid-quantity-zero"),
    pytest.param(quote(ask_quantity=-10), "INVALID_QUANTITY", id="ask-quantity-negative"),
    pytest.param(quote(ask_quantity=10**30), "INVALID_QUANTITY", id="ask-quantity-huge"),
    pytest.param(quote(bid_price=10.001), "INVALID_PRICE", id="bid-off-grid"),
    pytest.param(quote(ask_price=0), "INVALID_PRICE", id="ask-zero"),
    pytest.param(quote(bid_price=None), "INVALID_PRICE", id="bid-null"),
    pytest.param(quote(side="buy"), "INVALID_FIELD", id="unknown-field"),
    pytest.param(quote(instrument_id="SPX😀"), "INVALID_INSTRUMENT", id="emoji-instrument"),
    pytest.param(quote(instrument_id="ZZZ"), "INVALID_INSTRUMENT", id="unlisted"),
]


@pytest.mark.parametrize(("body", "code"), QUOTE_CASES)
def test_bad_quote_is_refused_and_changes_nothing(victim: Victim, body: bytes, code: str) -> None:
    before = victim.snapshot()
    assert_error(victim.post("/quotes", body), 400, code)
    assert victim.snapshot() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"cancel_after": -1}', "INVALID_FIELD"),
        (b'{"cancel_after": 3601}', "INVALID_FIELD"),
        (b'{"cancel_after": "soon"}', "INVALID_FIELD"),
        (b'{"cancel_after": null}', "INVALID_FIELD"),
        (b"{}", "INVALID_FIELD"),
        (b'{"cancel_after": 1, "also": 2}', "INVALID_FIELD"),
        (b'{"cancel_after": NaN}', "INVALID_JSON"),
        (b'{"cancel_after": Infinity}', "INVALID_JSON"),
        (b"[1]", "INVALID_JSON"),
    ],
)
def test_bad_dead_mans_switch_is_refused(victim: Victim, body: bytes, code: str) -> None:
    assert_error(victim.post("/dead-mans-switch", body), 400, code)


def team(name: Any, role: Any = "retail") -> bytes:
    return json.dumps({"team_name": name, "role": role}, ensure_ascii=False).encode()


REGISTER_CASES = [
    pytest.param(team("ab"), "INVALID_FIELD", id="name-too-short"),
    pytest.param(team("n" * 51), "INVALID_FIELD", id="name-too-long"),
    pytest.param(team(""), "INVALID_FIELD", id="name-empty"),
    pytest.param(team("   "), "INVALID_FIELD", id="name-blank"),
    pytest.param(team(" padded "), "INVALID_FIELD", id="name-padded"),
    pytest.param(team(42), "INVALID_FIELD", id="name-number"),
    pytest.param(team(None), "INVALID_FIELD", id="name-null"),
    pytest.param(team("rocket 🚀 team"), "INVALID_FIELD", id="name-emoji"),
    pytest.param(team("🚀🚀🚀"), "INVALID_FIELD", id="name-only-emoji"),
    pytest.param(team("evil\u202eteam"), "INVALID_FIELD", id="name-rtl-override"),
    pytest.param(team("zero\u200bwidth"), "INVALID_FIELD", id="name-zero-width"),
    pytest.param(team("nul\u0000team"), "INVALID_FIELD", id="name-nul"),
    pytest.param(team("new\nline"), "INVALID_FIELD", id="name-newline"),
    pytest.param(team("<script>"), "INVALID_FIELD", id="name-markup"),
    pytest.param(team("good name", "house"), "INVALID_FIELD", id="role-house"),
    pytest.param(team("good name", "admin"), "INVALID_FIELD", id="role-unknown"),
    pytest.param(team("good name", "Retail"), "INVALID_FIELD", id="role-case"),
    pytest.param(team("good name", None), "INVALID_FIELD", id="role-null"),
    pytest.param(b'{"team_name": "good name"}', "INVALID_FIELD", id="role-missing"),
    pytest.param(b'{"team_name": "good name", "role": "retail", "x": 1}', "INVALID_FIELD",
                 id="unknown-field"),
    pytest.param(b'["good name", "retail"]', "INVALID_JSON", id="array"),
    pytest.param(b'{"team_name": "good name", "role": "retail"', "INVALID_JSON", id="truncated"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), REGISTER_CASES)
def test_bad_registration_is_refused_and_registers_nobody(
    victim: Victim, body: bytes, code: str
) -> None:
    before = victim.snapshot()
    assert_error(victim.post("/auth/register", body), 400, code)
    assert victim.snapshot() == before


@pytest.mark.parametrize(
    "name",
    [
        "\u0641\u0631\u064a\u0642 \u0627\u0644\u062a\u062f\u0627\u0648\u0644",
        "Équipe Zürich",
        "チーム",
    ],
    ids=["rtl-arabic", "accents", "japanese"],
)
def test_unicode_letters_are_a_fine_team_name(server: str, name: str) -> None:
    with httpx.Client(base_url=server) as client:
        data = assert_ok(client.post("/auth/register", content=team(name)), 201)
        assert data["team_name"] == name
        assert_error(client.post("/auth/register", content=team(name)), 409, "TEAM_NAME_TAKEN")


# -- size and media type -----------------------------------------------------------------

THREE_MB = b"x" * (3 * 1024 * 1024)


def test_three_megabyte_body_is_too_large(victim: Victim) -> None:
    before = victim.snapshot()
    assert_error(victim.post("/orders", THREE_MB), 413, "PAYLOAD_TOO_LARGE")
    assert victim.snapshot() == before


def test_three_megabyte_streamed_body_is_too_large(victim: Victim) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(THREE_MB), 64 * 1024):
            yield THREE_MB[start : start + 64 * 1024]

    before = victim.snapshot()
    reply = victim.bot.http.post(
        "/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(reply, 413, "PAYLOAD_TOO_LARGE")
    assert victim.snapshot() == before


def test_body_just_past_a_configured_limit_is_too_large() -> None:
    with run_server(sandbox(server={"max_body_bytes": 100}, **UNTHROTTLED)) as base:
        bot = Bot(base, "arbitrage")
        try:
            padded = order(client_order_id="p" * 30)
            assert 100 < len(padded) < 200
            reply = bot.http.post("/orders", content=padded)
            assert_error(reply, 413, "PAYLOAD_TOO_LARGE")
            assert assert_ok(bot.http.get("/orders")) == []
        finally:
            bot.close()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/xml", "text/json"],
)  # fmt: skip
def test_body_declared_as_not_json_is_refused(victim: Victim, content_type: str) -> None:
    before = victim.snapshot()
    reply = victim.bot.http.post(
        "/orders", content=order(), headers={"content-type": content_type}
    )
    assert_error(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert victim.snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_media_types_are_accepted(victim: Victim, content_type: str) -> None:
    reply = victim.bot.http.post(
        "/orders", content=order(), headers={"content-type": content_type}
    )
    assert assert_ok(reply, 201)["status"] == "accepted"


# -- routing and query strings -------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/nope", "/orders/1/fills", "/market/book", "/market", "/admin", "/ORDERS",
     "/%F0%9F%9A%80", "/openapi.yaml"],
)  # fmt: skip
def test_unknown_route_is_not_found(victim: Victim, path: str) -> None:
    before = victim.snapshot()
    assert_error(victim.bot.http.get(path), 404, "NOT_FOUND")
    assert victim.snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/orders", {"GET", "POST", "DELETE"}),
        ("PATCH", "/orders/1", {"DELETE"}),
        ("GET", "/orders/1", {"DELETE"}),
        ("POST", "/health", {"GET"}),
        ("GET", "/quotes", {"POST"}),
        ("DELETE", "/instruments", {"GET"}),
        ("POST", "/fills", {"GET"}),
        ("GET", "/auth/register", {"POST"}),
        ("DELETE", "/positions/T0001", {"GET"}),
    ],
)
def test_wrong_method_is_not_allowed(
    victim: Victim, method: str, path: str, allowed: set[str]
) -> None:
    before = victim.snapshot()
    reply = victim.bot.http.request(method, path, content=order())
    assert_error(reply, 405, "METHOD_NOT_ALLOWED")
    assert allowed <= {m.strip() for m in reply.headers["allow"].split(",")}
    assert victim.snapshot() == before


@pytest.mark.parametrize(
    "query",
    ["abc", "-1", "1.5", "1e3", "9" * 30, "²", "\u0663", "", "0x10"],
    ids=["word", "negative", "fraction", "exponent", "huge", "superscript", "arabic-digit",
         "empty", "hex"],
)  # fmt: skip
def test_bad_since_trade_id_is_refused(victim: Victim, query: str) -> None:
    reply = victim.bot.http.get("/fills", params={"since_trade_id": query})
    assert assert_error(reply, 400, "INVALID_FIELD")["details"] == {"field": "since_trade_id"}


@pytest.mark.parametrize("depth", ["0", "51", "-1", "abc", "²", "\u0663", "1e1", "", "5.0"])
def test_bad_book_depth_is_refused(victim: Victim, depth: str) -> None:
    reply = victim.bot.http.get(f"/market/book/{victim.option}", params={"depth": depth})
    assert assert_error(reply, 400, "INVALID_FIELD")["details"] == {"field": "depth"}


@pytest.mark.parametrize(
    "instrument", ["spx", FULLWIDTH_SPX, "SPX📈", "%00", "SPX\u202e", "x" * 500]
)
def test_unknown_book_is_not_found(victim: Victim, instrument: str) -> None:
    assert_error(victim.bot.http.get(f"/market/book/{instrument}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("order_id", ["²", "\u0663", "1e3", "0x1", "🚀", "-0", " 1"])
def test_unknown_order_id_shapes_are_not_found(victim: Victim, order_id: str) -> None:
    before = victim.snapshot()
    assert_error(victim.bot.http.delete(f"/orders/{order_id}"), 404, "ORDER_NOT_FOUND")
    assert victim.snapshot() == before


@pytest.mark.parametrize("instrument", ["ZZZ", FULLWIDTH_SPX, "SPX🚀", ""])
def test_cancel_all_of_a_bad_instrument_is_refused(victim: Victim, instrument: str) -> None:
    before = victim.snapshot()
    reply = victim.bot.http.delete("/orders", params={"instrument_id": instrument})
    assert_error(reply, 400, "INVALID_INSTRUMENT")
    assert victim.snapshot() == before


# -- fuzz: any body gets an envelope, never a 5xx, and the server lives on ------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@st.composite
def order_like(draw: st.DrawFn, instruments: list[str]) -> dict[str, Any]:
    """Objects shaped like orders, mostly well typed, so fuzzing reaches past the JSON
    parser and the decoder into the price grid, the role's rules and the books."""
    cents = st.integers(-100, 100_000).map(lambda c: c / 100)
    fields = {
        "instrument_id": st.sampled_from(instruments) | json_values,
        "side": st.sampled_from(["buy", "sell"]) | json_values,
        "quantity": st.integers(-5, 2000) | json_values,
        "price": cents | st.decimals(-10, 1000, places=3).map(float) | json_values,
        "order_type": st.sampled_from(["limit", "market", "quote"]) | json_values,
        "client_order_id": st.text(max_size=70) | json_values,
        "request_id": st.text(max_size=70) | json_values,
    }
    required = ["instrument_id", "quantity", "side"]
    optional = ["client_order_id", "order_type", "price", "request_id"]
    names = [n for n in required if draw(st.integers(0, 9))]  # one in ten goes missing
    names += sorted(draw(st.sets(st.sampled_from(optional))))
    body = {name: draw(fields[name]) for name in names}
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.text(max_size=8))] = draw(json_values)
    return body


def post_json(bot: Bot, path: str, body: Any) -> httpx.Response:
    """Post any JSON value as Python writes it: NaN and Infinity included, on purpose."""
    content = json.dumps(body).encode()
    return bot.http.post(path, content=content, headers={"content-type": "application/json"})


def check_answer(reply: httpx.Response) -> None:
    assert reply.status_code < 500, reply.text
    body = reply.json()
    if body["success"]:
        assert reply.status_code in (200, 201)
        return
    assert 400 <= reply.status_code < 500
    assert body["error"]["code"] in ERRORS
    assert_error(reply, reply.status_code, body["error"]["code"])


@pytest.fixture(scope="module")
def fuzzer(server: str) -> Iterator[Bot]:
    bot = Bot(server, "market_maker")
    yield bot
    bot.http.delete("/orders")
    bot.close()


def assert_still_serving(bot: Bot, option: str) -> None:
    health = assert_ok(bot.http.get("/health"))
    assert health["status"] == "ok", health  # every task alive
    assert health["restarts"] == {}
    order_id = assert_ok(bot.order(option, "buy", 1, 1.0), 201)["order_id"]
    assert order_id in {o["order_id"] for o in assert_ok(bot.http.get("/orders"))}


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_random_json_orders_get_an_envelope(
    fuzzer: Bot, options: list[str], fresh_option: Fresh
) -> None:
    instruments = ["SPX", "SPY", *options[:3]]

    @FUZZ
    @given(body=json_values | order_like(instruments))
    def post(body: Any) -> None:
        check_answer(post_json(fuzzer, "/orders", body))

    post()
    assert_still_serving(fuzzer, fresh_option())


def test_random_bytes_get_an_envelope(fuzzer: Bot, fresh_option: Fresh) -> None:
    @FUZZ
    @given(body=st.binary(max_size=300))
    def post(body: bytes) -> None:
        check_answer(
            fuzzer.http.post("/orders", content=body, headers={"content-type": "application/json"})
        )

    post()
    assert_still_serving(fuzzer, fresh_option())


@pytest.mark.parametrize("path", ["/quotes", "/auth/register", "/dead-mans-switch"])
def test_random_json_to_other_endpoints_gets_an_envelope(
    fuzzer: Bot, fresh_option: Fresh, path: str
) -> None:
    @settings(FUZZ, max_examples=50)
    @given(body=json_values)
    def post(body: Any) -> None:
        check_answer(post_json(fuzzer, path, body))

    post()
    # Random bodies may have armed the dead-man's switch; it must not cancel what follows.
    assert_ok(fuzzer.http.post("/dead-mans-switch", json={"cancel_after": 0}))
    assert_still_serving(fuzzer, fresh_option())
