"""The run page in Chromium: charts with inherited parts and branch points, the lineage, errors."""

from __future__ import annotations


def test_rewound_run_page(page, store, shot, charts):
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


def test_forked_run_page(page, store, shot, charts):
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


def test_unknown_run_shows_the_error(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/nosuch")
    pg.wait_for_selector("#error")
    assert "'nosuch' not found" in pg.inner_text("#error")

