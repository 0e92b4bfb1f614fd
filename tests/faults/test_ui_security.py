"""The UI server under hostile or heavy input, over real sockets: Host checks (DNS rebinding),
security headers on every response, path traversal, a burst of concurrent connections, and a
store that breaks while the server runs."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time

import forkpoint
import pytest
from forkpoint.store import close_store
from forkpoint.ui.server import allowed_hosts, make_server, serve_in_thread

CSP = "Content-Security-Policy"


def request(url: str, path: str, host: str | None = None, method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw request; ``host`` replaces the Host header (http.client would send the real one)."""
    hostport = url.split("//", 1)[1].rstrip("/")
    name, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(name.strip("[]"), int(port), timeout=10)
    try:
        conn.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


@pytest.fixture
def ui(tmp_path):
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    with forkpoint.init(store=store, project="sec", id="r1", quiet=True) as run:
        for i in range(5):
            run.log({"loss": 1.0 / (i + 1)})
    srv, url = serve_in_thread(store)
    yield url, srv, store, tmp_path
    srv.shutdown()
    srv.server_close()
    close_store(store)


@pytest.mark.parametrize("host", ["evil.example:{port}", "attacker.test", "127.0.0.1:1", "localhost.evil.com:{port}",
                                  "127.0.0.1:{port}.evil.com", ""])
def test_foreign_host_header_is_refused(ui, host):
    url, srv, _, _ = ui
    port = srv.server_address[1]
    status, headers, body = request(url, "/api/runs", host=host.format(port=port))
    assert status == 403 and b"DNS rebinding" in body and b'"runs"' not in body
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_own_host_names_are_served(ui):
    url, srv, _, _ = ui
    port = srv.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        status, _, body = request(url, "/api/runs", host=host)
        assert status == 200 and json.loads(body)["runs"][0]["id"] == "r1", host


def test_allowed_hosts_per_bind_address():
    assert allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765"}
    assert allowed_hosts("::1", 9000) == {"[::1]:9000", "localhost:9000"}
    assert allowed_hosts("10.1.2.3", 80) == {"10.1.2.3:80", "10.1.2.3"}
    assert allowed_hosts("box.lan", 8765) == {"box.lan:8765"}
    assert allowed_hosts("0.0.0.0", 8765) is None  # any IP literal or this machine's name (checked per request)


def test_wildcard_bind_takes_ip_literals_not_foreign_names(tmp_path):
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    forkpoint.store.open_store(store)
    srv, _ = serve_in_thread(store, host="0.0.0.0", token="t0k")
    port = srv.server_address[1]
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer t0k"}
    try:
        assert request(url, "/api/projects", host=f"127.0.0.1:{port}", headers=auth)[0] == 200
        assert request(url, "/api/projects", host=f"192.168.7.7:{port}", headers=auth)[0] == 200
        assert request(url, "/api/projects", host=f"rebind.attacker.test:{port}", headers=auth)[0] == 403
        assert request(url, "/api/projects", host=f"127.0.0.1:{port + 1}", headers=auth)[0] == 403
    finally:
        srv.shutdown()
        srv.server_close()
        close_store(store)


@pytest.mark.parametrize("path, status", [
    ("/", 200), ("/run/r1", 200), ("/static/js/app.js", 200), ("/api/runs", 200), ("/api/run/r1", 200),
    ("/api/run/nosuch", 404), ("/nosuch/page", 404), ("/api/run/r1/series", 400),
])
def test_security_headers_on_every_response(ui, path, status):
    url, _, _, _ = ui
    got, headers, _ = request(url, path)
    assert got == status
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    csp = headers[CSP.lower()]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_the_page_allows_its_one_inline_script_by_hash_and_no_other(ui):
    """early.js is inlined into every page; the CSP names its sha256, never 'unsafe-inline', and
    only the page (not the API or static files) carries that hash."""
    import base64
    import hashlib
    import re

    url, _, _, _ = ui
    _, headers, body = request(url, "/p/x")
    inline = re.findall(rb"<script>(.*?)</script>", body, re.S)
    assert len(inline) == 1 and b"forkpointEarly" in inline[0] and b'src="/static/js/early.js"' not in body
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    csp = headers[CSP.lower()]
    assert f"script-src 'self' 'sha256-{digest}';" in csp and "unsafe-inline" not in csp
    for path in ("/api/runs", "/static/js/app.js"):
        assert "sha256-" not in request(url, path)[1][CSP.lower()]


