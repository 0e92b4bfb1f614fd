import forkpoint
import pytest
from forkpoint.config import changed_keys, deep_merge


def test_deep_merge_and_changed_keys():
    old = {"optim": {"lr": 1, "wd": 2}, "bs": 8}
    new = deep_merge(old, {"optim": {"lr": 3}, "seed": 1})
    assert new == {"optim": {"lr": 3, "wd": 2}, "bs": 8, "seed": 1}
    assert sorted(changed_keys(old, new)) == ["optim.lr", "seed"]
    assert old == {"optim": {"lr": 1, "wd": 2}, "bs": 8}


def test_rewind_merges_config_and_records_changes(store, api):
    with forkpoint.init(store=store, config={"optim": {"lr": 1, "wd": 2}, "bs": 8}) as run:
        run.log({"m": 0})
        run.log({"m": 1})
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=0", config={"optim": {"lr": 3}}) as r:
        assert dict(r.config) == {"optim": {"lr": 3, "wd": 2}, "bs": 8}
        r.config["bs"] = 16  # later updates work normally
        r.config.update({"new": True})
    v = api.run(run.id)
    assert v.config == {"optim": {"lr": 3, "wd": 2}, "bs": 16, "new": True}
    assert v.config_changes == ["optim.lr"]
    assert v.archived()[0].config == {"optim": {"lr": 1, "wd": 2}, "bs": 8}


def test_fork_inherits_config_unless_told(store, api):
    with forkpoint.init(store=store, config={"lr": 1, "arch": {"depth": 2}}) as run:
        run.log({"m": 0})
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=0", config={"lr": 2}) as a:
        assert dict(a.config) == {"lr": 2, "arch": {"depth": 2}}
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=0", config={"lr": 2}, inherit_config=False) as b:
        assert dict(b.config) == {"lr": 2}
    assert api.run(a.id).config_changes == ["lr"]
    assert api.run(run.id).config == {"lr": 1, "arch": {"depth": 2}}  # parent untouched


def test_config_attribute_access_and_nested_mutation_persist(store, api):
    with forkpoint.init(store=store, config={"a": {"b": 1}}) as run:
        assert run.config.a == {"b": 1}
        run.config["a"]["b"] = 2  # nested mutation is written at finish
    assert api.run(run.id).config == {"a": {"b": 2}}


def test_config_not_serialisable_is_rejected_before_writing(store, api):
    with pytest.raises(forkpoint.UsageError, match="not JSON-serialisable"):
        forkpoint.init(store=store, config={"f": object()})
    assert api.runs() == []
    with pytest.raises(forkpoint.UsageError, match="not a mapping"):
        forkpoint.init(store=store, config=[1, 2])


def test_config_from_namespace(store, api):
    import argparse

    with forkpoint.init(store=store, config=argparse.Namespace(lr=0.1, layers=3)) as run:
        pass
    assert api.run(run.id).config == {"lr": 0.1, "layers": 3}
