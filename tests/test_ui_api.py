"""The UI's JSON API, over a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import forkpoint
import pytest
from forkpoint.ui.downsample import minmax
from forkpoint.ui.server import serve_in_thread


def lineage(store):
    """A run rewound at 200 (wave from 250), and a fork of it at 150 with its own metric."""
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


@pytest.fixture
def ui(store):
    rid = lineage(store)
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


def test_runs_and_projects(ui):
    url, rid = ui
    status, body = get(url + "/api/runs")
    assert status == 200 and {r["id"] for r in body["runs"]} == {rid, "kid"}
    assert get(url + "/api/runs?q=kid")[1]["runs"][0]["id"] == "kid"
    assert get(url + "/api/projects")[1] == {"projects": [{"name": "ui", "runs": 2}]}
    base = next(r for r in body["runs"] if r["id"] == rid)
    assert base["kind"] == "rewind" and base["summary"]["metric"] == pytest.approx(299 + 2 * math.sin(299 / 3))


def test_run_detail_and_lineage(ui):
    url, rid = ui
    status, d = get(url + "/api/run/kid")
    assert status == 200 and d["parent"] == f"{rid}?_step=150" and d["keys"] == ["extra", "metric"]
    assert d["config"] == {"lr": 0.1}
    assert [(n["id"], n["depth"], n["relation"]) for n in d["tree"]] == [
        (rid, 0, "root"), (f"{rid}~1", 1, "archived"), ("kid", 1, "fork")]
    assert d["tree"][0]["label"] == "rewound at _step=200" and d["tree"][2]["at"] == 150
    assert d["tree"][1]["label"] == "own steps 0..299"
    assert get(url + f"/api/run/{rid}~1")[1]["state"] == "archived"


def test_series_split_inherited_and_own_with_branch_points(ui):
    url, rid = ui
    _, s = get(url + "/api/run/kid/series?key=metric")
    parts = {x["part"]: x for x in s["series"]}
    assert parts["inherited"]["steps"] == list(range(151)) and parts["own"]["steps"] == list(range(151, 260))
    assert s["branch_points"] == [{"step": 150, "label": f"fork from {rid}?_step=150"}]
    _, s = get(url + f"/api/run/{rid}/series?key=metric&points=40")
    (own,) = s["series"]
    assert s["total_points"] == 300 and len(own["steps"]) <= 40 and own["steps"][0] == 0 and own["steps"][-1] == 299
    assert {x["step"] for x in s["branch_points"]} == {200, 150}


@pytest.mark.parametrize("path, status, fragment", [
    ("/api/run/nosuch", 404, "'nosuch' not found"),
    ("/api/run/bad%20id", 404, "not a run id"),
    ("/api/run/nosuch~3/series?key=metric", 404, "not found"),
    ("/api/run/kid/series", 400, "needs ?key="),
    ("/api/run/kid/series?key=metric&points=5", 400, "expected 10..100000"),
    ("/api/nothing", 404, "no API endpoint"),
])
def test_bad_requests(ui, path, status, fragment):
    url, _ = ui
    got, body = get(url + path)
    assert got == status and fragment in body["error"]


def test_pages_and_static_assets_are_local(ui):
    url, rid = ui
    with urllib.request.urlopen(url + f"/run/{rid}") as r:
        html = r.read().decode()
    assert "/static/vendor/uplot/uPlot.iife.min.js" in html and "http" not in html.replace("http-equiv", "")
    with urllib.request.urlopen(url + "/static/vendor/uplot/uPlot.iife.min.js") as r:
        assert r.status == 200 and b"uPlot" in r.read()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url + "/static/../../pyproject.toml")


def test_minmax_keeps_extremes():
    steps = list(range(100_000))
    values = [0.0] * 100_000
    values[54_321] = 99.0
    values[77_777] = -5.0
    s, v = minmax(steps, values, 200)
    assert len(s) <= 200 and 54_321 in s and 77_777 in s and s == sorted(s) and s[0] == 0 and s[-1] == 99_999
    assert minmax([1, 2], [float("nan"), "x"], 10) == ([], [])
