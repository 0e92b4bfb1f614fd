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
  process (``state.is_world_process_zero``) writes. The run is finished at ``on_train_end``; a
  later ``evaluate()`` reopens it.
- transformers 5.x is tested. 4.57 has the same hook order and ``ExportableState`` (so the same
  plan applies) but is not tested here.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

import forkpoint
from forkpoint.checkpoint import ON_RESUME, open_at
from forkpoint.config import json_safe
from forkpoint.errors import ForkpointWarning, UsageError

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


class ForkpointCallback(TrainerCallback, ExportableState):
    """Logs a Trainer to a forkpoint run; ``resume_from_checkpoint`` rewinds or forks it."""

    def __init__(self, project: str | None = None, name: str | None = None, id: str | None = None,
                 config: dict[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", flush_interval: float = 1.0) -> None:
        if on_resume not in ON_RESUME:
            raise UsageError(f"on_resume={on_resume!r}: expected 'rewind', 'fork' or 'auto'")
        self.project, self.name, self.id, self.config = project, name, id, json_safe(dict(config or {}))
        self.tags, self.notes, self.store = tags, notes, store
        self.on_resume, self.flush_interval = on_resume, flush_interval
        self.run: forkpoint.Run | None = None
        self.run_id: str | None = None
        self.saved_run_id: str | None = None  # set by the Trainer when it rebuilds this callback

    # -- ExportableState ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        if self.run is not None:
            self.run.flush()  # called while the checkpoint is being written: rows <= N are durable
        return {"args": {"project": self.project, "name": self.name, "id": self.id, "config": self.config,
                         "tags": self.tags, "notes": self.notes, "store": self.store, "on_resume": self.on_resume,
                         "flush_interval": self.flush_interval},
                "attributes": {"saved_run_id": self.run_id}}

    # -- the run --------------------------------------------------------------------------------
    def _kw(self) -> dict[str, Any]:
        return dict(project=self.project, name=self.name, tags=self.tags, notes=self.notes, store=self.store,
                    flush_interval=self.flush_interval)

    def _full_config(self, args: Any, model: Any) -> dict[str, Any]:
        cfg = json_safe(args.to_dict()) if args is not None else {}
        model_cfg = getattr(model, "config", None)
        if model_cfg is not None and hasattr(model_cfg, "to_dict"):
            cfg["model"] = json_safe(model_cfg.to_dict())
        cfg.update(self.config)
        return cfg

    def _saved(self, state: Any) -> str | None:
        got = (getattr(state, "stateful_callbacks", None) or {}).get(type(self).__name__)
        for entry in got if isinstance(got, list) else [got]:
            if isinstance(entry, dict) and (entry.get("attributes") or {}).get("saved_run_id"):
                return entry["attributes"]["saved_run_id"]
        return None

    def _open(self, args: Any, state: Any, model: Any, at_train_begin: bool) -> forkpoint.Run:
        config = self._full_config(args, model)
        step = int(state.global_step)
        run = None
        if at_train_begin and step > 0:
            saved = self._saved(state)
            if saved:
                run = open_at(saved, step, on_resume=self.on_resume, config=config,
                              hyper=[*HYPER, *self.config], **self._kw())
            if run is None:
                warnings.warn(f"training resumed at step {step} from a checkpoint without forkpoint state "
                              f"(or naming a run not in the store): starting a new run", ForkpointWarning, stacklevel=3)
        if run is None:
            reopen = self.run_id or self.id
            run = forkpoint.init(id=reopen, resume="allow" if reopen else None, config=config, **self._kw())
        run.define_metric("epoch", step_metric=True)
        self.run, self.run_id = run, run.id
        return run

    # -- TrainerCallback ------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self.run is not None:  # a second train() with the same callback
            self.run.finish()
            self.run = None
        self._open(args, state, model, at_train_begin=True)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        run = self.run or self._open(args, state, model, at_train_begin=False)
        row, stats = {}, {}
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                (stats if k in SESSION_STATS else row)[_metric_name(k)] = v
        if stats:
            run.summary.update(stats)
        if row:
            run.log(row, step=int(state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None and state.is_world_process_zero:
            self.run.finish()
            self.run = None
