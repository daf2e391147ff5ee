"""A replay's report, its digest and its expectations.

The digest is a SHA-256 over every fill (in order), then each team's final cash,
fees and positions, then the leaderboard's integer scores: two runs of one scenario agree
on it exactly when they played the same game. The report carries the figures people
read (P&L, KPIs, counts, invariants) with money in currency units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import NS_PER_SECOND, Phase, Role, TimeNs
from exchange.replay import quality
from exchange.replay.quality import MarketQuality
from exchange.replay.scenario import Expectations, TeamExpectation

if TYPE_CHECKING:
    from exchange.replay.engine import Replay


class TeamResult(msgspec.Struct):
    name: str
    team_id: str
    role: str
    fills: int
    rejections: int
    cash: float
    positions: dict[str, int]
    score: dict[str, Any]
    report: dict[str, Any]


class Report(msgspec.Struct):
    scenario: str
    seed: int
    start: str
    end: str
    game_seconds: int
    trades: int
    volume: int
    news: int
    signals: dict[str, int]
    rejections: dict[str, int]
    leaderboard: dict[str, Any]
    teams: list[TeamResult]
    invariants: list[str]
    digest: str
    failures: list[str] = []
    wall_seconds: float = 0.0
    market_quality: MarketQuality | None = None


def build_report(replay: Replay) -> Report:
    rec, scorer = replay.recorder, replay.scorer
    problems = [f"at {moment}: {problem}" for problem, moment in replay.broken.items()]
    teams = [_team(replay, tid, name) for tid, name in replay.names.items()]
    board = scorer.leaderboard()
    report = Report(
        replay.scenario.name, replay.config.seed, replay.start_at.isoformat(),
        replay.start_at.fromtimestamp(replay.end / 1e9, replay.start_at.tzinfo).isoformat(),
        (replay.end - replay.start) // NS_PER_SECOND, rec.trades, rec.volume,
        rec.news_count, dict(sorted(rec.signals_by_role.items())),
        dict(sorted(rec.rejections.items())), board.to_wire(), teams, problems,
        digest(replay),
    )  # fmt: skip
    report.market_quality = market_quality(replay)
    report.failures = check(report, replay.scenario.expect)
    return report


def market_quality(replay: Replay) -> MarketQuality:
    """The day's market quality (`exchange.replay.quality`) from what the replay saw."""
    roles = replay.session.roles
    retail_teams = [t for t, r in roles.items() if r is Role.RETAIL]
    drawn = _drawn([replay.runner.strategies.get(t) for t in retail_teams])
    tick_seconds = replay.config.market.model.tick_seconds
    ticks = quality.continuous_ticks(
        lambda t: replay.schedule.phase_at(TimeNs(t)) is Phase.CONTINUOUS,
        replay.start, replay.end, tick_seconds * NS_PER_SECOND,
    )  # fmt: skip
    options = {str(i) for i, v in replay.venue.instruments.items() if v.is_option}
    house = []
    for tid in (t for t, r in roles.items() if r is Role.HOUSE):
        positions = {str(i): q for i, q in replay.session.ledger.account(tid).positions.items()}
        pnl = replay.scorer.standing(tid).pnl / TICKS_PER_UNIT
        house.append(quality.inventory(replay.names[tid], tid, pnl, positions, options))
    return quality.market_quality(
        quality.retail(len(retail_teams), drawn, replay.retail), replay.tally, ticks,
        tick_seconds, house,
    )  # fmt: skip


def _drawn(strategies: list[object]) -> int | None:
    """Orders the retail strategies drew, where every one of them tells (`drawn`)."""
    counts = [getattr(s, "drawn", None) for s in strategies]
    if any(not isinstance(n, int) for n in counts):
        return None
    return sum(n for n in counts if isinstance(n, int))


def _team(replay: Replay, tid: str, name: str) -> TeamResult:
    account = replay.session.ledger.account(tid)  # type: ignore[arg-type]
    positions = {str(i): q for i, q in sorted(account.positions.items()) if q}
    analytics = replay.scorer.report(tid)  # type: ignore[arg-type]
    return TeamResult(
        name, tid, account.role.value, replay.recorder.fills_by_team[name],
        replay.recorder.rejections_by_team[tid], account.cash_ticks / TICKS_PER_UNIT,
        positions, analytics.standing.to_wire(), analytics.to_wire(),
    )  # fmt: skip


def digest(replay: Replay) -> str:
    """The fills' running hash, then final accounts and scores, hashed once more."""
    h = replay.recorder.hash.copy()
    for account in sorted(replay.session.ledger.accounts(), key=lambda a: a.team_id):
        held = sorted((i, q) for i, q in account.positions.items() if q)
        h.update(msgspec.json.encode((account.team_id, account.cash_ticks,
                                      account.fees_ticks, held)))  # fmt: skip
    for score in sorted(replay.scorer.leaderboard().overall, key=lambda s: s.team_id):
        h.update(msgspec.json.encode((score.team_id, score.pnl, score.penalties)))
    return h.hexdigest()


def check(report: Report, expect: Expectations) -> list[str]:
    """Every expectation the run missed, in words (empty when all hold)."""
    out: list[str] = []
    if expect.invariants and report.invariants:
        out += [f"invariant broken: {p}" for p in report.invariants]
    out += _bounds("trades", report.trades, expect.min_trades, expect.max_trades)
    for code, most in expect.max_rejections.items():
        if report.rejections.get(code, 0) > most:
            out.append(f"{code}: {report.rejections.get(code, 0)} rejections, at most {most}")
    for code, least in expect.min_rejections.items():
        if report.rejections.get(code, 0) < least:
            out.append(f"{code}: {report.rejections.get(code, 0)} rejections, at least {least}")
    by_name = {t.name: t for t in report.teams}
    for name, wanted in expect.teams.items():
        team = by_name.get(name)
        out += [f"{name}: not in the game"] if team is None else _team_check(team, wanted)
    if expect.digest is not None and expect.digest != report.digest:
        out.append(f"digest {report.digest} differs from the expected {expect.digest}")
    return out


def _team_check(team: TeamResult, wanted: TeamExpectation) -> list[str]:
    pnl = float(team.score["pnl"])
    out = [f"{team.name}: {m}" for m in _bounds("P&L", pnl, wanted.min_pnl, wanted.max_pnl)]
    out += [f"{team.name}: {m}" for m in
            _bounds("fills", team.fills, wanted.min_trades, wanted.max_trades)]  # fmt: skip
    kpis = team.score.get("kpis", {})
    for kpi, (low, high) in wanted.kpis.items():
        value = kpis.get(kpi)
        if value is None:
            out.append(f"{team.name}: KPI {kpi} has no value")
        else:
            out += [f"{team.name}: KPI {m}" for m in _bounds(kpi, float(value), low, high)]
    return out


def _bounds(what: str, value: float, low: float | None, high: float | None) -> list[str]:
    if low is not None and value < low:
        return [f"{what} {value:g} is below {low:g}"]
    if high is not None and value > high:
        return [f"{what} {value:g} is above {high:g}"]
    return []
