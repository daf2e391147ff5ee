"""Every REST path of the bots' API (SPEC section 8), by resource.

Each resource's endpoints live in its own module and share `web/http.py`'s `Api` (the
request id, the envelope, the team a key names, the body's limits, the way down the
pipeline). The organiser's `/admin` paths are `web/admin.py`'s; `/ws` is `web/ws.py`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.web.accounts import Accounts
from exchange.web.health import Health
from exchange.web.http import Api, route_table
from exchange.web.market import Market
from exchange.web.orders import Orders
from exchange.web.scores import Scores


def api_routes(api: Api, orders: Orders, is_admin: Callable[[Request], bool]) -> list[Route]:
    """The Routes of `/health`, `/auth/register`, `/orders`, `/quotes`, `/fills`,
    `/account`, `/positions`, `/market/*`, `/instruments`, `/dead-mans-switch`,
    `/leaderboard` and `/analytics`."""
    resources = (Health(api), Accounts(api), orders, Market(api), Scores(api, is_admin))
    return route_table(api, [entry for resource in resources for entry in resource.table()])


ORDER_ENTRY = (("POST", "/orders"), ("POST", "/quotes"))


def order_entry(
    api: Api, orders: Orders
) -> dict[tuple[str, str], Callable[[Request], Awaitable[Response]]]:
    """The order entry endpoints by (method, path), as `api_routes` wraps them: for the
    application to call without its router (`web/server.py`'s `ExchangeApp`)."""
    wanted = set(ORDER_ENTRY)
    return {
        (method, path): api.endpoint(handler)
        for method, path, handler in orders.table()
        if (method, path) in wanted
    }
