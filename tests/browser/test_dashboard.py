"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) opens `/` on a
running demo server where two bots have traded, waits for live data, and checks that the
price chart has drawn, the chain and the tape show real prices, the leaderboard shows
scores (or says it has none yet while the server keeps none), and a team that enters
its key sees its own positions, fills and orders. A page opened (and reloaded) mid-game
draws the day so far from `GET /market/history`; at 1366x768 and 1920x1080 no panel's
content is wider than the panel; the room's big screen (`/?view=room`) shows all 32
teams; the header says PAUSED and STOPPED with its clock still; the ladder marks the
team's own orders. A full-page screenshot of each run goes to test-artifacts/, whether
the test passes or fails.

Without Chromium, the `playwright` package or uPlot (`npm ci`), the browser tests are
skipped with the reason, except in CI (CI=true), where a missing piece is a failure.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.config import ADMIN_TOKEN_ENV, load_config
from tests.server.harness import Bot, run_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "browser-organiser-1"
ROLES = ("market_maker", "hedge_fund", "arbitrage")
ROOM_TEAMS = 30
"""Teams besides the two that trade: a room of 32 for the big screen's leaderboard."""
WAIT_MS = 30_000
"""How long the page may take to show live data (a bound, not a timing claim)."""

NUMBER = r"/^-?[\d,]+\.\d{2}%?$/"
COUNT_NUMERIC = f"""(selector) => [...document.querySelectorAll(selector)]
    .filter((cell) => {NUMBER}.test(cell.textContent.trim())).length"""


@dataclass
class Demo:
    base: str
    fund: Bot
    maker: Bot
    instrument: str
    """The option the two teams traded."""


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """The demo preset at 120x, so the open comes in seconds; a market maker quotes
    inside the house's spread and a hedge fund lifts its offer."""
    overrides = {"clock": {"speed": 120}, "server": {"admin_token": TOKEN}}
    config = load_config(preset="demo", overrides=overrides)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with run_server(config) as base:
            wait_for_phase(base, "CONTINUOUS")
            fund = Bot(base, "hedge_fund", name="Browser Fund")
            maker = Bot(base, "market_maker", name="Browser Maker")
            crowd = [Bot(base, ROLES[n % 3], name=f"Room Team {n:02d}") for n in range(ROOM_TEAMS)]
            try:
                yield Demo(base, fund, maker, trade(fund, maker))
            finally:
                for bot in [fund, maker, *crowd]:
                    bot.close()


def wait_for_phase(base: str, phase: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=5) as http:
        while http.get("/health").json()["data"]["phase"] != phase:
            if time.monotonic() > deadline:
                pytest.fail(f"the demo did not reach {phase} within {timeout}s")
            time.sleep(0.1)


