// The chart grid every page uses (workspace, run page, compare): one uPlot panel per metric, in
// groups by prefix (`train/`, `val/`, no prefix = "charts"), with log y, TensorBoard smoothing, a
// choice of x axis, drag-zoom, one tooltip listing every run, full-screen panels and live updates.
import * as api from "./api.js";
import { colorOf, fmt, h } from "./dom.js";
import { watch } from "./live.js";

// uPlot is a classic script (the global `uPlot`), added when the first panel is drawn rather than
// with the page: its ~50 KB would otherwise run before the workspace's runs table paints.
const UPLOT = "/static/vendor/uplot/uPlot.iife.min.js";
let uplotLoading = null;
export function loadUPlot() {
  if (window.uPlot) return Promise.resolve();
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      const el = document.createElement("script");
      el.src = UPLOT;
      el.onload = resolve;
      el.onerror = () => { uplotLoading = null; reject(new Error(`${UPLOT} did not load`)); };
      document.head.append(el);
    });
  }
  return uplotLoading;
}

const SETTINGS = "forkpoint.charts"; // localStorage: smoothing, log, x axis, collapsed groups, per-key log
const DEFAULTS = { smoothing: 0, log: false, x: "_step", collapsed: [], logKeys: {} };
const GREY = "#9ca3af"; // the first run's inherited part on the run page
const FAINT = "59"; // alpha (hex) of the raw line behind a smoothed one
const HEIGHT = 240;
const PARALLEL = 4; // /api/series requests in flight at once
const MAX_RUNS = 200; // runs per /api/series request (the server's limit)
const TIME_AXES = { _step: "step", _runtime: "relative time", _timestamp: "wall time" };
let grids = 0; // each grid syncs its own panels' cursors

export function loadSettings() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

function saveSettings(st) {
  try {
    localStorage.setItem(SETTINGS, JSON.stringify(st));
  } catch { /* private mode or full: settings just do not persist */ }
}

// TensorBoard's debiased EMA, exactly as `classicSmoothing` in TensorBoard's
// tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts (and vz_line_chart's older
// `resmoothDataset`): last = last*w + (1-w)*y from last = 0, divided by 1 - w^n (n = finite points
// so far) so early values are not pulled to 0; non-finite points (our nulls) pass through
// uncounted; a constant series is returned as it is (TensorBoard #786).
export function smooth(ys, w) {
  if (!(w > 0) || !ys.length || ys.every((y) => y == ys[0])) return ys.slice(); // eslint-disable-line eqeqeq
  let last = 0, n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * w + (1 - w) * y;
    n++;
    return last / (w !== 1 ? 1 - Math.pow(w, n) : 1);
  });
}

// Metric groups by prefix: "train/loss" -> "train", "loss" -> "charts".
export const groupOf = (key) => (key.includes("/") ? key.slice(0, key.indexOf("/")) : "charts");

// The search box: a regex (any case), or the plain text when it is not a valid regex.
export function matcher(text) {
  const q = (text || "").trim();
  if (!q) return () => true;
  try {
    const re = new RegExp(q, "i");
    return (k) => re.test(k);
  } catch {
    const low = q.toLowerCase();
    return (k) => k.toLowerCase().includes(low);
  }
}

const duration = (s) => {
  if (!Number.isFinite(s)) return "";
  const a = Math.abs(s), sign = s < 0 ? "-" : "";
  if (a < 60) return sign + (Number.isInteger(a) ? a : a.toFixed(1)) + "s";
  if (a < 3600) return `${sign}${Math.floor(a / 60)}m${String(Math.floor(a % 60)).padStart(2, "0")}s`;
  return `${sign}${Math.floor(a / 3600)}h${String(Math.floor((a % 3600) / 60)).padStart(2, "0")}m`;
};
const tick = (v) => String(+v.toPrecision(6)); // 0.30000000000000004 -> "0.3", 1e-7 -> "1e-7"
const fmtX = (x, axis) => (axis === "_timestamp" ? new Date(x * 1000).toLocaleString() : axis === "_runtime" ? duration(x) : fmt(x));

// index of the value in sorted xs nearest to x
function nearest(xs, x) {
  let lo = 0, hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid; else hi = mid;
  }
  return Math.abs(xs[hi] - x) < Math.abs(xs[lo] - x) ? hi : lo;
}

