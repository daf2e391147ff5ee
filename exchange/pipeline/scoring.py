"""The scoring task: what the game does, fed to the pure `Scorer`; the leaderboard out.

How it works. The other tasks tell the keeper what happened, synchronously on the loop:
the publisher every released outbox (fills and settlements, once durable), the
validator every refusal and every accepted order, the event delivery every headline and
signal. The keeper's own two loops then
- observe the market once per market tick of game time while the market is open: each
  instrument's mark (mid, else fair value, else last), option deltas, spots, and which
  options each market maker quotes on both sides;
- every `leaderboard_interval` wall seconds, broadcast the `leaderboard` message and,
  with a database, store the standings and the scorer's state (so a restarted game keeps
  its scores), with the P&L series of one slice of `SERIES_TEAMS` teams in turn: the
  series are most of the state's bytes (330 teams with full series made 15 MB, which
  held the loop 80-100 ms at every save), and a restart that finds a team's series a
  few saves old only misses those moments of its chart.
A fill is marked against the instrument's mark at the last market data interval (at
most a second old), not the book as it was an instant before the trade.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from exchange.clock import Clock
from exchange.domain.instruments import Instrument
from exchange.domain.scoring import Leaderboard, Scorer, ScoringConfig, TeamReport
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Phase, Role, TeamId, Ticks, TimeNs
from exchange.domain.validation import OrderRefusal
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.simulator import MarketCache, sleep_until
from exchange.store import rows
from exchange.wire.codec import game_time

if TYPE_CHECKING:
    from exchange.pipeline.items import Outbox

log = logging.getLogger("exchange.scoring")

SaveRow = Callable[[str, tuple[Any, ...]], None]
STATE_KEY = "scorer"
FAIR_VALUES_KEY = "fair_values"
"""Game state key of the last fair values (reference prices), ticks by instrument."""
SERIES_KEY = "scorer_series:"
"""Game state keys of the teams' P&L series, the slice's number after the colon."""
SERIES_TEAMS = 10
"""Teams in a slice of the series, in the order they joined: each save stores one slice,
in turn, and the server's stop all of them. A full series costs a save about 0.2 ms: at
30 teams each is stored every 3 saves (15 s at the default interval), at 330 every 33
(165 s), and a save takes 2 ms and 5 ms where storing every series took 8 and 90."""


def saved_series(saved: Mapping[str, Any]) -> list[str]:
    """The series slices among a database's game state values."""
    return [value for key, value in saved.items() if key.startswith(SERIES_KEY)]