def trade(fund: Bot, maker: Bot) -> str:
    """One quote improving the house's on a two-sided option, and a buy that takes it;
    returns the option."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in quoted_options(fund):
            instrument, bid, ask = line["instrument_id"], line["bid"], line["ask"]
            bid_cents, ask_cents = round(bid * 100) + 1, round(ask * 100) - 1
            quoted = maker.quote(instrument, bid_cents / 100, ask_cents / 100, 10)
            if quoted.status_code != 201:
                continue  # the house moved between the read and the quote: try another
            bought = fund.order(instrument, "buy", 2, ask_cents / 100)
            assert bought.status_code == 201, bought.text
            return str(instrument)
        time.sleep(0.5)
    pytest.fail("no two-sided option to trade on in the demo")


def quoted_options(bot: Bot) -> list[dict[str, Any]]:
    """Options the house quotes both sides of, with room inside its spread for a quote
    that keeps to the market maker's 10% rule; the ones priced nearest 40 first."""
    lines = bot.http.get("/market/prices").json()["data"]["instruments"]
    usable = [
        line for line in lines
        if "_" in line["instrument_id"] and line["bid"] is not None and line["ask"] is not None
        and line["bid"] >= 5 and 0.05 <= line["ask"] - line["bid"] <= 0.04 * line["ask"]
    ]  # fmt: skip
    return sorted(usable, key=lambda line: abs(line["ask"] - 40))


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (its own session storage); JavaScript errors and CSP refusals are
    collected, and a full-page screenshot is saved when the test ends, pass or fail (as
    test-artifacts/<test name>.png, or the name the test sets in `page.shot`)."""
    context = chromium.new_context(viewport={"width": 1680, "height": 1050})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"error: {error}"))
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and page.problems.append(m.text),
    )
    page.sockets = []
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    page.shot = request.node.name.removeprefix("test_")
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{page.shot}.png"), full_page=True)
        context.close()


def count(page: Any, selector: str) -> int:
    return int(page.evaluate(COUNT_NUMERIC, selector))


def wait_until(page: Any, script: str, arg: Any = None) -> None:
    page.wait_for_function(script, arg=arg, timeout=WAIT_MS)


def test_dashboard_shows_live_market_scores_and_a_teams_account(demo: Demo, page: Any) -> None:
    page.shot = "dashboard"
    reply = page.goto(demo.base + "/")
    assert reply.status == 200
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    # The price chart has drawn a line of several points on its canvas.
    wait_until(page, "() => +document.querySelector('#chart-SPX').dataset.points >= 3")
    for chart in ("#chart-SPX", "#chart-SPY"):  # drawn in the animation frame after
        wait_until(page, f"() => document.querySelector('{chart} canvas')")
    # The chain shows numeric bids and asks; the stream is live.
    wait_until(page, f"() => ({COUNT_NUMERIC})('#chain td.bid') >= 3")
    assert count(page, "#chain td.ask") >= 3
    # A print while the page watches reaches the tape (it shows what it saw live).
    # (A fresh quote and a buy that takes it: the fixture's quote may be stale by now.)
    printed = trade(demo.fund, demo.maker)
    wait_until(page, "(id) => document.querySelector(`#tape tr[data-id='${id}']`)", printed)
    assert count(page, "#tape tbody td.num") >= 1  # a price with two decimals
    assert page.get_attribute("#conn", "data-state") == "live"
    assert page.text_content("#phase") == "CONTINUOUS"
    # The ladder of the instrument clicked in the chain shows its book.
    page.locator("#chain td.bid", has_text=".").first.click()
    wait_until(page, "() => document.querySelectorAll('#ladder tbody tr.bid').length >= 1")
    check_leaderboard(demo, page)
    # A team pastes its key: its fills, positions and P&L appear.
    enter_key(page, demo.fund)
    wait_until(page, "() => document.querySelectorAll('#team-fills tbody tr').length >= 1")
    wait_until(page, "() => document.querySelectorAll('#team-positions tbody tr').length >= 1")
    shown_as_held(page, demo.fund, demo.instrument)
    wait_until(page, f"() => {NUMBER}.test(document.querySelector('#team-total-pnl').textContent)")
    assert page.evaluate("() => sessionStorage.getItem('exchange.apiKey')") == demo.fund.key
    assert page.evaluate("() => localStorage.length") == 0
    check_analytics(demo.fund, page)
    # Another team's key replaces the first: the maker's resting quote and its fill.
    enter_key(page, demo.maker)
    shown_orders(page, demo.maker)
    wait_until(page, "() => document.querySelectorAll('#team-fills tbody tr').length >= 1")
    wait_until(page, "() => +document.querySelector('#chart-team-pnl').dataset.points >= 1")
    assert page.problems == []
    # The team streams opened with tickets: no key went into a URL.
    assert sum("ticket=wst_" in url for url in page.sockets) >= 2, page.sockets
    assert not any(demo.fund.key in url or demo.maker.key in url for url in page.sockets)


def until_agree(what: str, on_page: Callable[[], Any], from_api: Callable[[], Any]) -> Any:
    """Wait until the page shows what the API says; both are read again each time, since
    the market moves on (a resting order may fill). Returns the agreed value."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        shown, truth = on_page(), from_api()
        if shown == truth:
            return truth
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: the page shows {shown!r}, the API says {truth!r}")
        time.sleep(0.25)


def shown_as_held(page: Any, bot: Bot, instrument: str) -> None:
    """The team panel shows the position the API reports (read every 3 seconds)."""
    cell = f"#team-positions td.inst[title='{instrument}'] + td"
    held = until_agree(
        f"position in {instrument}",
        lambda: page.evaluate("(cell) => document.querySelector(cell)?.textContent", cell),
        lambda: str(next(p["quantity"] for p in bot.positions()["positions"]
                         if p["instrument_id"] == instrument)),
    )  # fmt: skip
    assert int(held) >= 2  # at least the fixture's 2


def shown_orders(page: Any, bot: Bot) -> None:
    """The team panel lists the open orders `GET /orders` lists (kept live by the stream)."""
    until_agree(
        "open orders",
        lambda: page.locator("#team-orders tbody td.num:first-child").all_text_contents(),
        lambda: sorted((o["order_id"] for o in bot.http.get("/orders").json()["data"]),
                       key=lambda i: -int(i)),
    )  # fmt: skip


