import forkpoint
import pytest
from helpers import linear, steps


def test_plain_resume_continues_without_truncation(store, api):
    linear(store, 10, id="r1")
    with forkpoint.init(store=store, id="r1", resume="must") as run:
        assert run.step == 10 and run.kind == "run"
        run.log({"metric": 10})
    assert steps(api.run("r1").history()) == list(range(11))


def test_resume_allow_creates_when_missing(store, api):
    with forkpoint.init(store=store, id="new1", resume="allow") as run:
        run.log({"a": 1})
    with forkpoint.init(store=store, id="new1", resume="allow") as run:
        assert run.step == 1


def test_resume_modes_errors_write_nothing(store, api):
    with pytest.raises(forkpoint.RunNotFoundError, match="resume='must' but run 'nope' does not exist"):
        forkpoint.init(store=store, id="nope", resume="must")
    with pytest.raises(forkpoint.UsageError, match="needs id"):
        forkpoint.init(store=store, resume="must")
    linear(store, 3, id="x")
    with pytest.raises(forkpoint.UsageError, match="already exists"):
        forkpoint.init(store=store, id="x", resume="never")
    with pytest.raises(forkpoint.UsageError, match="already exists: pass resume='allow'"):
        forkpoint.init(store=store, id="x")
    assert [r.id for r in api.runs()] == ["x"]


def test_resume_of_rewound_run_keeps_lineage(store, api):
    rid = linear(store, 20)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=9") as run:
        run.log({"metric": -1})
    with forkpoint.init(store=store, id=rid, resume="must") as run:
        assert run.step == 11 and run.kind == "rewind" and run.parent == (f"{rid}~1", 9)
        run.log({"metric": -2})
    assert [r["metric"] for r in api.run(rid).history()] == list(range(10)) + [-1, -2]


def test_resume_of_fork_keeps_lineage(store, api):
    rid = linear(store, 20)
    with forkpoint.init(store=store, id="f", fork_from=f"{rid}?_step=4") as f:
        pass  # no own rows yet
    with forkpoint.init(store=store, id="f", resume="allow") as f:
        assert f.step == 5 and f.kind == "fork" and f.parent == (rid, 4)
    v = api.run("f")
    assert v.kind == "fork" and v.parent == (rid, 4)


def test_resume_of_crashed_run(store, api):
    run = forkpoint.init(store=store, id="c")
    run.log({"a": 1})
    run.finish(exit_code=3)
    assert api.run("c").state == "crashed" and api.run("c").exit_code == 3
    with forkpoint.init(store=store, id="c", resume="must") as run:
        run.log({"a": 2})
    assert api.run("c").state == "finished"


def test_resume_refused_while_live(store):
    run = forkpoint.init(store=store, id="live")
    with pytest.raises(forkpoint.RunInUseError):
        forkpoint.init(store=store, id="live", resume="allow")
    run.finish()
