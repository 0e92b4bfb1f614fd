"""The UI in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Opens the pages of a rewound and a forked run, checks that the charts and the lineage render with
the right series, and saves screenshots under artifacts/ui/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import forkpoint
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


def shot(pg, name, store):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{'postgres' if store.startswith('postgres') else 'sqlite'}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def charts(pg):
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
    return {el.get_attribute("data-key"): (json.loads(el.get_attribute("data-series")),
                                           json.loads(el.get_attribute("data-marks")))
            for el in pg.query_selector_all(".chart")}


def test_runs_table_sorts_and_filters(page, store):
    pg, url, rid, errors = page
    pg.goto(url + "/")
    pg.wait_for_selector("#runs tbody tr")
    assert sorted(r.get_attribute("data-run") for r in pg.query_selector_all("#runs tbody tr")) == sorted([rid, "kid"])
    pg.click("th[data-key='id']")
    first = pg.query_selector("#runs tbody tr").get_attribute("data-run")
    pg.click("th[data-key='id']")
    assert pg.query_selector("#runs tbody tr").get_attribute("data-run") != first
    pg.fill("#filter", "kid")
    assert [r.get_attribute("data-run") for r in pg.query_selector_all("#runs tbody tr")] == ["kid"]
    shot(pg, "runs", store)
    assert errors == []


def test_rewound_run_page(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/{rid}")
    got = charts(pg)
    assert set(got) == {"metric"}
    series, marks = got["metric"]
    assert series == [{"label": rid, "points": 300}] and sorted(marks) == [150, 200]
    assert pg.query_selector("canvas") is not None
    lineage_text = pg.inner_text("#lineage")
    assert f"archived {rid}~1" in lineage_text and "fork kid" in lineage_text and "rewound at _step=200" in lineage_text
    pg.check("#show-archived")
    pg.wait_for_selector(f".chart[data-series*='{rid}~1']")  # (the page's CSP forbids wait_for_function's eval)
    series, _ = charts(pg)["metric"]
    assert {s["label"] for s in series} == {rid, f"{rid}~1"}
    shot(pg, "rewound-run", store)
    pg.click("#lineage a[href='/run/kid']")
    pg.wait_for_url(f"{url}/run/kid")
    assert errors == []


def test_forked_run_page(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/kid")
    got = charts(pg)
    assert set(got) == {"metric", "extra"}
    series, marks = got["metric"]
    assert series == [{"label": "kid (inherited)", "points": 151}, {"label": "kid", "points": 109}] and marks == [150]
    assert got["extra"][0] == [{"label": "kid", "points": 109}]
    assert '"lr": 0.1' in pg.inner_text("#config")
    assert pg.query_selector("#lineage .current a").inner_text() == "kid"
    shot(pg, "forked-run", store)
    assert errors == []


def test_compare_page(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/compare?runs={rid},kid")
    got = charts(pg)
    assert [s["label"] for s in got["metric"][0]] == [rid, "kid"]
    shot(pg, "compare", store)
    assert errors == []


def test_unknown_run_shows_the_error(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/nosuch")
    pg.wait_for_selector("#error")
    assert "'nosuch' not found" in pg.inner_text("#error")


EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_KEY = '"><img src=x onerror=alert(2)>'
EVIL_ID = 'q"><i>'


def test_hostile_names_keys_and_ids_show_literally_and_run_no_script(browser, tmp_path):
    """A run named ``<img src=x onerror=alert(1)>``, a metric key that closes an attribute and an
    id that opens a tag are shown as text on every page; no dialog, no injected element, no CSP
    violation."""
    from forkpoint.store import close_store

    store = f"sqlite:///{tmp_path / 'runs.db'}"
    with forkpoint.init(store=store, project="xss", id=EVIL_ID, name=EVIL_NAME, tags=[EVIL_NAME],
                        config={EVIL_KEY: EVIL_NAME}, quiet=True) as run:
        for i in range(20):
            run.log({EVIL_KEY: float(i), "loss": 1.0 / (i + 1)})
    with forkpoint.init(store=store, project="xss", fork_from=f"{EVIL_ID}?_step=9", name=EVIL_NAME, quiet=True) as kid:
        kid.log({EVIL_KEY: -1.0})
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    events: list[str] = []
    pg.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
    pg.on("console", lambda m: events.append(f"console: {m.text}") if m.type == "error" else None)
    try:
        pg.goto(url + "/")
        pg.wait_for_selector("#runs tbody tr")
        assert pg.inner_text("#runs tbody").count(EVIL_NAME) == 2
        assert EVIL_ID in pg.inner_text("#runs tbody") and EVIL_KEY in pg.inner_text("#runs thead")
        assert pg.query_selector_all("#app img, #app i") == []
        assert {r.get_attribute("data-run") for r in pg.query_selector_all("#runs tbody tr")} == {EVIL_ID, kid.id}

        pg.goto(f"{url}/run/{kid.id}")
        got = charts(pg)
        assert set(got) == {EVIL_KEY, "loss"} and got[EVIL_KEY][1] == [9]
        assert EVIL_NAME in pg.inner_text("#app .box h2") and EVIL_ID in pg.inner_text("#lineage")
        assert EVIL_KEY in pg.inner_text("#config") and EVIL_KEY in pg.inner_text(".chart h3")
        pg.click(f"#lineage a[href='/run/{quote(EVIL_ID)}']")
        pg.wait_for_selector("#charts[data-ready='1']")
        assert pg.query_selector_all("img, i, #app script") == [] and events == []
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()
        close_store(store)
