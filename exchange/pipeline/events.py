"""The event generator's delivery: news to everyone, each signal only to its role.

The simulator draws news and signals with each tick (their effects belong to the price
path); these tasks hold each one until the game time it belongs to, then publish it:
a headline to every team's stream (the effect is never shown), a signal to the streams
of the teams of its role and no one else (SPEC section 6). A headline the organiser
publishes by hand (`/admin/news`) goes out at once; the model applies its effect from the
next tick and hands it back with that tick, when it is not sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from exchange.clock import Clock
from exchange.domain.market.news import NewsEvent
from exchange.domain.types import Role
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.simulator import sleep_until
from exchange.store import rows
from exchange.teams import Teams
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
        on_news: Callable[[int, str], None] | None = None,
        on_signal: Callable[[Role, int, str], None] | None = None,
    ) -> None:
        self.clock = clock
        self.fanout = fanout
        self.teams = teams
        self.events = events
        self.signals = signals
        self.save_row = save_row
        self.published = {"event": 0, "signal": 0}
        self.announced: list[NewsEvent] = []
        """The organiser's headlines, published already, that the simulator has yet to
        hand over with the tick their effect lands in."""
        self.on_news, self.on_signal = on_news, on_signal
        """Onlookers (the scores): told of every headline and signal as it goes out."""

    async def news(self) -> None:
        while True:
            event = await self.events.get()
            if self._was_announced(event):
                continue
            await sleep_until(self.clock, event.ts_ns)
            self._publish(event)

    def announce(self, event: NewsEvent) -> None:
        """An organiser's headline: everyone sees it now, and not again with its tick."""
        self._publish(event)
        self.announced.append(event)

    def _publish(self, event: NewsEvent) -> None:
        publish_news(self.fanout, self.save_row, event)
        self.published["event"] += 1
        if self.on_news is not None:
            self.on_news(event.ts_ns, event.headline)

    def _was_announced(self, event: NewsEvent) -> bool:
        for i, announced in enumerate(self.announced):
            if announced is event:  # the same object the model handed back, not a look-alike
                del self.announced[i]
                return True
        return False

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
        if self.on_signal is not None:
            self.on_signal(role, ts_ns, kind)
        if self.save_row is not None:
            self.save_row("signals", rows.signal_row(ts_ns, role, kind, details))


def publish_news(fanout: Fanout, save_row: SaveRow | None, event: NewsEvent) -> None:
    """A headline to every team's stream (never its effect), and its row in `events`."""
    fanout.broadcast("event", Event(event.headline, game_time(event.ts_ns)))
    if save_row is not None:
        effect = {"regime_direction": event.regime_direction, "jump": event.jump}
        save_row("events", rows.event_row(event.ts_ns, event.headline, event.kind.value, effect))
