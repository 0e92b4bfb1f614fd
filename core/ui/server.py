"""The UI's HTTP server (standard library only) and its JSON API. Read-only; binds 127.0.0.1.

JSON API (every answer is JSON; an unknown run or a bad id is 404 ``{"error": "..."}``; the store
runs parameterised queries only):

- ``GET /api/projects`` -> ``{"projects": [{"name", "runs"}]}``
- ``GET /api/runs?project=P&q=text`` -> ``{"runs": [{"id", "project", "name", "state", "kind",
  "last_step", "parent", "created_at", "summary"}]}`` (``q`` filters on id, name, project, tags)
- ``GET /api/run/<ref>`` (``<id>``, ``<project>/<id>``, ``<id>~k``) -> the run: ``config``,
  ``config_changes``, ``summary``, ``keys`` (its metrics), ``archived``, ``children``,
  ``ancestors``, and ``tree``: the lineage from the root run, forks and archived branches nested.
- ``GET /api/run/<ref>/series?key=K&points=N`` -> ``{"key", "total_points", "series": [{"label",
  "run", "part": "inherited"|"own", "steps", "values"}], "branch_points": [{"step", "label"}]}``:
  the visible history of one metric, split into the part inherited from fork parents and the run's
  own rows, each downsampled to ``N`` points (default 2000) by min/max buckets.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..api import Api, RunView
from ..errors import ForkpointError
from .downsample import minmax

STATIC = Path(__file__).with_name("static")
PAGES = re.compile(r"^/(?:run/[^/]+|compare)?/?$")


class NotFound(Exception):
    pass


def _view(api: Api, ref: str) -> RunView:
    try:
        return api.run(ref)
    except (LookupError, ForkpointError) as exc:
        raise NotFound(str(exc)) from None


def _brief(v: RunView) -> dict[str, Any]:
    summary = v.summary
    numeric = {k: summary[k] for k in sorted(summary) if isinstance(summary[k], (int, float))
               and not isinstance(summary[k], bool)}
    return {"id": v.id, "project": v.project, "name": v.name, "state": v.state, "kind": v.kind,
            "last_step": v.last_step, "parent": str(v.parent) if v.parent else None,
            "created_at": v.created_at, "summary": dict(list(numeric.items())[:6]), "tags": v.tags}


def _tree(api: Api, v: RunView) -> dict[str, Any]:
    return {"id": v.id, "kind": v.kind, "state": v.state, "branch_step": v.branch_step, "last_step": v.last_step,
            "archived": [{"id": a.id, "branch_step": a.branch_step, "last_step": a.last_step} for a in v.archived()],
            "children": [_tree(api, c) for c in v.children()]}


def run_detail(api: Api, ref: str) -> dict[str, Any]:
    v = _view(api, ref)
    root = v
    while root.kind == "fork" and root.parent is not None:
        root = _view(api, root.parent.run_id.split("~")[0])
    keys = sorted({k for r in v.ranges() for k in api.store.keys(r.segment)})
    return {**_brief(v), "run_id": v.run_id, "branch_step": v.branch_step, "notes": v.notes, "config": v.config,
            "config_changes": v.config_changes, "summary_all": v.summary, "keys": keys,
            "archived": [{"id": a.id, "branch_step": a.branch_step, "last_step": a.last_step} for a in v.archived()],
            "children": [{"id": c.id, "branch_step": c.branch_step} for c in v.children()],
            "ancestors": [str(p) for p in v.ancestors()], "tree": _tree(api, root)}


def series(api: Api, ref: str, key: str, points: int) -> dict[str, Any]:
    v = _view(api, ref)
    out, total = [], 0
    for part in ("inherited", "own"):
        ranges = [r for r in v.ranges() if (r.run_id == v.run_id) == (part == "own")]
        steps, values = api.store.read_series(ranges, key) if ranges else ([], [])
        total += len(steps)
        s, y = minmax(steps, values, points)
        if s:
            out.append({"label": f"{v.id} ({part})" if part == "inherited" else v.id, "run": v.id, "part": part,
                        "steps": s, "values": y})
    marks = []
    if v.parent is not None and v.branch_step is not None:
        marks.append({"step": v.branch_step, "label": f"{v.kind} from {v.parent}"})
    for c in v.children():
        marks.append({"step": c.branch_step, "label": f"fork {c.id}"})
    return {"key": key, "run": v.id, "total_points": total, "series": out, "branch_points": marks}


class Handler(BaseHTTPRequestHandler):
    api: Api
    server_version = "forkpoint-ui"

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the CLI prints the address
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(_finite_copy(data), default=str).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        try:
            if path.startswith("/api/"):
                self._json(200, self._api(path[len("/api"):], query))
            elif path.startswith("/static/"):
                self._static(path[len("/static/"):])
            elif PAGES.match(path):
                self._static("index.html")
            else:
                raise NotFound(f"no page {path!r}")
        except NotFound as exc:
            if path.startswith("/api/"):
                self._json(404, {"error": str(exc)})
            else:
                self._send(404, f"not found: {exc}".encode(), "text/plain; charset=utf-8")
        except ValueError as exc:
            self._json(400, {"error": str(exc)})

    def _api(self, path: str, q: dict[str, list[str]]) -> Any:
        api = self.api
        if path == "/projects":
            counts: dict[str, int] = {}
            for r in api.store.list_runs():
                counts[r.project] = counts.get(r.project, 0) + 1
            return {"projects": [{"name": k, "runs": n} for k, n in sorted(counts.items())]}
        if path == "/runs":
            project = (q.get("project") or [None])[0] or None
            text = ((q.get("q") or [""])[0]).lower()
            try:
                runs = api.runs(project)
            except ForkpointError as exc:
                raise NotFound(str(exc)) from None
            items = [_brief(v) for v in runs]
            if text:
                items = [r for r in items if text in " ".join([r["id"], r["name"] or "", r["project"], *r["tags"]]).lower()]
            return {"runs": items}
        if path.startswith("/run/"):
            ref = path[len("/run/"):]
            if ref.endswith("/series"):
                key = (q.get("key") or [""])[0]
                if not key:
                    raise ValueError("series needs ?key=<metric>")
                try:
                    points = int((q.get("points") or ["2000"])[0])
                except ValueError:
                    raise ValueError("points must be a whole number") from None
                if not 10 <= points <= 100_000:
                    raise ValueError(f"points={points}: expected 10..100000")
                return series(api, ref[:-len("/series")], key, points)
            return run_detail(api, ref)
        raise NotFound(f"no API endpoint {path!r}")

    def _static(self, name: str) -> None:
        target = (STATIC / name).resolve()
        if STATIC.resolve() not in target.parents or not target.is_file():
            raise NotFound(f"no file {name!r}")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(200, target.read_bytes(), ctype)


def _finite_copy(data: Any) -> Any:
    """NaN and inf are not JSON: they travel as null (a chart gap)."""
    if isinstance(data, float):
        return data if data == data and abs(data) != float("inf") else None
    if isinstance(data, dict):
        return {k: _finite_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite_copy(v) for v in data]
    return data


def make_server(store: Any = None, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"api": Api(store)})
    return ThreadingHTTPServer((host, port), handler)


def serve_in_thread(store: Any = None, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on a free port in a daemon thread (tests, notebooks); returns it and its URL."""
    srv = make_server(store, host, port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://{host}:{srv.server_address[1]}"
