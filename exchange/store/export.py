"""Export a game's database for analysis: CSV always, Parquet when pyarrow is installed.

Files: trades, orders, prices, events, accounts (cash, fees, realised P&L per team) and
positions (per team and instrument). Final accounts and positions come from replaying the
committed trades (`restore_ledger`), the same path a restart takes, so the export shows
what the server would restore. In CSV, money columns (`*_ticks`) become decimals with two
places and lose the suffix, times (`*_ns`) become ISO 8601 UTC with nanoseconds. Parquet
keeps types: decimal(18, 2) money and UTC nanosecond timestamps.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from exchange.domain.fees import NO_FEES
from exchange.domain.positions import Ledger
from exchange.domain.ticks import to_decimal
from exchange.domain.types import NS_PER_SECOND, Role, TeamId
from exchange.store.db import Database
from exchange.store.restore import restore_ledger
from exchange.store.schema import COLUMNS

Table = tuple[tuple[str, ...], list[tuple[Any, ...]]]
"""Raw column names (with their unit suffixes) and rows."""

ACCOUNT_COLUMNS = ("team_id", "name", "role", "cash_ticks", "fees_ticks", "realised_pnl_ticks")
POSITION_COLUMNS = ("team_id", "instrument_id", "quantity", "open_cost_ticks")
EXPORTED = ("trades", "orders", "prices", "events")


def money(ticks: int) -> str:
    return f"{to_decimal(ticks):.2f}"


def iso_utc(ns: int) -> str:
    """Nanoseconds since the epoch as `2026-11-24T15:30:00.123456789Z`: nothing rounded."""
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    return f"{dt.datetime.fromtimestamp(seconds, dt.UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


# Unit suffix -> (CSV header for the stem, value formatter). Other columns pass as they are.
_UNITS: dict[str, tuple[Callable[[str], str], Callable[[int], str]]] = {
    "_ticks": (lambda stem: stem, money),
    "_ns": (lambda stem: "timestamp" if stem == "ts" else f"{stem}_at", iso_utc),
}


def _unit(column: str) -> tuple[str, str | None]:
    for suffix in _UNITS:
        if column.endswith(suffix):
            return column.removesuffix(suffix), suffix
    return column, None


def csv_header(columns: Sequence[str]) -> list[str]:
    header = []
    for column in columns:
        stem, suffix = _unit(column)
        header.append(stem if suffix is None else _UNITS[suffix][0](stem))
    return header


def export(db_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write every table as CSV (and Parquet if pyarrow imports); return the files written.

    Opens the database read-only: it can run beside a live server (WAL readers do not
    block the writer). Raises StoreError if the file is missing or not ours.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with Database.open(db_path, readonly=True) as db:
        tables: dict[str, Table] = {
            name: (COLUMNS[name], db.read_table(name)) for name in EXPORTED
        }
        tables["accounts"], tables["positions"] = final_positions(db)
    written = [write_csv(out / f"{name}.csv", *table) for name, table in tables.items()]
    pyarrow = _pyarrow()
    if pyarrow is not None:
        written += [
            write_parquet(pyarrow, out / f"{name}.parquet", *table)
            for name, table in tables.items()
        ]
    return written


def final_positions(db: Database) -> tuple[Table, Table]:
    """Accounts and non-flat positions after replaying every committed trade."""
    ledger = Ledger({}, dict.fromkeys(Role, NO_FEES))  # fees are stored, not recomputed
    names = {t.team_id: t.name for t in db.load_teams()}
    for team_id in sorted(db.trading_teams() - set(names)):
        # Traded without registering: only the server's own house account does that.
        ledger.open_account(TeamId(team_id), Role.HOUSE)
    restore_ledger(db, ledger)
    accounts = sorted(ledger.accounts(), key=lambda a: a.team_id)
    account_rows = [
        (a.team_id, names.get(a.team_id, ""), a.role.value, a.cash_ticks, a.fees_ticks,
         a.realised_pnl_ticks)
        for a in accounts
    ]  # fmt: skip
    position_rows = [
        (a.team_id, iid, qty, a.open_costs[iid])
        for a in accounts
        for iid, qty in sorted(a.positions.items())
        if qty != 0
    ]
    return (ACCOUNT_COLUMNS, account_rows), (POSITION_COLUMNS, position_rows)


def write_csv(path: Path, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> Path:
    formats = [_UNITS[s][1] if (s := _unit(c)[1]) else None for c in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(csv_header(columns))
        for row in rows:
            writer.writerow(
                [
                    v if fmt is None or v is None else fmt(v)
                    for fmt, v in zip(formats, row, strict=True)
                ]
            )
    return path


def write_parquet(
    pa: ModuleType, path: Path, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> Path:
    """One Parquet file, typed: money decimal(18, 2), times UTC timestamps, ints int64."""
    pq = importlib.import_module("pyarrow.parquet")
    arrays = {}
    for i, column in enumerate(columns):
        values = [row[i] for row in rows]
        name, suffix = csv_header([column])[0], _unit(column)[1]
        if suffix == "_ticks":
            decimals = [None if v is None else to_decimal(v) for v in values]
            arrays[name] = pa.array(decimals, pa.decimal128(18, 2))
        elif suffix == "_ns":
            arrays[name] = pa.array(values, pa.timestamp("ns", tz="UTC"))
        else:
            arrays[name] = pa.array(values)
    pq.write_table(pa.table(arrays), path)
    return path


def _pyarrow() -> ModuleType | None:
    try:
        return importlib.import_module("pyarrow")
    except ImportError:
        return None
