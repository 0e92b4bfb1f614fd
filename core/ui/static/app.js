// forkpoint UI: runs table, run page (charts, config, summary, lineage), compare page.
// Every string that comes from the store (run ids, names, tags, metric keys, config) is inserted
// as text (textContent, setAttribute, dataset), never parsed as HTML: a run named
// `<img src=x onerror=...>` shows as exactly that. The server's CSP allows no inline script either.
"use strict";
const app = document.getElementById("app");
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const STATES = new Set(["running", "finished", "crashed", "archived"]);
const KINDS = new Set(["run", "fork", "rewind"]);
const TREE_INDENT_CAP = 30; // deeper lineages keep this indent and say their depth

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// h("td", {className: "x", dataset: {run: id}}, "text", childNode, ...): an element built from text.
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "className" || k === "id" || k === "type" || k === "value" || k === "checked") el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : v ?? "");
const runLink = (id) => h("a", { href: `/run/${encodeURIComponent(id)}` }, id);
// "<ref>?_step=N": a link to the branch, then the step as text
const pointLink = (point) => {
  const q = point.indexOf("?");
  return q < 0 ? [runLink(point)] : [runLink(point.slice(0, q)), point.slice(q)];
};
const stateClass = (s) => (STATES.has(s) ? "state-" + s : "");
const setCrumbs = (...parts) => document.getElementById("crumbs").replaceChildren(...parts);

// ---- runs table --------------------------------------------------------------------------------
async function runsPage() {
  const { runs } = await getJSON("/api/runs");
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].slice(0, 4);
  const cols = [["name", "name"], ["id", "id"], ["project", "project"], ["state", "state"], ["kind", "kind"],
    ["last_step", "last step"], ...metricKeys.map((k) => ["summary." + k, k]), ["parent", "parent"], ["created_at", "created"]];
  let sortKey = "created_at", asc = false, filter = "";
  const val = (r, k) => (k.startsWith("summary.") ? r.summary[k.slice(8)] : r[k]);
  const search = h("input", { type: "search", id: "filter", placeholder: "filter runs…" });
  const compare = h("a", { id: "compare", href: "#" }, "compare selected");
  const thead = h("thead"), tbody = h("tbody");
  app.replaceChildren(search, " ", compare, h("table", { id: "runs" }, thead, tbody));
  const cell = (r, k) => {
    const v = val(r, k);
    if (k === "id") return h("td", {}, runLink(r.id));
    if (k === "parent") return h("td", {}, v ? pointLink(v) : "");
    if (k === "created_at") return h("td", {}, new Date(v * 1000).toISOString().slice(0, 19).replace("T", " "));
    if (k === "state") return h("td", { className: stateClass(v) }, v);
    if (k === "kind") return h("td", { className: KINDS.has(v) ? "kind-" + v : "" }, v);
    return h("td", {}, fmt(v));
  };
  const draw = () => {
    const rows = runs.filter((r) => !filter || JSON.stringify([r.id, r.name, r.project, r.tags]).toLowerCase().includes(filter))
      .sort((a, b) => { const x = val(a, sortKey), y = val(b, sortKey); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
    thead.replaceChildren(h("tr", {}, h("th"), cols.map(([k, label]) => {
      const th = h("th", { dataset: { key: k }, className: k === sortKey ? "sorted" + (asc ? " asc" : "") : "" }, label);
      th.onclick = () => { asc = k === sortKey ? !asc : true; sortKey = k; draw(); };
      return th;
    })));
    tbody.replaceChildren(...rows.map((r) => h("tr", { dataset: { run: r.id } },
      h("td", {}, h("input", { type: "checkbox", value: r.id })), cols.map(([k]) => cell(r, k)))));
  };
  search.oninput = (e) => { filter = e.target.value.toLowerCase(); draw(); };
  compare.onclick = (e) => {
    e.preventDefault();
    const ids = [...tbody.querySelectorAll("input:checked")].map((c) => c.value);
    if (ids.length) location.href = "/compare?runs=" + ids.map(encodeURIComponent).join(",");
  };
  draw();
}

// ---- charts ------------------------------------------------------------------------------------
// series: [{label, steps, values, dash?, color}], marks: [{step, label}]
function chart(el, key, series, marks) {
  const steps = [...new Set(series.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const data = [steps, ...series.map((s) => {
    const col = new Array(steps.length).fill(null);
    s.steps.forEach((st, i) => { col[index.get(st)] = s.values[i]; });
    return col;
  })];
  const box = h("div", { className: "chart", dataset: {
    key,
    series: JSON.stringify(series.map((s) => ({ label: s.label, points: s.steps.length }))),
    marks: JSON.stringify(marks.map((m) => m.step)),
  } }, h("h3", {}, key));
  el.appendChild(box);
  const markPlugin = { hooks: { draw: [(u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#f59e0b"; ctx.lineWidth = 2; ctx.setLineDash([4, 4]);
    for (const m of marks) {
      const x = u.valToPos(m.step, "x", true);
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    }
    ctx.restore();
  }] } };
  new uPlot({
    width: 460, height: 240, plugins: [markPlugin], scales: { x: { time: false } },
    series: [{ label: "_step" }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: s.width || 1.5,
      dash: s.dash, spanGaps: true, points: { show: false } }))],
    axes: [{}, { size: 60 }],
  }, data, box);
}

