"""Scoring (SPEC section 7): P&L, penalties, role KPIs, leaderboard, report, invariants.

Pure like the rest of `exchange.domain`: the shell feeds a `Scorer` fills, settlements,
rejections, orders, news, signals and one observation per market tick, and reads
standings, the leaderboard and reports back. Units and formulas: docs/scoring.md.
"""

from exchange.domain.scoring.config import ScoringConfig
from exchange.domain.scoring.invariants import (
    AccountLike,
    check_balances,
    check_invariants,
    compare_accounts,
)
from exchange.domain.scoring.results import (
    MONEY_KPIS,
    TIMELINE_KINDS,
    AdverseSelection,
    Kpis,
    Leaderboard,
    MarkoutHorizon,
    MarkoutStats,
    MirrorAccount,
    PnlPoint,
    TeamReport,
    TeamScore,
    TimelineEntry,
    Window,
    money,
)
from exchange.domain.scoring.scorer import LIMIT_CODES, RANKED_ROLES, Scorer

__all__ = [
    "LIMIT_CODES",
    "MONEY_KPIS",
    "RANKED_ROLES",
    "TIMELINE_KINDS",
    "AccountLike",
    "AdverseSelection",
    "Kpis",
    "Leaderboard",
    "MarkoutHorizon",
    "MarkoutStats",
    "MirrorAccount",
    "PnlPoint",
    "Scorer",
    "ScoringConfig",
    "TeamReport",
    "TeamScore",
    "TimelineEntry",
    "Window",
    "check_balances",
    "check_invariants",
    "compare_accounts",
    "money",
]
