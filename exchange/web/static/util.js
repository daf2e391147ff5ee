// Small shared pieces: number formats, DOM building, the REST envelope, the game clock,
// and a WebSocket that reconnects with backoff and resumes with `?since=`.

const money = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A number with two decimals and thousands separators; a dash when there is none. */
export function fmt(value) {
  return typeof value === "number" && Number.isFinite(value) ? money.format(value) : "–";
}

/** A quantity: whole, with separators; a dash for null or zero sizes when asked. */
export function qty(value, dashZero = false) {
  if (typeof value !== "number" || (dashZero && value === 0)) return "–";
  return whole.format(value);
}

/** A fraction as a percentage with two decimals (0.2042 -> "20.42%"). */
export function pct(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${money.format(value * 100)}%` : "–";
}

/** A signed money amount with a class for its colour. */
export function signed(cell, value) {
  cell.textContent = fmt(value);
  cell.classList.toggle("pos", typeof value === "number" && value > 0);
  cell.classList.toggle("neg", typeof value === "number" && value < 0);
}

/** An element with attributes and children; text is always text, never markup. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** An option id in a short readable form: SPX_CALL_4400_20261204 -> "SPX 4400 C 04 Dec". */
export function shortName(id) {
  const parts = id.split("_");
  if (parts.length !== 4) return id;
  const [under, kind, strike, expiry] = parts;
  const month = new Date(`${expiry.slice(0, 4)}-${expiry.slice(4, 6)}-01T00:00:00Z`)
    .toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  return `${under} ${strike} ${kind[0]} ${expiry.slice(6)} ${month}`;
}

/**
 * Call the JSON API. Returns {status, ok, data, error}; `data` is the envelope's data.
 * Never throws for an HTTP error; a network failure gives status 0.
 */
export async function api(path, key = null, init = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers["X-API-Key"] = key;
  try {
    const reply = await fetch(path, { ...init, headers, cache: "no-store" });
    const body = await reply.json().catch(() => null);
    return {
      status: reply.status,
      ok: reply.ok && body !== null && body.success === true,
      data: body ? body.data : null,
      error: body ? body.error : null,
    };
  } catch (error) {
    return { status: 0, ok: false, data: null, error: { message: String(error) } };
  }
}

/**
 * The game clock, extrapolated between the server's readings: game time runs
 * `speed` times faster than the wall clock (the demo's 60x).
 */
export class GameClock {
  constructor() {
    this.gameMs = null;
    this.wallMs = 0;
    this.speed = 1;
    this.frozen = false; // paused or stopped by the organiser: game time stands still
  }

  set(gameTimeIso, speed = this.speed) {
    const parsed = Date.parse(gameTimeIso);
    if (Number.isNaN(parsed)) return;
    this.gameMs = parsed;
    this.wallMs = Date.now();
    this.speed = speed;
  }

  /** Now on the game clock, in ms; null before the first reading. */
  now() {
    if (this.gameMs === null || this.frozen) return this.gameMs;
    return this.gameMs + (Date.now() - this.wallMs) * this.speed;
  }

  /** The game time a wall-clock timestamp stands for (a message's `timestamp`). */
  fromWall(wallIso) {
    const wall = Date.parse(wallIso);
    if (this.gameMs === null || Number.isNaN(wall)) return Date.now();
    return this.frozen ? this.gameMs : this.gameMs + (wall - this.wallMs) * this.speed;
  }
}

/** "2026-12-01 14:07:37" (UTC) for a time in ms. */
export function stamp(ms, withDate = true) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const iso = new Date(ms).toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19);
}

/** Message types that take a stream seq: the resume point moves only with these. */
const STREAM_TYPES = new Set([
  "new_order_ack", "execution_report", "order_cancelled", "position_update", "trade",
  "phase_change", "event", "signal", "settlement", "leaderboard",
]);

/**
 * One `/ws` connection, kept open: a team's authenticated by a fresh ticket each time,
 * reconnects after a drop with exponential backoff and
 * jitter, resumes with `?since=` the last stream seq handled, reconnects when the
 * heartbeats stop, and gives up only when refused (1008: a wrong key; 4003: the
 * organiser disabled the team).
 */
export class Stream {
  constructor({ key = null, onMessage, onState }) {
    this.key = key;
    this.onMessage = onMessage;
    this.onState = onState;
    this.since = null;
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.heard = Date.now();
    this.heartbeatMs = 5000;
    this.watch = setInterval(() => this.checkAlive(), 1000);
  }

  /**
   * A single-use ticket for the team's stream, from `POST /ws/ticket` with the key in
   * the header: the key itself never goes into a URL, which servers and proxies log.
   * Null when there is none: refused (a wrong key, a disabled team) or retrying later.
   */
  async ticket() {
    const reply = await api("/ws/ticket", this.key, { method: "POST" });
    if (reply.ok) return reply.data.ticket;
    if (reply.status === 401 || reply.status === 403) {
      this.onState("refused", (reply.error && reply.error.message) || "refused");
      this.stop();
    } else {
      this.retryLater();
    }
    return null;
  }

  url(ticket) {
    const params = new URLSearchParams();
    if (ticket) params.set("ticket", ticket);
    if (this.since !== null) params.set("since", String(this.since));
    const query = params.toString();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws${query ? `?${query}` : ""}`;
  }

  async open() {
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const ticket = this.key ? await this.ticket() : null;
    if (this.stopped || (this.key && ticket === null)) return;
    const socket = new WebSocket(this.url(ticket));
    this.socket = socket;
    this.heard = Date.now();
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("live");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(raw) {
    this.heard = Date.now();
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === "connection_status") {
      this.heartbeatMs = (message.data.heartbeat_interval || 5) * 1000;
      if (this.since === null) this.since = message.data.last_seq;
    } else if (message.type === "resync_required") {
      this.since = message.data.last_seq;
    } else if (STREAM_TYPES.has(message.type) && typeof message.seq === "number") {
      this.since = message.seq;
    }
    this.onMessage(message);
  }

  closed(socket, event) {
    if (socket !== this.socket || this.stopped) return;
    if (event.code === 1008 || event.code === 4003) { // a wrong key, a disabled team
      this.onState("refused", event.reason || "refused");
      this.stop();
      return;
    }
    this.retryLater();
  }

  /** Reconnect after a backoff that doubles up to 10 s, with jitter. */
  retryLater() {
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.onState("reconnecting");
    this.retry = setTimeout(() => this.open(), delay);
  }

  /** Three heartbeats missed: the connection is dead even if the socket says not. */
  checkAlive() {
    const open = this.socket && this.socket.readyState === WebSocket.OPEN;
    if (open && Date.now() - this.heard > 3 * this.heartbeatMs) this.socket.close(4000, "silent");
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watch);
    clearTimeout(this.retry);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "bye");
  }
}

/** Run `fn` at most once per animation frame however often it is asked for. */
export function coalesce(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}
