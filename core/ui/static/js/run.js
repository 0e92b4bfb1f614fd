// The run page: state, lineage, summary, config, and one chart per metric (the part inherited from
// a fork parent dashed grey, branch points marked), with archived branches and child forks on demand.
import * as api from "./api.js";
import { chart } from "./charts.js";
import { box, COLORS, h, pointLink, setCrumbs, stateClass } from "./dom.js";
import { treeList } from "./lineage.js";

export async function runPage(app, ref) {
  const run = await api.run(ref);
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
      const main = await api.series(run.id, key);
      const series = main.series.map((s) => ({ label: s.label, steps: s.steps, values: s.values,
        color: s.part === "inherited" ? "#9ca3af" : COLORS[0], dash: s.part === "inherited" ? [6, 4] : undefined, width: 2 }));
      for (const [i, id] of extra.entries()) {
        const other = await api.series(id, key);
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
