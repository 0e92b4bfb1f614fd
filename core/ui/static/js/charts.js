// Charts: one uPlot panel per metric. (uPlot is loaded as a classic script: the global `uPlot`.)
import { h } from "./dom.js";

// series: [{label, steps, values, dash?, color, width?}], marks: [{step, label}]
export function chart(el, key, series, marks) {
  const steps = [...new Set(series.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const data = [steps, ...series.map((s) => {
    const col = new Array(steps.length).fill(null);
    s.steps.forEach((st, i) => { col[index.get(st)] = s.values[i]; });
    return col;
  })];
  const panel = h("div", { className: "chart", dataset: {
    key,
    series: JSON.stringify(series.map((s) => ({ label: s.label, points: s.steps.length }))),
    marks: JSON.stringify(marks.map((m) => m.step)),
  } }, h("h3", {}, key));
  el.appendChild(panel);
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
  // eslint-disable-next-line no-undef
  new uPlot({
    width: 460, height: 240, plugins: [markPlugin], scales: { x: { time: false } },
    series: [{ label: "_step" }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: s.width || 1.5,
      dash: s.dash, spanGaps: true, points: { show: false } }))],
    axes: [{}, { size: 60 }],
  }, data, panel);
}

// The chart grid every page uses (workspace, run page, compare). STUB: one panel per key via
// /api/run/<ref>/series, run by run; to be replaced by the full grid (issue 15).
//   runs: [{id, label?, color?}]  keys: metric keys (default: every key of the runs, fetched)
//   options.marks: draw branch points; options.inheritedGrey: the first run's inherited part in grey
// Returns {setRuns(runs), refresh(), destroy()}. The container gets data-ready="1" when drawn.
export function chartGrid(container, runs, keys, options = {}) {
  let current = runs;
  const draw = async () => {
    delete container.dataset.ready;
    container.replaceChildren();
    const api = await import("./api.js");
    const { colorOf } = await import("./dom.js");
    let ks = keys;
    if (!ks) ks = [...new Set((await Promise.all(current.map((r) => api.run(r.id)))).flatMap((r) => r.keys))].sort();
    for (const key of ks) {
      const series = [];
      let marks = [];
      for (const [i, r] of current.entries()) {
        const got = await api.series(r.id, key).catch(() => null);
        if (!got) continue;
        if (i === 0 && options.marks) marks = got.branch_points;
        for (const s of got.series) {
          const grey = options.inheritedGrey && i === 0 && s.part === "inherited";
          series.push({ label: s.label, steps: s.steps, values: s.values, color: grey ? "#9ca3af" : (r.color || colorOf(r.id)),
            dash: s.part === "inherited" ? [6, 4] : undefined });
        }
      }
      chart(container, key, series, marks);
    }
    container.dataset.ready = "1";
  };
  const ready = draw();
  return { ready, setRuns: (rs) => { current = rs; return draw(); }, refresh: draw, destroy: () => container.replaceChildren() };
}
