"""`/admin`: the organiser's endpoints. Check the admin token, decode, hand the action to
the `GameControl` (which decides and records), answer in the envelope.

The token comes from `EXCHANGE_ADMIN_TOKEN`, else `server.admin_token` in the game config;
with neither, every endpoint answers 403 `ADMIN_DISABLED` (a refusal, not a fault of
the server: nothing here is unavailable, it is switched off). It travels as
`Authorization: Bearer <token>` or `X-Admin-Token: <token>`: missing is 401
`UNAUTHORIZED`, wrong is 403 `FORBIDDEN`. Digests are compared in constant time, so the
answer's timing says nothing about the token, its length included.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.config import ADMIN_TOKEN_ENV, admin_token
from exchange.control import GameControl
from exchange.domain.game_state import Refusal
from exchange.web.http import Api, answer
from exchange.wire.admin import (
    MAX_HEADLINE,
    AssignRolesRequest,
    ClockRequest,
    ImportRequest,
    NewsRequest,
    NoArguments,
)
from exchange.wire.codec import decode, whole_number
from exchange.wire.errors import ApiError

log = logging.getLogger("exchange.admin")

Handler = Callable[[Request, str], Awaitable[Response]]
ACTIONS_PAGE, MAX_ACTIONS_PAGE = 100, 1000
MAX_ID = 64
"""Longer path ids name nothing; they are refused before they reach the record."""


def admin_api(api: Api) -> AdminApi:
    """The organiser's API, sharing the bots' API's envelope, body limits and log line;
    its token from the environment or the config."""
    token = admin_token(api.exchange.config.server)
    if token is None:
        log.info(f"admin endpoints disabled: set {ADMIN_TOKEN_ENV} to enable them")
    return AdminApi(api, token)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AdminApi:
    def __init__(self, api: Api, token: str | None) -> None:
        self.api = api
        self.digest = None if token is None else _digest(token)

    @property
    def control(self) -> GameControl:
        """The exchange's control now (a new round or a reset makes a new one)."""
        return self.api.exchange.control

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/admin/status", self.status),
            ("POST", "/admin/start", self.game("start")),
            ("POST", "/admin/pause", self.game("pause")),
            ("POST", "/admin/resume", self.game("resume")),
            ("POST", "/admin/stop", self.game("stop")),
            ("POST", "/admin/clock", self.clock),
            ("POST", "/admin/news", self.news),
            ("POST", "/admin/instruments/{instrument_id}/halt", self.instrument("halt")),
            ("POST", "/admin/instruments/{instrument_id}/resume", self.instrument("unhalt")),
            ("GET", "/admin/teams", self.teams),
            ("POST", "/admin/teams/{team_id}/disable", self.team("disable")),
            ("POST", "/admin/teams/{team_id}/enable", self.team("enable")),
            ("POST", "/admin/teams/{team_id}/reissue-key", self.team("reissue_key")),
            ("POST", "/admin/teams/import", self.import_teams),
            ("POST", "/admin/registration/assign", self.assign_roles),
            ("POST", "/admin/registration/open", self.game("open_registration")),
            ("POST", "/admin/registration/close", self.game("close_registration")),
            ("GET", "/admin/actions", self.actions),
            ("POST", "/admin/new-round", self.game("new_round")),
            ("POST", "/admin/reset", self.game("reset")),
        ]
        return [Route(path, self.api.endpoint(h), methods=[m]) for m, path, h in table]

    # -- helpers -----------------------------------------------------------------------

    def authorize(self, request: Request) -> None:
        if self.digest is None:
            raise ApiError("ADMIN_DISABLED", f"admin disabled: set {ADMIN_TOKEN_ENV}")
        given = _presented(request)
        if not given:
            raise ApiError(
                "UNAUTHORIZED", "missing admin token: send Authorization: Bearer <token>"
            )
        if not hmac.compare_digest(_digest(given), self.digest):
            client = request.client.host if request.client else None
            log.warning("wrong admin token", extra={"path": request.url.path, "client": client})
            raise ApiError("FORBIDDEN", "wrong admin token")

    def is_admin(self, request: Request) -> bool:
        """The request carries the right admin token (a wrong one is no answer here)."""
        given = _presented(request)
        if self.digest is None or not given:
            return False
        return hmac.compare_digest(_digest(given), self.digest)

    async def no_body(self, request: Request) -> None:
        """An action without arguments takes an empty body or `{}`, nothing else."""
        body = await self.api.body(request)
        if body.strip():
            decode(body, NoArguments)

    async def act(
        self, request_id: str, action: str, shown: dict[str, Any] | None = None, **arguments: Any
    ) -> Response:
        outcome = await self.control.act(action, shown, **arguments)
        if isinstance(outcome, Refusal):
            raise ApiError(outcome.code, outcome.message, outcome.details, status=outcome.status)
        return answer(outcome, request_id)

    # -- endpoints ---------------------------------------------------------------------

    async def status(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        return answer(self.control.status(), request_id)

    def game(self, action: str) -> Handler:
        async def run(request: Request, request_id: str) -> Response:
            self.authorize(request)
            await self.no_body(request)
            return await self.act(request_id, action)

        return run

    async def clock(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        req = decode(await self.api.body(request), ClockRequest)
        return await self.act(request_id, "clock", speed=req.speed)

    async def news(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        req = decode(await self.api.body(request), NewsRequest)
        headline = req.headline.strip()
        if not headline or not headline.isprintable():
            message = f"headline must be 1 to {MAX_HEADLINE} printable characters, on one line"
            raise ApiError("INVALID_FIELD", message, {"field": "headline"})
        return await self.act(request_id, "news", headline=headline)

    def instrument(self, action: str) -> Handler:
        async def run(request: Request, request_id: str) -> Response:
            self.authorize(request)
            await self.no_body(request)
            instrument_id = request.path_params["instrument_id"]
            if len(instrument_id) > MAX_ID:
                raise ApiError("INVALID_INSTRUMENT", "unknown instrument", status=404)
            return await self.act(request_id, action, instrument_id=instrument_id)

        return run

    async def teams(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        return answer(self.control.teams(), request_id)

    def team(self, action: str) -> Handler:
        async def run(request: Request, request_id: str) -> Response:
            self.authorize(request)
            await self.no_body(request)
            team_id = request.path_params["team_id"]
            if len(team_id) > MAX_ID:
                raise ApiError("NOT_FOUND", "no such team")
            return await self.act(request_id, action, team_id=team_id)

        return run

    async def import_teams(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        req = decode(await self.api.body(request), ImportRequest)
        shown = {"teams": len(req.teams)}
        return await self.act(request_id, "import_teams", shown, teams=req.teams)

    async def assign_roles(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        req = decode(await self.api.body(request), AssignRolesRequest)
        return await self.act(request_id, "assign_roles", roles=list(req.roles))

    async def actions(self, request: Request, request_id: str) -> Response:
        self.authorize(request)
        limit = whole_number(request.query_params.get("limit", str(ACTIONS_PAGE)), 5)
        if limit is None or not 1 <= limit <= MAX_ACTIONS_PAGE:
            message = f"limit must be 1 to {MAX_ACTIONS_PAGE}"
            raise ApiError("INVALID_FIELD", message, {"field": "limit"})
        return answer(self.control.recent(limit), request_id)


def _presented(request: Request) -> str | None:
    """The token from `Authorization: Bearer ...`, else from `X-Admin-Token`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-admin-token") or None
