// The public market: the option chain, the price ladder of one instrument, the trade
// tape and the news feed. Each view keeps its DOM and updates only what changed, on the
// next animation frame, so a busy market (a hundred market_data a second) stays cheap.

import { $, api, el, fmt, pct, qty, shortName, stamp } from "./util.js";

const FLASH_MS = 900;

/** Mid where both sides are quoted, else the last trade, else the fair value. */
export function midOf(top) {
  if (!top) return null;
  if (typeof top.bid === "number" && typeof top.ask === "number") return (top.bid + top.ask) / 2;
  if (typeof top.last === "number") return top.last;
  return typeof top.fair_value === "number" ? top.fair_value : null;
}

/** The listed instruments and the latest top of each book (market_data merged in). */
export class Market {
  constructor() {
    this.instruments = new Map();
    this.tops = new Map();
    this.expiries = new Map(); // underlying -> sorted expiries
  }

  async load() {
    const reply = await api("/instruments");
    if (!reply.ok) return false;
    this.instruments.clear();
    this.expiries.clear();
    for (const item of reply.data) {
      this.instruments.set(item.instrument_id, item);
      if (item.expiry) {
        const list = this.expiries.get(item.underlying) || [];
        if (!list.includes(item.expiry)) list.push(item.expiry);
        this.expiries.set(item.underlying, list.sort());
      }
    }
    return true;
  }

  async loadTops() {
    const reply = await api("/market/prices");
    if (!reply.ok) return null;
    for (const line of reply.data.instruments) this.merge(line);
    return reply.data;
  }

  merge(data) {
    const top = { ...(this.tops.get(data.instrument_id) || {}), ...data };
    this.tops.set(data.instrument_id, top);
    return top;
  }

  chain(underlying, expiry) {
    const strikes = new Map();
    for (const item of this.instruments.values()) {
      if (item.underlying !== underlying || item.expiry !== expiry) continue;
      const row = strikes.get(item.strike) || { strike: item.strike };
      row[item.kind === "CALL" ? "call" : "put"] = item.instrument_id;
      strikes.set(item.strike, row);
    }
    return [...strikes.values()].sort((a, b) => a.strike - b.strike);
  }
}

const CALL_FIELDS = ["delta", "implied_vol", "fair_value", "last", "bid_size", "bid", "ask", "ask_size"];
const PUT_FIELDS = ["bid_size", "bid", "ask", "ask_size", "last", "fair_value", "implied_vol", "delta"];
const HEADINGS = {
  delta: "Δ", implied_vol: "IV", fair_value: "Fair", last: "Last",
  bid_size: "Size", bid: "Bid", ask: "Ask", ask_size: "Size",
};

function show(field, top) {
  const v = top ? top[field] : undefined;
  if (field === "implied_vol") return pct(v);
  if (field === "bid_size" || field === "ask_size") return qty(v, true);
  return fmt(v);
}

/** The option chain of one underlying and expiry: calls left, strikes, puts right. */
export class ChainView {
  constructor(market, onPick) {
    this.market = market;
    this.onPick = onPick;
    this.table = $("#chain");
    this.cells = new Map(); // instrument id -> {field: td}
    this.rows = [];
    this.dirty = new Set();
    this.flashing = new Map();
    this.selected = null;
    this.underlying = "SPX";
    this.expiry = null;
    this.table.addEventListener("click", (event) => {
      const cell = event.target.closest("td[data-id]");
      if (cell) this.onPick(cell.dataset.id);
    });
  }

  tabs() {
    const unders = $("#chain-underlyings");
    const expiries = $("#chain-expiries");
    unders.replaceChildren(...[...this.market.expiries.keys()].map((u) =>
      tab(u, u === this.underlying, () => this.select(u, null))));
    const list = this.market.expiries.get(this.underlying) || [];
    expiries.replaceChildren(...list.map((x) => tab(x.slice(5), x === this.expiry, () => this.select(this.underlying, x))));
  }

  select(underlying, expiry) {
    this.underlying = underlying;
    const list = this.market.expiries.get(underlying) || [];
    this.expiry = expiry && list.includes(expiry) ? expiry : list[0] || null;
    this.tabs();
    this.build();
  }

