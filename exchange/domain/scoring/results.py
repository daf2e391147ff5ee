"""What the scorer answers: standings, the leaderboard and the post-game report.

Money is in integer ticks here, like everywhere in the domain (means per contract are
floats in ticks). The wire wants currency, so each top-level result has `to_wire()`,
which returns plain builtins with every money field divided by 100 and rounded to two
decimals and other float KPIs rounded to six; times stay in game nanoseconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import InstrumentId, Role, TeamId

Kpis = dict[str, bool | int | float | None]
"""A role's KPIs by name; `obligation_met` is the one boolean."""

MONEY_KPIS = frozenset(
    {
        "spread_capture",
        "obligation_penalty",
        "window_pnl_last",
        "window_pnl_mean",
        "delta_penalty",
        "signal_pnl",
        "balance_penalty",
    }
)
"""The KPI keys that hold money (ticks inside, currency on the wire)."""


FLOAT_DECIMALS = 6
"""Other float KPIs (delta, ratios) are rounded to this many decimals on the wire, which
hides the last-bit noise of floating sums (110.00000000000001 shows as 110.0)."""


def money(ticks: float | None) -> float | None:
    """Ticks to currency with two decimals; None stays None."""
    return None if ticks is None else round(ticks / TICKS_PER_UNIT, 2)


class MirrorAccount(msgspec.Struct, frozen=True):
    """The scorer's copy of a team's account: `fees_ticks` is net (received - paid)."""

    team_id: TeamId
    role: Role
    cash_ticks: int
    fees_ticks: int
    positions: dict[InstrumentId, int]


class TimelineEntry(msgspec.Struct, frozen=True):
    """Something that happened to a team: `kind` is one of `TIMELINE_KINDS`."""

    ts_ns: int
    kind: str
    detail: str


TIMELINE_KINDS = (
    "rejection",
    "limit_breach_attempt",
    "delta_limit_breach",
    "delta_limit_restored",
    "balance_breach",
    "balance_restored",
    "missed_signal_response",
)


class PnlPoint(msgspec.Struct, frozen=True):
    ts_ns: int
    pnl: int


class Window(msgspec.Struct, frozen=True):
    """P&L change between two events; `label` is the headline or signal kind that opened it."""

    start_ns: int
    end_ns: int
    label: str
    pnl: int


class MarkoutStats(msgspec.Struct, frozen=True):
    """Markouts resolved at one horizon: fills, contracts, their sum and mean per contract."""

    count: int
    contracts: int
    total: int
    mean_per_contract: float | None


class MarkoutHorizon(msgspec.Struct, frozen=True):
    horizon: int
    all: MarkoutStats
    maker: MarkoutStats
    taker: MarkoutStats


class AdverseSelection(msgspec.Struct, frozen=True):
    """Maker fills whose markout at `horizon` was negative, and the mean maker markout."""

    horizon: int
    maker_fills: int
    adverse_fills: int
    share: float | None
    mean_maker_markout: float | None


class TeamScore(msgspec.Struct, frozen=True):
    """A team's standing: `score = pnl - penalties`; `rank` is set inside a leaderboard."""

    MONEY: ClassVar[tuple[str, ...]] = ("pnl", "fees_paid", "fees_received", "penalties", "score")

    team_id: TeamId
    name: str
    role: Role
    pnl: int
    fees_paid: int
    fees_received: int
    penalties: int
    score: int
    kpis: Kpis
    rank: int | None = None
    unmarked: list[InstrumentId] = []
    """Instruments held with no mark, valued at their average open price (or zero):
    `pnl` is an estimate while this is not empty."""

    def to_wire(self) -> dict[str, Any]:
        return _score_wire(msgspec.to_builtins(self))


class Leaderboard(msgspec.Struct, frozen=True):
    """`overall` and each `by_role` list ranked by score (ties by name); house and retail
    teams are in `house`, unranked."""

    as_of_ns: int | None
    overall: list[TeamScore]
    by_role: dict[str, list[TeamScore]]
    house: list[TeamScore]

    def to_wire(self) -> dict[str, Any]:
        """A team in `by_role` is the one in `overall` but for its rank, so its wire form
        is that one's with the rank changed (converted once: half a publish's time)."""
        overall = [s.to_wire() for s in self.overall]
        wired = {row["team_id"]: row for row in overall}
        return {
            "as_of_ns": self.as_of_ns,
            "overall": overall,
            "by_role": {
                role: [{**wired[s.team_id], "rank": s.rank} for s in scores]
                for role, scores in self.by_role.items()
            },
            "house": [s.to_wire() for s in self.house],
        }


class TeamReport(msgspec.Struct, frozen=True):
    """The post-game analytics of one team (see docs/scoring.md for each number)."""

    standing: TeamScore
    observations: int
    fills: int
    contracts: int
    rejections: int
    limit_breach_attempts: int
    markouts: list[MarkoutHorizon]
    markouts_untracked: int
    adverse_selection: AdverseSelection
    uptime_by_instrument: dict[str, float]
    windows: list[Window]
    signal_windows: list[Window]
    pnl_series: list[PnlPoint]
    timeline: list[TimelineEntry]

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        out["standing"] = self.standing.to_wire()
        for row in out["markouts"]:
            for key in ("all", "maker", "taker"):
                row[key]["total"] = money(row[key]["total"])
                row[key]["mean_per_contract"] = money(row[key]["mean_per_contract"])
        adverse = out["adverse_selection"]
        adverse["mean_maker_markout"] = money(adverse["mean_maker_markout"])
        for rows in (out["windows"], out["signal_windows"], out["pnl_series"]):
            for row in rows:
                row["pnl"] = money(row["pnl"])
        return out


def _score_wire(data: dict[str, Any]) -> dict[str, Any]:
    for key in TeamScore.MONEY:
        data[key] = money(data[key])
    kpis = data["kpis"]
    for key, value in kpis.items():
        if key in MONEY_KPIS:
            kpis[key] = money(value)
        elif isinstance(value, float):
            kpis[key] = round(value, FLOAT_DECIMALS)
    return data
