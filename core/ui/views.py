"""The JSON answers of the UI's API (docs/ui-api.md is the contract), shaped from ``Api``/``RunView``
and, for the many-run endpoints, ``bulk.Snapshot``. ``server.py`` parses the request and calls one
function here per endpoint; a bad parameter is a ``ValueError`` naming it (400), an unknown run or
project ``NotFound`` (404)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from bisect import bisect_right
from typing import Any, Sequence

from ..api import Api, RunView, Series
from ..errors import SpecError
from ..media import LIST_TYPE, is_ref
from ..owner import effective_state
from ..spec import check_project
from ..store import RunRecord
from .bulk import Branch, Cache, Snapshot
from .downsample import minmax, minmax_indices

MEDIA_TYPES = {"image-file": "image", "histogram": "histogram", "table-file": "table", LIST_TYPE: "media-list"}
TIME_AXES = ("_timestamp", "_runtime")
MAX_SERIES_RUNS = 200
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                (b"GIF89a", "image/gif"))
MAX_TEXT = 200  # a summary string longer than this (console text, artifact records) is no table cell


class NotFound(Exception):
    pass


def view(api: Api, ref: str) -> RunView:
    try:
        return api.run(ref)
    except (LookupError, SpecError) as exc:
        raise NotFound(str(exc)) from None


# -- rows of the runs table -----------------------------------------------------------------------
def cell(v: Any) -> bool:
    """Whether a summary value is a table cell: a number, bool, None or short text (not media)."""
    return v is None or isinstance(v, (int, float)) or (isinstance(v, str) and len(v) <= MAX_TEXT)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> ``{"a.b": scalar}``; a list or other value becomes its compact JSON text."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, name + "."))
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[name] = v
        else:
            out[name] = json.dumps(v, separators=(",", ":"), default=str)
    return out


def row(record: RunRecord, *, state: str, kind: str, last_step: int | None, parent: Any, summary: dict[str, Any],
        config: dict[str, Any]) -> dict[str, Any]:
    return {"id": record.id, "project": record.project, "name": record.name, "state": state, "kind": kind,
            "group": record.run_group, "job_type": record.job_type, "tags": list(record.tags),
            "created_at": record.created_at, "updated_at": record.updated_at, "last_step": last_step,
            "parent": str(parent) if parent else None,
            "summary": {k: v for k, v in summary.items() if cell(v)}, "config": flatten(config)}


def _records(api: Api, project: str | None) -> list[RunRecord]:
    entity = None
    if project is not None and project.count("/") == 1:
        entity, project = project.split("/")
    if project is not None:
        try:
            check_project(project)
        except SpecError as exc:
            raise ValueError(f"project: {exc}") from None
    records = [r for r in api.store.list_runs(project) if entity is None or r.entity == entity]
    if project is not None and not records:
        raise NotFound(f"no runs in project {project!r}" + (f" of entity {entity!r}" if entity else ""))
    return records


class Encoded(bytes):
    """An answer already encoded as JSON (sent as it is)."""


def encode(data: Any) -> bytes:
    """JSON; NaN and inf travel as null (a chart gap)."""
    try:  # the usual case: none anywhere, so no copy of a large answer
        return json.dumps(data, default=str, allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite_copy(data), default=str).encode()


def _finite_copy(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite_copy(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite_copy(v) for v in data]
    return data


def runs_table(api: Api, project: str | None, text: str, cache: Cache | None,
               first: FirstRows | None = None) -> dict[str, Any] | Encoded:
    """The runs table; with ``cache``, the answer is kept and sent again while the store's
    ``table_version`` of the project and the liveness of its running runs are unchanged.

    ``first``: only the first rows in the table's order (``FirstRows``), with ``total``: the
    workspace paints these while the whole table is on its way (first paint of 10,000 runs)."""
    hit = _cached(api, project, cache, text, lambda: _runs_table(api, project, text, cache))
    if hit is None:
        table = _runs_table(api, project, text, cache)
        return first.answer(table) if first is not None else table
    return hit.encoded() if first is None else hit.first(first)


def _cached(api: Api, project: str | None, cache: Cache | None, name: str, build: Any) -> CachedTable | None:
    """The answer ``name`` of ``project`` kept in ``cache`` while the store's ``table_version`` and the
    liveness of the project's running runs are unchanged (``build()`` makes it again otherwise);
    None when the backend cannot tell its version cheaply (nothing is kept)."""
    got = api.store.table_version(project) if cache is not None and "/" not in (project or "") else None
    if cache is None or got is None:
        return None
    version = (got[0], tuple((r.id, effective_state(r)) for r in got[1]))
    hit = cache.tables.get((project, name))
    if hit is None or hit.version != version:
        if len(cache.tables) > 64:
            cache.tables.clear()
        hit = cache.tables[(project, name)] = CachedTable(version, build())
    return hit


class CachedTable:
    """One project's runs table at one ``version``: its rows, the whole answer encoded (once, when
    first asked) and the answers of ``FirstRows`` asked of it."""

    def __init__(self, version: Any, table: dict[str, Any]) -> None:
        self.version = version
        self.table = table
        self._body: Encoded | None = None
        self._firsts: dict[tuple, Encoded] = {}

    def encoded(self) -> Encoded:
        if self._body is None:
            self._body = Encoded(encode(self.table))
        return self._body

    def first(self, first: FirstRows) -> Encoded:
        key = (first.sort, first.desc, first.limit)
        got = self._firsts.get(key)
        if got is None:
            got = self._firsts[key] = Encoded(encode(first.answer(self.table)))
        return got


# Run fields a runs-table column shows (core/ui/static/js/runs.js FIELDS): a sort key is one of
# these, ``config.<key>`` or ``summary.<key>`` of a listed column; anything else sorts as the default.
RUN_FIELDS = ("name", "id", "state", "kind", "last_step", "created_at", "updated_at", "group", "job_type", "tags",
              "parent", "project")
_DIGITS = re.compile(r"(\d+)")


class FirstRows:
    """The first ``limit`` rows of the runs table sorted as the page sorts them (runs.js ``sortRows``):
    by a column, numbers before text (text in natural order, any case and accent), missing values
    last in either direction, ties in table order; an unknown column sorts by ``created_at``. The page
    sorts these rows again with the whole table when it arrives, so where text collation differs
    from the browser's (locale rules) only the first paint's order can differ, never the table's."""

    def __init__(self, sort: str, desc: bool, limit: int) -> None:
        self.sort, self.desc, self.limit = sort, desc, limit

    @classmethod
    def parse(cls, sort: str | None, order: str | None, limit: str | None) -> FirstRows | None:
        """From ``?limit=N[&sort=<column>][&order=asc|desc]`` (None without ``limit``); a bad value is a
        ``ValueError`` naming the parameter."""
        if limit is None:
            if sort is not None or order is not None:
                raise ValueError("sort/order: only with ?limit=<rows>; without it the whole table is sent")
            return None
        try:
            n = int(limit)
        except ValueError:
            raise ValueError(f"limit={limit!r}: expected a whole number 1..100000") from None
        if not 1 <= n <= 100_000:
            raise ValueError(f"limit={n}: expected 1..100000")
        if order not in (None, "asc", "desc"):
            raise ValueError(f"order={order!r}: expected asc or desc")
        return cls(sort or "created_at", order != "asc", n)

    def answer(self, table: dict[str, Any]) -> dict[str, Any]:
        """The chosen rows in table order (so the page's ties fall as in the whole table), ``columns``
        of the whole table and ``total``, its number of rows."""
        rows = table["runs"]
        chosen = {id(r) for r in self.order(rows, table["columns"])[:self.limit]}
        return {"runs": [r for r in rows if id(r) in chosen], "columns": table["columns"], "total": len(rows)}

    def order(self, rows: list[dict[str, Any]], columns: dict[str, list[str]]) -> list[dict[str, Any]]:
        sort = self.sort
        known = (sort in RUN_FIELDS or (sort.startswith("config.") and sort[7:] in columns["config"])
                 or (sort.startswith("summary.") and sort[8:] in columns["summary"]))
        get = _getter(sort if known else "created_at")
        present, absent = [], []
        for r in rows:
            v = get(r)
            if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):  # JSON null on the page
                absent.append(r)
            else:
                present.append((_sort_key(v), r))
        # Python's sort is stable with reverse=True too: ties keep table order either way, as on the page
        present.sort(key=lambda kr: kr[0], reverse=self.desc)
        return [r for _, r in present] + absent


