"""What a remote runner knows between messages: the market, the game time, the team's
positions, and its order budget. Plain synchronous objects fed by the stream's messages
and handed the wall time, so each is tested without a server.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping

from exchange.client.convert import fill_of, fill_of_view, ticks, top_of, underlying_of
from exchange.domain.positions import Fill
from exchange.domain.strategy import MarketSnapshot, Top
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Phase, Side, TeamId, Ticks, TimeNs
from exchange.wire.messages import ExecutionReport, MarketData, PositionSnapshot, PositionUpdate
from exchange.wire.models import FillView, PricesView


class GameClock:
    """Game time between the server's stamps: the last stamp plus the wall time since,
    times the clock's speed. Never goes backwards, so snapshots are ordered."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._game_ns: int | None = None
        self._wall = 0.0
        self._last = 0

    def stamp(self, game_ns: int, wall: float) -> None:
        self._game_ns, self._wall = game_ns, wall

    def now(self, wall: float) -> TimeNs:
        if self._game_ns is None:
            return TimeNs(self._last)
        estimate = self._game_ns + round((wall - self._wall) * self.speed * NS_PER_SECOND)
        self._last = max(self._last, estimate)
        return TimeNs(self._last)


class MarketPicture:
    """Tops, fair values, deltas and spots, as the latest `market_data` told them."""

    def __init__(self) -> None:
        self.phase = Phase.CLOSED
        self.tops: dict[InstrumentId, Top] = {}
        self.fair: dict[InstrumentId, Ticks] = {}
        self.delta: dict[InstrumentId, float] = {}
        self.spots: dict[str, float] = {}

    def seed(self, prices: PricesView, only: Collection[str] | None = None) -> None:
        """Start from `GET /market/prices`: every book's top (or the tops of `only`) and
        the underlyings."""
        self.phase = Phase(prices.phase)
        for line in prices.instruments:
            if only is None or line.instrument_id in only:
                self.tops[InstrumentId(line.instrument_id)] = top_of(line)
        self.spots.update({k: v for k, v in prices.underlyings.items() if v is not None})

    def apply(self, data: MarketData) -> None:
        instrument_id = InstrumentId(data.instrument_id)
        self.tops[instrument_id] = top_of(data)
        fair = ticks(data.fair_value)
        if fair is not None:
            self.fair[instrument_id] = fair
        if data.delta is not None:
            self.delta[instrument_id] = data.delta
        underlying = underlying_of(data.instrument_id)
        if data.underlying_price is not None:
            self.spots[underlying] = data.underlying_price
        elif underlying == data.instrument_id and data.fair_value is not None:
            self.spots[underlying] = data.fair_value  # an underlying's fair value is its spot

    def snapshot(self, now_ns: TimeNs) -> MarketSnapshot:
        """Copies, so a strategy that keeps a snapshot keeps the moment it was given."""
        return MarketSnapshot(
            now_ns, self.phase, dict(self.tops), dict(self.fair), dict(self.delta),
            dict(self.spots),
        )  # fmt: skip


class FillTracker:
    """Turns the stream's execution reports into domain `Fill`s, exactly once each.

    A report lacks the position after the fill; the `position_update` that the server
    sends right after it has it, so a trade report is held until that update arrives
    (or, should anything else come first, completed from the tracked position)."""

    def __init__(self, team_id: TeamId) -> None:
        self.team_id = team_id
        self.positions: dict[InstrumentId, int] = {}
        self.last_trade_id = 0
        self._seen: deque[int] = deque(maxlen=10_000)
        self._pending: ExecutionReport | None = None

    def reset(self, snapshot: PositionSnapshot) -> None:
        """A (re)connection's truth: the positions as of the snapshot."""
        self.positions = {
            InstrumentId(p.instrument_id): p.quantity for p in snapshot.account.positions
        }

    def report(self, report: ExecutionReport, now: TimeNs) -> list[Fill]:
        """A trade report: held for its position update; returns any fill it displaced."""
        out = self.flush(now)
        if report.trade_id is not None and report.trade_id not in self._seen:
            self._pending = report
        return out

    def update(self, update: PositionUpdate, now: TimeNs) -> list[Fill]:
        held = self._pending
        instrument_id = InstrumentId(update.instrument_id)
        if held is None or held.instrument_id != update.instrument_id:
            out = self.flush(now)
            self.positions[instrument_id] = update.quantity
            return out
        self._pending = None
        self.positions[instrument_id] = update.quantity
        return [self._fill(held, update.quantity, now)]

    def flush(self, now: TimeNs) -> list[Fill]:
        """Complete a held report from the tracked position (its update never came)."""
        held, self._pending = self._pending, None
        if held is None:
            return []
        instrument_id = InstrumentId(held.instrument_id)
        sign = Side(held.side).sign
        position = self.positions.get(instrument_id, 0) + sign * (held.last_quantity or 0)
        self.positions[instrument_id] = position
        return [self._fill(held, position, now)]

    def recovered(self, views: list[FillView]) -> list[Fill]:
        """Fills fetched with `GET /fills` after a resync: the ones not yet seen."""
        out = []
        for view in views:
            if view.trade_id in self._seen:
                continue
            fill = fill_of_view(view, self.team_id)
            self._note(fill.trade_id)
            out.append(fill)
        return out

    def _fill(self, report: ExecutionReport, position_after: int, now: TimeNs) -> Fill:
        fill = fill_of(report, self.team_id, position_after, now)
        self._note(fill.trade_id)
        return fill

    def _note(self, trade_id: int) -> None:
        self._seen.append(trade_id)
        self.last_trade_id = max(self.last_trade_id, trade_id)


class RatePacer:
    """A local sliding one-second window of orders sent, so a runner waits rather than
    collects 429s. `limit` follows what the server says (`X-RateLimit-Limit`)."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds to wait before the next order may go."""
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    def record(self, now: float) -> None:
        self._sent.append(now)


ROLE_RATES: Mapping[str, int] = {"market_maker": 10, "hedge_fund": 5, "arbitrage": 7, "retail": 1}
"""Orders per second by role (SPEC section 3): the pace until the server states its own."""
