"""The order life cycle through real HTTP and the stream (SPEC sections 3, 4, 5, 8).

A POST is answered after validation; what happens next (acks, fills, cancels) arrives on
the team's WebSocket, so tests read the stream (or poll a GET) with a bounded wait before
asserting what the trades did. Every test trades in options no other test touched.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox, stream
from tests.support import assert_error, assert_ok, is_type, messages_of_type, recv_until, wait_for

Bots = Callable[[str], Bot]
Fresh = Callable[[], str]

ROLES = ["market_maker", "hedge_fund", "arbitrage", "retail"]
# SPEC section 3, in cents per contract, positive when the team receives it.
FEE_CENTS = {
    "market_maker": {"maker": 2, "taker": -1},
    "hedge_fund": {"maker": 1, "taker": -2},
    "arbitrage": {"maker": 1, "taker": -2},
    "retail": {"maker": -1, "taker": -3},
}
MAX_SIZE = {"market_maker": 1000, "hedge_fund": 500, "arbitrage": 500, "retail": 100}
OPTION_LIMIT = {"market_maker": 50, "hedge_fund": 150, "arbitrage": 100, "retail": 50}
RATE = {"market_maker": 10, "hedge_fund": 5, "arbitrage": 7, "retail": 1}
MULTIPLIER = 100


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # The rate limit counts in real time; it has its own server below (a slow clock).
    with run_server(sandbox(**UNTHROTTLED)) as base:
        yield base


def open_orders(bot: Bot) -> list[dict[str, Any]]:
    return assert_ok(bot.http.get("/orders"))  # type: ignore[no-any-return]


def fills(bot: Bot, since: int | None = None) -> list[dict[str, Any]]:
    query = "" if since is None else f"?since_trade_id={since}"
    return assert_ok(bot.http.get(f"/fills{query}"))  # type: ignore[no-any-return]


def book(bot: Bot, instrument: str, depth: int | None = None) -> dict[str, Any]:
    query = "" if depth is None else f"?depth={depth}"
    return assert_ok(bot.http.get(f"/market/book/{instrument}{query}"))  # type: ignore[no-any-return]


def placed(response: httpx.Response) -> str:
    """The order id of an accepted order."""
    data = assert_ok(response, 201)
    assert data["status"] == "accepted"
    assert response.json()["order_id"] == data["order_id"]
    return data["order_id"]  # type: ignore[no-any-return]


def cents(amount: float) -> int:
    """Money on the wire has at most two decimals; compare it exactly, in cents."""
    value = round(amount * 100)
    assert abs(amount * 100 - value) < 1e-6, f"{amount} is not a whole number of cents"
    return value


def position(bot: Bot, instrument: str) -> int:
    lines = bot.positions()["positions"]
    return next((p["quantity"] for p in lines if p["instrument_id"] == instrument), 0)


# -- order types and sizes per role (SPEC section 3) --------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_limit_order_accepted_and_rests_for_every_role(
    bots: Bots, fresh_option: Fresh, role: str
) -> None:
    bot, option = bots(role), fresh_option()
    order_id = placed(bot.order(option, "buy", 3, 1.25, client_order_id="c-1"))
    [order] = open_orders(bot)
    assert order["order_id"] == order_id
    assert (order["instrument_id"], order["side"], order["price"]) == (option, "buy", 1.25)
    assert (order["quantity"], order["filled"], order["remaining"]) == (3, 0, 3)
    assert order["order_type"] == "limit"
    assert order["client_order_id"] == "c-1"
    assert book(bot, option)["bids"] == [{"price": 1.25, "quantity": 3, "orders": 1}]


@pytest.mark.parametrize("role", ROLES)
def test_market_order_accepted_for_every_role_and_never_rests(
    bots: Bots, fresh_option: Fresh, role: str
) -> None:
    bot, option = bots(role), fresh_option()
    with stream(bot) as ws:
        data = assert_ok(bot.order(option, "sell", 2), 201)
        assert (data["order_type"], data["price"]) == ("market", None)
        cancelled = recv_until(ws, is_type("order_cancelled", order_id=data["order_id"]))[-1]
    assert cancelled["data"]["reason"] == "no_liquidity"
    assert (cancelled["data"]["filled"], cancelled["data"]["remaining"]) == (0, 2)
    assert open_orders(bot) == []


def test_quote_accepted_for_market_maker(bots: Bots, fresh_option: Fresh) -> None:
    mm, option = bots("market_maker"), fresh_option()
    data = assert_ok(mm.quote(option, 10.0, 10.5, 12), 201)
    legs = {o["order_id"]: o for o in open_orders(mm)}
    assert set(legs) == {data["bid_order_id"], data["ask_order_id"]}
    assert legs[data["bid_order_id"]]["side"] == "buy"
    assert legs[data["ask_order_id"]]["side"] == "sell"
    depth = book(mm, option)
    assert depth["bids"] == [{"price": 10.0, "quantity": 12, "orders": 1}]
    assert depth["asks"] == [{"price": 10.5, "quantity": 12, "orders": 1}]


def test_new_quote_replaces_the_previous_one(bots: Bots, fresh_option: Fresh) -> None:
    mm, option = bots("market_maker"), fresh_option()
    with stream(mm) as ws:
        first = assert_ok(mm.quote(option, 10.0, 10.5), 201)
        second = assert_ok(mm.quote(option, 10.1, 10.6), 201)
        seen = recv_until(ws, is_type("new_order_ack", order_id=second["ask_order_id"]))
    replaced = {
        m["data"]["order_id"]: m["data"]["reason"]
        for m in messages_of_type(seen, "order_cancelled")
    }
    assert replaced == {first["bid_order_id"]: "replaced", first["ask_order_id"]: "replaced"}
    assert {o["order_id"] for o in open_orders(mm)} == {
        second["bid_order_id"],
        second["ask_order_id"],
    }
    depth = book(mm, option)
    assert [lv["price"] for lv in depth["bids"]] == [10.1]
    assert [lv["price"] for lv in depth["asks"]] == [10.6]


@pytest.mark.parametrize("role", ["hedge_fund", "arbitrage", "retail"])
def test_only_market_makers_may_quote(bots: Bots, fresh_option: Fresh, role: str) -> None:
    bot, option = bots(role), fresh_option()
    error = assert_error(bot.quote(option, 10.0, 10.5), 422, "ORDER_TYPE_NOT_ALLOWED")
    assert error["details"]["order_type"] == "quote"
    assert open_orders(bot) == []
    depth = book(bot, option)
    assert (depth["bids"], depth["asks"]) == ([], [])


@pytest.mark.parametrize("role", ROLES)
def test_order_above_the_role_size_is_refused(bots: Bots, fresh_option: Fresh, role: str) -> None:
    bot, option = bots(role), fresh_option()
    error = assert_error(
        bot.order(option, "buy", MAX_SIZE[role] + 1, 1.0), 422, "INVALID_QUANTITY"
    )
    assert error["details"]["max_quantity"] == MAX_SIZE[role]
    assert open_orders(bot) == []


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("market_maker", None),
        ("arbitrage", None),
        # Their largest order is within the size rule but past the underlying limit.
        ("hedge_fund", "POSITION_LIMIT_EXCEEDED"),
        ("retail", "POSITION_LIMIT_EXCEEDED"),
    ],
)
def test_order_of_the_role_maximum_size_passes_the_size_rule(
    bots: Bots, role: str, code: str | None
) -> None:
    bot = bots(role)
    reply = bot.order("SPX", "buy", MAX_SIZE[role], 1.0)
    if code is None:
        placed(reply)
        assert [o["quantity"] for o in open_orders(bot)] == [MAX_SIZE[role]]
    else:
        assert_error(reply, 422, code)
        assert open_orders(bot) == []


def test_quote_leg_above_the_size_limit_is_refused(bots: Bots, fresh_option: Fresh) -> None:
    mm, option = bots("market_maker"), fresh_option()
    assert_error(mm.quote(option, 10.0, 10.5, size=1001), 422, "INVALID_QUANTITY")
    assert open_orders(mm) == []


# -- position limits count resting orders (SPEC section 3) --------------------------------


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("role", ROLES)
def test_position_limit_counts_resting_orders(
    bots: Bots, fresh_option: Fresh, role: str, side: str
) -> None:
    bot, option = bots(role), fresh_option()
    limit = OPTION_LIMIT[role]
    price = 1.0 if side == "buy" else 99.0  # far from anything: it rests
    placed(bot.order(option, side, limit, price))
    error = assert_error(bot.order(option, side, 1, price), 422, "POSITION_LIMIT_EXCEEDED")
    assert (error["details"]["open"], error["details"]["worst"]) == (
        limit,
        limit + 1 if side == "buy" else -limit - 1,
    )
    assert [o["remaining"] for o in open_orders(bot)] == [limit]


def test_position_limit_counts_filled_position_plus_resting(
    bots: Bots, fresh_option: Fresh
) -> None:
    mm, seller, option = bots("market_maker"), bots("arbitrage"), fresh_option()
    placed(seller.order(option, "sell", 30, 5.0))
    placed(mm.order(option, "buy", 30, 5.0))
    wait_for(lambda: position(mm, option) == 30)
    placed(mm.order(option, "buy", 10, 4.0))  # rests: worst case 40
    assert_error(mm.order(option, "buy", 11, 4.0), 422, "POSITION_LIMIT_EXCEEDED")
    placed(mm.order(option, "buy", 10, 4.0))  # exactly 50
    assert sum(o["remaining"] for o in open_orders(mm)) == 20


def test_portfolio_limit_sums_options(bots: Bots, fresh_option: Fresh) -> None:
    retail, first, second = bots("retail"), fresh_option(), fresh_option()
    placed(retail.order(first, "buy", 30, 1.0))
    assert_error(retail.order(second, "buy", 21, 1.0), 422, "PORTFOLIO_LIMIT_EXCEEDED")
    placed(retail.order(second, "buy", 20, 1.0))
    assert len(open_orders(retail)) == 2


def test_hedge_fund_may_not_rest_both_sides(bots: Bots, fresh_option: Fresh) -> None:
    hf, option = bots("hedge_fund"), fresh_option()
    bid = placed(hf.order(option, "buy", 5, 1.0))
    error = assert_error(hf.order(option, "sell", 5, 99.0), 422, "TWO_SIDED_NOT_ALLOWED")
    assert error["details"]["opposite_open"] == 5
    assert [o["order_id"] for o in open_orders(hf)] == [bid]
    assert book(hf, option)["asks"] == []
    # Once the bid is gone the same ask is fine.
    assert_ok(hf.http.delete(f"/orders/{bid}"))
    placed(hf.order(option, "sell", 5, 99.0))


# -- a cross between two teams: reports, fees, positions (SPEC sections 3, 8) ------------


def test_cross_reports_both_sides_fees_and_positions(bots: Bots, fresh_option: Fresh) -> None:
    mm, hf, option = bots("market_maker"), bots("hedge_fund"), fresh_option()
    with stream(mm) as mm_ws, stream(hf) as hf_ws:
        sell = placed(mm.order(option, "sell", 8, 10.0, client_order_id="mm-ask"))
        recv_until(mm_ws, is_type("new_order_ack", order_id=sell))
        buy = placed(hf.order(option, "buy", 5, 10.5, client_order_id="hf-bid"))
        maker = recv_until(mm_ws, is_type("execution_report", order_id=sell, exec_type="trade"))
        taker = recv_until(hf_ws, is_type("execution_report", order_id=buy, exec_type="trade"))
    maker_report, taker_report = maker[-1]["data"], taker[-1]["data"]

    # The resting sell is the maker, partly filled at its own price.
    assert maker_report["status"] == "partially_filled"
    assert (maker_report["quantity"], maker_report["filled"], maker_report["remaining"]) == (
        8,
        5,
        3,
    )
    assert maker_report["liquidity_type"] == "maker"
    assert cents(maker_report["fee"]) == 5 * FEE_CENTS["market_maker"]["maker"]
    assert maker_report["client_order_id"] == "mm-ask"
    # The arriving buy is the taker, filled at the resting price, not its limit.
    assert taker_report["status"] == "filled"
    assert (taker_report["quantity"], taker_report["filled"], taker_report["remaining"]) == (
        5,
        5,
        0,
    )
    assert taker_report["liquidity_type"] == "taker"
    assert cents(taker_report["fee"]) == 5 * FEE_CENTS["hedge_fund"]["taker"]
    assert taker_report["client_order_id"] == "hf-bid"
    for report in (maker_report, taker_report):
        assert report["quantity"] == report["filled"] + report["remaining"]
        assert (report["last_price"], report["last_quantity"]) == (10.0, 5)
    assert maker_report["trade_id"] == taker_report["trade_id"]

    mm_account, hf_account = mm.positions(), hf.positions()
    assert position(mm, option) == -5 and position(hf, option) == 5
    premium = 1000 * 5 * MULTIPLIER  # cents: 10.00 x 5 contracts x 100
    assert (cents(mm_account["cash"]), cents(mm_account["fees"])) == (premium + 10, 10)
    assert (cents(hf_account["cash"]), cents(hf_account["fees"])) == (-premium - 10, -10)
    # What is left of the sell still rests.
    [rest] = open_orders(mm)
    assert (rest["order_id"], rest["filled"], rest["remaining"]) == (sell, 5, 3)


@pytest.mark.parametrize(
    ("maker_role", "taker_role"), list(zip(ROLES, ROLES[1:] + ROLES[:1], strict=True))
)
def test_fees_follow_the_role_table(
    bots: Bots, fresh_option: Fresh, maker_role: str, taker_role: str
) -> None:
    maker, taker, option = bots(maker_role), bots(taker_role), fresh_option()
    qty, price = 4, 2.5
    premium = 250 * qty * MULTIPLIER  # cents
    placed(maker.order(option, "buy", qty, price))
    placed(taker.order(option, "sell", qty, price))
    [maker_fill] = wait_for(lambda: fills(maker))
    [taker_fill] = wait_for(lambda: fills(taker))
    assert (maker_fill["liquidity_type"], taker_fill["liquidity_type"]) == ("maker", "taker")
    maker_fee = qty * FEE_CENTS[maker_role]["maker"]
    taker_fee = qty * FEE_CENTS[taker_role]["taker"]
    assert (cents(maker_fill["fee"]), cents(taker_fill["fee"])) == (maker_fee, taker_fee)
    # cash = -price x signed quantity x multiplier + fee
    assert cents(maker.positions()["cash"]) == -premium + maker_fee
    assert cents(taker.positions()["cash"]) == premium + taker_fee
    assert (position(maker, option), position(taker, option)) == (qty, -qty)


def test_market_order_remainder_cancelled_no_liquidity(bots: Bots, fresh_option: Fresh) -> None:
    seller, buyer, option = bots("arbitrage"), bots("hedge_fund"), fresh_option()
    placed(seller.order(option, "sell", 5, 10.0))
    with stream(buyer) as ws:
        order_id = placed(buyer.order(option, "buy", 8))
        seen = recv_until(ws, is_type("order_cancelled", order_id=order_id))
    [report] = [
        m["data"]
        for m in messages_of_type(seen, "execution_report")
        if m["data"]["order_id"] == order_id
    ]
    assert (report["filled"], report["remaining"], report["status"]) == (
        5,
        3,
        "partially_filled",
    )
    cancelled = seen[-1]["data"]
    assert cancelled["reason"] == "no_liquidity"
    assert (cancelled["quantity"], cancelled["filled"], cancelled["remaining"]) == (8, 5, 3)
    assert cancelled["status"] == "cancelled"
    assert position(buyer, option) == 5
    assert open_orders(buyer) == []
    depth = book(buyer, option)
    assert (depth["bids"], depth["asks"], depth["last"]) == ([], [], 10.0)


# -- cancels ---------------------------------------------------------------------------


def test_cancel_own_order(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("arbitrage"), fresh_option()
    order_id = placed(bot.order(option, "buy", 4, 2.0, client_order_id="mine"))
    with stream(bot) as ws:
        data = assert_ok(bot.http.delete(f"/orders/{order_id}"))
        event = recv_until(ws, is_type("order_cancelled", order_id=order_id))[-1]["data"]
    assert (data["order_id"], data["status"], data["cancelled_quantity"]) == (
        order_id,
        "cancelled",
        4,
    )
    assert data["client_order_id"] == "mine"
    assert event["reason"] == "user"
    assert open_orders(bot) == []
    assert book(bot, option)["bids"] == []


def test_cancel_another_teams_order_is_not_found_and_it_still_rests(
    bots: Bots, fresh_option: Fresh
) -> None:
    owner, other, option = bots("arbitrage"), bots("arbitrage"), fresh_option()
    order_id = placed(owner.order(option, "buy", 4, 2.0))
    assert_error(other.http.delete(f"/orders/{order_id}"), 404, "ORDER_NOT_FOUND")
    assert [o["order_id"] for o in open_orders(owner)] == [order_id]
    assert book(owner, option)["bids"] == [{"price": 2.0, "quantity": 4, "orders": 1}]


def test_cancel_twice_is_not_found(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("arbitrage"), fresh_option()
    order_id = placed(bot.order(option, "buy", 4, 2.0))
    assert_ok(bot.http.delete(f"/orders/{order_id}"))
    assert_error(bot.http.delete(f"/orders/{order_id}"), 404, "ORDER_NOT_FOUND")


@pytest.mark.parametrize("order_id", ["999999", "abc", "-1", "1.0", "99999999999999999999999"])
def test_cancel_unknown_order_is_not_found(bots: Bots, order_id: str) -> None:
    assert_error(bots("retail").http.delete(f"/orders/{order_id}"), 404, "ORDER_NOT_FOUND")


def test_cancel_all(bots: Bots, fresh_option: Fresh) -> None:
    bot, first, second = bots("market_maker"), fresh_option(), fresh_option()
    ids = [
        placed(bot.order(first, "buy", 1, 1.0)),
        placed(bot.order(first, "sell", 1, 9.0)),
        placed(bot.order(second, "buy", 1, 1.0)),
    ]
    data = assert_ok(bot.http.delete("/orders"))
    assert data["count"] == 3
    assert sorted(c["order_id"] for c in data["cancelled"]) == sorted(ids)
    assert all(c["status"] == "cancelled" for c in data["cancelled"])
    assert open_orders(bot) == []
    assert assert_ok(bot.http.delete("/orders")) == {"cancelled": [], "count": 0}


def test_cancel_all_of_one_instrument(bots: Bots, fresh_option: Fresh) -> None:
    bot, first, second = bots("market_maker"), fresh_option(), fresh_option()
    placed(bot.order(first, "buy", 1, 1.0))
    placed(bot.order(first, "sell", 1, 9.0))
    kept = placed(bot.order(second, "buy", 1, 1.0))
    data = assert_ok(bot.http.delete("/orders", params={"instrument_id": first}))
    assert data["count"] == 2
    assert {c["instrument_id"] for c in data["cancelled"]} == {first}
    assert [o["order_id"] for o in open_orders(bot)] == [kept]


def test_cancel_all_of_an_unknown_instrument_is_refused(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("market_maker"), fresh_option()
    kept = placed(bot.order(option, "buy", 1, 1.0))
    reply = bot.http.delete("/orders", params={"instrument_id": "SPX_CALL_1_20991231"})
    assert_error(reply, 400, "INVALID_INSTRUMENT")
    assert [o["order_id"] for o in open_orders(bot)] == [kept]


# -- reading: orders, fills, positions, market ------------------------------------------


def test_open_orders_oldest_first(bots: Bots, fresh_option: Fresh) -> None:
    bot = bots("market_maker")
    # Neither price nor instrument order matches the order of arrival.
    options = sorted([fresh_option(), fresh_option(), fresh_option()], reverse=True)
    ids = [
        placed(bot.order(options[0], "buy", 1, 3.0)),
        placed(bot.order(options[2], "buy", 1, 9.0)),
        placed(bot.order(options[1], "buy", 1, 5.0)),
    ]
    listed = open_orders(bot)
    assert [o["order_id"] for o in listed] == ids
    stamps = [o["created_at"] for o in listed]
    assert stamps == sorted(stamps)


def test_fills_oldest_first_and_paged_by_trade_id(bots: Bots, fresh_option: Fresh) -> None:
    bot, other, option = bots("arbitrage"), bots("market_maker"), fresh_option()
    placed(other.order(option, "sell", 3, 4.0))
    placed(bot.order(option, "buy", 2, 4.0))
    placed(bot.order(option, "buy", 1, 4.0))
    first, second = wait_for(lambda: len(fills(bot)) == 2 and fills(bot))
    assert first["trade_id"] < second["trade_id"]
    assert [f["quantity"] for f in (first, second)] == [2, 1]
    assert all(f["side"] == "buy" and f["instrument_id"] == option for f in (first, second))
    assert [f["position_after"] for f in (first, second)] == [2, 3]
    assert fills(bot, since=first["trade_id"]) == [second]
    assert fills(bot, since=second["trade_id"]) == []
    assert fills(bot, since=0) == [first, second]
    assert assert_ok(bot.http.get("/fills?limit=1")) == [first]
    page = assert_ok(bot.http.get(f"/fills?limit=1&since_trade_id={first['trade_id']}"))
    assert page == [second]
    for bad in ("0", "10001", "x"):
        reply = bot.http.get(f"/fills?limit={bad}")
        assert assert_error(reply, 400, "INVALID_FIELD")["details"] == {"field": "limit"}


def test_positions_of_another_team_are_forbidden(bots: Bots) -> None:
    bot, other = bots("retail"), bots("retail")
    assert_error(bot.http.get(f"/positions/{other.team_id}"), 403, "FORBIDDEN")
    assert_error(bot.http.get("/positions/T99999"), 404, "NOT_FOUND")
    assert bot.positions()["team_id"] == bot.team_id


def test_book_depth_aggregates_levels(bots: Bots, fresh_option: Fresh) -> None:
    mm, arb, option = bots("market_maker"), bots("arbitrage"), fresh_option()
    placed(mm.order(option, "buy", 3, 10.0))
    placed(arb.order(option, "buy", 4, 10.0))
    placed(arb.order(option, "buy", 2, 9.5))
    placed(mm.order(option, "sell", 5, 12.0))
    placed(mm.order(option, "sell", 6, 11.0))
    depth = book(mm, option)
    assert depth["instrument_id"] == option
    assert depth["phase"] == "CONTINUOUS"
    assert depth["bids"] == [
        {"price": 10.0, "quantity": 7, "orders": 2},
        {"price": 9.5, "quantity": 2, "orders": 1},
    ]
    assert depth["asks"] == [
        {"price": 11.0, "quantity": 6, "orders": 1},
        {"price": 12.0, "quantity": 5, "orders": 1},
    ]
    top = book(mm, option, depth=1)
    assert (top["bids"], top["asks"]) == (depth["bids"][:1], depth["asks"][:1])
    assert_error(mm.http.get("/market/book/SPX_CALL_1_20991231"), 404, "NOT_FOUND")


def test_market_prices_show_every_book_top(
    bots: Bots, fresh_option: Fresh, options: list[str]
) -> None:
    mm, option = bots("market_maker"), fresh_option()
    placed(mm.order(option, "buy", 3, 10.0))
    placed(mm.order(option, "sell", 6, 11.0))
    data = assert_ok(httpx.get(f"{mm.base}/market/prices"))
    assert data["phase"] == "CONTINUOUS"
    assert set(data["underlyings"]) == {"SPX", "SPY"}
    lines = {line["instrument_id"]: line for line in data["instruments"]}
    assert set(options) <= set(lines)
    assert len(lines) == len(data["instruments"])
    line = lines[option]
    assert (line["bid"], line["bid_size"], line["ask"], line["ask_size"]) == (10.0, 3, 11.0, 6)


def test_instruments_are_listed(server: str) -> None:
    listed = assert_ok(httpx.get(f"{server}/instruments"))
    ids = [i["instrument_id"] for i in listed]
    assert len(ids) == len(set(ids))
    underlyings = {i["instrument_id"]: i for i in listed if i["kind"] == "UNDERLYING"}
    assert set(underlyings) == {"SPX", "SPY"}
    options = [i for i in listed if i["kind"] != "UNDERLYING"]
    assert {i["kind"] for i in options} == {"CALL", "PUT"}
    for i in options:
        expiry = i["expiry"].replace("-", "")
        assert i["instrument_id"] == f"{i['underlying']}_{i['kind']}_{i['strike']:g}_{expiry}"
        assert (i["multiplier"], i["tick_size"]) == (MULTIPLIER, 0.01)
    assert 4400 in {i["strike"] for i in options if i["underlying"] == "SPX"}


# -- request_id: a retry places nothing twice (SPEC section 8) ---------------------------


def test_same_request_id_twice_places_one_order(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("arbitrage"), fresh_option()
    first = placed(bot.order(option, "buy", 2, 1.5, request_id="retry-1"))
    again = bot.order(option, "buy", 2, 1.5, request_id="retry-1")
    assert placed(again) == first
    assert again.json()["request_id"] == "retry-1"
    assert [o["order_id"] for o in open_orders(bot)] == [first]
    assert book(bot, option)["bids"] == [{"price": 1.5, "quantity": 2, "orders": 1}]


def test_concurrent_retries_place_one_order(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("arbitrage"), fresh_option()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(lambda _: bot.order(option, "buy", 2, 1.5, request_id="burst"), range(8))
        )
    assert len({placed(r) for r in replies}) == 1
    assert len(open_orders(bot)) == 1


def test_request_id_reused_for_another_order_is_refused(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("arbitrage"), fresh_option()
    first = placed(bot.order(option, "buy", 2, 1.5, request_id="once"))
    error = assert_error(bot.order(option, "buy", 3, 1.5, request_id="once"), 400, "INVALID_FIELD")
    assert error["details"] == {"field": "request_id"}
    assert [o["order_id"] for o in open_orders(bot)] == [first]


def test_refused_request_id_is_judged_afresh_on_retry(bots: Bots, fresh_option: Fresh) -> None:
    hf, option = bots("hedge_fund"), fresh_option()
    bid = placed(hf.order(option, "buy", 1, 1.0))
    ask = {"request_id": "ask-1"}
    assert_error(hf.order(option, "sell", 1, 99.0, **ask), 422, "TWO_SIDED_NOT_ALLOWED")
    assert_ok(hf.http.delete(f"/orders/{bid}"))
    order_id = placed(hf.order(option, "sell", 1, 99.0, **ask))
    assert [o["order_id"] for o in open_orders(hf)] == [order_id]


def test_a_team_remembers_only_its_last_request_ids() -> None:
    """The memory of request_ids is bounded per team (`server.idempotency_keys`)."""
    with run_server(sandbox(**UNTHROTTLED, server={"idempotency_keys": 3})) as base:
        bot = Bot(base, "arbitrage")
        listed = assert_ok(bot.http.get("/instruments"))
        option = next(i["instrument_id"] for i in listed if i["kind"] != "UNDERLYING")
        ids = [placed(bot.order(option, "buy", 1, 1.0, request_id=f"k{n}")) for n in range(4)]
        assert placed(bot.order(option, "buy", 1, 1.0, request_id="k1")) == ids[1]
        assert_error(bot.order(option, "buy", 2, 1.0, request_id="k3"), 400, "INVALID_FIELD")
        # The oldest of four is forgotten: its id names a new request now.
        assert placed(bot.order(option, "buy", 2, 1.0, request_id="k0")) not in ids
        assert len(open_orders(bot)) == 5
        bot.close()


# -- the dead-man's switch --------------------------------------------------------------


def test_dead_mans_switch_cancels_after_silence(bots: Bots, fresh_option: Fresh) -> None:
    bot, option = bots("market_maker"), fresh_option()
    armed = assert_ok(bot.http.post("/dead-mans-switch", json={"cancel_after": 0.5}))
    assert armed == {"cancel_after": 0.5, "armed": True}
    ids = {placed(bot.order(option, "buy", 1, 1.0)), placed(bot.order(option, "sell", 1, 9.0))}
    cancels: list[dict[str, Any]] = []

    def both_cancelled(message: dict[str, Any]) -> bool:
        if message["type"] == "order_cancelled":
            cancels.append(message["data"])
        return len(cancels) == len(ids)

    # Reading the stream is no sign of life (only what the bot sends is): silence from now.
    with stream(bot) as ws:
        recv_until(ws, both_cancelled)
    assert {c["order_id"] for c in cancels} == ids
    assert {c["reason"] for c in cancels} == {"dead_mans_switch"}
    assert open_orders(bot) == []


def test_dead_mans_switch_disarmed_with_zero(bots: Bots) -> None:
    bot = bots("market_maker")
    assert_ok(bot.http.post("/dead-mans-switch", json={"cancel_after": 5}))
    data = assert_ok(bot.http.post("/dead-mans-switch", json={"cancel_after": 0}))
    assert data == {"cancel_after": 0.0, "armed": False}


# -- authentication and registration ----------------------------------------------------

AUTHENTICATED = [
    ("GET", "/orders", None),
    ("POST", "/orders", {"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 1.0}),
    ("DELETE", "/orders", None),
    ("DELETE", "/orders/1", None),
    ("POST", "/quotes", {"instrument_id": "SPX", "bid_price": 1.0, "bid_quantity": 10,
                         "ask_price": 1.05, "ask_quantity": 10}),
    ("GET", "/fills", None),
    ("GET", "/positions/T0001", None),
    ("POST", "/dead-mans-switch", {"cancel_after": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize("key", [None, "", "ex_wrong", "x" * 500])
def test_missing_or_wrong_key_is_unauthorized(
    server: str, method: str, path: str, body: Any, key: str | None
) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    with httpx.Client(base_url=server, timeout=10) as client:
        before = client.get("/market/book/SPX").json()["data"]
        reply = client.request(method, path, json=body, headers=headers)
        assert_error(reply, 401, "UNAUTHORIZED")
        assert "X-RateLimit-Limit" not in reply.headers
        assert client.get("/market/book/SPX").json()["data"] == before


def register(server: str, name: str, role: str = "retail") -> httpx.Response:
    return httpx.post(f"{server}/auth/register", json={"team_name": name, "role": role})


def test_register_answers_a_key_once(server: str) -> None:
    data = assert_ok(register(server, "Key Once", "hedge_fund"), 201)
    assert (data["team_name"], data["role"]) == ("Key Once", "hedge_fund")
    with httpx.Client(base_url=server, headers={"X-API-Key": data["api_key"]}) as client:
        assert assert_ok(client.get(f"/positions/{data['team_id']}"))["role"] == "hedge_fund"


@pytest.mark.parametrize("again", ["Taken Name", "taken name", "TAKEN NAME"])
def test_team_name_taken(server: str, again: str) -> None:
    register(server, "Taken Name")  # the first time (or an earlier parameter) takes it
    teams = assert_ok(httpx.get(f"{server}/health"))["teams"]
    assert_error(register(server, again), 409, "TEAM_NAME_TAKEN")
    assert assert_ok(httpx.get(f"{server}/health"))["teams"] == teams


@pytest.mark.parametrize(("length", "status"), [(2, 400), (3, 201), (50, 201), (51, 400)])
def test_team_name_length(server: str, length: int, status: int) -> None:
    name = f"n{length}" + "x" * (length - len(f"n{length}"))
    assert len(name) == length
    reply = register(server, name)
    if status == 201:
        assert assert_ok(reply, 201)["team_name"] == name
    else:
        assert assert_error(reply, 400, "INVALID_FIELD")["details"] == {"field": "team_name"}


# -- the rate limit (SPEC section 5), on a game clock an hour per second ---------------------


@pytest.fixture(scope="module")
def slow_server() -> Iterator[str]:
    """Game time runs 3600x faster than wall time, yet the window counts wall seconds:
    a role's limit is orders per real second, whatever the game speed."""
    with run_server(sandbox(clock={"speed": 3600})) as base:
        yield base


