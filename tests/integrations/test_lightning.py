"""Lightning plugin: a crashed-and-resumed run has exactly the history of an uninterrupted one.

A tiny linear model really trains on CPU. Every training batch holds the same samples, so the
values after a resume do not depend on how Lightning positions the dataloader mid-epoch; they depend
only on the restored weights and optimizer state, which is what the test is about.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import forkpoint  # noqa: E402
from forkpoint.integrations.lightning import ForkpointCheckpoint, ForkpointLogger  # noqa: E402
from helpers import same_history  # noqa: E402

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


def test_prefix_and_save_dir(store, tmp_path):
    """``prefix`` as every built-in logger has; a real ``save_dir``, so ``trainer.log_dir`` (which
    LightningCLI's SaveConfigCallback writes config.yaml into) and ModelCheckpoint's default folder exist."""
    lg = ForkpointLogger(project="px", id="run1", store=store, prefix="tmp", save_dir=tmp_path / "logs")
    t = L.Trainer(max_epochs=1, logger=lg, log_every_n_steps=1, enable_progress_bar=False,
                  enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=tmp_path)
    assert t.log_dir == str(tmp_path / "logs") and lg.log_dir == str(tmp_path / "logs" / "px" / "run1")
    t.fit(Tiny(), loader(), loader())
    assert list((tmp_path / "logs" / "px" / "run1" / "checkpoints").glob("*.ckpt"))
    h = forkpoint.Api(store).run("run1").history()
    assert "tmp-train_loss" in h[0] and "tmp-val_loss" in h[-1] and "train_loss" not in h[0]
    with pytest.raises(forkpoint.UsageError, match="prefix"):
        ForkpointLogger(prefix=3)
    with pytest.raises(forkpoint.SpecError, match="project"):
        ForkpointLogger(project="not a project")


def test_writer_thread_stops_when_the_logger_finalizes(store, tmp_path):
    import threading

    lg = ForkpointLogger(project="t", store=store)
    fit(tmp_path, lg, max_epochs=1)
    # this run's threads only: another test's run may still be retrying an unreachable store
    assert not [th for th in threading.enumerate() if th.name.endswith(f"-{lg.run_id}")]
    assert forkpoint.Api(store).run(lg.run_id).state == "finished"


def test_unpickled_copy_in_the_same_process_logs_into_the_open_run(store):
    import pickle

    lg = ForkpointLogger(project="pk", store=store)
    lg.log_metrics({"a": 1.0}, step=0)
    copy = pickle.loads(pickle.dumps(lg))
    copy.log_metrics({"a": 2.0}, step=1)  # no RunInUseError: the same Run object
    assert copy.experiment is lg.experiment
    lg.finalize("success")
    assert [r["a"] for r in forkpoint.Api(store).run(lg.run_id).history()] == [1.0, 2.0]


# -- ported from Lightning's tests/tests_pytorch/loggers/test_all.py (what applies to a third-party logger)

class _Boring(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        loss = self.net(batch[0]).pow(2).mean()
        self.log("train_some_val", loss)
        return loss

    def validation_step(self, batch, _):
        pass

    def on_validation_epoch_end(self):
        self.log_dict({"early_stop_on": torch.tensor(1.0), "val_loss": torch.tensor(0.5)})

    def test_step(self, batch, _):
        pass

    def on_test_epoch_end(self):
        self.log("test_loss", torch.tensor(2.0))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _one_batch():
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(2, 4)), batch_size=2)


def test_loggers_fit_test(store, tmp_path):
    lg = ForkpointLogger(project="ft", store=store, save_dir=tmp_path)
    t = L.Trainer(max_epochs=1, logger=lg, limit_train_batches=1, limit_val_batches=1, log_every_n_steps=1,
                  default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    t.fit(_Boring(), _one_batch(), _one_batch())
    t.test(_Boring(), _one_batch())
    h = forkpoint.Api(store).run(lg.run_id).history()
    # Lightning's expectation for every logger: (0, epoch+train), (0, epoch+val...), (1, epoch+test); here
    # rows at one step merge, as W&B's do
    assert [(r["_step"], sorted(k for k in r if k != "_step")) for r in h] == [
        (0, ["early_stop_on", "epoch", "train_some_val", "val_loss"]), (1, ["epoch", "test_loss"])]
    assert forkpoint.Api(store).run(lg.run_id).state == "finished"


def test_loggers_pickle(store, tmp_path):
    import pickle

    lg = ForkpointLogger(project="pk2", store=store, save_dir=tmp_path)
    _ = lg.experiment
    lg.log_metrics({"a": 1})
    lg.save()
    pickle.dumps(lg)
    t = L.Trainer(max_epochs=1, logger=lg, enable_progress_bar=False, default_root_dir=tmp_path)
    t2 = pickle.loads(pickle.dumps(t))
    t2.logger.log_metrics({"acc": 1.0})
    assert t2.logger.name == lg.name and t2.logger.save_dir == lg.save_dir
    lg.finalize("success")
    assert [sorted(r) for r in forkpoint.Api(store).run(lg.run_id).history()] == [["_step", "a"], ["_step", "acc"]]


def test_logger_reset_correctly_by_the_tuner(store, tmp_path):
    from lightning.pytorch.tuner.tuning import Tuner

    class WithLr(_Boring):
        def __init__(self, lr=0.1):
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self):
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=2)

        def val_dataloader(self):
            return _one_batch()

    lg = ForkpointLogger(project="tn", store=store, save_dir=tmp_path)
    t = L.Trainer(max_epochs=1, logger=lg, default_root_dir=tmp_path, enable_progress_bar=False, accelerator="cpu")
    model = WithLr()
    Tuner(t).lr_find(model, num_training=5)
    assert t.logger is lg and model.logger is lg
