import forkpoint
import pytest
from helpers import linear, steps


def test_fork_stitches_parent_prefix(store, api):
    rid = linear(store, 300)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=200") as child:
        assert child.id != rid and child.step == 201 and child.kind == "fork"
        assert child.parent == (rid, 200) and str(child.parent) == f"{rid}?_step=200"
        child.log({"metric": -5, "extra": 1})
    c = api.run(child.id)
    h = c.history()
    assert steps(h) == list(range(202)) and h[:201] == api.run(rid).history()[:201]
    assert c.history(own_only=True) == [{"_step": 201, "metric": -5, "extra": 1}]
    assert c.summary == {"metric": -5, "extra": 1}
    assert steps(api.run(rid).history()) == list(range(300))  # parent unchanged
    assert [x.id for x in api.run(rid).children()] == [child.id]


def test_fork_with_no_new_rows_summary_is_inherited(store, api):
    rid = linear(store, 50)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=20") as child:
        assert dict(child.summary) == {"metric": 20}
    assert api.run(child.id).summary == {"metric": 20}


def test_fork_of_fork_of_rewound_and_of_archived(store, api):
    rid = linear(store, 100)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=50") as r:
        for i in range(10):
            r.log({"metric": 500 + i})
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=55") as a:  # fork of a rewound run
        a.log({"metric": -1})
    with forkpoint.init(store=store, fork_from=f"{a.id}?_step=53") as b:  # fork of a fork
        b.log({"metric": -2})
    with forkpoint.init(store=store, fork_from=f"{rid}~1?_step=80") as c:  # fork of the archived branch
        c.log({"metric": -3})
    ha = api.run(a.id).history()
    assert [r["metric"] for r in ha] == list(range(51)) + [500, 501, 502, 503, 504, -1]
    hb = api.run(b.id).history()
    assert [r["metric"] for r in hb] == list(range(51)) + [500, 501, 502, -2]
    hc = api.run(c.id).history()
    assert [r["metric"] for r in hc] == list(range(81)) + [-3]
    assert api.run(c.id).parent == (f"{rid}~1", 80)
    assert [x.id for x in api.run(f"{rid}~1").children()] == [c.id]
    assert api.run(b.id).ancestors()[:2] == [(a.id, 53), (rid, 55)]


def test_fork_is_idempotent_with_same_id(store, api):
    rid = linear(store, 30)
    with forkpoint.init(store=store, id="kid", fork_from=f"{rid}?_step=10") as k:
        k.log({"metric": 100})
    with forkpoint.init(store=store, id="kid", fork_from=f"{rid}?_step=10") as k:
        assert k.step == 12  # resumed, not re-created
        k.log({"metric": 101})
    assert [r["metric"] for r in api.run("kid").history()] == list(range(11)) + [100, 101]
    with pytest.raises(forkpoint.UsageError, match="already exists and is a fork of"):
        forkpoint.init(store=store, id="kid", fork_from=f"{rid}?_step=11")
    plain = linear(store, 3, id="plain")
    with pytest.raises(forkpoint.UsageError, match="already exists and is not a fork"):
        forkpoint.init(store=store, id=plain, fork_from=f"{rid}?_step=1")


def test_fork_of_running_parent_in_same_process_sees_queued_rows(store, api):
    parent = forkpoint.init(store=store, flush_interval=60)
    for i in range(20):
        parent.log({"m": i})
    with forkpoint.init(store=store, fork_from=f"{parent.id}?_step=19") as child:
        assert child.step == 20
    parent.finish()
    assert len(api.run(child.id).history()) == 20


def test_fork_beyond_last_step_and_unknown_run(store, api):
    rid = linear(store, 5)
    with pytest.raises(forkpoint.StepError, match="which is 4"):
        forkpoint.init(store=store, fork_from=f"{rid}?_step=5")
    with pytest.raises(forkpoint.RunNotFoundError, match="'nosuch' not found"):
        forkpoint.init(store=store, fork_from="nosuch?_step=1")
    with pytest.raises(forkpoint.RunNotFoundError, match="no archived branch"):
        forkpoint.init(store=store, fork_from=f"{rid}~1?_step=1")
    assert len(api.runs()) == 1


def test_fork_of_empty_run_is_an_error(store):
    with forkpoint.init(store=store) as run:
        pass
    with pytest.raises(forkpoint.StepError, match="no logged rows"):
        forkpoint.init(store=store, fork_from=f"{run.id}?_step=0")


def test_fork_project_and_tags(store, api):
    rid = linear(store, 5, project="p", tags=["base"])
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=2") as a:
        pass
    with forkpoint.init(store=store, project="other", fork_from=f"{rid}?_step=2", tags=[]) as b:
        pass
    assert (api.run(a.id).project, api.run(a.id).tags) == ("p", ["base"])
    assert (api.run(b.id).project, api.run(b.id).tags) == ("other", [])
