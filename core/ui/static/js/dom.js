// DOM helpers shared by every page. Every string from the store (run ids, names, tags, metric
// keys, config) goes through h(): inserted as text (textContent, setAttribute, dataset), never
// parsed as HTML, so a run named `<img src=x onerror=...>` shows as exactly that.
export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f",
  "#0d9488", "#b45309", "#4f46e5", "#c026d3"];
export const STATES = new Set(["running", "finished", "crashed", "archived"]);
export const KINDS = new Set(["run", "fork", "rewind"]);

// h("td", {className: "x", dataset: {run: id}}, "text", childNode, ...): an element built from text.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "className" || k === "id" || k === "type" || k === "value" || k === "checked") el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// SVG elements (lineage graph, sparklines): same rules as h(), in the SVG namespace.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : v ?? "");
export const runLink = (id) => h("a", { href: `/run/${encodeURIComponent(id)}` }, id);
export const projectLink = (name) => h("a", { href: `/p/${encodeURIComponent(name)}` }, name);
// "<ref>?_step=N": a link to the branch, then the step as text
export const pointLink = (point) => {
  const q = point.indexOf("?");
  return q < 0 ? [runLink(point)] : [runLink(point.slice(0, q)), point.slice(q)];
};
export const stateClass = (st) => (STATES.has(st) ? "state-" + st : "");
export const setCrumbs = (...parts) => document.getElementById("crumbs").replaceChildren(...parts);
export const box = (title, ...children) => h("div", { className: "box" }, h("h2", {}, title), children);

// One colour per run, the same on every page and in every chart: a pure function of the id. A
// run's colour is a hash of its id; its archived branches "<id>~k" take the colours k steps
// further along the palette (stepping by 5, coprime to its 12 colours), so a run and its archived
// branches never share a colour (up to 11 of them). Unrelated runs may share one, as in W&B;
// hashing by id (rather than by what a page shows) keeps a run's colour the same everywhere.
function hashColor(id) {
  let x = 2166136261;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 16777619);
  return (x >>> 0) % COLORS.length;
}

export function colorOf(id) {
  const m = /^(.*)~(\d+)$/.exec(id);
  if (!m) return COLORS[hashColor(id)];
  return COLORS[(hashColor(m[1]) + 5 * Number(m[2])) % COLORS.length];
}
