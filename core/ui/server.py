"""The UI's HTTP server (standard library only) and its JSON API. Read-only; binds 127.0.0.1.

JSON API (every answer is JSON; an unknown run or a bad id is 404 ``{"error": "..."}``, a store
that cannot be read 500 ``{"error": "..."}``; the store runs parameterised queries only):

- ``GET /api/projects`` -> ``{"projects": [{"name", "runs"}]}``
- ``GET /api/runs?project=P&q=text`` -> ``{"runs": [{"id", "project", "name", "state", "kind",
  "last_step", "parent", "created_at", "summary", "tags"}]}`` (``q`` filters on id, name, project, tags)
- ``GET /api/run/<ref>`` (``<id>``, ``<project>/<id>``, ``<id>~k``) -> the run: ``config``,
  ``config_changes``, ``summary_all``, ``keys`` (its metrics), ``archived``, ``children``,
  ``ancestors``, and ``tree``: the lineage from the root run as a flat, depth-first list of
  ``{"id", "depth", "relation": "root"|"archived"|"fork", "kind", "state", "at", "label"}`` (flat,
  so a fork chain of any depth serialises and renders without recursion).
- ``GET /api/run/<ref>/series?key=K&points=N`` -> ``{"key", "total_points", "series": [{"label",
  "run", "part": "inherited"|"own", "steps", "values"}], "branch_points": [{"step", "label"}]}``:
  the visible history of one metric, split into the part inherited from fork parents and the run's
  own rows, each downsampled to ``N`` points (default 2000) by min/max buckets.

Hardening: every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
and a Content-Security-Policy allowing only this server's own scripts and styles (no inline
script). A request whose ``Host`` header does not name the address the server is bound to is
refused with 403 (a DNS-rebinding page in the browser cannot read the API). The server is
threaded (daemon threads) with a listen backlog of 128, so a burst of requests queues instead of
being dropped. The UI reads only through ``Api``/``RunView``.
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import re
import socket
import socketserver
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from ..api import Api, RunView
from ..errors import SpecError, StoreError
from .downsample import minmax

STATIC = Path(__file__).with_name("static")
PAGES = re.compile(r"^/(?:run/[^/]+|p/[^/]+|compare)?/?$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_NAMES = {"127.0.0.1": ("127.0.0.1", "localhost"), "localhost": ("127.0.0.1", "localhost"),
                  "::1": ("[::1]", "localhost")}
WILDCARDS = {"", "0.0.0.0", "::"}


class NotFound(Exception):
    pass


def _view(api: Api, ref: str) -> RunView:
    try:
        return api.run(ref)
    except (LookupError, SpecError) as exc:
        raise NotFound(str(exc)) from None


def _brief(v: RunView) -> dict[str, Any]:
    summary = v.summary
    numeric = {k: summary[k] for k in sorted(summary) if isinstance(summary[k], (int, float))
               and not isinstance(summary[k], bool)}
    return {"id": v.id, "project": v.project, "name": v.name, "state": v.state, "kind": v.kind,
            "last_step": v.last_step, "parent": str(v.parent) if v.parent else None,
            "created_at": v.created_at, "summary": dict(list(numeric.items())[:6]), "tags": v.tags}


def tree(v: RunView) -> list[dict[str, Any]]:
    """The lineage of ``v`` from its root, flat and depth first (see the module docstring)."""
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
    v = _view(api, ref)
    return {**_brief(v), "run_id": v.run_id, "branch_step": v.branch_step, "notes": v.notes, "config": v.config,
            "config_changes": v.config_changes, "summary_all": v.summary, "keys": v.keys(),
            "archived": [{"id": a.id, "branch_step": a.branch_step, "last_step": a.last_step, "label": str(a.span())}
                         for a in v.archived()],
            "children": [{"id": c.id, "branch_step": c.parent.step if c.parent else c.branch_step}
                         for c in v.children()],
            "ancestors": [str(p) for p in v.ancestors()], "tree": tree(v)}


def series(api: Api, ref: str, key: str, points: int) -> dict[str, Any]:
    v = _view(api, ref)
    got = v.series(key)
    out = []
    parts = (("inherited", slice(0, got.own_from)), ("own", slice(got.own_from, None)))
    for part, cut in parts:
        s, y = minmax(got.steps[cut], got.values[cut], points)
        if s:
            out.append({"label": f"{v.id} ({part})" if part == "inherited" else v.id, "run": v.id, "part": part,
                        "steps": s, "values": y})
    marks = []
    parent = v.parent
    if parent is not None and v.branch_step is not None:
        marks.append({"step": parent.step, "label": f"{v.kind} from {parent}"})
    for c in v.children():
        point = c.parent
        marks.append({"step": point.step if point else c.branch_step, "label": f"fork {c.id}"})
    return {"key": key, "run": v.id, "total_points": len(got.steps), "series": out, "branch_points": marks}


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` header values a browser sends for this server, lower case; None for a wildcard
    bind (then any IP literal or this machine's own name is accepted: a DNS-rebinding attack needs
    a name the attacker's DNS answers for, never an IP literal)."""
    host = host.lower().strip("[]")
    if host in WILDCARDS:
        return None
    names = set(LOOPBACK_NAMES.get(host, ()))
    try:
        names.add(f"[{host}]" if ipaddress.ip_address(host).version == 6 else host)
    except ValueError:
        names.add(host)
    out = {f"{n}:{port}" for n in names}
    if port == 80:
        out |= names
    return frozenset(out)


