
import forkpoint
import pytest
from helpers import steps


def test_log_advances_and_commit_false_merges(store, api):
    with forkpoint.init(store=store) as run:
        assert run.step == 0
        run.log({"a": 1})
        run.log({"b": 2}, commit=False)
        run.log({"c": 3})
        assert run.step == 2
    assert api.run(run.id).history() == [{"_step": 0, "a": 1}, {"_step": 1, "b": 2, "c": 3}]


def test_explicit_step_merges_moves_and_allows_gaps(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"a": 1}, step=3)
        run.log({"b": 2}, step=3)  # same step merges
        assert run.step == 3
        run.log({"a": 5}, step=10)  # gap
        run.log({"c": 1})  # no step: writes at the open row 10, then advances
        assert run.step == 11
    assert api.run(run.id).history() == [{"_step": 3, "a": 1, "b": 2}, {"_step": 10, "a": 5, "c": 1}]


def test_regression_warns_drops_and_counts(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"a": 1}, step=5)
        run.log({"a": 2})
        with pytest.warns(forkpoint.StepRegressionWarning, match=r"step=2\) is below the current step 6"):
            run.log({"a": 3}, step=2)
        assert run.dropped_steps == 1
    v = api.run(run.id)
    assert v.history() == [{"_step": 5, "a": 2}]  # no step: writes at the open row 5
    assert v.dropped_steps == 1


def test_regression_raise_mode_writes_nothing(store, api):
    with forkpoint.init(store=store, on_step_regression="raise") as run:
        run.log({"a": 1}, step=5)
        with pytest.raises(forkpoint.StepError, match="below the current step 5"):
            run.log({"a": 3}, step=4)
    assert api.run(run.id).history() == [{"_step": 5, "a": 1}]


def test_values_normalised(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"train": {"loss": 0.5, "acc": True}, "name": "x", "none": None, "nan": float("nan"), "inf": float("inf")})
    (row,) = api.run(run.id).history()
    assert row["train/loss"] == 0.5 and row["train/acc"] == 1 and row["name"] == "x" and row["none"] is None
    assert row["nan"] != row["nan"] and row["inf"] == float("inf")


def test_numpy_scalars_accepted(store, api):
    np = pytest.importorskip("numpy")
    with forkpoint.init(store=store) as run:
        run.log({"a": np.float32(0.5), "b": np.int64(3), "c": np.array(2.0)})
    (row,) = api.run(run.id).history()
    assert row == {"_step": 0, "a": 0.5, "b": 3, "c": 2.0}


@pytest.mark.parametrize("data, fragment", [
    ({"a": [1, 2]}, "value for 'a' is list"),
    ({"a": object()}, "value for 'a' is object"),
    ({1: 2}, "key 1 is not a non-empty str"),
    ({"_step": 2}, "reserved"),
    ([1, 2], "is not a dict"),
])
def test_bad_rows_rejected_and_nothing_written(store, api, data, fragment):
    with forkpoint.init(store=store) as run:
        with pytest.raises(forkpoint.UsageError, match=fragment):
            run.log(data)
        assert run.step == 0
    assert api.run(run.id).history() == []


@pytest.mark.parametrize("step", [-1, 1.5, "3", True])
def test_bad_step_rejected(store, step):
    with forkpoint.init(store=store) as run:
        with pytest.raises(forkpoint.UsageError, match="not a non-negative int"):
            run.log({"a": 1}, step=step)


def test_step_right_after_init_is_n_plus_one(store):
    with forkpoint.init(store=store) as run:
        for i in range(10):
            run.log({"m": i})
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=4") as f:
        assert f.step == 5 and f.starting_step == 5
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=7") as r:
        assert r.step == 8 and r.starting_step == 8


def test_caller_copy_is_taken(store, api):
    with forkpoint.init(store=store) as run:
        d = {"a": 1}
        run.log(d)
        d["a"] = 99
    assert steps(api.run(run.id).history()) == [0]
    assert api.run(run.id).history()[0]["a"] == 1


def test_log_after_finish_is_an_error(store):
    run = forkpoint.init(store=store)
    run.finish()
    with pytest.raises(forkpoint.UsageError, match="finished"):
        run.log({"a": 1})
