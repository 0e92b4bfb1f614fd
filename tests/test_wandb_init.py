"""W&B idioms with ``import forkpoint as wandb``: the module-level run, init's W&B arguments, config.

Every test that takes ``store`` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import forkpoint as wandb
import pytest
from forkpoint.store import open_store


@pytest.fixture(autouse=True)
def _no_current_run(monkeypatch):
    monkeypatch.setenv("FORKPOINT_QUIET", "1")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    yield
    if wandb.run is not None:
        wandb.finish()


def test_module_level_run_log_config_summary(store, api):
    assert wandb.run is None
    with pytest.raises(wandb.UsageError, match=r"forkpoint.log\(\) needs a run: call forkpoint.init\(\) first"):
        wandb.log({"a": 1})
    with pytest.raises(wandb.UsageError, match="forkpoint.config needs a run"):
        wandb.config.update({"lr": 1})
    run = wandb.init("proj", config={"lr": 0.1}, store=store)
    assert wandb.run is run and wandb.config is run.config and wandb.summary is run.summary
    assert wandb.config.lr == 0.1
    wandb.config.batch = 32  # attribute assignment, as in W&B
    wandb.config["optim"] = {"name": "adam", "betas": [0.9, 0.99]}
    for i in range(3):
        wandb.log({"loss": 1.0 / (i + 1)})
    wandb.summary["best"] = 7
    wandb.run.name = f"lr-{wandb.config.lr}"  # W&B scripts rename the live run
    wandb.run.tags = ("baseline", "v2")
    wandb.run.notes = "first try"
    assert wandb.summary["loss"] == pytest.approx(1 / 3)
    wandb.finish()
    assert wandb.run is None
    v = api.run(f"proj/{run.id}")
    assert v.config == {"lr": 0.1, "batch": 32, "optim": {"name": "adam", "betas": [0.9, 0.99]}}
    assert v.summary["best"] == 7 and len(v.history()) == 3 and v.state == "finished"
    assert (v.name, v.tags, v.notes) == ("lr-0.1", ["baseline", "v2"], "first try")
    with pytest.raises(wandb.UsageError, match="run.tags='x' is not a list of str"):
        run.tags = "x"
    wandb.finish()  # no run: nothing to do, as in W&B


def test_commit_false_and_step(store, api):
    run = wandb.init("p", store=store)
    wandb.log({"a": 1}, commit=False)
    wandb.log({"b": 2})
    wandb.log({"c": 3}, step=5)
    wandb.log({"d": 4}, step=5)
    wandb.log({"e": 5}, commit=None)  # W&B's default spelled out: joins the open row at 5, commits it
    wandb.log({"f": 6})
    wandb.finish()
    assert api.run(run.id).history() == [{"_step": 0, "a": 1, "b": 2}, {"_step": 5, "c": 3, "d": 4, "e": 5},
                                         {"_step": 6, "f": 6}]


def test_disabled_mode_writes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "nowhere" / "runs.db"
    run = wandb.init("p", mode="disabled", store=str(path), config={"lr": 1}, group="g", resume_from="x?_step=3")
    assert wandb.run is run and run.disabled and run.mode == "disabled"
    run.log({"a": 1})
    wandb.log({"anything": object()})  # not even checked
    wandb.define_metric("a", summary="max")
    run.config.update({"b": 2})
    assert run.step == 2 and run.config.lr == 1 and run.group == "g"
    wandb.finish()
    assert wandb.run is None
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with wandb.init("p", store=str(path)) as env_run:
        env_run.log({"a": 1})
    assert env_run.disabled
    assert not path.parent.exists() and list(Path.cwd().iterdir()) == []  # no store, no folder


def test_modes(store, api):
    for mode in ("online", "offline"):
        with wandb.init("p", mode=mode, store=store) as run:
            run.log({"a": 1})
        assert api.run(run.id).history() == [{"_step": 0, "a": 1}] and run.mode == mode
    with pytest.raises(wandb.UsageError, match="mode='shared' .* not supported"):
        wandb.init("p", mode="shared", store=store)
    with pytest.raises(wandb.UsageError, match="mode='cloud': expected 'online', 'offline' or 'disabled'"):
        wandb.init("p", mode="cloud", store=store)
    assert len(api.runs()) == 2


def test_entity_group_job_type_stored_and_kept(store, api):
    run = wandb.init("p", entity="team", group="cv-5", job_type="train", store=store, id="fold.1@a")
    run.log({"a": 1})
    run.finish()
    assert (run.entity, run.group, run.job_type, run.path) == ("team", "cv-5", "train", "team/p/fold.1@a")
    rec = api.store.get_run("fold.1@a")
    assert (rec.entity, rec.run_group, rec.job_type) == ("team", "cv-5", "train")
    with wandb.init(id="fold.1@a", resume="allow", store=store) as again:  # kept unless given
        assert (again.entity, again.group, again.job_type) == ("team", "cv-5", "train") and again.resumed
    with wandb.init(fork_from="fold.1@a?_step=0", job_type="eval", store=store) as fork:
        assert (fork.entity, fork.group, fork.job_type) == ("team", None, "eval")  # a fork keeps the entity
    rec = api.store.get_run(fork.id)
    assert (rec.entity, rec.job_type) == ("team", "eval")


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(entity=3), "entity=3: expected a non-empty str"),
    (dict(group=""), "group='': expected a non-empty str"),
    (dict(job_type="a\nb"), "job_type='a\\\\nb'"),
    (dict(reinit="sometimes"), "reinit='sometimes'"),
    (dict(allow_val_change="yes"), "allow_val_change='yes' is not a bool"),
    (dict(resume="sometimes"), "resume='sometimes'"),
    (dict(id="a/b"), "not a valid run id"),
    (dict(config_exclude_keys="lr"), "config_exclude_keys='lr' is not a list of str"),
    (dict(config_exclude_keys=["a"], config_include_keys=["b"]), "exclusive"),
    (dict(dir=3), "dir=3 is not a folder path"),
])
def test_bad_wandb_arguments_write_nothing(store, api, kwargs, fragment):
    with pytest.raises(wandb.ForkpointError, match=fragment):
        wandb.init("p", store=store, **kwargs)
    assert api.runs() == [] and wandb.run is None


def test_cloud_only_arguments_one_warning(store):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        run = wandb.init("p", store=store, settings=wandb.Settings(console="off"), save_code=True,
                         sync_tensorboard=False, monitor_gym=True)
    run.finish()
    mine = [w for w in got if issubclass(w.category, wandb.ForkpointWarning)]
    assert len(mine) == 1
    text = str(mine[0].message)
    assert all(n in text for n in ("settings", "save_code", "sync_tensorboard", "monitor_gym")) and "ignoring" in text


def test_config_forms(store, api):
    ns = argparse.Namespace(lr=0.1, epochs=3, secret="x")
    with wandb.init("p", config=ns, config_exclude_keys=["secret"], store=store) as run:
        run.config.update(argparse.Namespace(wd=0.01))
    assert api.run(run.id).config == {"lr": 0.1, "epochs": 3, "wd": 0.01}
    with wandb.init("p", config={"model": {"depth": 4, "act": "relu"}, "lr": 1, "seed": 0},
                    config_include_keys=["model", "lr"], store=store) as run:
        assert run.config.model == {"depth": 4, "act": "relu"}
        run.config.setdefaults({"lr": 5, "extra": 1})
    assert api.run(run.id).config == {"model": {"depth": 4, "act": "relu"}, "lr": 1, "extra": 1}


def test_allow_val_change(store, api):
    with wandb.init("p", config={"lr": 0.1}, allow_val_change=False, store=store) as run:
        run.config.update({"lr": 0.1, "wd": 1})  # the same value is not a change
        with pytest.raises(wandb.UsageError, match="config key 'lr' is 0.1; changing it to 0.2 needs allow_val_change=True"):
            run.config.update({"lr": 0.2})
        run.config.update({"lr": 0.3}, allow_val_change=True)
    assert api.run(run.id).config == {"lr": 0.3, "wd": 1}
    with wandb.init("p", config={"lr": 0.1}, store=store) as run:  # forkpoint's default: changes allowed
        run.config.lr = 0.2
    assert api.run(run.id).config == {"lr": 0.2}


def test_reinit(store, api):
    first = wandb.init("p", store=store)
    assert wandb.init("p", store=store, reinit="return_previous") is first
    second = wandb.init("p", store=store)  # default: a new current run, the first stays open
    assert wandb.run is second and api.run(first.id).state == "running"
    third = wandb.init("p", store=store, reinit="create_new")
    assert wandb.run is second
    fourth = wandb.init("p", store=store, reinit=True)  # finishes the current run first
    assert api.run(second.id).state == "finished" and wandb.run is fourth
    for r in (first, third, fourth):
        r.finish()
    assert wandb.run is None


def test_dir_places_the_store(tmp_path):
    with wandb.init("p", dir=str(tmp_path / "out")) as run:
        run.log({"a": 1})
    assert wandb.Api(str(tmp_path / "out" / "forkpoint-runs" / "runs.db")).run(run.id).history() == [{"_step": 0, "a": 1}]


CRASHING = """
import sys
import forkpoint as wandb
run = wandb.init("p", resume="auto", store=sys.argv[1])
print(run.id, run.step, run.resumed, flush=True)
for i in range(3):
    wandb.log({"x": run.step})
