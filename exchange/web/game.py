"""What the web layer is given: the running game, as the protocol `Game`.

The assembly (`exchange.app.Exchange`) is the one implementation; the web layer sits
below it (docs/architecture.md, the layer rule), so it names what it reads and calls
here rather than importing the assembly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from exchange.clock import Clock
from exchange.config import GameConfig
from exchange.control import GameControl
from exchange.domain.session import TradingSession
from exchange.domain.types import InstrumentId, Role, TeamId, Ticks
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.history import MarketHistory
from exchange.pipeline.items import InFlight
from exchange.pipeline.looplag import LoopLag
from exchange.pipeline.metrics import Metrics
from exchange.pipeline.publisher import Release
from exchange.pipeline.scoring import ScoreKeeper
from exchange.pipeline.supervisor import Supervisor
from exchange.pipeline.watchdog import Watchdog
from exchange.pipeline.writer import Writer
from exchange.teams import Team, Teams


class Game(Protocol):
    """The running game as the routes, the stream and `/metrics` see it."""

    @property
    def renewing(self) -> bool:
        """A new round or a reset is under way: new requests are refused (503)."""

    @property
    def on_renew(self) -> list[Callable[[], None]]:
        """Called once the game is built afresh (the web layer forgets what it cached)."""

    @property
    def config(self) -> GameConfig: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def venue(self) -> ExchangeVenue: ...
    @property
    def session(self) -> TradingSession: ...
    @property
    def teams(self) -> Teams: ...
    @property
    def orders(self) -> asyncio.Queue[Any]: ...
    @property
    def inflight(self) -> InFlight: ...
    @property
    def release(self) -> Release:
        """What durable outboxes sent: the fills served, the accounts as committed."""

    @property
    def fanout(self) -> Fanout: ...
    @property
    def history(self) -> MarketHistory: ...
    @property
    def writer(self) -> Writer | None: ...
    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def watchdog(self) -> Watchdog: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def loop_lag(self) -> LoopLag: ...
    @property
    def scores(self) -> ScoreKeeper: ...
    @property
    def control(self) -> GameControl: ...

    def team(self, team_id: TeamId) -> Team | None: ...
    def marks(self) -> dict[InstrumentId, Ticks]: ...
    def queue_depths(self) -> dict[str, int]: ...
    async def register(self, name: str, role: Role, stream: bool = True) -> tuple[Team, str]: ...
    async def caught_up(self) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
