"""The lineage graph in Chromium: a real lineage (a run rewound twice, forked at two steps, a fork
of a fork) drawn with every branch, edge, step and relation; opening and overlaying branches from
it; a 600-deep fork chain and a 300-run lineage; hostile names as text."""

from __future__ import annotations

from contextlib import contextmanager

import forkpoint
import pytest
from forkpoint.store import close_store
from forkpoint.ui.server import serve_in_thread
from test_ui_browser import edges, graph


def family(store: str) -> None:
    """A: 0..99; fork F at 40 (then FF, a fork of F, at 60); A rewound at 70 (A~1 keeps 71..99),
    fork G of A at 50 after that; A rewound again at 30 (A~2 keeps 71..89)."""
    with forkpoint.init(store=store, project="fam", id="A", quiet=True) as r:
        for i in range(100):
            r.log({"loss": 1.0 / (i + 1), "acc": i / 100})
    with forkpoint.init(store=store, fork_from="A?_step=40", id="F", config={"lr": 0.5}, quiet=True) as r:
        for i in range(41, 80):
            r.log({"loss": 0.5}, step=i)
    with forkpoint.init(store=store, fork_from="F?_step=60", id="FF", quiet=True) as r:
        for i in range(61, 70):
            r.log({"loss": 0.25}, step=i)
    with forkpoint.init(store=store, resume_from="A?_step=70", quiet=True) as r:
        for i in range(71, 90):
            r.log({"loss": 0.1}, step=i)
    with forkpoint.init(store=store, fork_from="A?_step=50", id="G", quiet=True) as r:
        for i in range(51, 60):
            r.log({"loss": 0.7}, step=i)
    with forkpoint.init(store=store, resume_from="A?_step=30", quiet=True) as r:
        for i in range(31, 50):
            r.log({"loss": 0.05}, step=i)


@contextmanager
def served(browser, store):
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg, url, errors
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()


