// The runs table of a project (W&B's runs table, TensorBoard's run selector): filter, sort, choose
// columns, group, a colour swatch and a visibility toggle per run, a selection for "compare".
// Only the rows in view are in the DOM (a virtualised body between two spacer rows), and sorting and
// filtering work on arrays in memory: 10,000 runs paint as fast as 40.
import { colorOf, h, KINDS, s, stateClass } from "./dom.js";

const ROW_H = 28; // px per row (runs and group headers alike); measured again after the first paint
const OVERSCAN = 15; // rows drawn beyond the view on each side, so a fast scroll shows no blank
export const DEFAULT_VISIBLE = 10; // runs shown in the charts at first, as W&B does
export const MAX_VISIBLE = 100; // "show all" stops here: one chart request carries at most 200 runs
const CHOOSER_CAP = 300; // column chooser entries listed at once (type to narrow)

// Run fields a column can show; "name" is always the first column.
const FIELDS = {
  name: { label: "name", width: 200 },
  id: { label: "id", width: 110 },
  state: { label: "state", width: 78 },
  kind: { label: "kind", width: 64 },
  last_step: { label: "last step", width: 76 },
  created_at: { label: "created", width: 136 },
  updated_at: { label: "updated", width: 136 },
  group: { label: "group", width: 100 },
  job_type: { label: "job type", width: 90 },
  tags: { label: "tags", width: 120 },
  parent: { label: "parent", width: 140 },
  project: { label: "project", width: 100 },
};
const DEFAULT_FIELDS = ["id", "state", "kind", "last_step", "created_at"];
const DEFAULT_SUMMARY = 4; // summary columns shown before the user chooses (not "_runtime" and such)
const missing = (v) => v === undefined || v === null || v === "" || (typeof v === "number" && Number.isNaN(v));
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
// a value as a cell shows it: 0.1 not 0.10000, 6 significant digits, objects as JSON
export const show = (v) => (missing(v) ? "" : typeof v === "number" ? String(Number.isInteger(v) ? v : Number(v.toPrecision(6)))
  : typeof v === "object" ? JSON.stringify(v) : String(v));
const time = (t) => (typeof t === "number" ? new Date(t * 1000).toISOString().slice(0, 19).replace("T", " ") : "");

// A column key: a run field ("state"), "config.<dotted key>" or "summary.<key>".
export function getter(key) {
  if (key.startsWith("config.")) { const k = key.slice(7); return (r) => (r.config ? r.config[k] : undefined); }
  if (key.startsWith("summary.")) { const k = key.slice(8); return (r) => (r.summary ? r.summary[k] : undefined); }
  if (key === "tags") return (r) => (r.tags && r.tags.length ? r.tags.join(", ") : undefined);
  if (key === "name") return (r) => r.name || r.id;
  return (r) => r[key];
}
const label = (key) => (FIELDS[key] ? FIELDS[key].label : key.slice(key.indexOf(".") + 1));

// Numbers as numbers (before strings), strings in natural order; callers put missing values last.
export function compare(a, b) {
  const na = typeof a === "number", nb = typeof b === "number";
  if (na && nb) return a - b;
  if (na !== nb) return na ? -1 : 1;
  return collator.compare(String(a), String(b));
}

// The table's order by column `key`: compare() ascending or its reverse, missing values last in
// either direction, ties in `rows` order. /api/runs?limit= picks its first rows by the same rules
// (views.FirstRows; tests compare the two).
export function sortRows(rows, key, asc) {
  const get = getter(key);
  const keyed = rows.map((r, i) => [get(r), i]);
  keyed.sort((x, y) => {
    const mx = missing(x[0]), my = missing(y[0]);
    if (mx || my) return mx && my ? x[1] - y[1] : mx ? 1 : -1;
    const c = compare(x[0], y[0]);
    return (asc ? c : -c) || x[1] - y[1];
  });
  return keyed.map((x) => rows[x[1]]);
}

