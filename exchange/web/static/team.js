// The team panel: a team pastes its API key (kept in sessionStorage only, gone when the
// tab closes) and sees its own open orders, fills, positions, P&L and analytics. It opens
// the team's own stream (`/ws?ticket=`, a single-use ticket from `POST /ws/ticket`, so
// the key never goes into a URL), resumes it with `?since=` after a drop, and keeps the
// tables live from acks, fills, cancels and position messages; money comes from
// `GET /positions/{team_id}` every few seconds, since marks move without a fill.

import { TimeChart } from "./charts.js";
import { $, api, el, fmt, qty, shortName, signed, stamp, Stream } from "./util.js";

const KEY_STORE = "exchange.apiKey";
const REFRESH_MS = 3000;
const ANALYTICS_MS = 15000;
const FILLS_KEPT = 200;
const DONE = new Set(["filled", "cancelled", "rejected"]);

export class TeamPanel {
  constructor({ clock, news, onOrders = () => {} }) {
    this.clock = clock;
    this.news = news;
    this.onOrders = onOrders;
    this.orders = new Map();
    this.stream = null;
    this.timers = [];
    this.chart = new TimeChart($("#chart-team-pnl"), {
      lines: [{ key: "total", label: "Total P&L", color: "#3ddc97" }, { key: "realised", label: "Realised", color: "#4ea1ff", dash: [4, 3] }],
    });
    $("#team-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("#team-key").value.trim();
      if (key) this.connect(key);
    });
    $("#team-forget").addEventListener("click", () => this.forget());
    const stored = sessionStorage.getItem(KEY_STORE);
    if (stored) this.connect(stored);
  }

  reset() {
    this.teamId = null;
    this.account = null;
    this.orders = new Map();
    this.fills = [];
    this.fillKeys = new Set();
    this.lastTradeId = 0;
    this.awaitingPosition = new Map(); // instrument -> live fill waiting for position_after
    this.live = []; // [game seconds, total P&L, realised P&L] read by this page
    this.history = []; // [game seconds, scored P&L] from the team's analytics, when served
    this.chart.clear();
    this.chart.draw();
    $("#team-analytics").hidden = true;
  }

  async connect(key) {
    this.disconnect();
    this.reset();
    $("#team-body").hidden = true;
    $("#team-id").textContent = "";
    this.state("checking", "checking the key…");
    this.key = null;
    this.asked = key;
    const orders = await api("/orders", key);
    if (this.asked !== key) return; // another key was entered meanwhile
    if (orders.status === 401) {
      this.state("refused", "key refused");
      sessionStorage.removeItem(KEY_STORE);
      return;
    }
    if (!orders.ok) {
      this.state("error", `cannot reach the exchange (${orders.status})`);
      return;
    }
    this.key = key;
    sessionStorage.setItem(KEY_STORE, key);
    $("#team-key").value = "";
    $("#team-body").hidden = false;
    for (const order of orders.data) this.orders.set(order.order_id, order);
    this.renderOrders();
    this.stream = new Stream({
      key, onMessage: (m) => this.receive(m), onState: (s, why) => this.state(s, why),
    });
    this.stream.open();
    this.timers.push(setInterval(() => this.refresh(), REFRESH_MS));
    this.timers.push(setInterval(() => this.analytics(), ANALYTICS_MS));
  }

  disconnect() {
    if (this.stream) this.stream.stop();
    this.stream = null;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  forget() {
    this.disconnect();
    this.key = null;
    this.onOrders();
    this.asked = null;
    sessionStorage.removeItem(KEY_STORE);
    $("#team-body").hidden = true;
    $("#team-id").textContent = "";
    this.state("off", "no key");
  }

  state(kind, text = kind) {
    const box = $("#team-state");
    box.dataset.state = kind;
    $("#team-state-text").textContent = text;
  }

  receive(m) {
    const d = m.data || {};
    switch (m.type) {
      case "connection_status":
        if (this.teamId === null) {
          this.teamId = d.team_id;
          $("#team-id").textContent = `${d.team_id} · ${d.role.replace("_", " ")}`;
          this.loadFills();
          this.refresh();
          this.analytics();
        }
        break;
      case "position_snapshot":
        this.account = d.account;
        this.orders = new Map(d.open_orders.map((o) => [o.order_id, o]));
        this.renderAccount();
        this.renderOrders();
        break;
      case "resync_required":
        this.loadFills();
        break;
      case "new_order_ack":
      case "execution_report":
      case "order_cancelled":
        this.report(d);
        break;
      case "position_update":
        this.position(d);
        break;
      case "signal":
        this.news.add("signal", d.kind.replace(/_/g, " "), this.clock.fromWall(m.timestamp), summary(d.details));
        break;
      case "settlement":
        this.news.add("settled", `${shortName(d.instrument_id)} ${qty(d.quantity)} at ${fmt(d.settlement_price)}`, this.clock.fromWall(m.timestamp));
        this.refresh();
        break;
      default:
        break; // public messages: the public stream shows them
    }
  }

  /** An execution report: the order's new state, and a fill when it traded. */
  report(d) {
    if (d.exec_type === "trade") {
      const fill = {
        trade_id: d.trade_id, order_id: d.order_id, instrument_id: d.instrument_id, side: d.side,
        price: d.last_price, quantity: d.last_quantity, liquidity_type: d.liquidity_type,
        fee: d.fee, position_after: null, gameMs: this.clock.now(),
      };
      if (this.addFill(fill)) this.awaitingPosition.set(d.instrument_id, fill);
      this.renderFills();
    }
    if (DONE.has(d.status)) {
      this.orders.delete(d.order_id);
    } else {
      const known = this.orders.get(d.order_id) || {};
      this.orders.set(d.order_id, { ...known, ...d, created_at: known.created_at || null });
    }
    this.renderOrders();
  }

  position(d) {
    if (this.account) {
      Object.assign(this.account, { cash: d.cash, fees: d.fees, realised_pnl: d.realised_pnl });
      const lines = this.account.positions.filter((p) => p.instrument_id !== d.instrument_id);
      const old = this.account.positions.find((p) => p.instrument_id === d.instrument_id) || {};
      if (d.quantity !== 0) lines.push({ ...old, instrument_id: d.instrument_id, quantity: d.quantity });
      this.account.positions = lines.sort((a, b) => a.instrument_id.localeCompare(b.instrument_id));
      this.renderAccount();
    }
    const fill = this.awaitingPosition.get(d.instrument_id);
    if (fill) {
      fill.position_after = d.quantity;
      this.awaitingPosition.delete(d.instrument_id);
      this.renderFills();
    }
  }

  addFill(fill) {
    const key = `${fill.trade_id}/${fill.order_id}`;
    if (this.fillKeys.has(key)) return false;
    this.fillKeys.add(key);
    this.fills.unshift(fill);
    if (this.fills.length > FILLS_KEPT) {
      const dropped = this.fills.pop();
      this.fillKeys.delete(`${dropped.trade_id}/${dropped.order_id}`);
    }
    this.lastTradeId = Math.max(this.lastTradeId, fill.trade_id || 0);
    return true;
  }

  /** Page through `GET /fills` from the last trade seen; keep the newest. */
  async loadFills() {
    const key = this.key;
    for (let page = 0; page < 50; page += 1) {
      const reply = await api(`/fills?since_trade_id=${this.lastTradeId}&limit=1000`, key);
      if (!reply.ok || key !== this.key) return;
      const fills = reply.data.map((f) => ({ ...f, gameMs: Date.parse(f.timestamp) }));
      // Oldest first in the answer; the table is newest first.
      for (const fill of fills) this.addFill(fill);
      this.fills.sort((a, b) => b.trade_id - a.trade_id);
      if (fills.length < 1000) break;
    }
    this.renderFills();
  }

  async refresh() {
    if (!this.teamId) return;
    const key = this.key;
    const reply = await api(`/positions/${encodeURIComponent(this.teamId)}`, key);
    if (!reply.ok || key !== this.key) return; // a failure, or another team's by now
    this.account = reply.data;
    const now = this.clock.now();
    if (now !== null) {
      const point = [now / 1000, reply.data.total_pnl, reply.data.realised_pnl];
      this.live.push(point);
      if (this.live.length > 1500) this.live.shift();
      this.chart.push(point[0], { total: point[1], realised: point[2] });
      this.chart.draw();
    }
    this.renderAccount();
  }

  /** The P&L chart afresh: the account's readings and the scorer's P&L series, in time
   *  order. They are separate lines: the score marks positions its own way. */
  plotPnl() {
    const points = [
      ...this.history.map(([t, pnl]) => [t, { scored: pnl }]),
      ...this.live.map(([t, total, realised]) => [t, { total, realised }]),
    ].sort((a, b) => a[0] - b[0]);
    this.chart.clear();
    for (const [t, values] of points) this.chart.push(t, values);
    this.chart.draw();
  }

  async analytics() {
    if (!this.teamId) return;
    const key = this.key;
    const reply = await api(`/analytics/${encodeURIComponent(this.teamId)}`, key);
    if (key !== this.key) return;
    const box = $("#team-analytics");
    box.hidden = !reply.ok;
    if (!reply.ok) return;
    renderAnalytics(box, reply.data);
    // Points as [ts_ns, pnl] or {ts_ns, pnl}.
    const series = (reply.data.pnl_series || [])
      .map((p) => (Array.isArray(p) ? p : [p.ts_ns, p.pnl]))
      .filter(([tsNs, pnl]) => typeof tsNs === "number" && typeof pnl === "number");
    if (series.length) {
      this.chart.addLine("scored", { label: "Scored P&L", color: "#f5a623", dash: [2, 3] });
      this.history = series.map(([tsNs, pnl]) => [tsNs / 1e9, pnl]);
      this.plotPnl();
    }
  }

  renderAccount() {
    const a = this.account;
    if (!a) return;
    for (const field of ["cash", "fees", "realised_pnl", "unrealised_pnl", "total_pnl"]) {
      signed($(`#team-${field.replace("_", "-")}`), a[field]);
    }
    $("#team-positions tbody").replaceChildren(...a.positions.map((p) => {
      const upnl = el("td", { class: "num" });
      signed(upnl, p.unrealised_pnl);
      return el("tr", {},
        el("td", { class: "inst", text: shortName(p.instrument_id), title: p.instrument_id }),
        el("td", { class: `num ${p.quantity > 0 ? "pos" : "neg"}`, text: qty(p.quantity) }),
        el("td", { class: "num", text: fmt(p.average_price) }),
        el("td", { class: "num", text: fmt(p.mark_price) }),
        upnl);
    }));
    $("#team-positions-empty").hidden = a.positions.length > 0;
  }

  /** The team's open orders in one instrument (the book ladder marks them). */
  ownOrders(instrumentId) {
    if (!this.key) return [];
    return [...this.orders.values()].filter((o) => o.instrument_id === instrumentId);
  }

  renderOrders() {
    this.onOrders();
    const orders = [...this.orders.values()].sort((a, b) => Number(b.order_id) - Number(a.order_id));
    $("#team-orders tbody").replaceChildren(...orders.map((o) => el("tr", {},
      el("td", { class: "num", text: o.order_id }),
      el("td", { class: "inst", text: shortName(o.instrument_id), title: o.instrument_id }),
      el("td", { class: `side ${o.side}`, text: o.side.toUpperCase() }),
      el("td", { class: "num", text: fmt(o.price) }),
      el("td", { class: "num", text: `${qty(o.filled)}/${qty(o.quantity)}` }),
      el("td", { class: "status", text: o.status === "partially_filled" ? "partial" : o.status }))));
    $("#team-orders-empty").hidden = orders.length > 0;
  }

  renderFills() {
    $("#team-fills tbody").replaceChildren(...this.fills.slice(0, 100).map((f) => {
      const fee = el("td", { class: "num" });
      signed(fee, f.fee);
      return el("tr", {},
        el("td", { class: "time", text: stamp(f.gameMs, false) }),
        el("td", { class: "inst", text: shortName(f.instrument_id), title: f.instrument_id }),
        el("td", { class: `side ${f.side}`, text: f.side.toUpperCase() }),
        el("td", { class: "num", text: qty(f.quantity) }),
        el("td", { class: "num", text: fmt(f.price) }),
        el("td", { class: "liq", text: f.liquidity_type === "maker" ? "M" : "T" }),
        fee,
        el("td", { class: "num", text: f.position_after === null ? "–" : qty(f.position_after) }));
    }));
    $("#team-fills-empty").hidden = this.fills.length > 0;
  }
}