def enter_key(page: Any, bot: Bot) -> None:
    page.fill("#team-key", bot.key)
    page.press("#team-key", "Enter")  # submits the form, as a person would
    wait_until(
        page, "(id) => document.querySelector('#team-id').textContent.includes(id)", bot.team_id
    )
    wait_until(page, "() => document.querySelector('#team-state').dataset.state === 'live'")


def check_leaderboard(demo: Demo, page: Any) -> None:
    """Rows with numeric P&L where the server keeps scores; until then, a plain note."""
    if httpx.get(demo.base + "/leaderboard", timeout=5).status_code == 404:
        wait_until(page, "() => !document.querySelector('#board-empty').hidden")
        assert page.text_content("#board-empty") == "no scores yet"
        return
    wait_until(page, f"() => ({COUNT_NUMERIC})('#board tbody td.pnl') >= 2")
    names = page.locator("#board tbody td.team .name").all_text_contents()
    assert {"Browser Fund", "Browser Maker"} <= set(names)
    wait_until(page, "() => +document.querySelector('#chart-pnl').dataset.points >= 1")


def check_analytics(bot: Bot, page: Any) -> None:
    """The team's analytics where the server has them; hidden while it answers 404."""
    status = bot.http.get(f"/analytics/{bot.team_id}").status_code
    if status == 200:
        wait_until(page, "() => !document.querySelector('#team-analytics').hidden")
    else:
        assert page.locator("#team-analytics").is_hidden()


def test_a_wrong_key_is_refused_and_not_kept(demo: Demo, page: Any) -> None:
    page.goto(demo.base + "/")
    page.fill("#team-key", "ex_not-a-real-key")
    page.press("#team-key", "Enter")  # submits the form, as a person would
    wait_until(page, "() => document.querySelector('#team-state').dataset.state === 'refused'")
    assert page.locator("#team-body").is_hidden()
    assert page.evaluate("() => sessionStorage.getItem('exchange.apiKey')") is None
    assert page.problems == []


def test_a_key_entered_while_the_market_loads_is_checked_at_once(demo: Demo, page: Any) -> None:
    """The instruments are held back, so the page is still loading the market when the
    key goes in: the form is already live and checks the key instead of reloading."""
    held: list[Any] = []
    page.route("**/instruments", lambda route: held.append(route))
    page.goto(demo.base + "/")
    page.fill("#team-key", demo.fund.key)
    page.press("#team-key", "Enter")
    wait_until(page, "() => document.querySelector('#team-state').dataset.state === 'live'")
    assert not page.locator("#team-body").is_hidden()
    assert page.evaluate("() => document.body.dataset.ready") is None  # still loading
    assert held, "the page asked for the instruments"
    for route in held:
        route.continue_()
    wait_until(page, "() => document.body.dataset.ready === 'true'")
    assert page.problems == []


