"""A team's bot inside a tournament day: it may raise or think too long, and then it is
out of that day (its orders cancelled, its callbacks no longer called), not the day out
of the tournament.

The guard is itself a strategy, named in the day's scenario like any other
(`exchange.tournament.guard:Guarded`, with the team's own strategy as parameters), so the
replay engine plays it unchanged.
"""

from __future__ import annotations

import gc
import hashlib
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll
from exchange.domain.positions import Fill
from exchange.domain.strategy import (
    Action,
    MarketSignal,
    MarketSnapshot,
    News,
    Rejection,
    TradingStrategy,
)
from exchange.domain.types import Phase, Role, TeamId, TimeNs
from exchange.replay.strategies import build_strategy

GUARD = "exchange.tournament.guard:Guarded"


class CollectorTime:
    """The CPU time the garbage collector has spent in each thread, from its callbacks.

    A collection runs in whichever call made the object that tipped its count, and a
    full one walks everything the process holds (every day it played, in a worker).
    Billed to the bot whose callback it fell in, it made a bot well inside its budget
    lose the day ("used 0.3 s of its 0.1 s", in a test run). Counted per thread: a
    worker may play days in several threads, and a collection runs in one of them."""

    def __init__(self) -> None:
        self.by_thread: dict[int, float] = {}
        self.began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.began = time.thread_time()
        else:
            thread = threading.get_ident()
            spent = time.thread_time() - self.began
            self.by_thread[thread] = self.by_thread.get(thread, 0.0) + spent

    def spent(self) -> float:
        """What the collector has spent in this thread so far."""
        return self.by_thread.get(threading.get_ident(), 0.0)


COLLECTOR = CollectorTime()
gc.callbacks.append(COLLECTOR)


def module_for(source: str) -> str:
    """Load a team's file from its text, once per process, under a name of its own (two
    teams' `bot.py` must not meet); the module's name."""
    name = "tournament_team_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__file__ = f"<{name}>"
        sys.modules[name] = module
        try:
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
    return name


class Guarded:
    """Runs `target(**params)` and stops calling it for the rest of the day when it
    raises or when its callbacks have used more than `budget` seconds of CPU in all
    (the garbage collector's time within them left out: `CollectorTime`)."""

    def __init__(
        self, target: str, params: dict[str, Any], budget: float, source: str | None = None
    ) -> None:
        self.budget = budget
        self.used = 0.0
        self.failure: str | None = None
        self.team_id: TeamId | None = None
        self.inner: TradingStrategy | None = None
        try:
            if source is not None:
                target = f"{module_for(source)}:{target.rpartition(':')[2]}"
            self.inner = build_strategy(target, params)
        except Exception as exc:  # a team's file or class that cannot even start
            self.failure = f"could not start: {_describe(exc)}"

    def _call(self, call: Callable[[TradingStrategy], Sequence[Action] | None]) -> list[Action]:
        if self.failure is not None or self.inner is None:
            return []
        began, collecting = time.thread_time(), COLLECTOR.spent()
        try:
            actions = list(call(self.inner) or ())
        except Exception as exc:
            return self._out(f"raised {_describe(exc)}")
        self.used += time.thread_time() - began - (COLLECTOR.spent() - collecting)
        if self.used > self.budget:
            return self._out(f"used {self.used:.1f} s of its {self.budget:g} s time budget")
        return actions

    def _out(self, reason: str) -> list[Action]:
        self.failure = reason
        return [] if self.team_id is None else [CancelAll(self.team_id, None)]

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        self.team_id = team_id
        self._call(lambda s: s.on_start(team_id, role, instruments))

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        return self._call(lambda s: s.on_market(snapshot))

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        return self._call(lambda s: s.on_fill(fill))

    def on_phase(self, phase: Phase, now_ns: TimeNs) -> Sequence[Action]:
        return self._call(lambda s: s.on_phase(phase, now_ns))

    def on_news(self, news: News) -> Sequence[Action]:
        return self._call(lambda s: s.on_news(news))

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]:
        return self._call(lambda s: s.on_signal(signal))

    def on_reject(self, rejection: Rejection) -> Sequence[Action]:
        return self._call(lambda s: s.on_reject(rejection))


def _describe(exc: BaseException) -> str:
    """The exception and where in the team's code it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
