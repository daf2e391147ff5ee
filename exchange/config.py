"""The game's config: YAML files layered over the presets, decoded once into Structs.

Layers, later wins: `presets/roles.yaml` (the SPEC's role table), a named preset
(`presets/<name>.yaml`), then the organiser's files. Mappings merge key by key; lists
and scalars replace. Unknown keys are errors that name their path, so a typo in a config
fails at start, not in the middle of a game.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import msgspec

from exchange.domain.constraint_config import ConstraintConfig
from exchange.domain.fees import NO_FEES, FeeSchedule
from exchange.domain.instruments import ChainSpec
from exchange.domain.market.simulator import MarketConfig
from exchange.domain.phases import AlwaysOpen, Schedule, TradingDaySchedule
from exchange.domain.scoring.config import ScoringConfig
from exchange.domain.ticks import to_ticks
from exchange.domain.types import Role

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class FeesConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per contract, positive when the team receives it (SPEC section 3)."""

    maker: float = 0.0
    taker: float = 0.0

    def schedule(self) -> FeeSchedule:
        return FeeSchedule(to_ticks(self.maker), to_ticks(self.taker))


class RoleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fees: FeesConfig = FeesConfig()
    constraints: list[ConstraintConfig] = []


class ScheduleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    always_open: bool = False
    """Continuous trading at all hours (the sandbox)."""
    timezone: str = "America/Chicago"
    pre_open: dt.time = dt.time(8, 0)
    opening_auction: dt.time = dt.time(9, 29, 30)
    continuous: dt.time = dt.time(9, 30)
    close: dt.time = dt.time(15, 0)
    trading_days: tuple[str, ...] = ("tuesday", "thursday")
    tick_seconds: int = 300
    """The unit of simulation: 5 minutes of game time."""
    starts_on_start: bool = False
    """The day runs from the game's start, on any weekday: a new game's clock starts at
    `pre_open` on today's date (in `timezone`) and every day is a trading day, so the
    market is never found closed for the day of the week (the `game` preset)."""

    def __post_init__(self) -> None:
        unknown = [d for d in self.trading_days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown trading days {unknown}; use {', '.join(WEEKDAYS)}")

    def build(self) -> Schedule:
        if self.always_open:
            return AlwaysOpen()
        days = range(7) if self.starts_on_start else (WEEKDAYS.index(d) for d in self.trading_days)
        return TradingDaySchedule(
            ZoneInfo(self.timezone), self.pre_open, self.opening_auction, self.continuous,
            self.close, tuple(days),
        )  # fmt: skip

    def day_start(self, wall: dt.datetime) -> dt.datetime:
        """`pre_open` on the date `wall` falls on, in the schedule's zone."""
        zone = ZoneInfo(self.timezone)
        return dt.datetime.combine(wall.astimezone(zone).date(), self.pre_open, zone)


class ClockConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    start: dt.datetime | None = None
    """Game time at start-up (with its zone); None: the wall clock's now."""
    speed: float = 1.0
    """Game seconds per wall second."""
    start_paused: bool = False
    """Wait, the clock stopped, until the organiser starts the game (`POST /admin/start`)."""

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("clock speed must be positive")
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError(
                "clock start needs a time zone offset, e.g. 2026-11-24T07:59:00-06:00"
            )


MAX_TEAM_NUMBER = 9_999
"""Team ids are `T` and four digits."""


class MarketHistoryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What `GET /market/history` keeps in memory for the dashboard (a reload, a late
    joiner): each list is a ring of at most this many entries, the oldest dropped."""

    prices: int = 2_000
    """Underlying samples (one per underlying every `sample_seconds` of game time)."""
    trades: int = 500
    news: int = 200
    """Headlines and phase changes."""
    leaderboard: int = 1_000
    """Leaderboard samples (one every `sample_seconds` of game time)."""
    sample_seconds: float = 30.0
    """Game seconds between samples of prices and of the leaderboard."""

    def __post_init__(self) -> None:
        if min(self.prices, self.trades, self.news, self.leaderboard) < 1:
            raise ValueError("server.market_history's sizes must be at least 1")
        if self.sample_seconds <= 0:
            raise ValueError("server.market_history.sample_seconds must be positive")


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits of the running server; each bound keeps memory flat under overload."""

    order_queue_size: int = 10_000
    matcher_queue_size: int = 2_000
    trade_queue_size: int = 10_000
    history_seconds: float = 60.0
    """Wall seconds of stream messages kept per team for resume (`/ws?since=`): the
    resume window. What a team was sent longer ago is dropped, so the histories hold a
    minute of traffic however long the game runs (within the two bounds below too)."""
    history_size: int = 10_000
    """Stream messages kept per team for resume, at most; more than `max_backlog`, so a
    client cut off for being slow can resume from where it was (within the window)."""
    max_backlog: int = 2_000
    """Unsent stream messages a connection may hold before it is cut off (close 4008)."""
    history_bytes: int = 16 << 20
    """Bytes of stream messages kept per team for resume (a broadcast counted in every
    team's, though it is kept once); more than `max_backlog_bytes`."""
    max_backlog_bytes: int = 4 << 20
    """Bytes of unsent stream messages a connection may hold before it is cut off (4008)."""
    stall_check: float = 5.0
    """Seconds between checks for connections whose peer does not read: one whose send has
    waited since the previous check is cut off (4008), so within twice this, well before
    the WebSocket keepalive (20 s ping, 20 s timeout) would close it with 1011."""
    max_teams: int = 1_000
    """Teams a game takes, the house's own included; `POST /auth/register` past it is
    refused (409 `TEAM_LIMIT_REACHED`)."""
    registration_open: bool = True
    """Whether `POST /auth/register` takes new teams at start (else 403
    `REGISTRATION_CLOSED`); the organiser opens and closes it with `/admin/registration`."""
    assigned_roles: tuple[Role, ...] = ()
    """Open registration with the roles fixed by the organiser: a team that registers
    itself is given the one of these roles that has the fewest teams so far (the first on
    a tie), whatever it asked for. Empty: each team chooses its role."""
    heartbeat_interval: float = 5.0
    market_data_interval: float = 0.1
    """Market data is conflated to at most one update per instrument per interval."""
    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 32 * 1024
    """A request's line and headers, in bytes; a longer head is answered 431."""
    header_timeout: float = 10.0
    """Seconds a client has to send a request's line and headers (from connecting, or
    from the first byte on a kept-alive connection); then 408, or a close if it sent
    nothing."""
    max_connections: int = 1000
    """Open HTTP and WebSocket connections; a request or upgrade past it is answered 503."""
    idempotency_keys: int = 256
    """`request_id`s remembered per team: each costs about 600 bytes (the request and its
    answer), so a team's are at most about 150 KiB; at the 10 orders a second of a
    market maker, 25 seconds of retries."""
    cors_origins: tuple[str, ...] = ("*",)
    batch_rows: int = 1000
    """The database writer commits at most this many rows per transaction."""
    linger: float = 0.0
    """Seconds the writer may wait for more rows before committing a partial batch (a
    fill's report may wait this much longer). 0: it commits whatever has gathered as
    soon as its queues are empty, and what arrives during that commit goes into the
    next, so batches grow with the load by themselves. A wait helps no one when every
    client waits for its answer (nothing more arrives): it only slows them all."""
    db_max_pages: int | None = None
    """The database file may grow to at most this many pages (SQLite's max_page_count,
    4 KiB each); past it a commit fails as on a full disk (order entry closes with 503
    until space is freed). None: only the disk limits it."""
    wal_checkpoint_bytes: int = 16 * 1024 * 1024
    """The writer checkpoints (and empties) the WAL once it is this large, and at most
    `checkpoint_interval` seconds apart: the WAL stays near this size under load."""
    checkpoint_interval: float = 5.0
    snapshot_interval: float = 30.0
    """Seconds between position snapshots (and saves of the game clock) in the database."""
    market_history: MarketHistoryConfig = MarketHistoryConfig()
    admin_token: str | None = None
    """The organiser's token for `/admin`; the environment's `EXCHANGE_ADMIN_TOKEN` wins.
    With neither, every `/admin` endpoint answers 403 `ADMIN_DISABLED`."""

    def __post_init__(self) -> None:
        if self.history_size <= self.max_backlog:
            raise ValueError("server.history_size must exceed server.max_backlog")
        if self.db_max_pages is not None and self.db_max_pages < 1:
            raise ValueError("server.db_max_pages must be at least 1")
        if self.wal_checkpoint_bytes < 1 or self.checkpoint_interval <= 0:
            raise ValueError("server.wal_checkpoint_bytes and checkpoint_interval must be > 0")
        if min(self.max_header_bytes, self.header_timeout, self.max_connections) <= 0:
            raise ValueError(
                "server.max_header_bytes, header_timeout, max_connections must be > 0"
            )
        if self.history_bytes <= self.max_backlog_bytes:
            raise ValueError("server.history_bytes must exceed server.max_backlog_bytes")
        if self.stall_check <= 0:
            raise ValueError("server.stall_check must be positive")
        if not self.history_seconds > 0:
            raise ValueError("server.history_seconds must be positive")
        if not 1 <= self.max_teams <= MAX_TEAM_NUMBER:
            raise ValueError(f"server.max_teams must be between 1 and {MAX_TEAM_NUMBER}")
        if Role.HOUSE in self.assigned_roles:
            raise ValueError("server.assigned_roles may not include house")
        if self.admin_token is not None:
            check_admin_token(self.admin_token, "server.admin_token")


class MarketSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The simulated market (SPEC section 6) and the server's own participants."""

    enabled: bool = True
    """Simulate SPX and SPY, news and signals; off in the sandbox and bench presets."""
    house_liquidity: bool = True
    """The house quotes SPX and SPY around their simulated prices."""
    house_options_maker: bool = False
    """The house quotes every option around fair value (the demo: a live chain)."""
    retail: bool = True
    """The simulated retail crowd trades the options (`model.retail.traders` teams)."""
    house_interval: float = 0.1
    """Wall seconds between the market snapshots the house's strategies are shown."""
    fair_value_refresh: float = 2.0
    """Wall seconds between market data sent only because a fair value moved."""
    model: MarketConfig = MarketConfig()


class GameConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seed: int = 1
    """The one seed every random generator of the game derives from (SPEC section 6)."""
    instruments: ChainSpec = ChainSpec()
    schedule: ScheduleConfig = ScheduleConfig()
    clock: ClockConfig = ClockConfig()
    server: ServerConfig = ServerConfig()
    market: MarketSettings = MarketSettings()
    roles: dict[Role, RoleConfig] = {}
    disabled_constraints: tuple[str, ...] = ()
    """Constraint types switched off for every role (the bench preset lifts limits)."""
    scoring: ScoringConfig = ScoringConfig()
    """Role KPIs, penalties and the leaderboard's interval (docs/scoring.md)."""

    def __post_init__(self) -> None:
        if self.schedule.starts_on_start and self.clock.start is not None:
            raise ValueError("schedule.starts_on_start sets the clock's start: drop clock.start")
        known = {str(t.__struct_config__.tag) for t in get_args(ConstraintConfig)}
        unknown = sorted(set(self.disabled_constraints) - known)
        if unknown:
            raise ValueError(f"unknown constraint types {unknown}; known: {sorted(known)}")

    def fees(self) -> dict[Role, FeeSchedule]:
        out = {role: cfg.fees.schedule() for role, cfg in self.roles.items()}
        out.setdefault(Role.HOUSE, NO_FEES)
        return out

    def constraints(self) -> dict[Role, list[ConstraintConfig]]:
        off = set(self.disabled_constraints)
        return {
            role: [c for c in cfg.constraints if c.name not in off]
            for role, cfg in self.roles.items()
        }


ADMIN_TOKEN_ENV = "EXCHANGE_ADMIN_TOKEN"
MIN_ADMIN_TOKEN = 8


def check_admin_token(token: str, origin: str) -> None:
    """Refuse a token that is easy to guess or to mistype into a header."""
    if len(token) < MIN_ADMIN_TOKEN or any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError(
            f"{origin}: the admin token needs at least {MIN_ADMIN_TOKEN} characters "
            "and no spaces or control characters"
        )


def admin_token(server: ServerConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The organiser's token: the environment's, else the config's, else None (admin off)."""
    token = environ.get(ADMIN_TOKEN_ENV) or None
    if token is None:
        return server.admin_token
    check_admin_token(token, ADMIN_TOKEN_ENV)
    return token


def preset_names() -> list[str]:
    files = resources.files("exchange.presets").iterdir()
    return sorted(
        f.name[:-5] for f in files if f.name.endswith(".yaml") and f.name != "roles.yaml"
    )


def load_config(
    files: Iterable[str | Path] = (),
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> GameConfig:
    """Merge the layers and decode; raise ValueError naming the file or the bad path."""
    merged = _read_preset("roles")
    if preset is not None:
        if preset not in preset_names():
            raise ValueError(f"unknown preset {preset!r}; choose from {preset_names()}")
        merged = merge(merged, _read_preset(preset))
    for path in files:
        merged = merge(merged, _read(Path(path).read_bytes(), str(path)))
    merged = merge(merged, dict(overrides or {}))
    try:
        return msgspec.convert(merged, GameConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid game config: {exc}") from None


def merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key, anything else in `top` replaces what is in `base`."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_preset(name: str) -> dict[str, Any]:
    text = resources.files("exchange.presets").joinpath(f"{name}.yaml").read_bytes()
    return _read(text, f"preset {name}")


def _read(data: bytes, origin: str) -> dict[str, Any]:
    try:
        value = msgspec.yaml.decode(data) or {}
    except msgspec.DecodeError as exc:
        raise ValueError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{origin}: the top level must be a mapping")
    return value
