import math

import forkpoint
import pytest
from forkpoint import RunSpec, SpecError
from helpers import linear


@pytest.mark.parametrize("text", ["abc?_step=0", "abc?_step=200", "proj/abc?_step=7", "abc~2?_step=5", "a-b_C9?epoch=3",
                                  "abc?trainer/global_step=12", "abc?epoch=2.5"])
def test_canonical_round_trip(text):
    assert str(RunSpec.parse(text)) == text


def test_fields():
    s = RunSpec.parse("proj/abc?_step=42")
    assert (s.project, s.run_id, s.metric, s.value, s.archive) == ("proj", "abc", "_step", 42, None)
    assert isinstance(s.value, int)
    assert RunSpec.parse("abc~3?_step=1").archive == 3


@pytest.mark.parametrize("text, fragment", [
    ("abc", "no '?_step=<N>'"),
    ("abc?_step=", "empty value"),
    ("abc?_step=-5", "not a non-negative integer"),
    ("abc?_step=7.9", "not a non-negative integer"),
    ("abc?_step=nan", "not a non-negative integer"),
    ("abc?_step=inf", "not a non-negative integer"),
    ("abc?_step=1e3", "not a non-negative integer"),
    ("abc?_step=+7", "not a non-negative integer"),
    ("abc?_step=1&_step=2", "more than one query key"),
    ("abc?_step=1&x=2", "more than one query key"),
    ("abc#x?_step=1", "not a run id"),
    ("a:b?_step=1", "not a run id"),
    ("e/p/abc?_step=1", "bad '<project>/' prefix"),
    ("?_step=1", "no '?_step=<N>'"),
    ("abc?epoch=nan", "not a finite number"),
    ("abc?epoch=inf", "not a finite number"),
])
def test_bad_specs_name_the_input(text, fragment):
    with pytest.raises(SpecError) as info:
        RunSpec.parse(text)
    assert repr(text) in str(info.value) and fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, forkpoint.ForkpointError)


def test_spec_value_not_string():
    with pytest.raises(SpecError):
        RunSpec.parse(5)  # type: ignore[arg-type]


def test_init_accepts_runspec_objects(store):
    rid = linear(store, 10)
    with forkpoint.init(store=store, fork_from=RunSpec(rid, 4)) as run:
        assert run.step == 5


def test_project_prefix_must_match(store, api):
    rid = linear(store, 10, project="p")
    with forkpoint.init(store=store, fork_from=f"p/{rid}?_step=3") as run:
        assert run.parent == (rid, 3)
    before = len(api.runs())
    with pytest.raises(forkpoint.RunNotFoundError, match="in project 'p', not 'q'"):
        forkpoint.init(store=store, fork_from=f"q/{rid}?_step=3")
    assert len(api.runs()) == before


def test_step_metric_spec(store, api):
    with forkpoint.init(project="p", store=store) as run:
        run.define_metric("epoch", step_metric=True)
        for i in range(30):
            run.log({"loss": 1 / (i + 1), "epoch": i // 10})
    # last _step whose epoch <= 1 is 19
    with forkpoint.init(store=store, fork_from=f"{run.id}?epoch=1") as child:
        assert child.parent == (run.id, 19) and child.step == 20
    with pytest.raises(SpecError, match="not a step metric"):
        forkpoint.init(store=store, fork_from=f"{run.id}?loss=0.5")
    with pytest.raises(forkpoint.StepError, match="no row with epoch <= -1"):
        forkpoint.init(store=store, fork_from=f"{run.id}?epoch=-1")
    assert math.isclose(api.run(child.id).summary["loss"], 1 / 20)


@pytest.mark.parametrize("args", [("abc", 1.5), ("abc", -5), ("abc", "7"), ("abc", True), ("a/b", 3), ("abc", 2**62),
                                  ("abc", float("nan"), "epoch"), ("abc", 1, "_step", None, 0)])
def test_runspec_objects_are_checked_like_parsed_strings(tmp_path, args):
    with pytest.raises(forkpoint.SpecError):
        forkpoint.init(project="p", fork_from=forkpoint.RunSpec(*args), store=str(tmp_path / "s.db"))
    assert not (tmp_path / "s.db").exists()  # nothing written


def test_wandb_style_ids_are_accepted(tmp_path):
    store = str(tmp_path / "s.db")
    long_id = "x" * 100
    for rid in ("run.v2", "me@host", long_id):
        with forkpoint.init(project="p", id=rid, store=store) as run:
            run.log({"a": 1})
        with forkpoint.init(fork_from=f"{rid}?_step=0", store=store) as f:
            assert f.parent == (rid, 0)
    assert forkpoint.RunSpec.parse(f"p/{long_id}~1?_step=3").ref == f"{long_id}~1"