function summary(details) {
  return Object.entries(details || {})
    .filter(([, v]) => typeof v !== "object")
    .map(([k, v]) => `${k.replace(/_/g, " ")} ${typeof v === "number" ? fmt(v) : v}`)
    .join(" · ");
}

const COUNTS = /rank|count|fills|contracts|trades|orders|observations|rejections|attempts|windows|breaches|horizon|inventory/;

/** Counts (a rank, a number of fills) as whole numbers, amounts with two decimals. */
function show(name, value) {
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
  return Number.isInteger(value) && COUNTS.test(name) ? qty(value) : fmt(value);
}

function flat(object, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(object || {})) {
    const name = prefix ? `${prefix} ${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...flat(v, name));
    else if (!Array.isArray(v)) out.push([name.replace(/_/g, " "), show(name, v)]);
  }
  return out;
}

function block(title, ...content) {
  return el("div", { class: "kv" }, el("h3", { text: title }), ...content);
}

function pairs(title, rows) {
  if (!rows.length) return null;
  return block(title, el("table", {}, el("tbody", {}, ...rows.map(([k, v]) =>
    el("tr", {}, el("th", { text: k }), el("td", { class: "num", text: v }))))));
}

/** A table: `columns` are [heading, cell(row)] pairs. */
function grid(title, columns, rows) {
  if (!rows.length) return null;
  return block(title, el("table", {},
    el("thead", {}, el("tr", {}, ...columns.map(([h]) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...columns.map(([, cell]) => el("td", { class: "num", text: cell(row) })))))));
}

/** The team's analytics, whatever parts the server sends: unknown parts are skipped. */
function renderAnalytics(box, report) {
  const standing = report.standing || report.score || {};
  const counts = ["observations", "fills", "contracts", "rejections", "limit_breach_attempts"]
    .filter((k) => k in report).map((k) => [k.replace(/_/g, " "), show(k, report[k])]);
  const markouts = Array.isArray(report.markouts)
    ? grid("Markouts (by horizon)", [
      ["horizon", (m) => qty(m.horizon)], ["fills", (m) => qty(m.all?.count)],
      ["total", (m) => fmt(m.all?.total)], ["per contract", (m) => fmt(m.all?.mean_per_contract)],
      ["maker", (m) => fmt(m.maker?.total)], ["taker", (m) => fmt(m.taker?.total)],
    ], report.markouts)
    : pairs("Markouts", flat(report.markouts));
  const uptime = Object.entries(report.uptime_by_instrument || {})
    .filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 8)
    .map(([id, v]) => [shortName(id), `${fmt(v * 100)}%`]);
  const windows = (title, list) => grid(title, [
    ["label", (w) => w.label], ["P&L", (w) => fmt(w.pnl)],
  ], (list || []).slice(-8).reverse());
  const timeline = (report.timeline || []).slice(-15).reverse();
  box.replaceChildren(...[
    pairs("Standing", [
      ["rank", show("rank", standing.rank)], ["score", fmt(standing.score)], ["P&L", fmt(standing.pnl)],
      ["penalties", fmt(standing.penalties)], ...counts,
    ]),
    markouts,
    pairs("Adverse selection", flat(report.adverse_selection)),
    pairs("Uptime (quoted books)", uptime),
    windows("P&L by news window", report.windows),
    windows("P&L by signal window", report.signal_windows),
    timeline.length
      ? block("Timeline", el("ul", {}, ...timeline.map((t) => el("li", {},
        el("span", { class: "time", text: stamp(t.ts ? Date.parse(t.ts) : t.ts_ns / 1e6, false) }),
        el("span", { class: "tag", text: String(t.kind).replace(/_/g, " ") }),
        el("span", { text: t.detail })))))
      : null,
  ].filter(Boolean));
}
