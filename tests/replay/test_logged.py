"""`replay game.db` reproduces a live game from its arrivals log: the same trades (id,
instrument, price, quantity, buyer, seller) and settlements, across a kill -9 and a
restart; a tampered database reports its first divergence."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.hedge_fund import HedgeFund
from bots.market_maker import MarketMaker
from exchange.__main__ import main
from exchange.client import Client, RemoteRunner
from exchange.config import load_config, merge
from exchange.replay.engine import Replay
from exchange.replay.logged import Recorded, play, reproduce, tape
from exchange.replay.recorded import scenario_from_db
from tests.bots.support import FAST_DEMO
from tests.persistence.test_crash import ServerProcess
from tests.server.harness import Bot, run_server
from tests.support import assert_ok

LIVE = merge(FAST_DEMO, {"clock": {"start": "2026-12-01T08:03:00-06:00", "speed": 600,
                                   "start_paused": False}})  # fmt: skip
"""The demo at 600x from just before its opening auction, news and signals coming fast."""
TRADING_TIMEOUT = 45.0
"""A bound on waiting for the bots to trade, not a timing claim."""


def recorded_tape(db: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT trade_id, instrument_id, price_ticks, quantity, buyer, seller"
            " FROM trades ORDER BY trade_id"
        ).fetchall()


def bot_trades(db: Path, teams: list[str], since: int = 0) -> set[str]:
    """The bots' teams that have a committed trade after the first `since` trades."""
    return {t for row in recorded_tape(db)[since:] for t in row[4:] if t in teams}


async def trade_then_kill(
    server: ServerProcess, db: Path, teams: dict[str, str], wanted: int
) -> None:
    """Run a market maker and a hedge fund until `wanted` of them have a committed trade
    from this run, then kill the server while they are still sending."""
    keys = list(teams.values())
    traded_before = len(recorded_tape(db))
    runners = [RemoteRunner(bot, server.base, key, interval=0.2, cancel_on_stop=False)
               for bot, key in zip((MarketMaker(), HedgeFund()), keys, strict=True)]  # fmt: skip
    tasks = [asyncio.create_task(r.run()) for r in runners]
    deadline = time.monotonic() + TRADING_TIMEOUT
    try:
        while len(bot_trades(db, list(teams), traded_before)) < wanted:
            for task in tasks:
                if task.done():
                    task.result()  # a bot that stopped early: its error
            if time.monotonic() > deadline:
                pytest.fail(f"the bots did not trade within {TRADING_TIMEOUT}s")
            await asyncio.sleep(0.2)
        server.kill()  # kill -9, mid-flow
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
def live_game(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo game with two example bots, killed with SIGKILL, restarted on the same
    file, traded on, and killed again."""
    tmp = tmp_path_factory.mktemp("logged")
    db, config = tmp / "game.db", tmp / "live.yaml"
    config.write_text(yaml.safe_dump(LIVE))
    teams: dict[str, str] = {}
    for wanted in (2, 1):
        server = ServerProcess(db, config, tmp / "server.log", preset="demo")
        try:
            server.wait_ready()
            for role in () if teams else ("market_maker", "hedge_fund"):
                team = asyncio.run(Client.register(server.base, f"{role}-logged", role))
                teams[team.team_id] = team.api_key
            asyncio.run(trade_then_kill(server, db, teams, wanted))
        finally:
            server.kill()
    return db


def test_a_live_game_killed_and_restarted_replays_trade_for_trade(live_game: Path) -> None:
    recorded = Recorded.load(live_game)
    assert [a.kind for a in recorded.arrivals].count("run") == 2  # the start, the restart
    game, failed = play(recorded)
    assert failed is None and game.refusals == []
    assert tape(game.trades) == recorded_tape(live_game)
    assert len(game.trades) > 0


def test_replay_of_a_database_prints_reproduced(
    live_game: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(live_game)]) == 0
    trades = len(recorded_tape(live_game))
    assert f"reproduced: {trades} trades" in capsys.readouterr().out


def test_a_tampered_trade_is_the_first_divergence(
    live_game: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "tampered.db"
    shutil.copy(live_game, db)
    tape_ = recorded_tape(db)
    trade_id, _, price, *_ = tape_[len(tape_) // 2]
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE trades SET price_ticks = ? WHERE trade_id = ?", (price + 1, trade_id))
    outcome = reproduce(db)
    assert not outcome.reproduced
    assert outcome.divergence is not None and outcome.divergence.startswith(f"trade {trade_id}:")
    assert f"@ {(price + 1) / 100}" in outcome.divergence  # recorded
    assert f"@ {price / 100}" in outcome.divergence  # replayed
    assert main(["replay", str(db)]) == 1
    assert f"diverged: trade {trade_id}:" in capsys.readouterr().out


def test_a_recorded_game_as_a_scenario_has_each_team_once(live_game: Path) -> None:
    replay = Replay(scenario_from_db(live_game))
    names = list(replay.names.values())
    assert len(names) == len(set(names)) == len(Recorded.load(live_game).teams)


# -- an expiry: settlement cash is replayed too ---------------------------------------------

EXPIRY = load_config(preset="demo", overrides={
    "clock": {"start": "2026-12-04T23:50:00-06:00", "speed": 10, "start_paused": False},
})  # fmt: skip
"""A Friday two minutes before the close, when that week's options expire (12 s of wall
time at 10x)."""
CALL = "SPX_CALL_4400_20261204"


def test_an_expiry_settles_the_same_cash_in_the_replay(tmp_path: Path) -> None:
    db = tmp_path / "expiry.db"
    with run_server(EXPIRY, db) as base:
        fund = Bot(base, "hedge_fund", "Fund")
        with contextlib.closing(fund.http):
            deadline = time.monotonic() + 30
            while not fund.positions()["positions"]:  # until the house's ask has filled it
                assert time.monotonic() < deadline, "no fill within 30 s"
                assert_ok(fund.order(CALL, "buy", 2), 201)
                time.sleep(0.2)
            while not _settled(db):
                assert time.monotonic() < deadline, "no settlement within 30 s"
                time.sleep(0.2)
    recorded = Recorded.load(db)
    kinds = {a.kind for a in recorded.arrivals}
    assert {"expire", "list", "delist"} <= kinds
    game, failed = play(recorded)
    assert failed is None
    assert tape(game.trades) == recorded_tape(db)
    paid = sorted((s.instrument_id, s.team_id, s.quantity, s.value_ticks, s.cash_ticks)
                  for s in game.settlements)  # fmt: skip
    assert paid == sorted(recorded.settlements) and paid
    assert reproduce(db).reproduced


def _settled(db: Path) -> bool:
    """The expiry is done: the next weekly is listed (after the settlement, in the log)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return bool(
            conn.execute("SELECT COUNT(*) FROM arrivals WHERE kind = 'list'").fetchone()[0]
        )
