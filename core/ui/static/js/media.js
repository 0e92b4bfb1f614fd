// Media panels of a run (issue 15/17): per media key a panel with a step slider over the steps the
// run's visible history holds (media follow rewinds and forks like metrics), showing that step's
// images side by side with captions, histogram as bars (plus a heat-map of bins x steps), or table.
//   mediaPanels(container, run): run is /api/run/<ref>'s answer (run.media lists the media keys)
// State for tests and tools: the container gets data-ready="1" once every panel is drawn; each panel
// is .media-panel[data-key][data-type][data-steps][data-step], each image img[data-sha][data-loaded].
// Every string from the store (keys, captions, columns, cells) is inserted as text.
import * as api from "./api.js";
import { colorOf, h, s } from "./dom.js";
import { watch } from "./live.js";

const MAX_ROWS = 1000; // table rows drawn per step; the rest is counted, not drawn
const HM_W = 600, HM_H = 120, HM_ROWS = 48; // heat-map canvas (device pixels) and value rows

const num = (v) => (Number.isInteger(v) ? String(v) : String(+v.toPrecision(6)));
const cellText = (v) => (v === null || v === undefined ? "" : typeof v === "number" ? num(v) : String(v));

// "m?_step=3" -> 3: a fork's rows up to there are its parent's (shown as inherited)
function inheritedUpTo(run) {
  if (run.kind !== "fork" || !run.parent) return null;
  const m = /\?_step=(-?\d+)$/.exec(run.parent);
  return m ? Number(m[1]) : null;
}

// -- one step's items ------------------------------------------------------------------------------
function imageItem(item, i) {
  const img = h("img", { src: item.url, alt: item.caption || `image ${i + 1}`, dataset: { sha: item.sha256 } });
  // small images (a 28x28 digit) are scaled up by a whole factor and drawn pixelated, not blurred
  if (item.width && item.height) {
    const k = Math.max(1, Math.min(16, Math.floor(128 / Math.max(item.width, item.height))));
    img.width = item.width * k;
    img.height = item.height * k;
    if (k > 1) img.classList.add("pixelated");
  }
  img.addEventListener("load", () => { img.dataset.loaded = "1"; });
  img.addEventListener("error", () => { img.dataset.loaded = "error"; });
  return h("figure", { className: "media-image" }, img,
    h("figcaption", {}, item.caption ?? (item.width ? `${item.width}×${item.height}` : "")));
}

// one histogram as bars over its own bin edges; the counts are exposed for tests
function histogramBars(item) {
  const counts = item.counts || [], bins = item.bins || [];
  const W = 600, H = 120;
  const lo = bins[0], hi = bins[bins.length - 1], span = hi - lo || 1;
  const top = Math.max(1, ...counts);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "media-bars-svg" });
  counts.forEach((c, i) => {
    const x0 = ((bins[i] - lo) / span) * W, x1 = ((bins[i + 1] - lo) / span) * W;
    const y = H - (c / top) * (H - 2);
    svg.append(s("rect", { x: x0.toFixed(2), y: y.toFixed(2), width: Math.max(0.5, x1 - x0 - 0.5).toFixed(2),
      height: (H - y).toFixed(2), fill: "currentColor", "data-count": c },
    s("title", {}, `[${num(bins[i])}, ${num(bins[i + 1])}): ${num(c)}`)));
  });
  return h("div", { className: "media-bars", dataset: { counts: JSON.stringify(counts), bins: JSON.stringify(bins) } },
    svg, h("div", { className: "media-axis" }, h("span", {}, bins.length ? num(lo) : ""),
      h("span", { className: "muted" }, `max count ${num(top)}`), h("span", {}, bins.length ? num(hi) : "")));
}

function tableItem(item) {
  const cols = item.columns || [], rows = item.data || [];
  const shown = rows.slice(0, MAX_ROWS);
  return h("div", { className: "media-table", dataset: { rows: String(rows.length) } },
    h("table", {}, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))),
      h("tbody", {}, shown.map((r) => h("tr", {}, r.map((v) =>
        h("td", { className: typeof v === "number" ? "num" : v === null ? "muted" : "" }, cellText(v))))))),
    rows.length > shown.length ? h("div", { className: "muted" }, `${rows.length - shown.length} more rows not shown`) : "");
}