  build() {
    const head = el("thead", {},
      el("tr", { class: "side-row" },
        el("th", { colSpan: CALL_FIELDS.length, class: "calls", text: "CALLS" }),
        el("th", { class: "strike", text: this.underlying }),
        el("th", { colSpan: PUT_FIELDS.length, class: "puts", text: "PUTS" })),
      el("tr", {},
        ...CALL_FIELDS.map((f) => el("th", { text: HEADINGS[f] })),
        el("th", { class: "strike", text: "Strike" }),
        ...PUT_FIELDS.map((f) => el("th", { text: HEADINGS[f] }))));
    this.cells.clear();
    this.rows = this.market.chain(this.underlying, this.expiry);
    const body = el("tbody");
    for (const row of this.rows) {
      const tr = el("tr", { "data-strike": String(row.strike) });
      row.tr = tr;
      tr.append(...this.side(row.call, CALL_FIELDS, "call"));
      tr.append(el("td", { class: "strike", text: fmt(row.strike) }));
      tr.append(...this.side(row.put, PUT_FIELDS, "put"));
      body.append(tr);
    }
    this.table.replaceChildren(head, body);
    for (const row of this.rows) for (const id of [row.call, row.put]) if (id) this.dirty.add(id);
    this.flush();
  }

  side(id, fields, kind) {
    const cells = {};
    const tds = fields.map((f) => {
      const td = el("td", { class: `${kind} ${f.replace("_", "-")}`, "data-id": id || null });
      cells[f] = td;
      return td;
    });
    if (id) this.cells.set(id, cells);
    return tds;
  }

  /** An instrument's top changed; it is redrawn at the next flush if it is shown. */
  touch(id) {
    if (this.cells.has(id)) this.dirty.add(id);
  }

  flush() {
    const now = performance.now();
    for (const id of this.dirty) {
      const cells = this.cells.get(id);
      const top = this.market.tops.get(id);
      for (const [field, td] of Object.entries(cells)) {
        const text = show(field, top);
        if (td.textContent === text) continue;
        const before = parseFloat(td.textContent.replace(/,/g, ""));
        const after = top ? top[field] : NaN;
        if (["bid", "ask", "last"].includes(field) && Number.isFinite(before) && Number.isFinite(after)) {
          td.classList.add(after > before ? "up" : "down");
          this.flashing.set(td, now);
        }
        td.textContent = text;
      }
      for (const td of Object.values(cells)) td.classList.toggle("sel", id === this.selected);
    }
    this.dirty.clear();
    for (const [td, since] of this.flashing) {
      if (now - since > FLASH_MS) {
        td.classList.remove("up", "down");
        this.flashing.delete(td);
      }
    }
    this.moneyness();
  }

  /** Shade in-the-money cells and mark the strike nearest the underlying. */
  moneyness() {
    const spot = midOf(this.market.tops.get(this.underlying));
    if (spot === null || !this.rows.length) return;
    let atm = this.rows[0];
    for (const row of this.rows) if (Math.abs(row.strike - spot) < Math.abs(atm.strike - spot)) atm = row;
    for (const row of this.rows) {
      row.tr.classList.toggle("atm", row === atm);
      row.tr.classList.toggle("call-itm", row.strike < spot);
      row.tr.classList.toggle("put-itm", row.strike > spot);
    }
  }

  setSelected(id) {
    for (const old of [this.selected, id]) if (old && this.cells.has(old)) this.dirty.add(old);
    this.selected = id;
  }
}

function tab(label, active, onClick) {
  const button = el("button", { type: "button", class: active ? "tab active" : "tab", text: label });
  button.addEventListener("click", onClick);
  return button;
}

/** The depth of one book, ten levels a side, refreshed on its market_data. */
export class LadderView {
  /** `own()`: the team's open orders in the shown instrument (none without a key). */
  constructor(market, own = () => []) {
    this.market = market;
    this.own = own;
    this.id = null;
    this.busy = false;
    this.again = false;
  }

  show(id) {
    this.id = id;
    $("#ladder-title").textContent = this.market.instruments.has(id) ? shortName(id) : id;
    this.stats();
    this.refresh();
  }

  /** Called on each market_data of the shown instrument: at most one request at a time. */
  async refresh() {
    if (this.id === null) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const id = this.id;
    const reply = await api(`/market/book/${encodeURIComponent(id)}?depth=10`);
    this.busy = false;
    if (reply.ok && id === this.id) this.render(reply.data);
    if (this.again) {
      this.again = false;
      setTimeout(() => this.refresh(), 150);
    }
  }

  /** The team's open quantity at each price, per side ("bid"/"ask" -> cents -> qty). */
  mine() {
    const out = { bid: new Map(), ask: new Map() };
    for (const o of this.own()) {
      if (typeof o.price !== "number") continue;
      const side = out[o.side === "buy" ? "bid" : "ask"];
      const cents = Math.round(o.price * 100);
      side.set(cents, (side.get(cents) || 0) + o.quantity - (o.filled || 0));
    }
    return out;
  }

  /** Mark the team's orders afresh on the book last drawn (its orders changed). */
  remark() {
    if (this.book && this.book.instrument_id === this.id) this.render(this.book);
  }

