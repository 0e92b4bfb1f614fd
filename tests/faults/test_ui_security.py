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


def request(url: str, path: str, host: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One raw request; ``host`` replaces the Host header (http.client would send the real one)."""
    hostport = url.split("//", 1)[1]
    name, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(name.strip("[]"), int(port), timeout=10)
    try:
        conn.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
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
    srv, _ = serve_in_thread(store, host="0.0.0.0")
    port = srv.server_address[1]
    url = f"http://127.0.0.1:{port}"
    try:
        assert request(url, "/api/projects", host=f"127.0.0.1:{port}")[0] == 200
        assert request(url, "/api/projects", host=f"192.168.7.7:{port}")[0] == 200
        assert request(url, "/api/projects", host=f"rebind.attacker.test:{port}")[0] == 403
        assert request(url, "/api/projects", host=f"127.0.0.1:{port + 1}")[0] == 403
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
        assert all(a.startswith(b"HTTP/1.0 200") and a.endswith(b'{"projects": []}') for a in answers)
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
