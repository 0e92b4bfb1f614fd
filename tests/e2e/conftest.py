"""Fixtures for the UI tests in real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright): ``browser``, ``page`` (a served lineage: a run rewound at 200 and a fork ``kid`` of it
at 150), ``shot`` (a full-page screenshot under artifacts/ui/) and ``charts`` (what each chart
panel says it shows).

Playwright's ``wait_for_function`` evaluates script, which the page's CSP forbids: wait for
selectors and data attributes instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from forkpoint.ui.server import serve_in_thread
from test_ui_api import lineage

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        msg = f"{CHROMIUM} is missing (Debian packages chromium and chromium-driver; scripts/test.sh installs them)"
        if os.environ.get("FORKPOINT_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, store, request):
    rid = lineage(store)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    yield pg, url, rid, errors
    pg.close()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def shot():
    return _shot


def _shot(pg, name, store):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{'postgres' if store.startswith('postgres') else 'sqlite'}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


@pytest.fixture
def charts():
    return _charts


def _charts(pg):
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
    return {el.get_attribute("data-key"): (json.loads(el.get_attribute("data-series")),
                                           json.loads(el.get_attribute("data-marks")))
            for el in pg.query_selector_all(".chart")}


