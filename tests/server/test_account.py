"""`GET /account`: the calling team and the rules its orders are checked by, as the
role's configuration gives them (presets/roles.yaml), in the envelope."""

from __future__ import annotations

import httpx

from exchange.client import Client
from tests.server.harness import Bot, run_server, sandbox
from tests.support import assert_error, assert_ok


def test_a_market_maker_sees_its_team_limits_and_fees(server: str) -> None:
    bot = Bot(server, "market_maker", name="maker-account")
    data = assert_ok(bot.http.get("/account"))
    assert (data["team_id"], data["team_name"], data["role"]) == (
        bot.team_id, "maker-account", "market_maker",
    )  # fmt: skip
    assert data["limits"] == {
        "max_orders_per_second": 10, "min_quantity": 1, "max_quantity": 1000,
        "max_option_position": 50, "max_underlying_position": None,
        "max_total_option_position": 200, "order_types": ["limit", "market", "quote"],
        "trading_phases": ["PRE_OPEN", "CONTINUOUS"],
    }  # fmt: skip
    assert data["fees"] == {"maker": 0.02, "taker": -0.01}
    kinds = [c["type"] for c in data["constraints"]]
    assert kinds[:2] == ["trading_window", "order_rate"] and "quote_shape" in kinds
    rate = data["constraints"][1]
    assert rate["max_per_second"] == 10 and rate["error_code"] == "RATE_LIMIT_EXCEEDED"
    bot.close()


def test_a_hedge_fund_sees_its_own_role(server: str) -> None:
    bot = Bot(server, "hedge_fund")
    data = assert_ok(bot.http.get("/account"))
    assert data["role"] == "hedge_fund"
    limits = data["limits"]
    assert (limits["max_orders_per_second"], limits["max_quantity"]) == (5, 500)
    assert (limits["max_option_position"], limits["max_underlying_position"]) == (150, 200)
    assert limits["order_types"] == ["limit", "market"]
    assert data["fees"] == {"maker": 0.01, "taker": -0.02}
    assert "no_two_sided" in [c["type"] for c in data["constraints"]]
    bot.close()


def test_without_a_right_key_there_is_no_account(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        assert_error(http.get("/account"), 401, "UNAUTHORIZED")
        assert_error(http.get("/account", headers={"X-API-Key": "nope"}), 401, "UNAUTHORIZED")


def test_a_disabled_constraint_is_not_shown() -> None:
    with run_server(sandbox(disabled_constraints=["order_rate"])) as base:
        bot = Bot(base, "retail")
        data = assert_ok(bot.http.get("/account"))
        bot.close()
    assert data["limits"]["max_orders_per_second"] is None
    assert "order_rate" not in [c["type"] for c in data["constraints"]]


async def test_the_client_reads_the_account(server: str) -> None:
    team = await Client.register(server, "client-account", "arbitrage")
    async with Client(server, team.api_key) as client:
        account = await client.account()
        assert (account.team_id, account.role) == (team.team_id, "arbitrage")
        assert client.team_id == team.team_id
        assert (account.limits.max_orders_per_second, account.limits.max_quantity) == (7, 500)