// The filter box: words match id, name, tags, group and job type; `key>value`, `key<=value`,
// `key=value`, `key!=value` and `key:value` (contains) test a run field, a config or a summary key
// (`state:running`, `tag:baseline`, `lr>0.01`, `config.opt.lr=0.1`). All terms must hold.
export function compileFilter(text, configKeys, summaryKeys) {
  const terms = text.trim().split(/\s+/).filter(Boolean);
  if (!terms.length) return null;
  const tests = terms.map((term) => {
    const m = /^([^<>=!:]+?)(>=|<=|!=|>|<|=|:)(.+)$/.exec(term);
    const get = m && fieldOf(m[1], configKeys, summaryKeys);
    if (!get) {
      const want = term.toLowerCase();
      return (r) => haystack(r).includes(want);
    }
    const op = m[2], want = m[3], wantLower = want.toLowerCase(), wantNum = Number(want);
    const one = (v) => {
      if (missing(v)) return op === "!=";
      const num = typeof v === "number" && want.trim() !== "" && !Number.isNaN(wantNum);
      const str = String(v).toLowerCase();
      const c = num ? v - wantNum : collator.compare(str, wantLower);
      switch (op) {
        case ":": return num ? c === 0 : str.includes(wantLower);
        case "=": return c === 0;
        case "!=": return c !== 0;
        case ">": return c > 0;
        case "<": return c < 0;
        case ">=": return c >= 0;
        default: return c <= 0;
      }
    };
    return (r) => {
      const v = get(r);
      return Array.isArray(v) ? (op === "!=" ? v.every(one) : v.some(one)) : one(v);
    };
  });
  return (r) => tests.every((t) => t(r));
}

function fieldOf(name, configKeys, summaryKeys) {
  const n = name.toLowerCase();
  if (n === "tag" || n === "tags") return (r) => r.tags || [];
  if (n === "step") return getter("last_step");
  if (FIELDS[n]) return n === "name" ? (r) => r.name : getter(n);
  if (name.startsWith("config.") || name.startsWith("summary.")) return getter(name);
  if (configKeys.has(name)) return getter("config." + name);
  if (summaryKeys.has(name)) return getter("summary." + name);
  return null;
}

const hay = new WeakMap();
function haystack(r) {
  let t = hay.get(r);
  if (t === undefined) {
    t = [r.id, r.name, ...(r.tags || []), r.group, r.job_type].filter((x) => !missing(x)).join("\n").toLowerCase();
    hay.set(r, t);
  }
  return t;
}

// Group-by choices: a run field, each tag (a run is listed under every tag it has) or a config key.
function groupValues(r, by) {
  if (by === "tag") return r.tags && r.tags.length ? r.tags : [undefined];
  return [getter(by)(r)];
}

// The eye of the visibility toggle (an SVG: no icon font, no image request).
function eyeIcon() {
  return s("svg", { viewBox: "0 0 24 24", width: 16, height: 16, "aria-hidden": "true" },
    s("path", { d: "M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z", class: "eye-lid" }),
    s("circle", { cx: 12, cy: 12, r: 3.2, class: "eye-pupil" }),
    s("line", { x1: 3, y1: 21, x2: 21, y2: 3, class: "eye-slash" }));
}

