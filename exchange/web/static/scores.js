// The leaderboard: one table per ranking (overall, each role, the house's own desks) and
// a P&L chart of every team over game time, built from successive leaderboard messages.
// Fields may be missing (the scoring grows); anything absent shows as a dash.

import { TimeChart } from "./charts.js";
import { $, api, el, fmt, qty, signed, stamp } from "./util.js";

const RANKINGS = [
  ["overall", "Overall"], ["market_maker", "Market makers"], ["hedge_fund", "Hedge funds"],
  ["arbitrage", "Arbitrage"], ["house", "House"],
];
const ROLE_NAMES = { market_maker: "MM", hedge_fund: "HF", arbitrage: "ARB", retail: "RTL" };
const POLL_MS = 5000;

function kpiText(value) {
  if (typeof value === "number") return Number.isInteger(value) ? qty(value) : fmt(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export class Leaderboard {
  /** `room`: the projector's view, where every team's row fits without its KPIs. */
  constructor(clock, { room = false } = {}) {
    this.clock = clock;
    this.room = room;
    this.data = null;
    this.ranking = "overall";
    this.available = null; // false once GET /leaderboard answered 404
    this.heard = 0;
    this.latest = -Infinity;
    // No legend: each team's line has the colour of the swatch by its name in the table.
    this.chart = new TimeChart($("#chart-pnl"), { maxPoints: 2000, legend: false });
    $("#board-tabs").replaceChildren(...RANKINGS.map(([key, label]) => {
      const button = el("button", { type: "button", class: "tab", text: label, "data-ranking": key });
      button.addEventListener("click", () => {
        this.ranking = key;
        this.render();
      });
      return button;
    }));
    setInterval(() => this.poll(), POLL_MS);
    this.render();
  }

  /** Ask the REST endpoint when the stream has not brought a board for a while. */
  async poll(force = false) {
    if (this.available === false || (!force && Date.now() - this.heard < 2 * POLL_MS)) return;
    const reply = await api("/leaderboard");
    if (reply.status === 404) {
      this.available = false;
      this.render();
    } else if (reply.ok) {
      this.available = true;
      this.apply(reply.data, false);
    }
  }

  /** A board, from `GET /leaderboard` or a `leaderboard` message. */
  apply(data, live = true) {
    if (!data || typeof data !== "object") return;
    if (live) this.heard = Date.now();
    const asOf = Date.parse(data.as_of);
    const at = (Number.isNaN(asOf) ? this.clock.now() || Date.now() : asOf) / 1000;
    if (at < this.latest) return; // an older board (a resumed stream replays some)
    this.latest = at;
    this.data = data;
    const values = {};
    for (const row of data.overall || []) {
      if (typeof row.pnl !== "number") continue;
      values[row.team_id] = row.pnl;
      this.chart.addLine(row.team_id, { label: row.name || row.team_id });
      this.chart.rename(row.team_id, row.name || row.team_id);
    }
    if (Object.keys(values).length) this.chart.push(at, values);
    this.render();
  }

  /** The P&L of every team over the day so far, from `GET /market/history`. */
  history(points) {
    for (const point of points || []) {
      const values = {};
      for (const t of point.teams) {
        this.chart.addLine(t.team_id, { label: t.name });
        values[t.team_id] = t.pnl;
      }
      if (Object.keys(values).length) this.chart.push(Date.parse(point.game_time) / 1000, values);
    }
    this.render();
  }

  rows() {
    if (!this.data) return [];
    if (this.ranking === "overall") return this.data.overall || [];
    if (this.ranking === "house") return this.data.house || [];
    return (this.data.by_role || {})[this.ranking] || [];
  }

  render() {
    for (const button of $("#board-tabs").children) {
      button.classList.toggle("active", button.dataset.ranking === this.ranking);
    }
    const rows = this.rows();
    const body = $("#board tbody");
    body.replaceChildren(...rows.map((row) => this.row(row)));
    const empty = $("#board-empty");
    empty.hidden = rows.length > 0;
    empty.textContent = this.data ? "no teams in this ranking yet" : "no scores yet";
    $("#board-asof").textContent = this.data && this.data.as_of ? `as of ${stamp(Date.parse(this.data.as_of))}` : "";
    this.chart.draw();
  }

  row(row) {
    const pnl = el("td", { class: "num pnl" });
    signed(pnl, row.pnl);
    const score = el("td", { class: "num score" });
    signed(score, row.score);
    const kpis = Object.entries(row.kpis || {}).filter(([, v]) => v !== null && v !== undefined).slice(0, 4).map(([k, v]) =>
      el("span", { class: "kpi" }, el("span", { class: "k", text: k.replace(/_/g, " ") }), el("span", { class: "v", text: kpiText(v) })));
    const swatch = el("span", { class: "swatch" });
    const colour = this.chart.colour(row.team_id);
    if (colour && this.ranking !== "house") swatch.style.background = colour;
    return el("tr", { "data-team": row.team_id },
      el("td", { class: "rank", text: row.rank ?? "–" }),
      el("td", { class: "team", title: row.team_id },
        el("div", { class: "name" }, swatch, row.name || row.team_id),
        kpis.length ? el("div", { class: "kpis" }, ...kpis) : null),
      el("td", { class: "role", text: ROLE_NAMES[row.role] || row.role || "–" }),
      pnl,
      el("td", { class: "num", text: fmt(row.penalties) }),
      score);
  }
}
