"""The market's day so far, for `GET /market/history`: what a dashboard opened late (or
reloaded) draws before its stream brings anything new.

Four rings in memory, each bounded by `server.market_history` and dropping its oldest:
the underlyings' mid and simulated price, sampled every `sample_seconds` of game time;
the public prints; the headlines and phase changes; and the overall leaderboard's P&L,
sampled like the prices. A paused clock adds no samples, and nothing here grows with the
length of the game. It is fed from what the fan-out broadcasts (`record`) and from the
market data task (`sample_prices`); a restart begins it afresh.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from exchange.config import MarketHistoryConfig
from exchange.domain.types import NS_PER_SECOND
from exchange.wire.codec import game_time
from exchange.wire.messages import Event, PhaseChange, Tape
from exchange.wire.models import (
    BoardEntry,
    BoardPoint,
    HistoryView,
    NewsPoint,
    PricePoint,
    TradePoint,
)

Kept = deque[tuple[int, Any]]
"""(game ns, entry), oldest first."""


class MarketHistory:
    def __init__(self, config: MarketHistoryConfig, now: Callable[[], int]) -> None:
        self.now = now
        self.every_ns = max(1, int(config.sample_seconds * NS_PER_SECOND))
        self.prices: Kept = deque(maxlen=config.prices)
        self.trades: Kept = deque(maxlen=config.trades)
        self.news: Kept = deque(maxlen=config.news)
        self.boards: Kept = deque(maxlen=config.leaderboard)
        self.price_slot: int | None = None
        self.board_slot: int | None = None

    def record(self, kind: str, data: Any) -> None:
        """A broadcast of the fan-out: the public messages worth keeping are kept."""
        if kind == "trade" and isinstance(data, Tape):
            self._trades(data)
        elif kind == "event" and isinstance(data, Event):
            self._news("news", data.headline, data.game_time)
        elif kind == "phase_change" and isinstance(data, PhaseChange):
            self._news("phase", f"{data.previous} → {data.phase}", data.game_time)
        elif kind == "leaderboard" and isinstance(data, dict):
            self._board(data)

    def sample_prices(self, quotes: Iterable[tuple[str, float | None, float | None]]) -> None:
        """(symbol, mid, simulated price) of each underlying, kept once per sample slot."""
        now = self._now()
        slot = now // self.every_ns
        if slot == self.price_slot:
            return
        self.price_slot = slot
        stamp = game_time(now)
        for symbol, mid, fair in quotes:
            self.prices.append((now, PricePoint(stamp, symbol, _cents(mid), _cents(fair))))

    def since(self, since_ns: int | None) -> HistoryView:
        """Everything kept from after `since_ns` (game ns; None: everything)."""

        def after(kept: Kept) -> list[Any]:
            return [entry for ns, entry in kept if since_ns is None or ns > since_ns]

        return HistoryView(
            game_time(self._now()), after(self.prices), after(self.trades), after(self.news),
            after(self.boards),
        )  # fmt: skip

    def _now(self) -> int:
        """Game time to the microsecond, as the answer writes it: `since` set to a time
        read from an answer leaves out exactly what that answer had."""
        return self.now() // 1000 * 1000

    def _trades(self, tape: Tape) -> None:
        now = self._now()
        stamp = game_time(now)
        for p in tape.trades:
            entry = TradePoint(
                stamp, p.trade_id, p.instrument_id, p.price, p.quantity, p.aggressor
            )
            self.trades.append((now, entry))

    def _news(self, kind: str, text: str, stamp: str) -> None:
        """Stamped with the message's own game time, as its stream message is."""
        self.news.append((self._now(), NewsPoint(stamp, kind, text)))

    def _board(self, board: dict[str, Any]) -> None:
        now = self._now()
        slot = now // self.every_ns
        if slot == self.board_slot:
            return
        self.board_slot = slot
        teams = [
            BoardEntry(str(row["team_id"]), str(row.get("name") or row["team_id"]), row["pnl"])
            for row in board.get("overall", [])
            if isinstance(row.get("pnl"), int | float)
        ]
        self.boards.append((now, BoardPoint(game_time(now), teams)))


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