// One panel's lines from an /api/series answer: per run and part the raw and smoothed values
// (smoothed over the run's whole visible history, so a fork's own part continues its parent's EMA).
function linesOf(answer, runs, options, smoothing) {
  const lines = [], perRun = [];
  runs.forEach((r, i) => {
    const got = answer.runs[i];
    if (!got || !got.parts.length) return;
    const ys = got.parts.flatMap((p) => p.y);
    const sm = smoothing > 0 ? smooth(ys, smoothing) : ys;
    const color = r.color || colorOf(r.id);
    let at = 0;
    const xs = [], raw = [], smoothed = [];
    for (const p of got.parts) {
      const inherited = p.part === "inherited";
      const part = sm.slice(at, at + p.y.length);
      at += p.y.length;
      lines.push({ run: got.run, label: inherited ? `${got.run} (inherited)` : got.run, xs: p.x, raw: p.y, sm: part,
        color: inherited && options.inheritedGrey && i === 0 ? GREY : color, dash: inherited ? [6, 4] : undefined });
      xs.push(...p.x); raw.push(...p.y); smoothed.push(...part);
    }
    // the tooltip's per-run lookup wants x ascending (a step metric may not be)
    const order = xs.map((_, j) => j).sort((a, b) => xs[a] - xs[b]);
    perRun.push({ run: got.run, color, xs: order.map((j) => xs[j]), raw: order.map((j) => raw[j]), sm: order.map((j) => smoothed[j]) });
  });
  return { lines, perRun };
}