async function seriesFor(ref, key) {
  return getJSON(`/api/run/${encodeURIComponent(ref)}/series?key=${encodeURIComponent(key)}&points=1500`);
}

// ---- run page ----------------------------------------------------------------------------------
// The tree arrives flat and depth first: one <li> per node, indented by depth (a loop, any depth).
function treeList(nodes, current) {
  return h("ul", { className: "tree" }, nodes.map((n) => {
    const li = h("li", { className: n.id === current ? "current" : "" },
      n.relation === "root" ? "" : n.relation + " ", runLink(n.id),
      " ", h("span", { className: "muted" }, `[${n.state}]${n.label ? " " + n.label : ""}`),
      n.depth > TREE_INDENT_CAP ? h("span", { className: "muted" }, ` (depth ${n.depth})`) : "");
    li.style.paddingLeft = `${Math.min(n.depth, TREE_INDENT_CAP) * 16}px`;
    return li;
  }));
}

function box(title, ...children) {
  return h("div", { className: "box" }, h("h2", {}, title), children);
}

async function runPage(ref) {
  const run = await getJSON(`/api/run/${encodeURIComponent(ref)}`);
  setCrumbs(`/ ${run.project} / ${run.id}`);
  const head = box("", `state `, h("b", { className: stateClass(run.state) }, run.state), `, kind `, h("b", {}, run.kind),
    `, last step ${run.last_step ?? ""}`, run.parent ? [", parent ", ...pointLink(run.parent)] : "");
  head.querySelector("h2").append(run.name ?? "", " ", h("span", { className: "muted" }, run.id));
  const lineage = box("lineage", treeList(run.tree, run.id));
  lineage.id = "lineage";
  const showArchived = h("input", { type: "checkbox", id: "show-archived" });
  const showChildren = h("input", { type: "checkbox", id: "show-children" });
  const grid = h("div", { className: "grid", id: "charts" });
  app.replaceChildren(
    h("div", { className: "cols" }, head, lineage,
      box("summary", h("pre", { id: "summary" }, JSON.stringify(run.summary_all, null, 1))),
      box("config", h("pre", { id: "config" }, JSON.stringify(run.config, null, 1)),
        run.config_changes.length ? h("div", { className: "muted" }, `changed here: ${run.config_changes.join(", ")}`) : "")),
    h("div", { className: "toggles" },
      h("label", {}, showArchived, ` archived branches (${run.archived.length})`),
      h("label", {}, showChildren, ` child forks (${run.children.length})`)),
    grid);
  const draw = async () => {
    grid.replaceChildren();
    delete grid.dataset.ready;
    const extra = [
      ...(showArchived.checked ? run.archived.map((a) => a.id) : []),
      ...(showChildren.checked ? run.children.map((c) => c.id) : []),
    ];
    for (const key of run.keys) {
      const main = await seriesFor(run.id, key);
      const series = main.series.map((s) => ({ label: s.label, steps: s.steps, values: s.values,
        color: s.part === "inherited" ? "#9ca3af" : COLORS[0], dash: s.part === "inherited" ? [6, 4] : undefined, width: 2 }));
      for (const [i, id] of extra.entries()) {
        const other = await seriesFor(id, key);
        const own = other.series.filter((s) => s.part === "own" || id.includes("~"));
        for (const s of own) series.push({ label: id, steps: s.steps, values: s.values, color: COLORS[(i + 1) % COLORS.length] });
      }
      chart(grid, key, series, main.branch_points);
    }
    grid.dataset.ready = "1";
  };
  showArchived.onchange = draw;
  showChildren.onchange = draw;
  await draw();
}

// ---- compare -----------------------------------------------------------------------------------
async function comparePage(ids) {
  setCrumbs("/ compare " + ids.join(", "));
  const runs = await Promise.all(ids.map((id) => getJSON(`/api/run/${encodeURIComponent(id)}`)));
  const keys = [...new Set(runs.flatMap((r) => r.keys))].sort();
  const links = [];
  runs.forEach((r, i) => { if (i) links.push(" · "); links.push(runLink(r.id)); });
  const grid = h("div", { className: "grid", id: "charts" });
  app.replaceChildren(h("div", { className: "muted" }, links), grid);
  for (const key of keys) {
    const series = [];
    for (const [i, r] of runs.entries()) {
      if (!r.keys.includes(key)) continue;
      const got = await seriesFor(r.id, key);
      const steps = got.series.flatMap((s) => s.steps), values = got.series.flatMap((s) => s.values);
      series.push({ label: r.id, steps, values, color: COLORS[i % COLORS.length] });
    }
    chart(grid, key, series, []);
  }
  grid.dataset.ready = "1";
}

async function route() {
  try {
    const path = decodeURIComponent(location.pathname);
    if (path.startsWith("/run/")) return await runPage(path.slice(5).replace(/\/$/, ""));
    if (path.startsWith("/compare")) return await comparePage((new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean));
    return await runsPage();
  } catch (err) {
    app.replaceChildren(h("div", { className: "box", id: "error" }, err.message));
  }
}
route();
