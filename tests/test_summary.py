import forkpoint
from helpers import linear


def test_summary_is_last_value_per_key(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"loss": 3.0, "acc": 0.1})
        run.log({"loss": 2.0})
        assert dict(run.summary) == {"loss": 2.0, "acc": 0.1}
    assert api.run(run.id).summary == {"loss": 2.0, "acc": 0.1}


def test_explicit_summary_writes_persist_and_win(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"loss": 3.0})
        run.summary["loss"] = 0.5
        run.summary["best_epoch"] = 4
        run.log({"loss": 1.0})
        assert run.summary["loss"] == 0.5
    assert api.run(run.id).summary == {"loss": 0.5, "best_epoch": 4}


def test_rewind_recomputes_summary_from_visible_history(store, api):
    with forkpoint.init(store=store) as run:
        for i in range(10):
            run.log({"loss": 10 - i, "late": i} if i > 6 else {"loss": 10 - i})
        run.summary["best"] = 1
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=4") as r:
        assert dict(r.summary) == {"loss": 6}  # 'late' and the explicit 'best' belong to the archived branch
        r.log({"other": 1})
        r.summary["note"] = "x"
    assert api.run(run.id).summary == {"loss": 6, "other": 1, "note": "x"}
    assert api.run(f"{run.id}~1").summary == {"loss": 1, "late": 9, "best": 1}


def test_fork_summary_over_stitched_history(store, api):
    rid = linear(store, 10)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=5") as f:
        f.log({"other": 2})
    assert api.run(f.id).summary == {"metric": 5, "other": 2}