def test_static_files_are_revalidated_not_refetched(ui):
    url, _, _, _ = ui
    status, headers, body = request(url, "/static/js/runs.js")
    assert status == 200 and headers["cache-control"] == "no-cache" and body
    status, _, body = request(url, "/static/js/runs.js", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    assert request(url, "/static/js/runs.js", headers={"If-None-Match": '"other"'})[0] == 200


def test_error_pages_of_http_server_carry_the_headers_too(ui):
    url, _, _, _ = ui
    status, headers, _ = request(url, "/api/runs", method="POST")  # http.server's own 501 page
    assert status == 501 and headers["x-content-type-options"] == "nosniff" and CSP.lower() in headers


@pytest.mark.parametrize("path", [
    "/static/../../pyproject.toml", "/static/..%2f..%2fserver.py", "/static/%2e%2e/server.py",
    "/static/vendor/../../server.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/../__init__.py",
    "/static/vendor/uplot/../../../api.py",
])
def test_path_traversal_on_static_files_is_refused(ui, path):
    url, _, _, _ = ui
    status, _, body = request(url, path)
    assert status == 404 and b"root:" not in body and b"import" not in body


def test_a_symlink_out_of_static_is_refused(ui):
    """A link planted in static/ pointing outside it is not followed (resolved path checked)."""
    from forkpoint.ui import server

    url, _, _, tmp = ui
    secret = tmp / "secret.txt"
    secret.write_text("top secret")
    link = server.STATIC / "h1-test-link.txt"
    try:
        os.symlink(secret, link)
        status, _, body = request(url, "/static/h1-test-link.txt")
    finally:
        link.unlink(missing_ok=True)
    assert status == 404 and b"secret" not in body.replace(b"h1-test-link", b"")


def test_a_burst_of_64_connections_is_queued_not_dropped(tmp_path):
    """Connect 64 clients before the server accepts any: all of them complete the TCP handshake
    (the listen backlog holds them; with the old backlog of 5 most hang), then all are answered."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    forkpoint.store.open_store(store)
    srv = make_server(store, "127.0.0.1", 0)
    assert srv.daemon_threads and srv.request_queue_size >= 128
    port = srv.server_address[1]
    socks = []
    try:
        for _ in range(64):
            s = socket.socket()
            s.settimeout(0.5)
            s.connect(("127.0.0.1", port))  # times out when the backlog is full
            socks.append(s)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        for s in socks:
            s.settimeout(10)
            s.sendall(f"GET /api/projects HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        answers = []
        for s in socks:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            answers.append(data)
        assert all(a.startswith(b"HTTP/1.1 200") and a.endswith(b'{"projects": []}') for a in answers)
    finally:
        for s in socks:
            s.close()
        srv.shutdown()
        srv.server_close()
        close_store(store)


def test_64_concurrent_requests_are_all_answered(ui):
    url, _, _, _ = ui
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status, _, _ = request(url, "/api/run/r1")
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 64


def test_a_store_that_breaks_under_the_server_answers_500_with_the_store_named(ui):
    """The file is overwritten with garbage while the server runs: requests get a JSON error naming
    the store (the connection is never just dropped), and the server keeps answering."""
    url, _, store, tmp = ui
    path = tmp / "runs.db"
    for suffix in ("-wal", "-shm"):
        (tmp / f"runs.db{suffix}").unlink(missing_ok=True)
    path.write_bytes(os.urandom(8192))
    time.sleep(0.05)
    status, headers, body = request(url, "/api/runs")
    assert status == 500 and headers["content-type"] == "application/json"
    err = json.loads(body)["error"]
    assert str(path) in err and "cannot be read" in err
    assert request(url, "/static/js/app.js")[0] == 200


# -- the token ------------------------------------------------------------------------------------
@pytest.fixture
def guarded(tmp_path):
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    with forkpoint.init(store=store, project="sec", id="r1", quiet=True) as run:
        run.log({"loss": 1.0})
    srv, url = serve_in_thread(store, token="s3cret-T")
    yield url, srv, store
    srv.shutdown()
    srv.server_close()
    close_store(store)


@pytest.mark.parametrize("path", ["/", "/p/sec", "/api/runs", "/api/run/r1", "/static/js/app.js", "/api/blob/" + "0" * 64])
def test_without_the_token_every_path_is_401(guarded, path):
    url, _, _ = guarded
    status, headers, body = request(url, path)
    assert status == 401 and b"token" in body and b"r1" not in body and "set-cookie" not in headers
    assert headers["x-content-type-options"] == "nosniff" and CSP.lower() in headers


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-T-and-more"}, {"Authorization": "s3cret-T"},
    {"Cookie": "forkpoint_token_{port}=wrong"}, {"Cookie": "forkpoint_token_1=s3cret-T"},  # another port's cookie
    {"Authorization": "Bearer s3cr\u00e9t"}, {"Cookie": "garbage;;=\"\x7f"},
])
def test_a_wrong_token_is_401(guarded, headers):
    url, srv, _ = guarded
    port = srv.server_address[1]
    status, _, _ = request(url, "/api/runs", headers={k: v.format(port=port) for k, v in headers.items()})
    assert status == 401


def test_a_wrong_token_in_the_query_is_401_and_sets_no_cookie(guarded):
    url, _, _ = guarded
    status, headers, _ = request(url, "/?token=nope")
    assert status == 401 and "set-cookie" not in headers and "location" not in headers


def test_the_token_in_the_query_sets_a_cookie_and_redirects_without_it(guarded):
    url, srv, _ = guarded
    port = srv.server_address[1]
    status, headers, _ = request(url, "/compare?runs=r1&token=s3cret-T&x=1")
    assert status == 303 and headers["location"] == "/compare?runs=r1&x=1"  # the token leaves the address bar
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"forkpoint_token_{port}=s3cret-T;")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert flags == {"httponly", "samesite=strict", "path=/"}
    assert request(url, "/?token=s3cret-T")[1]["location"] == "/"
    status, _, body = request(url, "/api/runs", headers={"Cookie": f"other=1; forkpoint_token_{port}=s3cret-T"})
    assert status == 200 and json.loads(body)["runs"][0]["id"] == "r1"
    assert request(url, "/static/js/app.js", headers={"Cookie": f"forkpoint_token_{port}=s3cret-T"})[0] == 200


def test_the_bearer_header_is_accepted(guarded):
    url, _, _ = guarded
    status, _, body = request(url, "/api/runs", headers={"Authorization": "Bearer s3cret-T"})
    assert status == 200 and b"r1" in body


def test_the_token_is_compared_in_constant_time(guarded, monkeypatch):
    from forkpoint.ui import server

    url, _, _ = guarded
    seen = []
    real = server.hmac.compare_digest
    monkeypatch.setattr(server.hmac, "compare_digest", lambda a, b: (seen.append((a, b)), real(a, b))[1])
    assert request(url, "/api/runs", headers={"Authorization": "Bearer guess"})[0] == 401
    assert seen == [(b"guess", b"s3cret-T")]


def test_beyond_loopback_a_token_is_generated_and_loopback_needs_none(tmp_path):
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    forkpoint.store.open_store(store)
    for host in ("0.0.0.0", "::"):
        try:
            srv = make_server(store, host, 0)
        except OSError:  # no IPv6 on this machine
            continue
        try:
            assert srv.token and len(srv.token) >= 32 and srv.url.endswith(f"/?token={srv.token}")
            port = srv.server_address[1]
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            assert request(f"http://127.0.0.1:{port}", "/api/projects", host=f"127.0.0.1:{port}")[0] in (401, 403)
        finally:
            srv.shutdown()
            srv.server_close()
    assert make_server(store, "0.0.0.0", 0).token != make_server(store, "0.0.0.0", 0).token
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        try:
            srv = make_server(store, host, 0)
        except OSError:
            continue
        assert srv.token is None and "token" not in srv.url
        srv.server_close()
    srv = make_server(store, "127.0.0.1", 0, token="given")  # given on loopback: enforced too
    assert srv.token == "given" and srv.url.endswith("/?token=given")
    srv.server_close()
    with pytest.raises(ValueError, match="token"):
        make_server(store, "127.0.0.1", 0, token="a b")
    close_store(store)


def test_the_cli_prints_the_generated_token_for_a_wildcard_bind(tmp_path):
    import subprocess
    import sys

    store = str(tmp_path / "runs.db")
    forkpoint.store.open_store(store)
    proc = subprocess.Popen([sys.executable, "-m", "forkpoint", "--store", store, "ui", "--host", "0.0.0.0",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("forkpoint ui: http://0.0.0.0:") and "/?token=" in line, line
        url, token = line.split()[2].split("/?token=")
        port = int(url.rsplit(":", 1)[1])
        base = f"http://127.0.0.1:{port}"
        assert request(base, "/api/projects", host=f"127.0.0.1:{port}")[0] == 401
        status, _, body = request(base, "/api/projects", host=f"127.0.0.1:{port}",
                                  headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and json.loads(body) == {"projects": []}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("payload", [b"<html><script>alert(1)</script></html>", b"<svg onload=alert(1)>",
                                     b"GIF89a<script>alert(1)</script>"[:6] + b"x", b"\x89PNG\r\n\x1a\n..."])
def test_the_blob_endpoint_never_serves_html_inline(ui, payload):
    import hashlib

    url, _, store, _ = ui
    digest = hashlib.sha256(payload).hexdigest()
    forkpoint.store.open_store(store).put_blob(digest, "image-file", payload, time.time())
    status, headers, body = request(url, f"/api/blob/{digest}")
    assert status == 200 and body == payload and headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] in ("image/png", "image/gif", "application/octet-stream")
    if headers["content-type"] == "application/octet-stream":
        assert headers["content-disposition"].startswith("attachment")
    assert "html" not in headers["content-type"] and "svg" not in headers["content-type"]
    assert "sandbox" in headers[CSP.lower()] or "default-src 'none'" in headers[CSP.lower()]


@pytest.mark.parametrize("path", ["/api/blob/..%2f..%2fserver.py", "/api/blob/../../etc/passwd", "/api/blob/ABC"])
def test_the_blob_endpoint_takes_only_a_digest(ui, path):
    url, _, _, _ = ui
    status, _, body = request(url, path)
    assert status in (400, 404) and b"import" not in body and b"root:" not in body
