"""`python -m exchange report --db`: the market quality of a game a real server recorded
in a real SQLite file."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from exchange.__main__ import main
from exchange.config import load_config
from exchange.domain.types import NS_PER_SECOND as NS
from exchange.domain.types import Role, TeamId
from exchange.replay.dbreport import report_from_db
from exchange.replay.quality import SpreadStats
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.rows import Batch
from exchange.teams import Team
from tests.server.harness import Bot, run_server, sandbox
from tests.support import assert_ok

CALL = "SPX_CALL_4400_20261204"
SPEED = 600
"""Game seconds per wall second: a market tick (300 s), so a stored top, twice a second."""
CONFIG = sandbox(
    clock={"start": "2026-12-01T10:00:00-06:00", "speed": SPEED},
    market={"enabled": True, "house_liquidity": False, "house_options_maker": False,
            "retail": False},
)  # fmt: skip


def game_time(http: httpx.Client) -> dt.datetime:
    text = assert_ok(http.get("/health"))["game_time"]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_game_seconds(http: httpx.Client, seconds: int) -> None:
    """Until the game clock has moved on `seconds` (bounded: 200 polls)."""
    until = game_time(http) + dt.timedelta(seconds=seconds)
    for _ in range(200):
        if game_time(http) >= until:
            return
        time.sleep(0.05)
    raise AssertionError("the game clock did not move")


def reference(bot: Bot) -> float:
    """The call's reference price, as a refusal for a price far out of its band tells."""
    refused = bot.order(CALL, "buy", 1, 0.01)
    assert refused.status_code == 422, refused.text
    return round(float(refused.json()["error"]["details"]["reference"]), 2)


def record_a_game(db: Path) -> float:
    """A maker quotes a call; three retail teams trade or rest, one is refused once.

    The price band follows the simulated market, whose volatility regime may double an
    option's value within minutes: every order goes in right after the reference is
    read, before the game clock has moved on much."""
    with run_server(CONFIG, db) as base:
        maker = Bot(base, "market_maker", "Maker")
        crowd = [Bot(base, "retail", f"Retail 0{n}") for n in (1, 2, 3)]
        with contextlib.closing(maker.http), contextlib.ExitStack() as stack:
            for bot in crowd:
                stack.enter_context(contextlib.closing(bot.http))
            one, two, three = crowd
            wait_game_seconds(maker.http, 300)  # the market has priced the chain
            bid = reference(maker) - 1
            assert_ok(maker.quote(CALL, bid, bid + 2), 201)
            assert_ok(one.order(CALL, "buy", 2, bid + 2), 201)
            assert_ok(two.order(CALL, "sell", 3, bid), 201)
            assert_ok(three.order(CALL, "buy", 1, bid - 1), 201)  # rests, never fills
            wait_game_seconds(maker.http, 3 * 300)  # tops stored with the quote resting
            refused = one.order(CALL, "buy", 0, bid)  # refused: never stored
            assert refused.status_code == 400 and refused.json()["success"] is False
    return bid


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The database, and the maker's bid (its ask two above)."""
    db = tmp_path_factory.mktemp("game") / "game.db"
    return db, record_a_game(db)


