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

// One colour per run, the same on every page and in every chart: a hash of the run id (archived
// branches "<id>~k" hash differently from their run, so they get their own colour). Hashes can
// collide, so a page showing a set of branches together (a lineage) calls distinctColors(ids)
// first: each id then keeps its hash colour unless an earlier id of the set took it, and moves to
// the next free one. Charts and graph read colorOf, so they agree.
const assigned = new Map();

function hashColor(id) {
  let x = 2166136261;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 16777619);
  return (x >>> 0) % COLORS.length;
}

export function colorOf(id) {
  return assigned.get(id) ?? COLORS[hashColor(id)];
}

export function distinctColors(ids) {
  const used = new Set();
  for (const id of ids) {
    let k = hashColor(id);
    for (let tries = 0; tries < COLORS.length && used.has(COLORS[k]); tries++) k = (k + 1) % COLORS.length;
    used.add(COLORS[k]);
    assigned.set(id, COLORS[k]);
    if (used.size === COLORS.length) used.clear(); // more branches than colours: start over
  }
}
