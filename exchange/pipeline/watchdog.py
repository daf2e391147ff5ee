"""The dead-man's switch: cancel a team's orders when its bot has gone quiet.

A team arms it with `cancel_after` seconds; any authenticated request or WebSocket
message counts as a sign of life. Wall-clock time, not game time: it is about the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from exchange.domain.types import CancelReason, TeamId
from exchange.pipeline.items import CancelTeam

log = logging.getLogger("exchange.watchdog")

CHECK_EVERY = 0.25


class Watchdog:
    def __init__(self, orders: asyncio.Queue[Any], may_cancel: Callable[[], bool]) -> None:
        self.orders = orders
        self.may_cancel = may_cancel
        """Whether the phase accepts cancels: during the auction's freeze the switch waits."""
        self.cancel_after: dict[TeamId, float] = {}
        self.last_seen: dict[TeamId, float] = {}
        self.fired = 0

    def seen(self, team_id: TeamId) -> None:
        self.last_seen[team_id] = time.monotonic()

    def arm(self, team_id: TeamId, seconds: float) -> None:
        self.seen(team_id)
        if seconds > 0:
            self.cancel_after[team_id] = seconds
        else:
            self.cancel_after.pop(team_id, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        if not self.may_cancel():
            return
        for team_id, seconds in list(self.cancel_after.items()):
            if now - self.last_seen.get(team_id, now) <= seconds:
                continue
            try:
                self.orders.put_nowait(
                    CancelTeam(
                        team_id, None, None, "dead-mans-switch", CancelReason.DEAD_MANS_SWITCH
                    )
                )
            except asyncio.QueueFull:
                continue  # try again on the next check
            log.warning("dead-man's switch fired", extra={"team_id": team_id})
            self.fired += 1
            # Fires once per silence: the next sign of life re-arms it.
            self.last_seen[team_id] = float("inf")