function renderItem(item, i) {
  if (item.type === "image") return imageItem(item, i);
  if (item.type === "histogram") return histogramBars(item);
  if (item.type === "table") return tableItem(item);
  return h("pre", {}, JSON.stringify(item));
}

// -- histograms over steps: a heat-map, one column per step, value upwards -------------------------
// Each step has its own bin edges, so every step's counts are spread over common value rows (by the
// overlap of each bin with each row) and a column is shaded relative to its own largest row.
function heatMap(steps, color) {
  const hists = steps.map((st) => st.items[0] || {});
  let lo = Infinity, hi = -Infinity;
  for (const it of hists) {
    const b = it.bins || [];
    if (b.length) { lo = Math.min(lo, b[0]); hi = Math.max(hi, b[b.length - 1]); }
  }
  const canvas = h("canvas", { className: "media-heatmap" });
  canvas.width = HM_W;
  canvas.height = HM_H;
  const cursor = h("div", { className: "hm-cursor" });
  const wrap = h("div", { className: "hm-wrap", title: "click a column to show that step" }, canvas, cursor);
  const box = h("div", { className: "media-hm" }, wrap,
    h("div", { className: "media-axis" }, h("span", {}, `step ${steps[0].step}`),
      h("span", { className: "muted" }, Number.isFinite(lo) ? `values ${num(lo)} … ${num(hi)} (up)` : ""),
      h("span", {}, `step ${steps[steps.length - 1].step}`)));
  const ctx = canvas.getContext("2d");
  if (ctx && Number.isFinite(lo)) {
    const span = hi - lo || 1, rowH = span / HM_ROWS, n = steps.length, colW = HM_W / n;
    ctx.fillStyle = color;
    hists.forEach((it, j) => {
      const dens = new Float64Array(HM_ROWS);
      const b = it.bins || [], c = it.counts || [];
      for (let i = 0; i < c.length; i++) {
        const a = b[i], z = b[i + 1], w = z - a;
        const r0 = Math.max(0, Math.floor((a - lo) / rowH)), r1 = Math.min(HM_ROWS - 1, Math.floor((z - lo) / rowH));
        for (let r = r0; r <= r1; r++) {
          const overlap = w > 0 ? (Math.min(z, lo + (r + 1) * rowH) - Math.max(a, lo + r * rowH)) / w : 1;
          if (overlap > 0) dens[r] += c[i] * overlap;
        }
      }
      const top = Math.max(...dens);
      if (!(top > 0)) return;
      for (let r = 0; r < HM_ROWS; r++) {
        if (!dens[r]) continue;
        ctx.globalAlpha = 0.08 + 0.92 * (dens[r] / top);
        ctx.fillRect(j * colW, HM_H - (r + 1) * (HM_H / HM_ROWS), Math.max(1, colW), HM_H / HM_ROWS + 0.5);
      }
    });
    ctx.globalAlpha = 1;
  }
  return {
    el: box,
    wrap,
    show(i) { cursor.style.left = `${((i + 0.5) / steps.length) * 100}%`; cursor.style.width = `${Math.max(2, 100 / steps.length)}%`; },
    // the step index under a click at clientX
    indexAt(clientX) {
      const r = canvas.getBoundingClientRect();
      return Math.min(steps.length - 1, Math.max(0, Math.floor(((clientX - r.left) / r.width) * steps.length)));
    },
  };
}

