"""The tournament's HTML report: one self-contained file (inline CSS and SVG, no
scripts, nothing fetched), with per format the standings table, each team's score
distribution over its days (every day a dot, the interval a bar, the mean a tick) and
each team's P&L day by day."""

from __future__ import annotations

from html import escape

from exchange.tournament.days import DayResult
from exchange.tournament.results import Standing, TournamentResults
from exchange.tournament.spec import FORMATS

WIDTH, ROW, PAD = 720, 28, 150
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22"]  # fmt: skip
STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child,td.l{text-align:left}
svg text{font:11px sans-serif}code{font-size:12px}"""


def html_report(r: TournamentResults) -> str:
    parts = [f"<!doctype html><meta charset=utf-8><title>{escape(r.tournament)}</title>",
             f"<style>{STYLE}</style><h1>Tournament {escape(r.tournament)}</h1>",
             f"<p>{len(r.days)} days, seed {r.seed}.</p>"]  # fmt: skip
    for fmt in FORMATS:
        rows = [s for s in r.standings if s.format == fmt]
        days = [d for d in r.days if d.format == fmt]
        if rows:
            parts += [f"<h2>Format: {fmt}</h2>", _table(rows), "<h3>Score per day</h3>",
                      _distribution(rows, days), "<h3>P&amp;L per day</h3>",
                      _pnl_lines(rows, days)]  # fmt: skip
    parts.append("<h2>Days</h2>" + _digests(r.days))
    return "\n".join(parts) + "\n"


def _table(rows: list[Standing]) -> str:
    head = ("<tr><th>rank</th><th>team</th><th>role</th><th>days</th><th>lost</th>"
            "<th>P&amp;L mean</th><th>median</th><th>std</th><th>score mean</th>"
            "<th>median</th><th>std</th><th>95% interval</th><th>tied with</th></tr>")  # fmt: skip
    body = [
        f"<tr><td>{s.rank}{'=' if s.tied_with else ''}</td><td class=l>{escape(s.team)}</td>"
        f"<td class=l>{s.role}</td><td>{s.days}</td><td>{s.lost_days}</td>"
        f"<td>{s.pnl_mean:,.2f}</td><td>{s.pnl_median:,.2f}</td><td>{s.pnl_std:,.2f}</td>"
        f"<td>{s.score_mean:,.2f}</td><td>{s.score_median:,.2f}</td><td>{s.score_std:,.2f}"
        f"</td><td>{s.ci_low:,.2f} .. {s.ci_high:,.2f}</td>"
        f"<td class=l>{escape(', '.join(s.tied_with))}</td></tr>"
        for s in rows
    ]
    return f"<table>{head}{''.join(body)}</table>"


def _scale(low: float, high: float, left: float, right: float) -> tuple[float, float]:
    """(a, b) with x = a + b * value mapping [low, high] onto [left, right]."""
    if high <= low:
        low, high = low - 1, high + 1
    b = (right - left) / (high - low)
    return left - b * low, b


def _distribution(rows: list[Standing], days: list[DayResult]) -> str:
    scores = {s.team: [t.score for d in days for t in d.teams if t.team == s.team] for s in rows}
    values = [v for vs in scores.values() for v in vs] + [s.ci_low for s in rows]
    a, b = _scale(min(values), max([*values, *(s.ci_high for s in rows)]), PAD, WIDTH - 20)
    height = ROW * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">']
    for n, s in enumerate(rows):
        y, colour = 20 + n * ROW, COLOURS[n % len(COLOURS)]
        out.append(f'<text x="4" y="{y + 4}">{escape(s.team)}</text>')
        out.append(f'<line x1="{a + b * s.ci_low:.1f}" x2="{a + b * s.ci_high:.1f}" y1="{y}" '
                   f'y2="{y}" stroke="{colour}" stroke-width="6" opacity="0.35"/>')  # fmt: skip
        out += [f'<circle cx="{a + b * v:.1f}" cy="{y}" r="3" fill="{colour}"/>'
                for v in scores[s.team]]  # fmt: skip
        x = a + b * s.score_mean
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 9}" y2="{y + 9}" '
                   'stroke="#000" stroke-width="2"/>')  # fmt: skip
    out.append(_axis(a, b, min(values), max(values), height - 6))
    return "".join(out) + "</svg>"


def _pnl_lines(rows: list[Standing], days: list[DayResult]) -> str:
    series = {s.team: [(i, t.pnl) for i, d in enumerate(days) for t in d.teams
                       if t.team == s.team] for s in rows}  # fmt: skip
    values = [p for pts in series.values() for _, p in pts] or [0.0]
    height = 220
    ya, yb = _scale(min(values), max(values), height - 30, 10)
    xa, xb = _scale(0, max(1, len(days) - 1), PAD, WIDTH - 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">',
           f'<line x1="{PAD}" x2="{WIDTH - 20}" y1="{ya:.1f}" y2="{ya:.1f}" stroke="#999"/>',
           f'<text x="4" y="{ya + 4:.1f}">0</text>',
           f'<text x="4" y="14">{max(values):,.0f}</text>',
           f'<text x="4" y="{height - 26}">{min(values):,.0f}</text>']  # fmt: skip
    for n, s in enumerate(rows):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{xa + xb * i:.1f},{ya + yb * p:.1f}" for i, p in series[s.team])
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}"/>')
        for i, p in series[s.team]:
            out.append(f'<circle cx="{xa + xb * i:.1f}" cy="{ya + yb * p:.1f}" r="2.5" '
                       f'fill="{colour}"><title>{escape(s.team)} {days[i].key}: '
                       f"{p:,.2f}</title></circle>")  # fmt: skip
        out.append(f'<text x="{WIDTH - 140}" y="{20 + 14 * n}" fill="{colour}">'
                   f"{escape(s.team)}</text>")  # fmt: skip
    out.append(f'<text x="{PAD}" y="{height - 8}">days, in key order</text>')
    return "".join(out) + "</svg>"


def _axis(a: float, b: float, low: float, high: float, y: float) -> str:
    ticks = [low, (low + high) / 2, high]
    return "".join(f'<text x="{a + b * v:.1f}" y="{y}" text-anchor="middle">{v:,.0f}</text>'
                   for v in ticks)  # fmt: skip


def _digests(days: list[DayResult]) -> str:
    rows = "".join(
        f"<tr><td>{escape(d.key)}</td><td>{d.trades}</td><td class=l><code>{d.digest}</code>"
        f"</td><td class=l>{escape(_losses(d))}</td></tr>"
        for d in days
    )
    return f"<table><tr><th>day</th><th>trades</th><th>digest</th><th>lost</th></tr>{rows}</table>"


def _losses(day: DayResult) -> str:
    return "; ".join(f"{t.team}: {t.lost}" for t in day.teams if t.lost)
