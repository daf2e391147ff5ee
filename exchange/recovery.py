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
from typing import TYPE_CHECKING, Any

from exchange.domain.orders import cancelled_event
from exchange.domain.positions import Fill
from exchange.domain.scoring import Scorer
from exchange.domain.types import CancelReason, InstrumentId, OrderStatus, Ticks, TimeNs
from exchange.pipeline.scoring import FAIR_VALUES_KEY
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.restore import restore_ledger
from exchange.wire import views

if TYPE_CHECKING:
    from exchange.app import Exchange

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


def recover(exchange: Exchange, path: str) -> None:
    """Load what the database holds into a freshly built exchange (before it starts)."""
    now = exchange.clock.now()
    with Database.open(path) as db:
        run = int(db.load_game_state().get("stream_run", 0)) + 1
        exchange.fanout.seq_base = run * SEQS_PER_RUN
        for team in db.load_teams():
            exchange.teams.add(team)
            exchange.session.register(team.team_id, team.role)
            exchange.fanout.add_team(team.team_id)
        replayed = restore_ledger(db, exchange.session.ledger)
        _restore_fills(exchange, db)
        _restore_marks(exchange, db)
        ids = db.max_ids()
        exchange.arrivals.resume(db.last_arrival_seq() + 1)
        exchange.venue.resume_ids(ids.order_id, ids.trade_id)
        cancelled = _cancel_stale(exchange, db, now)
        reserve_ids(db, ids.order_id + ID_BLOCK, now, run)
    log.info(
        "restored from the database",
        extra={"path": path, "teams": len(exchange.teams), "trades": replayed,
               "cancelled_orders": cancelled, "next_order_id": ids.order_id},
    )  # fmt: skip


def _restore_marks(exchange: Exchange, db: Database) -> None:
    """Last trade prices and fair values of the instruments listed now."""
    venue = exchange.venue
    for iid, price in db.last_prices().items():
        if iid in venue.instruments:
            venue.last_price[InstrumentId(iid)] = Ticks(price)
    saved = db.load_game_state().get(FAIR_VALUES_KEY)
    for iid, value in (saved if isinstance(saved, dict) else {}).items():
        if iid in venue.instruments and isinstance(value, int):
            venue.reference_price[InstrumentId(iid)] = Ticks(value)


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


def _restore_fills(exchange: Exchange, db: Database) -> None:
    client_ids = {o.order_id: o.client_order_id for o in db.load_orders()}
    fills = exchange.publisher.fills
    for team_id in exchange.teams.by_id:
        for fill in db.fills_for(team_id, 0, limit=10**9):
            fills.setdefault(fill.team_id, []).append((fill, client_ids.get(fill.order_id)))


def _cancel_stale(exchange: Exchange, db: Database, now: TimeNs) -> int:
    """Cancel, commit, then tell each owner (its stream keeps the message for it)."""
    stale = db.open_orders_at_crash()
    if not stale:
        return 0
    batch = rows.Batch()
    events = []
    for order in stale:
        event = cancelled_event(order, CancelReason.RESTART, now)
        batch.add_cancel(event)
        events.append((order, event))
    db.write_batch(batch)
    for order, event in events:
        order.status = OrderStatus.CANCELLED
        report = views.cancel_report(order, event)
        exchange.fanout.stream(order.team_id, "order_cancelled", report)
    return len(stale)
