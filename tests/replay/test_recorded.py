"""`replay game.db`: a game recorded by the server, played again from its database, as
it was and with one team's bot swapped."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from exchange.domain.types import InstrumentId
from exchange.replay.engine import Replay
from exchange.replay.recorded import scenario_from_db
from exchange.replay.report import build_report
from exchange.store.db import Database
from tests.server.harness import Bot, run_server, sandbox
from tests.support import assert_ok

CALL = "SPX_CALL_4400_20261204"
CONFIG = sandbox(clock={"start": "2026-12-01T10:00:00-06:00"})


def record_a_game(db: Path) -> int:
    """A maker quotes twice (the second replaces the first), a fund lifts it, cancels a
    resting bid; returns the number of trades recorded."""
    with run_server(CONFIG, db) as base:
        maker, fund = Bot(base, "market_maker", "Maker"), Bot(base, "hedge_fund", "Fund")
        with contextlib.closing(maker.http), contextlib.closing(fund.http):
            assert_ok(maker.quote(CALL, 39.00, 43.00), 201)
            assert_ok(maker.quote(CALL, 40.00, 42.00), 201)
            assert_ok(fund.order(CALL, "buy", 4, 42.00), 201)
            resting = assert_ok(fund.order(CALL, "buy", 2, 30.00), 201)["order_id"]
            assert_ok(fund.http.delete(f"/orders/{resting}"))
            assert_ok(fund.order(CALL, "sell", 3, 40.00), 201)
    with Database.open(str(db)) as stored:
        return len(stored.load_trades())


def test_a_recorded_game_replays_trade_for_trade(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    trades = record_a_game(db)
    scenario = scenario_from_db(db)
    assert {p.team for p in scenario.participants} >= {"Maker", "Fund"}
    assert [a.action for a in scenario.script].count("cancel") == 1
    replay = Replay(scenario).run()
    report = build_report(replay)
    assert report.trades == trades == 2 and report.invariants == []
    fund = replay.session.ledger.account(replay.ids["Fund"])
    assert fund.positions[InstrumentId(CALL)] == 4 - 3
    assert replay.venue.open_orders(replay.ids["Fund"]) == []  # the cancel came back too


def test_a_swapped_team_trades_against_the_recorded_market(tmp_path: Path) -> None:
    db = tmp_path / "game.db"
    record_a_game(db)
    idle: dict[str, tuple[str, dict[str, Any]]] = {
        "Fund": ("exchange.domain.strategy:Strategy", {})
    }
    replay = Replay(scenario_from_db(db), idle).run()
    assert replay.recorder.fills_by_team["Fund"] == 0  # its new bot never trades
    maker = replay.venue.open_orders(replay.ids["Maker"])
    assert sorted(o.quantity for o in maker) == [10, 10]  # the recorded quote still rests


def test_a_database_without_a_recorded_config_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Database.open(str(db)).close()
    with pytest.raises(ValueError, match="not recorded"):
        scenario_from_db(db)
