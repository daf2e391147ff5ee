"""The event generator's delivery: news to everyone, each signal only to its role.

The simulator draws news and signals with each tick (their effects belong to the price
path); these tasks hold each one until the game time it belongs to, then publish it:
a headline to every team's stream (the effect is never shown), a signal to the streams
of the teams of its role and no one else (SPEC section 6).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from exchange.clock import Clock
from exchange.domain.market.news import NewsEvent
from exchange.domain.types import Role
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.market import sleep_until
from exchange.store import rows
from exchange.web.auth import Teams
from exchange.wire.codec import game_time
from exchange.wire.messages import Event, Signal

SaveRow = Callable[[str, tuple[Any, ...]], None]


class EventDelivery:
    def __init__(
        self,
        clock: Clock,
        fanout: Fanout,
        teams: Teams,
        events: asyncio.Queue[NewsEvent],
        signals: asyncio.Queue[tuple[str, int, dict[str, Any]]],
        save_row: SaveRow | None,
    ) -> None:
        self.clock = clock
        self.fanout = fanout
        self.teams = teams
        self.events = events
        self.signals = signals
        self.save_row = save_row
        self.published = {"event": 0, "signal": 0}

    async def news(self) -> None:
        while True:
            event = await self.events.get()
            await sleep_until(self.clock, event.ts_ns)
            self.fanout.broadcast("event", Event(event.headline, game_time(event.ts_ns)))
            self.published["event"] += 1
            if self.save_row is not None:
                effect = {"regime_direction": event.regime_direction, "jump": event.jump}
                row = rows.event_row(event.ts_ns, event.headline, event.kind.value, effect)
                self.save_row("events", row)

    async def role_signals(self) -> None:
        while True:
            role_name, ts_ns, payload = await self.signals.get()
            await sleep_until(self.clock, ts_ns)
            self.deliver(Role(role_name), ts_ns, payload)

    def deliver(self, role: Role, ts_ns: int, payload: dict[str, Any]) -> None:
        details = {k: v for k, v in payload.items() if k != "signal"}
        kind = str(payload.get("signal", "signal"))
        message = Signal(kind, game_time(ts_ns), details)
        for team in self.teams.by_id.values():
            if team.role is role:
                self.fanout.stream(team.team_id, "signal", message)
        self.published["signal"] += 1
        if self.save_row is not None:
            self.save_row("signals", rows.signal_row(ts_ns, role, kind, details))
