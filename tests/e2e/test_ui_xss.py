"""Hostile run names, keys and ids are shown as text on every page, in Chromium: the projects page,
the workspace (table cells and headers, column chooser, group rows, filter), the compare page and
the run page. No dialog, no injected element, no CSP violation. (Project names cannot be hostile:
``check_project`` allows only ``A-Za-z0-9_.-``.)"""

from __future__ import annotations

from urllib.parse import quote

import forkpoint
import pytest
from forkpoint.ui.server import serve_in_thread

EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_KEY = '"><img src=x onerror=alert(2)>'
EVIL_ID = 'q"><i>'
INJECTED = "#app img, #app i, #app script, #crumbs img, #crumbs i"


@pytest.fixture
def evil(browser, store):
    with forkpoint.init(store=store, project="xss", id=EVIL_ID, name=EVIL_NAME, tags=[EVIL_NAME], group=EVIL_NAME,
                        job_type=EVIL_KEY, config={EVIL_KEY: EVIL_NAME, "nested": {EVIL_KEY: 1}}, quiet=True) as run:
        for i in range(20):
            run.log({EVIL_KEY: float(i), "loss": 1.0 / (i + 1)})
    with forkpoint.init(store=store, project="xss", fork_from=f"{EVIL_ID}?_step=9", name=EVIL_NAME,
                        config={EVIL_KEY: "other"}, quiet=True) as kid:
        kid.log({EVIL_KEY: -1.0})
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    events: list[str] = []
    pg.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
    pg.on("console", lambda m: events.append(f"console: {m.text}") if m.type == "error" else None)
    yield pg, url, kid.id, events
    pg.close()
    srv.shutdown()
    srv.server_close()


def test_projects_page_and_workspace_show_hostile_strings_literally(evil, store, shot):
    pg, url, kid, events = evil
    pg.goto(url + "/")
    pg.wait_for_selector("#projects tbody tr[data-project='xss']")
    pg.click("#projects a[href='/p/xss']")
    pg.wait_for_selector("#runs tbody tr[data-run]")
    body = pg.inner_text("#runs tbody")
    assert body.count(EVIL_NAME) == 2 and EVIL_ID in body
    assert {r.get_attribute("data-run") for r in pg.query_selector_all("#runs tbody tr[data-run]")} == {EVIL_ID, kid}
    assert EVIL_KEY in pg.inner_text("#runs thead")  # a summary column named by the metric key
    # column chooser: the hostile config keys are offered, and chosen they head a column
    pg.click("#columns-btn")
    assert EVIL_KEY in pg.inner_text("#columns-panel")
    for box in pg.query_selector_all("#columns-panel input[data-col^='config.']"):
        box.check()
    pg.keyboard.press("Escape")
    assert pg.query_selector("#columns-panel").is_hidden()
    heads = [th.get_attribute("data-key") for th in pg.query_selector_all("#runs th[data-key]")]
    assert "config." + EVIL_KEY in heads and f"config.nested.{EVIL_KEY}" in heads
    assert EVIL_NAME in pg.inner_text(f"tr[data-run='{kid}']") and "other" in pg.inner_text(f"tr[data-run='{kid}']")
    # group rows and the filter take the strings as text too
    pg.select_option("#group-by", "group")
    assert pg.query_selector("#runs tr.group-row").get_attribute("data-group") == EVIL_NAME
    assert EVIL_NAME in pg.inner_text("#runs tr.group-row")
    pg.select_option("#group-by", "config." + EVIL_KEY)
    assert {g.get_attribute("data-group") for g in pg.query_selector_all("#runs tr.group-row")} == {EVIL_NAME, "other"}
    pg.select_option("#group-by", "")
    pg.fill("#filter", EVIL_NAME)
    assert len(pg.query_selector_all("#runs tbody tr[data-run]")) == 2
    pg.fill("#filter", "")
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
    assert EVIL_KEY in {c.get_attribute("data-key") for c in pg.query_selector_all(".chart")}
    shot(pg, "xss-workspace", store)
    assert pg.query_selector_all(INJECTED) == [] and events == []


def test_compare_and_run_pages_show_hostile_strings_literally(evil, store, shot, charts):
    pg, url, kid, events = evil
    pg.goto(f"{url}/compare?runs={quote(EVIL_ID)},{kid}")
    got = charts(pg)
    assert {EVIL_KEY, "loss"} <= set(got)
    diff = {r.get_attribute("data-key"): [c.inner_text() for c in r.query_selector_all("td")]
            for r in pg.query_selector_all("#config-diff tbody tr[data-key]")}
    assert diff == {EVIL_KEY: [EVIL_NAME, "other"]}  # the fork inherited nested.<key>
    assert EVIL_ID in pg.inner_text("#config-diff thead") and EVIL_NAME in pg.inner_text("#compare-runs")
    shot(pg, "xss-compare", store)
    assert pg.query_selector_all(INJECTED) == []

    pg.goto(f"{url}/run/{kid}")
    got = charts(pg)
    assert set(got) >= {EVIL_KEY, "loss"} and got[EVIL_KEY][1] == [9]
    text = pg.inner_text("#app")
    assert EVIL_NAME in text and EVIL_ID in text and EVIL_KEY in text
    pg.click(f"#lineage a[href='/run/{quote(EVIL_ID)}']")
    pg.wait_for_selector("#charts[data-ready='1']")
    assert pg.query_selector_all(INJECTED) == [] and events == []
