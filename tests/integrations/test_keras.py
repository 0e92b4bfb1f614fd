"""Keras plugin (KERAS_BACKEND=torch): resumed runs against an uninterrupted one, real training on CPU."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import forkpoint  # noqa: E402
from forkpoint.integrations.keras import ForkpointCallback  # noqa: E402
from helpers import same_history  # noqa: E402

BATCHES, EPOCHS = 4, 4
U_STEPS = BATCHES * EPOCHS
pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="tests run on KERAS_BACKEND=torch")


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * BATCHES, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32") + 0.1).astype("float32")
    return x, y


def model(lr=0.05):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9), loss="mse")
    return m


class Crash(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == self.at:
            raise RuntimeError(f"simulated crash at iteration {self.at}")


def fit(m, *callbacks, initial_epoch=0):
    x, y = data()
    m.fit(x, y, batch_size=8, epochs=EPOCHS, shuffle=False, validation_data=(x, y), verbose=0,
          callbacks=list(callbacks), initial_epoch=initial_epoch)


@pytest.fixture
def uninterrupted(store, tmp_path):
    cb = ForkpointCallback(project="u", store=store, state_dir=tmp_path / "u")
    fit(model(), cb)
    cb.finish()  # the run stays open after fit, for an evaluate() that lands in its last row
    (u,) = forkpoint.Api(store).runs("u")
    return u


def test_uninterrupted_keys_and_steps(uninterrupted):
    h = uninterrupted.history()
    assert [r["_step"] for r in h] == list(range(1, BATCHES * EPOCHS + 1))
    ends = [r for r in h if "epoch" in r]
    assert [r["_step"] for r in ends] == [4, 8, 12, 16] and [r["epoch"] for r in ends] == [0, 1, 2, 3]
    assert all("epoch/val_loss" in r and "epoch/loss" in r for r in ends) and "batch/loss" in h[0]
    assert uninterrupted.config["optimizer"]["learning_rate"] == pytest.approx(0.05)
    assert uninterrupted.state == "finished"


@pytest.mark.parametrize("order", ["backup_first", "forkpoint_first"])
def test_backup_and_restore_epoch_level_equals_uninterrupted(store, tmp_path, uninterrupted, order):
    d = str(tmp_path / "backup")

    def cbs(*extra):
        backup = keras.callbacks.BackupAndRestore(d)
        pair = [backup, ForkpointCallback(project="r", store=store, savers=[backup])]
        return (pair if order == "backup_first" else pair[::-1]) + list(extra)

    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(model(), *cbs(Crash(10)))
    assert os.path.exists(os.path.join(d, "forkpoint.json"))
    fit(model(), *cbs())  # a new process would do exactly this
    (r,) = forkpoint.Api(store).runs("r")
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 8)
    (arch,) = r.archived()
    assert [x["_step"] for x in arch.history()][-2:] == [9, 10]


def test_backup_every_n_batches(store, tmp_path, uninterrupted):
    """Keras restarts the epoch at batch 0 after a mid-epoch backup while iterations go on, so the
    resumed run runs more iterations than U: exact up to the restore point, then what Keras ran."""
    d = str(tmp_path / "backup")
    def cbs(*extra):
        backup = keras.callbacks.BackupAndRestore(d, save_freq=3)
        return [backup, ForkpointCallback(project="r", store=store, savers=[backup]), *extra]

    with pytest.raises(RuntimeError):
        fit(model(), *cbs(Crash(11)))
    fit(model(), *cbs())
    (r,) = forkpoint.Api(store).runs("r")
    h = r.history()
    same_history(h[:9], uninterrupted.history()[:9])  # rows 1..9: the backup was at iteration 9
    # iteration 9 was epoch 2's first batch; Keras redoes epoch 2 from batch 0 (10..13), then epoch 3 (14..17)
    assert [x["_step"] for x in h] == list(range(1, 18)) and U_STEPS == 16
    assert [x["epoch"] for x in h if "epoch" in x] == [0, 1, 2, 3] and [x["_step"] for x in h if "epoch" in x][2:] == [13, 17]
    assert r.parent == (f"{r.id}~1", 9) and [x["_step"] for x in r.archived()[0].history()][-2:] == [10, 11]


def test_model_checkpoint_load_model_initial_epoch(store, tmp_path, uninterrupted):
    path = str(tmp_path / "ckpt" / "ep{epoch:02d}.keras")
    def cbs(*extra):
        ckpt = keras.callbacks.ModelCheckpoint(path)
        return [ckpt, ForkpointCallback(project="r", store=store, savers=[ckpt]), *extra]

    with pytest.raises(RuntimeError):
        fit(model(), *cbs(Crash(10)))
    restored = keras.models.load_model(str(tmp_path / "ckpt" / "ep02.keras"))
    fit(restored, *cbs(), initial_epoch=2)
    (r,) = forkpoint.Api(store).runs("r")
    same_history(r.history(), uninterrupted.history())
    assert r.parent == (f"{r.id}~1", 8)


def test_fork_mode_with_changed_lr(store, tmp_path, uninterrupted):
    d = str(tmp_path / "backup")
    with pytest.raises(RuntimeError):
        fit(model(), keras.callbacks.BackupAndRestore(d), ForkpointCallback(project="r", store=store, state_dir=d),
            Crash(10))
    fit(model(lr=0.01), keras.callbacks.BackupAndRestore(d),
        ForkpointCallback(project="r", store=store, on_resume="fork", config={"lr": 0.01}, state_dir=d))
    api = forkpoint.Api(store)
    parent = [v for v in api.runs("r") if v.kind != "fork"][0]
    (child,) = parent.children()
    assert child.parent == (parent.id, 8) and child.config["lr"] == 0.01
    same_history(child.history()[:8], uninterrupted.history()[:8])
    assert [x["_step"] for x in parent.history()][-1] == 10  # the parent is untouched


@pytest.mark.parametrize("lr, kind", [(None, "rewind"), (0.01, "fork")])
def test_auto_mode(store, tmp_path, lr, kind):
    d = str(tmp_path / "backup")
    with pytest.raises(RuntimeError):
        fit(model(), keras.callbacks.BackupAndRestore(d), ForkpointCallback(project="r", store=store, state_dir=d),
            Crash(10))
    cfg = {"lr": lr} if lr else {}
    fit(model(), keras.callbacks.BackupAndRestore(d), ForkpointCallback(project="r", store=store, on_resume="auto",
                                                                        config=cfg, state_dir=d))
    runs = forkpoint.Api(store).runs("r")
    assert sorted(v.kind for v in runs) == (["rewind"] if kind == "rewind" else ["fork", "run"])


def test_restored_model_without_sidecar_starts_new_run_with_warning(store, tmp_path):
    m = model()
    fit(m, keras.callbacks.ModelCheckpoint(str(tmp_path / "a" / "m.keras")))  # no forkpoint at all
    restored = keras.models.load_model(str(tmp_path / "a" / "m.keras"))
    with pytest.warns(forkpoint.ForkpointWarning, match="no forkpoint sidecar"):
        fit(restored, ForkpointCallback(project="n", store=store, state_dir=str(tmp_path / "state")), initial_epoch=3)
    (run,) = forkpoint.Api(store).runs("n")
    assert run.kind == "run" and [r["_step"] for r in run.history()] == [17, 18, 19, 20]


def test_evaluate_after_fit_lands_in_the_last_row(store, tmp_path, recwarn):
    m = model()
    cb = ForkpointCallback(project="e", store=store, state_dir=tmp_path / "s")
    fit(m, cb)
    x, y = data()
    m.evaluate(x, y, batch_size=8, verbose=0, callbacks=[cb])
    (run,) = forkpoint.Api(store).runs("e")
    assert run.state == "running"
    cb.finish()
    run = forkpoint.Api(store).run(run.id)
    last = run.history()[-1]
    assert last["_step"] == U_STEPS and "epoch/loss" in last and "eval/loss" in last
    assert len(run.history()) == U_STEPS and run.state == "finished"
    assert not [w for w in recwarn if issubclass(w.category, forkpoint.StepRegressionWarning)]


def test_second_fit_with_the_same_callback_continues_the_run(store, tmp_path):
    m = model()
    cb = ForkpointCallback(project="c", store=store, state_dir=tmp_path / "s")
    fit(m, cb)
    x, y = data()
    m.fit(x, y, batch_size=8, epochs=EPOCHS + 1, initial_epoch=EPOCHS, shuffle=False, verbose=0, callbacks=[cb])
    cb.finish()
    (run,) = forkpoint.Api(store).runs("c")
    assert [r["_step"] for r in run.history()] == list(range(1, U_STEPS + BATCHES + 1)) and run.archived() == []


def test_bad_options_refused_when_built(tmp_path):
    with pytest.raises(forkpoint.UsageError, match="on_resume"):
        ForkpointCallback(on_resume="sometimes")
    with pytest.raises(forkpoint.SpecError, match="project"):
        ForkpointCallback(project="a b")
    with pytest.raises(forkpoint.UsageError, match="savers"):
        ForkpointCallback(savers=[keras.callbacks.History()])
