"""Hugging Face Accelerate: a tracker whose run follows ``save_state``/``load_state``.

    tracker = ForkpointTracker(project="p")
    accelerator = Accelerator(log_with=tracker)
    accelerator.init_trackers("p", config={"lr": lr})
    accelerator.register_for_checkpointing(tracker)
    if resuming:
        accelerator.load_state(ckpt_dir)  # rewinds (or forks) the run to the checkpoint's step
    ...
    accelerator.log({"loss": loss}, step=step)
    accelerator.save_state(ckpt_dir)

- ``accelerator.log(values, step=s)`` lands at ``s``; without ``step`` at the run's current step,
  advancing it (``Run.log``'s rule). ``init_trackers(project_name, config)``: the config is the
  run's (compared for ``on_resume="auto"``); Accelerate hands a tracker instance neither
  ``project_name`` nor ``init_kwargs``, so the project is ``project=``.
- Accelerate gives a tracker no handle on its ``Accelerator``, so the tracker cannot register
  itself for checkpointing: ``accelerator.register_for_checkpointing(tracker)`` does. Accelerate
  then stores ``tracker.state_dict()`` (the run id and its last durable step, rows flushed first)
  as ``custom_checkpoint_<i>.pkl`` and hands it back to ``load_state_dict`` on ``load_state``,
  which applies the rule all plugins share (``forkpoint.restore``): rewind, fork, or continue.
  A checkpoint whose custom state at that index is not forkpoint's: a new run, ``ForkpointWarning``.
- Main process only: Accelerate calls a ``main_process_only`` tracker's ``start``/``log``/
  ``finish`` on the main process only; ``state_dict``/``load_state_dict`` run on every process,
  and do nothing elsewhere (the state's keys are the same everywhere).
- ``accelerator.end_training()`` finishes the run; otherwise it is finished at process exit.
"""

from __future__ import annotations

from typing import Any, Mapping

import forkpoint
from accelerate.state import PartialState
from accelerate.tracking import GeneralTracker
from forkpoint.config import json_safe
from forkpoint.integrations.torch import ForkpointState
from forkpoint.restore import PluginOptions


class ForkpointTracker(GeneralTracker):
    """An Accelerate tracker writing to a forkpoint run; register it for checkpointing to resume it."""

    name = "forkpoint"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, project: str | None = None, name: str | None = None, *, id: str | None = None,
                 config: Mapping[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", flush_interval: float = 1.0) -> None:
        super().__init__()
        self._args: dict[str, Any] = dict(project=project, name=name, id=id, config=dict(config or {}), tags=tags, notes=notes,
                          store=store, on_resume=on_resume, flush_interval=flush_interval)
        PluginOptions(**self._args)  # bad options fail here, before training
        self._state: ForkpointState | None = None
        self._init_config: dict[str, Any] = {}

    def _main(self) -> bool:
        return PartialState().is_main_process

    @property
    def state(self) -> ForkpointState:
        """The run's Stateful (built at first use, once ``init_trackers`` gave project and config)."""
        if self._state is None:
            args = dict(self._args)
            args["config"] = {**self._init_config, **args["config"]}
            self._state = ForkpointState(**args, main_process=self._main())
        return self._state

    @property
    def tracker(self) -> forkpoint.Run:
        """The live forkpoint run (main process only)."""
        return self.state.run

    @property
    def run(self) -> forkpoint.Run:
        return self.state.run

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        cfg = json_safe(dict(values or {}))
        if self._state is None:
            self._init_config.update(cfg)
        elif self._state.main_process:
            self._state.run.config.update(cfg)

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self.state.run.log(values, step=step)

    def finish(self) -> None:
        if self._state is not None:
            self._state.finish()

    # -- registered for checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return self.state.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any] | None) -> None:
        self.state.load_state_dict(state_dict)


__all__ = ["ForkpointTracker"]
