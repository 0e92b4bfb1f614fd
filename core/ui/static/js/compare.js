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

export async function comparePage(app, ids) {
  ids = [...new Set(ids)];
  if (!ids.length) throw new Error("nothing to compare: open /compare?runs=a,b or select runs in a project's table");
  const runs = await Promise.all(ids.map((id) => api.run(id)));
  const projects = [...new Set(runs.map((r) => r.project))];
  setCrumbs("/ ", ...(projects.length === 1 ? [projectLink(projects[0]), " / "] : []), `compare ${runs.length} runs`);

  const configs = runs.map((r) => flatten(r.config));
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].sort();
  const same = (k) => {
    const vals = configs.map((c) => (Object.prototype.hasOwnProperty.call(c, k) ? JSON.stringify(c[k]) : undefined));
    return vals.every((v) => v === vals[0]);
  };
  const differing = keys.filter((k) => !same(k));
  const allKeys = h("input", { type: "checkbox", id: "diff-all" });
  const diffBody = h("tbody");
  const diffCount = h("span", { className: "muted", id: "diff-count" });
  const drawDiff = () => {
    const list = allKeys.checked ? keys : differing;
    diffBody.replaceChildren(...list.map((k) => h("tr", { dataset: { key: k }, className: differing.includes(k) ? "differs" : "" },
      h("th", { scope: "row" }, k),
      configs.map((c) => (Object.prototype.hasOwnProperty.call(c, k)
        ? h("td", { title: show(c[k]) }, show(c[k]))
        : h("td", { className: "missing", title: "not in this run's config" }, MISSING))))));
    if (!list.length) {
      diffBody.append(h("tr", {}, h("td", { colSpan: runs.length + 1, className: "muted" },
        keys.length ? "every config key has the same value in these runs" : "these runs have no config")));
    }
    diffCount.textContent = ` ${differing.length} of ${keys.length} keys differ`;
  };
  allKeys.addEventListener("change", drawDiff);
  const diff = h("table", { id: "config-diff", className: "diff-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "config key"), runs.map((r) => h("th", { dataset: { run: r.id } },
      swatch(r.id), runLink(r.id), r.name && r.name !== r.id ? h("div", { className: "muted" }, r.name) : "")))),
    diffBody);
  drawDiff();

  const legend = h("div", { className: "compare-runs", id: "compare-runs" }, runs.map((r) => h("span", { className: "chip", dataset: { run: r.id } },
    swatch(r.id), runLink(r.id), r.name && r.name !== r.id ? h("span", {}, " " + r.name) : "",
    h("span", { className: "muted " + stateClass(r.state) }, ` ${r.state}`))));
  const charts = h("div", { className: "grid", id: "charts" });
  const diffBox = box("config diff", diffCount, " ", h("label", {}, allKeys, " show every key"), h("div", { className: "diff-scroll" }, diff));
  diffBox.id = "diff-box";
  app.replaceChildren(h("div", { className: "compare-page" }, legend, diffBox, charts));
  chartGrid(charts, runs.map((r) => ({ id: r.id, color: colorOf(r.id) })), null, { live: runs.some((r) => r.state === "running") });
}
