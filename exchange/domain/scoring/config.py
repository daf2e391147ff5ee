"""Scoring settings (SPEC section 7): every number the scorer uses, with its default.

Money settings are in currency units (0.01 = one tick), as an organiser writes them; the
scorer converts them to ticks when it books a penalty. Horizons and deadlines count
market observations, one per market tick (`MarketConfig.tick_seconds`, 300 game seconds
by default).
"""

from __future__ import annotations

import math

import msgspec

_FLOATS = (
    "quote_share", "uptime_required", "obligation_penalty", "delta_limit", "delta_penalty",
    "balance_ratio", "balance_penalty", "leaderboard_interval",
)  # fmt: skip


class ScoringConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    markout_ticks: tuple[int, ...] = (1, 5, 30)
    """Markout horizons, in observations after the fill; the middle one measures adverse
    selection."""

    quote_share: float = 0.8
    """Share of the listed options a market maker must quote two-sided in an observation
    for that observation to count as covered."""
    uptime_required: float = 0.8
    """Share of observations a market maker must cover to meet its obligation."""
    obligation_penalty: float = 10_000.0
    """Currency charged for missing the obligation entirely; scaled by the shortfall."""

    delta_limit: float = 50.0
    """Hedge fund: portfolio delta allowed either side of zero, in SPX-equivalent units."""
    delta_penalty: float = 10.0
    """Hedge fund: currency per unit of |delta| past the limit, per observation."""

    balance_ratio: float = 2.0
    """Arbitrage: the larger dollar delta exposure may be at most this multiple of the
    smaller one."""
    balance_penalty: float = 100.0
    """Arbitrage: currency per observation spent imbalanced."""
    response_ticks: int = 1
    """Arbitrage: observations after a signal within which an order or fill counts as a
    response."""
    arbitrage_underlyings: tuple[str, ...] = ("SPX", "SPY")
    """Arbitrage: the underlyings traded against each other. Balance compares the dollar
    exposures on these; an order or fill in one of them (the underlying itself) answers
    a signal."""

    reference_underlying: str = "SPX"
    """Deltas on other underlyings are converted to units of this one by spot prices."""
    leaderboard_interval: float = 5.0
    """Wall seconds between leaderboard messages; the shell's business, held here."""

    max_windows: int = 100
    """News windows (and signal windows) kept per team for the report."""
    max_pnl_points: int = 2000
    """P&L points kept per team for charts; older points are thinned evenly."""
    max_timeline: int = 500
    """Timeline entries kept per team (the newest)."""
    max_pending_lots: int = 20_000
    """Markout lots (fills of one team, instrument, price, side and liquidity between
    two observations) waiting for their marks, at most: bounds the saved state. A fill
    that would need one more is counted in `markouts_untracked`."""

    def __post_init__(self) -> None:
        # Checked on construction and on decoding, so a bad config fails at load.
        horizons = self.markout_ticks
        if not horizons or any(h < 1 for h in horizons) or list(horizons) != sorted(set(horizons)):
            raise ValueError("markout_ticks must be distinct positive integers, ascending")
        for name in _FLOATS:
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        for name in ("quote_share", "uptime_required"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        for name in ("obligation_penalty", "delta_limit", "delta_penalty", "balance_penalty"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.balance_ratio < 1.0:
            raise ValueError("balance_ratio must be at least 1")
        if not self.arbitrage_underlyings:
            raise ValueError("arbitrage_underlyings must name at least one underlying")
        if self.response_ticks < 1:
            raise ValueError("response_ticks must be at least 1")
        if self.leaderboard_interval <= 0:
            raise ValueError("leaderboard_interval must be positive")
        for name in ("max_windows", "max_pnl_points", "max_timeline", "max_pending_lots"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be at least 2")

    @property
    def middle_horizon(self) -> int:
        """The horizon used for adverse selection: the middle one (5 of 1, 5, 30)."""
        return self.markout_ticks[len(self.markout_ticks) // 2]
