"""Accelerate plugin: ForkpointTracker registered for checkpointing, in a real training loop on CPU
(save_state/load_state write and read real checkpoint folders)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
accelerate = pytest.importorskip("accelerate")

import forkpoint  # noqa: E402
from forkpoint.integrations.accelerate import ForkpointTracker  # noqa: E402
from helpers import same_history  # noqa: E402

STEPS, EVERY = 12, 4  # checkpoints after steps 3, 7, 11


class Steps:
    """The loop's own position, registered for checkpointing like the tracker."""

    def __init__(self):
        self.step = -1

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, sd):
        self.step = sd["step"]


def train(store, ckpt: Path, *, project="r", crash_at=None, on_resume="rewind", lr=0.05, register=True):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    tracker = ForkpointTracker(project=project, store=store, on_resume=on_resume)
    acc = accelerate.Accelerator(cpu=True, log_with=tracker)
    acc.init_trackers(project, config={"lr": lr})
    model, opt = acc.prepare(model, opt)
    pos = Steps()
    acc.register_for_checkpointing(pos)
    # Accelerate refuses a checkpoint with another number of custom states: register=False puts
    # another object where the tracker would be
    acc.register_for_checkpointing(tracker if register else Steps())
    if ckpt.exists():
        acc.load_state(str(ckpt))
        for group in opt.param_groups:
            group["lr"] = lr
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    for step in range(pos.step + 1, STEPS):
        if step == crash_at:
            raise RuntimeError(f"simulated crash at step {step}")
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        acc.backward(loss)
        opt.step()
        acc.log({"loss": loss.item()}, step=step)
        pos.step = step
        if step % EVERY == EVERY - 1:
            acc.save_state(str(ckpt))
    acc.end_training()
    return tracker


@pytest.fixture
def uninterrupted(store, tmp_path):
    train(store, tmp_path / "u", project="u")
    (u,) = forkpoint.Api(store).runs("u")
    return u


def test_crashed_and_resumed_equals_uninterrupted(store, tmp_path, uninterrupted):
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(store, tmp_path / "c", crash_at=10)
    (crashed,) = forkpoint.Api(store).runs("r")
    t = train(store, tmp_path / "c")
    r = forkpoint.Api(store).run(crashed.id)
    assert t.state.run_id is None and r.state == "finished"  # end_training finished it
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 7) and r.config["lr"] == 0.05
    (arch,) = r.archived()
    assert [x["_step"] for x in arch.history()] == list(range(10))


def test_fork_mode_with_changed_lr(store, tmp_path, uninterrupted):
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "f", crash_at=10)
    (parent,) = forkpoint.Api(store).runs("r")
    train(store, tmp_path / "f", on_resume="fork", lr=0.01)
    (child,) = forkpoint.Api(store).run(parent.id).children()
    assert child.parent == (parent.id, 7) and child.config["lr"] == 0.01
    same_history(child.history()[:8], uninterrupted.history()[:8])
    assert [x["_step"] for x in child.history()] == list(range(STEPS))
    assert not math.isclose(child.history()[-1]["loss"], uninterrupted.history()[-1]["loss"])
    assert [x["_step"] for x in forkpoint.Api(store).run(parent.id).history()] == list(range(10))


def test_auto_mode_rewinds_when_the_config_is_the_same(store, tmp_path):
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "a", crash_at=10)
    train(store, tmp_path / "a", on_resume="auto")
    assert [v.kind for v in forkpoint.Api(store).runs("r")] == ["rewind"]


def test_checkpoint_without_forkpoint_state_starts_a_new_run_with_a_warning(store, tmp_path):
    """Saved with another object registered where the tracker is now: its state is not forkpoint's."""
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "w", project="w0", crash_at=10, register=False)
    with pytest.warns(forkpoint.ForkpointWarning, match="no forkpoint state"):
        train(store, tmp_path / "w", project="w")
    (run,) = forkpoint.Api(store).runs("w")
    assert run.kind == "run" and [r["_step"] for r in run.history()] == list(range(8, STEPS))


def test_bad_options_refused_when_built():
    with pytest.raises(forkpoint.UsageError, match="on_resume"):
        ForkpointTracker(on_resume="sometimes")
    with pytest.raises(forkpoint.SpecError, match="project"):
        ForkpointTracker(project="a b")
