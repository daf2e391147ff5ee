// The dashboard's entry point: load the instruments and the tops of the books over REST,
// then follow the key-less spectator stream (`/ws`): market data, trades, news, phase
// changes, heartbeats and the leaderboard. Views redraw at most once a frame.

import { TimeChart } from "./charts.js";
import { ChainView, LadderView, Market, NewsView, TapeView, midOf } from "./market.js";
import { Leaderboard } from "./scores.js";
import { TeamPanel } from "./team.js";
import { $, GameClock, Stream, api, coalesce, fmt, stamp } from "./util.js";

const UNDERLYINGS = ["SPX", "SPY"];
const LINE_COLOURS = { SPX: "#4ea1ff", SPY: "#f5a623" };

const clock = new GameClock();
const market = new Market();
const news = new NewsView();
const charts = {};
let chain, ladder, tape, board;
let chartsDirty = false;
let relisting = null;
let relisted = 0;

const render = coalesce(() => {
  chain.flush();
  tape.flush();
  if (chartsDirty) {
    chartsDirty = false;
    for (const chart of Object.values(charts)) chart.draw();
  }
});

function pick(id) {
  if (!market.instruments.has(id)) return;
  chain.setSelected(id);
  ladder.show(id);
  render();
}

function setPhase(phase) {
  const badge = $("#phase");
  badge.textContent = phase ? phase.replace("_", " ") : "–";
  badge.dataset.phase = phase || "";
}

function setConnection(state, reason) {
  const box = $("#conn");
  const wasDown = box.dataset.state === "reconnecting";
  box.dataset.state = state;
  $("#conn-text").textContent = state === "refused" ? `refused: ${reason}` : state;
  if (state === "live" && wasDown) refreshTops(); // what changed while the stream was down
}

async function refreshTops() {
  const prices = await market.loadTops();
  if (!prices) return;
  setPhase(prices.phase);
  for (const id of market.tops.keys()) chain.touch(id);
  for (const symbol of UNDERLYINGS) underlyingMoved(symbol);
  render();
}

/** A new point for an underlying's chart and its figures in the header. */
function underlyingMoved(symbol) {
  const top = market.tops.get(symbol);
  const mid = midOf(top);
  const fair = top && typeof top.fair_value === "number" ? top.fair_value : null;
  $(`#px-${symbol}`).textContent = fmt(mid);
  $(`#fv-${symbol}`).textContent = fmt(fair);
  const now = clock.now();
  if (now === null || mid === null) return;
  charts[symbol].push(now / 1000, fair === null ? { mid } : { mid, fair });
  chartsDirty = true;
}

function marketData(data) {
  const id = data.instrument_id;
  if (!market.instruments.has(id)) relist();
  market.merge(data);
  chain.touch(id);
  if (UNDERLYINGS.includes(id)) underlyingMoved(id);
  if (id === ladder.id) {
    ladder.refresh();
    ladder.stats();
  }
  render();
}

/** The listed options changed (an expiry, a new weekly): reload them, at most every
 *  few seconds whatever keeps asking. */
function relist() {
  if (relisting || Date.now() - relisted < 5000) return;
  relisted = Date.now();
  relisting = market.load().then(() => {
    chain.select(chain.underlying, chain.expiry);
    relisting = null;
  });
}

function receive(message) {
  const d = message.data || {};
  switch (message.type) {
    case "connection_status":
    case "heartbeat":
      clock.set(d.game_time);
      setPhase(d.phase);
      break;
    case "market_data":
      marketData(d);
      break;
    case "trade":
      tape.add(d.trades || [], clock.fromWall(message.timestamp));
      render();
      break;
    case "event":
      news.add("news", d.headline, Date.parse(d.game_time));
      break;
    case "phase_change":
      setPhase(d.phase);
      news.add("phase", `${d.previous} → ${d.phase}`.replace(/_/g, " "), Date.parse(d.game_time));
      relist();
      break;
    case "leaderboard":
      board.apply(d);
      break;
    default:
      break; // new message types may appear: ignore them
  }
}

async function boot() {
  // The key form works from the first moment: a key entered while the market still
  // loads is checked at once instead of submitting the form as a plain page load.
  new TeamPanel({ clock, news });
  const health = await api("/health");
  if (health.ok) {
    clock.set(health.data.game_time, health.data.clock_speed);
    $("#clock-speed").textContent = health.data.clock_speed === 1 ? "" : `×${health.data.clock_speed}`;
    setPhase(health.data.phase);
  }
  await market.load();
  for (const symbol of UNDERLYINGS) {
    charts[symbol] = new TimeChart($(`#chart-${symbol}`), {
      lines: [
        { key: "mid", label: `${symbol} mid`, color: LINE_COLOURS[symbol] },
        { key: "fair", label: "fair value", color: "#8b96a8", dash: [5, 4] },
      ],
    });
  }
  chain = new ChainView(market, pick);
  ladder = new LadderView(market);
  tape = new TapeView(pick);
  board = new Leaderboard(clock);
  chain.select("SPX", null);
  await refreshTops();
  pick("SPX");
  board.poll(true);
  new Stream({ onMessage: receive, onState: setConnection }).open();
  document.body.dataset.ready = "true";
  setInterval(() => {
    $("#game-clock").textContent = stamp(clock.now());
  }, 250);
}

boot();
