"""Projects, the runs table and the compare page in Chromium."""

from __future__ import annotations


def test_runs_table_sorts_and_filters(page, store, shot):
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


def test_compare_page(page, store, shot, charts):
    pg, url, rid, errors = page
    pg.goto(f"{url}/compare?runs={rid},kid")
    got = charts(pg)
    assert [s["label"] for s in got["metric"][0]] == [rid, "kid"]
    shot(pg, "compare", store)
    assert errors == []