def _getter(key: str) -> Any:
    if key.startswith("config."):
        return lambda r, k=key[7:]: r["config"].get(k)
    if key.startswith("summary."):
        return lambda r, k=key[8:]: r["summary"].get(k)
    if key == "tags":
        return lambda r: ", ".join(r["tags"]) or None
    if key == "name":
        return lambda r: r["name"] or r["id"]
    return lambda r: r.get(key)


def _sort_key(v: Any) -> tuple:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v)
    text = ("true" if v else "false") if isinstance(v, bool) else str(v)
    # Intl.Collator(numeric, sensitivity "base"): digit runs as numbers, case and accents ignored
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    return (1, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(plain) if p))


def _runs_table(api: Api, project: str | None, text: str, cache: Cache | None) -> dict[str, Any]:
    snap = Snapshot(api.store, _records(api, project), cache, archived=False)
    rows = []
    for b in snap.heads():
        rows.append(row(b.record, state=b.state, kind=b.kind, last_step=b.last_step, parent=snap.parent(b),
                        summary={**b.summary, **b.segment.summary}, config=b.segment.config))
    if text:
        text = text.lower()
        rows = [r for r in rows if text in " ".join([r["id"], r["name"] or "", r["project"], *r["tags"]]).lower()]
    config_keys = sorted({k for r in rows for k in r["config"]})
    summary_keys = sorted({k for r in rows for k in r["summary"]})
    return {"runs": rows, "columns": {"config": config_keys, "summary": summary_keys}}