def test_the_report_of_a_recorded_game_prints_and_writes_the_section(
    recorded: tuple[Path, float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "quality.json"
    assert main(["report", "--db", str(recorded[0]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "market quality (" in printed and f"report: {out}" in printed
    report = msgspec.json.decode(out.read_bytes())
    q: dict[str, Any] = report["market_quality"]
    assert report["trades"] == 2
    assert q["trading"]["trades"] == {"options": 2, "underlyings": 0, "all": 2}
    assert q["trading"]["continuous_ticks"] >= 4  # sandbox: continuous at all hours
    retail = q["retail"]
    assert retail["teams"] == 3 and retail["accepted"] == 3  # the house's crowd is off
    assert retail["filled"] == 2 and retail["filled_contracts"] == 5
    assert retail["sent"] is None and retail["refused"] is None and retail["drawn"] is None


def test_stored_tops_are_sampled_for_the_two_sided_share(
    recorded: tuple[Path, float],
) -> None:
    path, bid = recorded
    q = report_from_db(path).market_quality
    with Database.open(path, readonly=True) as db:
        tops = [r for r in db.iter_rows("prices") if r[2] == "top"]
    listed = len({r[1] for r in tops if "_" in r[1]})
    moments = len({r[0] for r in tops})
    assert moments >= 3 and q.two_sided.samples == moments * listed
    # Only the call was quoted, after the first moments.
    assert 3 <= q.two_sided.two_sided < moments
    # Every two-sided sample is the maker's quote, 2.00 wide, against the stored spot.
    assert sum(b.samples for b in q.spreads.values()) == q.two_sided.two_sided
    assert {b.median for b in q.spreads.values() if b.samples} == {2.0}
    of_mid = {b.median_of_mid for b in q.spreads.values() if b.samples}
    assert of_mid == {round(2 / (bid + 1), 5)}
    assert q.house == []  # the house is switched off: it has no teams


# -- a database written by hand: spots, spreads by moneyness, the house ----------------

T0 = 1_796_140_800 * NS  # 2026-12-01 10:00 America/Chicago, a Tuesday
PUT = "SPX_PUT_4300_20261204"


def hand_written(path: Path) -> None:
    config = msgspec.to_builtins(load_config(overrides={"seed": 3}))
    house = Team(TeamId("H1"), "House options", Role.HOUSE, "-")
    maker = Team(TeamId("M1"), "Maker", Role.MARKET_MAKER, "-")
    batch = Batch()
    batch.teams = [rows.team_row(t, T0) for t in (house, maker)]
    batch.game_state = [rows.game_state_row("config", config, T0),
                        rows.game_state_row("start_ns", T0, T0),
                        rows.game_state_row("game_time_ns", T0 + 900 * NS, T0)]  # fmt: skip
    batch.prices = [
        rows.underlying_row(T0, "SPX", 440_000),
        rows.top_row(T0, CALL, 3_900, 10, 4_100, 10, None),  # ATM, 2.00 wide
        rows.top_row(T0, PUT, 1_000, 10, None, 0, None),  # OTM, one-sided
        rows.underlying_row(T0 + 300 * NS, "SPX", 426_000),  # the spot falls 3.2%
        rows.top_row(T0 + 300 * NS, CALL, 1_900, 10, 2_300, 10, None),  # now OTM, 4.00
        rows.top_row(T0 + 300 * NS, PUT, 3_000, 10, 3_100, 10, None),  # ATM, 1.00
    ]
    batch.trades = [_trade(1, CALL, 4, "M1", "H1", "buy", T0 + 10 * NS),
                    _trade(2, PUT, 3, "H1", "M1", None, T0 + 20 * NS),  # an auction print
                    _trade(3, "SPX", 5, "H1", "M1", "sell", T0 + 30 * NS)]  # fmt: skip
    batch.scores = [(T0, "H1", "house", 10.0, 0.0, 10.0, "{}"),
                    (T0 + 300 * NS, "H1", "house", -25.5, 0.0, -25.5, "{}")]  # fmt: skip
    with Database.open(path) as db:
        db.write_batch(batch)


def _trade(
    n: int, instrument: str, quantity: int, buyer: str, seller: str, aggressor: str | None,
    ts_ns: int,
) -> tuple[Any, ...]:  # fmt: skip
    return (n, instrument, 1_000, quantity, buyer, seller, 2 * n, 2 * n + 1, 0, 0, aggressor,
            ts_ns, 0, 0, "maker", "taker", quantity, -quantity)  # fmt: skip


def test_spreads_by_moneyness_use_the_spot_stored_before_each_moment(tmp_path: Path) -> None:
    hand_written(tmp_path / "game.db")
    q = report_from_db(tmp_path / "game.db").market_quality
    assert (q.two_sided.samples, q.two_sided.two_sided, q.two_sided.share) == (4, 3, 0.75)
    assert q.spreads["ATM"].samples == 2 and q.spreads["ATM"].median == 1.5  # 2.00 and 1.00
    assert q.spreads["OTM"] == SpreadStats(1, 4.0, round(400 / 2_100, 5))
    assert q.spreads["ITM"].samples == 0
    assert q.trading.trades == {"options": 1, "underlyings": 1, "all": 2}
    assert q.trading.continuous_ticks == 3  # 10:00, 10:05, 10:10 of a 15-minute game
    (house,) = q.house
    assert (house.name, house.pnl) == ("House options", -25.5)  # its last stored P&L
    assert (house.net_options, house.gross_options) == (-1, 7)  # sold 4 calls, bought 3 puts
    assert house.underlyings == {"SPX": 5}


def test_a_database_without_a_recorded_game_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    Database.open(empty).close()
    assert main(["report", "--db", str(empty)]) == 2
    assert "not recorded" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "missing.db")]) == 2
