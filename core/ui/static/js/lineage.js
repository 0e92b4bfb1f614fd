// The lineage graph: the one view TensorBoard, W&B, trackio and Aim do not have.
//
// A "subway map" on a step axis: one lane per branch (a run, or an archived branch "<id>~k"), a
// thick bar over the steps the branch logged itself (start_step..last_step) and a thin line over
// the steps it shows from the branch it came from (0..branch_step), as the charts draw an
// inherited part dashed. A fork leaves its parent's lane at its branch step; a rewind leaves the
// archived branch at its branch step, and the archived branch's rows after that step (what the
// rewind abandoned) are drawn hatched. Where every branch point is reads off the x axis.
// (A classic top-down tree of the same lineage was tried side by side: it shows who came from whom
// but gives the steps only as text, its rewind edges cross the archived ones, a rewound run sits
// above the branch holding its first rows, and a 600-deep chain is 600 tall levels; on a step axis
// the branch points line up and read off the axis, and lanes pack at 22 px.)
//
// Lanes are laid out depth first: a run, then its archived branches, then the forks of each; the
// walk is a loop with an explicit stack, so a fork chain of any depth lays out (600 deep is tested).
// Every string from the store goes into SVG <text>/<title> as text (dom.js s()).
import { colorOf, h, s } from "./dom.js";

const LANE = 22; // px per lane
const LABEL = 190; // px for the lane labels on the left
const PAD = 14;
const MAX_HEIGHT = 520; // px before the graph scrolls

// The tree the lanes follow: archived branches under their run, forks under the branch they read
// their prefix from. Rewind edges are drawn but do not shape the tree (a run and its archived
// branch point at each other).
function laneOrder(nodes, edges) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const below = new Map(nodes.map((n) => [n.id, []]));
  const hasParent = new Set();
  for (const e of edges) {
    if ((e.relation === "archived" || e.relation === "fork") && byId.has(e.source) && byId.has(e.target)) {
      below.get(e.source).push(e);
      hasParent.add(e.target);
    }
  }
  // archived branches first (oldest first), then forks by branch step
  const rank = (e) => [e.relation === "archived" ? 0 : 1, e.relation === "archived" ? ordinal(e.target) : e.step ?? 0];
  for (const list of below.values()) {
    list.sort((a, b) => { const x = rank(a), y = rank(b); return x[0] - y[0] || x[1] - y[1] || (a.target < b.target ? -1 : 1); });
  }
  const roots = nodes.filter((n) => !hasParent.has(n.id));
  const order = [];
  const depth = new Map();
  const seen = new Set();
  const stack = roots.slice().reverse().map((n) => [n.id, 0]);
  while (stack.length) {
    const [id, d] = stack.pop();
    if (seen.has(id)) continue; // a damaged store could hold a cycle; a lineage never does
    seen.add(id);
    order.push(id);
    depth.set(id, d);
    const kids = below.get(id) || [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i].target, d + 1]);
  }
  for (const n of nodes) if (!seen.has(n.id)) { order.push(n.id); depth.set(n.id, 0); } // unreachable: still shown
  return { order, depth, below };
}

const ordinal = (id) => { const k = id.lastIndexOf("~"); return k < 0 ? 0 : Number(id.slice(k + 1)) || 0; };

// Every branch below `id` in the lane tree, `id` first.
function subtree(id, below) {
  const out = [];
  const stack = [id];
  const seen = new Set();
  while (stack.length) {
    const x = stack.pop();
    if (seen.has(x)) continue;
    seen.add(x);
    out.push(x);
    for (const e of below.get(x) || []) stack.push(e.target);
  }
  return out;
}

function niceTicks(max, count) {
  if (max <= 0) return [0];
  const raw = max / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw); // steps are integers
  const out = [];
  for (let i = 0; i * step <= max; i++) out.push(Math.round(i * step));
  return out;
}

// The branch's own rows; for an archived branch left at step `left`, the rows after it hatched.
function bar(from, to, yy, color, left) {
  // rects, not lines: a horizontal <line> has a zero-height box, which is not clickable
  const line = (a, b, cls) => s("rect", { class: cls, x: a - 3, y: yy - 3.5, width: Math.max(b - a, 0) + 6, height: 7, rx: 3.5,
    fill: color });
  if (left == null || left >= to) return line(xs(from), xs(to), "lg-bar");
  const cut = Math.max(from, left);
  const gone = line(xs(cut), xs(to), "lg-bar abandoned");
  const hatch = line(xs(cut), xs(to), "lg-bar lg-hatch");
  hatch.setAttribute("fill", "url(#lg-hatch)");
  return s("g", {}, cut > from ? line(xs(from), xs(cut), "lg-bar") : null, gone, hatch);
}

