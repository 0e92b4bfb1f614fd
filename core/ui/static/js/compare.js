// The compare page: chosen runs overlaid, one chart per metric.
import * as api from "./api.js";
import { chart } from "./charts.js";
import { COLORS, h, runLink, setCrumbs } from "./dom.js";

export async function comparePage(app, ids) {
  setCrumbs("/ compare " + ids.join(", "));
  const runs = await Promise.all(ids.map((id) => api.run(id)));
  const keys = [...new Set(runs.flatMap((r) => r.keys))].sort();
  const links = [];
  runs.forEach((r, i) => { if (i) links.push(" · "); links.push(runLink(r.id)); });
  const grid = h("div", { className: "grid", id: "charts" });
  app.replaceChildren(h("div", { className: "muted" }, links), grid);
  for (const key of keys) {
    const series = [];
    for (const [i, r] of runs.entries()) {
      if (!r.keys.includes(key)) continue;
      const got = await api.series(r.id, key);
      const steps = got.series.flatMap((s) => s.steps), values = got.series.flatMap((s) => s.values);
      series.push({ label: r.id, steps, values, color: COLORS[i % COLORS.length] });
    }
    chart(grid, key, series, []);
  }
  grid.dataset.ready = "1";
}