def test_without_uplot_the_page_works_and_says_charts_need_npm_ci(
    demo: Demo, page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_NODE_MODULES", str(tmp_path))  # read at each request
    page.goto(demo.base + "/")
    wait_until(page, f"() => ({COUNT_NUMERIC})('#chain td.bid') >= 3")
    wait_until(page, "() => +document.querySelector('#chart-SPX').dataset.points >= 1")
    notes = page.locator(".nochart-note").all_text_contents()
    assert len(notes) == 4 and all("charts need npm ci" in n for n in notes)
    assert page.locator("canvas").count() == 0
    assert page.problems == []


def test_page_and_files_are_served_beside_the_api(demo: Demo) -> None:
    with httpx.Client(base_url=demo.base, timeout=5) as http:
        page = http.get("/")
        script = http.get("/static/dashboard.js")
        outside = http.get("/vendor/uplot/..%2F..%2Fpackage.json")
        unknown = http.get("/static/nothing.js")
        health = http.get("/health")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for refused in (outside, unknown):
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "NOT_FOUND"
    assert health.json()["data"]["status"] == "ok"


SIZES = [(1366, 768), (1920, 1080)]
OVERFLOWS = """() => [...document.querySelectorAll(
      '.panel, .panel .scroll, .panel .sub, .summary, .stats, .kv')]
    .filter((box) => box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1)
    .map((box) => `${box.closest('.panel').className} ${box.className}: ` +
                  `${box.scrollWidth} > ${box.clientWidth}`)"""
"""Every panel, and each scrolling part of one, whose content is wider than it is (a
cut column): none may be."""
OVERLAPS = """() => {
  const out = [];
  for (const bar of document.querySelectorAll('.panel > header, .topbar, .feed li')) {
    const parts = [...bar.querySelectorAll(':scope > *, .keyform > *')]
      .filter((e) => e.offsetParent !== null && !e.classList.contains('keyform'));
    for (const part of parts) {
      if (part.scrollWidth > part.clientWidth + 1) out.push(`${part.className} spills over`);
    }
    for (const [i, a] of parts.entries()) for (const b of parts.slice(i + 1)) {
      const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const across = r.left < q.right - 1 && q.left < r.right - 1;
      if (across && r.top < q.bottom - 1 && q.top < r.bottom - 1)
        out.push(`${a.id || a.className} over ${b.id || b.className}`);
    }
  }
  return out;
}"""
"""Texts side by side that sit on one another, or spill out of their box (into the next),
in headers and news lines."""


def game_seconds(base: str) -> float:
    iso = httpx.get(base + "/health", timeout=5).json()["data"]["game_time"]
    return dt.datetime.fromisoformat(iso).timestamp()


def history_reaches_back(base: str, seconds: float, timeout: float = 30.0) -> dict[str, Any]:
    """The market history, once its first leaderboard point is `seconds` of game time
    old: at 120x the first board comes 5 wall seconds (10 game minutes) after the start,
    so a test run alone must wait for it; run after others it is there already."""
    deadline = time.monotonic() + timeout
    while True:
        history = httpx.get(base + "/market/history", timeout=5).json()["data"]
        boards = history["leaderboard"]
        first = dt.datetime.fromisoformat(boards[0]["game_time"]).timestamp() if boards else None
        if first is not None and first < game_seconds(base) - seconds:
            return history  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            pytest.fail(f"no leaderboard point {seconds} game seconds old within {timeout}s")
        time.sleep(0.1)


def shows_the_day_before(page: Any, loaded_at: float, traded_before: int) -> None:
    """The charts, tape and news hold what happened before the page was loaded."""
    wait_until(page, "() => document.body.dataset.ready === 'true'")
    for chart in ("#chart-SPX", "#chart-SPY", "#chart-pnl"):
        first = page.evaluate(f"() => +document.querySelector('{chart}').dataset.first")
        assert first < loaded_at - 60, chart  # a point from minutes of game time before
    wait_until(page, "() => document.querySelector('#chart-SPX canvas')")  # drawn next frame
    trades = page.evaluate(
        "() => [...document.querySelectorAll('#tape tbody tr')].map((r) => +r.dataset.trade)"
    )
    assert trades and min(trades) <= traded_before
    assert page.locator("#news li.phase").count() >= 1  # the open, before the page


def fits(page: Any) -> None:
    """Measured with the leaderboard and the ladder filled in."""
    wait_until(page, "() => document.querySelectorAll('#board tbody tr').length >= 2")
    wait_until(page, "() => document.querySelectorAll('#ladder tbody tr').length >= 1")
    overflows = page.evaluate(OVERFLOWS)
    assert overflows == [], "\n".join(overflows)
    assert page.evaluate(OVERLAPS) == []
    # Headlines and phase changes alike: their texts start in one column.
    lefts = page.evaluate(
        "() => [...document.querySelectorAll('#news li .text')]"
        ".map((t) => Math.round(t.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) == 1, lefts


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_reload_mid_game_shows_the_day_so_far_and_every_panel_fits(
    demo: Demo, page: Any, width: int, height: int
) -> None:
    page.shot = f"reloaded-{width}x{height}"
    page.set_viewport_size({"width": width, "height": height})
    before = history_reaches_back(demo.base, 120)  # the charts' oldest point, with margin
    traded_before = before["trades"][-1]["trade_id"]
    page.goto(demo.base + "/")
    shows_the_day_before(page, game_seconds(demo.base), traded_before)
    enter_key(page, demo.maker)
    page.locator(f"#chain td[data-id='{demo.instrument}']").first.click()
    wait_until(page, "() => document.querySelectorAll('#team-orders tbody tr').length >= 1")
    fits(page)
    page.reload()
    shows_the_day_before(page, game_seconds(demo.base), traded_before)
    wait_until(page, "() => document.querySelector('#team-state').dataset.state === 'live'")
    fits(page)
    assert page.problems == []


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1700, 950), (2560, 1440)])
def test_every_panel_fits_from_1280_to_2560_pixels(
    demo: Demo, page: Any, width: int, height: int
) -> None:
    page.shot = f"desk-{width}x{height}"
    page.set_viewport_size({"width": width, "height": height})
    page.goto(demo.base + "/")
    enter_key(page, demo.maker)
    wait_until(page, "() => !document.querySelector('#team-analytics').hidden")
    fits(page)
    assert page.problems == []


