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
