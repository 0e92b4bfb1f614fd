"""The run page in Chromium: charts with inherited parts and branch points, the lineage, errors."""

from __future__ import annotations


def graph(pg):
    """The lanes of the lineage graph: id -> what the SVG says of it."""
    pg.wait_for_selector("#lineage[data-ready='1']")
    return {g.get_attribute("data-node"): {"lane": int(g.get_attribute("data-lane")), "state": g.get_attribute("data-state"),
                                           "archived": g.get_attribute("data-archived") == "1",
                                           "current": "current" in g.get_attribute("class"),
                                           "color": g.get_attribute("data-color"),
                                           "span": (g.get_attribute("data-from"), g.get_attribute("data-to"))}
            for g in pg.query_selector_all("#lineage [data-node]")}


def edges(pg):
    return {(*e.get_attribute("data-edge").split("->"), e.get_attribute("data-relation"), int(e.get_attribute("data-step")))
            for e in pg.query_selector_all("#lineage [data-edge]")}


def test_rewound_run_page(page, store, shot, charts):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/{rid}")
    got = charts(pg)
    assert set(got) == {"metric"}
    series, marks = got["metric"]
    assert series == [{"label": rid, "points": 300}] and sorted(marks) == [150, 200]
    assert pg.query_selector("canvas") is not None
    lanes = graph(pg)
    assert set(lanes) == {rid, f"{rid}~1", "kid"}
    assert lanes[rid]["current"] and lanes[f"{rid}~1"]["archived"] and not lanes["kid"]["archived"]
    assert lanes[rid]["lane"] == 0  # the run first, its archived branch, then forks below
    assert edges(pg) == {(f"{rid}~1", rid, "rewind", 200), (rid, "kid", "fork", 150), (rid, f"{rid}~1", "archived", 200)}
    # what the rewind abandoned (the archived branch's rows after 200) is drawn hatched
    assert pg.query_selector(f"#lineage [data-node='{rid}~1'] .lg-hatch") is not None
    assert pg.query_selector(f"#lineage [data-node='{rid}'] .lg-hatch") is None
    assert lanes[rid]["color"] != lanes[f"{rid}~1"]["color"]  # an archived branch never shares its run's colour
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
    assert {r.get_attribute("data-key"): r.inner_text().split("\t")[-1] for r in pg.query_selector_all("#config tr")} == {"lr": "0.1"}
    pg.click("details:has(#config) > summary")  # collapsible
    assert not pg.is_visible("#config")
    assert pg.query_selector("#lineage .current a").text_content() == "kid"
    shot(pg, "forked-run", store)
    assert errors == []


def test_unknown_run_shows_the_error(page, store):
    pg, url, rid, errors = page
    pg.goto(f"{url}/run/nosuch")
    pg.wait_for_selector("#error")
    assert "'nosuch' not found" in pg.inner_text("#error")

