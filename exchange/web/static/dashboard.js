// The dashboard's entry point: load the instruments and the tops of the books over REST,
// then follow the key-less spectator stream (`/ws`): market data, trades, news, phase
// changes, heartbeats and the leaderboard. Before it plays the stream, the page draws
// the day so far from `GET /market/history` (a reload or a late joiner sees it all):
// the stream opens first and its messages wait until the history is drawn, so nothing
// falls between the two, and what is in both is shown once. `/?view=room` is the
// projector's view (the whole leaderboard and its P&L chart). Views redraw at most
// once a frame.

import { TimeChart } from "./charts.js";
import { ChainView, LadderView, Market, NewsView, TapeView, midOf } from "./market.js";
import { Leaderboard } from "./scores.js";
import { TeamPanel } from "./team.js";
import { $, GameClock, Stream, api, coalesce, fmt, stamp } from "./util.js";

const UNDERLYINGS = ["SPX", "SPY"];
const HEALTH_MS = 2000;
const EARLY_KEPT = 5000;
const STATE_LABELS = { waiting: "WAITING", paused: "PAUSED", stopped: "STOPPED" };
const LINE_COLOURS = { SPX: "#4ea1ff", SPY: "#f5a623" };

const clock = new GameClock();
const market = new Market();
const news = new NewsView();
const charts = {};
let chain, ladder, tape, board;
let chartsDirty = false;
let relisting = null;
let relisted = 0;
let phase = "";
let gameState = "running";
let team = null;
const early = []; // stream messages that came before the history was drawn
let replaying = true;
let greeted = null;

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

/** The badge shows the organiser's state when the game is not running (PAUSED,
 *  STOPPED), else the market's phase. */
function setPhase(next) {
  if (next) phase = next;
  const badge = $("#phase");
  const label = STATE_LABELS[gameState];
  badge.textContent = label || (phase ? phase.replace(/_/g, " ") : "–");
  badge.dataset.phase = label || phase;
  badge.title = label ? `${label.toLowerCase()} by the organiser; market phase ${phase}` : "";
}

/** `/health` says whether the organiser paused or stopped the game: the clock freezes. */
function setHealth(data) {
  gameState = data.stopped ? "stopped" : data.game_state || (data.paused ? "paused" : "running");
  clock.set(data.game_time, data.clock_speed);
  clock.frozen = data.paused || data.stopped || gameState !== "running";
  document.body.dataset.gameState = gameState;
  $("#clock-speed").textContent = clock.frozen ? "frozen" : data.clock_speed === 1 ? "" : `×${data.clock_speed}`;
  setPhase(data.phase);
  showClock();
}

async function pollHealth() {
  const health = await api("/health");
  if (health.ok) setHealth(health.data);
}

function showClock() {
  $("#game-clock").textContent = stamp(clock.now());
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

/** The day so far, oldest first, drawn before the stream's messages. */
async function loadHistory() {
  const reply = await api("/market/history");
  if (!reply.ok) return;
  const { prices, trades, news: headlines, leaderboard } = reply.data;
  for (const p of prices) {
    const values = {};
    if (typeof p.mid === "number") values.mid = p.mid;
    if (typeof p.fair_value === "number") values.fair = p.fair_value;
    if (charts[p.symbol] && Object.keys(values).length) charts[p.symbol].push(Date.parse(p.game_time) / 1000, values);
  }
  for (const t of trades) tape.add([t], Date.parse(t.game_time));
  for (const n of headlines) news.add(n.kind, n.kind === "phase" ? n.text.replace(/_/g, " ") : n.text, Date.parse(n.game_time));
  board.history(leaderboard);
  chartsDirty = true;
}

function heldUntilDrawn(message) {
  if (message.type === "connection_status" && greeted) greeted();
  if (!replaying) {
    receive(message);
    return;
  }
  early.push(message);
  if (early.length > EARLY_KEPT) early.shift();
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
      pollHealth(); // a stop closes the market: the header says so at once
      break;
    case "leaderboard":
      board.apply(d);
      break;
    default:
      break; // new message types may appear: ignore them
  }
}

async function boot() {
  const room = new URLSearchParams(location.search).get("view") === "room";
  document.body.dataset.view = room ? "room" : "desk";
  // The key form works from the first moment: a key entered while the market still
  // loads is checked at once instead of submitting the form as a plain page load.
  team = new TeamPanel({ clock, news, onOrders: () => ladder && ladder.remark() });
  const health = await api("/health");
  if (health.ok) setHealth(health.data);
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
  ladder = new LadderView(market, () => team.ownOrders(ladder.id));
  tape = new TapeView(pick);
  board = new Leaderboard(clock, { room });
  chain.select("SPX", null);
  // The stream first, held back; then the history; then what the stream brought.
  const greeting = new Promise((resolve) => {
    greeted = resolve;
    setTimeout(resolve, 3000); // a stream that cannot connect does not hold the page
  });
  new Stream({ onMessage: heldUntilDrawn, onState: setConnection }).open();
  await greeting;
  await loadHistory();
  await refreshTops();
  replaying = false;
  for (const message of early.splice(0)) receive(message);
  pick("SPX");
  board.poll(true);
  render();
  document.body.dataset.ready = "true";
  setInterval(showClock, 250);
  setInterval(pollHealth, HEALTH_MS);
}

boot();
