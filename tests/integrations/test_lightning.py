"""Lightning plugin: a crashed-and-resumed run has exactly the history of an uninterrupted one.

A tiny linear model really trains on CPU. Every training batch holds the same samples, so the
values after a resume do not depend on how Lightning positions the dataloader mid-epoch; they depend
only on the restored weights and optimizer state, which is what the test is about.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import forkpoint  # noqa: E402
from helpers import same_history  # noqa: E402
from forkpoint.integrations.lightning import ForkpointCheckpoint, ForkpointLogger  # noqa: E402

BATCHES, EPOCHS = 6, 3


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        # step-level: Lightning does not checkpoint the accumulator of on_epoch=True training
        # aggregates, so after a mid-epoch resume their epoch value covers only the later batches
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_load_checkpoint(self, checkpoint):
        # a restore brings back the optimizer's old lr; apply this run's (as users do to change it)
        for opt in checkpoint.get("optimizer_states", []):
            for group in opt["param_groups"]:
                group["lr"] = self.hparams.lr

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


def loader():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    data = torch.utils.data.TensorDataset(x.repeat(BATCHES, 1), y.repeat(BATCHES, 1))
    return torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)


class Crash(L.Callback):
    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise RuntimeError(f"simulated crash at global_step {self.at_step}")


def trainer(tmp: Path, logger, *callbacks, ckpt_every: int | None = None, max_epochs: int = EPOCHS):
    ckpt = L.callbacks.ModelCheckpoint(dirpath=tmp / "ckpt", save_last=True, save_top_k=-1,
                                       every_n_train_steps=ckpt_every)
    return L.Trainer(max_epochs=max_epochs, logger=logger, callbacks=[ckpt, *callbacks], log_every_n_steps=1,
                     enable_progress_bar=False, enable_model_summary=False, deterministic=True,
                     accelerator="cpu", devices=1)


def fit(tmp, logger, *callbacks, ckpt_path=None, lr=0.05, **kw):
    t = trainer(tmp, logger, *callbacks, **kw)
    t.fit(Tiny(lr), loader(), loader(), ckpt_path=ckpt_path)
    return t


@pytest.fixture
def uninterrupted(store, tmp_path):
    fit(tmp_path / "u", ForkpointLogger(project="p", store=store))
    (u,) = forkpoint.Api(store).runs("p")
    return u


def crash_then_resume(store, tmp, crash_at, ckpt_path, ckpt_every=None, on_resume="rewind", lr=0.05):
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(tmp, ForkpointLogger(project="r", store=store), Crash(crash_at), ckpt_every=ckpt_every)
    (crashed,) = forkpoint.Api(store).runs("r")
    assert crashed.state == "crashed"
    path = ckpt_path(tmp / "ckpt") if callable(ckpt_path) else ckpt_path
    fit(tmp, ForkpointLogger(project="r", store=store, on_resume=on_resume), ckpt_path=path, ckpt_every=ckpt_every, lr=lr)
    return crashed.id


def test_uninterrupted_run_logs_train_and_val(uninterrupted):
    h = uninterrupted.history()
    assert [r["_step"] for r in h] == list(range(BATCHES * EPOCHS))
    assert sum("val_loss" in r for r in h) == EPOCHS and all("train_loss" in r and "epoch" in r for r in h)
    assert uninterrupted.config == {"lr": 0.05} and uninterrupted.state == "finished"


def test_resume_from_epoch_end_checkpoint_equals_uninterrupted(store, tmp_path, uninterrupted):
    rid = crash_then_resume(store, tmp_path / "r", crash_at=9,
                            ckpt_path=lambda d: next(d.glob("epoch=0-step=6.ckpt")))
    r = forkpoint.Api(store).run(rid)
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "rewind" and r.parent == (f"{rid}~1", 5)
    (arch,) = r.archived()
    # the crash fires in on_train_batch_end, before Lightning logs that batch: rows 6..7 were abandoned
    assert [x["_step"] for x in arch.history()] == list(range(8))


def test_resume_mid_epoch_every_n_train_steps(store, tmp_path, uninterrupted):
    rid = crash_then_resume(store, tmp_path / "r", crash_at=11, ckpt_every=4,
                            ckpt_path=lambda d: next(d.glob("*step=8.ckpt")))
    r = forkpoint.Api(store).run(rid)
    same_history(r.history(), uninterrupted.history())
    assert r.parent == (f"{rid}~1", 7)


def test_resume_with_ckpt_path_last(store, tmp_path, uninterrupted):
    rid = crash_then_resume(store, tmp_path / "r", crash_at=11, ckpt_every=3, ckpt_path="last")
    r = forkpoint.Api(store).run(rid)
    same_history(r.history(), uninterrupted.history())
    assert r.parent == (f"{rid}~1", 8)


def test_two_crashes_in_a_row(store, tmp_path, uninterrupted):
    tmp = tmp_path / "r"
    # checkpoints every 4 steps; each crash comes 2-3 steps after one, so rows past it are abandoned
    with pytest.raises(RuntimeError):
        fit(tmp, ForkpointLogger(project="r", store=store), Crash(7), ckpt_every=4)
    with pytest.raises(RuntimeError):
        fit(tmp, ForkpointLogger(project="r", store=store), Crash(14), ckpt_every=4, ckpt_path="last")
    fit(tmp, ForkpointLogger(project="r", store=store), ckpt_every=4, ckpt_path="last")
    (r,) = forkpoint.Api(store).runs("r")
    same_history(r.history(), uninterrupted.history())
    assert [a.branch_step for a in r.archived()[1:]] == [3] and r.branch_step == 11
    assert [max(x["_step"] for x in a.history()) for a in r.archived()] == [5, 12]
    assert len(r.archived()) == 2 and r.state == "finished"


def test_crash_right_after_a_checkpoint_needs_no_rewind(store, tmp_path, uninterrupted):
    """Nothing was logged past the checkpoint: the run simply continues, nothing is archived."""
    rid = crash_then_resume(store, tmp_path / "r", crash_at=10, ckpt_every=3, ckpt_path="last")
    r = forkpoint.Api(store).run(rid)
    same_history(r.history(), uninterrupted.history())
    assert r.archived() == [] and r.kind == "run"


def test_fork_mode_with_changed_lr(store, tmp_path, uninterrupted):
    tmp = tmp_path / "r"
    rid = crash_then_resume(store, tmp, crash_at=9, on_resume="fork", lr=0.01,
                            ckpt_path=lambda d: next(d.glob("epoch=0-step=6.ckpt")))
    api = forkpoint.Api(store)
    (child,) = api.run(rid).children()
    assert child.kind == "fork" and child.parent == (rid, 5) and child.config["lr"] == 0.01
    same_history(child.history()[:6], uninterrupted.history()[:6])
    assert [r["_step"] for r in child.history()] == list(range(BATCHES * EPOCHS))
    assert not math.isclose(child.history()[-1]["train_loss"], uninterrupted.history()[-1]["train_loss"])
    assert [r["_step"] for r in api.run(rid).history()] == list(range(8))  # the parent is untouched


@pytest.mark.parametrize("lr, kind", [(0.05, "rewind"), (0.01, "fork")])
def test_auto_mode_forks_only_when_hparams_change(store, tmp_path, lr, kind):
    tmp = tmp_path / "r"
    rid = crash_then_resume(store, tmp, crash_at=9, on_resume="auto", lr=lr,
                            ckpt_path=lambda d: next(d.glob("epoch=0-step=6.ckpt")))
    api = forkpoint.Api(store)
    if kind == "rewind":
        assert api.run(rid).kind == "rewind" and api.run(rid).children() == []
    else:
        assert api.run(rid).kind == "run" and api.run(rid).children()[0].config["lr"] == 0.01


def test_validate_and_test_with_checkpoint_do_not_rewind(store, tmp_path):
    tmp = tmp_path / "r"
    fit(tmp, ForkpointLogger(project="v", store=store))
    (run,) = forkpoint.Api(store).runs("v")
    before = run.history()
    t = trainer(tmp, ForkpointLogger(project="v", store=store))
    t.validate(Tiny(), loader(), ckpt_path=str(next((tmp / "ckpt").glob("epoch=0-*.ckpt"))))
    run = forkpoint.Api(store).run(run.id)
    assert run.archived() == [] and run.history() == before and run.kind == "run"


def test_checkpoint_without_forkpoint_state_starts_a_new_run_with_a_warning(store, tmp_path):
    """A checkpoint written without ForkpointLogger (another logger, or none). Lightning itself cannot
    fit from a weights-only checkpoint (it needs the optimizer state), so that case never reaches us."""
    tmp = tmp_path / "w"
    fit(tmp, False, max_epochs=1)
    path = next((tmp / "ckpt").glob("epoch=0-*.ckpt"))
    with pytest.warns(forkpoint.ForkpointWarning, match="no forkpoint state"):
        fit(tmp, ForkpointLogger(project="w", store=store), ckpt_path=str(path), max_epochs=2)
    (run,) = forkpoint.Api(store).runs("w")
    assert [r["_step"] for r in run.history()] == list(range(BATCHES, 2 * BATCHES))


def test_companion_callback_comes_along_and_explicit_form_is_not_doubled(store, tmp_path):
    t = trainer(tmp_path, ForkpointLogger(project="c", store=store))
    assert sum(isinstance(cb, ForkpointCheckpoint) for cb in t.callbacks) == 1  # from the entry point
    t = trainer(tmp_path, ForkpointLogger(project="c", store=store), ForkpointCheckpoint())
    mine = [cb for cb in t.callbacks if isinstance(cb, ForkpointCheckpoint)]
    assert len(mine) == 2 and mine[0]._acts(t) and not mine[1]._acts(t)


def test_logger_contract(store, tmp_path):
    import pickle
    from argparse import Namespace

    lg = ForkpointLogger(project="k", name="nm", store=store, config={"a": 1})
    assert (lg.name, lg.version) == ("k", "nm")
    lg.log_hyperparams(Namespace(opt={"lr": 0.1, "betas": (0.9, 0.99)}, act=torch.nn.ReLU))
    lg2 = pickle.loads(pickle.dumps(lg))
    assert lg2.version == "nm"
    lg.log_metrics({"m": 1.0}, step=3)
    assert lg.experiment.step == 3 and isinstance(lg.experiment, forkpoint.Run)
    lg.finalize("success")
    v = forkpoint.Api(store).run(lg.run_id)
    assert v.config == {"a": 1, "opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "act": "ReLU"}
    assert v.history() == [{"_step": 3, "m": 1.0}] and v.state == "finished"
    lg.log_metrics({"m": 2.0}, step=4)  # a later stage reopens the same run
    lg.finalize("success")
    assert forkpoint.Api(store).run(lg.run_id).history()[-1] == {"_step": 4, "m": 2.0}
    with pytest.raises(forkpoint.UsageError, match="on_resume"):
        ForkpointLogger(on_resume="sometimes")