def projects(api: Api) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for r in api.store.list_runs():
        p = out.setdefault(r.project, {"name": r.project, "runs": 0, "running": 0, "last_activity": None})
        p["runs"] += 1
        if effective_state(r) == "running":
            p["running"] += 1
        if p["last_activity"] is None or r.updated_at > p["last_activity"]:
            p["last_activity"] = r.updated_at
    return {"projects": [out[k] for k in sorted(out)]}


def status(api: Api, refs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ref in refs:
        try:
            v = api.run(ref)
        except (LookupError, SpecError):
            out[ref] = None  # gone (gc) or never there: the page stops polling it
            continue
        out[ref] = {"state": v.state, "last_step": v.last_step, "updated_at": v.updated_at}
    return {"runs": out}


# -- one run --------------------------------------------------------------------------------------
def tree(v: RunView) -> list[dict[str, Any]]:
    """The lineage of ``v`` from its root, flat and depth first: ``{"id", "depth", "relation":
    "root"|"archived"|"fork", "kind", "state", "last_step", "at", "label"}``."""
    out = []
    for entry in v.root().tree():
        node = entry.view
        item: dict[str, Any] = {"id": node.id, "depth": entry.depth, "relation": entry.relation, "kind": node.kind,
                                "state": node.state, "last_step": node.last_step, "at": None, "label": ""}
        if entry.relation == "fork":
            point = node.parent
            item["at"] = point.step if point else node.branch_step
            item["label"] = f"at _step={item['at']}"
        elif entry.relation == "archived":
            item["label"] = str(node.span())
        elif node.kind == "rewind":
            item["at"] = node.branch_step
            item["label"] = f"rewound at _step={node.branch_step}"
        out.append(item)
    return out


def run_detail(api: Api, ref: str) -> dict[str, Any]:
    v = view(api, ref)
    summary = v.summary
    keys = v.keys()
    rec = v._record
    base = row(rec, state=v.state, kind=v.kind, last_step=v.last_step, parent=v.parent, summary=summary,
               config=v.config)
    base["id"] = v.id
    return {**base, "run_id": v.run_id, "entity": v.entity, "notes": v.notes, "exit_code": v.exit_code,
            "branch_step": v.branch_step, "config": v.config, "config_changes": v.config_changes,
            "summary_all": summary,
            "keys": [k for k in keys if not is_ref(summary.get(k)) and not isinstance(summary.get(k), str)],
            "media": [{"key": k, "type": MEDIA_TYPES[summary[k]["_type"]]} for k in keys if is_ref(summary.get(k))],
            "step_metrics": v.step_metrics,
            "archived": [{"id": a.id, "branch_step": a.branch_step, "last_step": a.last_step, "label": str(a.span())}
                         for a in v.archived()],
            "children": [{"id": c.id, "branch_step": c.parent.step if c.parent else c.branch_step}
                         for c in v.children()],
            "ancestors": [str(p) for p in v.ancestors()], "tree": tree(v)}


def branch_points(v: RunView) -> list[dict[str, Any]]:
    """Where ``v`` branched off its parent, and where each of its forks branched off it."""
    marks = []
    parent = v.parent
    if parent is not None and v.branch_step is not None:
        marks.append({"step": parent.step, "label": f"{v.kind} from {parent}"})
    for c in v.children():
        point = c.parent
        marks.append({"step": point.step if point else c.branch_step, "label": f"fork {c.id}"})
    return marks


def series(api: Api, ref: str, key: str, points: int) -> dict[str, Any]:
    """``/api/run/<ref>/series``: one run, one metric, parts downsampled separately (kept as it was)."""
    v = view(api, ref)
    got = v.series(key)
    out = []
    parts = (("inherited", slice(0, got.own_from)), ("own", slice(got.own_from, None)))
    for part, cut in parts:
        s, y = minmax(got.steps[cut], got.values[cut], points)
        if s:
            out.append({"label": f"{v.id} ({part})" if part == "inherited" else v.id, "run": v.id, "part": part,
                        "steps": s, "values": y})
    return {"key": key, "run": v.id, "total_points": len(got.steps), "series": out, "branch_points": branch_points(v)}


# -- many runs, one metric ------------------------------------------------------------------------
def _number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _first_number(values: list[Any]) -> Any:
    return next((t for t in values if _number(t)), None)


def _run_overlay(v: RunView, key: str, x: str, points: int, marks: list[dict[str, Any]]) -> dict[str, Any]:
    """One run of ``overlay``. Downsampled on ``y`` first, so the x value is looked up for the
    kept points only (a 100,000-point run costs two block reads and one min/max pass)."""
    got = v.series(key)
    steps, ys, own_from = got.steps, got.values, got.own_from
    src: Series | None = None
    first = None
    xs: Any
    if x == "_step":
        xs = steps
    elif x in TIME_AXES:  # every row has a _timestamp: downsample on y, then read x at the kept points only
        ranges = v.ranges()
        if x == "_runtime":
            got_first = v._store.first_in(ranges, "_timestamp")  # the first row of the visible history
            first = got_first[1] if got_first is not None else None
        picks = minmax_indices(ys, points, (own_from - 1, own_from))
        xs = dict(zip(picks, v._store.read_at(ranges, "_timestamp", [steps[i] for i in picks])))
    else:  # a step metric: rows without it are left out before downsampling
        src = v.series(x)
        if src.steps == steps:
            xs = src.values
        else:
            at = dict(zip(src.steps, src.values))
            keep = [i for i, s in enumerate(steps) if _number(at.get(s))]
            own_from = sum(1 for i in keep if i < own_from)
            steps, ys, xs = [steps[i] for i in keep], [ys[i] for i in keep], [at[steps[i]] for i in keep]
    if x not in TIME_AXES:
        picks = minmax_indices(ys, points, (own_from - 1, own_from))
    picks = [i for i in picks if _number(xs[i])]
    shift = first if first is not None else 0
    parts = []
    for part, cut in (("inherited", [i for i in picks if i < own_from]), ("own", [i for i in picks if i >= own_from])):
        if cut:
            parts.append({"part": part, "steps": [steps[i] for i in cut], "x": [xs[i] - shift for i in cut]
                          if shift else [xs[i] for i in cut], "y": [ys[i] for i in cut]})
    if x in TIME_AXES and marks:
        at_steps = sorted({m["step"] for m in marks})
        stamp = dict(zip(at_steps, v._store.read_at(v.ranges(), "_timestamp", at_steps)))
        marks = [{**m, "x": stamp[m["step"]] - shift if _number(stamp[m["step"]]) else None} for m in marks]
    else:
        marks = [{**m, "x": _x_at(m["step"], x, src)} for m in marks]
    return {"run": v.id, "state": v.state, "total_points": len(got.steps), "parts": parts, "branch_points": marks}


def _x_at(step: int, x: str, src: Series | None) -> Any:
    """A branch point's x on the step axis or a step metric's: the row at the step, or the last before it."""
    if x == "_step":
        return step
    if src is None:
        return None
    i = bisect_right(src.steps, step) - 1
    while i >= 0 and not _number(src.values[i]):
        i -= 1
    return src.values[i] if i >= 0 else None


class OverlayCache:
    """Answers per (run, key, x, points) while the run's visible history is unchanged: the version
    is every segment its history reads with ``write_seq`` and ``last_step``, the run's state and
    ``updated_at``, and its branch points (a new fork of it, a rewind of its parent), so a live run
    is read again after each commit and nothing else is."""

    LIMIT = 256

    def __init__(self) -> None:
        self._data: dict[tuple, tuple[tuple, dict[str, Any]]] = {}

    def version(self, v: RunView, marks: list[dict[str, Any]]) -> tuple:
        store = v._store
        segments = tuple((r.segment, r.hi, *_seg_version(store.get_segment(r.segment))) for r in v.ranges())
        return v.state, v.updated_at, segments, tuple((m["step"], m["label"]) for m in marks)

    def get(self, key: tuple, version: tuple) -> dict[str, Any] | None:
        got = self._data.get(key)
        return got[1] if got is not None and got[0] == version else None

    def put(self, key: tuple, version: tuple, answer: dict[str, Any]) -> None:
        if len(self._data) >= self.LIMIT:
            self._data.pop(next(iter(self._data)))  # the oldest entry
        self._data[key] = (version, answer)


def _seg_version(seg: Any) -> tuple:
    return seg.write_seq, seg.last_step


def overlay(api: Api, refs: Sequence[str], key: str, x: str, points: int,
            cache: OverlayCache | None = None) -> dict[str, Any]:
    views = [view(api, ref) for ref in refs]
    if x != "_step" and x not in TIME_AXES and not any(x in v.step_metrics for v in views):
        declared = sorted({m for v in views for m in v.step_metrics})
        raise ValueError(f"x={x!r}: expected _step, _timestamp, _runtime or a step metric these runs declared "
                         f"({', '.join(declared) if declared else 'none declared'})")
    out = []
    for v in views:
        marks = branch_points(v)
        if cache is None:
            out.append(_run_overlay(v, key, x, points, marks))
            continue
        ck, version = (v.id, key, x, points), cache.version(v, marks)
        got = cache.get(ck, version)
        if got is None:
            got = _run_overlay(v, key, x, points, marks)
            cache.put(ck, version, got)
        out.append(got)
    return {"key": key, "x": x, "runs": out}


# -- lineage graph --------------------------------------------------------------------------------
def _node(b: Branch) -> dict[str, Any]:
    s = b.segment
    return {"id": b.id, "run_id": b.record.id, "name": b.record.name, "state": b.state, "kind": b.kind,
            "archived": b.is_archived, "branch_step": s.branch_step, "start_step": s.start_step,
            "last_step": b.last_step, "created_at": s.created_at}


def lineage_graph(api: Api, project: str | None, ref: str | None, cache: Cache | None) -> dict[str, Any] | Encoded:
    """The graph; a project's is kept encoded, like the runs table, while its ``table_version`` and
    the liveness of its running runs are unchanged."""
    hit = _cached(api, project, cache, "\0lineage", lambda: _lineage_graph(api, project, ref, cache)) if ref is None else None
    return hit.encoded() if hit is not None else _lineage_graph(api, project, ref, cache)


def _lineage_graph(api: Api, project: str | None, ref: str | None, cache: Cache | None) -> dict[str, Any]:
    if ref is not None:
        entries = view(api, ref).root().tree()
        wanted = {e.view.id for e in entries}
        records = []
        for run_id in dict.fromkeys(e.view.run_id for e in entries):
            rec = api.store.get_run(run_id)
            if rec is not None:
                records.append(rec)
        records.sort(key=lambda r: (r.created_at, r.id))
    else:
        records = _records(api, project)
        wanted = None
    snap = Snapshot(api.store, records, cache)
    branches = [b for b in snap.branches if wanted is None or b.id in wanted]
    ids = {b.id for b in branches}
    edges = []
    for b in branches:
        if b.is_archived:
            edges.append({"source": b.record.id, "target": b.id, "relation": "archived", "step": snap.replaced_at(b)})
        p = snap.parent(b)
        if p is not None and p.run_id in ids:
            relation = "rewind" if p.run_id.partition("~")[0] == b.record.id else "fork"
            edges.append({"source": p.run_id, "target": b.id, "relation": relation, "step": p.step})
    return {"nodes": [_node(b) for b in branches], "edges": edges}


# -- media ----------------------------------------------------------------------------------------
def media(api: Api, ref: str, key: str) -> dict[str, Any]:
    v = view(api, ref)
    blobs: dict[str, Any] = {}

    def load(digest: str) -> Any:
        if digest not in blobs:
            data = api.store.get_blob(digest)
            blobs[digest] = json.loads(data) if data is not None else None
        return blobs[digest]

    def item(ref: dict[str, Any]) -> dict[str, Any]:
        kind = MEDIA_TYPES[ref["_type"]]
        out: dict[str, Any] = {"type": kind, "sha256": ref["sha256"], "url": f"/api/blob/{ref['sha256']}"}
        if kind == "image":
            out.update(width=ref.get("width"), height=ref.get("height"), caption=ref.get("caption"),
                       format=ref.get("format"))
        elif kind == "histogram":
            got = load(ref["sha256"]) or {}
            out.update(bins=got.get("bins", []), counts=got.get("values", []))
        elif kind == "table":
            got = load(ref["sha256"]) or {}
            out.update(columns=got.get("columns", []), data=got.get("data", []))
        return out

    steps = []
    kind = None
    for r in v.history(keys=[key]):
        value = r.get(key)
        if not is_ref(value):
            continue
        assert isinstance(value, dict)
        kind = kind or MEDIA_TYPES[value["_type"]]
        items = value["items"] if value["_type"] == LIST_TYPE else [value]
        steps.append({"step": r["_step"], "items": [item(i) for i in items]})
    if kind is None:
        raise ValueError(f"key={key!r}: run {v.id} has no media under this key")
    return {"key": key, "type": kind, "steps": steps}


def blob(api: Api, digest: str) -> tuple[bytes, str]:
    """The blob's bytes and content type: an image type only for PNG, JPEG, GIF or WebP bytes
    (checked on the bytes, never taken from the reference), else ``application/octet-stream``."""
    if not SHA256.match(digest):
        raise ValueError(f"blob {digest[:80]!r}: expected a sha256 (64 lower-case hex digits)")
    data = api.store.get_blob(digest)
    if data is None:
        raise NotFound(f"no blob {digest}")
    for magic, ctype in _IMAGE_MAGIC:
        if data.startswith(magic):
            return data, ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return data, "image/webp"
    return data, "application/octet-stream"
