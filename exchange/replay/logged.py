"""`replay game.db`: a recorded live game played again from its arrivals log, exactly.

How it works. The server logs every operation that changed its venue, in the order the
venue applied it (`exchange.store.arrivals`). Here a fresh `TradingSession` is built
from the recorded config and seed as `exchange.app` builds one (same instruments, same
seeded generator, same starting phase at the recorded moment), the recorded teams are
opened with their ids and roles, and every arrival is applied in seq order at its
recorded game time: orders and quotes go straight to the venue under their recorded ids
(the live validator accepted them; they are not checked again), trades and expiry
settlements go to the ledger. Each run of the server (the first, and each restart)
starts again from fresh books, as the restarted server did; positions and cash carry
over. The trades the replay made are then compared with the `trades` table (id,
instrument, price, quantity, buyer, seller), and its settlements with `settlements`.

Pure: no asyncio, no clock, no I/O but reading the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import msgspec
import numpy as np

from exchange.config import GameConfig, load_config
from exchange.domain.instruments import Instrument, build_chain
from exchange.domain.orders import CancelOrder, NewOrder, NewQuote, Trade
from exchange.domain.phases import from_ns
from exchange.domain.positions import Ledger, Settlement
from exchange.domain.session import TradingSession
from exchange.domain.ticks import to_price
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderId,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
)
from exchange.domain.venue import ExchangeVenue
from exchange.store.arrivals import Arrival, arrival_from_row, instruments_of
from exchange.store.db import Database
from exchange.store.schema import COLUMNS

Print = tuple[int, str, int, int, str, str]
"""A trade as compared: (trade id, instrument, price ticks, quantity, buyer, seller)."""
Paid = tuple[str, str, int, int, int]
"""A settlement as compared: (instrument, team, quantity, value ticks, cash ticks)."""
MAX_REFUSALS = 5


class Reproduction(msgspec.Struct):
    """What the replay found: `divergence` is None when every trade came out as recorded."""

    trades: int
    """Trades recorded (and replayed, when reproduced)."""
    arrivals: int
    divergence: str | None = None
    refusals: list[str] = msgspec.field(default_factory=list)
    """Arrivals the replayed venue refused (the first few): where a divergence starts."""

    @property
    def reproduced(self) -> bool:
        return self.divergence is None


class LoggedGame:
    """The venue and ledger of a recorded game, moved on one arrival at a time."""

    def __init__(self, config: GameConfig, teams: Iterable[tuple[TeamId, Role]]) -> None:
        self.config = config
        self.schedule = config.schedule.build()
        self.known: dict[InstrumentId, Instrument] = {}
        """Every instrument any run listed: the ledger settles and values by these."""
        self.ledger = Ledger(self.known, config.fees())
        for team_id, role in teams:
            self.ledger.open_account(team_id, role)
        self.venue: ExchangeVenue | None = None
        self.trades: list[Trade] = []
        self.settlements: list[Settlement] = []
        self.refusals: list[str] = []

    def apply(self, a: Arrival) -> None:
        if a.kind == "run":
            self.start_run(a)
            return
        if self.venue is None:
            raise ValueError(f"arrival {a.seq} ({a.kind}) comes before any run started")
        getattr(self, f"_{a.kind}")(self.venue, a)

    def start_run(self, a: Arrival) -> None:
        """Fresh books, as the server builds them when it starts (or restarts) at `a`."""
        config = self.config
        tz = getattr(self.schedule, "tz", dt.UTC)
        instruments = build_chain(config.instruments, from_ns(a.ts_ns, tz).date())
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        session = TradingSession(
            instruments, config.constraints(), config.fees(), np.random.default_rng(seeds[0]),
            Phase(a.payload["phase"]),
        )  # fmt: skip
        venue = self.venue = session.venue
        venue.resume_ids(venue.peek_order_id(), int(a.payload["trade_id"]))
        self.known.update(venue.instruments)

    def _book(self, a: Arrival, trades: list[Trade], error: str | None) -> None:
        if error is not None and len(self.refusals) < MAX_REFUSALS:
            self.refusals.append(f"arrival {a.seq} ({a.kind} {a.instrument_id}): {error}")
        for trade in trades:
            self.ledger.apply(trade)
        self.trades.extend(trades)

    def _order(self, venue: ExchangeVenue, a: Arrival) -> None:
        order_id, side, quantity, price, kind, client_id = a.payload
        request = NewOrder(
            _team(a), _instrument(a), Side(side), quantity, price, OrderType(kind), client_id
        )
        result = venue.submit_order(request, a.ts_ns, OrderId(order_id))
        self._book(a, result.trades, result.error_code)

    def _quote(self, venue: ExchangeVenue, a: Arrival) -> None:
        bid_id, ask_id, bid, bid_qty, ask, ask_qty = a.payload
        request = NewQuote(_team(a), _instrument(a), bid, bid_qty, ask, ask_qty)
        result = venue.submit_quote(request, a.ts_ns, (OrderId(bid_id), OrderId(ask_id)))
        self._book(a, result.trades, result.error_code)

    def _cancel(self, venue: ExchangeVenue, a: Arrival) -> None:
        result = venue.cancel_order(CancelOrder(_team(a), OrderId(a.payload)), a.ts_ns)
        self._book(a, [], result.error_code)

    def _cancel_all(self, venue: ExchangeVenue, a: Arrival) -> None:
        events = venue.cancel_all(_team(a), a.ts_ns, _instrument(a), CancelReason(a.payload))
        self._book(a, [], None if events else "nothing to cancel")

    def _phase(self, venue: ExchangeVenue, a: Arrival) -> None:
        """Enter the phase with the reference price and halt the live book had then."""
        phase, reference, halted = a.payload
        iid = _instrument(a)
        if reference is None:
            venue.reference_price.pop(iid, None)
        else:
            venue.reference_price[iid] = Ticks(reference)
        if halted:
            venue.halted.add(iid)
        change = venue.enter_phase(iid, Phase(phase), a.ts_ns)
        venue.halted.discard(iid)  # the orders logged after it were taken: no halt then
        self._book(a, change.trades, None)

    def _expire(self, venue: ExchangeVenue, a: Arrival) -> None:
        iid = _instrument(a)
        venue.expire(iid, a.ts_ns)
        self.settlements += self.ledger.settle(iid, Ticks(a.payload), a.ts_ns)

    def _list(self, venue: ExchangeVenue, a: Arrival) -> None:
        venue.phase = Phase(a.payload["phase"])  # the phase a new book starts in
        venue.list_instruments(instruments_of(a.payload))
        self.known.update(venue.instruments)

    def _delist(self, venue: ExchangeVenue, a: Arrival) -> None:
        venue.delist(_instrument(a))


def _team(a: Arrival) -> TeamId:
    return TeamId(a.team_id or "")


def _instrument(a: Arrival) -> InstrumentId:
    return InstrumentId(a.instrument_id or "")


# -- reading a database and comparing ---------------------------------------------------


class Recorded(msgspec.Struct):
    """What a database recorded: the game's config and teams, its arrivals, and the
    trades and settlements to compare with."""

    config: GameConfig
    teams: list[tuple[TeamId, Role]]
    arrivals: list[Arrival]
    trades: list[Print]
    settlements: list[Paid]

    @classmethod
    def load(cls, path: str | Path) -> Recorded:
        """ValueError when the database has no arrivals log from the game's start."""
        with Database.open(str(path), readonly=True) as db:
            state = db.load_game_state()
            if "config" not in state:
                raise ValueError(f"{path}: the game's config is not recorded")
            teams = [(TeamId(t[0]), Role(t[2])) for t in db.read_table("teams")]
            arrivals = [arrival_from_row(row) for row in db.conn.execute(_ARRIVALS)]
            trades = [tuple(row) for row in db.conn.execute(_TRADES)]
            paid = [tuple(row) for row in db.conn.execute(_SETTLEMENTS)]
        if not arrivals or arrivals[0].kind != "run":
            raise ValueError(f"{path}: no arrivals log from the game's start (an older server?)")
        config = load_config(overrides=state["config"])
        return cls(config, teams, arrivals, trades, paid)


