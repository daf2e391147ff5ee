// Line charts over game time, drawn by uPlot when `npm ci` has installed it (served from
// /vendor/uplot/). Without it each chart says so in its place and keeps counting its
// points, so the rest of the page works the same.

import { fmt } from "./util.js";

export const PALETTE = [
  "#4ea1ff", "#f5a623", "#3ddc97", "#ff6b6b", "#c792ea", "#ffd166", "#06d6a0",
  "#ef476f", "#7bdff2", "#b8de6f", "#f78c6b", "#a0a8ff",
];

const AXIS = {
  stroke: "#8b96a8", font: "11px system-ui, sans-serif",
  grid: { stroke: "#1c2635", width: 1 }, ticks: { stroke: "#2a3547" },
};
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

/** The palette's colours first; past them, hues a golden angle apart (30+ teams). */
export function colourOf(index) {
  if (index < PALETTE.length) return PALETTE[index];
  return `hsl(${Math.round((index * 137.508) % 360)}, 70%, 62%)`;
}

export function chartsAvailable() {
  return typeof window.uPlot === "function";
}

/** Game time on the x axis: hours and minutes (UTC), with seconds when zoomed in. */
function timeLabels(u, splits, axis, space, step) {
  return splits.map((s) => new Date(s * 1000).toISOString().slice(11, step < 60 ? 19 : 16));
}

/** The lines' span with a little room; a flat line gets a band of 0.1% around it
 *  (uPlot's own range would put it in a band hundreds wide, starting at zero). */
function valueRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  if (min === max) {
    const pad = Math.max(Math.abs(min) * 0.001, 0.01);
    return [min - pad, max + pad];
  }
  return window.uPlot.rangeNum(min, max, 0.1, true);
}

function axisValue(value) {
  return Math.abs(value) >= 10000 ? compact.format(value) : fmt(value);
}

/**
 * A chart of one or more named lines sharing a time axis (seconds of game time).
 * Lines may be added at any time (a team joins the leaderboard); a point for a time at
 * or before the last one replaces that last point, so the axis only moves forward.
 */
export class TimeChart {
  constructor(container, { maxPoints = 1500, lines = [], legend = true } = {}) {
    this.container = container;
    this.maxPoints = maxPoints;
    this.legend = legend;
    this.xs = [];
    this.lines = new Map(); // key -> {label, color, dash, ys}
    this.plot = null;
    this.shape = "";
    for (const line of lines) this.addLine(line.key, line);
    if (!chartsAvailable()) {
      container.classList.add("nochart");
      container.replaceChildren(noChartsNote());
    } else {
      this.observer = new ResizeObserver(() => this.resize());
      this.observer.observe(container);
    }
  }

  addLine(key, { label = key, color = null, dash = null } = {}) {
    if (this.lines.has(key)) return;
    const ys = new Array(this.xs.length).fill(null);
    this.lines.set(key, { label, color: color || colourOf(this.lines.size), dash, ys });
  }

  /** Add a point for `t` (seconds): `values` maps line keys to numbers (others: gap). */
  push(t, values) {
    for (const key of Object.keys(values)) this.addLine(key);
    const last = this.xs.length - 1;
    const replace = last >= 0 && t <= this.xs[last];
    if (!replace) this.xs.push(t);
    for (const [key, line] of this.lines) {
      const value = key in values ? values[key] : replace ? line.ys[last] : null;
      if (replace) line.ys[last] = value;
      else line.ys.push(value);
    }
    if (this.xs.length > this.maxPoints) {
      this.xs.shift();
      for (const line of this.lines.values()) line.ys.shift();
    }
    this.container.dataset.points = String(this.xs.length);
    this.container.dataset.first = String(this.xs[0]); // game seconds of the oldest point
  }

  colour(key) {
    const line = this.lines.get(key);
    return line ? line.color : null;
  }

  /** Forget every point (the lines stay), before loading a history afresh. */
  clear() {
    this.xs = [];
    for (const line of this.lines.values()) line.ys = [];
    this.container.dataset.points = "0";
  }

  rename(key, label) {
    const line = this.lines.get(key);
    if (line && line.label !== label) {
      line.label = label;
      this.shape = "";
    }
  }

  /** Redraw with the current points (cheap: uPlot redraws one canvas). */
  draw() {
    if (!chartsAvailable() || this.xs.length === 0) return;
    const shape = [...this.lines.entries()].map(([k, l]) => `${k}:${l.label}`).join("|");
    if (shape !== this.shape || this.plot === null) this.build(shape);
    this.plot.setData([this.xs, ...[...this.lines.values()].map((l) => l.ys)]);
    if (this.xs.length === 1) {
      // uPlot spans a lone point over years (a day in ms, read as seconds): a minute will do.
      this.plot.setScale("x", { min: this.xs[0] - 60, max: this.xs[0] + 60 });
    }
    // With the cursor away from the chart, the legend shows the latest values.
    if (this.legend && this.plot.cursor.left < 0) this.plot.setLegend({ idx: this.xs.length - 1 });
  }

  build(shape) {
    if (this.plot) {
      if (this.legend) this.observer.unobserve(this.plot.root.querySelector(".u-legend"));
      this.plot.destroy();
    }
    this.shape = shape;
    const series = [{ value: (u, v) => (v === null ? "–" : new Date(v * 1000).toISOString().slice(11, 19)) }];
    for (const line of this.lines.values()) {
      series.push({
        label: line.label, stroke: line.color, width: 1.5, dash: line.dash || undefined,
        spanGaps: true, value: (u, v) => fmt(v), // points: uPlot shows them only when sparse
      });
    }
    const { width, height } = this.size();
    this.plot = new window.uPlot(
      {
        width, height, series, legend: { show: this.legend, live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: valueRange } },
        tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        axes: [{ ...AXIS, space: 70, values: timeLabels }, { ...AXIS, size: 70, values: (u, splits) => splits.map(axisValue) }],
      },
      [this.xs, ...[...this.lines.values()].map((l) => l.ys)],
      this.container,
    );
    // The legend's height is known only once laid out, and grows with more lines.
    if (this.legend) this.observer.observe(this.plot.root.querySelector(".u-legend"));
  }

  size() {
    const legend = this.plot ? this.plot.root.querySelector(".u-legend") : null;
    const legendHeight = !this.legend ? 0 : legend ? legend.offsetHeight : 26;
    return {
      width: Math.max(120, this.container.clientWidth),
      height: Math.max(80, this.container.clientHeight - legendHeight - 4),
    };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }
}

function noChartsNote() {
  const note = document.createElement("p");
  note.className = "nochart-note";
  const code = document.createElement("code");
  code.textContent = "npm ci";
  note.append("charts need ", code, " (uPlot is not installed on this server)");
  return note;
}
