import forkpoint
from helpers import linear


def test_lineage_tree(store, api):
    rid = linear(store, 30)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=10") as a:
        a.log({"metric": 1})
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=20"):
        pass
    with forkpoint.init(store=store, fork_from=f"{a.id}?_step=11") as b:
        pass
    root = api.run(rid)
    assert root.kind == "rewind" and root.parent == (f"{rid}~1", 20)
    assert [c.id for c in root.children()] == [a.id]
    assert [x.id for x in root.archived()] == [f"{rid}~1"]
    assert api.run(b.id).ancestors() == [(a.id, 11), (rid, 10), (f"{rid}~1", 20)]
    assert api.run(a.id).kind == "fork" and api.run(a.id).branch_step == 10


def test_runs_listing_by_project(store, api):
    linear(store, 2, project="p1")
    linear(store, 2, project="p2")
    assert [r.project for r in api.runs("p1")] == ["p1"]
    assert len(api.runs()) == 2
    assert api.run(f"p2/{api.runs('p2')[0].id}").project == "p2"


def test_history_keys_filter_and_df(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"a": 1, "b": 2})
        run.log({"b": 3})
        run.log({"c": 4})
    v = api.run(run.id)
    assert v.history(keys=["a"]) == [{"_step": 0, "a": 1}]
    assert v.history(keys=["a", "b"]) == [{"_step": 0, "a": 1, "b": 2}, {"_step": 1, "b": 3}]
    assert v.history(keys=["zzz"]) == []
    df = v.history_df()
    assert list(df.columns) == ["_step", "a", "b", "c"] and len(df) == 3
