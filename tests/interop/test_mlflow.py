"""MLflow round trips, read back with MlflowClient."""

from __future__ import annotations

from pathlib import Path

import forkpoint
import pytest
from forkpoint import interop
from interop_peers import make_tree, peer

peer("mlflow")
from mlflow import MlflowClient  # noqa: E402


def test_export_tree_reads_back_with_mlflow_client(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    done = interop.export(api, project="p", to="mlflow", dest=tmp_path / "ml")
    assert any("string values" in n for n in done.notes)
    client = MlflowClient(f"sqlite:///{tmp_path / 'ml' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("p")
    runs = {r.data.tags["forkpoint.id"]: r for r in client.search_runs([exp.experiment_id])}
    assert sorted(runs) == ["base", "base~1", "crash", "kid"]
    for unit, r in runs.items():
        view = api.run(unit)
        for key in ("loss", "acc", "train/epoch"):
            want = [(row["_step"], float(row[key])) for row in view.history(keys=[key])]
            got = sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, key))
            assert got == want, (unit, key)
        assert unit == "crash" or r.data.params == {"lr": str(view.config["lr"]), "opt.beta": "0.9"}
    kid, base, arch = runs["kid"], runs["base"], runs["base~1"]
    assert kid.data.tags["forkpoint.parent"] == "base?_step=3" and kid.data.tags["forkpoint.branch_step"] == "3"
    assert kid.data.tags["mlflow.parentRunId"] == base.info.run_id  # a fork is nested under its parent
    assert arch.data.tags["mlflow.parentRunId"] == base.info.run_id  # an archived branch under its run
    assert base.data.tags["forkpoint.parent"] == "base~1?_step=5" and base.data.tags["forkpoint.kind"] == "rewind"
    assert runs["crash"].info.status == "FAILED" and base.info.status == "FINISHED"
    with pytest.raises(interop.InteropError, match="already in MLflow"):
        interop.export(api, "kid", to="mlflow", dest=tmp_path / "ml")
    assert len(client.search_runs([exp.experiment_id])) == 4


def test_import_mlflow_runs_written_by_mlflow(tmp_path: Path, store: str) -> None:
    from mlflow.entities import Metric

    client = MlflowClient(f"sqlite:///{tmp_path / 'ml.db'}")
    exp = client.create_experiment("my exp", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="parent", tags={"team": "a"})
    pid = parent.info.run_id
    client.log_param(pid, "lr", "0.01")
    client.log_batch(pid, metrics=[Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(20)])
    client.log_metric(pid, "loss", 0.25, timestamp=5000, step=3)  # a second value at step 3: the later one wins
    client.set_terminated(pid, "FINISHED")
    child = client.create_run(exp, run_name="child", tags={"mlflow.parentRunId": pid})
    client.log_metric(child.info.run_id, "acc", 0.5, step=7)
    client.set_terminated(child.info.run_id, "FAILED")

    landed, notes = interop.import_runs("mlflow", tmp_path / "ml.db", store)
    assert sorted(x.status for x in landed) == ["imported", "imported"]
    assert any("nesting" in n for n in notes) and any("tags" in n for n in notes)
    api = forkpoint.Api(store)
    runs = {v.name: v for v in api.runs("my_exp")}
    hist = runs["parent"].history()
    want = {m.step: m.value for m in sorted(client.get_metric_history(pid, "loss"), key=lambda m: m.timestamp)}
    assert {r["_step"]: r["loss"] for r in hist} == want and want[3] == 0.25
    assert runs["parent"].config == {"lr": "0.01"} and runs["parent"].state == "finished"
    assert runs["child"].history() == [{"_step": 7, "acc": 0.5}] and runs["child"].state == "crashed"
    again, _ = interop.import_runs("mlflow", tmp_path / "ml.db", store)
    assert [x.status for x in again] == ["already imported"] * 2


def test_round_trip_keeps_history_config_and_fork(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "src.db"), str(tmp_path / "dst.db")
    make_tree(src)
    interop.export(src, project="p", to="mlflow", dest=f"sqlite:///{tmp_path / 'ml.db'}")
    landed, _ = interop.import_runs("mlflow", f"sqlite:///{tmp_path / 'ml.db'}", dst)
    api, orig = forkpoint.Api(dst), forkpoint.Api(src)
    by_name = {}
    for x in landed:
        v = api.run(x.run_id)
        by_name[(v.name, v.kind)] = v
    kid = next(v for (n, k), v in by_name.items() if n == "kid")
    assert kid.kind == "fork" and kid.parent.step == 3
    numeric = ["loss", "acc", "train/epoch"]
    assert kid.history(keys=numeric) == [{k: float(v) if k != "_step" else v for k, v in r.items()}
                                         for r in orig.run("kid").history(keys=numeric)]
    assert kid.config == orig.run("kid").config


def test_file_store_round_trip_and_missing_source(tmp_path: Path) -> None:
    src = str(tmp_path / "src.db")
    with forkpoint.init(project="p", id="a", store=src, config={"x": 1}) as run:
        for i in range(5):
            run.log({"loss": float(i)})
    uri = (tmp_path / "mlruns").as_uri()
    (rid,) = interop.export(src, "a", to="mlflow", dest=uri).written
    assert [m.value for m in MlflowClient(uri).get_metric_history(rid, "loss")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    (landed,), _ = interop.import_runs("mlflow", uri, tmp_path / "back.db")
    back = forkpoint.Api(tmp_path / "back.db").run(landed.run_id)
    assert back.history() == forkpoint.Api(src).run("a").history() and back.config == {"x": 1}
    with pytest.raises(interop.InteropError, match="does not exist"):
        interop.import_runs("mlflow", f"sqlite:///{tmp_path / 'nope.db'}", tmp_path / "x.db")
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "x.db").exists()
