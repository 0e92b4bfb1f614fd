// The run page: who the run is, its lineage at the centre, then its charts (the part inherited
// from a fork parent grey and dashed, branch points marked) with any branches of the lineage
// overlaid, its media, summary and config.
import * as api from "./api.js";
import { chartGrid } from "./charts.js";
import { box, colorOf, h, pointLink, projectLink, setCrumbs, stateClass } from "./dom.js";
import { lineageGraph } from "./lineage.js";
import { watch } from "./live.js";
import { mediaPanels } from "./media.js";

// Nested config/summary as rows of dotted keys (a.b.c), sorted: one table readable at a glance; lists and
// media references shown as their compact JSON.
function flat(obj, prefix = "", out = []) {
  const stack = [[obj, prefix]];
  while (stack.length) {
    const [o, pre] = stack.pop();
    for (const [k, v] of Object.entries(o).reverse()) {
      if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length && !("_type" in v)) stack.push([v, pre + k + "."]);
      else out.push([pre + k, v]);
    }
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

// config as logged (0.1 stays 0.1), summary values to 6 significant digits without trailing zeros
function kvTable(id, obj, changed = [], num = String) {
  const rows = flat(obj || {});
  if (!rows.length) return h("div", { className: "muted", id }, "none");
  const mark = new Set(changed);
  return h("table", { className: "kv", id }, h("tbody", {}, rows.map(([k, v]) =>
    h("tr", { dataset: { key: k }, className: mark.has(k) || mark.has(k.split(".")[0]) ? "changed" : "" },
      h("td", {}, k), h("td", {}, typeof v === "string" ? v : typeof v === "number" ? num(v) : JSON.stringify(v))))));
}

const when = (t) => (t ? new Date(t * 1000).toISOString().slice(0, 19).replace("T", " ") : "");

function header(run) {
  const badge = h("span", { className: `badge ${stateClass(run.state)}`, id: "run-state", dataset: { state: run.state } }, run.state);
  const facts = [
    ["kind", run.kind], ["last step", run.last_step ?? "none"], ["group", run.group], ["job type", run.job_type],
    ["created", when(run.created_at)],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  const head = box("", h("div", { className: "run-head" }, badge,
    facts.map(([k, v]) => h("span", { dataset: { fact: k } }, h("span", { className: "muted" }, k + " "), h("span", {}, String(v)))),
    run.parent ? h("span", {}, h("span", { className: "muted" }, "parent "), pointLink(run.parent)) : "",
    run.tags.length ? h("span", {}, h("span", { className: "muted" }, "tags "), run.tags.join(", ")) : ""),
  run.notes ? h("div", { className: "muted" }, run.notes) : "");
  head.querySelector("h2").append(run.name && run.name !== run.id ? run.name + " " : "", h("span", { className: "muted" }, run.id));
  return { head, badge };
}

export async function runPage(app, ref) {
  const run = await api.run(ref);
  setCrumbs("/ ", projectLink(run.project), ` / ${run.id}`);
  const { head, badge } = header(run);
  const lineage = h("div", { id: "lineage" });
  const showArchived = h("input", { type: "checkbox", id: "show-archived" });
  const showChildren = h("input", { type: "checkbox", id: "show-children" });
  const chips = h("span", { id: "overlay" });
  const clear = h("button", { type: "button", id: "clear-overlay" }, "clear");
  const grid = h("div", { className: "grid", id: "charts" });
  const media = h("div", { id: "media" });
  app.replaceChildren(
    head,
    box("lineage", lineage),
    h("div", { className: "overlay-bar toggles" }, h("b", {}, "overlay"),
      h("label", {}, showArchived, ` archived branches (${run.archived.length})`),
      h("label", {}, showChildren, ` child forks (${run.children.length})`), chips, clear),
    grid,
    run.media && run.media.length ? box("media", media) : "",
    h("details", { className: "box", open: "" }, h("summary", {}, "summary"), kvTable("summary", run.summary_all, [], (v) => String(Number.isInteger(v) ? v : +v.toPrecision(6)))),
    h("details", { className: "box", open: "" }, h("summary", {}, "config"), kvTable("config", run.config, run.config_changes),
      run.config_changes.length ? h("div", { className: "muted" }, `changed here: ${run.config_changes.join(", ")}`) : ""));

  // what is overlaid: the two toggles plus the sub-trees picked in the graph
  let picked = [];
  const overlay = () => {
    const ids = [
      ...(showArchived.checked ? run.archived.map((a) => a.id) : []),
      ...(showChildren.checked ? run.children.map((c) => c.id) : []),
      ...picked,
    ];
    return [...new Set(ids)].filter((id) => id !== run.id);
  };
  let charts = null;
  const redraw = () => {
    const ids = overlay();
    chips.replaceChildren(...ids.map((id) => h("span", { className: "chip", dataset: { run: id } },
      (() => { const sw = h("span", { className: "swatch" }); sw.style.background = colorOf(id); return sw; })(), id)));
    clear.hidden = !picked.length;
    return charts && charts.setRuns([{ id: run.id }, ...ids.map((id) => ({ id }))]);
  };
  showArchived.onchange = redraw;
  showChildren.onchange = redraw;
  clear.hidden = true;
  clear.onclick = () => { picked = []; if (drawn) drawn.setSelected([]); redraw(); };

  const graph = await api.lineage({ run: run.id });
  let drawn = null;
  const drawGraph = (g) => {
    drawn = lineageGraph(lineage, g, { current: run.id, selected: picked, onSelect: (ids) => { picked = ids; redraw(); } });
  };
  drawGraph(graph);
  charts = chartGrid(grid, [{ id: run.id }], run.keys, { marks: true, inheritedGrey: true,
    live: run.state === "running", stepMetrics: run.step_metrics || [] });
  if (run.media && run.media.length) await mediaPanels(media, run);
  if (run.state === "running") {
    // the badge, the last step and the run's bar in the graph follow the writer (the charts
    // follow it themselves: live option)
    const lastStep = head.querySelector("[data-fact='last step'] > span:last-child");
    watch([run.id], async (id, status) => {
      if (!status) return;
      badge.textContent = status.state;
      badge.className = `badge ${stateClass(status.state)}`;
      badge.dataset.state = status.state;
      if (lastStep) lastStep.textContent = String(status.last_step ?? "none");
      const scroller = lineage.querySelector(".lg-scroll");
      const [top, left] = scroller ? [scroller.scrollTop, scroller.scrollLeft] : [0, 0];
      drawGraph(await api.lineage({ run: run.id }));
      const again = lineage.querySelector(".lg-scroll");
      if (again) { again.scrollTop = top; again.scrollLeft = left; }
    });
  }
  await charts.ready;
}
