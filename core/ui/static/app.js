// forkpoint UI: runs table, run page (charts, config, summary, lineage), compare page.
"use strict";
const app = document.getElementById("app");
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : v ?? "");
const runLink = (id) => `<a href="/run/${encodeURIComponent(id)}">${esc(id)}</a>`;

// ---- runs table --------------------------------------------------------------------------------
async function runsPage() {
  const { runs } = await getJSON("/api/runs");
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].slice(0, 4);
  const cols = [["name", "name"], ["id", "id"], ["project", "project"], ["state", "state"], ["kind", "kind"],
    ["last_step", "last step"], ...metricKeys.map((k) => ["summary." + k, k]), ["parent", "parent"], ["created_at", "created"]];
  let sortKey = "created_at", asc = false, filter = "";
  const val = (r, k) => (k.startsWith("summary.") ? r.summary[k.slice(8)] : r[k]);
  app.innerHTML = `<input type="search" id="filter" placeholder="filter runs…"> <a id="compare" href="#">compare selected</a>
    <table id="runs"><thead></thead><tbody></tbody></table>`;
  const draw = () => {
    const rows = runs.filter((r) => !filter || JSON.stringify([r.id, r.name, r.project, r.tags]).toLowerCase().includes(filter))
      .sort((a, b) => { const x = val(a, sortKey), y = val(b, sortKey); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
    app.querySelector("thead").innerHTML = "<tr><th></th>" + cols.map(([k, label]) =>
      `<th data-key="${k}" class="${k === sortKey ? "sorted" + (asc ? " asc" : "") : ""}">${esc(label)}</th>`).join("") + "</tr>";
    app.querySelector("tbody").innerHTML = rows.map((r) => `<tr data-run="${esc(r.id)}"><td><input type="checkbox" value="${esc(r.id)}"></td>` +
      cols.map(([k]) => {
        const v = val(r, k);
        if (k === "id" || k === "name") return `<td>${k === "id" ? runLink(r.id) : esc(v)}</td>`;
        if (k === "parent") return `<td>${v ? runLink(v.split("?")[0]) + esc(v.slice(v.indexOf("?"))) : ""}</td>`;
        if (k === "created_at") return `<td>${new Date(v * 1000).toISOString().slice(0, 19).replace("T", " ")}</td>`;
        return `<td class="${k}-${esc(v)}">${esc(fmt(v))}</td>`;
      }).join("") + "</tr>").join("");
    app.querySelectorAll("th[data-key]").forEach((th) => th.onclick = () => {
      asc = th.dataset.key === sortKey ? !asc : true; sortKey = th.dataset.key; draw();
    });
  };
  app.querySelector("#filter").oninput = (e) => { filter = e.target.value.toLowerCase(); draw(); };
  app.querySelector("#compare").onclick = (e) => {
    e.preventDefault();
    const ids = [...app.querySelectorAll("tbody input:checked")].map((c) => c.value);
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
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.key = key;
  box.dataset.series = JSON.stringify(series.map((s) => ({ label: s.label, points: s.steps.length })));
  box.dataset.marks = JSON.stringify(marks.map((m) => m.step));
  box.innerHTML = `<h3>${esc(key)}</h3>`;
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
function treeHTML(node, current) {
  const mine = node.id === current ? " class=\"current\"" : "";
  const items = [
    ...node.archived.map((a) => `<li${a.id === current ? " class=\"current\"" : ""}>archived ${runLink(a.id)} <span class="muted">(steps ${a.branch_step == null ? 0 : a.branch_step + 1}..${a.last_step})</span></li>`),
    ...node.children.map((c) => treeHTML(c, current)),
  ];
  return `<li${mine}>${node.kind === "fork" ? "fork " : ""}${runLink(node.id)} <span class="muted">[${esc(node.state)}]` +
    `${node.kind === "fork" ? " at _step=" + node.branch_step : ""}${node.kind === "rewind" ? " rewound at _step=" + node.branch_step : ""}</span>` +
    (items.length ? `<ul>${items.join("")}</ul>` : "") + "</li>";
}

async function runPage(ref) {
  const run = await getJSON(`/api/run/${encodeURIComponent(ref)}`);
  document.getElementById("crumbs").innerHTML = `/ ${esc(run.project)} / ${esc(run.id)}`;
  app.innerHTML = `
    <div class="cols">
      <div class="box"><h2>${esc(run.name)} <span class="muted">${esc(run.id)}</span></h2>
        <div>state <b class="state-${esc(run.state)}">${esc(run.state)}</b>, kind <b>${esc(run.kind)}</b>,
        last step ${esc(run.last_step)}${run.parent ? `, parent ${runLink(run.parent.split("?")[0])}${esc(run.parent.slice(run.parent.indexOf("?")))}` : ""}</div></div>
      <div class="box" id="lineage"><h2>lineage</h2><ul class="tree">${treeHTML(run.tree, run.id)}</ul></div>
      <div class="box"><h2>summary</h2><pre id="summary">${esc(JSON.stringify(run.summary_all, null, 1))}</pre></div>
      <div class="box"><h2>config</h2><pre id="config">${esc(JSON.stringify(run.config, null, 1))}</pre>
        ${run.config_changes.length ? `<div class="muted">changed here: ${esc(run.config_changes.join(", "))}</div>` : ""}</div>
    </div>
    <div class="toggles">
      <label><input type="checkbox" id="show-archived"> archived branches (${run.archived.length})</label>
      <label><input type="checkbox" id="show-children"> child forks (${run.children.length})</label>
    </div>
    <div class="grid" id="charts"></div>`;
  const draw = async () => {
    const grid = document.getElementById("charts");
    grid.innerHTML = "";
    const extra = [
      ...(document.getElementById("show-archived").checked ? run.archived.map((a) => a.id) : []),
      ...(document.getElementById("show-children").checked ? run.children.map((c) => c.id) : []),
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
  document.getElementById("show-archived").onchange = draw;
  document.getElementById("show-children").onchange = draw;
  await draw();
}

// ---- compare -----------------------------------------------------------------------------------
async function comparePage(ids) {
  document.getElementById("crumbs").innerHTML = "/ compare " + ids.map(esc).join(", ");
  const runs = await Promise.all(ids.map((id) => getJSON(`/api/run/${encodeURIComponent(id)}`)));
  const keys = [...new Set(runs.flatMap((r) => r.keys))].sort();
  app.innerHTML = `<div class="muted">${runs.map((r) => runLink(r.id)).join(" · ")}</div><div class="grid" id="charts"></div>`;
  const grid = document.getElementById("charts");
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
    app.innerHTML = `<div class="box" id="error">${esc(err.message)}</div>`;
  }
}
route();