// runsTable(container, rows, columns, options) -> {visible(), setVisible(ids), selected(), update(id, patch), setRows(rows, columns)}
//   rows: /api/runs's runs; columns: its {config, summary} key lists
//   options: {project (localStorage key), onVisible(ids), onSelect(ids), total}
//   total: the table's whole size when `rows` are only its first rows (/api/runs?limit=): the table
//   says it is loading until setRows() gives them all; sort, filter and grouping then apply to all.
export function runsTable(container, rows, columns, options = {}) {
  let configKeys = columns.config || [], summaryKeys = columns.summary || [];
  let configSet = new Set(configKeys), summarySet = new Set(summaryKeys);
  let partial = options.total !== undefined && options.total > rows.length;
  const storeKey = "forkpoint.table." + (options.project ?? "");
  const saved = load(storeKey);
  const known = (k) => FIELDS[k] || (k.startsWith("config.") && configSet.has(k.slice(7)))
    || (k.startsWith("summary.") && summarySet.has(k.slice(8)));
  const defaults = () => [...DEFAULT_FIELDS,
    ...summaryKeys.filter((k) => !k.startsWith("_")).slice(0, DEFAULT_SUMMARY).map((k) => "summary." + k)];
  let cols = (saved.columns || defaults())
    .filter((k) => k !== "name" && known(k));
  let sortKey = saved.sort && known(saved.sort) ? saved.sort : "created_at";
  let asc = saved.sort ? !!saved.asc : false;
  let groupBy = saved.groupBy && (["group", "job_type", "tag"].includes(saved.groupBy) || known(saved.groupBy))
    ? saved.groupBy : "";
  let filterText = "", filterFn = null;
  let sorted = [], items = [], shown = [];
  const collapsed = new Set();
  let byId = new Map(rows.map((r) => [r.id, r]));
  const selected = new Set();
  const save = () => store(storeKey, { columns: cols, sort: sortKey, asc, groupBy, visible });

  // the visible runs, in the order they were made visible (the charts draw them in this order)
  let visible = [], chosen = false; // chosen: the user set the visible runs (the saved ones no longer apply)
  const isVisible = new Set();
  const markVisible = (ids) => { visible = ids; isVisible.clear(); ids.forEach((id) => isVisible.add(id)); };
  const here = (id) => byId.has(id.replace(/~\d+$/, "")); // a run of the table, or an archived branch of one
  const setVisible = (ids, notify = true) => {
    chosen = true;
    markVisible([...new Set(ids)].slice(0, MAX_VISIBLE));
    render(true);
    status();
    save();
    if (notify && options.onVisible) options.onVisible(visible.slice());
  };

  // toolbar
  const filter = h("input", { type: "search", id: "filter", placeholder: "filter: text, state:running, lr>0.01…",
    autocomplete: "off", spellcheck: "false", title: "words match id, name, tags, group, job type; "
      + "key:value (contains), key=value, key!=value, key>value, key<=value test a field (state, kind, group, "
      + "job_type, tag, name, step) or a config or summary key (lr>0.01, config.opt.lr=0.1); every term must hold" });
  const groupSel = h("select", { id: "group-by", title: "group runs by" });
  const groupOptions = () => {
    groupSel.replaceChildren(h("option", { value: "" }, "no grouping"), h("option", { value: "group" }, "group by: group"),
      h("option", { value: "job_type" }, "group by: job type"), h("option", { value: "tag" }, "group by: tag"),
      ...configKeys.map((k) => h("option", { value: "config." + k }, "group by: " + k)));
    groupSel.value = groupBy;
  };
  groupOptions();
  const colsBtn = h("button", { type: "button", id: "columns-btn", "aria-expanded": "false" }, "columns");
  const chooser = h("div", { id: "columns-panel", className: "popover", hidden: "" });
  const compareBtn = h("button", { type: "button", id: "compare", disabled: "" }, "compare");
  const count = h("span", { id: "run-count", className: "muted" });
  const toolbar = h("div", { className: "table-toolbar" }, filter, groupSel,
    h("span", { className: "popover-anchor" }, colsBtn, chooser), compareBtn, count);

  // table: a scrolling box, a sticky header, a body of [top spacer, rows in view, bottom spacer]
  const colgroup = h("colgroup");
  const thead = h("thead");
  const tbody = h("tbody");
  const topPad = h("tr", { className: "spacer" }, h("td"));
  const bottomPad = h("tr", { className: "spacer" }, h("td"));
  const table = h("table", { id: "runs", className: "runs-table" }, colgroup, thead, tbody);
  const scroller = h("div", { className: "runs-scroll", tabindex: "0" }, table);
  container.replaceChildren(toolbar, scroller);

  let rowH = ROW_H, first = -1, last = -1, measured = false;
  // Until the box is laid out (the ResizeObserver's first call, just before the first paint) its
  // size is not read: reading it would force a layout of the whole page before the rows can paint.
  let laidOut = false;

  function header() {
    const eyeAll = h("button", { type: "button", id: "eye-all", className: "eye",
      title: `show the filtered runs in the charts (at most ${MAX_VISIBLE}) or hide them` }, eyeIcon());
    const selAll = h("input", { type: "checkbox", id: "select-all", title: "select the filtered runs" });
    const ths = ["name", ...cols].map((k) => h("th", {
      dataset: { key: k }, title: k === "name" ? "name" : k,
      className: k === sortKey ? "sorted" + (asc ? " asc" : "") : "",
      "aria-sort": k === sortKey ? (asc ? "ascending" : "descending") : "none",
    }, label(k)));
    thead.replaceChildren(h("tr", {}, h("th", { className: "c-eye" }, eyeAll), h("th", { className: "c-sel" }, selAll), ths));
    colgroup.replaceChildren(h("col", { className: "c-eye" }), h("col", { className: "c-sel" }),
      ["name", ...cols].map((k) => { const c = h("col"); c.style.width = (FIELDS[k] ? FIELDS[k].width : 104) + "px"; return c; }));
    table.style.width = 56 + ["name", ...cols].reduce((w, k) => w + (FIELDS[k] ? FIELDS[k].width : 104), 0) + "px";
    topPad.firstChild.colSpan = bottomPad.firstChild.colSpan = cols.length + 3;
  }

  function resort() {
    sorted = sortRows(rows, sortKey, asc);
  }

  function rebuild() {
    shown = filterFn ? sorted.filter(filterFn) : sorted;
    if (!groupBy) {
      items = shown;
    } else {
      const groups = new Map();
      for (const r of shown) {
        for (const v of groupValues(r, groupBy)) {
          const k = missing(v) ? "\u0000none" : JSON.stringify(v);
          let g = groups.get(k);
          if (!g) groups.set(k, (g = { group: k, value: v, runs: [] }));
          g.runs.push(r);
        }
      }
      const order = [...groups.values()].sort((a, b) => {
        const ma = missing(a.value), mb = missing(b.value);
        return ma || mb ? (ma ? 1 : 0) - (mb ? 1 : 0) : compare(a.value, b.value);
      });
      items = [];
      for (const g of order) {
        items.push(g);
        if (!collapsed.has(g.group)) items.push(...g.runs);
      }
    }
    scroller.dataset.rows = String(items.length);
    render(true);
    status();
  }

  function cell(k, r) {
    const v = getter(k)(r);
    if (k === "state") return h("td", { className: stateClass(v) }, v);
    if (k === "kind") return h("td", { className: KINDS.has(v) ? "kind-" + v : "" }, v);
    if (k === "created_at" || k === "updated_at") return h("td", {}, time(v));
    const text = show(v);
    return h("td", { title: text, className: typeof v === "number" ? "num" : "" }, text);
  }

  function runRow(r) {
    const vis = isVisible.has(r.id);
    const swatch = h("span", { className: "swatch" });
    swatch.style.background = colorOf(r.id);
    return h("tr", { dataset: { run: r.id }, className: vis ? "" : "off" },
      h("td", { className: "c-eye" }, h("button", { type: "button", className: "eye", title: vis ? "hide from the charts" : "show in the charts",
        "aria-pressed": String(vis), dataset: { visible: vis ? "1" : "0" } }, eyeIcon())),
      h("td", { className: "c-sel" }, h("input", { type: "checkbox", className: "sel", value: r.id, checked: selected.has(r.id),
        "aria-label": "select " + r.id })),
      // elementtiming: the browser records when the rows were first painted (benchmarks/bench_ui.py)
      h("td", { className: "c-name", title: r.name || r.id, elementtiming: "runs-table" }, swatch,
        h("a", { href: `/run/${encodeURIComponent(r.id)}` }, r.name || r.id)),
      cols.map((k) => cell(k, r)));
  }

  function groupRow(g, index) {
    const open = !collapsed.has(g.group);
    const on = g.runs.filter((r) => isVisible.has(r.id)).length;
    const name = missing(g.value) ? "(none)" : show(g.value);
    return h("tr", { className: "group-row" + (open ? "" : " collapsed"), dataset: { group: name, count: String(g.runs.length), index: String(index) } },
      h("td", { className: "c-eye" }, h("button", { type: "button", className: "eye group-eye", title: "show or hide this group's runs",
        dataset: { visible: on ? "1" : "0" } }, eyeIcon())),
      h("td", { colSpan: cols.length + 2 },
        h("button", { type: "button", className: "caret", "aria-expanded": String(open) }, open ? "▾" : "▸"),
        h("span", { className: "muted" }, label(groupBy === "tag" ? "tag" : groupBy) + ": "), h("b", {}, name),
        h("span", { className: "muted" }, ` (${g.runs.length} run${g.runs.length === 1 ? "" : "s"}${on ? `, ${on} shown` : ""})`)));
  }

  // Draw the rows between the scroll position and the bottom of the box (plus OVERSCAN each side);
  // without `force`, nothing when the rows drawn already cover that.
  function render(force) {
    const top = laidOut ? scroller.scrollTop : 0;
    const height = laidOut ? scroller.clientHeight || 600 : window.innerHeight || 1000; // at most the window
    const a = Math.max(0, Math.floor(top / rowH) - OVERSCAN);
    const b = Math.min(items.length, Math.ceil((top + height) / rowH) + OVERSCAN);
    if (!force && first >= 0 && a >= first && b <= last) return;
    first = a; last = b;
    topPad.firstChild.style.height = a * rowH + "px";
    bottomPad.firstChild.style.height = (items.length - b) * rowH + "px";
    const trs = [];
    for (let i = a; i < b; i++) trs.push(items[i].runs ? groupRow(items[i], i) : runRow(items[i]));
    tbody.replaceChildren(topPad, ...trs, bottomPad);
  }

  // Layout is fresh here: the real row height (fonts, borders) keeps the spacers exact.
  function measure() {
    const tr = tbody.querySelector("tr[data-run], tr.group-row");
    if (!tr) return;
    measured = true;
    const got = tr.getBoundingClientRect().height;
    if (got > 10 && Math.abs(got - rowH) > 0.5) { rowH = got; render(true); }
  }

  function status() {
    const n = rows.length, m = shown.length;
    count.textContent = partial ? `${m === n ? `first ${n}` : `${m} of the first ${n}`} of ${options.total} runs · loading the rest…`
      : `${m === n ? n : `${m} of ${n}`} runs · ${visible.length} in charts`;
    scroller.dataset.complete = partial ? "0" : "1";
    count.dataset.shown = String(m);
    count.dataset.visible = String(visible.length);
    compareBtn.disabled = selected.size === 0;
    compareBtn.textContent = `compare (${selected.size})`;
    thead.querySelector("#eye-all").dataset.visible = m && shown.every((r) => isVisible.has(r.id)) ? "1" : "0";
    const selAll = thead.querySelector("#select-all");
    if (selAll) {
      const on = shown.filter((r) => selected.has(r.id)).length;
      selAll.checked = on > 0 && on === shown.length;
      selAll.indeterminate = on > 0 && on < shown.length;
    }
  }

  // Column chooser: run fields, config keys, summary keys; a search box narrows long lists.
  function fillChooser(q) {
    const want = q.toLowerCase();
    const section = (title, prefix, keys) => {
      const hits = keys.filter((k) => !want || k.toLowerCase().includes(want));
      if (!hits.length) return [];
      return [h("div", { className: "col-section" }, `${title} (${hits.length})`),
        hits.slice(0, CHOOSER_CAP).map((k) => h("label", { className: "col-choice", title: k },
          h("input", { type: "checkbox", dataset: { col: prefix + k }, checked: cols.includes(prefix + k) }), " ",
          prefix ? k : label(k))),
        hits.length > CHOOSER_CAP ? h("div", { className: "muted" }, `… ${hits.length - CHOOSER_CAP} more: type to narrow`) : []];
    };
    const search = h("input", { type: "search", id: "columns-search", placeholder: "find a key…", value: q,
      autocomplete: "off" });
    search.addEventListener("input", () => {
      fillChooser(search.value);
      const again = chooser.querySelector("#columns-search");
      again.focus();
      again.setSelectionRange(again.value.length, again.value.length);
    });
    chooser.replaceChildren(search,
      h("div", { className: "col-list" },
        section("run", "", Object.keys(FIELDS).filter((k) => k !== "name")),
        section("config", "config.", configKeys),
        section("summary", "summary.", summaryKeys)),
      h("div", { className: "col-actions" }, h("button", { type: "button", id: "columns-reset" }, "default columns")));
  }

  // events: one listener per kind on the table, whatever rows are drawn
  thead.addEventListener("click", (e) => {
    if (e.target.closest("#eye-all")) {
      const allOn = shown.length > 0 && shown.every((r) => isVisible.has(r.id));
      const ids = new Set(shown.map((r) => r.id));
      setVisible(allOn ? visible.filter((id) => !ids.has(id)) : [...visible, ...shown.filter((r) => !isVisible.has(r.id)).map((r) => r.id)]);
      return;
    }
    const th = e.target.closest("th[data-key]");
    if (!th) return;
    const k = th.dataset.key;
    asc = k === sortKey ? !asc : true;
    sortKey = k;
    save(); header(); resort(); rebuild();
  });
  thead.addEventListener("change", (e) => {
    if (e.target.id !== "select-all") return;
    if (e.target.checked) shown.forEach((r) => selected.add(r.id)); else shown.forEach((r) => selected.delete(r.id));
    render(true); status();
    if (options.onSelect) options.onSelect([...selected]);
  });
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (!tr) return;
    if (tr.classList.contains("group-row")) {
      const g = items[Number(tr.dataset.index)];
      if (!g || !g.runs) return;
      if (e.target.closest(".group-eye")) {
        const ids = g.runs.map((r) => r.id);
        const allOn = ids.every((id) => isVisible.has(id));
        setVisible(allOn ? visible.filter((id) => !ids.includes(id)) : [...visible, ...ids.filter((id) => !isVisible.has(id))]);
      } else {
        if (collapsed.has(g.group)) collapsed.delete(g.group); else collapsed.add(g.group);
        rebuild();
      }
      return;
    }
    if (e.target.closest("button.eye") && tr.dataset.run !== undefined) {
      const id = tr.dataset.run;
      setVisible(isVisible.has(id) ? visible.filter((x) => x !== id) : [...visible, id]);
    }
  });
  tbody.addEventListener("change", (e) => {
    if (!e.target.classList.contains("sel")) return;
    if (e.target.checked) selected.add(e.target.value); else selected.delete(e.target.value);
    status();
    if (options.onSelect) options.onSelect([...selected]);
  });
  let pending = false;
  scroller.addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(false); });
  }, { passive: true });
  new ResizeObserver(() => {
    laidOut = true;
    if (!measured) measure();
    render(false);
  }).observe(scroller);
  filter.addEventListener("input", () => {
    filterText = filter.value;
    filterFn = compileFilter(filterText, configSet, summarySet);
    scroller.scrollTop = 0;
    rebuild();
  });
  groupSel.addEventListener("change", () => {
    groupBy = groupSel.value;
    collapsed.clear();
    save(); rebuild();
  });
  colsBtn.addEventListener("click", () => {
    const open = chooser.hidden;
    chooser.hidden = !open;
    colsBtn.setAttribute("aria-expanded", String(open));
    if (open) { fillChooser(""); chooser.querySelector("#columns-search").focus(); }
  });
  const closeChooser = () => { chooser.hidden = true; colsBtn.setAttribute("aria-expanded", "false"); };
  document.addEventListener("click", (e) => { if (!chooser.hidden && !e.target.closest(".popover-anchor")) closeChooser(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !chooser.hidden) { closeChooser(); colsBtn.focus(); } });
  chooser.addEventListener("change", (e) => {
    const k = e.target.dataset && e.target.dataset.col;
    if (k === undefined) return;
    cols = e.target.checked ? [...cols.filter((c) => c !== k), k] : cols.filter((c) => c !== k);
    save(); header(); render(true); status();
  });
  chooser.addEventListener("click", (e) => {
    if (e.target.id !== "columns-reset") return;
    cols = defaults();
    save(); header(); render(true); status(); fillChooser("");
  });
  compareBtn.addEventListener("click", () => {
    if (selected.size) location.href = "/compare?runs=" + [...selected].map(encodeURIComponent).join(",");
  });

  // the runs shown last time (those still here: a run, or an archived branch of one; while only
  // the first rows are here, every saved one), else the first runs in table order, as in W&B
  function initialVisible() {
    const kept = Array.isArray(saved.visible)
      ? saved.visible.filter((id) => typeof id === "string" && (partial || here(id))) : [];
    markVisible(kept.length || (Array.isArray(saved.visible) && !saved.visible.length) ? kept.slice(0, MAX_VISIBLE)
      : sorted.slice(0, DEFAULT_VISIBLE).map((r) => r.id));
  }

  header();
  resort();
  initialVisible(); // before the one first render
  rebuild();
  return {
    visible: () => visible.slice(),
    setVisible: (ids) => setVisible(ids),
    selected: () => [...selected],
    // every row (after the first ones): what the user did meanwhile (sort, filter, grouping,
    // columns, eyes, selection) applies to them all
    setRows(all, cols2) {
      rows = all;
      byId = new Map(rows.map((r) => [r.id, r]));
      partial = false;
      if (cols2) {
        configKeys = cols2.config || []; summaryKeys = cols2.summary || [];
        configSet = new Set(configKeys); summarySet = new Set(summaryKeys);
        filterFn = compileFilter(filterText, configSet, summarySet);
        groupOptions();
      }
      for (const id of [...selected]) if (!byId.has(id)) selected.delete(id);
      resort();
      if (!chosen) initialVisible();
      else markVisible(visible.filter(here));
      header();
      rebuild();
    },
    // a live status change (state, last step) of one run: its row and the sort stay right
    update(id, patch) {
      const r = byId.get(id);
      if (!r) return;
      Object.assign(r, patch);
      hay.delete(r);
      if (sortKey in patch) resort();
      rebuild(); // a "state:running" filter or a state grouping sees the change
    },
  };
}

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || "{}") || {}; } catch { return {}; }
}
function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage off: choices last this visit */ }
}
