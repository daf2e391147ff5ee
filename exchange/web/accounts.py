"""`/auth/register`, `/account` and `/positions/{team_id}`: a team, its terms and its holdings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from exchange.domain.fees import NO_FEES
from exchange.domain.types import Role, TeamId
from exchange.pipeline.writer import StorageFailing
from exchange.teams import NameTaken
from exchange.web.game import Game
from exchange.web.http import Api, Handler, answer
from exchange.wire import views
from exchange.wire.codec import (
    decode,
)
from exchange.wire.errors import ApiError
from exchange.wire.models import (
    Registered,
    RegisterRequest,
)


class Accounts:
    """Registration, a team's terms (constraints, fees) and its durable positions."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exchange: Game = api.exchange

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/auth/register", self.register),
            ("GET", "/account", self.account),
            ("GET", "/positions/{team_id}", self.positions),
        ]

    async def register(self, request: Request, request_id: str) -> Response:
        req = decode(await self.api.body(request), RegisterRequest)
        self.api.refuse_while_renewing()
        refusal = self.exchange.control.registration_refusal()
        if refusal is not None:
            raise ApiError(refusal.code, refusal.message, refusal.details)
        try:
            role = self.exchange.control.role_for(Role(req.role))
            team, key = await self.exchange.register(req.team_name, role)
        except NameTaken:
            raise ApiError("TEAM_NAME_TAKEN", f"the name {req.team_name!r} is taken") from None
        except StorageFailing:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                "the exchange cannot write to its database; registration is closed until it can",
            ) from None
        return answer(Registered(team.team_id, team.name, team.role.value, key), request_id, 201)

    async def account(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        config = self.exchange.config
        constraints = config.constraints().get(team.role, [])
        fees = config.fees().get(team.role, NO_FEES)
        data = views.account_view((team.team_id, team.name, team.role.value), constraints, fees)
        return answer(data, request_id)

    async def positions(self, request: Request, request_id: str) -> Response:
        team = self.api.auth(request)
        # The accounts as of the last commit, so an answer never shows a fill that a
        # crash could take back; first let what is booked commit, unless writes fail.
        await self.exchange.caught_up()
        wanted = request.path_params["team_id"]
        if wanted != team.team_id:
            if self.exchange.team(TeamId(wanted)) is None:
                raise ApiError("NOT_FOUND", f"no team {wanted!r}")
            raise ApiError("FORBIDDEN", "a team sees only its own positions")
        e = self.exchange
        account = e.release.durable_account(team.team_id)
        return answer(views.positions_view(account, e.venue.instruments, e.marks()), request_id)
