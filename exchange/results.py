"""A game's final results as files (`python -m exchange results`, `exchange/results_cli.py`).

What it writes (`write`):

- `leaderboard.csv`: the overall ranking; `leaderboard_by_role.csv`: each role's;
- `kpis.csv`: every team's KPIs, one line per (team, KPI);
- `penalties.csv`: each team's P&L, fees, penalties and score, with each penalty KPI;
- `analytics.csv`: fills, contracts, rejections, markouts per horizon, adverse selection;
- `results.json`: all of it, with each team's full analytics (`GET /analytics/{id}`);
- `report.html`: one self-contained page (inline SVG, no script, no network) with each
  team's P&L over the day, the underlyings with the news marked, the markouts per team
  and a table per role.

How. The numbers are the server's own: the results rebuild the game's `Exchange` from
a copy of the database (a consistent SQLite backup, so a running game's file is only
read) and ask its scores for the leaderboard and every team's analytics, as
`GET /leaderboard` and `GET /analytics/{id}` would answer at the game's last moment. The
underlyings' prices and the news come from the `prices` and `events` tables. A game's
earlier rounds (`admin new-round`) are kept as `Results` in `game_state` (key
`round:N`, their rows in `round_rows`); `--round N` writes those.
"""

from __future__ import annotations

import csv
import html
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from exchange.domain.types import Role, TeamId, TimeNs
from exchange.pipeline.scoring import ScoreKeeper
from exchange.store.db import Database
from exchange.wire.codec import game_time

UNDERLYINGS = ("SPX", "SPY")
PLAYERS = (Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE, Role.RETAIL)


class Results(msgspec.Struct):
    """Everything the files say, in one value (kept per round in the database)."""

    round: int
    start: str
    end: str
    leaderboard: dict[str, Any]
    analytics: dict[str, dict[str, Any]]
    """Each ranked team's analytics, by team id (the house's teams are left out)."""
    underlyings: dict[str, list[tuple[int, float]]]
    """Each underlying's price over the game: (game time ns, price)."""
    news: list[tuple[int, str]]
    """Each headline: (game time ns, headline)."""


# -- gathering -----------------------------------------------------------------------


def collect(scores: ScoreKeeper, now: TimeNs, path: str | Path, round_number: int) -> Results:
    """The results of a game as it stands at `now` (its committed rows read from `path`)."""
    board = scores.leaderboard()
    ranked = [s["team_id"] for s in board["overall"]]
    analytics = {t: report for t in ranked if (report := scores.report(TeamId(t))) is not None}
    with Database.open(path, readonly=True) as db:
        state = db.load_game_state()
        underlyings = _underlyings(db.iter_rows("prices"))
        news = [(int(row[0]), str(row[1])) for row in db.iter_rows("events")]
    start = int(state.get("start_ns", now))
    return Results(
        round_number, game_time(start), game_time(now), board, analytics,
        underlyings, news,
    )  # fmt: skip


