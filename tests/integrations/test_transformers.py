"""Hugging Face Trainer plugin: a tiny GPT-2 built from a config (no download) really trains on CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import forkpoint  # noqa: E402
from forkpoint import lifecycle  # noqa: E402
from forkpoint.integrations.transformers import ForkpointCallback  # noqa: E402
from helpers import same_history as _same  # noqa: E402

SAMPLES, BATCH, EPOCHS = 16, 4, 3  # 4 steps per epoch, 12 in all


class Tokens(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (SAMPLES, 8), generator=g)

    def __len__(self):
        return SAMPLES

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def model():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return transformers.GPT2LMHeadModel(cfg)


class Crash(transformers.TrainerCallback):
    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise RuntimeError(f"simulated crash at step {self.at}")


def trainer(out, cb, *extra, lr=5e-3, save="steps", restore_cb_states=False):
    args = transformers.TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH,
        num_train_epochs=EPOCHS, learning_rate=lr, logging_steps=1, eval_strategy="steps", eval_steps=2,
        save_strategy=save, save_steps=4, report_to="none", use_cpu=True, seed=0, disable_tqdm=True,
        restore_callback_states_from_checkpoint=restore_cb_states)
    return transformers.Trainer(model=model(), args=args, train_dataset=Tokens(), eval_dataset=Tokens(),
                                callbacks=[cb, *extra])


def finish(t):
    """The runs stay open after train() (so evaluate() lands in the last row) until finished."""
    for cb in t.callback_handler.callbacks:
        if isinstance(cb, ForkpointCallback):
            cb.finish()


def same_history(a, b):
    _same(a, b, skip=("eval/runtime", "eval/samples_per_second", "eval/steps_per_second"), rel=1e-4, abs_tol=1e-6)


@pytest.fixture
def uninterrupted(store, tmp_path):
    trainer(tmp_path / "u", ForkpointCallback(project="u", store=store)).train()
    (u,) = forkpoint.Api(store).runs("u")
    return u


def crash_then_resume(store, tmp, *, save="steps", on_resume="rewind", lr=5e-3, restore_cb_states=False, crash_at=7):
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer(tmp, ForkpointCallback(project="r", store=store), Crash(crash_at), save=save).train()
    t = trainer(tmp, ForkpointCallback(project="r", store=store, on_resume=on_resume), lr=lr, save=save,
                restore_cb_states=restore_cb_states)
    t.train(resume_from_checkpoint=True)
    return t


def test_uninterrupted_logs(uninterrupted):
    h = uninterrupted.history()
    assert [r["_step"] for r in h] == list(range(1, SAMPLES // BATCH * EPOCHS + 1))
    assert all("train/loss" in r and "train/learning_rate" in r for r in h)
    assert [r["_step"] for r in h if "eval/loss" in r] == [2, 4, 6, 8, 10, 12]
    assert uninterrupted.config["learning_rate"] == 5e-3 and uninterrupted.config["model"]["n_embd"] == 16
    assert "train/train_loss" in uninterrupted.summary and "train/train_loss" not in h[-1]


@pytest.mark.parametrize("restore_cb_states", [False, True])
def test_resume_from_checkpoint_equals_uninterrupted(store, tmp_path, uninterrupted, restore_cb_states):
    t = crash_then_resume(store, tmp_path / "r", restore_cb_states=restore_cb_states)
    (r,) = forkpoint.Api(store).runs("r")
    assert r.state == "running"
    finish(t)
    r = forkpoint.Api(store).run(r.id)
    same_history(r.history(), uninterrupted.history())
    assert r.kind == "rewind" and r.parent == (f"{r.id}~1", 4) and r.state == "finished"
    assert [x["_step"] for x in r.archived()[0].history()] == [1, 2, 3, 4, 5, 6]


def test_save_strategy_epoch(store, tmp_path, uninterrupted):
    crash_then_resume(store, tmp_path / "r", save="epoch", crash_at=10)  # checkpoint-8 (end of epoch 2)
    (r,) = forkpoint.Api(store).runs("r")
    same_history(r.history(), uninterrupted.history())
    assert r.parent == (f"{r.id}~1", 8)


def test_fork_mode_with_changed_lr(store, tmp_path, uninterrupted):
    crash_then_resume(store, tmp_path / "r", on_resume="fork", lr=1e-3)
    runs = forkpoint.Api(store).runs("r")
    parent = next(v for v in runs if v.kind == "run")
    (child,) = parent.children()
    assert child.parent == (parent.id, 4) and child.config["learning_rate"] == 1e-3
    assert child.config_changes == ["learning_rate"]
    same_history(child.history()[:4], uninterrupted.history()[:4])
    assert [x["_step"] for x in child.history()] == list(range(1, 13))
    assert [x["_step"] for x in parent.history()] == [1, 2, 3, 4, 5, 6]  # the parent is untouched


@pytest.mark.parametrize("lr, kinds", [(5e-3, ["rewind"]), (1e-3, ["fork", "run"])])
def test_auto_mode(store, tmp_path, lr, kinds):
    crash_then_resume(store, tmp_path / "r", on_resume="auto", lr=lr)
    assert sorted(v.kind for v in forkpoint.Api(store).runs("r")) == kinds


def test_evaluate_and_predict_after_train_merge_into_the_last_row(store, tmp_path, recwarn):
    t = trainer(tmp_path / "e", ForkpointCallback(project="e", store=store))
    t.train()
    t.evaluate()
    t.predict(Tokens())
    finish(t)
    (run,) = forkpoint.Api(store).runs("e")
    last = run.history()[-1]
    assert last["_step"] == 12 and "train/loss" in last and "eval/loss" in last and "test/loss" in last
    assert len(run.history()) == 12 and run.kind == "run" and run.state == "finished"
    assert not [w for w in recwarn if issubclass(w.category, forkpoint.StepRegressionWarning)]


def test_evaluate_only_opens_a_run(store, tmp_path):
    t = trainer(tmp_path / "o", ForkpointCallback(project="o", store=store))
    t.evaluate()
    finish(t)
    (run,) = forkpoint.Api(store).runs("o")
    assert [r["_step"] for r in run.history()] == [0] and "eval/loss" in run.history()[0]


@pytest.mark.parametrize("restore_cb_states", [False, True])
def test_two_callbacks_each_get_their_own_run_back(store, tmp_path, restore_cb_states):
    """transformers keeps a list of states for duplicate stateful callbacks (appending each save's)."""
    tmp = tmp_path / "d"
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer(tmp, ForkpointCallback(project="a", store=store), ForkpointCallback(project="b", store=store),
                Crash(7)).train()
    api = forkpoint.Api(store)
    (a0,), (b0,) = api.runs("a"), api.runs("b")
    t = trainer(tmp, ForkpointCallback(project="a", store=store), ForkpointCallback(project="b", store=store),
                restore_cb_states=restore_cb_states)
    t.train(resume_from_checkpoint=True)
    mine = [cb for cb in t.callback_handler.callbacks if isinstance(cb, ForkpointCallback)]
    assert [cb.run_id for cb in mine] == [a0.id, b0.id]
    finish(t)
    for rid in (a0.id, b0.id):
        r = api.run(rid)
        assert r.kind == "rewind" and r.parent == (f"{rid}~1", 4) and r.state == "finished"
        assert [x["_step"] for x in r.history()] == list(range(1, 13))


def test_same_arguments_twice_still_two_runs(store, tmp_path):
    tmp = tmp_path / "s"
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer(tmp, ForkpointCallback(project="s", store=store), ForkpointCallback(project="s", store=store),
                Crash(7)).train()
    first = [v.id for v in sorted(forkpoint.Api(store).runs("s"), key=lambda v: v.created_at)]
    t = trainer(tmp, ForkpointCallback(project="s", store=store), ForkpointCallback(project="s", store=store))
    t.train(resume_from_checkpoint=True)
    assert sorted(cb.run_id for cb in t.callback_handler.callbacks if isinstance(cb, ForkpointCallback)) == sorted(first)
    finish(t)
    assert sorted(v.kind for v in forkpoint.Api(store).runs("s")) == ["rewind", "rewind"]


def test_checkpoint_without_forkpoint_state_starts_a_new_run_with_a_warning(store, tmp_path):
    tmp = tmp_path / "w"
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer(tmp, Crash(7)).train()
    t = trainer(tmp, ForkpointCallback(project="w", store=store))
    with pytest.warns(forkpoint.ForkpointWarning, match="without forkpoint state"):
        t.train(resume_from_checkpoint=True)
    finish(t)
    (run,) = forkpoint.Api(store).runs("w")
    assert [r["_step"] for r in run.history()] == list(range(5, 13)) and run.kind == "run"


# -- ported from transformers' tests/trainer/test_trainer_callback.py (what applies to a third-party callback)

def test_add_remove_callback(store, tmp_path):
    cb = ForkpointCallback(project="x", store=store)
    t = trainer(tmp_path / "x", cb)
    assert t.pop_callback(ForkpointCallback) is cb
    t.add_callback(ForkpointCallback(project="x", store=store))
    t.remove_callback(ForkpointCallback)
    assert not any(isinstance(c, ForkpointCallback) for c in t.callback_handler.callbacks)
    t.add_callback(cb)
    assert t.pop_callback(cb) is cb


def test_stateful_callback_state_round_trips(tmp_path):
    """state() holds exactly the constructor arguments: the Trainer rebuilds the callback with them."""
    cb = ForkpointCallback(project="x", name="n", config={"a": (1, 2)}, tags=["t"], on_resume="auto")
    rebuilt = ForkpointCallback(**cb.state()["args"])
    assert rebuilt.state() == cb.state() and rebuilt.options.user_config == {"a": [1, 2]}


def test_missing_stateful_callback_resumes_without_it(store, tmp_path):
    """A checkpoint holding forkpoint state, resumed by a Trainer without the callback: training works."""
    tmp = tmp_path / "m"
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer(tmp, ForkpointCallback(project="m", store=store), Crash(7)).train()
    (run,) = forkpoint.Api(store).runs("m")
    lifecycle.live(run.id).finish(exit_code=1)  # what the crashed process's exit would do
    trainer(tmp, Crash(-1), restore_cb_states=True).train(resume_from_checkpoint=True)
    run = forkpoint.Api(store).run(run.id)
    assert [r["_step"] for r in run.history()][-1] == 6 and run.archived() == [] and run.state == "crashed"


def test_bad_options_refused_when_built():
    with pytest.raises(forkpoint.UsageError, match="on_resume"):
        ForkpointCallback(on_resume="sometimes")
    with pytest.raises(forkpoint.SpecError, match="project"):
        ForkpointCallback(project="no spaces")