def test_a_real_lineage_is_drawn_whole(browser, store, shot, charts):
    family(store)
    api = forkpoint.Api(store)
    with served(browser, store) as (pg, url, errors):
        pg.goto(f"{url}/run/F")
        lanes = graph(pg)
        assert set(lanes) == {"A", "A~1", "A~2", "F", "FF", "G"}
        assert lanes["F"]["current"] and not lanes["A"]["current"]
        assert [k for k, v in sorted(lanes.items(), key=lambda kv: kv[1]["lane"])][0] == "A"  # the root on top
        for ref in lanes:  # each lane's bar spans the branch's own steps, as the store has them
            span = api.run(ref).span()
            assert lanes[ref]["span"] == (str(span.own_first), str(span.own_last)), ref
        assert {k for k, v in lanes.items() if v["archived"]} == {"A~1", "A~2"}
        assert {lanes[k]["state"] for k in ("A~1", "A~2")} == {"archived"}
        got = edges(pg)
        want = {(str(v.parent.run_id), ref, "rewind" if v.kind == "rewind" else "fork", v.parent.step)
                for ref in lanes if (v := api.run(ref)).parent is not None}
        # and each archived branch hangs from its run, cut at the step of the rewind that left it
        want |= {("A", "A~1", "archived", 70), ("A", "A~2", "archived", 30)}
        assert got == want  # every fork and rewind, from the branch holding its prefix, at its step
        assert ("A~1", "F", "fork", 40) in got and ("F", "FF", "fork", 60) in got
        assert ("A~1", "A~2", "rewind", 70) in got and ("A~2", "A", "rewind", 30) in got
        # the relation and step are written on the graph, not only in attributes
        text = pg.text_content("#lineage svg")
        assert all(w in text for w in ("fork @40", "fork @60", "fork @50", "rewind @70", "rewind @30", "archived @70"))
        assert {lanes[k]["state"] for k in ("A", "F", "FF", "G")} == {"finished"}
        # a run and its archived branches never share a colour (dom.js colorOf: the charts use the same)
        assert len({lanes[k]["color"] for k in ("A", "A~1", "A~2")}) == 3
        shot(pg, "lineage-family", store)

        # shift-click a branch: it and everything below it overlay the charts
        pg.click("#lineage [data-node='F'] .lg-bar", modifiers=["Shift"])
        pg.wait_for_selector(".chart[data-key='loss'][data-series*='\"FF\"']")
        labels = {s["label"] for s in charts(pg)["loss"][0]}
        assert labels == {"F (inherited)", "F", "FF (inherited)", "FF"}
        assert [c.get_attribute("data-run") for c in pg.query_selector_all("#overlay .chip")] == ["FF"]
        sel = {g.get_attribute("data-node") for g in pg.query_selector_all("#lineage [data-node][data-selected='1']")}
        assert sel == {"F", "FF"}  # the graph marks what the charts overlay
        shot(pg, "lineage-overlay", store)
        # a narrower window: the graph is drawn again at its box's new width, the selection kept
        wide = int(pg.get_attribute("#lineage", "data-width"))
        bar = float(pg.get_attribute("#lineage [data-node='A'] .lg-bar", "width"))
        pg.set_viewport_size({"width": 1000, "height": 1000})
        pg.wait_for_selector(f"#lineage:not([data-width='{wide}'])")
        assert int(pg.get_attribute("#lineage", "data-width")) < wide
        assert float(pg.get_attribute("#lineage [data-node='A'] .lg-bar", "width")) < bar
        assert {g.get_attribute("data-node") for g in pg.query_selector_all("#lineage [data-selected='1']")} == {"F", "FF"}
        pg.set_viewport_size({"width": 1400, "height": 1000})
        pg.wait_for_selector(f"#lineage[data-width='{wide}']")
        # the ⊕ button of A~1: A~1, F and FF (the forks that read their prefix from it)
        pg.click("#lineage [data-select='A~1']")
        pg.wait_for_selector("#overlay .chip[data-run='A~1']")
        assert {c.get_attribute("data-run") for c in pg.query_selector_all("#overlay .chip")} == {"A~1", "FF"}
        assert {g.get_attribute("data-node") for g in pg.query_selector_all("#lineage [data-selected='1']")} == {"A~1", "F", "FF"}
        pg.click("#clear-overlay")
        pg.wait_for_selector("#overlay .chip", state="detached")
        assert pg.query_selector_all("#lineage [data-selected='1']") == []
        # a plain click opens the branch's page
        pg.click("#lineage [data-node='G'] .lg-bar")
        pg.wait_for_url(f"{url}/run/G")
        assert graph(pg)["G"]["current"]
        assert errors == []


def test_a_600_deep_fork_chain_and_a_300_run_lineage_render(browser, tmp_path, shot):
    """Laid out by a loop, not recursion: a chain of 600 forks renders every lane, and the page
    of the deepest fork scrolls its lane into view; a run with 299 forks draws 300 packed lanes
    that scroll. (SQLite only: 900 runs made on PostgreSQL too would double a slow test for
    nothing the layout depends on.)"""
    store = f"sqlite:///{tmp_path / 'deep.db'}"
    prev = "c0"
    with forkpoint.init(store=store, project="deep", id=prev, quiet=True) as r:
        r.log({"m": 0.0})
        r.log({"m": 1.0})
    for i in range(1, 600):
        with forkpoint.init(store=store, fork_from=f"{prev}?_step={i}", id=f"c{i}", quiet=True) as r:
            r.log({"m": float(i)}, step=i + 1)
        prev = f"c{i}"
    with forkpoint.init(store=store, project="wide", id="w", quiet=True) as r:
        for i in range(300):
            r.log({"m": float(i)})
    for i in range(299):
        with forkpoint.init(store=store, fork_from=f"w?_step={i}", id=f"w{i}", quiet=True) as r:
            r.log({"m": -1.0}, step=i + 1)
    try:
        with served(browser, store) as (pg, url, errors):
            pg.goto(f"{url}/run/c599")
            lanes = graph(pg)
            assert len(lanes) == 600 and lanes["c599"]["lane"] == 599 and lanes["c599"]["current"]
            assert len(edges(pg)) == 599
            assert pg.is_visible("#lineage [data-node='c599'] .lg-bar")  # scrolled to the current branch
            shot(pg, "lineage-deep", "sqlite")
            pg.goto(f"{url}/run/w")
            lanes = graph(pg)
            assert len(lanes) == 300 and {lanes[f"w{i}"]["lane"] for i in range(299)} == set(range(1, 300))
            assert len(edges(pg)) == 299
            # the lanes are packed (22 px each) and the box scrolls: the last lane is below the fold
            box = pg.query_selector("#lineage .lg-scroll").bounding_box()
            assert box["height"] <= 530
            last = pg.query_selector("#lineage [data-node='w298'] .lg-bar").bounding_box()
            assert last["y"] > box["y"] + box["height"]
            pg.hover("#lineage .lg-scroll")
            pg.mouse.wheel(0, 20_000)
            pg.wait_for_timeout(200)
            last = pg.query_selector("#lineage [data-node='w298'] .lg-bar").bounding_box()
            assert box["y"] <= last["y"] <= box["y"] + box["height"]  # scrolled into the box
            shot(pg, "lineage-wide", "sqlite")
            pg.click("#lineage [data-node='w298'] .lg-bar")
            pg.wait_for_url(f"{url}/run/w298")
            assert graph(pg)["w298"]["current"]
            assert errors == []
    finally:
        close_store(store)


