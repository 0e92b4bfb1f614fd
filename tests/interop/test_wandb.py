"""W&B offline round trips. wandb (0.30 on) ships no Python reader of its ``.wandb`` log, so the log
is read with forkpoint's framing reader and wandb's own protobuf ``Record`` classes
(``forkpoint.interop.wandb_log``); the framing is checked against the file wandb's core wrote."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import forkpoint
import pytest
from forkpoint import interop
from forkpoint.interop import wandb_log
from interop_peers import make_tree, peer

wandb = peer("wandb")


def history_of(run_dir: str) -> tuple[list[dict], dict, dict, object]:
    """Rows, config, last summary and run record of an offline run, from its ``.wandb`` log."""
    (path,) = glob.glob(os.path.join(run_dir, "*.wandb"))
    rows, config, summary, run = [], {}, {}, None
    for rec in wandb_log.records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run = rec.run
            config = {i.key: json.loads(i.value_json) for i in rec.run.config.update}
        elif kind == "history":
            row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item}
            rows.append({k: v for k, v in row.items() if k not in ("_runtime", "_timestamp")})
        elif kind == "summary":
            for i in rec.summary.update:
                summary[i.key or "/".join(i.nested_key)] = json.loads(i.value_json)
    return rows, config, summary, run


def test_export_tree_as_offline_runs(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    done = interop.export(api, project="p", to="wandb", dest=tmp_path / "wb")
    assert sorted(os.path.basename(d).split("-", 3)[-1] for d in done.written) == ["base", "base~1", "crash", "kid"]
    for d in done.written:
        unit = os.path.basename(d).split("-", 3)[-1]
        view = api.run(unit)
        rows, config, summary, run = history_of(d)
        assert run.run_id == unit and run.project == "p"
        assert rows == [{**r, "train/epoch": r["train/epoch"]} if "train/epoch" in r else r for r in
                        [{k: v for k, v in row.items()} for row in view.history()]]
        lineage = config.pop("forkpoint")
        config.pop("_wandb", None)
        assert config == view.config
        assert lineage["kind"] == view.kind and lineage["parent"] == (str(view.parent) if view.parent else None)
        for k, v in view.summary.items():
            assert summary[k] == v, (unit, k)
    kid = next(d for d in done.written if d.endswith("-kid"))
    assert history_of(kid)[1]["forkpoint"]["fork_from"] == "base?_step=3"
    with pytest.raises(interop.InteropError, match="already holds a W&B run 'kid'"):
        interop.export(api, "kid", to="wandb", dest=tmp_path / "wb")


def test_import_offline_run_written_by_wandb(tmp_path: Path, store: str) -> None:
    run = wandb.init(project="wp", id="w1", name="nice", config={"lr": 0.3, "net": {"depth": 4}}, tags=["a"],
                     dir=str(tmp_path), mode="offline", settings=wandb.Settings(console="off", x_disable_stats=True))
    for step in range(0, 30, 3):
        run.log({"loss": 1.0 / (step + 1), "phase": "warm" if step < 9 else "main"}, step=step)
    run.log({"hist": wandb.Histogram([1, 2, 3])}, step=30)
    run.log({"train": {"acc": 0.75}}, step=31)
    run.summary["best"] = 0.9
    run.finish()
    wandb_log.wait_complete(run.settings.sync_dir)  # wandb's core may still be flushing the log
    landed, notes = interop.import_runs("wandb", tmp_path / "wandb", store)
    assert [x.status for x in landed] == ["imported"]
    assert any("histogram" in n for n in notes), notes
    view = forkpoint.Api(store).run(landed[0].run_id)
    assert view.project == "wp" and view.name == "nice" and view.tags == ["a"]
    assert view.config == {"lr": 0.3, "net": {"depth": 4}}
    hist = view.history()
    assert [r["_step"] for r in hist] == [*range(0, 30, 3), 31]
    assert hist[0] == {"_step": 0, "loss": 1, "phase": "warm"} and hist[-1] == {"_step": 31, "train/acc": 0.75}
    assert view.summary["best"] == 0.9 and view.summary["loss"] == pytest.approx(1 / 28)
    again, _ = interop.import_runs("wandb", tmp_path / "wandb", store)
    assert [x.status for x in again] == ["already imported"]


def test_round_trip_rebuilds_the_fork(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "src.db"), str(tmp_path / "dst.db")
    make_tree(src)
    interop.export(src, project="p", to="wandb", dest=tmp_path / "wb")
    landed, _ = interop.import_runs("wandb", tmp_path / "wb", dst)
    api, orig = forkpoint.Api(dst), forkpoint.Api(src)
    by_unit = {x.identity.split("/")[1]: api.run(x.run_id) for x in landed}
    assert sorted(by_unit) == ["base", "base~1", "crash", "kid"]
    assert by_unit["kid"].kind == "fork" and by_unit["kid"].parent == (by_unit["base"].id, 3)
    assert by_unit["crash"].state == "crashed"
    for unit, view in by_unit.items():
        want = orig.run(unit)
        assert view.history() == want.history() and view.config == want.config, unit  # 10.0 == 10 after JSON


def test_corrupt_log_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "run-x.wandb"
    bad.write_bytes(b"not a log")
    with pytest.raises(interop.InteropError, match="not a W&B transaction log"):
        list(wandb_log.records(str(bad)))
    good = tmp_path / "w"
    run = wandb.init(project="wp", id="w2", dir=str(good), mode="offline")
    for i in range(3):
        run.log({"x": i})
    run.finish()
    path = wandb_log.wait_complete(run.settings.sync_dir)
    data = bytearray(Path(path).read_bytes())
    data[20] ^= 0xFF  # inside the first record
    Path(path).write_bytes(bytes(data))
    with pytest.raises(interop.InteropError, match="checksum mismatch"):
        list(wandb_log.records(path))
