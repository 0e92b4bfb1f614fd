"""Plain PyTorch plugin: ForkpointState inside a real training loop's checkpoints (torch.save and
torch.distributed.checkpoint on CPU). Every step trains on the same batch, so the values after a
resume depend only on the restored weights and optimizer state."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import forkpoint  # noqa: E402
from forkpoint.integrations.torch import ForkpointState  # noqa: E402
from helpers import same_history  # noqa: E402

STEPS, EVERY = 12, 4  # checkpoints after steps 3, 7, 11


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1


def train(store, ckpt: Path, *, project="r", crash_at=None, on_resume="rewind", lr=0.05, use_dcp=False):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    state = ForkpointState(project=project, store=store, on_resume=on_resume, config={"lr": lr})
    start = 0
    if ckpt.exists():
        if use_dcp:
            import torch.distributed.checkpoint as dcp
            from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

            msd, osd = get_state_dict(model, opt)
            sd = {"model": msd, "opt": osd, "forkpoint": state, "step": 0}
            dcp.load(sd, checkpoint_id=str(ckpt))  # calls state.load_state_dict
            set_state_dict(model, opt, model_state_dict=sd["model"], optim_state_dict=sd["opt"])
            start = sd["step"] + 1
        else:
            c = torch.load(ckpt)  # weights_only=True: the forkpoint state is plain str/int
            model.load_state_dict(c["model"])
            opt.load_state_dict(c["opt"])
            state.load_state_dict(c.get("forkpoint"))
            start = c["step"] + 1
        for group in opt.param_groups:
            group["lr"] = lr
    x, y = batch()
    for step in range(start, STEPS):
        if step == crash_at:  # before the step: rows up to step - 1 are logged
            raise RuntimeError(f"simulated crash at step {step}")
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        state.run.log({"loss": loss.item()}, step=step)
        if step % EVERY == EVERY - 1:
            if use_dcp:
                import torch.distributed.checkpoint as dcp
                from torch.distributed.checkpoint.state_dict import get_state_dict

                msd, osd = get_state_dict(model, opt)
                dcp.save({"model": msd, "opt": osd, "forkpoint": state, "step": step}, checkpoint_id=str(ckpt))
            else:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                            "forkpoint": state.state_dict()}, ckpt)
    state.finish()
    return state


@pytest.fixture
def uninterrupted(store, tmp_path):
    train(store, tmp_path / "u.pt", project="u")
    (u,) = forkpoint.Api(store).runs("u")
    return u


@pytest.mark.parametrize("use_dcp", [False, True], ids=["torch.save", "dcp"])
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
@pytest.mark.filterwarnings("ignore:Detected an existing checkpoint")
def test_crashed_and_resumed_equals_uninterrupted(store, tmp_path, uninterrupted, use_dcp):
    ckpt = tmp_path / ("ckpt" if use_dcp else "ckpt.pt")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(store, ckpt, crash_at=10, use_dcp=use_dcp)
    (crashed,) = forkpoint.Api(store).runs("r")
    train(store, ckpt, use_dcp=use_dcp)
    r = forkpoint.Api(store).run(crashed.id)
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 7) and r.state == "finished"
    (arch,) = r.archived()
    assert [x["_step"] for x in arch.history()] == list(range(10))  # 8 and 9 were abandoned


def test_crash_right_after_a_checkpoint_continues(store, tmp_path, uninterrupted):
    """Nothing was logged past the checkpoint: the run simply continues, nothing is archived."""
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "c.pt", crash_at=8)
    train(store, tmp_path / "c.pt")
    (r,) = forkpoint.Api(store).runs("r")
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "run" and r.archived() == [] and r.state == "finished"


def test_fork_mode_with_changed_lr(store, tmp_path, uninterrupted):
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "f.pt", crash_at=10)
    (parent,) = forkpoint.Api(store).runs("r")
    train(store, tmp_path / "f.pt", on_resume="fork", lr=0.01)
    (child,) = forkpoint.Api(store).run(parent.id).children()
    assert child.kind == "fork" and child.parent == (parent.id, 7) and child.config["lr"] == 0.01
    same_history(child.history()[:8], uninterrupted.history()[:8])
    assert [x["_step"] for x in child.history()] == list(range(STEPS))
    assert not math.isclose(child.history()[-1]["loss"], uninterrupted.history()[-1]["loss"])
    assert [x["_step"] for x in forkpoint.Api(store).run(parent.id).history()] == list(range(10))


@pytest.mark.parametrize("lr, kinds", [(0.05, ["rewind"]), (0.01, ["fork", "run"])])
def test_auto_mode(store, tmp_path, lr, kinds):
    with pytest.raises(RuntimeError):
        train(store, tmp_path / "a.pt", crash_at=10)
    train(store, tmp_path / "a.pt", on_resume="auto", lr=lr)
    assert sorted(v.kind for v in forkpoint.Api(store).runs("r")) == kinds


def test_checkpoint_without_forkpoint_state_starts_a_new_run_with_a_warning(store, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    torch.save({"model": model.state_dict(), "opt": torch.optim.SGD(model.parameters(), lr=0.05).state_dict(),
                "step": 7}, tmp_path / "w.pt")
    with pytest.warns(forkpoint.ForkpointWarning, match="no forkpoint state"):
        train(store, tmp_path / "w.pt", project="w")
    (run,) = forkpoint.Api(store).runs("w")
    assert run.kind == "run" and [r["_step"] for r in run.history()] == list(range(8, STEPS))


def test_state_dict_before_logging_and_on_other_ranks(store):
    s = ForkpointState(project="s", store=store)
    assert s.state_dict() == {"format": 1, "run_id": "", "step": -1} and s.run_id is None  # opens nothing
    s.run.log({"a": 1.0}, step=3)
    assert s.state_dict() == {"format": 1, "run_id": s.run_id, "step": 3}
    other = ForkpointState(project="s", store=store, main_process=False)
    other.load_state_dict(s.state_dict())
    assert other.state_dict() == {"format": 1, "run_id": "", "step": -1}
    with pytest.raises(forkpoint.UsageError, match="main_process"):
        other.run
    s.finish()
    assert len(forkpoint.Api(store).runs("s")) == 1


def test_bad_options_refused_when_built():
    with pytest.raises(forkpoint.UsageError, match="on_resume"):
        ForkpointState(on_resume="sometimes")
    with pytest.raises(forkpoint.SpecError, match="project"):
        ForkpointState(project="a/b")
    with pytest.raises(forkpoint.UsageError, match="flush_interval"):
        ForkpointState(flush_interval=-1)