// uPlot's aligned data: the union of every line's x, one column per drawn series (nulls elsewhere).
function aligned(lines, smoothing, logY) {
  const xs = [...new Set(lines.flatMap((l) => l.xs))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = [], series = [];
  let nonPositive = 0;
  const column = (l, vals) => {
    const col = new Array(xs.length).fill(null);
    l.xs.forEach((x, i) => {
      const v = vals[i];
      col[index.get(x)] = logY && v !== null && v <= 0 ? null : v; // log scale: not drawn, counted below
    });
    return col;
  };
  for (const l of lines) {
    if (logY) nonPositive += l.raw.filter((v) => v !== null && v <= 0).length;
    if (smoothing > 0) {
      cols.push(column(l, l.raw));
      series.push({ label: l.label + " raw", stroke: l.color + FAINT, width: 1, dash: l.dash, spanGaps: true, points: { show: false } });
    }
    cols.push(column(l, smoothing > 0 ? l.sm : l.raw));
    series.push({ label: l.label, stroke: l.color, width: 1.6, dash: l.dash, spanGaps: true, points: { show: false } });
  }
  return { data: [xs, ...cols], series, nonPositive };
}

// Branch points of the first run: dashed amber lines with their label.
const marksPlugin = (marks) => ({ hooks: { draw: [(u) => {
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = "#f59e0b"; ctx.fillStyle = "#b45309"; ctx.lineWidth = 2; ctx.setLineDash([4, 4]);
  ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
  for (const m of marks) {
    if (m.x === null || m.x === undefined) continue;
    const x = u.valToPos(m.x, "x", true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.fillText(m.label, x + 4, u.bbox.top + 12 * devicePixelRatio); // canvas text: never parsed as HTML
  }
  ctx.restore();
}] } });

// One tooltip for the hovered panel: every run's value at the hovered x, highest first, in its colour.
function tooltipPlugin(panel, perRun, axis, smoothing) {
  const tip = h("div", { className: "chart-tip" });
  tip.hidden = true;
  let over = false;
  return { hooks: {
    init: [(u) => {
      u.over.appendChild(tip);
      u.over.addEventListener("mouseenter", () => { over = true; });
      u.over.addEventListener("mouseleave", () => { over = false; tip.hidden = true; delete panel.dataset.hoverX; });
    }],
    setCursor: [(u) => {
      const { left, top, idx } = u.cursor;
      if (!over || idx === null || idx === undefined || left < 0) { tip.hidden = true; return; }
      const x = u.data[0][idx];
      const rows = [];
      for (const r of perRun) {
        if (!r.xs.length || x < r.xs[0] || x > r.xs[r.xs.length - 1]) continue; // the run has no row near x
        const i = nearest(r.xs, x);
        rows.push({ r, x: r.xs[i], raw: r.raw[i], sm: r.sm[i] });
      }
      rows.sort((a, b) => (b.sm ?? -Infinity) - (a.sm ?? -Infinity));
      tip.replaceChildren(h("div", { className: "tip-x" }, `${TIME_AXES[axis] || axis} ${fmtX(x, axis)}`),
        h("table", {}, h("tbody", {}, rows.map(({ r, x: rx, raw, sm }) => {
          const sw = h("span", { className: "swatch" });
          sw.style.background = r.color;
          return h("tr", { dataset: { run: r.run, x: String(rx), value: String(raw), smoothed: String(sm) } },
            h("td", {}, sw), h("td", { className: "tip-run" }, r.run), h("td", { className: "tip-val" }, fmt(smoothing > 0 ? sm : raw)),
            smoothing > 0 ? h("td", { className: "muted" }, fmt(raw)) : null);
        }))));
      tip.dataset.x = String(x);
      panel.dataset.hoverX = String(x);
      tip.hidden = false;
      // beside the cursor, flipped to stay inside the plot
      const w = tip.offsetWidth, ht = tip.offsetHeight;
      tip.style.left = (left + 14 + w > u.over.clientWidth ? Math.max(0, left - 14 - w) : left + 14) + "px";
      tip.style.top = Math.max(0, Math.min(top + 14, u.over.clientHeight - ht)) + "px";
    }],
  } };
}

//   runs: [{id, label?, color?}]  keys: metric keys (null: every key of the runs, fetched)
//   options: {marks, inheritedGrey, live, stepMetrics}
// Returns {ready, setRuns(runs), refresh(), destroy()}; the container gets data-ready="1" when drawn.
export function chartGrid(container, runs, keys, options = {}) {
  const st = loadSettings();
  const sync = `fp-grid-${++grids}`;
  const cache = new Map(); // "<x>\0<key>" -> /api/series answer for the current runs
  const panels = new Map(); // key -> {el, plot, note, u, ro, width}
  let current = dedupe(runs), allKeys = [], stepMetrics = [], gen = 0, stopLive = null, expanded = null;
  let zoom = null; // [lo, hi] of x, shared: a drag in one panel zooms them all (their cursors are synced)

  container.classList.add("chart-grid");
  const search = h("input", { type: "search", className: "chart-search", placeholder: "filter metrics (regex)", "aria-label": "filter metrics" });
  const slider = h("input", { type: "range", className: "chart-smoothing", min: "0", max: "0.999", step: "0.001", "aria-label": "smoothing" });
  const number = h("input", { type: "number", className: "chart-smoothing-value", min: "0", max: "0.999", step: "0.001", "aria-label": "smoothing value" });
  const logBox = h("input", { type: "checkbox", className: "chart-log" });
  const xSelect = h("select", { className: "chart-x", "aria-label": "x axis" });
  const resetAll = h("button", { type: "button", className: "chart-reset-all", title: "reset the zoom of every chart" }, "reset zoom");
  const shown = h("span", { className: "muted chart-count" });
  const toolbar = h("div", { className: "chart-toolbar" }, search,
    h("label", { className: "chart-ctl" }, "smoothing ", slider, number),
    h("label", { className: "chart-ctl" }, logBox, " log y"),
    h("label", { className: "chart-ctl" }, "x ", xSelect), resetAll, shown);
  const groupsEl = h("div", { className: "chart-groups" });
  container.replaceChildren(toolbar, groupsEl);
  slider.value = number.value = String(st.smoothing);
  logBox.checked = !!st.log;

  const axis = () => (st.x in TIME_AXES || stepMetrics.includes(st.x) ? st.x : "_step");
  const logOf = (key) => (key in st.logKeys ? st.logKeys[key] : !!st.log);
  const exposeSettings = () => {
    container.dataset.smoothing = String(st.smoothing);
    container.dataset.log = st.log ? "1" : "0";
    container.dataset.x = axis();
  };

  function fillAxes() {
    const opts = [...Object.entries(TIME_AXES), ...stepMetrics.map((m) => [m, m])];
    xSelect.replaceChildren(...opts.map(([v, label]) => h("option", { value: v }, label)));
    xSelect.value = axis();
  }

  // -- data ---------------------------------------------------------------------------------------
  async function fetchSeries(key, x, ids) {
    const parts = [];
    for (let i = 0; i < ids.length; i += MAX_RUNS) parts.push(api.seriesMany(ids.slice(i, i + MAX_RUNS), key, x));
    const got = await Promise.all(parts);
    return { key, x, runs: got.flatMap((g) => g.runs) };
  }

  async function series(key) {
    const ck = axis() + "\0" + key;
    if (!cache.has(ck)) cache.set(ck, fetchSeries(key, axis(), current.map((r) => r.id)));
    try {
      return await cache.get(ck);
    } catch (err) {
      cache.delete(ck);
      throw err;
    }
  }

  async function resolveKeys() {
    if (keys) {
      allKeys = [...keys];
      stepMetrics = [...(options.stepMetrics || [])];
      return;
    }
    const details = await pool(current, (r) => api.run(r.id).catch(() => null));
    allKeys = [...new Set(details.flatMap((d) => (d ? d.keys : [])))].sort();
    stepMetrics = [...new Set([...(options.stepMetrics || []), ...details.flatMap((d) => (d ? d.step_metrics || [] : []))])].sort();
  }

  // -- layout: groups and panel shells ------------------------------------------------------------
  function layout() {
    const match = matcher(search.value);
    const groups = new Map();
    for (const k of allKeys.filter(match)) {
      const g = groupOf(k);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(k);
    }
    const names = [...groups.keys()].sort((a, b) => (a === "charts" ? -1 : b === "charts" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    const wanted = new Set();
    const sections = names.map((g) => {
      const collapsed = st.collapsed.includes(g);
      const head = h("button", { type: "button", className: "chart-group-head", "aria-expanded": String(!collapsed) },
        h("span", { className: "caret" }, collapsed ? "▸" : "▾"), ` ${g} `, h("span", { className: "muted" }, `(${groups.get(g).length})`));
      head.onclick = () => {
        st.collapsed = collapsed ? st.collapsed.filter((c) => c !== g) : [...st.collapsed, g];
        saveSettings(st);
        draw(false);
      };
      const body = h("div", { className: "chart-panels" });
      if (!collapsed) {
        for (const k of groups.get(g)) {
          wanted.add(k);
          body.append(shell(k).el);
        }
      }
      return h("section", { className: "chart-group" + (collapsed ? " collapsed" : ""), dataset: { group: g, collapsed: collapsed ? "1" : "0" } }, head, body);
    });
    for (const [k, p] of panels) if (!wanted.has(k)) dropPanel(k, p);
    groupsEl.replaceChildren(...sections);
    if (!sections.length) groupsEl.append(h("div", { className: "muted chart-empty" }, allKeys.length ? "no metric matches the filter" : "no metrics to chart"));
    shown.textContent = `${wanted.size} of ${allKeys.length} metrics`;
    return [...wanted];
  }

  function shell(key) {
    if (panels.has(key)) return panels.get(key);
    const plot = h("div", { className: "chart-plot" });
    const note = h("div", { className: "chart-note" });
    const logBtn = h("button", { type: "button", className: "chart-logbtn", title: "log scale (this chart)" }, "log");
    const unzoom = h("button", { type: "button", className: "chart-unzoom", title: "reset zoom (or double-click the chart)" }, "⟲");
    const expand = h("button", { type: "button", className: "chart-expand", title: "full screen (Esc to leave)" }, "⤢");
    const el = h("div", { className: "chart", dataset: { key, series: "[]", marks: "[]", zoom: zoom ? JSON.stringify(zoom) : "" } },
      h("div", { className: "chart-head" }, h("h3", { title: key }, key), logBtn, unzoom, expand), plot, note);
    const p = { el, plot, note, u: null, ro: null, width: 0 };
    logBtn.onclick = () => {
      st.logKeys = { ...st.logKeys, [key]: !logOf(key) };
      saveSettings(st);
      render(key);
    };
    unzoom.onclick = () => setZoom(null);
    expand.onclick = () => toggleExpand(key);
    p.ro = new ResizeObserver(() => {
      const w = Math.floor(plot.clientWidth);
      if (p.u && w > 0 && w !== p.width) {
        p.width = w;
        p.u.setSize({ width: w, height: heightOf(p) });
      }
    });
    p.ro.observe(plot);
    panels.set(key, p);
    return p;
  }

  const heightOf = (p) => (p.el.classList.contains("expanded") ? Math.max(HEIGHT, window.innerHeight - 90) : HEIGHT);

  function dropPanel(key, p) {
    if (p.u) p.u.destroy();
    p.ro.disconnect();
    panels.delete(key);
    if (expanded === key) expanded = null;
  }

  function toggleExpand(key) {
    const p = panels.get(key);
    if (!p) return;
    const on = !p.el.classList.contains("expanded");
    if (expanded && expanded !== key && panels.has(expanded)) toggleExpand(expanded);
    p.el.classList.toggle("expanded", on);
    p.el.dataset.expanded = on ? "1" : "0";
    document.body.classList.toggle("chart-fullscreen", on);
    expanded = on ? key : null;
    if (p.u) {
      p.width = Math.floor(p.plot.clientWidth);
      p.u.setSize({ width: p.width, height: heightOf(p) });
    }
  }
  const onKey = (e) => { if (e.key === "Escape" && expanded) toggleExpand(expanded); };
  document.addEventListener("keydown", onKey);

  function setZoom(z) {
    zoom = z;
    for (const p of panels.values()) {
      p.el.dataset.zoom = zoom ? JSON.stringify(zoom) : "";
      if (!p.u) continue;
      const xs = p.u.data[0];
      if (zoom) p.u.setScale("x", { min: zoom[0], max: zoom[1] });
      else if (xs.length) p.u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    }
  }

  // -- one panel: uPlot from the cached answer and the settings -----------------------------------
  async function render(key) {
    const p = panels.get(key);
    if (!p) return;
    let answer;
    try {
      [answer] = await Promise.all([series(key), loadUPlot()]);
    } catch (err) {
      p.note.textContent = `could not load: ${err.message}`;
      return;
    }
    if (panels.get(key) !== p) return; // dropped while loading
    const x = axis(), smoothing = st.smoothing, logY = logOf(key);
    const { lines, perRun } = linesOf(answer, current, options, smoothing);
    const marks = options.marks && answer.runs[0] ? answer.runs[0].branch_points : [];
    Object.assign(p.el.dataset, {
      series: JSON.stringify(lines.map((l) => ({ label: l.label, points: l.xs.length }))),
      marks: JSON.stringify(marks.map((m) => m.step)),
      log: logY ? "1" : "0", smoothing: String(smoothing), x,
    });
    const { data, series: ser, nonPositive } = aligned(lines, smoothing, logY);
    p.el.dataset.nonpositive = String(nonPositive);
    p.el.dataset.xRange = data[0].length ? JSON.stringify([data[0][0], data[0][data[0].length - 1]]) : "";
    p.el.querySelector(".chart-logbtn").classList.toggle("on", logY);
    p.note.textContent = !lines.length ? "no data for these runs"
      : nonPositive ? `${nonPositive} value${nonPositive > 1 ? "s" : ""} ≤ 0 not drawn on the log scale` : "";
    p.note.classList.toggle("warn", nonPositive > 0);
    if (p.u) p.u.destroy();
    p.u = null;
    p.plot.replaceChildren();
    if (!lines.length) return;
    p.width = Math.max(200, Math.floor(p.plot.clientWidth));
    // eslint-disable-next-line no-undef
    p.u = new uPlot({
      width: p.width, height: heightOf(p),
      legend: { show: false },
      scales: { x: { time: x === "_timestamp" }, y: logY ? { distr: 3, log: 10 } : {} },
      series: [{ label: x }, ...ser],
      axes: [x === "_runtime" ? { values: (u, vals) => vals.map(duration) } : {}, { size: 64, values: (u, splits) => {
        p.el.dataset.yTicks = JSON.stringify(splits.filter((v) => v !== null)); // the labelled ticks, for tests
        return splits.map((v) => (v === null ? null : tick(v)));
      } }],
      cursor: {
        sync: { key: sync },
        drag: { x: true, y: false, setScale: true },
        points: { show: false },
        bind: { dblclick: () => () => null }, // our reset instead, so the zoom state stays right
      },
      plugins: [marksPlugin(marks), tooltipPlugin(p.el, perRun, x, smoothing)],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 2) {
            const lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
            zoom = [lo, hi]; // (the synced panels get the same drag and set it too)
            for (const q of panels.values()) q.el.dataset.zoom = JSON.stringify(zoom);
          }
        }],
        setScale: [(u, scale) => {
          if (scale === "y" && u.scales.y.min !== null) p.el.dataset.yRange = JSON.stringify([u.scales.y.min, u.scales.y.max]);
        }],
      },
    }, data, p.plot);
    p.u.over.addEventListener("dblclick", () => setZoom(null));
    if (zoom) p.u.setScale("x", { min: zoom[0], max: zoom[1] });
    p.el.dataset.yRange = JSON.stringify([p.u.scales.y.min, p.u.scales.y.max]);
    p.el.dataset.plotLeft = String(Math.round(p.u.bbox.left / devicePixelRatio));
    p.el.dataset.plotWidth = String(Math.round(p.u.bbox.width / devicePixelRatio));
  }

  // -- the whole grid -----------------------------------------------------------------------------
  async function draw(refetchKeys) {
    const my = ++gen;
    delete container.dataset.ready;
    exposeSettings();
    if (refetchKeys) {
      await resolveKeys();
      if (my !== gen) return;
      fillAxes();
      exposeSettings();
    }
    const wanted = layout();
    await pool(wanted, (k) => (my === gen ? render(k) : null));
    if (my !== gen) return;
    container.dataset.ready = "1";
    if (refetchKeys && options.live) startLive();
  }

  // -- live: refetch only the runs whose last step or state moved, keep zoom ----------------------
  async function startLive() {
    if (stopLive) stopLive();
    stopLive = null;
    const my = gen;
    const ids = current.map((r) => r.id);
    const got = await api.status(ids.slice(0, 1000)).catch(() => null);
    if (!got || my !== gen) return;
    const running = ids.filter((id) => got.runs[id] && got.runs[id].state === "running");
    if (running.length) stopLive = watch(running, (id) => liveUpdate(id));
  }

  async function liveUpdate(id) {
    const i = current.findIndex((r) => r.id === id);
    if (i < 0) return;
    let shownKeys = [...panels.keys()];
    if (!keys) { // a running run may log a new metric
      const d = await api.run(id).catch(() => null);
      if (d && d.keys.some((k) => !allKeys.includes(k))) {
        allKeys = [...new Set([...allKeys, ...d.keys])].sort();
        shownKeys = layout();
      }
    }
    const x = axis();
    await pool(shownKeys, async (key) => {
      const ck = x + "\0" + key;
      if (!cache.has(ck)) return render(key); // a new metric: its whole answer
      const old = await cache.get(ck).catch(() => null);
      if (!old) return;
      const got = await api.seriesMany([id], key, x).catch(() => null);
      if (!got) return;
      const runsNow = old.runs.slice();
      runsNow[i] = got.runs[0];
      cache.set(ck, Promise.resolve({ ...old, runs: runsNow }));
      await render(key);
    });
    container.dataset.updates = String(Number(container.dataset.updates || 0) + 1);
  }

  // -- controls -----------------------------------------------------------------------------------
  let raf = 0;
  const redraw = () => {
    cancelAnimationFrame(raf);
    raf = requestAnimationFrame(() => draw(false));
  };
  const setSmoothing = (v) => {
    const w = Math.min(0.999, Math.max(0, Number(v) || 0));
    if (w === st.smoothing) return; // (a blur after Enter: nothing new, no redraw under the mouse)
    st.smoothing = w;
    slider.value = number.value = String(w);
    saveSettings(st);
    redraw();
  };
  slider.addEventListener("input", () => setSmoothing(slider.value));
  number.addEventListener("change", () => setSmoothing(number.value));
  logBox.addEventListener("change", () => {
    st.log = logBox.checked;
    st.logKeys = {}; // the grid-wide switch applies to every chart
    saveSettings(st);
    redraw();
  });
  xSelect.addEventListener("change", () => {
    st.x = xSelect.value;
    saveSettings(st);
    zoom = null; // another axis, other units
    for (const p of panels.values()) p.el.dataset.zoom = "";
    draw(false);
  });
  search.addEventListener("input", redraw);
  resetAll.addEventListener("click", () => setZoom(null));

  const ready = draw(true);
  return {
    ready,
    setRuns(rs) {
      current = dedupe(rs);
      cache.clear();
      return draw(true);
    },
    refresh() {
      cache.clear();
      return draw(true);
    },
    destroy() {
      gen++;
      if (stopLive) stopLive();
      document.removeEventListener("keydown", onKey);
      document.body.classList.remove("chart-fullscreen");
      for (const [k, p] of panels) dropPanel(k, p);
      container.replaceChildren();
    },
  };
}

function dedupe(runs) {
  const seen = new Set();
  return runs.filter((r) => !seen.has(r.id) && seen.add(r.id));
}

// map with at most PARALLEL calls in flight, results in order
async function pool(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}