def test_the_ladder_marks_the_teams_own_orders(demo: Demo, page: Any) -> None:
    rest_a_quote(demo.maker, demo.instrument)
    page.goto(demo.base + "/")
    enter_key(page, demo.maker)
    wait_until(page, "() => document.querySelectorAll('#team-orders tbody tr').length >= 1")
    page.locator(f"#chain td[data-id='{demo.instrument}']").first.click()
    wait_until(page, "() => document.querySelector('#ladder tr.own .own-qty')")
    resting = [o for o in demo.maker.http.get("/orders").json()["data"]
               if o["instrument_id"] == demo.instrument]  # fmt: skip
    shown = page.locator("#ladder tr.own .own-qty").all_text_contents()
    assert {f"yours {o['quantity'] - o['filled']}" for o in resting} == set(shown)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ladder-own-orders.png"))
    # Forgetting the key unmarks the book.
    page.click("#team-forget")
    wait_until(page, "() => !document.querySelector('#ladder tr.own')")
    assert page.problems == []


def rest_a_quote(maker: Bot, instrument: str) -> None:
    """A fresh quote 4% wide around the book's mid: resting orders for the ladder to mark."""
    book = maker.http.get(f"/market/book/{instrument}").json()["data"]
    mid = (book["bids"][0]["price"] + book["asks"][0]["price"]) / 2
    quoted = maker.quote(instrument, round(mid * 0.98, 2), round(mid * 1.02, 2), 10)
    assert quoted.status_code == 201, quoted.text


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768), (2560, 1440)])
def test_the_room_view_shows_every_team_and_their_pnl(
    demo: Demo, page: Any, width: int, height: int
) -> None:
    page.shot = f"room-{width}x{height}"
    page.set_viewport_size({"width": width, "height": height})
    page.goto(demo.base + "/?view=room")
    wait_until(
        page, f"() => document.querySelectorAll('#board tbody tr').length >= {ROOM_TEAMS + 2}"
    )
    wait_until(page, "() => document.querySelector('#chart-pnl canvas')")
    body = page.evaluate(
        "() => document.querySelector('.area-board .scroll').getBoundingClientRect().bottom"
    )
    rows = page.evaluate(
        "() => [...document.querySelectorAll('#board tbody tr')]"
        ".map((r) => r.getBoundingClientRect().bottom)"
    )
    assert max(rows) <= min(body, height) + 1  # every row in sight, none scrolled away
    assert page.locator(".area-chain").is_hidden() and page.locator(".area-team").is_hidden()
    fits(page)
    assert page.problems == []


def test_the_header_says_paused_and_stopped_and_its_clock_stands_still(
    chromium: Any, tmp_path: Path
) -> None:
    config = load_config(preset="demo", overrides={"server": {"admin_token": TOKEN}})
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ADMIN_TOKEN_ENV, raising=False)
        with (
            run_server(config) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
            ) as admin,
        ):
            try:
                page.goto(base + "/")
                wait_until(page, "() => document.body.dataset.ready === 'true'")
                assert admin.post("/admin/pause").status_code == 200
                wait_until(page, "() => document.querySelector('#phase').textContent === 'PAUSED'")
                still(page)
                assert admin.post("/admin/resume").status_code == 200
                wait_until(page, "() => document.querySelector('#phase').textContent !== 'PAUSED'")
                assert admin.post("/admin/stop").status_code == 200
                wait_until(
                    page, "() => document.querySelector('#phase').textContent === 'STOPPED'"
                )
                still(page)
                stopped_at = httpx.get(base + "/health").json()["data"]["game_time"]
                assert (
                    page.text_content("#game-clock") == stopped_at[:10] + " " + stopped_at[11:19]
                )
            finally:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "stopped.png"))
                context.close()


def still(page: Any) -> None:
    """The header's clock shows the same second over several of its redraws (4 a second)."""
    first = page.text_content("#game-clock")
    for _ in range(6):
        time.sleep(0.25)
        assert page.text_content("#game-clock") == first
