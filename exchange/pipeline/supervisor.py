"""Starts and stops the pipeline's tasks; a task that raises is logged and restarted.

A task that crashed in the last `CRASH_WINDOW` seconds counts as failing (`failing`):
a task crash-looping on bad state crashes again well within it (the back-off is at most
5 seconds), so /health stays `degraded` for as long as the loop lasts, and a while
after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("exchange.supervisor")

TaskBody = Callable[[], Coroutine[Any, Any, None]]
CRASH_WINDOW = 30.0
"""Seconds after its last crash (or return) that a restarted task still counts as failing."""


class Supervisor:
    def __init__(self, first_backoff: float = 0.05, max_backoff: float = 5.0) -> None:
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}
        self.last_crash: dict[str, float] = {}
        """Monotonic time of each task's latest crash (or return)."""
        self.stopping = False

    def start(self, name: str, body: TaskBody) -> None:
        """Run `body` as the task `name`; ignored once the supervisor is stopping (a task
        that lists an instrument as it is cancelled must not leave a matcher running)."""
        if self.stopping:
            log.info("not started: stopping", extra={"task": name})
            return
        self.restarts.setdefault(name, 0)
        self.tasks[name] = asyncio.get_running_loop().create_task(
            self._keep(name, body), name=name
        )

    async def _keep(self, name: str, body: TaskBody) -> None:
        """Run `body` until cancelled; when it raises, log it, wait, and run it again."""
        backoff = self.first_backoff
        while True:
            try:
                await body()
                log.error("task returned; restarting", extra={"task": name})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task crashed; restarting", extra={"task": name})
            self.restarts[name] += 1
            self.last_crash[name] = time.monotonic()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def stop_one(self, name: str) -> None:
        """Stop one task for good (a delisted instrument's matcher)."""
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> None:
        """Cancel every task and wait for each to finish. A task may stop or start others
        while it winds down, so the tasks are taken out of the table first."""
        self.stopping = True
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def alive(self) -> dict[str, bool]:
        return {name: not task.done() for name, task in self.tasks.items()}

    def failing(self, window: float = CRASH_WINDOW) -> list[str]:
        """Tasks that have stopped, or crashed within the last `window` seconds."""
        now = time.monotonic()
        recent = {n for n, at in self.last_crash.items() if now - at < window}
        dead = {n for n, alive in self.alive().items() if not alive}
        return sorted((recent & self.tasks.keys()) | dead)
