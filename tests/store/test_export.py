"""The export command: CSV of every table with decimal prices and ISO UTC times."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from exchange.store import export as export_module
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.export import csv_header, export, iso_utc, money
from exchange.store.schema import COLUMNS, StoreError

from .support import CALL, SPX, T0, batch_of, book, make_teams, new_ledger, order, random_trades

CSV_FILES = ["trades", "orders", "prices", "events", "accounts", "positions"]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def game(tmp_path: Path) -> Path:
    """A finished game: 5 teams, 120 trades, 7 orders, 3 price rows, 2 events."""
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 120, seed=71))
    batch = batch_of(teams, booked)
    batch.orders = [
        rows.order_row(order(n, price=None if n == 3 else 440_005)) for n in range(1, 8)
    ]
    batch.prices = [
        rows.underlying_row(T0, SPX, 440_025),
        rows.top_row(T0 + 1, CALL.id, 1_500, 7, None, 0, 1_490),
        rows.top_row(T0 + 2, CALL.id, None, 0, 1_510, 3, None),
    ]
    batch.events = [
        rows.event_row(T0, "Fed hikes", "macro", {"SPX": -0.02}),
        rows.event_row(T0 + 5, "Calm, again", "news", {}),
    ]
    path = tmp_path / "game.db"
    with Database.open(path) as db:
        db.write_batch(batch)
    return path


def test_formats_money_and_time() -> None:
    assert money(440_025) == "4400.25"
    assert money(-5) == "-0.05"
    assert money(100) == "1.00"
    assert iso_utc(1_795_000_000_123_456_789) == "2026-11-18T11:06:40.123456789Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000000000Z"
    assert csv_header(["price_ticks", "ts_ns", "created_ns", "side"]) == [
        "price", "timestamp", "created_at", "side",
    ]  # fmt: skip


def test_export_writes_every_csv_with_headers_and_row_counts(
    game: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "_pyarrow", lambda: None)
    out = tmp_path / "out"
    written = export(game, out)

    assert written == [out / f"{name}.csv" for name in CSV_FILES]
    tables = {p.stem: read_csv(p) for p in written}
    expected = {"trades": 120, "orders": 7, "prices": 3, "events": 2, "accounts": 5}
    for name, count in expected.items():
        assert len(tables[name]) == 1 + count, name
    for name in ("trades", "orders", "prices", "events"):
        assert tables[name][0] == csv_header(COLUMNS[name])
    assert tables["accounts"][0] == ["team_id", "name", "role", "cash", "fees", "realised_pnl"]
    assert tables["positions"][0] == ["team_id", "instrument_id", "quantity", "open_cost"]
    assert len(tables["positions"]) > 1


def test_export_values_are_decimals_and_iso_times(game: Path, tmp_path: Path) -> None:
    export(game, tmp_path / "out")
    prices = read_csv(tmp_path / "out" / "prices.csv")
    first, second = (dict(zip(prices[0], row, strict=True)) for row in prices[1:3])
    assert first["price"] == "4400.25" and first["timestamp"] == iso_utc(T0)
    assert second["bid"] == "15.00" and second["ask"] == "" and second["last"] == "14.90"
    header, *lines = read_csv(tmp_path / "out" / "orders.csv")
    orders = [dict(zip(header, line, strict=True)) for line in lines]
    assert [o["price"] for o in orders[:3]] == ["4400.05", "4400.05", ""]  # market: empty
    events = read_csv(tmp_path / "out" / "events.csv")
    assert events[1][1:] == ["Fed hikes", "macro", '{"SPX":-0.02}']


def test_exported_accounts_add_up(game: Path, tmp_path: Path) -> None:
    export(game, tmp_path / "out")
    accounts = read_csv(tmp_path / "out" / "accounts.csv")[1:]
    positions = read_csv(tmp_path / "out" / "positions.csv")[1:]
    # Summed over all accounts cash equals fees, and every instrument nets to zero.
    assert sum(float(a[3]) for a in accounts) == pytest.approx(sum(float(a[4]) for a in accounts))
    net: dict[str, int] = {}
    for _, iid, qty, _ in positions:
        net[iid] = net.get(iid, 0) + int(qty)
    assert set(net.values()) == {0}


def test_export_of_a_missing_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        export(tmp_path / "missing.db", tmp_path / "out")


def test_parquet_is_written_and_typed_when_pyarrow_is_installed(
    game: Path, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    written = export(game, tmp_path / "out")
    assert [p.name for p in written if p.suffix == ".parquet"] == [
        f"{name}.parquet" for name in CSV_FILES
    ]
    trades = pq.read_table(tmp_path / "out" / "trades.parquet")
    assert trades.num_rows == 120
    assert str(trades.schema.field("price").type) == "decimal128(18, 2)"
    assert str(trades.schema.field("timestamp").type) == "timestamp[ns, tz=UTC]"
