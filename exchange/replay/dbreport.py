"""`python -m exchange report --db game.db`: the market quality of a recorded game.

The same `market_quality` section as a replay's report (`exchange.replay.quality`), read
from what the server stored, in one streamed pass over each table:

- `orders`: the retail teams' accepted orders and how many traded. Refused orders are
  not stored (a refusal is only the answer to its request), so what was sent and
  refused is unknown here (null), and so is what the retail strategies drew;
- `trades`: continuous trades (they have an aggressor; auction prints have none) and the
  house's inventory, with `settlements` closing what expired;
- `prices`: the books' tops, stored once per market tick while the market is open,
  each moment a sample of every listed option, against the latest stored spot;
- `scores`: each house team's last marked P&L as the leaderboard published it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from exchange.config import GameConfig, load_config
from exchange.domain.instruments import Instrument, parse_instrument_id
from exchange.domain.phases import from_ns
from exchange.domain.types import NS_PER_SECOND, Phase, Role, TimeNs
from exchange.replay import quality
from exchange.replay.quality import MarketQuality, OptionTop, QualityTally
from exchange.store.db import Database


class GameReport(msgspec.Struct):
    database: str
    start: str
    end: str
    game_seconds: int
    trades: int
    market_quality: MarketQuality


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="the market quality of a recorded game (its SQLite database)"
    )
    report.add_argument("--db", required=True, metavar="FILE", help="the game's database")
    report.add_argument("--out", metavar="FILE", help="also write the report there as JSON")
    report.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    report = report_from_db(args.db)
    print(f"{report.database}: {report.start} .. {report.end}, {report.trades} trades")
    print("\n".join(quality.summary(report.market_quality)))
    if args.out:
        Path(args.out).write_bytes(msgspec.json.format(msgspec.json.encode(report)))
        print(f"report: {args.out}")
    return 0


def report_from_db(path: str | Path) -> GameReport:
    """The recorded game's report; ValueError when the database cannot tell enough."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    with Database.open(path, readonly=True) as db:
        state = db.load_game_state()
        if "config" not in state or "start_ns" not in state:
            raise ValueError(f"{path}: the game's config and start are not recorded")
        config = load_config(overrides=state["config"])
        reader = Reader(config, {t.team_id: t.role for t in db.load_teams()})
        names = {str(t.team_id): t.name for t in db.load_teams()}
        reader.trades(db.iter_rows("trades"))
        reader.settlements((s.team_id, s.instrument_id) for s in db.load_settlements())
        reader.prices(db.iter_rows("prices"))
        retail = reader.retail(db.iter_rows("orders"))
        pnl = _last_pnl(db.iter_rows("scores"))
    start = int(state["start_ns"])
    end = max(int(state.get("game_time_ns", start)), reader.last_ns)
    tick_seconds = config.market.model.tick_seconds
    ticks = quality.continuous_ticks(reader.continuous, start, end, tick_seconds * NS_PER_SECOND)
    house = [
        quality.inventory(names[t], t, pnl.get(t), reader.held[t], reader.options_in(t))
        for t in reader.house
    ]
    zone = getattr(reader.schedule, "tz", dt.UTC)
    return GameReport(
        str(path), from_ns(TimeNs(start), zone).isoformat(),
        from_ns(TimeNs(end), zone).isoformat(), (end - start) // NS_PER_SECOND, reader.trade_count,
        quality.market_quality(retail, reader.tally, ticks, tick_seconds, house),
    )  # fmt: skip


class Reader:
    """Folds the stored rows into a `QualityTally`, the house's positions and retail counts."""

    def __init__(self, config: GameConfig, roles: Mapping[str, Role]) -> None:
        self.schedule = config.schedule.build()
        self.roles = roles
        self.house = [t for t, r in roles.items() if r is Role.HOUSE]
        self.held: dict[str, dict[str, int]] = {t: defaultdict(int) for t in self.house}
        self.tally = QualityTally()
        self.trade_count = 0
        self.last_ns = 0
        self._instruments: dict[str, Instrument | None] = {}

    def continuous(self, ts_ns: int) -> bool:
        return self.schedule.phase_at(TimeNs(ts_ns)) is Phase.CONTINUOUS

    def instrument(self, instrument_id: str) -> Instrument | None:
        if instrument_id not in self._instruments:
            try:
                self._instruments[instrument_id] = parse_instrument_id(instrument_id)
            except ValueError:
                self._instruments[instrument_id] = None
        return self._instruments[instrument_id]

    def is_option(self, instrument_id: str) -> bool:
        found = self.instrument(instrument_id)
        return found is not None and found.is_option

    def options_in(self, team_id: str) -> set[str]:
        return {i for i in self.held[team_id] if self.is_option(i)}

    def trades(self, stored: Iterable[tuple[Any, ...]]) -> None:
        """Rows in `COLUMNS['trades']` order: instrument 1, quantity 3, buyer 4,
        seller 5, aggressor 10, ts_ns 11."""
        for row in stored:
            instrument_id, quantity, buyer, seller = row[1], row[3], row[4], row[5]
            self.trade_count += 1
            self.last_ns = max(self.last_ns, row[11])
            if row[10] is not None:
                self.tally.trade(self.is_option(instrument_id))
            if buyer in self.held:
                self.held[buyer][instrument_id] += quantity
            if seller in self.held:
                self.held[seller][instrument_id] -= quantity

    def settlements(self, settled: Iterable[tuple[str, str]]) -> None:
        """An expired option settles to cash: nothing of it is held after."""
        for team_id, instrument_id in settled:
            if team_id in self.held:
                self.held[team_id][instrument_id] = 0

    def prices(self, stored: Iterable[tuple[Any, ...]]) -> None:
        """Spots from the 'underlying' rows; each moment's 'top' rows are one sample."""
        spots: dict[str, float] = {}
        moment: int | None = None
        pending: list[OptionTop] = []
        for ts_ns, instrument_id, kind, price, bid, _, ask, _, _ in stored:
            self.last_ns = max(self.last_ns, ts_ns)
            if kind == "underlying" and price is not None:
                spots[instrument_id] = float(price)
                continue
            if kind != "top":
                continue
            if ts_ns != moment:
                self._sample(moment, pending)
                moment, pending = ts_ns, []
            option = self.instrument(instrument_id)
            if option is not None and option.kind is not None and option.strike is not None:
                spot = spots.get(option.underlying)
                pending.append(OptionTop(option.kind, option.strike, spot, bid, ask))
        self._sample(moment, pending)

    def _sample(self, moment: int | None, tops: list[OptionTop]) -> None:
        if moment is not None and tops and self.continuous(moment):
            self.tally.sample(tops)

    def retail(self, stored: Iterable[tuple[Any, ...]]) -> quality.RetailQuality:
        """Rows in `COLUMNS['orders']` order: team 1, status 9, filled 10."""
        teams = {t for t, r in self.roles.items() if r is Role.RETAIL}
        accepted = filled = contracts = 0
        for row in stored:
            if row[1] not in teams or row[9] == "rejected":
                continue
            accepted += 1
            filled += row[10] > 0
            contracts += row[10]
        return quality.accepted_only(len(teams), accepted, filled, contracts)


def _last_pnl(stored: Iterable[tuple[Any, ...]]) -> dict[str, float]:
    """Each team's P&L in its last stored leaderboard row (team 1, pnl 3)."""
    return {row[1]: float(row[3]) for row in stored}
