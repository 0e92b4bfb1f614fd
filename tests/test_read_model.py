"""The one read model (``Api``/``RunView``) the UI and the CLI share: keys, series, root, lineage,
projects; and every lineage walk as a loop, proven on a real chain of 600 forks."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import forkpoint
import pytest
from forkpoint.cli import main
from forkpoint.store import close_store
from forkpoint.ui.server import serve_in_thread
from helpers import linear

DEPTH = 600


def test_keys_series_and_own_split(store, api):
    rid = linear(store, 10)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=4", id="kid", quiet=True) as kid:
        for i in range(5, 8):
            kid.log({"metric": -i, "extra": i}, step=i)
    v = api.run("kid")
    assert v.keys() == ["extra", "metric"] and v.keys(own_only=True) == ["extra", "metric"]
    assert api.run(rid).keys() == ["metric"]
    got = v.series("metric")
    assert got.steps == list(range(8)) and got.values == [0, 1, 2, 3, 4, -5, -6, -7] and got.own_from == 5
    own = v.series("metric", own_only=True)
    assert own.steps == [5, 6, 7] and own.own_from == 0
    assert v.series("nosuch").steps == [] and v.series("extra").own_from == 0
    assert v.root().id == rid and api.run(rid).root().id == rid


def test_projects_count_runs(store, api):
    linear(store, 1, project="b")
    linear(store, 1, project="a")
    linear(store, 1, project="b")
    assert api.projects() == {"a": 1, "b": 2} and list(api.projects()) == ["a", "b"]


def test_tree_is_flat_depth_first_with_archived_before_forks(store, api):
    rid = linear(store, 30)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=10", id="a", quiet=True) as a:
        a.log({"metric": 1})
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=20", quiet=True):
        pass
    with forkpoint.init(store=store, fork_from="a?_step=11", id="b", quiet=True):
        pass
    tree = api.run("b").root().tree()
    assert [(e.depth, e.relation, e.view.id, e.last) for e in tree] == [
        (0, "root", rid, True), (1, "archived", f"{rid}~1", False), (1, "fork", "a", True), (2, "fork", "b", True)]
    assert str(api.run(f"{rid}~1").span()) == "own steps 0..29"
    assert str(api.run("a").span()) == f"steps <= 10 from {rid}, own steps 11..11"


def test_ui_and_cli_do_not_reach_into_the_store():
    """The UI and the CLI read through Api/RunView only (no `.store`, no lineage rebuilt by hand)."""
    core = Path(forkpoint.__file__).parent
    for rel in ("cli.py", "ui/server.py"):
        text = (core / rel).read_text()
        assert "api.store" not in text and "_store." not in text, rel
        assert "split(\"~\")" not in text and ".ranges()" not in text, rel


@pytest.fixture
def deep(tmp_path):
    """A real chain of DEPTH forks, each forked from the previous run at its last step (one row each).

    SQLite only: the walks under test are the same loops on either backend, and making the chain
    costs each fork's ``init`` a summary read over its whole lineage (a minute on PostgreSQL)."""
    store = f"sqlite:///{tmp_path / 'deep.db'}"
    with forkpoint.init(store=store, project="deep", id="c0", quiet=True) as run:
        run.log({"m": 0})
    for i in range(1, DEPTH + 1):
        with forkpoint.init(store=store, project="deep", id=f"c{i}", fork_from=f"c{i - 1}?_step={i - 1}",
                            quiet=True) as run:
            run.log({"m": i})
    yield store
    close_store(store)


def test_a_chain_of_600_forks_reads_everywhere(deep, capsys):
    """ancestors(), root(), the tree, the CLI tree and the UI's run page: no RecursionError at a
    depth well past Python's recursion limit once each level costs a few frames."""
    assert sys.getrecursionlimit() < 3 * DEPTH
    api = forkpoint.Api(deep)
    leaf = api.run(f"c{DEPTH}")
    assert leaf.ancestors() == [(f"c{i}", i) for i in range(DEPTH - 1, -1, -1)]
    assert leaf.root().id == "c0" and leaf.last_step == DEPTH and leaf.summary == {"m": DEPTH}
    assert [r["m"] for r in leaf.history()] == list(range(DEPTH + 1))
    tree = leaf.root().tree()
    assert [(e.depth, e.view.id) for e in tree] == [(i, f"c{i}") for i in range(DEPTH + 1)]

    assert main(["--store", deep, "tree", f"c{DEPTH // 2}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == DEPTH + 1 and lines[0].startswith("c0 [finished] run")
    assert lines[-1] == "    " * (DEPTH - 1) + f"`-- fork c{DEPTH} [finished] at _step={DEPTH - 1}"
    assert lines[DEPTH // 2].endswith("  <-")

    srv, url = serve_in_thread(deep)
    try:
        with urllib.request.urlopen(f"{url}/api/run/c{DEPTH}") as r:
            detail = json.loads(r.read())
    finally:
        srv.shutdown()
        srv.server_close()
    assert [n["id"] for n in detail["tree"]] == [f"c{i}" for i in range(DEPTH + 1)]
    assert detail["tree"][-1]["depth"] == DEPTH and len(detail["ancestors"]) == DEPTH