_ARRIVALS = f"SELECT {', '.join(COLUMNS['arrivals'])} FROM arrivals ORDER BY seq"
_TRADES = ("SELECT trade_id, instrument_id, price_ticks, quantity, buyer, seller FROM trades"
           " ORDER BY trade_id")  # fmt: skip
_SETTLEMENTS = "SELECT instrument_id, team_id, quantity, value_ticks, cash_ticks FROM settlements"


def play(recorded: Recorded) -> tuple[LoggedGame, str | None]:
    """Apply every arrival in seq order; the game, and what stopped it early if anything."""
    game = LoggedGame(recorded.config, recorded.teams)
    for arrival in recorded.arrivals:
        try:
            game.apply(arrival)
        except Exception as exc:  # a log this code cannot apply: say where, stop there
            return game, f"arrival {arrival.seq} ({arrival.kind}) failed: {exc!r}"
    return game, None


def reproduce(path: str | Path) -> Reproduction:
    """Replay the database's arrivals; compare the trades and settlements it recorded."""
    recorded = Recorded.load(path)
    game, failed = play(recorded)
    divergence = (
        failed
        or first_divergence(recorded.trades, tape(game.trades))
        or settlement_divergence(recorded.settlements, game.settlements)
    )
    return Reproduction(len(recorded.trades), len(recorded.arrivals), divergence, game.refusals)


def tape(trades: Iterable[Trade]) -> list[Print]:
    """Trades as compared, in trade id order."""
    prints = [(t.trade_id, t.instrument_id, t.price, t.quantity, t.buyer, t.seller)
              for t in trades]  # fmt: skip
    return sorted(prints)


def first_divergence(recorded: list[Print], replayed: list[Print]) -> str | None:
    """The first trade (by id) that differs, is missing or is extra; None if none does."""
    for n in range(max(len(recorded), len(replayed))):
        was = recorded[n] if n < len(recorded) else None
        now = replayed[n] if n < len(replayed) else None
        if was != now:
            trade_id = min(p[0] for p in (was, now) if p is not None)
            return f"trade {trade_id}: recorded {_show(was)}, replayed {_show(now)}"
    return None


def settlement_divergence(recorded: list[Paid], replayed: list[Settlement]) -> str | None:
    mine: dict[tuple[str, str], Settlement] = {(s.instrument_id, s.team_id): s for s in replayed}
    theirs = {(p[0], p[1]): p for p in recorded}
    for key in sorted(set(mine) | set(theirs)):
        s = mine.get(key)
        now = None if s is None else (*key, s.quantity, s.value_ticks, s.cash_ticks)
        if theirs.get(key) != now:
            return (f"settlement of {key[0]} for {key[1]}: recorded {theirs.get(key)}, "
                    f"replayed {now}")  # fmt: skip
    return None


def _show(p: Print | None) -> str:
    if p is None:
        return "no such trade"
    trade_id, instrument, price, quantity, buyer, seller = p
    return f"#{trade_id} {instrument} {quantity} @ {to_price(price)} buyer {buyer} seller {seller}"