  render(book) {
    this.book = book;
    const levels = [...book.asks, ...book.bids];
    const most = Math.max(1, ...levels.map((l) => l.quantity));
    const mine = this.mine();
    const row = (level, side) => {
      const bar = el("span", { class: `bar ${side}` });
      bar.style.width = `${Math.round((level.quantity / most) * 100)}%`;
      const size = el("td", { class: `size ${side}` }, bar, el("span", { text: qty(level.quantity) }));
      const orders = el("td", { class: "orders", text: qty(level.orders) });
      const price = el("td", { class: `price ${side}`, text: fmt(level.price) });
      const blank = () => el("td", { class: "blank" });
      // The team's own quantity at this price, in the empty cell beside the price.
      const own = mine[side].get(Math.round(level.price * 100));
      const beside = own
        ? el("td", { class: "own-qty", text: `yours ${qty(own)}`, title: "your open quantity at this price" })
        : blank();
      const mark = own ? " own" : "";
      return side === "ask"
        ? el("tr", { class: `ask${mark}` }, blank(), beside, price, size, orders)
        : el("tr", { class: `bid${mark}` }, orders, size, price, beside, blank());
    };
    const rows = [...book.asks].reverse().map((l) => row(l, "ask"));
    const bestBid = book.bids[0], bestAsk = book.asks[0];
    const spread = bestBid && bestAsk ? fmt(bestAsk.price - bestBid.price) : "–";
    rows.push(el("tr", { class: "spread" }, el("td", { colSpan: 5, text: `spread ${spread} · last ${fmt(book.last)} · ${book.phase}` })));
    rows.push(...book.bids.map((l) => row(l, "bid")));
    if (!book.asks.length && !book.bids.length) {
      rows.push(el("tr", {}, el("td", { colSpan: 5, class: "empty", text: "empty book" })));
    }
    $("#ladder tbody").replaceChildren(...rows);
    this.stats();
  }

  stats() {
    const top = this.market.tops.get(this.id) || {};
    const item = this.market.instruments.get(this.id) || {};
    const pairs = [
      ["Fair", fmt(top.fair_value)], ["IV", pct(top.implied_vol)], ["Δ", fmt(top.delta)],
      ["Γ", typeof top.gamma === "number" ? top.gamma.toFixed(4) : "–"], ["Vega", fmt(top.vega)],
      ["Und.", fmt(top.underlying_price)], ["Strike", fmt(item.strike)], ["Expiry", item.expiry || "–"],
    ];
    $("#ladder-stats").replaceChildren(...pairs.map(([k, v]) =>
      el("div", { class: "stat" }, el("span", { class: "k", text: k }), el("span", { class: "v", text: v }))));
  }
}

/** The last hundred public prints, newest first. */
export class TapeView {
  constructor(onPick) {
    this.prints = [];
    this.dirty = false;
    this.count = 0;
    $("#tape").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) onPick(row.dataset.id);
    });
  }

  /** Prints not shown yet (a print in both the history and the stream is shown once). */
  add(prints, gameMs) {
    const seen = new Set(this.prints.map((p) => p.trade_id));
    const fresh = prints.filter((p) => !seen.has(p.trade_id));
    for (const p of fresh) this.prints.unshift({ ...p, gameMs });
    this.prints.length = Math.min(this.prints.length, 100);
    this.count += fresh.length;
    this.dirty ||= fresh.length > 0;
  }

  flush() {
    if (!this.dirty) return;
    this.dirty = false;
    $("#tape tbody").replaceChildren(...this.prints.map((p) => el("tr", { "data-id": p.instrument_id, "data-trade": String(p.trade_id) },
      el("td", { class: "time", text: stamp(p.gameMs, false) }),
      el("td", { class: "inst", text: shortName(p.instrument_id) }),
      el("td", { class: `side ${p.aggressor || "auction"}`, text: p.aggressor ? (p.aggressor === "buy" ? "BUY" : "SELL") : "AUCT" }),
      el("td", { class: "num", text: fmt(p.price) }),
      el("td", { class: "num", text: qty(p.quantity) }))));
    $("#tape-count").textContent = `${qty(this.count)} prints`;
  }
}

/** Headlines, phase changes, and (with a team key) the team's signals and settlements. */
export class NewsView {
  constructor() {
    this.items = [];
  }

  add(kind, text, gameMs, detail = "") {
    if (this.items.some((n) => n.kind === kind && n.text === text && n.gameMs === gameMs)) return;
    this.items.unshift({ kind, text, gameMs, detail });
    this.items.length = Math.min(this.items.length, 60);
    $("#news").replaceChildren(...this.items.map((n) => el("li", { class: `news ${n.kind}` },
      el("span", { class: "time", text: stamp(n.gameMs, false) }),
      el("span", { class: "tag", text: n.kind }),
      el("span", { class: "text", text: n.text }),
      n.detail ? el("span", { class: "detail", text: n.detail }) : null)));
  }
}