// -- one panel -------------------------------------------------------------------------------------
function panel(key, type, run, onPick) {
  const el = h("section", { className: "media-panel", dataset: { key, type } });
  const title = h("h3", {}, key);
  const kind = h("span", { className: "muted media-kind" }, type);
  const slider = h("input", { type: "range", className: "media-slider", min: "0", max: "0", step: "1", value: "0",
    "aria-label": `step of ${key}` });
  const label = h("span", { className: "media-step" });
  const note = h("span", { className: "media-note muted" });
  const body = h("div", { className: "media-body" });
  const extra = h("div", { className: "media-extra" });
  el.append(h("div", { className: "media-head" }, title, kind),
    h("div", { className: "media-ctl" }, slider, label, note), body, extra);
  const forkAt = inheritedUpTo(run);
  let data = null, index = 0, hm = null;

  function show(i, fromUser) {
    if (!data || !data.steps.length) return;
    index = Math.max(0, Math.min(data.steps.length - 1, i));
    const st = data.steps[index];
    slider.value = String(index);
    slider.setAttribute("aria-valuetext", `step ${st.step}`);
    label.textContent = `step ${st.step}`;
    label.title = `${index + 1} of ${data.steps.length} logged steps`;
    const inherited = forkAt !== null && st.step <= forkAt;
    note.textContent = inherited ? `from ${run.parent}` : "";
    el.dataset.step = String(st.step);
    el.dataset.inherited = inherited ? "1" : "0";
    const items = h("div", { className: "media-items" }, st.items.map(renderItem));
    body.replaceChildren(items);
    if (hm) hm.show(index);
    if (fromUser) onPick(st.step, el);
  }

  function load(got) {
    const following = !data || index === data.steps.length - 1;
    const keep = data && data.steps[index] ? data.steps[index].step : null;
    data = got;
    el.dataset.steps = JSON.stringify(data.steps.map((st) => st.step));
    el.dataset.type = data.type;
    kind.textContent = data.type;
    if (!data.steps.length) {
      body.replaceChildren(h("div", { className: "muted" }, "no steps"));
      return;
    }
    slider.max = String(data.steps.length - 1);
    slider.disabled = data.steps.length < 2;
    extra.replaceChildren();
    hm = null;
    if (data.type === "histogram" && data.steps.length > 1) {
      hm = heatMap(data.steps, colorOf(run.id));
      hm.wrap.addEventListener("click", (ev) => show(hm.indexAt(ev.clientX), true));
      extra.append(hm.el);
    }
    // a live reload keeps the step the user chose, or follows the newest one
    show(following || keep === null ? data.steps.length - 1 : stepIndex(data.steps, keep), false);
  }

  slider.addEventListener("input", () => show(Number(slider.value), true));
  return {
    el, load,
    fail(err) { body.replaceChildren(h("div", { className: "media-error" }, err.message)); el.dataset.error = "1"; },
    // show the last logged step at or before `step` (panels logged at different steps stay in line)
    goto(step) { if (data && data.steps.length) show(stepIndex(data.steps, step), false); },
  };
}

// the index of the last step <= step (the first step if none is)
function stepIndex(steps, step) {
  let lo = 0, hi = steps.length - 1, at = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid].step <= step) { at = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return at;
}

export async function mediaPanels(container, run) {
  delete container.dataset.ready;
  const sync = h("input", { type: "checkbox", id: "media-sync", checked: true });
  const grid = h("div", { className: "media-grid" });
  const panels = [];
  const onPick = (step, from) => {
    if (!sync.checked) return;
    for (const p of panels) if (p.el !== from) p.goto(step);
  };
  for (const m of run.media || []) panels.push(panel(m.key, m.type, run, onPick));
  container.replaceChildren(
    panels.length > 1 ? h("div", { className: "media-bar" }, h("label", {}, sync, " same step in every panel")) : "",
    grid);
  grid.append(...panels.map((p) => p.el));
  const fetchAll = () => Promise.all(panels.map((p) => api.media(run.id, p.el.dataset.key).then(p.load, p.fail)));
  await fetchAll();
  container.dataset.ready = "1";
  // a running run: new steps' media appear as it logs them (no reload of the page)
  if (run.state === "running") {
    let gen = 0;
    const stop = watch([run.id], async () => {
      if (!container.isConnected) { stop(); return; }
      const mine = ++gen;
      await fetchAll();
      if (mine === gen) container.dataset.updates = String(Number(container.dataset.updates || 0) + 1);
    });
  }
  return run;
}
