// The projects page: every project with its number of runs, running runs and last activity, each
// a link to its workspace; a filter box; sortable columns.
import * as api from "./api.js";
import { compare } from "./runs.js";
import { fmt, h, projectLink, setCrumbs } from "./dom.js";

const COLUMNS = [["name", "project"], ["runs", "runs"], ["running", "running"], ["last_activity", "last activity"]];

// "3 min ago" (the exact time in the title)
export function ago(t) {
  if (typeof t !== "number") return "";
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 60) return "just now";
  for (const [n, unit] of [[86400 * 365, "year"], [86400 * 30, "month"], [86400, "day"], [3600, "hour"], [60, "min"]]) {
    if (s >= n) { const k = Math.floor(s / n); return `${k} ${unit}${k > 1 && unit !== "min" ? "s" : ""} ago`; }
  }
  return "";
}

export async function projectsPage(app) {
  setCrumbs();
  const { projects } = await api.projects();
  if (!projects.length) {
    app.replaceChildren(h("div", { className: "box empty", id: "no-projects" },
      "No runs in this store yet: ", h("code", {}, 'forkpoint.init(project="…")'), " starts one."));
    return;
  }
  let sortKey = "last_activity", asc = false, text = "";
  const filter = h("input", { type: "search", id: "filter", placeholder: "filter projects…", autocomplete: "off" });
  const count = h("span", { className: "muted", id: "project-count" });
  const thead = h("thead"), tbody = h("tbody");
  app.replaceChildren(h("div", { className: "projects-page" },
    h("div", { className: "table-toolbar" }, filter, count),
    h("table", { id: "projects", className: "projects-table" }, thead, tbody)));
  const draw = () => {
    const rows = projects.filter((p) => !text || p.name.toLowerCase().includes(text)).sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      if (x === undefined || x === null || y === undefined || y === null) return (x == null) - (y == null);
      return (asc ? 1 : -1) * compare(x, y) || compare(a.name, b.name);
    });
    thead.replaceChildren(h("tr", {}, COLUMNS.map(([k, label]) => h("th", {
      dataset: { key: k }, className: k === sortKey ? "sorted" + (asc ? " asc" : "") : "" }, label))));
    tbody.replaceChildren(...rows.map((p) => {
      const when = typeof p.last_activity === "number" ? new Date(p.last_activity * 1000).toISOString().slice(0, 19).replace("T", " ") : "";
      return h("tr", { dataset: { project: p.name } },
        h("td", { className: "c-project" }, projectLink(p.name)),
        h("td", { className: "num" }, fmt(p.runs)),
        h("td", { className: "num" + (p.running ? " state-running" : "") }, fmt(p.running ?? "")),
        h("td", { title: when }, ago(p.last_activity)));
    }));
    count.textContent = rows.length === projects.length ? `${projects.length} projects` : `${rows.length} of ${projects.length} projects`;
  };
  thead.addEventListener("click", (e) => {
    const th = e.target.closest("th[data-key]");
    if (!th) return;
    asc = th.dataset.key === sortKey ? !asc : th.dataset.key === "name";
    sortKey = th.dataset.key;
    draw();
  });
  filter.addEventListener("input", () => { text = filter.value.toLowerCase(); draw(); });
  draw();
}
