import forkpoint
import pytest
from helpers import linear, steps


def test_rewind_keeps_rows_up_to_n_and_archives_the_rest(store, api):
    rid = linear(store, 300)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=200") as run:
        assert run.id == rid and run.step == 201 and run.kind == "rewind"
        assert run.parent == (f"{rid}~1", 200)
        run.log({"metric": -1})
    v = api.run(rid)
    h = v.history()
    assert steps(h) == list(range(202))
    assert h[200]["metric"] == 200 and h[201]["metric"] == -1
    (arch,) = v.archived()
    assert arch.id == f"{rid}~1" and arch.state == "archived"
    assert [r["metric"] for r in arch.history()] == list(range(300))
    assert arch.summary == {"metric": 299}
    assert api.run(f"{rid}~1").history() == arch.history()


def test_repeated_rewinds(store, api):
    rid = linear(store, 100)
    for n, (cut, add) in enumerate([(80, 5), (50, 10), (60, 3)]):
        with forkpoint.init(store=store, resume_from=f"{rid}?_step={cut}") as run:
            assert run.step == cut + 1
            for i in range(add):
                run.log({"metric": 1000 * (n + 1) + i})
    v = api.run(rid)
    h = v.history()
    # 0..50 original, 51..60 second rewind's rows, 61..63 third's
    assert steps(h) == list(range(64))
    assert [r["metric"] for r in h[51:61]] == [2000 + i for i in range(10)]
    assert [r["metric"] for r in h[61:]] == [3000, 3001, 3002]
    assert [a.id for a in v.archived()] == [f"{rid}~1", f"{rid}~2", f"{rid}~3"]
    assert steps(v.archived()[1].history()) == list(range(86))  # 0..80 + 81..85
    assert v.summary == {"metric": 3002}


def test_rewind_to_earlier_than_previous_rewind_point(store, api):
    rid = linear(store, 50)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=30") as run:
        run.log({"metric": 999})
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=10") as run:
        run.log({"metric": 555})
    h = api.run(rid).history()
    assert steps(h) == list(range(12)) and h[-1]["metric"] == 555


def test_rewind_to_step_beyond_last_is_an_error_and_writes_nothing(store, api):
    rid = linear(store, 10)
    with pytest.raises(forkpoint.StepError, match="beyond the last step .* which is 9"):
        forkpoint.init(store=store, resume_from=f"{rid}?_step=10")
    v = api.run(rid)
    assert v.kind == "run" and v.archived() == [] and v.state == "finished"


def test_rewind_refused_while_live_writer(store, api):
    run = forkpoint.init(store=store)
    run.log({"a": 1})
    run.flush()
    with pytest.raises(forkpoint.RunInUseError, match="still being written"):
        forkpoint.init(store=store, resume_from=f"{run.id}?_step=0")
    run.finish()
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=0"):
        pass


def test_rewind_keeps_name_tags_notes_unless_given(store, api):
    with forkpoint.init(store=store, name="orig", tags=["a"], notes="n") as run:
        run.log({"m": 1})
        run.log({"m": 2})
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=0"):
        pass
    v = api.run(run.id)
    assert (v.name, v.tags, v.notes) == ("orig", ["a"], "n")
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=0", name="new", tags=["b"]):
        pass
    v = api.run(run.id)
    assert (v.name, v.tags, v.notes) == ("new", ["b"], "n")


def test_rewind_cost_does_not_touch_points(store, api):
    """Rewind writes a constant number of rows: the stored points (blocks) are untouched."""
    from forkpoint.store import open_store

    rid = linear(store, 2000)
    st = open_store(store)
    count = lambda: st._x("SELECT COUNT(*), SUM(n), SUM(LENGTH(vals)) FROM blocks").fetchone()  # noqa: E731
    before = count()
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=5"):
        pass
    assert count() == before and before[1] == 2 * 2000  # metric and _timestamp
