"""`/health`: whether the game runs as it should, for anyone (no key, no file paths)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from exchange.web.game import Game
from exchange.web.http import Api, Handler, answer
from exchange.wire.codec import (
    game_time,
)
from exchange.wire.models import (
    HealthView,
)


class Health:
    """The game's state, its tasks' restarts and the database's, in one answer."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exchange: Game = api.exchange

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/health", self.health),
        ]

    async def health(self, request: Request, request_id: str) -> Response:
        e = self.exchange
        database = None if e.writer is None else e.writer.health()
        failing = e.supervisor.failing()
        if database is not None:
            database["last_error"] = without_paths(database["last_error"])
            if not database["ok"]:
                failing.append("database")
        game = e.control.status()
        data = HealthView(
            "degraded" if failing else "ok", e.venue.phase.value,
            game_time(e.clock.now()), getattr(e.clock, "speed", 1.0), len(e.teams),
            e.fanout.connections(), e.queue_depths(),
            {k: v for k, v in e.supervisor.restarts.items() if v}, database,
            game.state, game.paused, game.stopped, game.halted, game.next_open, failing,
            e.loop_lag.summary(),
        )  # fmt: skip
        return answer(data, request_id)


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\":\\/]+){2,}")
"""An absolute file path (two components or more), POSIX or Windows."""


def without_paths(text: str | None) -> str | None:
    """`text` with each file path cut to its last component: /health is public, and a
    database error names the file it failed on."""
    if text is None:
        return None
    return _PATH.sub(lambda m: re.split(r"[\\/]", m.group())[-1], text)
