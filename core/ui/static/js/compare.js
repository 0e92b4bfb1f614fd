// The compare page (/compare?runs=a,b,...): the chosen runs overlaid in one chart grid, and a
// config diff: only the (dotted) keys whose values differ, one column per run headed by its colour.
import * as api from "./api.js";
import { chartGrid } from "./charts.js";
import { box, colorOf, h, projectLink, runLink, setCrumbs, stateClass } from "./dom.js";
import { show as cellText } from "./runs.js";

const MISSING = "—"; // a key the run's config does not have

// {"opt": {"lr": 0.1}} -> {"opt.lr": 0.1}; lists and empty objects stay whole values
export function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix + k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) flatten(v, key + ".", out);
    else out[key] = v;
  }
  return out;
}

const show = (v) => (v === null || v === "" ? JSON.stringify(v) : cellText(v)); // null and "" stay visible

function swatch(id) {
  const sw = h("span", { className: "swatch" });
  sw.style.background = colorOf(id);
  return sw;
}

const has = (obj, k) => Object.prototype.hasOwnProperty.call(obj, k);

// One table of dotted keys (rows) by runs (columns): the differing keys only, or every key with
// the "show every key" box. maps: one {key: value} per run.
function keyTable({ id, title, what, runs, maps, onlyDiffering }) {
  const keys = [...new Set(maps.flatMap((m) => Object.keys(m)))].sort();
  const differs = (k) => {
    const vals = maps.map((m) => (has(m, k) ? JSON.stringify(m[k]) : undefined));
    return vals.some((v) => v !== vals[0]);
  };
  const differing = new Set(keys.filter(differs));
  const all = h("input", { type: "checkbox", id: id + "-all", checked: !onlyDiffering });
  const body = h("tbody");
  const count = h("span", { className: "muted", id: id + "-count" });
  const draw = () => {
    const list = all.checked ? keys : keys.filter((k) => differing.has(k));
    body.replaceChildren(...list.map((k) => h("tr", { dataset: { key: k }, className: differing.has(k) ? "differs" : "" },
      h("th", { scope: "row", title: k }, k),
      maps.map((m) => (has(m, k)
        ? h("td", { title: show(m[k]) }, show(m[k]))
        : h("td", { className: "missing", title: `not in this run's ${what}` }, MISSING))))));
    if (!list.length) {
      body.append(h("tr", {}, h("td", { colSpan: runs.length + 1, className: "muted" },
        keys.length ? `every ${what} key has the same value in these runs` : `these runs have no ${what}`)));
    }
    count.textContent = ` ${differing.size} of ${keys.length} keys differ`;
  };
  all.addEventListener("change", draw);
  draw();
  const table = h("table", { id, className: "diff-table" },
    h("thead", {}, h("tr", {}, h("th", {}, what + " key"), runs.map((r) => h("th", { dataset: { run: r.id } },
      swatch(r.id), runLink(r.id), r.name && r.name !== r.id ? h("div", { className: "muted" }, r.name) : "")))),
    body);
  const el = box(title, count, " ", h("label", {}, all, " show every key"), h("div", { className: "diff-scroll" }, table));
  el.id = id + "-box";
  return el;
}

export async function comparePage(app, ids) {
  ids = [...new Set(ids)];
  if (!ids.length) throw new Error("nothing to compare: open /compare?runs=a,b or select runs in a project's table");
  const runs = await Promise.all(ids.map((id) => api.run(id)));
  const projects = [...new Set(runs.map((r) => r.project))];
  setCrumbs("/ ", ...(projects.length === 1 ? [projectLink(projects[0]), " / "] : []), `compare ${runs.length} runs`);

  // each run: its colour, a link, its state, and × to compare the others without it
  const without = (id) => "/compare?runs=" + ids.filter((x) => x !== id).map(encodeURIComponent).join(",");
  const legend = h("div", { className: "compare-runs", id: "compare-runs" }, runs.map((r) => h("span", { className: "chip", dataset: { run: r.id } },
    swatch(r.id), runLink(r.id), r.name && r.name !== r.id ? h("span", {}, r.name) : "",
    h("span", { className: "muted " + stateClass(r.state) }, r.state),
    runs.length > 1 ? h("a", { className: "chip-x", href: without(r.id), title: "leave this run out" }, "×") : "")));
  const config = keyTable({ id: "config-diff", title: "config diff", what: "config", runs, maps: runs.map((r) => flatten(r.config)),
    onlyDiffering: true });
  // summaries: the scalar ones (media references and long text stay on the run page)
  const scalars = (s) => Object.fromEntries(Object.entries(s || {}).filter(([k, v]) => !k.startsWith("_")
    && (v === null || ["number", "boolean"].includes(typeof v) || (typeof v === "string" && v.length <= 200))));
  const summary = keyTable({ id: "summary-diff", title: "summary", what: "summary", runs, maps: runs.map((r) => scalars(r.summary_all)),
    onlyDiffering: false });
  const charts = h("div", { className: "grid", id: "charts" });
  app.replaceChildren(h("div", { className: "compare-page" }, legend, h("div", { className: "compare-tables" }, config, summary), charts));
  chartGrid(charts, runs.map((r) => ({ id: r.id, color: colorOf(r.id) })), null, { live: runs.some((r) => r.state === "running") });
}