// The diagonal hatching of what a rewind abandoned (a pattern, so it reads without colour too).
const defs = () => s("defs", {}, s("pattern", { id: "lg-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse",
  patternTransform: "rotate(45)" }, s("rect", { width: 2.5, height: 6, fill: "#fff" })));

let xs = (v) => v; // the step -> px scale of the graph being drawn (set by lineageGraph)

const observers = new WeakMap(); // container -> the ResizeObserver of the graph drawn in it

// graph: /api/lineage's {nodes, edges}; options: {current, onOpen(id), onSelect(ids), selected: ids}.
// Click a lane's label or bar to open it; shift-click, or its "⊕" button, selects the branch and
// everything below it (onSelect). The container's data-ready="1" says the graph is drawn; it is
// drawn again at the container's new width when that changes (window resized, panel opened).
export function lineageGraph(container, graph, options = {}) {
  const { nodes, edges } = graph;
  const onOpen = options.onOpen || ((id) => { location.href = `/run/${encodeURIComponent(id)}`; });
  const onSelect = options.onSelect || (() => {});
  const { order, depth, below } = laneOrder(nodes, edges);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const lane = new Map(order.map((id, i) => [id, i]));
  const maxStep = Math.max(1, ...nodes.map((n) => n.last_step ?? 0), ...edges.map((e) => e.step ?? 0));
  const y = (id) => 28 + lane.get(id) * LANE + LANE / 2;
  const height = 28 + order.length * LANE + 8;
  // where each archived branch was left: its rows after this step are no run's visible history
  const leftAt = new Map(edges.filter((e) => e.relation === "archived").map((e) => [e.target, e.step]));

  // the overlaid branches are marked in the graph too (data-selected="1"), so graph and charts agree
  const laneEls = new Map();
  let selected = options.selected || [];
  const setSelected = (ids) => {
    selected = ids;
    const on = new Set(ids);
    for (const [id, el] of laneEls) {
      el.classList.toggle("selected", on.has(id));
      el.dataset.selected = on.has(id) ? "1" : "0";
    }
  };
  const select = (id) => { const ids = subtree(id, below); setSelected(ids); onSelect(ids); };

  let drawnWidth = 0, scroller = null;
  function draw() {
    const width = Math.max(560, container.clientWidth || 900);
    if (width === drawnWidth) return;
    const first = !drawnWidth;
    drawnWidth = width;
    const plotW = width - LABEL - 2 * PAD - 110; // the right margin holds "archived @N" and ⊕
    const x = (step) => LABEL + PAD + (Math.max(0, step) / maxStep) * plotW;
    xs = x;

    const axis = s("g", { class: "lg-axis" }, niceTicks(maxStep, 8).map((t) => s("g", {},
      s("line", { x1: x(t), x2: x(t), y1: 18, y2: height - 4 }),
      s("text", { x: x(t), y: 12, "text-anchor": "middle" }, String(t)))),
    s("text", { x: LABEL + PAD - 6, y: 12, "text-anchor": "end" }, "_step"));

    laneEls.clear();
    const lanes = order.map((id) => {
      const n = byId.get(id);
      const color = colorOf(id);
      const from = n.start_step ?? 0, to = n.last_step ?? from;
      const yy = y(id);
      const label = n.archived ? `${id}` : n.name && n.name !== id ? `${n.name} (${id})` : id;
      const indent = Math.min(depth.get(id), 12) * 8;
      const tip = `${n.name ?? id} ${id}\n${n.archived ? "archived branch" : n.kind} · ${n.state}\n` +
        `own steps ${n.last_step == null ? "none" : `${from}..${to}`}` + (n.branch_step != null ? ` · branched at ${n.branch_step}` : "");
      const g = s("g", {
        class: `lg-lane state-${n.state}${n.archived ? " archived" : ""}${id === options.current ? " current" : ""}`,
        "data-node": id, "data-state": n.state, "data-archived": n.archived ? "1" : "0", "data-lane": lane.get(id),
        "data-from": from, "data-to": to, "data-color": color,
      },
      s("title", {}, tip),
      s("rect", { class: "lg-band", x: 0, y: yy - LANE / 2, width, height: LANE }),
      s("a", { href: `/run/${encodeURIComponent(id)}`, class: "lg-label" },
        s("circle", { cx: 8 + indent, cy: yy, r: 4, class: "lg-dot" }),
        s("text", { x: 16 + indent, y: yy + 4 }, label.length > 26 ? label.slice(0, 25) + "…" : label)),
      n.branch_step == null ? null : s("rect", { class: "lg-prefix", x: x(0), y: yy - 1, width: x(n.branch_step) - x(0), height: 2,
        fill: color }),
      n.last_step == null ? null : bar(from, to, yy, color, n.archived ? leftAt.get(id) : null),
      s("text", { class: "lg-select", x: width - 18, y: yy + 4, "data-select": id, role: "button" }, "⊕",
        s("title", {}, `overlay ${id} and everything below it`)));
      g.addEventListener("click", (ev) => {
        const t = ev.target;
        if (t.closest && t.closest(".lg-select")) { ev.preventDefault(); select(id); return; }
        if (ev.shiftKey) { ev.preventDefault(); select(id); return; }
        ev.preventDefault();
        onOpen(id);
      });
      laneEls.set(id, g);
      return g;
    });

    // connectors: from the source lane at the branch step down (or up) to where the branch starts
    const links = edges.filter((e) => e.relation !== "archived" && lane.has(e.source) && lane.has(e.target)).map((e) => {
      const t = byId.get(e.target);
      const x0 = x(e.step ?? 0), y0 = y(e.source), y1 = y(e.target), x1 = x(t.start_step ?? e.step ?? 0);
      const mid = (y0 + y1) / 2;
      return s("g", { class: `lg-edge ${e.relation}`, "data-edge": `${e.source}->${e.target}`, "data-relation": e.relation,
        "data-step": e.step },
      s("path", { d: `M${x0},${y0} C${x0},${mid} ${x0},${y1} ${Math.max(x1, x0 + 1)},${y1}` }),
      s("circle", { cx: x0, cy: y0, r: 3 }),
      s("text", { x: x0 + 4, y: (y0 < y1 ? y0 + 12 : y0 - 5) }, `${e.relation} @${e.step}`));
    });

    // archived edges (run -> its archived branch): a cut on the archived lane where the rewind left
    // it, named at the end of what it abandoned
    const cuts = edges.filter((e) => e.relation === "archived" && lane.has(e.source) && lane.has(e.target)).map((e) => {
      const t = byId.get(e.target), yy = y(e.target), xc = x(e.step ?? 0);
      const end = x(Math.max(t.last_step ?? 0, e.step ?? 0));
      return s("g", { class: "lg-edge archived", "data-edge": `${e.source}->${e.target}`, "data-relation": "archived",
        "data-step": e.step },
      s("line", { x1: xc, x2: xc, y1: yy - 7, y2: yy + 7 }),
      s("text", { x: end + 8, y: yy + 4 }, `archived @${e.step}`));
    });

    const svg = s("svg", { class: "lineage-graph", width, height, viewBox: `0 0 ${width} ${height}`,
      "data-nodes": nodes.length, "data-edges": links.length + cuts.length }, defs(), axis, lanes, links, cuts);
    const top = scroller ? scroller.scrollTop : 0;
    scroller = h("div", { className: "lg-scroll" }, svg);
    scroller.style.maxHeight = `${MAX_HEIGHT}px`;
    container.replaceChildren(scroller,
      h("div", { className: "muted lg-help" }, "click a branch to open it · shift-click or ⊕ to overlay it and everything below it"));
    const cur = first && options.current && lane.has(options.current) ? y(options.current) : null;
    if (cur != null && cur > MAX_HEIGHT - 40) scroller.scrollTop = cur - MAX_HEIGHT / 2;
    else if (!first) scroller.scrollTop = top;
    container.dataset.width = String(width);
    setSelected(selected);
  }

  draw();
  container.dataset.ready = "1";
  if (observers.has(container)) observers.get(container).disconnect(); // a graph drawn here before
  let pending = false;
  const observer = new ResizeObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; if (container.isConnected) draw(); });
  });
  observer.observe(container);
  observers.set(container, observer);
  return { subtree: (id) => subtree(id, below), order, setSelected };
}
