"""The days of a tournament, and playing one.

Each format makes its days from the seeds alone, so the list (and every day in it) is
the same on every run:

- `field`: every team together, one day per seed;
- `solo`: each team alone with the house and the retail crowd, one day per team and seed;
- `groups`: each seed is a round; its generator shuffles the teams, which play in groups
  of `group_size` (the last group takes the remainder).

A day is a plain value: it carries its scenario and its teams' code, so a worker
process anywhere can play it and nothing depends on where or when it ran.
"""

from __future__ import annotations

import msgspec
import numpy as np

from exchange.replay.engine import Replay
from exchange.replay.report import build_report
from exchange.replay.scenario import Participant, Scenario
from exchange.tournament.guard import GUARD, Guarded
from exchange.tournament.spec import FORMATS, Entrant, Format, Tournament


class Day(msgspec.Struct, frozen=True):
    key: str
    """`format/seed/part`, e.g. `groups/s0007/g02`: sorts in the tournament's order."""
    format: Format
    seed: int
    teams: list[Entrant]
    scenario: Scenario
    time_budget: float


class TeamDay(msgspec.Struct, frozen=True):
    """One team's result on one day."""

    team: str
    role: str
    pnl: float
    score: float
    fills: int
    lost: str | None = None
    """Why the team lost the day (its bot raised, or ran out of time); None if it did not."""


class DayResult(msgspec.Struct, frozen=True):
    key: str
    format: Format
    seed: int
    digest: str
    trades: int
    teams: list[TeamDay]


def build_days(t: Tournament) -> list[Day]:
    """Every day of the tournament, in key order."""
    days: list[Day] = []
    for fmt in t.formats:
        for seed in t.seeds:
            for part, teams in _draw(t, fmt, seed):
                key = f"{fmt}/s{seed:04d}/{part}"
                days.append(Day(key, fmt, seed, teams, _scenario(t, key, seed, teams),
                                t.time_budget))  # fmt: skip
    days.sort(key=lambda d: (FORMATS.index(d.format), d.seed, d.key))
    return days


def _draw(t: Tournament, fmt: Format, seed: int) -> list[tuple[str, list[Entrant]]]:
    if fmt == "field":
        return [("all", list(t.teams))]
    if fmt == "solo":
        return [(f"t{n:02d}", [team]) for n, team in enumerate(t.teams, 1)]
    order = np.random.default_rng([t.seed, seed]).permutation(len(t.teams))
    k = t.group_size
    groups = [[t.teams[int(i)] for i in order[s : s + k]] for s in range(0, len(order), k)]
    return [(f"g{n:02d}", g) for n, g in enumerate(groups, 1)]


def _scenario(t: Tournament, key: str, seed: int, teams: list[Entrant]) -> Scenario:
    participants = [_guarded(team, t.time_budget) for team in teams]
    name = f"{t.name}-{key.replace('/', '-')}"
    return msgspec.structs.replace(t.base, name=name, seed=seed, participants=participants)


def _guarded(team: Entrant, budget: float) -> Participant:
    """The team in the day's scenario: its strategy inside a guard (`guard.Guarded`)."""
    params = {"target": team.target, "params": team.params, "budget": budget,
              "source": team.source}  # fmt: skip
    return Participant(team.name, team.role, GUARD, params)


def play_day(day: Day) -> DayResult:
    """Play one day to its end; a team whose bot failed scores as the day's worst."""
    replay = Replay(day.scenario).run()
    report = build_report(replay)
    by_name = {r.name: r for r in report.teams}
    failures = {}
    for team in day.teams:
        guard = replay.runner.strategies.get(replay.ids[team.name])
        failures[team.name] = guard.failure if isinstance(guard, Guarded) else None
    results = []
    for team in day.teams:
        r = by_name[team.name]
        pnl, score = float(r.score["pnl"]), float(r.score["score"])
        results.append(TeamDay(team.name, team.role.value, pnl, score, r.fills,
                               failures[team.name]))  # fmt: skip
    return DayResult(day.key, day.format, day.seed, report.digest, report.trades,
                     _lost_days_last(results))  # fmt: skip


def _lost_days_last(results: list[TeamDay]) -> list[TeamDay]:
    """A team that lost the day scores no more than the lowest score of the day and no
    more than zero, so it ranks last that day; its P&L stays what its positions made."""
    floor = min([0.0, *(r.score for r in results)])
    return [r if r.lost is None else msgspec.structs.replace(r, score=floor) for r in results]
