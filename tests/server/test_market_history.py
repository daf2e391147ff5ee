"""`GET /market/history`: the day's public market kept for a dashboard opened late: the
underlyings sampled, the public prints, the news and the leaderboard, each a bounded
ring, filtered by `since`; a paused clock adds no samples; bad input is refused in the
envelope and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from exchange.config import ADMIN_TOKEN_ENV
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox
from tests.support import assert_error, assert_ok

TOKEN = "organiser-history-7"
FAST = {"sample_seconds": 0.01, "trades": 3, "prices": 6}
"""Samples at every market data interval, and rings small enough to fill in a test."""


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    config = sandbox(
        **UNTHROTTLED,
        server={"admin_token": TOKEN, "market_history": FAST},
        scoring={"leaderboard_interval": 0.2},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config) as running:
            yield running


@pytest.fixture(scope="module")
def teams(base: str) -> Iterator[tuple[Bot, Bot]]:
    maker, fund = (
        Bot(base, "market_maker", "History Maker"),
        Bot(base, "hedge_fund", "History Fund"),
    )
    try:
        yield maker, fund
    finally:
        maker.close()
        fund.close()


def history(base: str, **params: str) -> dict[str, Any]:
    return assert_ok(httpx.get(f"{base}/market/history", params=params, timeout=5))  # type: ignore[no-any-return]


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something true (bounded: a wait, not a timing)."""
    deadline = time.monotonic() + 15
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}")
        time.sleep(0.05)
    return result


def trade_spx(maker: Bot, fund: Bot, times: int) -> None:
    assert maker.quote("SPX", 4400.0, 4401.0, 100).status_code == 201
    for _ in range(times):
        assert fund.order("SPX", "buy", 1, 4401.0).status_code == 201


def test_the_days_prices_prints_news_and_board_are_kept(base: str, teams: tuple[Bot, Bot]) -> None:
    maker, fund = teams
    trade_spx(maker, fund, 1)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        assert_ok(admin.post("/admin/news", json={"headline": "Fed holds rates"}))
    data = until("the print, the headline and both teams on the board", lambda: (
        (d := history(base))["trades"] and d["news"] and any(
            {"History Maker", "History Fund"} <= {t["name"] for t in b["teams"]}
            for b in d["leaderboard"]) and any(p["mid"] == 4400.5 for p in d["prices"])
        and d
    ))  # fmt: skip
    spx = [p for p in data["prices"] if p["symbol"] == "SPX" and p["mid"] == 4400.5]
    assert spx and all(p["fair_value"] is None for p in spx)  # the sandbox has no market
    print_ = data["trades"][-1]
    assert (print_["instrument_id"], print_["price"], print_["quantity"]) == ("SPX", 4401.0, 1)
    assert print_["aggressor"] == "buy"
    assert data["news"][-1] | {"game_time": None} == {
        "game_time": None,
        "kind": "news",
        "text": "Fed holds rates",
    }
    board = next(b for b in data["leaderboard"] if len(b["teams"]) >= 2)
    assert all(isinstance(t["pnl"], float | int) for t in board["teams"])
    # Oldest first, in game time.
    for kept in ("prices", "trades", "news", "leaderboard"):
        times = [entry["game_time"] for entry in data[kept]]
        assert times == sorted(times), kept


def test_since_gives_only_what_came_after(base: str, teams: tuple[Bot, Bot]) -> None:
    maker, fund = teams
    trade_spx(maker, fund, 1)
    first = until("a print", lambda: (d := history(base))["trades"] and d)
    last_print = first["trades"][-1]
    after = history(base, since=last_print["game_time"])
    assert all(t["trade_id"] != last_print["trade_id"] for t in after["trades"])
    for kept in ("prices", "trades", "news", "leaderboard"):
        assert all(e["game_time"] > last_print["game_time"] for e in after[kept]), kept
    before = history(base, since="2000-01-01T00:00:00Z")
    assert last_print["trade_id"] in [t["trade_id"] for t in before["trades"]]
    # A zone other than UTC names the same moment (a print may have come meanwhile).
    zoned = history(base, since="1999-12-31T19:00:00-05:00")["trades"]
    assert zoned[: len(before["trades"])] == before["trades"]


def test_every_ring_keeps_only_its_newest(base: str, teams: tuple[Bot, Bot]) -> None:
    maker, fund = teams
    trade_spx(maker, fund, 5)
    newest = fund.http.get("/fills").json()["data"][-1]["trade_id"]
    data = until(
        "the newest print",
        lambda: (d := history(base))["trades"] and d["trades"][-1]["trade_id"] == newest and d,
    )
    ids = [t["trade_id"] for t in data["trades"]]
    assert ids == [newest - 2, newest - 1, newest]  # `trades: 3`, the oldest dropped
    until("a full ring of price samples", lambda: len(history(base)["prices"]) == FAST["prices"])
    assert len(history(base)["prices"]) == FAST["prices"]


def test_a_paused_clock_adds_no_samples(base: str, teams: tuple[Bot, Bot]) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        assert_ok(admin.post("/admin/pause"))
        try:
            paused_at = history(base)["game_time"]
            # Ten market data intervals and several leaderboards pass on a frozen clock.
            for _ in range(10):
                time.sleep(0.1)
                data = history(base, since=paused_at)
                assert data["prices"] == [] and data["leaderboard"] == [], data
        finally:
            assert_ok(admin.post("/admin/resume"))
    until("samples once the clock runs again", lambda: history(base, since=paused_at)["prices"])


@pytest.mark.parametrize(
    "since",
    [
        "yesterday", "2026-12-01T14:30:00", "2026-13-01T00:00:00Z", "", "9" * 41,
        "2026-12-01T14:30:00Z" * 3,
    ],
)  # fmt: skip
def test_a_bad_since_is_refused_and_changes_nothing(base: str, since: str) -> None:
    kept = history(base)
    reply = httpx.get(f"{base}/market/history", params={"since": since}, timeout=5)
    error = assert_error(reply, 400, "INVALID_FIELD")
    assert error["details"] == {"field": "since"}
    assert len(history(base)["trades"]) == len(kept["trades"])
    assert assert_ok(httpx.get(f"{base}/health", timeout=5))["status"] == "ok"
