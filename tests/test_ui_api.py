"""The UI's JSON API (docs/ui-api.md), over a real HTTP server on 127.0.0.1, on both stores."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import forkpoint
import pytest
from forkpoint.store import open_store
from forkpoint.ui import bulk
from forkpoint.ui.downsample import minmax, minmax_indices
from forkpoint.ui.server import serve_in_thread
from forkpoint.ui.views import FirstRows


def lineage(store):
    """A run rewound at 200 (wave from 250), and a fork of it at 150 with its own metric (the
    e2e fixtures serve this one: keep it as it is)."""
    with forkpoint.init(project="ui", store=store, name="base") as run:
        for i in range(300):
            run.log({"metric": float(i)})
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=200") as r:
        for i in range(201, 300):
            r.log({"metric": i + 2 * math.sin(i / 3) if i >= 250 else float(i)}, step=i)
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=150", id="kid", config={"lr": 0.1}) as f:
        for i in range(151, 260):
            f.log({"metric": 150 - (i - 150) * 0.5, "extra": i}, step=i)
    return run.id


def workspace(store):
    """``lineage`` with more to show: nested config, a step metric (``epoch`` on even steps), a
    text metric, and group, job type and tags on the fork."""
    with forkpoint.init(project="ui", store=store, name="base", config={"opt": {"lr": 0.1, "layers": [4, 4]}}) as run:
        run.define_metric("epoch", step_metric=True)
        for i in range(300):
            run.log({"metric": float(i), "epoch": i // 10} if i % 2 == 0 else {"metric": float(i)})
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=200") as r:
        for i in range(201, 300):
            r.log({"metric": i + 2 * math.sin(i / 3) if i >= 250 else float(i)}, step=i)
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=150", id="kid", config={"opt": {"lr": 0.01}},
                        group="g1", job_type="train", tags=["t"]) as f:
        for i in range(151, 260):
            f.log({"metric": 150 - (i - 150) * 0.5, "extra": i, "note": "text"}, step=i)
    return run.id


@pytest.fixture
def ui(store):
    rid = workspace(store)
    srv, url = serve_in_thread(store)
    yield url, rid
    srv.shutdown()
    srv.server_close()


def get(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def raw(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# -- projects and the runs table ------------------------------------------------------------------
def test_projects(ui, store):
    url, _ = ui
    (p,) = get(url + "/api/projects")[1]["projects"]
    assert p["name"] == "ui" and p["runs"] == 2 and p["running"] == 0
    newest = max(v.updated_at for v in forkpoint.Api(store).runs("ui"))
    assert p["last_activity"] == pytest.approx(newest)


def test_runs_rows_and_columns(ui):
    url, rid = ui
    status, body = get(url + "/api/runs?project=ui")
    assert status == 200 and [r["id"] for r in body["runs"]] == [rid, "kid"]
    base, kid = body["runs"]
    assert set(base) == {"id", "project", "name", "state", "kind", "group", "job_type", "tags", "created_at",
                         "updated_at", "last_step", "parent", "summary", "config"}
    assert base["kind"] == "rewind" and base["parent"] == f"{rid}~1?_step=200" and base["last_step"] == 299
    assert base["summary"]["metric"] == pytest.approx(299 + 2 * math.sin(299 / 3))
    assert base["config"] == {"opt.lr": 0.1, "opt.layers": "[4,4]"}
    assert kid["config"] == {"opt.lr": 0.01, "opt.layers": "[4,4]"} and kid["parent"] == f"{rid}?_step=150"
    assert (kid["group"], kid["job_type"], kid["tags"], kid["state"]) == ("g1", "train", ["t"], "finished")
    assert kid["summary"] == {"metric": 150 - 109 * 0.5, "extra": 259, "note": "text", "epoch": 15}
    assert body["columns"] == {"config": ["opt.layers", "opt.lr"], "summary": ["epoch", "extra", "metric", "note"]}
    assert [r["id"] for r in get(url + "/api/runs")[1]["runs"]] == [rid, "kid"]  # without project: every run
    assert [r["id"] for r in get(url + "/api/runs?q=KID")[1]["runs"]] == ["kid"]


# values whose order a wrong sort shows: numbers before text, digits as numbers ("run 9" < "run 10"),
# case and accents ignored ("Run 9" ties "run 9"), empty text missing like no value
TRICKY = [3, "run 10", None, 2.5, "Run 9", "épée", 1, "", 1e9, "b", "run 9", "Epee", -4, "a2b", "a10b"]


def test_runs_first_rows_over_http(store):
    """``?limit=N&sort=&order=``: the first N rows in the page's order, sent in table order, with the
    whole table's ``columns`` and ``total``; an unknown column sorts by creation time."""
    for i, v in enumerate(TRICKY):
        with forkpoint.init(project="first", store=store, id=f"f{i:02d}", config={"c": i % 3}, quiet=True) as r:
            r.log({"x": float(i)})
            if v is not None:
                r.summary["v"] = v
    srv, url = serve_in_thread(store)
    try:
        status, full = get(url + "/api/runs?project=first")
        assert status == 200 and "total" not in full
        ids = [r["id"] for r in full["runs"]]
        assert ids == [f"f{i:02d}" for i in range(len(TRICKY))]

        def first(query):
            status, body = get(url + "/api/runs?project=first&" + query)
            assert status == 200 and body["total"] == len(TRICKY) and body["columns"] == full["columns"]
            got = [r["id"] for r in body["runs"]]
            assert got == sorted(got)  # table order
            assert all(r == full["runs"][ids.index(r["id"])] for r in body["runs"])  # the same rows
            return {int(i[1:]) for i in got}

        assert first("limit=5&sort=summary.v&order=asc") == {TRICKY.index(v) for v in (-4, 1, 2.5, 3, 1e9)}
        # text descending: "run 10", then "Run 9" and "run 9" (equal), then "épée"/"Epee" (equal: the earlier one)
        assert first("limit=4&sort=summary.v&order=desc") == {1, 4, 10, 5}
        assert first("limit=3&sort=summary.nosuch&order=desc") == {14, 13, 12}  # as created_at: newest
        assert first("limit=3") == {14, 13, 12}  # the page's default: newest first
        assert first("limit=2&sort=config.c&order=asc") == {0, 3}
        assert first("limit=1000") == set(range(len(TRICKY)))
        for query, fragment in [("limit=0", "limit=0: expected 1..100000"), ("limit=ten", "limit='ten'"),
                                ("limit=3&order=up", "order='up': expected asc or desc"),
                                ("sort=name", "sort/order: only with ?limit=")]:
            status, body = get(url + "/api/runs?project=first&" + query)
            assert status == 400 and fragment in body["error"], query
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_first_rows_sort_as_the_page_does():
    """views.FirstRows.order against runs.js sortRows() in Node, on every kind of column, both ways."""
    rows = [{"id": f"r{i:02d}", "name": name, "state": ["finished", "running", "crashed"][i % 3],
             "tags": [["b"], [], ["a", "c"], ["A"]][i % 4], "created_at": 1000.0 - i * (i % 4),
             "last_step": None if i % 5 == 0 else i % 7, "summary": {} if v is None else {"v": v},
             "config": {"c": [1, "x", 2.5, "X 10", "x 9"][i % 5]}}
            for i, (v, name) in enumerate(zip(TRICKY, ["b", None, "B", "a 10", "a 9", "é", "e", None, "z", "Z 2",
                                                       "z 10", "", "ä", "a", "c"]))]
    columns = {"config": ["c"], "summary": ["v"]}
    keys = ["summary.v", "name", "id", "state", "tags", "created_at", "last_step", "config.c"]
    runs_js = (Path(__file__).resolve().parents[1] / "core" / "ui" / "static" / "js" / "runs.js").as_uri()
    script = (f"import {{ sortRows }} from {json.dumps(runs_js)};"
              f"const rows = {json.dumps(rows)}, keys = {json.dumps(keys)};"
              "console.log(JSON.stringify(keys.map((k) => [true, false].map((asc) => sortRows(rows, k, asc).map((r) => r.id)))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    page = json.loads(out.strip().splitlines()[-1])
    for key, (asc, desc) in zip(keys, page):
        assert [r["id"] for r in FirstRows(key, False, 99).order(rows, columns)] == asc, key
        assert [r["id"] for r in FirstRows(key, True, 99).order(rows, columns)] == desc, key


def test_runs_table_reads_as_runview_does(store, api):
    """The bulk path gives what RunView gives, for forks of forks, rewinds of forks, archived parents."""
    rid = workspace(store)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=120"):
        pass  # kid's parent rows now live only in rid~2
    with forkpoint.init(store=store, fork_from="kid?_step=200", id="grandkid") as g:
        g.log({"other": 1.0})
    with forkpoint.init(store=store, resume_from="kid?_step=170") as k:
        k.log({"metric": -1.0})
    with forkpoint.init(store=store, fork_from=f"{rid}~1?_step=280", id="from-archive"):
        pass  # no own rows: its last step and summary come from the archived parent's range
    snap = bulk.Snapshot(open_store(store), open_store(store).list_runs("ui"), bulk.Cache())
    for b in snap.branches:
        v = api.run(b.id)
        assert (b.summary, b.last_step, b.state, b.kind) == (lineage_summary(v), v.last_step, v.state, v.kind), b.id
        assert snap.parent(b) == v.parent, b.id


def lineage_summary(v):
    return forkpoint.lineage.computed_summary(v._store, v.ranges())


def test_runs_cache_follows_live_writes_and_rewinds(store):
    with forkpoint.init(store=store, project="live", id="p", flush_interval=0) as p:
        for i in range(10):
            p.log({"loss": float(i)})
        with forkpoint.init(store=store, fork_from="p?_step=5", id="f") as f:
            f.log({"acc": 1.0})
        srv, url = serve_in_thread(store)
        try:
            rows = {r["id"]: r for r in get(url + "/api/runs?project=live")[1]["runs"]}
            assert rows["p"]["state"] == "running" and rows["p"]["last_step"] == 9 and rows["p"]["summary"] == {"loss": 9.0}
            p.log({"loss": 42.0})
            p.summary["best"] = 0.5
            rows = {r["id"]: r for r in get(url + "/api/runs?project=live")[1]["runs"]}
            assert rows["p"]["last_step"] == 10 and rows["p"]["summary"] == {"loss": 42.0, "best": 0.5}
            p.name, p.tags = "renamed", ["x"]  # no row written: the table still sees it
            p.config.update({"lr": 0.5})
            rows = {r["id"]: r for r in get(url + "/api/runs?project=live")[1]["runs"]}
            assert (rows["p"]["name"], rows["p"]["tags"], rows["p"]["config"]) == ("renamed", ["x"], {"lr": 0.5})
            assert rows["f"]["summary"] == {"loss": 5.0, "acc": 1.0} and rows["f"]["parent"] == "p?_step=5"
        finally:
            srv.shutdown()
            srv.server_close()
    with forkpoint.init(store=store, resume_from="p?_step=3") as r:
        r.log({"loss": -3.0})
    srv, url = serve_in_thread(store)
    try:
        rows = {r["id"]: r for r in get(url + "/api/runs?project=live")[1]["runs"]}
        assert rows["p"]["last_step"] == 4 and rows["p"]["summary"] == {"loss": -3.0}
        assert rows["f"]["parent"] == "p~1?_step=5" and rows["f"]["summary"] == {"loss": 5.0, "acc": 1.0}
    finally:
        srv.shutdown()
        srv.server_close()


def test_runs_cache_is_reused_and_invalidated_in_one_server(store):
    """One server, one cache: a second request reads no blocks; a new row of one run re-reads that run only."""
    with forkpoint.init(store=store, project="c", id="a", flush_interval=0) as a:
        a.log({"x": 1.0})
        with forkpoint.init(store=store, project="c", id="b") as b:
            b.log({"x": 2.0})
        srv, url = serve_in_thread(store)
        st = open_store(store)
        calls = []
        real = st.segment_tails
        st.segment_tails = lambda ids: (calls.append(list(ids)), real(ids))[1]  # type: ignore[method-assign]
        try:
            get(url + "/api/runs?project=c")
            get(url + "/api/runs?project=c")
            assert len(calls) == 1
            a.log({"x": 3.0})
            rows = {r["id"]: r for r in get(url + "/api/runs?project=c")[1]["runs"]}
            assert rows["a"]["summary"] == {"x": 3.0} and len(calls) == 2 and len(calls[1]) == 1
        finally:
            del st.segment_tails
            srv.shutdown()
            srv.server_close()


def test_table_version_changes_with_every_commit_and_only_then(store):
    """The runs-table cache key: equal while nothing is committed, without reading the tables again
    (SQLite: PRAGMA data_version; PostgreSQL: the read snapshot), different after a rename from
    another connection and after another process writes a row."""
    import sys

    with forkpoint.init(project="v", store=store, id="a", quiet=True) as a:
        a.log({"x": 1.0})
    st = open_store(store)
    hashed = []
    real = st._x
    st._x = lambda sql, params=(): (hashed.append(sql) if sql.startswith("SELECT * FROM runs") else None,  # type: ignore[method-assign]
                                    real(sql, params))[1]
    try:
        first = st.table_version("v")
        assert st.table_version("v") == first and st.table_version("other") is not None
        assert len(hashed) == 2  # "v" once, "other" once: the second "v" came from the commit marker
        open_store(store).update_run("a", name="renamed")  # another connection, no rows
        renamed = st.table_version("v")
        assert renamed != first and len(hashed) == 3
        subprocess.run([sys.executable, "-c", "import forkpoint, sys\n"
                        "with forkpoint.init(store=sys.argv[1], resume_from='a?_step=0', quiet=True) as r:\n"
                        "    r.log({'x': 2.0})", store], check=True, timeout=120)
        assert st.table_version("v") not in (first, renamed)
    finally:
        del st._x


def test_runs_table_shows_a_writer_that_died_without_a_write(store):
    """Nothing in the store changes when a writer is SIGKILLed; the cached table must still say crashed."""
    import signal
    import subprocess
    import sys

    code = ("import forkpoint, sys, time\n"
            "r = forkpoint.init(store=sys.argv[1], project='k', id='k', flush_interval=0)\n"
            "r.log({'x': 1.0}); print('up', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, store], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"  # type: ignore[union-attr]
    srv, url = serve_in_thread(store)
    try:
        assert get(url + "/api/runs?project=k")[1]["runs"][0]["state"] == "running"
        assert get(url + "/api/projects")[1]["projects"][0]["running"] == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert get(url + "/api/runs?project=k")[1]["runs"][0]["state"] == "crashed"
        assert get(url + "/api/status?runs=k")[1]["runs"]["k"]["state"] == "crashed"
    finally:
        proc.kill()
        srv.shutdown()
        srv.server_close()


# -- one run --------------------------------------------------------------------------------------
def test_run_detail(ui):
    url, rid = ui
    status, d = get(url + "/api/run/kid")
    assert status == 200 and d["parent"] == f"{rid}?_step=150" and d["keys"] == ["epoch", "extra", "metric"]
    assert d["config"] == {"opt": {"lr": 0.01, "layers": [4, 4]}} and d["config_changes"] == ["opt.lr"]
    assert d["media"] == [] and d["step_metrics"] == ["epoch"] and d["summary_all"]["note"] == "text"
    assert d["run_id"] == "kid" and d["exit_code"] == 0 and d["branch_step"] == 150 and d["entity"] is None
    assert [(n["id"], n["depth"], n["relation"]) for n in d["tree"]] == [
        (rid, 0, "root"), (f"{rid}~1", 1, "archived"), ("kid", 1, "fork")]
    assert d["tree"][0]["label"] == "rewound at _step=200" and d["tree"][2]["at"] == 150
    assert get(url + f"/api/run/{rid}~1")[1]["state"] == "archived"
    assert get(url + "/api/run/ui%2Fkid")[1]["id"] == "kid"  # <project>/<id>, encoded


def test_one_run_series_kept_for_compatibility(ui):
    url, rid = ui
    _, s = get(url + "/api/run/kid/series?key=metric")
    parts = {x["part"]: x for x in s["series"]}
    assert parts["inherited"]["steps"] == list(range(151)) and parts["own"]["steps"] == list(range(151, 260))
    assert s["branch_points"] == [{"step": 150, "label": f"fork from {rid}?_step=150"}]


# -- the overlay ----------------------------------------------------------------------------------
def test_series_overlay_on_the_step_axis(ui):
    url, rid = ui
    status, s = get(url + f"/api/series?runs={rid},kid,{rid}~1&key=extra")
    assert status == 200 and s["key"] == "extra" and s["x"] == "_step"
    base, kid, arch = s["runs"]
    assert (base["run"], base["parts"], base["total_points"], base["state"]) == (rid, [], 0, "finished")
    (own,) = kid["parts"]
    assert own["part"] == "own" and own["steps"] == own["x"] == list(range(151, 260)) and own["y"] == own["steps"]
    assert arch["state"] == "archived"
    _, s = get(url + "/api/series?runs=kid&key=metric&points=40")
    (kid,) = s["runs"]
    inh, own = kid["parts"]
    assert (inh["part"], own["part"]) == ("inherited", "own") and kid["total_points"] == 260
    assert len(inh["steps"]) + len(own["steps"]) <= 40
    assert inh["steps"][0] == 0 and inh["steps"][-1] == 150 and own["steps"][0] == 151 and own["steps"][-1] == 259
    assert kid["branch_points"] == [{"step": 150, "x": 150, "label": f"fork from {rid}?_step=150"}]


def test_series_overlay_time_axes(ui, store, api):
    url, rid = ui
    stamps = {r["_step"]: r["_timestamp"] for r in api.run("kid").history(keys=["_timestamp"])}
    _, s = get(url + "/api/series?runs=kid&key=metric&x=_timestamp&points=100000")
    (kid,) = s["runs"]
    inh, own = kid["parts"]
    assert inh["x"] == [stamps[t] for t in inh["steps"]] and own["x"] == [stamps[t] for t in own["steps"]]
    assert kid["branch_points"][0]["x"] == stamps[150]
    _, s = get(url + f"/api/series?runs=kid,{rid}&key=metric&x=_runtime&points=100000")
    kid, base = s["runs"]
    assert kid["parts"][0]["x"][0] == 0 and base["parts"][0]["x"][0] == 0  # from the first row of the lineage
    assert kid["parts"][1]["x"][0] == pytest.approx(stamps[151] - stamps[0])
    xs = kid["parts"][0]["x"] + kid["parts"][1]["x"]
    assert xs == sorted(xs)


def test_series_overlay_on_a_step_metric_leaves_rows_without_it_out(ui):
    url, rid = ui
    _, s = get(url + f"/api/series?runs={rid}&key=metric&x=epoch&points=100000")
    (base,) = s["runs"]
    (own,) = base["parts"]
    assert own["steps"] == list(range(0, 201, 2))  # epoch: on even steps, up to the rewind at 200
    assert own["x"] == [i // 10 for i in range(0, 201, 2)]


@pytest.mark.parametrize("query, status, fragment", [
    ("runs=kid", 400, "key: missing"),
    ("key=metric", 400, "runs: missing"),
    ("runs=kid&key=metric&x=wall", 400, "x='wall'"),
    ("runs=kid&key=metric&points=5", 400, "points=5"),
    ("runs=kid&key=metric&points=many", 400, "points='many'"),
    ("runs=kid,nosuch&key=metric", 404, "nosuch"),
    ("runs=" + ",".join(f"r{i}" for i in range(201)) + "&key=metric", 400, "at most 200"),
])
def test_series_overlay_errors_name_the_parameter(ui, query, status, fragment):
    url, _ = ui
    got, body = get(url + "/api/series?" + query)
    assert got == status and fragment in body["error"]


def test_overlay_of_nan_and_inf_sends_gaps(store):
    with forkpoint.init(store=store, project="n", id="n") as run:
        for v in (1.0, float("nan"), float("inf"), 2.0, None, 3.0):
            run.log({"v": v})
    srv, url = serve_in_thread(store)
    try:
        (r,) = get(url + "/api/series?runs=n&key=v")[1]["runs"]
        assert r["parts"][0]["steps"] == [0, 3, 5] and r["parts"][0]["y"] == [1.0, 2.0, 3.0]
        assert get(url + "/api/run/n")[1]["summary_all"]["v"] == 3.0
        with forkpoint.init(store=store, id="n", resume="must") as run:
            run.log({"v": float("nan")})
        (row,) = get(url + "/api/runs?project=n")[1]["runs"]
        assert row["summary"] == {"v": None} and row["last_step"] == 6
    finally:
        srv.shutdown()
        srv.server_close()


def test_overlay_cache_follows_live_writes_finish_and_new_forks(store):
    run = forkpoint.init(store=store, project="o", id="o", flush_interval=0)
    for i in range(5):
        run.log({"loss": float(i)})
    srv, url = serve_in_thread(store)
    try:
        q = url + "/api/series?runs=o&key=loss&x=_runtime"
        (r,) = get(q)[1]["runs"]
        assert r["parts"][0]["steps"] == list(range(5)) and r["state"] == "running" and r["branch_points"] == []
        assert get(q)[1]["runs"][0] == r  # answered again from the cache
        run.log({"loss": 9.0})
        (r,) = get(q)[1]["runs"]
        assert r["parts"][0]["steps"] == list(range(6)) and r["parts"][0]["y"][-1] == 9.0
        run.finish()
        assert get(q)[1]["runs"][0]["state"] == "finished"
        with forkpoint.init(store=store, fork_from="o?_step=3", id="of"):
            pass
        (r,) = get(q)[1]["runs"]
        assert [(m["step"], m["label"]) for m in r["branch_points"]] == [(3, "fork of")] and r["branch_points"][0]["x"] > 0
    finally:
        run.finish()
        srv.shutdown()
        srv.server_close()


# -- status ---------------------------------------------------------------------------------------
def test_status_of_a_live_run(store):
    run = forkpoint.init(store=store, project="s", id="live", flush_interval=0)
    run.log({"loss": 1.0})
    srv, url = serve_in_thread(store)
    try:
        got = get(url + "/api/status?runs=live,gone")[1]["runs"]
        assert got["gone"] is None and got["live"]["state"] == "running" and got["live"]["last_step"] == 0
        before = got["live"]["updated_at"]
        time.sleep(0.01)
        run.log({"loss": 0.5})
        got = get(url + "/api/status?runs=live")[1]["runs"]["live"]
        assert got["last_step"] == 1 and got["updated_at"] > before
        run.finish()
        assert get(url + "/api/status?runs=live")[1]["runs"]["live"]["state"] == "finished"
        assert get(url + "/api/status")[0] == 400
    finally:
        run.finish()
        srv.shutdown()
        srv.server_close()


# -- lineage --------------------------------------------------------------------------------------
def test_lineage_graph_of_a_project_and_of_one_run(ui, store):
    url, rid = ui
    with forkpoint.init(store=store, project="other", id="alone") as r:
        r.log({"x": 1})
    status, g = get(url + "/api/lineage?project=ui")
    assert status == 200
    nodes = {n["id"]: n for n in g["nodes"]}
    assert set(nodes) == {rid, f"{rid}~1", "kid"}
    assert nodes[f"{rid}~1"]["archived"] and nodes[f"{rid}~1"]["last_step"] == 299 and nodes[f"{rid}~1"]["state"] == "archived"
    assert nodes[rid]["kind"] == "rewind" and nodes[rid]["branch_step"] == 200 and nodes[rid]["start_step"] == 201
    assert nodes["kid"]["kind"] == "fork" and nodes["kid"]["last_step"] == 259 and nodes["kid"]["run_id"] == "kid"
    edges = {(e["source"], e["target"], e["relation"], e["step"]) for e in g["edges"]}
    assert edges == {(rid, f"{rid}~1", "archived", 200), (f"{rid}~1", rid, "rewind", 200), (rid, "kid", "fork", 150)}
    assert get(url + "/api/lineage?run=kid")[1] == g  # the one lineage holding the run
    assert {n["id"] for n in get(url + "/api/lineage?run=alone")[1]["nodes"]} == {"alone"}


def test_lineage_fork_of_a_rewound_parent_hangs_off_the_archived_branch(ui, store):
    url, rid = ui
    assert len(get(url + "/api/lineage?project=ui")[1]["nodes"]) == 3  # cached now; the rewind must show
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=100"):
        pass
    g = get(url + "/api/lineage?project=ui")[1]
    assert len(g["nodes"]) == 4
    edges = {(e["source"], e["target"], e["relation"], e["step"]) for e in g["edges"]}
    assert (f"{rid}~2", "kid", "fork", 150) in edges and (f"{rid}~2", rid, "rewind", 100) in edges
    assert (rid, f"{rid}~2", "archived", 100) in edges and (f"{rid}~1", f"{rid}~2", "rewind", 200) in edges


@pytest.mark.parametrize("query, status, fragment", [
    ("", 400, "exactly one of"), ("project=ui&run=kid", 400, "exactly one of"),
    ("project=nosuch", 404, "no runs in project 'nosuch'"), ("project=bad%20name", 400, "project:"),
    ("run=nosuch", 404, "nosuch"),
])
def test_lineage_errors(ui, query, status, fragment):
    url, _ = ui
    got, body = get(url + "/api/lineage?" + query)
    assert got == status and fragment in body["error"]


# -- media ----------------------------------------------------------------------------------------
def test_media_follow_a_rewind_and_a_fork(store):
    np = pytest.importorskip("numpy")
    pytest.importorskip("PIL")

    def img(v):
        return forkpoint.Image(np.full((4, 6, 3), v, dtype=np.uint8), caption=f"v{v}")

    with forkpoint.init(store=store, project="m", id="m") as run:
        for i in range(6):
            run.log({"img": img(i), "h": forkpoint.Histogram([1, 2, 2, i], num_bins=3),
                     "tab": forkpoint.Table(columns=["a", "b"], data=[[i, "x"]]), "pair": [img(i), img(i + 100)],
                     "loss": float(i)})
    with forkpoint.init(store=store, resume_from="m?_step=2") as r:
        r.log({"img": img(50)})
    with forkpoint.init(store=store, fork_from="m~1?_step=4", id="mf") as f:
        f.log({"img": img(60)})
    srv, url = serve_in_thread(store)
    try:
        d = get(url + "/api/run/m~1")[1]
        assert d["media"] == [{"key": "h", "type": "histogram"}, {"key": "img", "type": "image"},
                              {"key": "pair", "type": "media-list"}, {"key": "tab", "type": "table"}]
        assert d["keys"] == ["loss"]
        m = get(url + "/api/run/m/media?key=img")[1]
        assert m["type"] == "image" and [s["step"] for s in m["steps"]] == [0, 1, 2, 3]
        first, new = m["steps"][0]["items"][0], m["steps"][3]["items"][0]
        assert (first["width"], first["height"], first["caption"]) == (6, 4, "v0") and new["caption"] == "v50"
        assert first["url"] == f"/api/blob/{first['sha256']}"
        arch = get(url + "/api/run/m~1/media?key=img")[1]
        assert [s["items"][0]["caption"] for s in arch["steps"]] == [f"v{i}" for i in range(6)]
        fork = get(url + "/api/run/mf/media?key=img")[1]
        assert [s["items"][0]["caption"] for s in fork["steps"]] == ["v0", "v1", "v2", "v3", "v4", "v60"]
        h = get(url + "/api/run/m/media?key=h")[1]["steps"][0]["items"][0]
        assert h["type"] == "histogram" and len(h["bins"]) == 4 and h["counts"] == [1, 1, 2]
        t = get(url + "/api/run/m/media?key=tab")[1]["steps"][1]["items"][0]
        assert t["columns"] == ["a", "b"] and t["data"] == [[1, "x"]]
        pair = get(url + "/api/run/m/media?key=pair")[1]
        assert pair["type"] == "media-list" and [i["caption"] for i in pair["steps"][0]["items"]] == ["v0", "v100"]
        status, headers, body = raw(url + first["url"])
        assert status == 200 and headers["Content-Type"] == "image/png" and body[:4] == b"\x89PNG"
        assert "immutable" in headers["Cache-Control"] and headers["X-Content-Type-Options"] == "nosniff"
        status, headers, _ = raw(url + h["url"])
        assert headers["Content-Type"] == "application/octet-stream" and headers["Content-Disposition"].startswith("attachment")
        assert get(url + "/api/run/m/media?key=loss")[0] == 400
        assert "key: missing" in get(url + "/api/run/m/media")[1]["error"]
        assert get(url + "/api/blob/" + "0" * 64)[0] == 404 and "sha256" in get(url + "/api/blob/xyz")[1]["error"]
    finally:
        srv.shutdown()
        srv.server_close()


# -- errors and pages -----------------------------------------------------------------------------
@pytest.mark.parametrize("path, status, fragment", [
    ("/api/run/nosuch", 404, "'nosuch' not found"),
    ("/api/run/bad%20id", 404, "not a run id"),
    ("/api/run/nosuch~3/series?key=metric", 404, "not found"),
    ("/api/run/kid/series", 400, "key: missing"),
    ("/api/run/kid/series?key=metric&points=5", 400, "expected 10..100000"),
    ("/api/runs?project=nosuch", 404, "no runs in project"),
    ("/api/runs?project=a%20b", 400, "project:"),
    ("/api/nothing", 404, "no API endpoint"),
])
def test_bad_requests(ui, path, status, fragment):
    url, _ = ui
    got, body = get(url + path)
    assert got == status and fragment in body["error"]


def test_pages_and_static_assets_are_local(ui):
    url, rid = ui
    for page in (f"/run/{rid}", "/p/ui", "/compare?runs=a,b", "/", f"/run/ui%2F{rid}"):
        with urllib.request.urlopen(url + page) as r:
            html = r.read().decode()
        assert "/static/js/app.js" in html and "http" not in html.replace("http-equiv", "")
    with urllib.request.urlopen(url + "/static/js/charts.js") as r:
        assert '"/static/vendor/uplot/uPlot.iife.min.js"' in r.read().decode()  # loaded from here, not a CDN
    with urllib.request.urlopen(url + "/static/vendor/uplot/uPlot.iife.min.js") as r:
        assert r.status == 200 and b"uPlot" in r.read()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url + "/static/../../pyproject.toml")


# -- downsampling ---------------------------------------------------------------------------------
def test_minmax_keeps_extremes():
    steps = list(range(100_000))
    values = [0.0] * 100_000
    values[54_321] = 99.0
    values[77_777] = -5.0
    s, v = minmax(steps, values, 200)
    assert len(s) <= 200 and 54_321 in s and 77_777 in s and s == sorted(s) and s[0] == 0 and s[-1] == 99_999
    assert minmax([1, 2], [float("nan"), "x"], 10) == ([], [])


@pytest.mark.parametrize("points", [10, 11, 100, 1500])
def test_minmax_indices_bounds_extremes_and_kept_points(points):
    values = [math.sin(i / 50) for i in range(100_000)]
    values[12_345] = 50.0
    values[23_456] = None  # a gap
    values[34_567] = float("nan")
    got = minmax_indices(values, points, keep=(60_000, 60_001, 23_456))
    assert len(got) <= points and got == sorted(set(got)) and got[0] == 0 and got[-1] == 99_999
    assert {12_345, 60_000, 60_001} <= set(got) and 23_456 not in got and 34_567 not in got
    assert minmax_indices([1.0, 2.0], 10) == [0, 1] and minmax_indices([], 10) == []
