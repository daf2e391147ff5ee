"""`python -m exchange results`: a played game's leaderboard, KPIs, penalties and
analytics as CSV and JSON, and an HTML report that opens from a file in headless
Chromium with its plots drawn."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchange.config import ADMIN_TOKEN_ENV, load_config
from tests.server.harness import Bot, run_server, wait_quoted
from tests.support import assert_ok

TOKEN = "organiser-secret-42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ROLES = ("market_maker", "hedge_fund", "arbitrage", "hedge_fund")


def play(base: str, rounds: int = 12) -> list[Bot]:
    """Four teams trade the underlyings with the house; one headline by hand."""
    bots = [Bot(base, role=role) for role in ROLES]
    for i in range(rounds):
        wait_quoted(base, ("SPX", "SPY"))
        for j, bot in enumerate(bots):
            side = "buy" if (i + j) % 2 else "sell"
            assert bot.order("SPX" if j % 2 else "SPY", side, 1 + j).status_code == 201
        if i == 3:
            body = {"headline": "Fed hints at tightening"}
            assert_ok(httpx.post(f"{base}/admin/news", json=body, headers=AUTH))
        time.sleep(0.2)  # let the market tick between rounds (game time, at 600x)
    return bots


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db_path = tmp_path_factory.mktemp("game") / "game.db"
    overrides = {"server": {"admin_token": TOKEN}, "clock": {"speed": 600}}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(load_config(preset="demo", overrides=overrides), db_path) as base:
            bots = play(base)
            assert_ok(httpx.post(f"{base}/admin/stop", headers=AUTH))
            for bot in bots:
                bot.close()
    yield db_path


def results(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "exchange", "results", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_results_writes_the_leaderboard_kpis_penalties_and_analytics(
    played: Path, tmp_path: Path
) -> None:
    before = played.read_bytes()
    done = results("--db", str(played), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert played.read_bytes() == before  # the game's file is only read
    board = rows(tmp_path / "leaderboard.csv")
    assert [r["rank"] for r in board] == ["1", "2", "3", "4"]
    assert sorted(r["role"] for r in board) == sorted(ROLES)
    scores = [float(r["score"]) for r in board]
    assert scores == sorted(scores, reverse=True)
    by_role = rows(tmp_path / "leaderboard_by_role.csv")
    assert [r["rank"] for r in by_role if r["role"] == "hedge_fund"] == ["1", "2"]
    kpis = {(r["team_id"], r["kpi"]) for r in rows(tmp_path / "kpis.csv")}
    maker = next(r["team_id"] for r in board if r["role"] == "market_maker")
    assert (maker, "uptime") in kpis
    penalties = {r["team_id"]: r for r in rows(tmp_path / "penalties.csv")}
    assert "obligation_penalty=" in penalties[maker]["detail"]  # it never quoted
    analytics = rows(tmp_path / "analytics.csv")
    assert all(int(r["fills"]) > 0 for r in analytics)
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["analytics"]) == 4 and data["round"] == 1
    assert [h for _, h in data["news"]].count("Fed hints at tightening") == 1
    assert set(data["underlyings"]) == {"SPX", "SPY"}
    every = data["analytics"][maker]
    assert every["markouts"] and every["pnl_series"]


def test_results_of_a_missing_file_or_round_is_a_clear_error(played: Path, tmp_path: Path) -> None:
    missing = results("--db", str(tmp_path / "nope.db"), "--out", str(tmp_path))
    no_round = results("--db", str(played), "--out", str(tmp_path), "--round", "7")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert no_round.returncode == 2 and "no archived round 7" in no_round.stderr


def test_the_html_report_opens_from_a_file_with_its_plots(played: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    assert results("--db", str(played), "--out", str(tmp_path)).returncode == 0
    page_file = tmp_path / "report.html"
    text = page_file.read_text()
    assert "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # self-contained: nothing to fetch
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        plots = page.eval_on_selector_all("svg.plot", PLOT_SUMMARY)
        tables = page.eval_on_selector_all("table", "(ts) => ts.length")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [page_file.as_uri()]
    drawn = {p["name"]: p for p in plots}
    assert set(drawn) == {"pnl", "underlying-SPX", "underlying-SPY", "markouts"}
    assert drawn["pnl"]["series"] == 4
    assert drawn["underlying-SPX"]["news"] >= 1 and drawn["underlying-SPX"]["series"] == 1
    assert drawn["markouts"]["bars"] >= 4
    assert all(p["width"] > 0 and p["height"] > 0 for p in plots)
    assert tables == 1 + 3  # the leaderboard, and one per role that played
    assert (tmp_path / "report.png").stat().st_size > 0


PLOT_SUMMARY = """(svgs) => svgs.map((svg) => {
    const box = svg.getBoundingClientRect();
    return {name: svg.dataset.plot, width: box.width, height: box.height,
            series: svg.querySelectorAll("polyline.series").length,
            news: svg.querySelectorAll("line.news").length,
            bars: svg.querySelectorAll("rect.bar").length};
})"""
