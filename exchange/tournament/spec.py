"""The tournament file: which teams play, on which days, in which format.

    name: spring-final
    scenario: ../scenarios/all-roles.yaml   # the base day (its teams and script are dropped)
    # preset: demo                          # ...or a preset, with `start` below
    start: "2026-12-01T09:30:00-06:00"      # optional: overrides the base's
    duration: 2h                            # optional: overrides the base's
    seeds: 20                               # 1..20, or a list: [3, 17, 99]
    format: groups                          # field | solo | groups, or a list of them
    group_size: 4                           # groups: K teams drawn per round from its seed
    time_budget: 60                         # seconds a bot may think in one day
    seed: 1                                 # the draw of groups and the bootstrap
    teams:
      - name: Alpha
        role: market_maker
        strategy: bots.market_maker:MarketMaker(levels=3)   # as `replay --swap` takes it
      - name: Beta
        role: hedge_fund
        strategy: teams/beta.py:Beta(aggression=0.5)         # a team's own file

A path in `scenario` or in a team's file is relative to the tournament file. A team's
file is read once, here, and its text travels with each day to the workers, so a cluster
needs no shared disk for the bots.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import msgspec

from exchange.config import preset_names
from exchange.domain.types import Role
from exchange.replay.scenario import Expectations, Scenario, load_scenario, seconds
from exchange.replay.strategies import parse_spec

Format = Literal["field", "solo", "groups"]
FORMATS: tuple[Format, ...] = ("field", "solo", "groups")
PLAYING_ROLES = (Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE)


class EntrantSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    role: Role
    strategy: str
    """`module:Class(k=v)`, or `path/to/file.py:Class(k=v)` for a team's own file."""


class TournamentFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    teams: list[EntrantSpec]
    scenario: str | None = None
    preset: str | None = None
    config: dict[str, Any] = {}
    start: dt.datetime | None = None
    duration: str | int | None = None
    step_seconds: int | None = None
    seeds: int | list[int] = 10
    format: Format | list[Format] = "field"
    group_size: int = 2
    time_budget: float = 120.0
    seed: int = 1


class Entrant(msgspec.Struct, frozen=True):
    """A team as the workers get it: its strategy resolved, its file's text if it has one."""

    name: str
    role: Role
    target: str
    params: dict[str, Any]
    source: str | None = None
    """The text of the team's own file; `target` then names the module it is loaded as."""


class Tournament(msgspec.Struct, frozen=True):
    name: str
    base: Scenario
    teams: list[Entrant]
    seeds: list[int]
    formats: list[Format]
    group_size: int
    time_budget: float
    seed: int


def load_tournament(path: str | Path) -> Tournament:
    """Read and check a tournament file; ValueError names the file and what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = msgspec.convert(msgspec.yaml.decode(data), TournamentFile)
        return resolve(raw, path.parent)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def resolve(raw: TournamentFile, here: Path) -> Tournament:
    """Check what the types cannot and make the base day and the teams."""
    names = [t.name for t in raw.teams]
    if not names:
        raise ValueError("teams: a tournament needs at least one team")
    if len(set(names)) != len(names):
        raise ValueError("teams: team names must be unique")
    formats = [raw.format] if isinstance(raw.format, str) else list(dict.fromkeys(raw.format))
    if not formats:
        raise ValueError("format: name at least one of field, solo, groups")
    if "groups" in formats and not 1 <= raw.group_size <= len(names):
        raise ValueError(f"group_size must be from 1 to the {len(names)} teams")
    if raw.time_budget <= 0:
        raise ValueError("time_budget must be positive (seconds)")
    for team in raw.teams:
        if team.role not in PLAYING_ROLES:
            raise ValueError(f"team {team.name}: role must be one of market_maker, "
                             "hedge_fund, arbitrage")  # fmt: skip
    return Tournament(
        raw.name, base_scenario(raw, here), [_team(t, here) for t in raw.teams],
        _seeds(raw.seeds), formats, raw.group_size, raw.time_budget, raw.seed,
    )  # fmt: skip


def base_scenario(raw: TournamentFile, here: Path) -> Scenario:
    """The day every game starts from: the base scenario or preset, without its teams,
    script or expectations, with the file's own overrides on top."""
    if (raw.scenario is None) == (raw.preset is None):
        raise ValueError("name either a base `scenario` file or a `preset`")
    if raw.preset is not None and raw.preset not in preset_names():
        raise ValueError(f"unknown preset {raw.preset!r}; choose from {preset_names()}")
    if raw.scenario is not None:
        base = load_scenario(here / raw.scenario)
    else:
        base = Scenario(name=raw.name, preset=raw.preset)
    changes: dict[str, Any] = {"participants": [], "script": [], "expect": Expectations()}
    changes["config"] = {**base.config, **raw.config}
    if raw.start is not None:
        changes["start"] = raw.start
    if raw.duration is not None:
        seconds(raw.duration)
        changes["duration"] = raw.duration
    if raw.step_seconds is not None:
        changes["step_seconds"] = raw.step_seconds
    return msgspec.structs.replace(base, **changes)


def _seeds(value: int | list[int]) -> list[int]:
    if isinstance(value, int):
        if value < 1:
            raise ValueError("seeds: a count must be at least 1")
        return list(range(1, value + 1))
    if not value or len(set(value)) != len(value):
        raise ValueError("seeds: a list must be non-empty, without repeats")
    return list(value)


def _team(entry: EntrantSpec, here: Path) -> Entrant:
    target, params = parse_spec(entry.strategy)
    module, sep, cls = target.rpartition(":")
    if not sep or not module or not cls:
        raise ValueError(f"team {entry.name}: a strategy is module:Class, not {target!r}")
    if not module.endswith(".py"):
        return Entrant(entry.name, entry.role, target, params)
    file = here / module
    try:
        source = file.read_text()
    except OSError as exc:
        raise ValueError(f"team {entry.name}: cannot read {file}: {exc.strerror}") from None
    try:
        compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise ValueError(f"team {entry.name}: {file}: {exc}") from None
    return Entrant(entry.name, entry.role, f"{file.stem}:{cls}", params, source)
