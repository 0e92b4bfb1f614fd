"""Plain PyTorch: the run as a ``Stateful`` object that rides in your own checkpoints.

    state = ForkpointState(project="p")
    if resuming:
        ckpt = torch.load(path)
        model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["opt"])
        state.load_state_dict(ckpt["forkpoint"])
    for step in range(start, steps):
        ...
        state.run.log({"loss": loss.item()}, step=step)
        if step % 100 == 0:
            torch.save({"model": ..., "opt": ..., "forkpoint": state.state_dict()}, path)

- ``state_dict()`` is ``{"format", "run_id", "step"}``: the run's rows are flushed first, and
  ``step`` is the run's last durable step then, so the checkpoint holds exactly the rows up to it.
  Plain ``str``/``int`` values: ``torch.load``'s default ``weights_only=True`` reads them, and
  ``torch.distributed.checkpoint`` saves them (``state`` is a ``Stateful`` there too).
- ``load_state_dict(sd)`` applies the rule all plugins share (``forkpoint.restore``): rewind the
  saved run to ``step`` (``on_resume="rewind"``), fork it there (``"fork"``), or fork only if
  ``config=`` differs from the run's (``"auto"``); if nothing was logged past ``step``, the run
  simply continues. A state without forkpoint keys (``None``, ``{}``, another object's state):
  a new run and a ``ForkpointWarning``.
- ``.run`` is the live run, opened at first use (after ``load_state_dict`` if there is one).
- ``main_process=False`` (e.g. ``rank != 0``): nothing is opened or written; ``state_dict()``
  still has the same keys, so distributed checkpoints have the same structure on every rank.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import forkpoint
from forkpoint.errors import ForkpointWarning, UsageError
from forkpoint.restore import PluginOptions, last_step

FORMAT = 1


class ForkpointState:
    """A forkpoint run as a ``Stateful`` (``state_dict``/``load_state_dict``) for your checkpoints."""

    def __init__(self, project: str | None = None, name: str | None = None, *, id: str | None = None,
                 config: Mapping[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", flush_interval: float = 1.0,
                 main_process: bool = True) -> None:
        self.options = PluginOptions(project=project, name=name, id=id, config=config, tags=tags, notes=notes,
                                     store=store, on_resume=on_resume, flush_interval=flush_interval)
        self.main_process = bool(main_process)
        self._run: forkpoint.Run | None = None
        self._restore: tuple[str, int] | None = None  # (run id, step) from load_state_dict, applied at .run

    @property
    def run(self) -> forkpoint.Run:
        """The live run: opened at first use, from the restored state if one was loaded."""
        if not self.main_process:
            raise UsageError("ForkpointState(main_process=False) has no run: only the main process writes")
        if self._run is None:
            config = self.options.user_config
            restore, self._restore = self._restore, None
            run = None
            if restore is not None:
                run = self.options.restore(restore[0], restore[1], config)
                if run is None:
                    warnings.warn(f"the checkpoint names run {restore[0]!r}, which is not in the store: "
                                  "starting a new run", ForkpointWarning, stacklevel=2)
            self._run = run or self.options.start(config)
        return self._run

    @property
    def run_id(self) -> str | None:
        return self._run.id if self._run is not None else None

    def state_dict(self) -> dict[str, Any]:
        """``{format, run_id, step}``; the rows are made durable first. Opens no run."""
        if self._run is None:
            return {"format": FORMAT, "run_id": "", "step": -1}
        self._run.flush()
        step = last_step(self._run.id, self.options.store)
        return {"format": FORMAT, "run_id": self._run.id, "step": -1 if step is None else int(step)}

    def load_state_dict(self, state_dict: Mapping[str, Any] | None) -> None:
        """Continue from a checkpoint's state: rewind, fork or continue its run at its step."""
        if not self.main_process:
            return
        sd = state_dict if isinstance(state_dict, Mapping) else {}
        run_id, step = sd.get("run_id"), sd.get("step")
        if sd.get("format") != FORMAT or not isinstance(run_id, str) or not isinstance(step, int) or not run_id:
            what = "nothing" if not sd else f"keys {sorted(map(str, sd))}"
            warnings.warn(f"the checkpoint holds no forkpoint state ({what}; expected a "
                          "ForkpointState.state_dict()): starting a new run", ForkpointWarning, stacklevel=2)
            self._restore = None
            return
        self.finish()  # a run opened before the restore ends here; the restore decides what comes next
        self._restore = (run_id, step) if step >= 0 else None
        if step < 0:  # saved before anything was logged: that run, continued
            self._run = self.options.start(self.options.user_config, reopen=run_id)

    def finish(self) -> None:
        """Finish the run (else it is finished at process exit)."""
        if self._run is not None:
            self._run.finish()
            self._run = None


__all__ = ["ForkpointState"]
