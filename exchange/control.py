"""The organiser's controls: start, pause, resume and stop the game, set the clock speed,
publish a headline by hand, halt one book, disable a team, open and close registration
(SPEC section 8, `/admin`).

How it works. `GameControl` holds the game's state and makes every decision; the HTTP
side (`exchange/web/admin.py`) only authenticates and decodes. Its refusals live in the
venue (`suspended`, `halted`, `barred`), which every order passes, the house's included,
so a control takes effect for everyone at once, even for orders already queued. Cancels
are never refused: a halt or a pause traps no order. Pausing freezes the game clock;
every task waits on game time (`sleep_until`, the scheduler), so nothing moves until the
game resumes, and a speed change is seen within half a second by every sleeper. Stopping
is for good: the tasks that move the game stop, every resting order is cancelled
(`game_stopped`), the books close, and reads go on working.

Every action, refused or not, is logged (logger `exchange.admin`) and recorded: the last
`KEPT_ACTIONS` in memory (`GET /admin/actions`) and, with a database, all of them in
`admin_actions`. The state, speed, halted books and disabled teams are saved in
`game_state` (key `control`), so a restart keeps the organiser's decisions.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from exchange.clock import Clock, ScaledClock
from exchange.config import GameConfig
from exchange.domain.game_state import REFUSALS, STILL, GameState, Refusal, conflict, move
from exchange.domain.market.news import NewsEvent, NewsKind
from exchange.domain.phases import Schedule
from exchange.domain.phases import next_open as opening_after
from exchange.domain.session import TradingSession
from exchange.domain.types import CancelReason, InstrumentId, Phase, Role, TeamId, Ticks, TimeNs
from exchange.domain.validation import OrderRefusal
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.events import publish_news
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.items import CancelTeam, InFlight, PhaseStep
from exchange.pipeline.publisher import Publisher
from exchange.pipeline.scoring import SaveRow, ScoreKeeper
from exchange.pipeline.simulated import SimulatedMarket
from exchange.pipeline.supervisor import Supervisor
from exchange.pipeline.writer import Writer
from exchange.results import collect
from exchange.store import rounds, rows
from exchange.store.db import Database
from exchange.store.schema import StoreError
from exchange.teams import Team, Teams, name_key
from exchange.wire import views
from exchange.wire.admin import (
    ActionView,
    GameStatus,
    InstrumentStatus,
    IssuedKey,
    NewsPublished,
    TeamChange,
    TeamEntry,
    TeamStatus,
)
from exchange.wire.codec import game_time, utc_now

log = logging.getLogger("exchange.admin")

KEPT_ACTIONS = 1000
"""Actions kept in memory for `GET /admin/actions` (the database keeps every one)."""
TEAM_DISABLED_CLOSE = 4003
"""WebSocket close code for a disabled team's streams (4000-4999: the application's)."""
NEW_ROUND_CLOSE = 4002
"""WebSocket close code for every stream when a new round or a reset begins: reconnect
(without `since`: the new round's streams start afresh)."""
DRAIN_ATTEMPTS, DRAIN_S = 100, 0.05
"""A new round waits up to 5 s for the pipeline's queues to empty."""
KEY_REISSUED_CLOSE = 4001
"""WebSocket close code for the streams of a team whose key was reissued: reconnect with
the new key."""
MOVERS = ("scheduler", "simulator", "news", "signals", "house_liquidity", "house_options",
          "retail", "expiry")  # fmt: skip
"""The tasks that move a game on; a stopped game stops them."""
CANCEL_ATTEMPTS, CANCEL_RETRY_S = 100, 0.05
"""A cancel-all refused because a book's queue is full is tried again, for up to 5 s."""


Handler = Callable[..., Awaitable[Any]]


class ControlledGame(Protocol):
    """What the controls act on: the running game (`exchange.app.Exchange`)."""

    renewing: bool
    """A new round or a reset is under way (set by the controls while they renew)."""

    @property
    def config(self) -> GameConfig: ...
    @property
    def db_path(self) -> str | None: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def schedule(self) -> Schedule: ...
    @property
    def venue(self) -> ExchangeVenue: ...
    @property
    def session(self) -> TradingSession: ...
    @property
    def teams(self) -> Teams: ...
    @property
    def orders(self) -> asyncio.Queue[Any]: ...
    @property
    def matchers(self) -> dict[InstrumentId, asyncio.Queue[Any]]: ...
    @property
    def inflight(self) -> InFlight: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def fanout(self) -> Fanout: ...
    @property
    def writer(self) -> Writer | None: ...
    @property
    def save_row(self) -> SaveRow | None:
        """Hands a row to the writer; None without a database."""

    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def scores(self) -> ScoreKeeper: ...
    @property
    def market(self) -> SimulatedMarket | None: ...
    @property
    def control(self) -> GameControl:
        """The controls of the game as it is now (a new round builds new ones)."""

    def team(self, team_id: TeamId) -> Team | None: ...
    def marks(self) -> dict[InstrumentId, Ticks]: ...
    def queue_depths(self) -> dict[str, int]: ...
    def announce(self, previous: Phase, phase: Phase, at: TimeNs) -> None: ...
    def save_state(self) -> None: ...
    async def enrol_many(self, entries: list[tuple[str, Role]]) -> list[tuple[Team, str]]: ...
    async def reissue_key(self, team_id: TeamId) -> tuple[Team, str]: ...
    async def renew(self, keep_teams: bool) -> None: ...
    async def stop(self) -> None: ...


class GameControl:
    def __init__(
        self, exchange: ControlledGame, saved: Mapping[str, Any] | None, db_path: str | None
    ) -> None:
        self.exchange = exchange
        self.actions: deque[ActionView] = deque(maxlen=KEPT_ACTIONS)
        if db_path:
            self.actions.extend(_stored_actions(db_path))
        self.handlers: dict[str, Handler] = {
            "start": self.start, "pause": self.pause, "resume": self.resume,
            "stop": self.stop, "clock": self.set_speed, "news": self.news,
            "halt": self.halt, "unhalt": self.unhalt, "disable": self.disable,
            "enable": self.enable, "open_registration": self.open_registration,
            "close_registration": self.close_registration, "assign_roles": self.assign_roles,
            "import_teams": self.import_teams, "reissue_key": self.reissue_key,
            "new_round": self.new_round, "reset": self.reset,
        }  # fmt: skip
        self.round = 1
        """The round being played (`admin new-round` counts them)."""
        self.state = GameState.RUNNING
        self.registration_open = exchange.config.server.registration_open
        self.assigned_roles: tuple[Role, ...] = exchange.config.server.assigned_roles
        self.on_reissue: list[Callable[[TeamId], None]] = []
        """Called with a team whose key was reissued (the stream's tickets forget it)."""
        self._restore(saved or {}, exchange.config.clock.start_paused)

    def _restore(self, saved: Mapping[str, Any], start_paused: bool) -> None:
        """A new game starts running, or waiting if so configured; a restarted one where
        the organiser left it (a halted book that has since expired is forgotten)."""
        venue = self.exchange.venue
        venue.halted.update(InstrumentId(i) for i in saved.get("halted", ()) if i in venue.books)
        venue.barred.update(TeamId(t) for t in saved.get("disabled_teams", ()))
        self.registration_open = bool(saved.get("registration_open", self.registration_open))
        self.round = int(saved.get("round", 1))
        if "assigned_roles" in saved:
            self.assigned_roles = tuple(Role(r) for r in saved["assigned_roles"])
        if "speed" in saved and isinstance(self.exchange.clock, ScaledClock):
            self.exchange.clock.set_speed(float(saved["speed"]))
        default = GameState.WAITING if start_paused else GameState.RUNNING
        self._enter(GameState(saved.get("state", default)))
        if self.state is GameState.STOPPED:
            venue.set_phase(Phase.CLOSED, self.exchange.clock.now())  # books are empty

    async def started(self) -> None:
        """Called once the exchange's tasks run: a stopped game keeps none that move it."""
        if self.state is GameState.STOPPED:
            for name in MOVERS:
                await self.exchange.supervisor.stop_one(name)

    # -- the one entry point -----------------------------------------------------------

    async def act(self, action: str, shown: dict[str, Any] | None = None, **arguments: Any) -> Any:
        """Take an action by name; return its answer, or a `Refusal`. Either way it is
        logged and recorded (with `shown` for its arguments, when given: a summary)."""
        if self.exchange.renewing:
            outcome: Any = conflict("a new round is being set up; try again in a moment")
        else:
            outcome = await self.handlers[action](**arguments)
        # After a new round or a reset the exchange has a new control: it keeps the record.
        self.exchange.control._record(action, arguments if shown is None else shown, outcome)
        return outcome

    # -- the game as a whole -----------------------------------------------------------

    async def start(self) -> GameStatus | Refusal:
        return self._move("start")

    async def pause(self) -> GameStatus | Refusal:
        return self._move("pause")

    async def resume(self) -> GameStatus | Refusal:
        return self._move("resume")

    async def stop(self) -> GameStatus | Refusal:
        """End the game: refuse orders, stop what moves it, cancel every resting order
        (`game_stopped`), close the books, and save the state."""
        refused = self._move("stop")
        if isinstance(refused, Refusal):
            return refused
        e = self.exchange
        for name in MOVERS:
            await e.supervisor.stop_one(name)
        cancelled = await self._cancel_all(CancelReason.GAME_STOPPED)
        await self._close_books()
        if e.writer is not None:
            e.save_state()
        await e.publisher.durable()
        log.info("game stopped", extra={"cancelled_orders": cancelled})
        return self.status()

    def _move(self, action: str) -> GameStatus | Refusal:
        target = move(self.state, action)
        if isinstance(target, Refusal):
            return target
        self._enter(target)
        self._save()
        return self.status()

    def _enter(self, state: GameState) -> None:
        self.state = state
        self.exchange.venue.suspended = REFUSALS[state]
        clock = self.exchange.clock
        if not isinstance(clock, ScaledClock):
            return  # a replay's virtual clock moves only when the replay moves it
        if state in STILL:
            clock.pause()
        else:
            clock.resume()

    async def set_speed(self, speed: float) -> GameStatus | Refusal:
        clock = self.exchange.clock
        if self.state is GameState.STOPPED:
            return conflict("the game is over", state=self.state)
        if not isinstance(clock, ScaledClock):
            return conflict("this game's clock has no speed to set (a replay)")
        clock.set_speed(speed)
        self._save()
        return self.status()

    async def news(self, headline: str) -> NewsPublished | Refusal:
        """Publish a headline now. With a simulated market its effect is drawn like a
        drawn headline's (none if it is not in the table) and lands from the next tick."""
        if self.state is GameState.STOPPED:
            return conflict("the game is over", state=self.state)
        e = self.exchange
        now = e.clock.now()
        market = e.market
        if market is not None and market.delivery is not None:
            event = market.model.announce(headline, now, market.streams)
            market.delivery.announce(event)
        else:
            save = e.save_row
            publish_news(e.fanout, save, NewsEvent(now, headline, NewsKind.NONE))
        return NewsPublished(headline, game_time(now))

    async def _close_books(self) -> None:
        """Every book enters CLOSED behind what its matcher has queued."""
        e = self.exchange
        now, previous = e.clock.now(), e.venue.phase
        e.venue.phase = Phase.CLOSED
        if previous is not Phase.CLOSED:
            e.announce(previous, Phase.CLOSED, now)
        for queue in list(e.matchers.values()):
            await queue.put(PhaseStep(Phase.CLOSED, now))

    # -- registration ------------------------------------------------------------------

    async def open_registration(self) -> GameStatus | Refusal:
        return self._set_registration(True)

    async def close_registration(self) -> GameStatus | Refusal:
        """Refuse new teams from now on; the registered ones play on."""
        return self._set_registration(False)

    def _set_registration(self, wanted: bool) -> GameStatus | Refusal:
        if self.registration_open == wanted:
            return conflict(f"registration is already {'open' if wanted else 'closed'}")
        self.registration_open = wanted
        self._save()
        return self.status()

    async def assign_roles(self, roles: list[str]) -> GameStatus | Refusal:
        """Fix the roles of self-registered teams (in turn), or, with none, let them choose."""
        if len(set(roles)) != len(roles):
            return Refusal("INVALID_FIELD", "each role at most once", {"field": "roles"})
        self.assigned_roles = tuple(Role(r) for r in roles)
        self._save()
        return self.status()

    def role_for(self, asked: Role) -> Role:
        """The role a self-registering team gets: its own, or the organiser's choice."""
        if not self.assigned_roles:
            return asked
        counts = dict.fromkeys(self.assigned_roles, 0)
        for team in self.exchange.teams.by_id.values():
            if team.role in counts:
                counts[team.role] += 1
        return min(self.assigned_roles, key=lambda role: counts[role])

    def registration_mode(self) -> str:
        if not self.registration_open:
            return "closed"
        return "assigned" if self.assigned_roles else "open"

    def registration_refusal(self) -> Refusal | None:
        """Why `POST /auth/register` may not take a team now, if it may not."""
        if not self.registration_open:
            return Refusal("REGISTRATION_CLOSED", "the organiser has closed registration", {})
        cap = self.exchange.config.server.max_teams
        if len(self.exchange.teams) >= cap:
            return Refusal(
                "TEAM_LIMIT_REACHED", f"the game is full: {cap} teams", {"max_teams": cap}
            )
        return None

    # -- one instrument ----------------------------------------------------------------

    async def halt(self, instrument_id: str) -> InstrumentStatus | Refusal:
        """Refuse new orders in one book; what rests stays, and may be cancelled."""
        problem = self._instrument_problem(instrument_id, want_halted=False)
        if problem is not None:
            return problem
        self.exchange.venue.halted.add(InstrumentId(instrument_id))
        self._save()
        return self.instrument_status(instrument_id)

    async def unhalt(self, instrument_id: str) -> InstrumentStatus | Refusal:
        """Take orders again; the book re-enters the venue's phase, so one that missed
        its opening auction while halted is uncrossed now."""
        problem = self._instrument_problem(instrument_id, want_halted=True)
        if problem is not None:
            return problem
        e, iid = self.exchange, InstrumentId(instrument_id)
        e.venue.halted.discard(iid)
        await e.matchers[iid].put(PhaseStep(e.venue.phase, e.clock.now()))
        self._save()
        return self.instrument_status(instrument_id)

    def _instrument_problem(self, instrument_id: str, want_halted: bool) -> Refusal | None:
        venue = self.exchange.venue
        if instrument_id not in venue.books:
            message = f"unknown instrument {instrument_id!r}"
            return Refusal("INVALID_INSTRUMENT", message, {"instrument_id": instrument_id}, 404)
        if self.state is GameState.STOPPED:
            return conflict("the game is over", state=self.state)
        if (instrument_id in venue.halted) != want_halted:
            now = "is already halted" if not want_halted else "is not halted"
            return conflict(f"{instrument_id} {now}", instrument_id=instrument_id)
        return None

    def instrument_status(self, instrument_id: str) -> InstrumentStatus:
        venue, iid = self.exchange.venue, InstrumentId(instrument_id)
        return InstrumentStatus(iid, iid in venue.halted, venue.book_phase[iid].value)

    # -- teams -------------------------------------------------------------------------

    async def disable(self, team_id: str) -> TeamChange | Refusal:
        """Refuse the team's requests, close its streams, cancel its orders
        (`team_disabled`). A house team may be disabled too: its orders are refused."""
        problem = self._team_problem(team_id, want_disabled=False)
        if problem is not None:
            return problem
        e, tid = self.exchange, TeamId(team_id)
        e.venue.barred.add(tid)
        stream = e.fanout.streams.get(tid)
        for conn in () if stream is None else tuple(stream.connections):
            e.fanout.cut(conn, TEAM_DISABLED_CLOSE, "team disabled by the organiser")
        cancelled = await self._cancel_team(tid, CancelReason.TEAM_DISABLED)
        self._save()
        return TeamChange(tid, True, cancelled)

    async def enable(self, team_id: str) -> TeamChange | Refusal:
        problem = self._team_problem(team_id, want_disabled=True)
        if problem is not None:
            return problem
        self.exchange.venue.barred.discard(TeamId(team_id))
        self._save()
        return TeamChange(team_id, False, 0)

    async def import_teams(self, teams: list[TeamEntry]) -> list[IssuedKey] | Refusal:
        """Register the organiser's teams, all or none, whatever registration's mode; each
        key is in the answer only."""
        problem = self._import_problem(teams)
        if problem is not None:
            return problem
        entries = [(t.team_name, Role(t.role)) for t in teams]
        made = await self.exchange.enrol_many(entries)
        return [
            IssuedKey(team.team_id, team.name, team.role.value, key, entry.members)
            for (team, key), entry in zip(made, teams, strict=True)
        ]

    def _import_problem(self, teams: list[TeamEntry]) -> Refusal | None:
        registry, seen, taken = self.exchange.teams, set(), []
        for entry in teams:
            key = name_key(entry.team_name)
            if key in seen or registry.taken(entry.team_name):
                taken.append(entry.team_name)
            seen.add(key)
        if taken:
            message = f"names taken (or repeated in the import): {', '.join(taken[:10])}"
            return Refusal("TEAM_NAME_TAKEN", message, {"names": taken})
        cap = self.exchange.config.server.max_teams
        if len(registry) + len(teams) > cap:
            message = f"the game takes {cap} teams; {len(registry)} are registered"
            return Refusal("TEAM_LIMIT_REACHED", message, {"max_teams": cap})
        return self._storage_problem()

    async def reissue_key(self, team_id: str) -> IssuedKey | Refusal:
        """A new key for a team: the old one fails from now on, its streams are closed
        (4001), its orders rest on."""
        e, tid = self.exchange, TeamId(team_id)
        team = e.team(tid)
        if team is None or team.role is Role.HOUSE:
            return Refusal("NOT_FOUND", f"no team {team_id!r}", {"team_id": team_id})
        problem = self._storage_problem()
        if problem is not None:
            return problem
        team, key = await e.reissue_key(tid)
        for forget in self.on_reissue:
            forget(tid)
        stream = e.fanout.streams.get(tid)
        for conn in () if stream is None else tuple(stream.connections):
            e.fanout.cut(conn, KEY_REISSUED_CLOSE, "the organiser reissued this team's key")
        return IssuedKey(team.team_id, team.name, team.role.value, key)

    def _storage_problem(self) -> Refusal | None:
        writer = self.exchange.writer
        if writer is not None and writer.failing:
            message = "the exchange cannot write to its database; try again once it can"
            return Refusal("SERVICE_UNAVAILABLE", message, {})
        return None

    def _team_problem(self, team_id: str, want_disabled: bool) -> Refusal | None:
        if self.exchange.team(TeamId(team_id)) is None:
            return Refusal("NOT_FOUND", f"no team {team_id!r}", {"team_id": team_id})
        if self.disabled(team_id) != want_disabled:
            now = "is already disabled" if not want_disabled else "is not disabled"
            return conflict(f"team {team_id} {now}", team_id=team_id)
        return None

    def disabled(self, team_id: str) -> bool:
        return team_id in self.exchange.venue.barred

    # -- rounds ------------------------------------------------------------------------

    async def new_round(self) -> GameStatus | Refusal:
        """Archive this round (its results and rows, with a database) and start the next
        from the config's start: the same teams and keys, no positions, cash or scores,
        empty books; the organiser's registration settings and disabled teams stay."""
        return await self._renew(keep_teams=True)

    async def reset(self) -> GameStatus | Refusal:
        """Start over with nothing but the config: no teams, rounds or record."""
        return await self._renew(keep_teams=False)

    async def _renew(self, keep_teams: bool) -> GameStatus | Refusal:
        problem = self._storage_problem()
        if problem is not None:
            return problem
        e, finished = self.exchange, self.round
        e.renewing = True
        failed: Refusal | None = None
        try:
            await self._wind_down()
            kept = self._kept(keep_teams)
            if e.db_path:
                failed = await self._rewrite_database(e.db_path, finished, keep_teams, kept)
            await e.renew(keep_teams)
        finally:
            e.renewing = False
        if failed is not None:  # the file is as it was: the round goes on, as on a restart
            return failed
        fresh = e.control
        if not e.db_path:  # nothing to restore the settings from
            fresh._restore(kept, e.config.clock.start_paused)
        log.info("new round" if keep_teams else "reset", extra={"round": fresh.round})
        return fresh.status()

    async def _wind_down(self) -> None:
        """Refuse orders, let the pipeline empty, cancel what rests, close every stream,
        commit, and stop the exchange's tasks."""
        e = self.exchange
        e.venue.suspended = ("GAME_STOPPED", "the round is over; the next one is being set up")
        for _ in range(DRAIN_ATTEMPTS):
            if not any(e.queue_depths().values()):
                break
            await asyncio.sleep(DRAIN_S)
        await self._cancel_all(CancelReason.GAME_STOPPED)
        await e.publisher.durable()
        for stream in tuple(e.fanout.streams.values()):
            for conn in tuple(stream.connections):
                e.fanout.cut(conn, NEW_ROUND_CLOSE, "a new round begins: reconnect")
        await e.stop()

    def _kept(self, keep_teams: bool) -> dict[str, Any]:
        """The organiser's settings the next round starts from."""
        if not keep_teams:
            return {}
        return {
            "round": self.round + 1, "registration_open": self.registration_open,
            "assigned_roles": [r.value for r in self.assigned_roles],
            "disabled_teams": sorted(self.exchange.venue.barred),
        }  # fmt: skip

    async def _rewrite_database(
        self, path: str, finished: int, keep_teams: bool, kept: dict[str, Any]
    ) -> Refusal | None:
        """Archive the round (or empty the file) while nothing else uses it: the writer
        is closed, so a worker thread may hold the file without blocking the loop. One
        transaction: on a failure the file is unchanged (and the refusal says so)."""
        try:
            if not keep_teams:
                await asyncio.to_thread(rounds.reset, path)
                return None
            results = collect(self.exchange.scores, self.exchange.clock.now(), path, finished)
            now = self.exchange.clock.now()
            await asyncio.to_thread(rounds.archive_round, path, finished, results, kept, now)
        except (sqlite3.Error, StoreError) as exc:
            log.warning("the database was not changed", extra={"error": str(exc)})
            message = "the database could not be changed; the round goes on"
            return Refusal("SERVICE_UNAVAILABLE", message, {})
        return None

    # -- cancelling through the pipeline -----------------------------------------------

    async def _cancel_all(self, reason: CancelReason) -> int:
        e = self.exchange
        holding = [t for t in e.teams.by_id if e.venue.open_orders(t) or e.inflight.pending(t)]
        counts = await asyncio.gather(*(self._cancel_team(t, reason) for t in holding))
        return sum(counts)

    async def _cancel_team(self, team_id: TeamId, reason: CancelReason) -> int:
        """Cancel every order of the team the way its own cancel-all would travel (so each
        owner hears of it, and the database too); how many were cancelled."""
        loop = asyncio.get_running_loop()
        for _ in range(CANCEL_ATTEMPTS):
            reply: asyncio.Future[Any] = loop.create_future()
            await self.exchange.orders.put(
                CancelTeam(team_id, None, reply, f"admin-{reason.value}", reason)
            )
            result = await reply
            if not isinstance(result, OrderRefusal):
                return len(result)
            await asyncio.sleep(CANCEL_RETRY_S)  # a book's queue was full
        log.error("could not cancel a team's orders", extra={"team_id": team_id})
        return 0

    # -- views -------------------------------------------------------------------------

    def status(self) -> GameStatus:
        e = self.exchange
        return GameStatus(
            self.state.value, e.venue.phase.value, game_time(e.clock.now()),
            getattr(e.clock, "speed", 1.0), self.state in (GameState.WAITING, GameState.PAUSED),
            self.state is GameState.STOPPED, sorted(e.venue.halted), sorted(e.venue.barred),
            self.registration_open, self.registration_mode(),
            [r.value for r in self.assigned_roles], len(e.teams), e.config.server.max_teams,
            self.next_open(), self.round,
        )  # fmt: skip

    def next_open(self) -> str | None:
        """When the closed market next opens, on the game clock (None while open)."""
        e = self.exchange
        if e.venue.phase is not Phase.CLOSED or self.state is GameState.STOPPED:
            return None
        at = opening_after(e.schedule, e.clock.now())
        return None if at is None else game_time(at)

    def teams(self) -> list[TeamStatus]:
        e = self.exchange
        marks = e.marks()
        out = []
        for team in e.teams.by_id.values():
            view = views.positions_view(e.session.ledger.account(team.team_id),
                                        e.venue.instruments, marks)  # fmt: skip
            stream = e.fanout.streams.get(team.team_id)
            out.append(TeamStatus(
                team.team_id, team.name, team.role.value, self.disabled(team.team_id),
                0 if stream is None else len(stream.connections),
                len(e.venue.open_orders(team.team_id)), len(view.positions), view.cash,
                view.total_pnl,
            ))  # fmt: skip
        return out

    def recent(self, limit: int) -> list[ActionView]:
        """The last `limit` actions, oldest first."""
        kept = list(self.actions)
        return kept[-limit:]

    # -- the record --------------------------------------------------------------------

    def _record(self, action: str, arguments: dict[str, Any], outcome: Any) -> None:
        now, wall = self.exchange.clock.now(), utc_now()
        result = outcome.code if isinstance(outcome, Refusal) else "ok"
        self.actions.append(ActionView(game_time(now), wall, action, arguments, result))
        level = logging.WARNING if isinstance(outcome, Refusal) else logging.INFO
        context = {"action": action, "arguments": arguments, "outcome": result,
                   "state": self.state.value}  # fmt: skip
        log.log(level, "admin action", extra=context)
        save = self.exchange.save_row
        if save is not None:
            row = rows.admin_action_row(now, wall, action, arguments, result)
            save("admin_actions", row)

    def _save(self) -> None:
        e = self.exchange
        if e.save_row is None:
            return
        saved = {
            "state": self.state.value, "speed": getattr(e.clock, "speed", 1.0),
            "halted": sorted(e.venue.halted), "disabled_teams": sorted(e.venue.barred),
            "registration_open": self.registration_open,
            "assigned_roles": [r.value for r in self.assigned_roles], "round": self.round,
        }  # fmt: skip
        e.save_row("game_state", rows.game_state_row("control", saved, e.clock.now()))


def _stored_actions(path: str) -> list[ActionView]:
    """The last recorded actions of a restarted game."""
    with Database.open(path) as db:
        stored = db.read_table("admin_actions")[-KEPT_ACTIONS:]
    return [
        ActionView(game_time(ts), wall, action, rows.from_json(arguments), outcome)
        for ts, wall, action, arguments, outcome in stored
    ]
