// A project's workspace: the runs table (left), the charts of the visible runs (right; below on a
// narrow screen) and the project's lineage graph. The table paints first; charts and lineage load
// after it, so a project of 10,000 runs shows its rows at once.
import * as api from "./api.js";
import { chartGrid } from "./charts.js";
import { colorOf, h, projectLink, runLink, setCrumbs } from "./dom.js";
import { lineageGraph } from "./lineage.js";
import { watch } from "./live.js";
import { runsTable } from "./runs.js";

const LINEAGE_AUTO = 1000; // larger projects draw their lineage graph only when asked
const REDRAW_MS = 150; // a burst of eye clicks redraws the charts once

export async function projectPage(app, project) {
  setCrumbs("/ ", projectLink(project));
  performance.mark("fp-runs-start");
  const first = await firstRowsOf(project);
  performance.mark("fp-runs-parsed");
  if (!first.runs.length) throw new Error(`project '${project}' has no runs`);
  let runs = first.runs, byId = new Map(runs.map((r) => [r.id, r]));

  const tableBox = h("section", { className: "box runs-box", id: "runs-box" });
  const extra = h("div", { id: "extra-runs", className: "chips" });
  const charts = h("div", { className: "grid", id: "charts" });
  const head = h("div", { className: "charts-head", id: "charts-head" }, h("h2", {}, "charts"), extra);
  const lineageEl = h("div", { id: "lineage", className: "lineage-graph" });
  const lineageBox = h("details", { className: "box lineage-box", id: "lineage-box" },
    h("summary", {}, h("h2", {}, "lineage"), h("span", { className: "muted" }, " select a sub-tree to chart it")), lineageEl);
  if ((first.total ?? runs.length) <= LINEAGE_AUTO) lineageBox.open = true;
  app.replaceChildren(h("div", { className: "workspace" },
    h("div", { className: "ws-left" }, tableBox, lineageBox),
    h("div", { className: "ws-right" }, head, charts)));

  // a run is charted with its colour; ids that are not table rows (archived branches "<id>~k"
  // selected in the lineage) are listed above the charts, each with a button to drop it
  const asRuns = (ids) => ids.map((id) => ({ id, color: colorOf(id) }));
  let grid = null, timer = 0;
  const showExtra = (ids) => extra.replaceChildren(...ids.filter((id) => !byId.has(id)).map((id) => {
    const sw = h("span", { className: "swatch" });
    sw.style.background = colorOf(id);
    const drop = h("button", { type: "button", className: "chip-x", title: "remove from the charts", dataset: { run: id } }, "×");
    drop.onclick = () => table.setVisible(table.visible().filter((x) => x !== id));
    return h("span", { className: "chip", dataset: { run: id } }, sw, runLink(id), drop);
  }));
  const onVisible = (ids) => {
    showExtra(ids);
    clearTimeout(timer);
    timer = setTimeout(() => { if (grid) drawn(grid.setRuns(asRuns(ids)), ids); }, REDRAW_MS);
  };
  // the charts head says which runs the grid has drawn (data-runs, space separated): tests and
  // users wait on it rather than on the grid's internals
  let seq = 0;
  const drawn = (promise, ids) => {
    const mine = ++seq;
    delete head.dataset.runs;
    Promise.resolve(promise).then(() => { if (mine === seq) head.dataset.runs = ids.join(" "); }, () => {});
  };
  const table = runsTable(tableBox, runs, first.columns, { project, onVisible, total: first.total });
  performance.mark("fp-table-built"); // DOM built; the browser's Element Timing says when it was painted
  if (first.total !== undefined && first.total > runs.length) { // the first rows, once on screen; then all of them
    await onScreen();
    const all = await api.runs(project);
    runs = all.runs;
    byId = new Map(runs.map((r) => [r.id, r]));
    table.setRows(runs, all.columns);
  }
  performance.mark("fp-table-complete"); // every run in the table (benchmarks/bench_ui.py)

  // after the first paint: charts, lineage, live states
  await nextFrame();
  grid = chartGrid(charts, asRuns(table.visible()), null, { live: true });
  drawn(grid.ready, table.visible());
  const loadLineage = async () => {
    if (lineageEl.dataset.loaded) return;
    lineageEl.dataset.loaded = "1";
    try {
      const graph = await api.lineage({ project });
      lineageGraph(lineageEl, graph, {
        onOpen: (id) => { location.href = `/run/${encodeURIComponent(id)}`; },
        onSelect: (ids) => table.setVisible(ids),
      });
    } catch (err) {
      lineageEl.replaceChildren(h("div", { className: "muted" }, `lineage unavailable: ${err.message}`));
    }
  };
  if (lineageBox.open) loadLineage(); else lineageBox.addEventListener("toggle", loadLineage, { once: true });
  const running = runs.filter((r) => r.state === "running").map((r) => r.id);
  if (running.length) {
    watch(running, (id, st) => table.update(id, st ? { state: st.state, last_step: st.last_step, updated_at: st.updated_at }
      : { state: "deleted" })); // null: the run is gone from the store
  }
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// Resolves once the browser has painted the runs table's first rows (Element Timing: their name
// cells carry elementtiming="runs-table"), or after a frame and PAINT_WAIT_MS where the browser does
// not report it. The whole table (megabytes to receive and parse) waits for this: on a busy machine
// it would otherwise hold the first rows' frame back.
const PAINT_WAIT_MS = 300;
function onScreen() {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); if (observer) observer.disconnect(); resolve(); };
    const timer = setTimeout(done, PAINT_WAIT_MS);
    let observer = null;
    if ((PerformanceObserver.supportedEntryTypes || []).includes("element")) {
      observer = new PerformanceObserver((list) => { if (list.getEntries().some((e) => e.identifier === "runs-table")) done(); });
      observer.observe({ type: "element", buffered: true });
    } else {
      nextFrame().then(done);
    }
  });
}

// The rows the table paints first: the answer to the request early.js sent before the modules
// loaded when it is this project's (the first screenful, with `total`, or the whole table), else
// the whole table.
async function firstRowsOf(project) {
  const early = window.forkpointEarly;
  delete window.forkpointEarly;
  if (!early || early.project !== project) return api.runs(project);
  const r = await early.response;
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
