"""The organiser's API (`/admin`, SPEC section 8): its requests and the `data` of its answers.

Requests forbid unknown fields like the bots' (`exchange/wire/models.py`); an action that
takes nothing accepts an empty body or `{}`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from exchange.wire.models import PhaseText, Request, RoleText, TeamName, TeamRole

GameStateText = Annotated[
    str, Meta(extra_json_schema={"enum": ["waiting", "running", "paused", "stopped"]})
]

MIN_SPEED, MAX_SPEED = 0.1, 10_000.0
"""Game seconds per wall second an organiser may set: from a slowed game to a day in
about 2 wall seconds."""
MAX_HEADLINE = 200
MAX_IMPORT = 1000
"""Teams one import may bring (the body's byte limit usually binds first)."""
Member = Annotated[str, Meta(min_length=1, max_length=100)]


class TeamEntry(Request, frozen=True):
    """One team of an import: what a line of the organiser's CSV says."""

    team_name: TeamName
    role: TeamRole
    members: Annotated[tuple[Member, ...], Meta(max_length=20)] = ()


class ImportRequest(Request, frozen=True):
    teams: Annotated[list[TeamEntry], Meta(min_length=1, max_length=MAX_IMPORT)]


class AssignRolesRequest(Request, frozen=True):
    roles: Annotated[list[TeamRole], Meta(max_length=4)]
    """The roles self-registered teams are given in turn; empty: teams choose."""


class IssuedKey(msgspec.Struct, frozen=True):
    """A team and its new API key: shown in this answer only (kept hashed)."""

    team_id: str
    team_name: str
    role: str
    api_key: str
    members: tuple[str, ...] = ()


class NoArguments(Request, frozen=True):
    pass


class ClockRequest(Request, frozen=True):
    speed: Annotated[float, Meta(ge=MIN_SPEED, le=MAX_SPEED)]
    """Game seconds per wall second."""


class NewsRequest(Request, frozen=True):
    headline: Annotated[str, Meta(min_length=1, max_length=MAX_HEADLINE)]


class GameStatus(msgspec.Struct, frozen=True):
    """Where the game stands: the answer of every game-wide action."""

    state: GameStateText
    """`waiting` (configured to start paused), `running`, `paused` or `stopped`."""
    phase: PhaseText
    game_time: str
    clock_speed: float
    paused: bool
    """The game clock stands still (waiting or paused)."""
    stopped: bool
    halted: list[str]
    """Instruments halted by the organiser."""
    disabled_teams: list[str]
    registration_open: bool
    """Whether `POST /auth/register` takes new teams."""
    registration: str
    """`open` (teams choose their role), `closed`, or `assigned` (open, the roles
    given by the organiser's `assigned_roles`)."""
    assigned_roles: list[str]
    teams: int
    """Teams registered, the house's own included."""
    max_teams: int
    """The most teams the game takes (`server.max_teams`)."""
    next_open: str | None = None
    """While the market is closed: the game time it next opens (else null)."""
    round: int = 1
    """The round being played (`POST /admin/new-round` starts the next)."""


class NewsPublished(msgspec.Struct, frozen=True):
    headline: str
    game_time: str


class InstrumentStatus(msgspec.Struct, frozen=True):
    instrument_id: str
    halted: bool
    phase: PhaseText


class TeamStatus(msgspec.Struct, frozen=True):
    """One team as the organiser sees it: who, whether it may trade, how it stands."""

    team_id: str
    name: str
    role: RoleText
    disabled: bool
    connections: int
    """Open WebSocket streams."""
    open_orders: int
    positions: int
    """Instruments with a non-zero position."""
    cash: float
    total_pnl: float


class TeamChange(msgspec.Struct, frozen=True):
    team_id: str
    disabled: bool
    cancelled_orders: int


class ActionView(msgspec.Struct, frozen=True):
    """One organiser action as recorded (and stored in `admin_actions`)."""

    game_time: str
    wall_time: str
    action: str
    arguments: dict[str, Any]
    outcome: str
    """`ok`, or the error code the action was refused with."""
