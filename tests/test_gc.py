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


def _image(tone: int):
    import numpy as np

    return forkpoint.Image(np.full((4, 4, 3), tone, np.uint8))


def test_gc_drops_media_only_dropped_branches_refer_to(store):
    """A blob logged only on an archived branch goes with it; a blob the visible history (or a fork)
    still shows stays; a young unreferenced blob (its row may be on its way) stays; the dry run
    counts the blobs the branches would take with them."""
    from forkpoint.gc import collect_media
    from forkpoint.media import load

    with forkpoint.init(store=store, project="g", id="m", quiet=True) as run:
        for i in range(6):
            run.log({"img": _image(i), "shared": _image(100)})
    with forkpoint.init(store=store, resume_from="m?_step=2", quiet=True) as run:  # its step 3 becomes m~2
        run.log({"img": _image(50), "shared": _image(100)}, step=3)
    with forkpoint.init(store=store, resume_from="m?_step=2", quiet=True) as run:
        run.log({"img": _image(60), "shared": _image(100)}, step=3)
    st = open_store(store)
    # a blob whose row never came (its process died in between): unreferenced, but young
    orphan, orphan_data = _image(77).to_ref()
    st.put_blob(orphan["sha256"], "image-file", orphan_data, 0.0)  # stored long ago
    young, data = _image(78).to_ref()
    st.put_blob(young["sha256"], "image-file", data, __import__("time").time())
    plan = collect(st, "m", dry_run=True)
    assert [a.ref for a in plan] == ["m~2"]  # m~1 (steps 0..5) stays: the run reads its steps 0..2
    # grace 0: image 50 (only m~2 showed it), the orphan and the young blob
    assert collect_media(st, dry_run=True, dropping=plan, grace=0).count == 3
    assert collect_media(st, dry_run=True, grace=0).count == 2  # without the branch's drop
    collect(st, "m")
    got = collect_media(st)  # the default grace keeps what was stored in the last hour
    assert (got.count, got.bytes) == (1, len(orphan_data))
    assert st.get_blob(orphan["sha256"]) is None and st.get_blob(young["sha256"]) is not None
    assert st.get_blob(_image(50).to_ref()[0]["sha256"]) is not None
    assert collect_media(st, grace=0).count == 2  # image 50 and the young blob, once nothing waits
    api = forkpoint.Api(store)
    rows = api.run("m").history()
    assert [load(r["img"], api).to_numpy()[0, 0, 0] for r in rows] == [0, 1, 2, 60]  # every visible image loads
    assert all(load(r["shared"], api).to_numpy()[0, 0, 0] == 100 for r in rows)
    assert collect_media(st, grace=0).count == 0


def test_a_blob_logged_again_is_young_again(store):
    """put_blob of a digest stored long ago renews its time: a run that logs an image an old,
    dropped branch also had must not lose it to a gc before its row is written."""
    from forkpoint.gc import collect_media

    st = open_store(store)
    ref, data = _image(9).to_ref()
    st.put_blob(ref["sha256"], "image-file", data, 0.0)
    assert collect_media(st, dry_run=True).count == 1
    st.put_blob(ref["sha256"], "image-file", data, __import__("time").time())
    assert collect_media(st).count == 0 and st.get_blob(ref["sha256"]) == data
