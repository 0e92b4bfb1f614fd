"""Plugins with several training processes on CPU (gloo): Lightning ``ddp`` and ``ddp_spawn``,
transformers under ``torchrun``. Each test starts real processes (``-m multiprocess`` selects them,
``-m 'not multiprocess'`` skips them); one store per test, written by rank 0 only. The crash-and-
resume tests run on SQLite and on PostgreSQL (the store for many processes and machines)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

import forkpoint  # noqa: E402
from helpers import same_history  # noqa: E402

pytestmark = pytest.mark.multiprocess
HERE = Path(__file__).parent
ENV = {**os.environ, "FORKPOINT_QUIET": "1", "PYTHONPATH": str(HERE.parent)}


def run(cmd: list[str], ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert (p.returncode == 0) == ok, f"exit {p.returncode}\n{p.stderr[-3000:]}"
    return p


def lightning(store: str, work: Path, strategy: str, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    pytest.importorskip("lightning")
    return run([sys.executable, str(HERE / "mp_lightning.py"), store, str(work), strategy, *extra], ok=ok)


def test_lightning_ddp_crash_and_resume_equals_uninterrupted(tmp_path, store):
    lightning(store, tmp_path / "u", "ddp")
    (u,) = forkpoint.Api(store).runs("mp")
    lightning(store, tmp_path / "r", "ddp", "--crash-at", "10", ok=False)
    crashed = next(v for v in forkpoint.Api(store).runs("mp") if v.id != u.id)
    # an epoch-end checkpoint: Lightning's own mid-epoch DDP restore does not reproduce the values
    lightning(store, tmp_path / "r", "ddp", "--ckpt", str(tmp_path / "r" / "ckpt" / "epoch=1-step=8.ckpt"))
    runs = forkpoint.Api(store).runs("mp")
    assert len(runs) == 2  # rank 1 never opened a run
    r = forkpoint.Api(store).run(crashed.id)
    assert u.state == "finished" and [x["_step"] for x in u.history()] == list(range(12))
    same_history(r.history(), u.history())
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 7) and r.state == "finished"
    # the crash fires in on_train_batch_end, before Lightning logs that batch (step 9)
    assert [x["_step"] for x in r.archived()[0].history()] == list(range(9))


def test_lightning_ddp_spawn_fit_then_test_is_one_run(tmp_path):
    """A metric logged in the parent before fit, fit in 2 spawned workers, test() in 2 more: one run."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    p = lightning(store, tmp_path, "ddp_spawn", "--log-before", "--test")
    assert "RunInUseError" not in p.stderr
    # the parent's row at step 0 was first: fit's own step 0 is the one row dropped (warned)
    assert p.stderr.count("below the current step") == 1
    (r,) = forkpoint.Api(store).runs("mp")
    h = r.history()
    assert h[0]["before_fit"] == 1.0 and "train_loss" not in h[0]  # fit's step 0 came after it: dropped
    assert [x["_step"] for x in h] == list(range(12)) + [12] and "test_loss" in h[-1]
    assert r.state == "finished" and r.dropped_steps == 1


def test_transformers_torchrun_resume_rewinds_once(tmp_path, store):
    pytest.importorskip("transformers")
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this Python")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", str(HERE / "mp_transformers.py"), store,
           str(tmp_path / "out")]
    run(cmd + ["--crash-at", "5"], ok=False)
    run(cmd + ["--resume"])
    (r,) = forkpoint.Api(store).runs("hf")
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 3) and r.state == "finished"
    assert [x["_step"] for x in r.history()] == list(range(1, 9))
    assert len(r.archived()) == 1 and [x["_step"] for x in r.archived()[0].history()] == [1, 2, 3, 4]