def test_the_graph_follows_a_live_run(browser, store, shot):
    """A fork being written while its page is open: its lane's bar grows and its state goes
    running -> finished in the graph, the header's last step follows (no reload)."""
    with forkpoint.init(store=store, project="lv", id="base", quiet=True) as r:
        for i in range(10):
            r.log({"m": float(i)})
    run = forkpoint.init(store=store, fork_from="base?_step=5", id="kid", quiet=True)
    run.log({"m": 0.0}, step=6)
    run.flush()
    try:
        with served(browser, store) as (pg, url, errors):
            pg.goto(f"{url}/run/kid")
            lanes = graph(pg)
            assert lanes["kid"]["state"] == "running" and lanes["kid"]["span"] == ("6", "6")
            for i in range(7, 30):
                run.log({"m": float(i)}, step=i)
            run.flush()
            pg.wait_for_selector("#lineage [data-node='kid'][data-to='29']", timeout=15_000)
            assert pg.inner_text("[data-fact='last step']").endswith("29")
            run.finish()
            pg.wait_for_selector("#lineage [data-node='kid'][data-state='finished']", timeout=15_000)
            pg.wait_for_selector("#run-state[data-state='finished']")
            assert graph(pg)["kid"]["current"]
            shot(pg, "lineage-live", store)
            assert errors == []
    finally:
        run.finish()


EVIL = "<img src=x onerror=alert(1)>"
EVIL_KEY = '"><img src=x onerror=alert(2)>'


def test_hostile_names_in_the_graph_are_text(browser, store, shot):
    with forkpoint.init(store=store, project="x", id="r1", name=EVIL, quiet=True) as r:
        r.log({EVIL_KEY: 1.0})
        r.log({"m": 2.0})
    with forkpoint.init(store=store, fork_from="r1?_step=0", id="r2", name=EVIL, quiet=True) as r:
        r.log({"m": 3.0}, step=1)
    with served(browser, store) as (pg, url, errors):
        dialogs: list[str] = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.goto(f"{url}/run/r2")
        graph(pg)
        assert EVIL in pg.text_content("#lineage")
        ticks = [t.text_content() for t in pg.query_selector_all("#lineage .lg-axis g text")]
        assert ticks == ["0", "1"]  # steps are integers, even on a 1-step axis
        assert EVIL in pg.text_content(".run-head") or EVIL in pg.text_content("#app h2")
        pg.wait_for_selector("#charts[data-ready='1']")
        assert EVIL_KEY in pg.text_content("#app")  # the metric key, as text (a chart title / summary row)
        pg.hover("#lineage [data-node='r1'] .lg-bar")  # the hover card is a <title>: text too
        assert EVIL in pg.text_content("#lineage [data-node='r1'] > title")
        shot(pg, "lineage-xss", store)
        assert pg.query_selector_all("#lineage img, #app img") == [] and dialogs == [] and errors == []


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("FORKPOINT_QUIET", "1")
