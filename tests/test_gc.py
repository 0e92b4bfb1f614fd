"""forkpoint gc: archived branches dropped on purpose, never one a fork still reads through."""

from __future__ import annotations

import forkpoint
from forkpoint.gc import collect
from forkpoint.store import open_store
from helpers import linear


def test_gc_drops_unread_archived_branches_and_keeps_what_forks_read(store):
    rid = linear(store, 300)  # steps 0..299
    with forkpoint.init(fork_from=f"{rid}?_step=250", id="early", store=store) as f:  # reads rid's rows <= 250
        f.log({"metric": -1})
    with forkpoint.init(resume_from=f"{rid}?_step=200", store=store) as r:  # ~1: steps 201..299, read by "early"
        r.log({"metric": 1000})
    with forkpoint.init(resume_from=f"{rid}?_step=100", store=store) as r:  # ~2: its step 201, read by nobody
        r.log({"metric": 2000})
    st = open_store(store)
    before = forkpoint.Api(store).run("early").history()
    plan = collect(st, rid, dry_run=True)
    assert [a.ref for a in plan] == [f"{rid}~2"] and plan[0].points == 1 and plan[0].bytes > 0
    assert len(forkpoint.Api(store).run(rid).archived()) == 2  # dry run: nothing dropped
    assert [a.ref for a in collect(st, rid)] == [f"{rid}~2"]
    api = forkpoint.Api(store)
    assert [a.id for a in api.run(rid).archived()] == [f"{rid}~1"]
    assert api.run("early").history() == before  # the fork still reads its whole prefix
    assert [r["metric"] for r in api.run(rid).history()] == list(range(101)) + [2000]
    assert collect(st, rid) == []  # nothing left to drop


def test_gc_and_export_import_from_the_command_line(tmp_path, capsys):
    from forkpoint.cli import main

    store = str(tmp_path / "s.db")
    rid = linear(store, 50)
    with forkpoint.init(resume_from=f"{rid}?_step=20", store=store) as r:
        r.log({"metric": -1})  # ~2 will hold just this row
    forkpoint.init(resume_from=f"{rid}?_step=10", store=store).finish()
    assert main(["--store", store, "gc", "--dry-run"]) == 0
    assert f"would drop {rid}~2: 1 points" in capsys.readouterr().out
    assert main(["--store", store, "gc", rid]) == 0
    assert "dropped 1 archived branch(es)" in capsys.readouterr().out
    view = forkpoint.Api(store).run(rid)
    assert [a.id for a in view.archived()] == [f"{rid}~1"] and view.kind == "rewind" and view.parent is None
    assert main(["--store", store, "export", rid, "--to", "csv", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    assert any(p.suffix == ".csv" for p in (tmp_path / "out").rglob("*"))
    assert main(["--store", str(tmp_path / "nothing-here.db"), "gc"]) == 1  # a reader never creates a store
    assert not (tmp_path / "nothing-here.db").exists()
