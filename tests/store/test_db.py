"""Batched writes read back exactly, one transaction per batch, and the restart reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest

from exchange.domain.orders import NewOrder, Order, OrderCancelled, cancelled_event
from exchange.domain.positions import Settlement
from exchange.domain.types import (
    CancelReason,
    InstrumentId,
    OrderStatus,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.domain.venue import ExchangeVenue
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.rows import Batch

from .support import (
    CALL,
    ORDER_BASE,
    SPX,
    T0,
    batch_of,
    book,
    make_teams,
    new_ledger,
    order,
    random_trades,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open(tmp_path / "game.db") as database:
        yield database


def every_table_batch() -> Batch:
    teams = make_teams()
    ledger = new_ledger(teams)
    batch = batch_of(teams, book(ledger, random_trades(teams, 50, seed=1)))
    prices = [None if n % 3 == 0 else 440_000 + n for n in range(1, 20)]
    batch.orders = [rows.order_row(order(n, price=p)) for n, p in enumerate(prices, 1)]
    batch.prices = [
        rows.underlying_row(T0, SPX, 440_012),
        rows.top_row(T0 + 1, CALL.id, 1_500, 7, None, 0, 1_490),
    ]
    batch.events = [rows.event_row(T0, "Fed hikes", "macro", {"SPX": -0.02, "vol": 1.5})]
    batch.signals = [
        rows.signal_row(T0, Role.HEDGE_FUND, "forecast", {"SPX": 441_000}),
        rows.signal_row(T0, None, "hint", ["a", 1]),
    ]
    batch.position_snapshots = [rows.snapshot_row(T0, s) for s in ledger.snapshot()]
    batch.settlements = [
        rows.settlement_row(
            Settlement(TeamId("T0002"), CALL.id, -3, Ticks(1_200), -360_000, 5_000, TimeNs(T0))
        )
    ]
    batch.game_state = [rows.game_state_row("regime", {"name": "calm", "vol": 0.15}, T0)]
    batch.admin_log = [rows.admin_row(T0, "pause", {"by": "organiser"})]
    return batch


def test_every_table_reads_back_exactly(db: Database) -> None:
    batch = every_table_batch()
    db.write_batch(batch)
    for table in ("teams", "orders", "trades", "prices", "events", "signals",
                  "position_snapshots", "settlements", "game_state", "admin_log"):  # fmt: skip
        assert db.read_table(table) == getattr(batch, table), table
    assert len(batch) == db.rows_written


def test_domain_values_round_trip(db: Database) -> None:
    teams = make_teams()
    ledger = new_ledger(teams)
    booked = book(ledger, random_trades(teams, 200, seed=2))
    orders = [order(n, price=None if n % 2 else 440_100) for n in range(1, 6)]
    batch = batch_of(teams, booked)
    batch.orders = [rows.order_row(o) for o in orders]
    batch.position_snapshots = [rows.snapshot_row(T0, s) for s in ledger.snapshot()]
    batch.game_state = [rows.game_state_row("seed", 42, T0), rows.game_state_row("p", "X", T0)]
    db.write_batch(batch)

    assert db.load_teams() == teams
    assert db.load_trades() == [rows.TradeRecord(*b) for b in booked]
    assert db.load_orders() == orders
    snapshots = [rows.snapshot_from_row(r) for r in db.read_table("position_snapshots")]
    assert snapshots == [(T0, s) for s in ledger.snapshot()]
    assert db.load_game_state() == {"p": "X", "seed": 42}


def test_a_batch_of_1000_rows_is_one_transaction(db: Database) -> None:
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    changes = db.conn.total_changes
    batch = Batch(prices=[rows.underlying_row(T0 + n, SPX, 440_000 + n) for n in range(1000)])

    db.write_batch(batch)

    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN IMMEDIATE", "COMMIT",
    ]  # fmt: skip
    assert db.conn.total_changes - changes == 1000
    assert db.transactions == 1 and db.rows_written == 1000
    assert len(db.latencies_ns) == 1


def test_a_mixed_batch_is_one_transaction_and_latencies_are_bounded(tmp_path: Path) -> None:
    with Database.open(tmp_path / "game.db", keep_latencies=3) as db:
        statements: list[str] = []
        db.conn.set_trace_callback(statements.append)
        for _ in range(5):
            batch = every_table_batch()
            batch.teams = []  # registered once only
            batch.orders = []
            batch.trades, batch.order_fills = [], []
            db.write_batch(batch)
        assert sum(s.startswith("BEGIN") for s in statements) == 5
        assert sum(s == "COMMIT" for s in statements) == 5
        assert db.transactions == 5 and len(db.latencies_ns) == 3


def test_an_empty_batch_opens_no_transaction(db: Database) -> None:
    db.write_batch(Batch())
    assert db.transactions == 0


def test_fills_and_cancel_update_the_order_life_cycle(db: Database) -> None:
    a, b, c = order(1, quantity=10), order(2, quantity=5), order(3, quantity=4)
    first = Batch(orders=[rows.order_row(o) for o in (a, b, c)])
    first.order_fills = [(1, 6, T0 + 10), (2, 0, T0 + 10), (3, 1, T0 + 10)]
    db.write_batch(first)
    cancel = OrderCancelled(a.order_id, a.team_id, SPX, Side.BUY, 6, 4, CancelReason.USER,
                            TimeNs(T0 + 20))  # fmt: skip
    second = Batch(cancels=[rows.cancel_update(cancel)])
    second.order_fills = [(1, 6, T0 + 10), (3, 1, T0 + 10)]  # replayed: no change
    db.write_batch(second)

    stored = {r[0]: r for r in db.read_table("orders")}
    assert stored[1][9:] == ("cancelled", 4, "user", T0 + 20)
    assert stored[2][9:] == ("filled", 5, None, T0 + 10)
    assert stored[3][9:] == ("partially_filled", 3, None, T0 + 10)
    assert [o.order_id for o in db.open_orders_at_crash()] == [3]
    assert db.open_orders_at_crash()[0].remaining == 1


def test_a_fill_met_after_its_cancel_does_not_revive_the_order(db: Database) -> None:
    a = order(1, quantity=10)
    batch = Batch(orders=[rows.order_row(a)])
    batch.add_cancel(cancelled_event(a, CancelReason.MARKET_CLOSE, TimeNs(T0 + 5)))
    db.write_batch(batch)
    db.write_batch(Batch(order_fills=[(1, 10, T0 + 1)]))
    assert db.read_table("orders")[0][9:] == ("cancelled", 0, "market_close", T0 + 5)
    assert db.open_orders_at_crash() == []


def test_open_orders_at_crash_are_the_live_ones_oldest_first(db: Database) -> None:
    statuses = list(OrderStatus)
    batch = Batch(orders=[rows.order_row(order(n, status=statuses[n % len(statuses)]))
                          for n in range(20, 0, -1)])  # fmt: skip
    db.write_batch(batch)
    live = db.open_orders_at_crash()
    assert [o.order_id for o in live] == sorted(o.order_id for o in live)
    assert {o.status for o in live} == {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}
    assert len(live) == 8


def next_ids(db: Database) -> tuple[int, int]:
    ids = db.max_ids()
    return ids.order_id, ids.trade_id


def test_max_ids_are_one_past_everything_stored(db: Database) -> None:
    assert next_ids(db) == (1, 1)
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 30, seed=3))
    batch = batch_of(teams, booked)
    batch.orders = [rows.order_row(order(7))]
    db.write_batch(batch)
    assert next_ids(db) == (ORDER_BASE + 62, 31)  # trade 30 sold as order BASE + 61
    db.write_batch(Batch(game_state=[rows.game_state_row("next_order_id", 2_000_000, T0)]))
    assert next_ids(db) == (2_000_000, 31)


def test_fills_for_pages_a_teams_executions_oldest_first(db: Database) -> None:
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 300, seed=4))
    db.write_batch(batch_of(teams, booked))
    team = teams[1].team_id
    expected = [f for _, buy, sell in booked for f in (buy, sell) if f.team_id == team]

    pages, since = [], 0
    while page := db.fills_for(team, since_trade_id=since, limit=7):
        assert len(page) <= 7
        pages.extend(page)
        since = page[-1].trade_id
    assert pages == expected
    assert db.fills_for(team, since_trade_id=booked[-1][0].trade_id) == []
    assert db.fills_for(TeamId("nobody")) == []


def test_a_page_never_splits_a_self_trade(db: Database) -> None:
    teams = make_teams()
    ledger = new_ledger(teams)
    me, other = teams[1].team_id, teams[2].team_id
    trades = random_trades(teams, 3, seed=5)
    trades = [msgspec.structs.replace(t, buyer=me, seller=other) if t.trade_id != 2
              else msgspec.structs.replace(t, buyer=me, seller=me) for t in trades]  # fmt: skip
    db.write_batch(batch_of(teams, book(ledger, trades)))

    first = db.fills_for(me, limit=2)
    assert [f.trade_id for f in first] == [1]  # trade 2's pair did not fit
    second = db.fills_for(me, since_trade_id=1, limit=2)
    assert [(f.trade_id, f.side) for f in second] == [(2, Side.BUY), (2, Side.SELL)]
    assert [f.trade_id for f in db.fills_for(me, since_trade_id=2, limit=2)] == [3]
    assert len(db.fills_for(me, limit=1)) == 1


def test_a_duplicate_trade_id_rolls_back_its_batch(db: Database) -> None:
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 3, seed=6))
    db.write_batch(batch_of(teams, booked))
    again = Batch()
    again.add_trade(*booked[0])
    again.prices.append(rows.underlying_row(T0, InstrumentId("SPX"), 1))
    with pytest.raises(Exception, match="UNIQUE"):
        db.write_batch(again)
    assert db.read_table("prices") == []
    assert db.transactions == 1


def test_a_batch_leaves_out_the_fill_updates_its_own_rows_already_show(tmp_path: Path) -> None:
    """An order that trades on arrival is inserted with its fills (its row is made from
    the live order): its fill update is left out, the resting side's kept, and the
    orders read back exactly as with every update applied."""
    teams = make_teams()
    seller, buyer = teams[0].team_id, teams[1].team_id
    venue = ExchangeVenue([CALL], np.random.default_rng(1))
    resting = venue.submit_order(NewOrder(seller, CALL.id, Side.SELL, 5, Ticks(1_500)), TimeNs(T0))
    taker = venue.submit_order(NewOrder(buyer, CALL.id, Side.BUY, 8, Ticks(1_500)), TimeNs(T0 + 1))
    assert resting.order is not None and taker.order is not None
    booked = book(new_ledger(teams), taker.trades)
    written: dict[str, list[tuple[object, ...]]] = {}
    for name, leave_out in (("lean", True), ("full", False)):
        with Database.open(tmp_path / f"{name}.db") as db:
            first = Batch(teams=[rows.team_row(t, T0) for t in teams])
            first.orders.append(rows.order_row(order_at(resting.order, filled=0)))
            db.write_batch(first)
            second = Batch()
            second.add_order(taker.order)
            for trade, buy, sell in booked:
                second.add_trade(trade, buy, sell)
            if not leave_out:
                second.order_fills = [u for t in taker.trades for u in rows.fill_updates(t)]
            assert len(second.order_fills) == (1 if leave_out else 2)
            db.write_batch(second)
            written[name] = db.read_table("orders")
    assert written["lean"] == written["full"]
    statuses = {row[0]: (row[9], row[10]) for row in written["lean"]}
    assert statuses == {
        resting.order.order_id: ("filled", 5),
        taker.order.order_id: ("partially_filled", 5),
    }


def order_at(live: Order, filled: int) -> Order:
    """The order as it was when first stored, before `filled` changed."""
    return msgspec.structs.replace(
        live, filled=filled, remaining=live.quantity - filled, status=OrderStatus.NEW
    )


def test_a_batch_written_twice_is_refused_whole_and_changes_nothing(db: Database) -> None:
    """A second write of a batch the file holds is a bug upstream: it is refused, loudly,
    and leaves the file as it was (the database process skips, by its writer's mark,
    what a child before it committed: tests/store/test_process.py)."""
    batch = every_table_batch()
    db.write_batch(batch)
    before = {table: db.read_table(table) for table in ("orders", "trades", "prices", "events")}
    with pytest.raises(Exception, match="UNIQUE"):
        db.write_batch(batch)
    for table, kept in before.items():
        assert db.read_table(table) == kept, table
