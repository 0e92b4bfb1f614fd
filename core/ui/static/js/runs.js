// The runs table: sort by a column, filter, tick runs to compare.
import * as api from "./api.js";
import { fmt, h, KINDS, pointLink, runLink, stateClass } from "./dom.js";

export async function runsPage(app, project) {
  const { runs } = await api.runs(project);
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