sys.exit(int(sys.argv[2]))
"""


def _script(tmp_path: Path, store: str, code: int) -> list[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(CRASHING))
    env = {**os.environ, "FORKPOINT_QUIET": "1"}
    out = subprocess.run([sys.executable, str(script), store, str(code)], cwd=Path.cwd(), env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == code, out.stderr
    return out.stdout.split()


def test_resume_auto_continues_a_crashed_run_from_the_same_folder(store, api, tmp_path):
    run_id, step, resumed = _script(tmp_path, store, 3)  # crashes
    assert (step, resumed) == ("0", "False") and api.run(run_id).state == "crashed"
    again, step, resumed = _script(tmp_path, store, 0)  # picks it up, finishes cleanly
    assert (again, step, resumed) == (run_id, "3", "True")
    assert [r["x"] for r in api.run(run_id).history()] == list(range(6))
    fresh, step, _ = _script(tmp_path, store, 0)  # the last one finished: a new run
    assert fresh != run_id and step == "0"
    with wandb.init("p", resume=True, id=run_id, store=store) as run:  # True is "auto"; with an id, "allow"
        assert run.id == run_id and run.step == 6


def test_resume_false_and_never_start_new_runs(store, api):
    with wandb.init("p", id="r1", store=store) as run:
        run.log({"a": 1})
    with pytest.raises(wandb.UsageError, match="already exists"):
        wandb.init("p", id="r1", resume=False, store=store)
    with pytest.raises(wandb.UsageError, match="already exists"):
        wandb.init("p", id="r1", resume="never", store=store)
    with pytest.raises(wandb.UsageError, match="cannot be combined with resume_from"):
        wandb.init("p", resume="auto", resume_from="r1?_step=0", store=store)


def test_module_names_a_wandb_script_touches(store):
    with pytest.warns(wandb.ForkpointWarning, match=r"forkpoint.login\(\) is ignored: there is no server"):
        assert wandb.login(key="anything") is True
    with pytest.warns(wandb.ForkpointWarning, match=r"forkpoint.watch\(\) is ignored"):
        wandb.watch(object())
    for name in ("Image", "Histogram", "Table", "Api", "define_metric", "log_artifact", "watch", "save", "Error",
                 "Settings", "termlog"):
        assert hasattr(wandb, name), name
    from forkpoint.config import deep_merge  # the submodules stay importable by their full names
    from forkpoint.run import Run

    assert deep_merge({"a": 1}, {"b": 2}) == {"a": 1, "b": 2} and Run.__name__ == "Run"
    open_store(store)
    with wandb.init("p", store=store) as run:
        from forkpoint import run as current

        assert current is run