def _underlyings(prices: Iterable[tuple[Any, ...]]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for ts_ns, instrument_id, kind, price, *_ in prices:
        if kind == "underlying" and price is not None:
            out.setdefault(str(instrument_id), []).append((int(ts_ns), price / 100))
    return out


def backup(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file, even one a server is writing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def archived(path: str | Path, round_number: int) -> Results:
    """An earlier round's results, as kept when the next round began."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    with Database.open(path, readonly=True) as db:
        kept = db.load_game_state().get(round_key(round_number))
    if kept is None:
        raise ValueError(f"{path}: no archived round {round_number}")
    return msgspec.convert(kept, Results)


def round_key(round_number: int) -> str:
    """The `game_state` key a finished round's results are kept under."""
    return f"round:{round_number}"


# -- the files -----------------------------------------------------------------------

BOARD_COLUMNS = ("rank", "team_id", "name", "role", "score", "pnl", "penalties",
                 "fees_paid", "fees_received")  # fmt: skip


def write(results: Results, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    board = results.leaderboard
    by_role = [s for role in _roles(board) for s in board["by_role"].get(role, [])]
    everyone = board["overall"]
    written = [
        _csv(out / "leaderboard.csv", BOARD_COLUMNS, board["overall"]),
        _csv(out / "leaderboard_by_role.csv", BOARD_COLUMNS, by_role),
        _csv(out / "kpis.csv", ("team_id", "name", "role", "kpi", "value"), _kpis(everyone)),
        _csv(out / "penalties.csv", PENALTY_COLUMNS, [_penalties(s) for s in everyone]),
        _csv(out / "analytics.csv", ANALYTICS_COLUMNS, _analytics(results)),
    ]
    data = out / "results.json"
    data.write_bytes(msgspec.json.format(msgspec.json.encode(results)))
    page = out / "report.html"
    page.write_text(report_html(results), encoding="utf-8")
    return [*written, data, page]


def _roles(board: dict[str, Any]) -> list[str]:
    return [r.value for r in PLAYERS if r.value in board["by_role"]]


def _csv(path: Path, columns: Sequence[str], records: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for record in records:
            out.writerow(["" if record.get(c) is None else record.get(c) for c in columns])
    return path


def _kpis(standings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"team_id": s["team_id"], "name": s["name"], "role": s["role"], "kpi": k, "value": v}
        for s in standings
        for k, v in s["kpis"].items()
    ]


PENALTY_COLUMNS = ("team_id", "name", "role", "pnl", "penalties", "score", "detail")


def _penalties(standing: dict[str, Any]) -> dict[str, Any]:
    detail = "; ".join(
        f"{k}={v}" for k, v in standing["kpis"].items() if k.endswith("_penalty") and v
    )
    return {**standing, "detail": detail}


HORIZONS = (1, 5, 30)
ANALYTICS_COLUMNS = ("team_id", "name", "role", "fills", "contracts", "rejections",
                     "limit_breach_attempts",
                     *(f"markout_{h}_per_contract" for h in HORIZONS),
                     "adverse_share")  # fmt: skip


def _analytics(results: Results) -> list[dict[str, Any]]:
    out = []
    for team_id, report in results.analytics.items():
        standing = report["standing"]
        row = {"team_id": team_id, "name": standing["name"], "role": standing["role"]}
        for key in ("fills", "contracts", "rejections", "limit_breach_attempts"):
            row[key] = report[key]
        for horizon in report["markouts"]:
            row[f"markout_{horizon['horizon']}_per_contract"] = horizon["all"]["mean_per_contract"]
        row["adverse_share"] = report["adverse_selection"]["share"]
        out.append(row)
    return out


# -- the HTML report -----------------------------------------------------------------

WIDTH, HEIGHT, PAD, LEFT = 960, 320, 40, 80
"""A plot's size, its margin, and its left margin (for the values' labels)."""
STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;display:block;overflow-x:auto}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:nth-child(2),td:nth-child(3),th{text-align:left}
svg.plot{border:1px solid #ddd;background:#fff}
.legend span{display:inline-block;margin:0 12px 4px 0;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}"""


def report_html(results: Results) -> str:
    """The whole report: one page, its plots inline SVG."""
    names = {t: r["standing"]["name"] for t, r in results.analytics.items()}
    pnl = [
        (names[t], [(ts, p) for ts, p in ((q["ts_ns"], q["pnl"]) for q in r["pnl_series"])])
        for t, r in results.analytics.items()
    ]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Results, round {results.round}</title><style>{STYLE}</style></head><body>",
        f"<h1>Results, round {results.round}</h1>",
        f"<p>From {_e(results.start)} to {_e(results.end)} (game time, UTC); "
        f"{len(results.analytics)} teams.</p>",
        "<h2>Leaderboard</h2>",
        _board_table(results.leaderboard["overall"], with_role=True),
        "<h2>P&amp;L over the day</h2>",
        line_chart("pnl", pnl, [], "P&L"),
    ]
    for symbol in sorted(results.underlyings):
        parts.append(f"<h2>{_e(symbol)}, news marked</h2>")
        series = [(symbol, results.underlyings[symbol])]
        parts.append(line_chart(f"underlying-{symbol}", series, results.news, symbol))
    parts += ["<h2>Markouts per team (mean per contract)</h2>", markout_chart(results)]
    for role in _roles(results.leaderboard):
        parts.append(f"<h2>{_e(role.replace('_', ' ').title())}</h2>")
        parts.append(_board_table(results.leaderboard["by_role"][role], kpis=True))
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(text: object) -> str:
    return html.escape(str(text))


def _board_table(
    standings: list[dict[str, Any]], with_role: bool = False, kpis: bool = False
) -> str:
    kpi_names = sorted({k for s in standings for k in s["kpis"]}) if kpis else []
    head = ["rank", "team", *(["role"] if with_role else []), "score", "P&L", "penalties",
            *kpi_names]  # fmt: skip
    rows = []
    for s in standings:
        cells = [s.get("rank"), s["name"], *([s["role"]] if with_role else []), s["score"],
                 s["pnl"], s["penalties"], *(s["kpis"].get(k) for k in kpi_names)]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{_e(_cell(c))}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
    return f"<table>{header}{''.join(rows)}</table>"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def colour(i: int, n: int) -> str:
    return f"hsl({round(i * 360 / max(n, 1))},65%,42%)"


def line_chart(
    name: str,
    series: list[tuple[str, list[tuple[int, float]]]],
    marks: list[tuple[int, str]],
    unit: str,
) -> str:
    """Lines over game time, one per series, with labelled vertical marks (the news)."""
    points = [p for _, line in series for p in line]
    if not points:
        return f'<p class="empty" data-plot="{_e(name)}">No data.</p>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - PAD)

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)

    body = [_axes(sx, sy, x0, x1, y0, y1, unit)]
    for ts, headline in marks:
        if x0 <= ts <= x1:
            x = sx(ts)
            body.append(f'<line class="news" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD}" '
                        f'y2="{HEIGHT - PAD}" stroke="#c60" stroke-dasharray="4 3">'
                        f"<title>{_e(game_time(ts))}: {_e(headline)}</title></line>")  # fmt: skip
    for i, (label, line) in enumerate(series):
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
        stroke = colour(i, len(series))
        body.append(f'<polyline class="series" fill="none" stroke="{stroke}" '
                    f'stroke-width="1.5" points="{path}"><title>{_e(label)}</title>'
                    "</polyline>")  # fmt: skip
    legend = "".join(
        f'<span><i style="background:{colour(i, len(series))}"></i>{_e(label)}</span>'
        for i, (label, _) in enumerate(series)
    )
    return (f'<svg class="plot" data-plot="{_e(name)}" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
            f'{"".join(body)}</svg><div class="legend">{legend}</div>')  # fmt: skip


def _axes(sx: Any, sy: Any, x0: int, x1: int, y0: float, y1: float, unit: str) -> str:
    left, right, bottom, top = sx(x0), sx(x1), sy(y0), sy(y1)
    lines = [
        f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" '
        'stroke="#888"/>',
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="#888"/>',
    ]
    if y0 < 0 < y1:
        zero = sy(0)
        lines.append(f'<line x1="{left:.1f}" x2="{sx(x1):.1f}" y1="{zero:.1f}" '
                     f'y2="{zero:.1f}" stroke="#ccc"/>')  # fmt: skip
    labels = [
        (left, bottom + 16, "start", game_time(x0)[11:16]),
        (sx(x1), bottom + 16, "end", game_time(x1)[11:16]),
        (left - 4, sy(y1) + 4, "end", f"{y1:,.2f}"),
        (left - 4, bottom, "end", f"{y0:,.2f}"),
        (left, PAD - 12, "start", unit),
    ]
    for x, y, anchor, text in labels:
        lines.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" '
                     f'text-anchor="{anchor}">{_e(text)}</text>')  # fmt: skip
    return "".join(lines)


def markout_chart(results: Results) -> str:
    """Bars per team, one per horizon: the mean markout per contract of its fills."""
    teams = [(r["standing"]["name"], {m["horizon"]: m["all"]["mean_per_contract"]
                                      for m in r["markouts"]})
             for r in results.analytics.values()]  # fmt: skip
    values: list[float] = [v for _, by in teams for v in by.values() if v is not None]
    if not values:
        return '<p class="empty" data-plot="markouts">No fills, so no markouts.</p>'
    top, bottom = max(max(values), 0.0), min(min(values), 0.0)
    span = (top - bottom) or 1.0
    slot = (WIDTH - LEFT - PAD) / len(teams)
    bar = slot / (len(HORIZONS) + 1)

    def sy(y: float) -> float:
        return PAD + (top - y) / span * (HEIGHT - 2 * PAD)

    body = [f'<line x1="{LEFT}" x2="{WIDTH - PAD}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" '
            'stroke="#888"/>']  # fmt: skip
    body.extend(f'<text x="{LEFT - 4}" y="{sy(value) + 4:.1f}" font-size="11" '
                f'text-anchor="end">{value:,.2f}</text>'
                for value in sorted({top, 0.0, bottom}))  # fmt: skip
    for i, (name, by) in enumerate(teams):
        for j, horizon in enumerate(HORIZONS):
            value = by.get(horizon)
            if value is None:
                continue
            x, y = LEFT + i * slot + j * bar, min(sy(value), sy(0))
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                        f'height="{abs(sy(value) - sy(0)):.1f}" fill="{colour(j, 3)}">'
                        f"<title>{_e(name)}, {horizon} ticks: {value:,.2f}</title>"
                        "</rect>")  # fmt: skip
        label_x = LEFT + i * slot + slot / 2
        body.append(f'<text x="{label_x:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
                    f'text-anchor="middle">{_e(name[:12])}</text>')  # fmt: skip
    legend = "".join(
        f'<span><i style="background:{colour(j, 3)}"></i>{h} market ticks</span>'
        for j, h in enumerate(HORIZONS)
    )
    return (f'<svg class="plot" data-plot="markouts" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
            f'{"".join(body)}</svg><div class="legend">{legend}</div>')  # fmt: skip
