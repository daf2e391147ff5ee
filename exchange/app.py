"""The one place that sees the whole graph: state, queues and tasks of a running exchange.

`Exchange` builds the domain objects from the config, the queues between the tasks, and
starts the tasks under a supervisor. The web layer (`exchange.web`) only talks to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from exchange import recovery
from exchange.clock import Clock, ScaledClock
from exchange.config import GameConfig
from exchange.control import GameControl
from exchange.domain.house import house_teams
from exchange.domain.instruments import Instrument, build_chain
from exchange.domain.phases import PHASE_RULES, Schedule, from_ns
from exchange.domain.session import TradingSession
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Phase, Role, TeamId, Ticks, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline import scoring
from exchange.pipeline.events import EventDelivery
from exchange.pipeline.expiry import Expiry
from exchange.pipeline.fanout import Fanout, periodic
from exchange.pipeline.history import MarketHistory
from exchange.pipeline.house import HouseRunner
from exchange.pipeline.items import InFlight, Matched, Outbox, VenueChanged
from exchange.pipeline.looplag import LoopLag
from exchange.pipeline.marketdata import MarketDataPublisher
from exchange.pipeline.matcher import Matcher
from exchange.pipeline.metrics import Metrics
from exchange.pipeline.publisher import Publisher, Release
from exchange.pipeline.queues import FairQueue
from exchange.pipeline.scheduler import Scheduler
from exchange.pipeline.scoring import ScoreKeeper
from exchange.pipeline.simulated import HouseView, SimulatedMarket
from exchange.pipeline.simulator import Simulator
from exchange.pipeline.supervisor import Supervisor
from exchange.pipeline.validator import Validator
from exchange.pipeline.watchdog import Watchdog
from exchange.pipeline.writer import DbQueues, StorageFailing, Writer
from exchange.store import rows
from exchange.store.arrivals import ArrivalLog
from exchange.store.rows import ArrivalRow
from exchange.teams import Team, Teams
from exchange.wire.codec import game_time
from exchange.wire.messages import Heartbeat, PhaseChange

log = logging.getLogger("exchange")


def make_clock(config: GameConfig, saved_ns: int | None = None) -> ScaledClock:
    """Where a restored game's clock stood, else the configured start (today's pre-open
    with `schedule.starts_on_start`), else now: a restart continues the game's time, it
    never winds it back to the preset's start."""
    start = config.clock.start
    if config.schedule.starts_on_start:
        start = config.schedule.day_start(dt.datetime.now(dt.UTC))
    start_ns = saved_ns
    if start_ns is None and start is not None:
        start_ns = int(start.timestamp() * NS_PER_SECOND)
    return ScaledClock(None if start_ns is None else TimeNs(start_ns), config.clock.speed)