class ScoreKeeper:
    def __init__(
        self,
        scorer: Scorer,
        venue: ExchangeVenue,
        roles: Mapping[TeamId, Role],
        clock: Clock,
        greeks: Mapping[InstrumentId, tuple[float, float, float]],
        cache: MarketCache | None,
        tick_seconds: int,
        broadcast: Callable[[str, Any], None] | None = None,
        save_row: SaveRow | None = None,
        current_marks: Callable[[], dict[InstrumentId, Ticks]] | None = None,
    ) -> None:
        self.scorer = scorer
        self.venue = venue
        self.roles = roles
        self.clock = clock
        self.greeks = greeks
        self.cache = cache
        self.tick_ns = tick_seconds * NS_PER_SECOND
        self.broadcast = broadcast
        self.save_row = save_row
        self.marks: dict[InstrumentId, Ticks] = {}
        self.current_marks = current_marks
        self.unvalued: set[TeamId] = set()
        """Teams whose delta could not be scored at the last observation."""
        self.next_slice = 0
        """The slice of the teams whose P&L series the next save stores (`SERIES_TEAMS`)."""

    @classmethod
    def build(
        cls,
        instruments: Mapping[InstrumentId, Instrument],
        config: ScoringConfig,
        saved: str | None,
        series: list[str] | None = None,
        **parts: Any,
    ) -> ScoreKeeper:
        """A keeper with a fresh scorer, or the one a restarted game had saved (with the
        P&L series saved beside it; without them when those alone are unreadable)."""
        scorer = Scorer(instruments, config)
        if not saved:
            return cls(scorer, **parts)
        try:
            state = base64.b64decode(saved)
            try:
                slices = [base64.b64decode(s) for s in series or []]
                scorer = Scorer.restore(instruments, config, state, slices)
            except (ValueError, TypeError) as exc:
                scorer = Scorer.restore(instruments, config, state)
                log.warning("saved P&L series unreadable, left out", extra={"error": str(exc)})
        except (ValueError, KeyError, TypeError) as exc:  # TypeError: not a string at all
            log.warning("saved scores unreadable, starting afresh", extra={"error": str(exc)})
        return cls(scorer, **parts)

    # -- what the other tasks tell -----------------------------------------------------

    def add_team(self, team_id: TeamId, name: str, role: Role) -> None:
        self.scorer.add_team(team_id, name, role)

    def released(self, out: Outbox) -> None:
        """A durable outbox: its fills (both sides of each trade) and settlements."""
        for _, buy, sell, _, _ in out.trades:
            mark = self.marks.get(buy.instrument_id)
            self.scorer.on_fill(buy, mark)
            self.scorer.on_fill(sell, mark)
        for settled in out.settlements:
            self.scorer.on_settlement(settled)

    def refused(self, team_id: TeamId, now: TimeNs, rejection: OrderRefusal) -> None:
        if team_id in self.scorer:
            code, message = rejection.code, rejection.message
            self.scorer.on_rejection(team_id, now, code, rejection.constraint, message)

    def accepted(self, team_id: TeamId, now: TimeNs, instrument_id: InstrumentId) -> None:
        if team_id in self.scorer:
            self.scorer.on_order(team_id, now, instrument_id)

    def news(self, ts_ns: int, headline: str) -> None:
        self.scorer.on_news(TimeNs(ts_ns), headline)

    def signal(self, role: Role, ts_ns: int, kind: str) -> None:
        self.scorer.on_signal(role, TimeNs(ts_ns), kind)

    def listed(self, instruments: Iterable[Instrument]) -> None:
        self.scorer.list_instruments(instruments)

    def delisted(self, instrument_ids: Iterable[InstrumentId]) -> None:
        self.scorer.delist_instruments(instrument_ids)

    # -- the task's loops ----------------------------------------------------------------

    async def observe_ticks(self) -> None:
        """One observation per market tick of game time, while the market is open."""
        boundary = self.clock.now() // self.tick_ns * self.tick_ns + self.tick_ns
        while True:
            await sleep_until(self.clock, boundary)
            boundary += self.tick_ns
            if self.venue.phase is not Phase.CLOSED:
                self.observe()

    def observe(self) -> None:
        now = self.clock.now()
        self.refresh_marks()
        deltas = {i: g[0] for i, g in self.greeks.items()}
        spots = {} if self.cache is None else self.cache.spots(now)
        quoted = {t: self.venue.two_sided(t) for t in self.makers()}
        try:
            unvalued = self.scorer.observe(TimeNs(now), self.marks, deltas, spots, quoted)
        except (KeyError, ValueError):
            log.exception("scoring observation skipped")
            return
        for team_id in unvalued.keys() - self.unvalued:  # said once, not every tick
            reason = unvalued[team_id]
            log.warning("delta not scored", extra={"team_id": team_id, "reason": reason})
        self.unvalued = set(unvalued)

    def refresh_marks(self) -> None:
        """Each book's mark as the positions view shows it (`Exchange.marks`)."""
        if self.current_marks is not None:
            self.marks = self.current_marks()

    def makers(self) -> list[TeamId]:
        return [t for t, r in self.roles.items() if r is Role.MARKET_MAKER]

    def publish_once(self) -> None:
        board = self.leaderboard()
        if self.broadcast is not None:
            self.broadcast("leaderboard", board)
        if self.save_row is not None:
            self.store(board)

    def store(self, board: dict[str, Any]) -> None:
        assert self.save_row is not None
        now = self.clock.now()
        for row in board["overall"] + board["house"]:
            self.save_row("scores", rows.score_row(now, row))
        self.save_state()

    def save_state(self, every_series: bool = False) -> None:
        """The scorer's state, the P&L series of the next slice of the teams (of every
        slice with `every_series`) and the fair values (the marks a restart starts from)."""
        assert self.save_row is not None
        now = self.clock.now()
        state = base64.b64encode(self.scorer.snapshot()).decode()
        self.save_row("game_state", rows.game_state_row(STATE_KEY, state, now))
        teams = self.scorer.team_ids
        count = max(1, -(-len(teams) // SERIES_TEAMS))
        if every_series:
            slices: Iterable[int] = range(count)
        else:
            part = self.next_slice % count
            slices, self.next_slice = [part], (part + 1) % count
        for part in slices:
            chosen = teams[part * SERIES_TEAMS : (part + 1) * SERIES_TEAMS]
            data = self.scorer.series_snapshot(chosen, now)
            value = base64.b64encode(data).decode()
            self.save_row("game_state", rows.game_state_row(f"{SERIES_KEY}{part}", value, now))
        fair = dict(self.venue.reference_price)
        self.save_row("game_state", rows.game_state_row(FAIR_VALUES_KEY, fair, now))

    # -- what the web layer reads --------------------------------------------------------

    def leaderboard(self) -> dict[str, Any]:
        """The standings at the present marks (not only those of the last tick)."""
        self.refresh_marks()
        self.scorer.update_marks(self.marks)
        board: Leaderboard = self.scorer.leaderboard()
        data = board.to_wire()
        data["as_of"] = game_time(self.clock.now())  # marks are fresh; KPIs as of `as_of_ns`
        return data

    def report(self, team_id: TeamId) -> dict[str, Any] | None:
        if team_id not in self.scorer:
            return None
        self.refresh_marks()
        self.scorer.update_marks(self.marks)
        report: TeamReport = self.scorer.report(team_id)
        return report.to_wire()
