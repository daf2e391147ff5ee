"""A tournament's standings from its days: per format, team and role, the mean, median
and standard deviation of P&L and score over the days played, a 95% confidence
interval of the mean score (a bootstrap over days, seeded), and a rank in which teams
whose intervals overlap are marked as tied.

Everything here is computed from the days sorted by key, with generators seeded from
the tournament's seed and the team's name, so the same days give the same standings
whatever order they finished in.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable

import msgspec
import numpy as np

from exchange.tournament.days import DayResult, TeamDay
from exchange.tournament.spec import FORMATS, Format

RESAMPLES = 2000


class Standing(msgspec.Struct, frozen=True):
    format: Format
    team: str
    role: str
    days: int
    lost_days: int
    pnl_mean: float
    pnl_median: float
    pnl_std: float
    score_mean: float
    score_median: float
    score_std: float
    ci_low: float
    ci_high: float
    """The 95% bootstrap interval of the mean score."""
    rank: int
    tied_with: list[str]
    """The teams of the same format whose intervals overlap this one's."""


class DayDigest(msgspec.Struct, frozen=True):
    key: str
    digest: str


class TournamentResults(msgspec.Struct, frozen=True):
    tournament: str
    seed: int
    standings: list[Standing]
    days: list[DayResult]
    digests: list[DayDigest]


def results(name: str, seed: int, days: Iterable[DayResult]) -> TournamentResults:
    ordered = sorted(days, key=lambda d: (FORMATS.index(d.format), d.seed, d.key))
    standings: list[Standing] = []
    for fmt in FORMATS:
        played = [d for d in ordered if d.format == fmt]
        if played:
            standings += _ranked(_format_standings(fmt, seed, played))
    digests = [DayDigest(d.key, d.digest) for d in ordered]
    return TournamentResults(name, seed, standings, ordered, digests)


def _format_standings(fmt: Format, seed: int, days: list[DayResult]) -> list[Standing]:
    by_team: dict[tuple[str, str], list[TeamDay]] = {}
    for day in days:
        for t in day.teams:
            by_team.setdefault((t.team, t.role), []).append(t)
    return [_standing(fmt, seed, team, role, rows) for (team, role), rows in by_team.items()]


def _standing(fmt: Format, seed: int, team: str, role: str, rows: list[TeamDay]) -> Standing:
    pnl = np.array([r.pnl for r in rows])
    score = np.array([r.score for r in rows])
    low, high = bootstrap(score, [seed, zlib.crc32(f"{fmt}/{team}".encode())])
    return Standing(
        fmt, team, role, len(rows), sum(r.lost is not None for r in rows),
        *_summary(pnl), *_summary(score), low, high, 0, [],
    )  # fmt: skip


def _summary(values: np.ndarray) -> tuple[float, float, float]:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return _round(np.mean(values)), _round(np.median(values)), _round(std)


def _round(value: float | np.floating) -> float:
    return round(float(value), 6)


def bootstrap(values: np.ndarray, seed: list[int]) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the mean over resamples of the days."""
    if len(values) == 1:
        return _round(values[0]), _round(values[0])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return _round(low), _round(high)


def _ranked(standings: list[Standing]) -> list[Standing]:
    """Best mean score first (names break exact ties); each team lists the others whose
    intervals overlap its own."""
    order = sorted(standings, key=lambda s: (-s.score_mean, s.team))
    out = []
    for n, s in enumerate(order, 1):
        tied = [o.team for o in order if o is not s and _overlap(s, o)]
        out.append(msgspec.structs.replace(s, rank=n, tied_with=tied))
    return out


def _overlap(a: Standing, b: Standing) -> bool:
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


STANDING_COLUMNS = [f for f in Standing.__struct_fields__ if f != "tied_with"] + ["tied_with"]
DAY_COLUMNS = ["key", "format", "seed", "digest", "team", "role", "pnl", "score", "fills",
               "lost"]  # fmt: skip


def standings_csv(r: TournamentResults) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STANDING_COLUMNS)
    for s in r.standings:
        row = [getattr(s, f) for f in STANDING_COLUMNS[:-1]]
        writer.writerow([*row, ";".join(s.tied_with)])
    return out.getvalue()


def days_csv(r: TournamentResults) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DAY_COLUMNS)
    for d in r.days:
        for t in d.teams:
            writer.writerow([d.key, d.format, d.seed, d.digest, t.team, t.role, t.pnl,
                             t.score, t.fills, t.lost or ""])  # fmt: skip
    return out.getvalue()
