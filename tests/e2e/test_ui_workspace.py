"""Projects page, a project's workspace (runs table, charts of the visible runs, lineage) and the
compare page, driven in Chromium as a user does; both stores."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

import forkpoint
import pytest
from forkpoint.store import RunRecord, open_store
from forkpoint.ui.server import serve_in_thread
from test_ui_api import lineage

ROWS = "#runs tbody tr[data-run]"
LOSS = [100, 9, 25, 3, 0.5, 12, 1000, 7, 42, 2, 60]  # as text, 1000 < 12 < 2: a string sort would show


def workspace(store):
    """Project "ws": w00..w11 finished (groups, job types, tags, config, summaries), w12 running;
    w11 has no loss and no lr (missing values sort last, show in the diff)."""
    for i in range(12):
        config = {"opt": {"name": "adam" if i % 3 else "sgd"}, "layers": i % 4, "seed": 0}
        if i != 11:
            config["lr"] = [0.1, 0.01, 0.001][i % 3]
        tags = ["baseline"] if i in (0, 1) else ["best", "baseline"] if i == 5 else []
        with forkpoint.init(project="ws", store=store, id=f"w{i:02d}", name=f"trial {i}", config=config, tags=tags,
                            group="g-a" if i < 6 else "g-b" if i < 10 else None, job_type="eval" if i % 2 else "train",
                            quiet=True) as run:
            for s in range(3):
                row = {"acc": i / 10 + s / 100, "val/loss": 1.0 + i, "zz_a": i, "zz_b": -i}
                if i != 11:
                    row["loss"] = LOSS[i] + (2 - s)  # the last row holds LOSS[i]
                run.log(row)
    live = forkpoint.init(project="ws", store=store, id="w12", name="live one", config={"lr": 0.5}, quiet=True)
    live.log({"acc": 0.5})
    live.flush()
    return live


@pytest.fixture
def ws(browser, store):
    live = workspace(store)
    rid = lineage(store)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    watch(pg, errors)
    yield pg, url, rid, errors, live
    pg.close()
    srv.shutdown()
    srv.server_close()
    live.finish()


def watch(pg, errors):
    """Script errors and failed requests land in ``errors`` (requests a navigation cut short do not)."""
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: None if "ABORTED" in (r.failure or "") else errors.append(f"request failed: {r.url}"))


def rows(pg):
    return [r.get_attribute("data-run") for r in pg.query_selector_all(ROWS)]


def open_ws(pg, url, project="ws"):
    pg.goto(f"{url}/p/{project}")
    pg.wait_for_selector(ROWS)


def charted(pg, charts, want, timeout=20.0):
    """Wait until the workspace says the grid has drawn exactly the runs ``want``; the panels."""
    end = time.monotonic() + timeout
    while (got := pg.get_attribute("#charts-head", "data-runs")) is None or set(got.split()) != want:
        assert time.monotonic() < end, f"charts show {got!r}, expected {sorted(want)}"
        time.sleep(0.05)
    return charts(pg)


def series_labels(pg, key):
    el = pg.query_selector(f".chart[data-key='{key}']")
    return {s["label"] for s in json.loads(el.get_attribute("data-series"))}


def test_projects_page_lists_projects_and_links(ws, store, shot):
    pg, url, rid, errors, live = ws
    pg.goto(url + "/")
    pg.wait_for_selector("#projects tbody tr[data-project]")
    got = {r.get_attribute("data-project"): [c.inner_text() for c in r.query_selector_all("td")]
           for r in pg.query_selector_all("#projects tbody tr")}
    assert set(got) == {"ws", "ui"}
    assert got["ws"][:3] == ["ws", "13", "1"] and got["ui"][:3] == ["ui", "2", "0"]
    assert got["ws"][3] == "just now" or got["ws"][3].endswith("ago")
    pg.click("#projects th[data-key='runs']")  # most runs first
    assert [r.get_attribute("data-project") for r in pg.query_selector_all("#projects tbody tr")] == ["ws", "ui"]
    pg.click("#projects th[data-key='runs']")
    assert [r.get_attribute("data-project") for r in pg.query_selector_all("#projects tbody tr")] == ["ui", "ws"]
    pg.fill("#filter", "w")
    assert [r.get_attribute("data-project") for r in pg.query_selector_all("#projects tbody tr")] == ["ws"]
    assert pg.inner_text("#project-count") == "1 of 2 projects"
    shot(pg, "projects", store)
    pg.click("#projects a[href='/p/ws']")
    pg.wait_for_url(f"{url}/p/ws")
    pg.wait_for_selector(ROWS)
    assert len(rows(pg)) == 13
    assert errors == []


def test_table_filters_and_sorts(ws, store, shot):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    assert rows(pg) == [f"w{i:02d}" for i in range(12, -1, -1)]  # newest first
    assert pg.inner_text("#run-count").startswith("13 runs")
    # numbers sort as numbers; runs without the key stay last in both directions
    pg.click("th[data-key='summary.loss']")
    by_loss = [f"w{i:02d}" for i in sorted(range(11), key=lambda i: LOSS[i])]
    assert rows(pg)[:11] == by_loss and set(rows(pg)[11:]) == {"w11", "w12"}
    assert pg.get_attribute("th[data-key='summary.loss']", "aria-sort") == "ascending"
    pg.click("th[data-key='summary.loss']")
    assert rows(pg)[:11] == by_loss[::-1] and set(rows(pg)[11:]) == {"w11", "w12"}
    pg.click("th[data-key='id']")
    assert rows(pg) == [f"w{i:02d}" for i in range(13)]
    # filter: text over name/id/tags/group/job type, and key terms
    for text, want in [("baseline", {"w00", "w01", "w05"}), ("g-b", {"w06", "w07", "w08", "w09"}),
                       ("state:running", {"w12"}), ("lr>0.05", {"w00", "w03", "w06", "w09", "w12"}),
                       ("job_type:eval tag:best", {"w05"}), ("loss<=3 loss>0", {"w03", "w04", "w09"}),
                       ("TRIAL 1", {"w01", "w10", "w11"}), ("nosuchthing", set())]:
        pg.fill("#filter", text)
        assert set(rows(pg)) == want, text
        assert pg.get_attribute("#run-count", "data-shown") == str(len(want))
    pg.fill("#filter", "opt.name=sgd")
    assert set(rows(pg)) == {"w00", "w03", "w06", "w09"}
    shot(pg, "table-filtered", store)
    pg.fill("#filter", "")
    assert len(rows(pg)) == 13
    assert errors == []


def test_columns_chosen_and_kept_after_reload(ws, store, shot):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    heads = lambda: [th.get_attribute("data-key") for th in pg.query_selector_all("#runs th[data-key]")]  # noqa: E731
    assert "summary.acc" in heads() and "config.lr" not in heads() and "summary.zz_b" not in heads()
    pg.click("#columns-btn")
    pg.fill("#columns-search", "lr")  # narrows the chooser
    assert [c.get_attribute("data-col") for c in pg.query_selector_all("#columns-panel input[data-col]")] == ["config.lr"]
    pg.check("#columns-panel input[data-col='config.lr']")
    pg.fill("#columns-search", "")
    pg.check("#columns-panel input[data-col='summary.zz_b']")
    pg.uncheck("#columns-panel input[data-col='summary.acc']")
    shot(pg, "columns-chooser", store)
    pg.click(".charts-head h2")  # a click outside closes the chooser
    assert pg.query_selector("#columns-panel").is_hidden()
    expect = lambda: ("config.lr" in heads() and "summary.zz_b" in heads() and "summary.acc" not in heads())  # noqa: E731
    assert expect()
    pg.reload()
    pg.wait_for_selector(ROWS)
    assert expect()
    # the chosen columns show the runs' values; sorting works on them too
    col = heads().index("config.lr") + 2  # after the eye and select cells
    cell = lambda rid: pg.query_selector_all(f"tr[data-run='{rid}'] td")[col].inner_text()  # noqa: E731
    assert cell("w01") == "0.01" and cell("w11") == "" and cell("w12") == "0.5"
    pg.click("th[data-key='summary.zz_b']")
    assert rows(pg)[0] == "w11"  # -11 first
    pg.click("#columns-btn")
    pg.click("#columns-reset")
    assert "config.lr" not in heads() and "summary.acc" in heads()
    assert errors == []


def test_group_by_group_job_type_tag_and_config_key(ws, store, shot):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    groups = lambda: {g.get_attribute("data-group"): int(g.get_attribute("data-count"))  # noqa: E731
                      for g in pg.query_selector_all("#runs tr.group-row")}
    pg.select_option("#group-by", "group")
    assert groups() == {"g-a": 6, "g-b": 4, "(none)": 3}
    assert len(rows(pg)) == 13
    pg.click("#runs tr.group-row[data-group='g-a'] .caret")  # collapse
    assert set(rows(pg)) == {"w06", "w07", "w08", "w09", "w10", "w11", "w12"}
    assert pg.get_attribute("#runs tr.group-row[data-group='g-a'] .caret", "aria-expanded") == "false"
    shot(pg, "grouped-collapsed", store)
    pg.click("#runs tr.group-row[data-group='g-a']")  # the whole header row toggles too
    assert len(rows(pg)) == 13
    pg.select_option("#group-by", "job_type")
    assert groups() == {"train": 6, "eval": 6, "(none)": 1}
    pg.select_option("#group-by", "tag")
    assert groups() == {"baseline": 3, "best": 1, "(none)": 10}
    pg.select_option("#group-by", "config.opt.name")
    assert groups() == {"adam": 8, "sgd": 4, "(none)": 1}
    order = [g.get_attribute("data-group") for g in pg.query_selector_all("#runs tr.group-row")]
    assert order == ["adam", "sgd", "(none)"]
    pg.click("#runs tr.group-row[data-group='adam'] .caret")
    pg.click("#runs tr.group-row[data-group='(none)'] .caret")
    assert set(rows(pg)) == {"w00", "w03", "w06", "w09"}
    pg.fill("#filter", "g-b")  # groups count what the filter leaves
    assert groups() == {"adam": 2, "sgd": 2}
    pg.reload()  # the grouping is kept
    pg.wait_for_selector("#runs tr.group-row")
    assert pg.input_value("#group-by") == "config.opt.name"
    assert errors == []


def test_visibility_toggles_drive_the_charts(ws, store, shot, charts):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    first10 = {f"w{i:02d}" for i in range(3, 13)}
    eyes = {r: pg.get_attribute(f"tr[data-run='{r}'] button.eye", "data-visible") for r in rows(pg)}
    assert {r for r, v in eyes.items() if v == "1"} == first10
    got = charted(pg, charts, first10)
    assert {"acc", "loss"} <= set(got)
    assert series_labels(pg, "acc") == first10
    assert series_labels(pg, "loss") == first10 - {"w11", "w12"}
    pg.click("tr[data-run='w00'] button.eye")
    pg.click("tr[data-run='w07'] button.eye")
    want = first10 - {"w07"} | {"w00"}
    charted(pg, charts, want)
    assert series_labels(pg, "acc") == want
    assert pg.get_attribute("tr[data-run='w07'] button.eye", "aria-pressed") == "false"
    assert pg.get_attribute("#run-count", "data-visible") == "10"
    shot(pg, "workspace-visible", store)
    # the header eye shows every filtered run, then hides them
    pg.fill("#filter", "g-a")
    pg.click("#eye-all")
    charted(pg, charts, want | {f"w{i:02d}" for i in range(6)})
    assert series_labels(pg, "acc") == want | {f"w{i:02d}" for i in range(6)}
    assert pg.get_attribute("#eye-all", "data-visible") == "1"
    pg.click("#eye-all")
    charted(pg, charts, {"w06", "w08", "w09", "w10", "w11", "w12"})
    assert series_labels(pg, "acc") == {"w06", "w08", "w09", "w10", "w11", "w12"}
    # a group's eye
    pg.fill("#filter", "")
    pg.select_option("#group-by", "group")
    pg.click("#runs tr.group-row[data-group='g-b'] button.eye")  # g-b is partly shown: show all of it
    charted(pg, charts, {"w06", "w07", "w08", "w09", "w10", "w11", "w12"})
    pg.click("#runs tr.group-row[data-group='g-b'] button.eye")
    charted(pg, charts, {"w10", "w11", "w12"})
    assert series_labels(pg, "acc") == {"w10", "w11", "w12"}
    pg.reload()  # the choice is kept for the project
    pg.wait_for_selector(ROWS)
    charted(pg, charts, {"w10", "w11", "w12"})
    assert {r for r in rows(pg) if pg.get_attribute(f"tr[data-run='{r}'] button.eye", "data-visible") == "1"} == {"w10", "w11", "w12"}
    assert errors == []


def test_lineage_selection_makes_runs_visible(ws, store, shot, charts):
    pg, url, rid, errors, live = ws
    open_ws(pg, url, "ui")  # rid rewound at 200 (archived branch rid~1), kid forked from it at 150
    pg.wait_for_selector("#lineage[data-ready='1'] [data-node='kid']")
    charted(pg, charts, {rid, "kid"})
    pg.click("#lineage [data-select='kid']")  # kid's sub-tree: kid alone
    charted(pg, charts, {"kid"})
    assert [pg.get_attribute(f"tr[data-run='{r}'] button.eye", "data-visible") for r in (rid, "kid")] == ["0", "1"]
    assert series_labels(pg, "metric") == {"kid (inherited)", "kid"}
    pg.click(f"#lineage [data-node='{rid}']", modifiers=["Shift"])  # shift-click: rid and all below it
    charted(pg, charts, {rid, f"{rid}~1", "kid"})
    assert {rid, f"{rid}~1", "kid"} <= series_labels(pg, "metric")
    # the archived branch is no table row: a chip above the charts holds it, and drops it
    assert pg.inner_text(f"#extra-runs .chip[data-run='{rid}~1']").startswith(f"{rid}~1")
    shot(pg, "workspace-lineage-select", store)
    pg.click(f"#extra-runs .chip[data-run='{rid}~1'] .chip-x")
    charted(pg, charts, {rid, "kid"})
    assert pg.query_selector("#extra-runs .chip") is None
    # a swatch in the table has the colour of the run's lane in the graph and in the charts
    for r in (rid, "kid"):
        color = pg.get_attribute(f"#lineage [data-node='{r}']", "data-color")
        assert pg.get_attribute(f"tr[data-run='{r}'] .swatch", "style") == f"background: {rgb(color)};"
    pg.click("#lineage [data-node='kid'] .lg-label")  # a plain click opens the run
    pg.wait_for_url(f"{url}/run/kid")
    assert errors == []


def rgb(hex_color):
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_a_live_run_updates_its_row_without_a_reload(ws, store, shot):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    pg.fill("#filter", "state:running")
    assert rows(pg) == ["w12"] and pg.inner_text("tr[data-run='w12'] td.state-running") == "running"
    heads = [th.get_attribute("data-key") for th in pg.query_selector_all("#runs th[data-key]")]
    step_cell = heads.index("last_step") + 3  # after the eye and the select box
    for i in range(5):
        live.log({"acc": 0.6 + i / 100})
    live.flush()
    end = time.monotonic() + 20
    while pg.inner_text(f"tr[data-run='w12'] td:nth-child({step_cell})") != "5":
        assert time.monotonic() < end, "the row's last step did not follow the run"
        time.sleep(0.1)
    live.finish()
    pg.wait_for_selector("tr[data-run='w12']", state="detached", timeout=20_000)  # no longer running
    assert pg.input_value("#filter") == "state:running"  # the same page: no reload
    pg.fill("#filter", "w12")
    assert pg.inner_text("tr[data-run='w12'] td.state-finished") == "finished"
    assert errors == []


def test_a_run_keeps_its_colour_across_pages(ws, store):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    pg.wait_for_selector("#lineage[data-ready='1']")
    ids = rows(pg)
    table = {r: pg.get_attribute(f"tr[data-run='{r}'] .swatch", "style") for r in ids}
    assert all(v.startswith("background") for v in table.values()) and len(set(table.values())) > 5
    pg.goto(f"{url}/compare?runs={','.join(ids)}")
    pg.wait_for_selector("#config-diff")
    assert {r: pg.get_attribute(f"#config-diff th[data-run='{r}'] .swatch", "style") for r in ids} == table
    assert {r: pg.get_attribute(f"#compare-runs .chip[data-run='{r}'] .swatch", "style") for r in ids} == table
    assert errors == []


def test_compare_selected_runs_and_config_diff(ws, store, shot, charts):
    pg, url, rid, errors, live = ws
    open_ws(pg, url)
    assert pg.is_disabled("#compare")
    for r in ("w01", "w02", "w11"):
        pg.check(f"tr[data-run='{r}'] input.sel")
    assert pg.inner_text("#compare") == "compare (3)"
    pg.click("#compare")
    pg.wait_for_url("**/compare?runs=*")
    assert unquote(pg.url.split("runs=")[1]).split(",") == ["w01", "w02", "w11"]
    got = charts(pg)
    assert series_labels(pg, "acc") == {"w01", "w02", "w11"} and series_labels(pg, "loss") == {"w01", "w02"}
    assert set(got) >= {"acc", "loss", "val/loss"}
    diff = {r.get_attribute("data-key"): [c.inner_text() for c in r.query_selector_all("td")]
            for r in pg.query_selector_all("#config-diff tbody tr[data-key]")}
    # seed (0 everywhere) is left out; w11 has no lr: shown as missing
    assert diff == {"layers": ["1", "2", "3"], "lr": ["0.01", "0.001", "—"]}  # opt.name and seed are equal
    assert pg.get_attribute("#config-diff tr[data-key='lr'] td:nth-of-type(3)", "class") == "missing"
    assert [th.get_attribute("data-run") for th in pg.query_selector_all("#config-diff thead th[data-run]")] == ["w01", "w02", "w11"]
    assert pg.inner_text("#config-diff-count").strip() == "2 of 4 keys differ"
    # the summaries side by side: every key, a run without one shows it missing
    summary = {r.get_attribute("data-key"): [c.inner_text() for c in r.query_selector_all("td")]
               for r in pg.query_selector_all("#summary-diff tbody tr[data-key]")}
    assert summary["loss"] == ["9", "25", "—"] and summary["zz_a"] == ["1", "2", "11"]
    shot(pg, "compare-diff", store)
    pg.check("#config-diff-all")
    assert pg.query_selector("#config-diff tr[data-key='seed']") is not None
    # × leaves a run out of the comparison
    pg.click("#compare-runs .chip[data-run='w11'] .chip-x")
    pg.wait_for_url("**/compare?runs=w01,w02")
    charts(pg)
    assert series_labels(pg, "acc") == {"w01", "w02"}
    assert [th.get_attribute("data-run") for th in pg.query_selector_all("#config-diff thead th[data-run]")] == ["w01", "w02"]
    assert set(pg.query_selector("#config-diff tbody").inner_text().split()) == {"layers", "lr", "1", "2", "0.01", "0.001"}
    assert errors == []


def test_compare_page_of_a_fork_and_its_parent(page, store, shot, charts):
    pg, url, rid, errors = page
    pg.goto(f"{url}/compare?runs={rid},kid")
    got = charts(pg)
    assert {s["label"] for s in got["metric"][0]} >= {rid, "kid"}
    diff = {r.get_attribute("data-key"): [c.inner_text() for c in r.query_selector_all("td")]
            for r in pg.query_selector_all("#config-diff tbody tr[data-key]")}
    assert diff == {"lr": ["—", "0.1"]}
    shot(pg, "compare", store)
    assert errors == []


def bulk_runs(url, project, n):
    """n finished runs of two rows each, written straight to the store in one transaction (seconds,
    where n forkpoint.init calls take minutes on PostgreSQL)."""
    store = open_store(url)
    now = time.time() - n
    with store.transaction():
        for i in range(n):
            rid = f"r{i:05d}"
            seg = store.insert_segment(run_id=rid, ordinal=1, origin="new", parent_segment=None, branch_step=None,
                                       start_step=0, last_step=None, config={"i": i, "lr": 10.0 ** -(i % 5)},
                                       config_changes=[], summary={}, created_at=now + i)
            store.insert_run(RunRecord(id=rid, project=project, name=f"run {i}", origin="run", head_segment=seg,
                                       state="finished", created_at=now + i, updated_at=now + i, exit_code=0))
            store.append(rid, seg, [(0, {"loss": 1.0}), (1, {"loss": 1.0 / (i + 2)})], heartbeat=now + i)


def test_ten_thousand_runs(browser, store, shot):
    bulk_runs(store, "big", 10_000)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    watch(pg, errors)
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url) if "/api/runs" in r.url or "/api/lineage" in r.url else None)
    try:
        pg.goto(f"{url}/p/big")
        pg.wait_for_selector(ROWS, timeout=120_000)
        pg.wait_for_selector(".runs-scroll[data-complete='1']", state="attached", timeout=120_000)
        # the first screenful was asked for first (and painted), then the whole table
        assert len(asked) == 2 and "limit=" in asked[0] and "sort=created_at&order=desc" in asked[0]
        assert "limit=" not in asked[1]
        assert pg.inner_text("#run-count").startswith("10000 runs")
        # a graph of 10,000 lanes is drawn only when asked for: its box starts closed
        assert pg.get_attribute("#lineage-box", "open") is None and not any("/api/lineage" in u for u in asked)
        assert rows(pg)[0] == "r09999"
        assert len(rows(pg)) < 150  # only the rows in view (and a margin) are in the page
        pg.focus(".runs-scroll")
        pg.keyboard.press("End")
        pg.wait_for_selector("tr[data-run='r00000']")
        assert "r09999" not in rows(pg)
        shot(pg, "table-10k-end", store)
        pg.fill("#filter", "r04242")
        assert rows(pg) == ["r04242"]
        pg.fill("#filter", "lr>0.5")  # lr = 1 for every fifth run
        assert pg.get_attribute("#run-count", "data-shown") == "2000"
        pg.click("th[data-key='id']")
        pg.focus(".runs-scroll")
        pg.keyboard.press("End")
        pg.wait_for_selector("tr[data-run='r09995']")
        pg.fill("#filter", "")
        pg.click("th[data-key='id']")  # descending
        assert rows(pg)[0] == "r09999"
        assert errors == []
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()


def test_first_rows_paint_before_the_rest_arrives(browser, store, shot):
    """A project larger than a screenful: the page paints the first rows in the saved sort (here
    by name, natural order: "run 9" before "run 10") while the whole table is held back, says it is
    loading, and a filter typed meanwhile applies to every run once they arrive."""
    bulk_runs(store, "many", 300)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    watch(pg, errors)
    held: list = []
    try:
        open_ws(pg, url, "many")
        pg.wait_for_selector(".runs-scroll[data-complete='1']", state="attached")
        pg.click("th[data-key='name']")  # ascending by name; kept for the next visit
        assert rows(pg)[:11] == [f"r{i:05d}" for i in range(11)]
        pg.route(lambda u: "/api/runs" in u and "limit=" not in u, lambda route: held.append(route))
        pg.reload()
        pg.wait_for_selector(ROWS)
        assert pg.get_attribute(".runs-scroll", "data-complete") == "0"
        first = rows(pg)
        assert first[:12] == [f"r{i:05d}" for i in range(12)] and len(first) < 150
        count = pg.inner_text("#run-count")
        assert count.startswith("first ") and "of 300 runs" in count and "loading" in count
        shot(pg, "table-first-rows", store)
        pg.fill("#filter", "029")  # ids r00029 and r00290..r00299: only r00029 is among the first rows
        assert rows(pg) == ["r00029"]
        deadline = time.monotonic() + 10
        while not held:
            assert time.monotonic() < deadline, "the page never asked for the whole table"
            pg.wait_for_timeout(50)
        held[0].continue_()
        pg.wait_for_selector(".runs-scroll[data-complete='1']", state="attached")
        assert rows(pg) == ["r00029"] + [f"r{i:05d}" for i in range(290, 300)]
        assert pg.get_attribute("#run-count", "data-shown") == "11" and pg.inner_text("#run-count").startswith("11 of 300")
        assert errors == []
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()