class Exchange:
    """The running game. Built in dependency order: each part is given its collaborators
    when it is made, and nothing is wired on afterwards."""

    def __init__(
        self, config: GameConfig, clock: Clock | None = None, db_path: str | None = None
    ) -> None:
        self.config = config
        self.db_path = db_path
        self.renewing = False
        """A new round or a reset is under way: new requests are refused (503)."""
        self.on_renew: list[Callable[[], None]] = []
        """Called once the game is built afresh (the web layer forgets what it cached)."""
        saved = recovery.saved_state(db_path) if db_path else {}
        self.clock = clock or make_clock(config, saved.get("game_time_ns"))
        self.schedule = config.schedule.build()
        now = self.clock.now()
        self.phase_since = now
        """The game time the venue's starting phase was read from the schedule."""
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        self.session = build_session(config, self.schedule, now, seeds[0])
        self.venue = self.session.venue
        self.teams = Teams()
        server = config.server
        self.orders: asyncio.Queue[Any] = asyncio.Queue(server.order_queue_size)
        """OrderQueue: requests from the web layer and the house, to the validator."""
        self.matchers: dict[InstrumentId, asyncio.Queue[Any]] = {
            i: asyncio.Queue(server.matcher_queue_size) for i in self.venue.instruments
        }
        """A MatchQueue per instrument: from the validator to that book's matcher."""
        self.trades: asyncio.Queue[Matched] = FairQueue(server.trade_queue_size)
        """TradeQueue: every matcher outcome (and venue change), to the publisher."""
        self.arrivals = ArrivalLog(on=bool(db_path))
        """Records every change of the venue for `replay game.db` (with a database)."""
        self.inflight = InFlight()
        self.history = MarketHistory(server.market_history, self.clock.now)
        """The day's public market kept in memory, for `GET /market/history`."""
        self.fanout = build_fanout(config, self.history)
        self.metrics = Metrics()
        """Prometheus figures in a registry of this exchange's own (`GET /metrics`)."""
        self.loop_lag = LoopLag(self.metrics.loop_lag_seconds.observe)
        """How long the event loop is held (`/health`'s `loop`)."""
        self.watchdog = Watchdog(self.orders, lambda: PHASE_RULES[self.venue.phase].cancel)
        self.supervisor = Supervisor()
        self.market = build_market(config, seeds[1], now)
        restored = recovery.recover(db_path, now) if db_path else None
        if restored is not None and db_path:
            self._restore(restored, db_path)
        if self.market is not None and "regime" in saved:
            self.market.restore_regime(saved["regime"], now)
        self.id_ceiling = self.venue.peek_order_id() + recovery.ID_BLOCK if db_path else 0
        self.db_queues = DbQueues() if db_path else None
        """TradeDBQueue, EventDBQueue and PriceDBQueue, with a database."""
        self.save_row = None if self.db_queues is None else self.db_queues.put_row
        """Hands a row to the writer (EventDBQueue or PriceDBQueue); None without one."""
        self.market_data = build_market_data(
            config, self.venue, self.fanout, self.clock, self.market, self.save_row, self.history
        )
        self.first_run = "start_ns" not in saved
        """No game in the database yet: record its config and first moment (for replays)."""
        self.scores = self._score_keeper(saved, db_path)
        self.release = Release(
            self.session, self.fanout, [self.metrics.released, self.scores.released],
            {} if restored is None else restored.fills, durable=db_path is not None,
        )  # fmt: skip
        self.writer = (
            None
            if self.db_queues is None or db_path is None
            else build_writer(config, db_path, self.db_queues, self.release, self.metrics)
        )
        sink = None if self.db_queues is None else self.db_queues.put
        self.publisher = Publisher(self.session, self.trades, self.release.release, sink)
        self.control = GameControl(self, saved.get("control"), db_path)
        """The organiser's controls (`/admin`): the game's state, halts, disabled teams."""

    def _restore(self, restored: recovery.Restored, db_path: str) -> None:
        """Apply what the database gave back (before anything starts); the committed
        fills go to the `Release` when it is built."""
        self.fanout.seq_base = restored.run * recovery.SEQS_PER_RUN
        for team in restored.teams:
            self.teams.add(team)
            self.session.register(team.team_id, team.role)
            self.fanout.add_team(team.team_id)
        recovery.replay_ledger(db_path, self.session.ledger)
        venue = self.venue
        for iid, price in restored.last_prices.items():
            if iid in venue.instruments:
                venue.last_price[iid] = price
        for iid, value in restored.fair_values.items():
            if iid in venue.instruments:
                venue.reference_price[iid] = value
        self.arrivals.resume(restored.next_arrival)
        venue.resume_ids(restored.next_order_id, restored.next_trade_id)
        for team_id, report in restored.cancelled:
            self.fanout.stream(team_id, "order_cancelled", report)

    def _score_keeper(self, saved: dict[str, Any], db_path: str | None) -> ScoreKeeper:
        """The scores: restored with the game, then given the committed fills they missed
        and squared with the ledger; else new."""
        keeper = ScoreKeeper.build(
            self.venue.instruments, self.config.scoring, saved.get(scoring.STATE_KEY),
            scoring.saved_series(saved),
            venue=self.venue, roles=self.session.roles, clock=self.clock,
            greeks=self.market_data.greeks,
            cache=None if self.market is None else self.market.cache,
            tick_seconds=self.config.market.model.tick_seconds,
            broadcast=self.fanout.broadcast, save_row=self.save_row, current_marks=self.marks,
        )  # fmt: skip
        for team in self.teams.by_id.values():
            keeper.add_team(team.team_id, team.name, team.role)
        if db_path:
            recovery.catch_up_scores(keeper.scorer, db_path)
        keeper.scorer.adopt(self.session.ledger)
        return keeper

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        s, server = self.supervisor, self.config.server
        venue, at = self.venue, self.phase_since  # this run's books, before any order
        await self.logged(self.arrivals.run(at, venue.phase, venue.peek_trade_id()))
        validator = Validator(
            self.session, self.clock, self.orders, self.matchers, self.inflight,
            on_refused=self.scores.refused, on_accepted=self.scores.accepted,
            on_admitted=self.metrics.admitted, entry_closed=self.entry_closed,
        )  # fmt: skip
        s.start("validator", validator.run)
        for instrument_id in self.matchers:
            self.start_matcher(instrument_id)
        s.start("publisher", self.publisher.run)
        md_every = server.market_data_interval
        s.start("market_data", periodic(md_every, self.market_data.publish, "market_data"))
        s.start("heartbeat", periodic(server.heartbeat_interval, self.heartbeat, "heartbeat"))
        stalls = periodic(server.stall_check, self.fanout.check_stalls, "stall_check")
        s.start("stall_check", stalls)
        scheduler = Scheduler(
            self.schedule, self.clock, self.venue, self.matchers, self.announce,
            self.phase_since,
        )  # fmt: skip
        s.start("scheduler", scheduler.run)
        s.start("watchdog", self.watchdog.run)
        s.start("loop_lag", self.loop_lag.run)
        s.start("scores", self.scores.observe_ticks)
        board_every = self.config.scoring.leaderboard_interval
        s.start("leaderboard", periodic(board_every, self.scores.publish_once, "leaderboard"))
        if self.writer is not None:
            await self.writer.open()
            s.start("writer", self.writer.run)
            if self.first_run:
                self.record_game()
            interval = server.snapshot_interval
            s.start("snapshots", periodic(interval, self.save_state, "snapshots"))
        if self.market is not None:
            await self.start_market(self.market)
            expiry = Expiry(
                self.venue, self.clock, self.config.instruments, self.matchers,
                self.market.expiry_ns, self.market.cache.spots, self.listed, self.delisted,
            )  # fmt: skip
            s.start("expiry", expiry.run)
        await self.control.started()
        log.info(
            "exchange started",
            extra={"instruments": len(self.matchers), "phase": self.venue.phase},
        )

    async def start_market(self, market: SimulatedMarket) -> None:
        """The simulator, the news and signal delivery, and the house."""
        s = self.supervisor
        view = HouseView(self.venue, self.clock, market.cache, self.market_data.greeks)
        simulator = Simulator(
            market.model, market.streams, self.clock, view.phase, market.prices,
            market.events, market.signals,
        )  # fmt: skip
        s.start("simulator", simulator.run)
        market.delivery = EventDelivery(
            self.clock, self.fanout, self.teams, market.events, market.signals,
            self.save_row,
            on_news=self.scores.news, on_signal=self.scores.signal,
        )  # fmt: skip
        s.start("news", market.delivery.news)
        s.start("signals", market.delivery.role_signals)
        market.house = await self.start_house(market, view)

    async def start_house(self, market: SimulatedMarket, view: HouseView) -> HouseRunner | None:
        """The house's teams (restored with the game, else registered) and their task."""
        m = market.settings
        teams = house_teams(
            market.streams.retail, m.model.retail, m.model.tick_seconds,
            liquidity=m.house_liquidity, options_maker=m.house_options_maker, crowd=m.retail,
        )  # fmt: skip
        strategies = {}
        for team in teams:
            team_id = await self.house_team(team.name, team.role)
            team.strategy.on_start(team_id, team.role, list(self.venue.instruments.values()))
            strategies[team_id] = team.strategy
        if not strategies:
            return None
        windows, roles = self.session.windows, self.session.roles
        limits = {t: windows[t].limit for t in strategies if roles[t] is not Role.HOUSE}
        house = HouseRunner(strategies, limits, self.orders, view, self.clock, m.house_interval)
        self.release.taps.append(house.released)  # the house's task starts with the game
        self.supervisor.start("house", house.run)
        return house

    async def house_team(self, name: str, role: Role) -> TeamId:
        """The house's own team: restored with the game, else registered (key unused)."""
        for team in self.teams.by_id.values():
            if team.name == name:
                return team.team_id
        team, _ = await self.register(name, role, stream=False)
        return team.team_id

    async def renew(self, keep_teams: bool) -> None:
        """Build the game afresh in this same object (the web layer holds it) from the
        config and the database as a new round or a reset left it, then start it. Without
        a database the teams are carried over by hand when kept."""
        hooks, reissued = self.on_renew, self.control.on_reissue
        carried = list(self.teams.by_id.values()) if keep_teams and not self.db_path else []
        Exchange.__init__(self, self.config, db_path=self.db_path)
        self.on_renew, self.control.on_reissue = hooks, reissued
        for team in carried:
            self.teams.add(team)
            self.session.register(team.team_id, team.role)
            self.fanout.add_team(team.team_id)
            self.scores.add_team(team.team_id, team.name, team.role)
        for hook in hooks:
            hook()
        await self.start()

    def start_matcher(self, instrument_id: InstrumentId) -> None:
        queue = self.matchers.setdefault(
            instrument_id, asyncio.Queue(self.config.server.matcher_queue_size)
        )
        matcher = Matcher(
            instrument_id, self.venue, self.clock, queue, self.trades, self.inflight,
            self.arrivals,
        )  # fmt: skip
        self.supervisor.start(f"matcher:{instrument_id}", matcher.run)

    async def listed(self, instruments: list[Instrument]) -> None:
        """New books: a matcher each, and market data (with fair values) from now on."""
        log, now = self.arrivals, self.clock.now()
        await self.logged(log.listed(now, self.venue.phase, instruments))
        for i in instruments:
            self.start_matcher(i.id)
        self.scores.listed(instruments)
        if self.market is not None and self.market.house is not None:
            self.market.house.listed(instruments)
        self.market_data.relist()
        self.fanout.dirty.update(i.id for i in instruments)

    async def delisted(self, instrument_ids: list[InstrumentId]) -> None:
        """Settled instruments leave: their matchers stop, their books go."""
        for instrument_id in instrument_ids:
            self.venue.delist(instrument_id)
            log = self.arrivals
            await self.logged(log.delisted(self.clock.now(), instrument_id))
            await self.supervisor.stop_one(f"matcher:{instrument_id}")
            self.matchers.pop(instrument_id, None)
        self.scores.delisted(instrument_ids)
        self.market_data.relist()

    async def logged(self, row: ArrivalRow | None) -> None:
        """A venue change made outside the matchers, into the log behind those before it
        (the row's seq was taken with the change; TradeQueue keeps the order)."""
        if row is not None:
            await self.trades.put(VenueChanged(request_id="", at=TimeNs(row[1]), arrival=row))

    async def stop(self) -> None:
        await self.supervisor.stop()
        if self.writer is not None:
            self.save_state()
            self.scores.save_state(every_series=True)
            await self.writer.close()
        log.info("exchange stopped")

    def record_game(self) -> None:
        """The effective config and the game's first moment: `replay game.db` reads them."""
        assert self.save_row is not None
        now = self.clock.now()
        config = msgspec.to_builtins(self.config)
        config["server"].pop("admin_token", None)  # a secret: never in the database
        for key, value in (("config", config), ("start_ns", now)):
            self.save_row("game_state", rows.game_state_row(key, value, now))

    def save_state(self) -> None:
        """Position snapshots and the game state (clock, phase, seed), as rows to write;
        and the next block of order ids once half of the reserved one is used."""
        save = self.save_row
        assert save is not None
        now = self.clock.now()
        for account in self.session.ledger.snapshot():
            save("position_snapshots", rows.snapshot_row(now, account))
        state: dict[str, object] = {"game_time_ns": now, "phase": self.venue.phase.value,
                                    "seed": self.config.seed}  # fmt: skip
        if self.market is not None:
            state["regime"] = self.market.model.regime.value
        for key, value in state.items():
            save("game_state", rows.game_state_row(key, value, now))
        if self.venue.peek_order_id() > self.id_ceiling - recovery.ID_BLOCK // 2:
            self.id_ceiling += recovery.ID_BLOCK
            reserve = Outbox()
            reserve.rows.append(
                ("game_state", rows.game_state_row("next_order_id", self.id_ceiling, now))
            )
            asyncio.get_running_loop().create_task(self.publisher.durable(reserve))

    # -- teams ------------------------------------------------------------------------

    async def register(self, name: str, role: Role, stream: bool = True) -> tuple[Team, str]:
        """A new team, answered only once its row is durable: the key is shown once.
        The house's teams (`stream=False`) never connect, so they get no stream.

        Refused (StorageFailing) while the database cannot commit: the answer would wait
        for a commit that may not come."""
        self._refuse_while_failing()
        team, key = self._enrol(name, role, stream)
        await self._save_teams([team])
        log.info("team registered", extra={"team_id": team.team_id, "role": role.value})
        return team, key

    async def enrol_many(self, entries: list[tuple[str, Role]]) -> list[tuple[Team, str]]:
        """Teams the organiser imports (names already checked), saved in one commit."""
        self._refuse_while_failing()
        made = [self._enrol(name, role, True) for name, role in entries]
        await self._save_teams([team for team, _ in made])
        log.info("teams imported", extra={"teams": len(made)})
        return made

    async def reissue_key(self, team_id: TeamId) -> tuple[Team, str]:
        """A new key for the team, answered once durable; the old one fails at once."""
        self._refuse_while_failing()
        team, key = self.teams.reissue(team_id)
        saved = Outbox()
        saved.rows.append(("team_keys", (team.team_id, team.key_hash)))
        await self.publisher.durable(saved)
        log.info("key reissued", extra={"team_id": team_id})
        return team, key

    def entry_closed(self) -> bool:
        """The database cannot commit now: order entry is closed (fail closed)."""
        return self.writer is not None and self.writer.failing

    def _refuse_while_failing(self) -> None:
        if self.writer is not None and self.writer.failing:
            raise StorageFailing(self.writer.last_error or "the database cannot commit")

    def _enrol(self, name: str, role: Role, stream: bool) -> tuple[Team, str]:
        team, key = self.teams.register(name, role)
        self.session.register(team.team_id, role)
        if stream:
            self.fanout.add_team(team.team_id)
        self.scores.add_team(team.team_id, team.name, role)
        return team, key

    async def _save_teams(self, teams: list[Team]) -> None:
        saved = Outbox()
        now = self.clock.now()
        saved.rows.extend(("teams", rows.team_row(team, now)) for team in teams)
        await self.publisher.durable(saved)

    async def caught_up(self) -> None:
        """Return once everything booked so far is committed, or at once while the
        database cannot commit (a read must answer from what is durable, not hang)."""
        writer = self.writer
        if writer is None or writer.failing:
            return
        committed = asyncio.ensure_future(self.publisher.durable())
        trouble = asyncio.ensure_future(writer.trouble.wait())
        try:
            await asyncio.wait((committed, trouble), return_when=asyncio.FIRST_COMPLETED)
        finally:
            committed.cancel()
            trouble.cancel()

    # -- what the tasks publish -------------------------------------------------------

    def heartbeat(self) -> None:
        now = self.clock.now()
        self.fanout.snapshot_all(
            "heartbeat", Heartbeat(game_time(now), self.venue.phase.value), "heartbeat"
        )

    def announce(self, previous: Phase, phase: Phase, at: TimeNs) -> None:
        log.info("phase change", extra={"phase": phase.value, "previous": previous.value})
        self.fanout.flush_tape()  # prints from before the change come before it
        self.fanout.broadcast(
            "phase_change", PhaseChange(phase.value, previous.value, game_time(at))
        )
        self.fanout.dirty.update(self.venue.instruments)

    def marks(self) -> dict[InstrumentId, Ticks]:
        """Mid where a book is two-sided, else the market's reference, else the last trade."""
        out: dict[InstrumentId, Ticks] = {}
        venue = self.venue
        for instrument_id, book in venue.books.items():
            bid, ask = book.best_bid(), book.best_ask()
            if bid is not None and ask is not None:
                out[instrument_id] = Ticks((bid + ask) // 2)
            elif (ref := venue.reference(instrument_id)) is not None:
                out[instrument_id] = ref
        return out

    def queue_depths(self) -> dict[str, int]:
        return {
            "orders": self.orders.qsize(),
            "matchers": sum(q.qsize() for q in self.matchers.values()),
            "trades": self.trades.qsize(),
        }

    def team(self, team_id: TeamId) -> Team | None:
        return self.teams.by_id.get(team_id)


# -- the parts, each built from its collaborators -------------------------------------


def build_session(
    config: GameConfig, schedule: Schedule, now: TimeNs, seed: np.random.SeedSequence
) -> TradingSession:
    """The venue and its ledger, listing the chain of the game's first day."""
    tz = getattr(schedule, "tz", dt.UTC)
    instruments = build_chain(config.instruments, from_ns(now, tz).date())
    return TradingSession(
        instruments, config.constraints(), config.fees(), np.random.default_rng(seed),
        schedule.phase_at(now),
    )  # fmt: skip


def build_fanout(config: GameConfig, history: MarketHistory) -> Fanout:
    server = config.server
    return Fanout(
        server.history_size, server.max_backlog, server.history_bytes,
        server.max_backlog_bytes, recorder=history.record,
        history_seconds=server.history_seconds,
    )  # fmt: skip


def build_market(
    config: GameConfig, seed: np.random.SeedSequence, now: TimeNs
) -> SimulatedMarket | None:
    if not config.market.enabled:
        return None
    return SimulatedMarket(config.market, config.schedule, seed, now)


def build_market_data(
    config: GameConfig,
    venue: ExchangeVenue,
    fanout: Fanout,
    clock: Clock,
    market: SimulatedMarket | None,
    save_row: Callable[[str, tuple[Any, ...]], None] | None,
    history: MarketHistory,
) -> MarketDataPublisher:
    return MarketDataPublisher(
        venue, fanout, clock,
        None if market is None else market.cache,
        None if market is None else market.prices,
        market.expiry_ns if market is not None else _no_expiry,
        config.market.fair_value_refresh, save_row,
        config.market.model.tick_seconds,  # a top row per book each market tick
        history=history,
    )  # fmt: skip


def build_writer(
    config: GameConfig, db_path: str, queues: DbQueues, release: Release, metrics: Metrics
) -> Writer:
    server = config.server
    return Writer(
        db_path, queues, release.release, server.batch_rows, server.linger,
        max_pages=server.db_max_pages, wal_bytes=server.wal_checkpoint_bytes,
        checkpoint_every=server.checkpoint_interval,
        on_commit=metrics.db_write_seconds.observe,
    )  # fmt: skip


def _no_expiry(date: dt.date) -> int:
    raise ValueError("no market: options are not priced")
