"""Hugging Face Trainer: ``Trainer(..., callbacks=[ForkpointCallback(project="p")])`` and
``trainer.train(resume_from_checkpoint=True or a path)``.

``report_to`` takes no third-party names (transformers hard-codes its list), so the callback is
passed in ``callbacks=``. How it fits the Trainer (5.x; part C of shared/research/framework-hooks.md):

- The callback is an ``ExportableState``: its ``state()`` (run id, step) is written into each
  checkpoint's ``trainer_state.json``; the run's rows are flushed first, so rows up to the
  checkpoint are durable before it exists. By ``on_train_begin`` the Trainer has restored
  ``state.global_step`` (N) and ``state.stateful_callbacks``, with
  ``restore_callback_states_from_checkpoint`` on or off.
- A checkpoint at N holds every log made at steps <= N (log, then evaluate, then save). So the
  run is rewound to N (``on_resume="rewind"``), forked at N (``"fork"``), or forked if a
  hyperparameter in TrainingArguments (or ``config=``) changed (``"auto"``).
- Rows: ``state.global_step`` is the ``_step``; keys as W&B names them: ``train/loss``,
  ``train/learning_rate``, ``eval/loss``..., and ``epoch`` (fractional, a step metric). The
  end-of-training statistics (``train_runtime``, ``train_loss`` averaged over that ``train()`` call,
  ``total_flos``...) go to the summary, not the history, as in W&B's integration.
- Config: TrainingArguments, the model's config under ``model``, and ``config=``. Only the main
  process (``state.is_world_process_zero``) writes.
- After ``train()`` the run stays open (its rows flushed), so ``trainer.evaluate()`` and
  ``trainer.predict()`` land in the run at the final ``global_step``, merged into that row
  (``eval/...``, ``test/...``). It is finished by ``callback.finish()``, by the next ``train()``,
  or at process exit (``finished``; ``crashed`` if the process dies of an exception).
- Several ``ForkpointCallback`` in one Trainer each get their own run back. transformers keeps one
  state per instance, in the order of its callback list, appending every save's states to that
  list; so each callback takes the entry at its own place in the newest group. The choice is made
  at the first step, once every callback's ``on_train_begin`` has run and their number is known.
- transformers 5.x is tested. 4.57 has the same hook order and ``ExportableState`` (so the same
  plan applies) but is not tested here.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import forkpoint
from forkpoint.config import json_safe
from forkpoint.errors import ForkpointWarning
from forkpoint.restore import PluginOptions
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

# End-of-training statistics of one train() call (train_loss is averaged over this process's steps
# only): summary values, not history rows, as in W&B's integration.
SESSION_STATS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")
HYPER = ("learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
         "num_train_epochs", "max_steps", "lr_scheduler_type", "warmup_ratio", "warmup_steps",
         "per_device_train_batch_size", "gradient_accumulation_steps", "optim", "seed", "label_smoothing_factor")


def _metric_name(key: str) -> str:
    for prefix in ("eval", "test"):
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key[len(prefix) + 1:]}"
    return key if key == "epoch" else f"train/{key}"


ORDER_ATTR = "_forkpoint_callbacks"  # on the TrainerState: the ForkpointCallbacks of this train(), in order


class ForkpointCallback(TrainerCallback, ExportableState):
    """Logs a Trainer to a forkpoint run; ``resume_from_checkpoint`` rewinds or forks it."""

    def __init__(self, project: str | None = None, name: str | None = None, id: str | None = None,
                 config: Mapping[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", flush_interval: float = 1.0) -> None:
        self.options = PluginOptions(project=project, name=name, id=id, config=config, tags=tags, notes=notes,
                                     store=store, on_resume=on_resume, flush_interval=flush_interval,
                                     step_metric="epoch")
        self.run: forkpoint.Run | None = None
        self.run_id: str | None = None
        self.saved_run_id: str | None = None  # set by the Trainer when it rebuilds this callback
        self._pending: tuple[Any, Any] | None = None  # (args, model) of a train() whose run is not chosen yet

    # -- ExportableState ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        if self.run is not None:
            self.run.flush()  # called while the checkpoint is being written: rows <= N are durable
        return {"args": self.options.as_args(), "attributes": {"saved_run_id": self.run_id}}

    # -- the run --------------------------------------------------------------------------------
    def _full_config(self, args: Any, model: Any) -> dict[str, Any]:
        cfg = json_safe(args.to_dict()) if args is not None else {}
        model_cfg = getattr(model, "config", None)
        if model_cfg is not None and hasattr(model_cfg, "to_dict"):
            cfg["model"] = json_safe(model_cfg.to_dict())
        cfg.update(self.options.user_config)
        return cfg

    def _saved(self, state: Any) -> str | None:
        """The run id this callback saved in the restored checkpoint: the entry at its place among
        this Trainer's ForkpointCallbacks, in the newest group of entries."""
        got = (getattr(state, "stateful_callbacks", None) or {}).get(type(self).__name__)
        entries = got if isinstance(got, list) else [got]
        order = getattr(state, ORDER_ATTR, None) or [self]
        n, i = len(order), next((k for k, cb in enumerate(order) if cb is self), 0)
        entry = entries[len(entries) - n + i] if len(entries) >= n else None
        saved = ((entry or {}).get("attributes") or {}).get("saved_run_id") if isinstance(entry, dict) else None
        return saved or self.saved_run_id

    def _open(self, args: Any, state: Any, model: Any, at_train_begin: bool) -> forkpoint.Run:
        config = self._full_config(args, model)
        step = int(state.global_step)
        run = None
        if at_train_begin and step > 0:
            saved = self._saved(state)
            if saved:
                run = self.options.restore(saved, step, config, hyper=[*HYPER, *self.options.user_config])
            if run is None:
                warnings.warn(f"training resumed at step {step} from a checkpoint without forkpoint state "
                              f"(or naming a run not in the store): starting a new run", ForkpointWarning, stacklevel=3)
        if run is None:
            run = self.options.start(config, reopen=self.run_id)
        self.run, self.run_id = run, run.id
        return run

    def _ensure(self, args: Any, state: Any, model: Any) -> forkpoint.Run:
        if self._pending is not None:  # the first event of a train() after on_train_begin
            (targs, tmodel), self._pending = self._pending, None
            return self._open(targs, state, tmodel, at_train_begin=True)
        return self.run or self._open(args, state, model, at_train_begin=False)

    def finish(self) -> None:
        """Finish the run (else at process exit). A later train() or evaluate() reopens it."""
        if self.run is not None:
            self.run.finish()
            self.run = None

    # -- TrainerCallback ------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        order = getattr(state, ORDER_ATTR, None)
        if order is None:
            order = []
            setattr(state, ORDER_ATTR, order)  # not a dataclass field: never written to trainer_state.json
        order.append(self)
        self._take_a_place(state, len(order))
        if not state.is_world_process_zero:
            return
        self.finish()  # a second train() with the same callback
        self._pending = (args, model)

    def _take_a_place(self, state: Any, n: int) -> None:
        """A checkpoint written without this callback has no entry for it, and transformers then
        fails with a KeyError at its next save: give it one (this train()'s callbacks, in order)."""
        saved = state.stateful_callbacks
        name = type(self).__name__
        if n == 1 and name in saved:
            return
        if n == 1 or getattr(state, "_forkpoint_made_entry", False):
            saved[name] = self.state() if n == 1 else [*(saved[name] if n > 2 else [saved[name]]), self.state()]
            state._forkpoint_made_entry = True

    def on_step_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self._pending is not None and state.is_world_process_zero:
            self._ensure(args, state, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               model: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._write(self._ensure(args, state, model), state, logs)

    def on_predict(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                   model: Any = None, **kwargs: Any) -> None:
        """``trainer.predict()`` reports its metrics here only (not through ``on_log``)."""
        if state.is_world_process_zero:
            self._write(self._ensure(args, state, model), state, metrics)

    def _write(self, run: forkpoint.Run, state: Any, logs: Mapping[str, Any] | None) -> None:
        row: dict[str, Any] = {}
        stats: dict[str, Any] = {}
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                (stats if k in SESSION_STATS else row)[_metric_name(k)] = v
        if stats:
            run.summary.update(stats)
        if row:
            run.log(row, step=int(state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._ensure(args, state, model).flush()  # stays open: evaluate()/predict() land in the last row