def _own_names() -> set[str]:
    names = {"localhost"}
    for get in (socket.gethostname, socket.getfqdn):
        try:
            names.add(get().lower())
        except OSError:  # pragma: no cover - depends on the machine
            pass
    return names


class Handler(BaseHTTPRequestHandler):
    api: Api
    hosts: frozenset[str] | None  # None: a wildcard bind (see allowed_hosts)
    port: int
    server_version = "forkpoint-ui"

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the CLI prints the address
        pass

    def end_headers(self) -> None:
        # every response, error pages of http.server included, carries the security headers
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(_finite_copy(data), default=str).encode(), "application/json")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if self.hosts is not None:
            return host in self.hosts
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name or not port.isdigit() or int(port) != self.port:
            return False
        try:
            ipaddress.ip_address(name.strip("[]"))
            return True
        except ValueError:
            return name in _own_names()

    def do_GET(self) -> None:
        if not self._host_ok():
            expected = (", ".join(sorted(self.hosts)) if self.hosts is not None
                        else f"an IP address or this host's name, port {self.port}")
            msg = (f"forkpoint ui: Host {self.headers.get('Host')!r} is not this server (expected {expected}); "
                   "refused to protect the local API from DNS rebinding")
            self._send(403, msg.encode(), "text/plain; charset=utf-8")
            return
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
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a store that fails mid-read: answer, never drop the connection
            if not isinstance(exc, StoreError):
                traceback.print_exc(file=sys.stderr)
            self._json(500, {"error": f"store {self.api.url} cannot be read: {type(exc).__name__}: {exc}"})

    def _api(self, path: str, q: dict[str, list[str]]) -> Any:
        api = self.api
        if path == "/projects":
            return {"projects": [{"name": k, "runs": n} for k, n in api.projects().items()]}
        if path == "/runs":
            project = (q.get("project") or [""])[0] or None
            text = ((q.get("q") or [""])[0]).lower()
            try:
                runs = api.runs(project)
            except SpecError as exc:  # a bad project name
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
        root = STATIC.resolve()
        target = (STATIC / name).resolve()
        if root not in target.parents or not target.is_file():
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


class UIServer(ThreadingHTTPServer):
    """One daemon thread per request; a backlog large enough that a page's burst of chart
    requests (or many tabs) queues rather than being dropped (the default is 5)."""

    request_queue_size = 128
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the fully qualified name of the address (DNS, slow and
        # unused here): bind only
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


def make_server(store: Any = None, host: str = "127.0.0.1", port: int = 8765) -> UIServer:
    """A server for ``store`` (a path, URL, ``Store`` or an ``Api``) on ``host:port`` (0: a free
    port), not yet serving. Opening a store that does not exist is a ``StoreError``."""
    api = store if isinstance(store, Api) else Api(store)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("UIServer", (UIServer,), {"address_family": family})
    handler = cast("type[Handler]", type("BoundHandler", (Handler,), {"api": api, "hosts": None, "port": 0}))
    srv = server_class((host, port), handler)
    handler.port = int(srv.server_address[1])
    handler.hosts = allowed_hosts(host, handler.port)
    return srv


def serve_in_thread(store: Any = None, host: str = "127.0.0.1", port: int = 0) -> tuple[UIServer, str]:
    """Start a server on a free port in a daemon thread (tests, notebooks); returns it and its URL."""
    srv = make_server(store, host, port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    name = f"[{host}]" if ":" in host else host
    return srv, f"http://{name}:{srv.server_address[1]}"
