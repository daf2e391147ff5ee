"""Starting on an existing database: teams, positions, cash and the game clock come back
exactly from what was committed (SPEC section 9).

Orders resting before the stop are not put back in the books: the market has moved
while the server was down, so each is cancelled (reason `restart`), the cancel is
committed, and its owner finds an `order_cancelled` message waiting in its stream.
Stream seqs start above every earlier run's, so a resume point from before the stop is
answered with resync_required, then the snapshot, then this run's messages (the cancels).
Order ids continue above every id handed out before: the server reserves a block of
ids in the database before answering with any of them, so a crash can never make it
give a client's order id to another order.

Marks come back too: each instrument's last trade from the committed trades, its last
fair value from the game state (saved with the scores), so positions and scores are
valued at once. The scores, saved every few seconds, are squared with the committed
fills: the scorer books the fills above the last trade it had seen.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from exchange.domain.orders import cancelled_event
from exchange.domain.positions import Fill, Ledger
from exchange.domain.scoring import Scorer
from exchange.domain.types import CancelReason, InstrumentId, OrderStatus, TeamId, Ticks, TimeNs
from exchange.pipeline.scoring import FAIR_VALUES_KEY
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.restore import restore_ledger
from exchange.teams import Team
from exchange.wire import views
from exchange.wire.messages import ExecutionReport

log = logging.getLogger("exchange.recovery")

SEQS_PER_RUN = 1_000_000_000
"""Each run (start or restart) of a game numbers its stream messages from run x this, so
a seq a client kept from before a restart is always older than anything kept now."""

ID_BLOCK = 1_000_000
"""Order ids reserved ahead in the database; another block is reserved at half use."""


def saved_state(path: str) -> dict[str, Any]:
    """The game state last committed (clock, phase, seed, id reservations); {} if new.

    The clock is saved with the periodic snapshots, so it may lag the last commit: it
    resumes from the latest moment anything was committed, never before a known trade.
    """
    with Database.open(path) as db:
        state = db.load_game_state()
        (latest,) = db.conn.execute(
            "SELECT MAX(t) FROM (SELECT MAX(ts_ns) AS t FROM trades"
            " UNION ALL SELECT MAX(updated_ns) FROM orders)"
        ).fetchone()
    if latest is not None:
        state["game_time_ns"] = max(latest, state.get("game_time_ns", 0))
    return state


class Restored(NamedTuple):
    """What a database gives back to a freshly built exchange, for its assembly to apply
    before it starts (`Exchange._restore`)."""

    run: int
    """This run's number: its stream seqs start at run x SEQS_PER_RUN."""
    teams: list[Team]
    fills: dict[TeamId, list[tuple[Fill, str | None]]]
    """Each team's committed fills, oldest first, with the client order id filled."""
    last_prices: dict[InstrumentId, Ticks]
    fair_values: dict[InstrumentId, Ticks]
    next_arrival: int
    """The seq of the next row of the arrivals log."""
    next_order_id: int
    next_trade_id: int
    cancelled: list[tuple[TeamId, ExecutionReport]]
    """The reports of the resting orders cancelled (and committed) at the restart."""


def recover(path: str, now: TimeNs) -> Restored:
    """Read what the database holds; cancel and commit the stale orders and reserve the
    next block of order ids, so the database is ready for the run that applies it."""
    with Database.open(path) as db:
        run = int(db.load_game_state().get("stream_run", 0)) + 1
        teams = db.load_teams()
        ids = db.max_ids()
        restored = Restored(
            run, teams, _committed_fills(db, teams), _last_prices(db), _fair_values(db),
            db.last_arrival_seq() + 1, ids.order_id, ids.trade_id, _cancel_stale(db, now),
        )  # fmt: skip
        reserve_ids(db, ids.order_id + ID_BLOCK, now, run)
    return restored


def replay_ledger(path: str, ledger: Ledger) -> None:
    """Book the committed trades and settlements into the ledger (its teams registered)."""
    with Database.open(path) as db:
        replayed = restore_ledger(db, ledger)
    log.info("restored from the database", extra={"path": path, "trades": replayed})


def _last_prices(db: Database) -> dict[InstrumentId, Ticks]:
    return {InstrumentId(iid): Ticks(price) for iid, price in db.last_prices().items()}


def _fair_values(db: Database) -> dict[InstrumentId, Ticks]:
    """Fair values as last saved with the scores (the game state's FAIR_VALUES_KEY)."""
    saved = db.load_game_state().get(FAIR_VALUES_KEY)
    return {
        InstrumentId(iid): Ticks(value)
        for iid, value in (saved if isinstance(saved, dict) else {}).items()
        if isinstance(value, int)
    }


def catch_up_scores(scorer: Scorer, path: str) -> int:
    """Book into a restored scorer the committed fills and settlements it missed."""
    with Database.open(path) as db:
        fills: list[Fill] = []
        for record in db.iter_trades(scorer.last_trade_id):
            fills += (record.buy, record.sell)
        booked = scorer.catch_up(fills, db.load_settlements())
    if booked:
        log.info("scores caught up with the committed fills", extra={"fills": booked})
    return booked


def reserve_ids(db: Database, ceiling: int, now: int, run: int) -> None:
    """Commit the order-id ceiling and this run's number before serving anyone."""
    batch = rows.Batch()
    batch.game_state.append(rows.game_state_row("next_order_id", ceiling, now))
    batch.game_state.append(rows.game_state_row("stream_run", run, now))
    db.write_batch(batch)


def _committed_fills(
    db: Database, teams: list[Team]
) -> dict[TeamId, list[tuple[Fill, str | None]]]:
    client_ids = {o.order_id: o.client_order_id for o in db.load_orders()}
    fills: dict[TeamId, list[tuple[Fill, str | None]]] = {}
    for team in teams:
        for fill in db.fills_for(team.team_id, 0, limit=10**9):
            fills.setdefault(fill.team_id, []).append((fill, client_ids.get(fill.order_id)))
    return fills


def _cancel_stale(db: Database, now: TimeNs) -> list[tuple[TeamId, ExecutionReport]]:
    """Cancel and commit; the reports are for each owner's stream (it keeps them)."""
    stale = db.open_orders_at_crash()
    if not stale:
        return []
    batch = rows.Batch()
    events = []
    for order in stale:
        event = cancelled_event(order, CancelReason.RESTART, now)
        batch.add_cancel(event)
        events.append((order, event))
    db.write_batch(batch)
    reports = []
    for order, event in events:
        order.status = OrderStatus.CANCELLED
        reports.append((order.team_id, views.cancel_report(order, event)))
    if reports:
        log.info("resting orders cancelled at the restart", extra={"orders": len(reports)})
    return reports
