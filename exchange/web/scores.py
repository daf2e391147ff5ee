"""`/leaderboard` and `/analytics/{team_id}`: the scores (SPEC section 7).

The leaderboard is public; a team's analytics are its own, or any team's for a request
carrying the organiser's token.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from exchange.domain.types import TeamId
from exchange.web.game import Game
from exchange.web.http import Api, Handler, answer
from exchange.wire.errors import ApiError


class Scores:
    """The standings, overall and by role, and each team's post-game analytics."""

    def __init__(self, api: Api, is_admin: Callable[[Request], bool]) -> None:
        self.api = api
        self.exchange: Game = api.exchange
        self.is_admin = is_admin
        """Whether a request carries the right admin token (a wrong one is no answer)."""

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/leaderboard", self.leaderboard),
            ("GET", "/analytics/{team_id}", self.analytics),
        ]

    async def leaderboard(self, request: Request, request_id: str) -> Response:
        return answer(self.exchange.scores.leaderboard(), request_id)

    async def analytics(self, request: Request, request_id: str) -> Response:
        """A team's post-game analytics (markouts, fees, timeline): its own only, or any
        team's with the admin token."""
        wanted = request.path_params["team_id"]
        if not self.is_admin(request):
            team = self.api.auth(request)
            if wanted != team.team_id:
                if self.exchange.team(TeamId(wanted)) is None:
                    raise ApiError("NOT_FOUND", f"no team {wanted!r}")
                raise ApiError("FORBIDDEN", "a team sees only its own analytics")
        elif self.exchange.team(TeamId(wanted)) is None:
            raise ApiError("NOT_FOUND", f"no team {wanted!r}")
        report = self.exchange.scores.report(TeamId(wanted))
        if report is None:
            raise ApiError("NOT_FOUND", f"no scores for team {wanted!r} yet")
        return answer(report, request_id)
