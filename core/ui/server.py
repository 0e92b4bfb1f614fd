"""The UI's HTTP server (standard library only): routing, headers, the Host check and the token.
Read-only; binds 127.0.0.1. The JSON answers are shaped in ``views.py``; docs/ui-api.md is the
contract (endpoints, errors, security).

Hardening: every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
and a Content-Security-Policy allowing only this server's own scripts and styles; the one inline
script is ``early.js``, inlined into the page so its request leaves before anything else loads, and
allowed by its sha256 alone (``page()``). A request whose ``Host`` header does not name the address
the server is bound to is refused with 403 (a DNS-rebinding page in the browser cannot read the API). Beyond loopback a token
is required (``make_server(token=...)``, generated when not given): ``?token=T`` once (answered
with an ``HttpOnly; SameSite=Strict`` cookie and a redirect to the URL without it), then the
cookie, or ``Authorization: Bearer T``; anything else is 401. The server is threaded (daemon
threads) with a listen backlog of 128, so a burst of requests queues instead of being dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import mimetypes
import re
import secrets
import socket
import socketserver
import sys
import threading
import traceback
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from ..api import Api
from ..errors import StoreError
from . import views
from .bulk import Cache
from .views import NotFound

STATIC = Path(__file__).with_name("static")
EARLY_TAG = '<script src="/static/js/early.js"></script>'
PAGES = re.compile(r"^/(?:run/.+|p/[^/]+|compare)?/?$")
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


def page() -> tuple[bytes, str]:
    """Every page's HTML (index.html) with ``early.js`` inlined where it is named, and the CSP
    source allowing that script and no other inline one (``'sha256-...'`` of its text). Inline, the
    runs table's first request leaves while the HTML is parsed, not after a round trip for the
    script that sends it. Read on each request, like the other static files."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    early = (STATIC / "js" / "early.js").read_text(encoding="utf-8")
    if EARLY_TAG not in html or "</script" in early.lower():
        raise RuntimeError(f"static/index.html must name {EARLY_TAG} once and early.js hold no </script>")
    digest = base64.b64encode(hashlib.sha256(early.encode()).digest()).decode()
    return html.replace(EARLY_TAG, f"<script>{early}</script>", 1).encode(), f"'sha256-{digest}'"


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


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (no token needed)."""
    host = host.lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _param(q: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    got = q.get(name)
    return got[0] if got else default


def _required(q: dict[str, list[str]], name: str, what: str) -> str:
    got = _param(q, name)
    if not got:
        raise ValueError(f"{name}: missing; expected ?{name}=<{what}>")
    return got


def _points(q: dict[str, list[str]], default: int) -> int:
    raw = _param(q, "points", str(default))
    try:
        points = int(raw or "")
    except ValueError:
        raise ValueError(f"points={raw!r}: expected a whole number 10..100000") from None
    if not 10 <= points <= 100_000:
        raise ValueError(f"points={points}: expected 10..100000")
    return points


def _runs(q: dict[str, list[str]], limit: int) -> list[str]:
    refs = list(dict.fromkeys(r for r in _required(q, "runs", "id,id,...").split(",") if r))
    if not refs:
        raise ValueError("runs: expected ?runs=<id>,<id>,...")
    if len(refs) > limit:
        raise ValueError(f"runs: {len(refs)} runs; at most {limit} per request")
    return refs


class Handler(BaseHTTPRequestHandler):
    api: Api
    hosts: frozenset[str] | None  # None: a wildcard bind (see allowed_hosts)
    port: int
    token: str | None  # None: no token asked (loopback without --token)
    cache: Cache
    overlays: views.OverlayCache
    server_version = "forkpoint-ui"
    # keep-alive: a page's ~20 files and API calls reuse a few connections (and their threads)
    # instead of one connection and thread each; every answer carries Content-Length
    protocol_version = "HTTP/1.1"
    script_hash = ""  # the inline script the page being answered may run (page())
    timeout = 120  # s: an idle kept-alive connection is closed (and its thread ends)
    # headers and body leave as two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK of the headers (40 ms per answer on a kept-alive connection)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the CLI prints the address
        pass

    def end_headers(self) -> None:
        # every response, error pages of http.server included, carries the security headers
        for name, value in SECURITY_HEADERS.items():
            if name == "Content-Security-Policy" and self.script_hash:
                value = value.replace("script-src 'self'", f"script-src 'self' {self.script_hash}")
            self.send_header(name, value)
        self.script_hash = ""
        super().end_headers()

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {"Cache-Control": "no-store"}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = bytes(data) if isinstance(data, views.Encoded) else views.encode(data)
        self._send(status, body, "application/json")

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

    # -- the token ------------------------------------------------------------------------------
    @property
    def cookie_name(self) -> str:
        return f"forkpoint_token_{self.port}"  # cookies ignore ports: one name per server

    def _token_ok(self, given: str | None) -> bool:
        assert self.token is not None
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    def _authorized(self, url: Any, query: dict[str, list[str]]) -> bool:
        """True to go on; otherwise the answer (401, or the redirect that drops ``?token=``) is sent."""
        if self.token is None:
            return True
        if "token" in query:
            if not self._token_ok(query["token"][0]):
                self._unauthorized(url.path)
                return False
            rest = urlencode([(k, v) for k, vs in query.items() if k != "token" for v in vs], doseq=True)
            location = url.path + (f"?{rest}" if rest else "")
            self.send_response(303)
            self.send_header("Location", location)
            self.send_header("Set-Cookie", f"{self.cookie_name}={self.token}; HttpOnly; SameSite=Strict; Path=/")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        cookies = SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie") or "")
        except CookieError:
            pass
        got = cookies.get(self.cookie_name)
        if got is not None and self._token_ok(got.value):
            return True
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer " and self._token_ok(auth[7:].strip()):
            return True
        self._unauthorized(url.path)
        return False

    def _unauthorized(self, path: str) -> None:
        msg = ("forkpoint ui: this server needs its token: open the URL `forkpoint ui` printed "
               "(http://HOST:PORT/?token=...), or send Authorization: Bearer <token>")
        if path.startswith("/api/"):
            self._json(401, {"error": msg})
        else:
            self._send(401, msg.encode(), "text/plain; charset=utf-8")

    # -- routing --------------------------------------------------------------------------------
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
            if not self._authorized(url, query):
                return
            if path.startswith("/api/blob/"):
                self._blob(path[len("/api/blob/"):])
            elif path.startswith("/api/"):
                self._json(200, self._api(url.path[len("/api"):], query))
            elif path.startswith("/static/"):
                self._static(path[len("/static/"):])
            elif PAGES.match(path):
                html, self.script_hash = page()
                self._send(200, html, "text/html; charset=utf-8")
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

    def _api(self, raw: str, q: dict[str, list[str]]) -> Any:
        """``raw``: the path after ``/api``, still URL-encoded (a run reference may hold an encoded ``/``)."""
        api = self.api
        path = unquote(raw)
        if path == "/projects":
            return views.projects(api)
        if path == "/runs":
            first = views.FirstRows.parse(_param(q, "sort"), _param(q, "order"), _param(q, "limit"))
            return views.runs_table(api, _param(q, "project") or None, _param(q, "q", "") or "", self.cache, first)
        if path == "/series":
            refs = _runs(q, views.MAX_SERIES_RUNS)
            key = _required(q, "key", "metric")
            return views.overlay(api, refs, key, _param(q, "x", "_step") or "_step", _points(q, 1500), self.overlays)
        if path == "/status":
            return views.status(api, _runs(q, 1000))
        if path == "/lineage":
            project, ref = _param(q, "project"), _param(q, "run")
            if bool(project) == bool(ref):
                raise ValueError("lineage: expected exactly one of ?project=<name> or ?run=<ref>")
            return views.lineage_graph(api, project, ref, self.cache)
        if raw.startswith("/run/"):
            parts = raw[len("/run/"):].split("/")
            endpoint = parts[-1] if len(parts) > 1 and parts[-1] in ("series", "media") else None
            ref = unquote("/".join(parts[:-1] if endpoint else parts))
            if endpoint == "series":
                return views.series(api, ref, _required(q, "key", "metric"), _points(q, 2000))
            if endpoint == "media":
                return views.media(api, ref, _required(q, "key", "media key"))
            return views.run_detail(api, ref)
        raise NotFound(f"no API endpoint {path!r}")

    def _blob(self, digest: str) -> None:
        data, ctype = views.blob(self.api, digest)
        # content-addressed, so it never changes; anything not an image is a download, never a page
        headers = {"Cache-Control": "private, max-age=31536000, immutable"}
        if not ctype.startswith("image/"):
            headers["Content-Disposition"] = f'attachment; filename="{digest}.bin"'
        self._send(200, data, ctype, headers)

    def _static(self, name: str) -> None:
        root = STATIC.resolve()
        target = (STATIC / name).resolve()
        if root not in target.parents or not target.is_file():
            raise NotFound(f"no file {name!r}")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        data = target.read_bytes()
        # kept by the browser, asked again each time (a 304 while unchanged): an upgrade shows at once
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = {"Cache-Control": "no-cache", "ETag": etag}
        unchanged = etag in (self.headers.get("If-None-Match") or "")
        self._send(304 if unchanged else 200, b"" if unchanged else data, ctype, headers)


class UIServer(ThreadingHTTPServer):
    """One daemon thread per request; a backlog large enough that a page's burst of chart
    requests (or many tabs) queues rather than being dropped (the default is 5)."""

    request_queue_size = 128
    daemon_threads = True
    token: str | None = None
    url: str = ""  # what to open: http://HOST:PORT/ (with ?token=T when there is one)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a browser closing a kept-alive connection (tab closed, navigation) is no error
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the fully qualified name of the address (DNS, slow and
        # unused here): bind only
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


def make_server(store: Any = None, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> UIServer:
    """A server for ``store`` (a path, URL, ``Store`` or an ``Api``) on ``host:port`` (0: a free
    port), not yet serving. Opening a store that does not exist is a ``StoreError``.

    ``token``: required on every request when given. A ``host`` beyond loopback always needs one:
    without ``token`` one is generated (``secrets.token_urlsafe``); ``srv.token`` and ``srv.url``
    (the address to open, token included) tell it."""
    if token is not None and (not token or not token.isprintable() or any(c in token for c in ' ;,"\\')):
        raise ValueError(f"token {token!r}: expected printable text without spaces, ';', ',', quotes or backslashes")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    api = store if isinstance(store, Api) else Api(store)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("UIServer", (UIServer,), {"address_family": family})
    handler = cast("type[Handler]", type("BoundHandler", (Handler,), {"api": api, "hosts": None, "port": 0,
                                                                     "token": token, "cache": Cache(),
                                                                     "overlays": views.OverlayCache()}))
    srv = server_class((host, port), handler)
    handler.port = int(srv.server_address[1])
    handler.hosts = allowed_hosts(host, handler.port)
    srv.token = token
    name = f"[{host}]" if ":" in host else host
    srv.url = f"http://{name}:{handler.port}/" + (f"?token={token}" if token else "")
    return srv


def serve_in_thread(store: Any = None, host: str = "127.0.0.1", port: int = 0,
                    token: str | None = None) -> tuple[UIServer, str]:
    """Start a server on a free port in a daemon thread (tests, notebooks); returns it and its URL
    (without the token: ``srv.token``, ``srv.url``)."""
    srv = make_server(store, host, port, token)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    name = f"[{host}]" if ":" in host else host
    return srv, f"http://{name}:{srv.server_address[1]}"