@pytest.fixture
def slow_bots(slow_server: str) -> Iterator[Bots]:
    made: list[Bot] = []

    def make(role: str) -> Bot:
        made.append(Bot(slow_server, role))
        return made[-1]

    yield make
    for bot in made:
        bot.close()


@pytest.mark.parametrize("role", ROLES)
def test_rate_limit_per_role(slow_bots: Bots, role: str) -> None:
    bot, limit = slow_bots(role), RATE[role]
    for n in range(limit):
        reply = bot.order("SPX", "buy", 1, 1.0 + n / 100)
        placed(reply)
        assert reply.headers["X-RateLimit-Limit"] == str(limit)
        assert reply.headers["X-RateLimit-Remaining"] == str(limit - n - 1)
    refused = bot.order("SPX", "buy", 1, 2.0)
    error = assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert int(refused.headers["Retry-After"]) >= 1
    assert error["details"]["retry_after_ms"] > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert len(open_orders(bot)) == limit


AUTHENTICATED_READS = [
    ("GET", "/orders", None),
    ("GET", "/fills", None),
    ("DELETE", "/orders", None),
    ("DELETE", "/orders/424242", None),  # 404, still authenticated
    ("POST", "/orders", {"instrument_id": "SPX"}),  # 400, still authenticated
    ("POST", "/orders", {"instrument_id": "SPX", "side": "buy", "quantity": 1, "price": 1.0}),
    ("POST", "/dead-mans-switch", {"cancel_after": 0}),
]


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED_READS)
def test_every_authenticated_answer_carries_the_budget(
    slow_bots: Bots, method: str, path: str, body: Any
) -> None:
    bot = slow_bots("hedge_fund")
    placed(bot.order("SPX", "buy", 1, 1.0))  # spends one of five
    reply = bot.http.request(method, path, json=body)
    assert reply.headers["X-RateLimit-Limit"] == "5"
    spent = 2 if reply.status_code == 201 else 1
    assert reply.headers["X-RateLimit-Remaining"] == str(5 - spent)
    own = bot.http.get(f"/positions/{bot.team_id}")
    assert own.headers["X-RateLimit-Limit"] == "5"
