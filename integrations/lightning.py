"""PyTorch Lightning: ``Trainer(logger=ForkpointLogger(project="p"))`` and nothing else.

A restore from a checkpoint while fitting (``ckpt_path=`` a path, ``"last"`` or ``"best"``) becomes
a rewind of the run to the checkpoint's step (``on_resume="rewind"``), a fork there (``"fork"``), or
a fork only if the hyperparameters changed (``"auto"``), so a crashed-and-resumed run shows exactly
the history of an uninterrupted one.

How it fits Lightning (2.6; hook order in shared/research/framework-hooks.md, part A):

- The run id and ``global_step`` at save go into the checkpoint (``checkpoint["forkpoint"]``) through
  the companion callback ``ForkpointCheckpoint``. The logger brings it along by itself: the
  ``lightning.pytorch.callbacks_factory`` entry point adds one to every Trainer, and it does
  nothing unless a ``ForkpointLogger`` is attached. Passing ``callbacks=[ForkpointCheckpoint()]``
  explicitly also works (never both active: only the first one acts).
- ``experiment`` is read by the Trainer before the checkpoint is loaded, so it is a lazy handle;
  the run is opened in ``on_train_start`` (the first hook after restore for every strategy), or at
  the first ``log_metrics`` outside fitting. Hyperparameters logged before that are kept and
  written then (and compared, for ``"auto"``).
- The cut: Lightning logs training metrics at ``global_step - 1``, and a checkpoint saved at
  ``global_step = K`` holds everything up to step K-1; rows at steps >= K belong to the abandoned
  timeline. So the run is rewound (or forked) at ``K - 1``.
- Checkpoints without forkpoint state (weights-only, or written without this logger): a new run,
  with a ``ForkpointWarning`` saying why. ``validate``/``test``/``predict`` with a checkpoint never
  rewind anything. Their metrics go to Lightning's step, or to the run's current step if that is
  further (``ddp_spawn`` workers count from 0 again in every stage).
- ``finalize("success")`` (end of ``fit``, ``validate``, ``test``) finishes the run; a later stage
  that logs reopens it (plain resume). ``finalize("failed")`` marks it crashed.
- Only global rank 0 writes. The logger pickles without its live run; a copy unpickled in the
  process that has the run open logs into that same Run (no second writer). Pickled for a spawned
  process (``ddp_spawn``), it first fixes the run id and finishes a run this process has open, so
  rank 0 of the workers continues that run and a later ``test()`` in this process reopens it: one
  run (see docs/plugins.md, "Multi-GPU and multi-node").
- ``name`` is the project; ``version`` is ``id`` if given, else ``name`` if given, else
  ``"forkpoint"``: stable across restarts, so ``ckpt_path="last"`` finds ``ModelCheckpoint``'s files.
- ``save_dir`` (default ``"."``, as Lightning's W&B logger) is where files that go with the run
  are put: ``ModelCheckpoint``'s default ``<save_dir>/<name>/<version>/checkpoints`` and
  LightningCLI's ``config.yaml`` (``trainer.log_dir`` is ``save_dir``). ``prefix`` is put before
  every metric key, joined with ``-``, as every built-in Lightning logger does.
"""

from __future__ import annotations

import multiprocessing.context
import os
import secrets
import string
import warnings
from typing import Any, Mapping

import forkpoint
from forkpoint.config import json_safe
from forkpoint.errors import ForkpointWarning, UsageError
from forkpoint.restore import PluginOptions

try:
    from lightning.fabric.utilities.logger import _add_prefix
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.trainer.states import TrainerFn
    from lightning.pytorch.utilities import rank_zero_only
    PACKAGE = "lightning.pytorch"
except ImportError:  # pragma: no cover - exercised only where just pytorch_lightning is installed
    from lightning_fabric.utilities.logger import _add_prefix  # type: ignore[no-redef,assignment,unused-ignore]
    from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef,assignment,unused-ignore]
    from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment  # type: ignore[no-redef,assignment,unused-ignore]
    from pytorch_lightning.trainer.states import TrainerFn  # type: ignore[no-redef,assignment,unused-ignore]
    from pytorch_lightning.utilities import rank_zero_only  # type: ignore[no-redef,assignment,unused-ignore]
    PACKAGE = "pytorch_lightning"

CKPT_KEY = "forkpoint"


class _RunHandle:
    """What ``logger.experiment`` returns: the forkpoint Run, opened at first use."""

    def __init__(self, logger: ForkpointLogger) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger._open_run(), name)

    def __repr__(self) -> str:
        return f"<forkpoint run handle {self._logger._run_id or '(not opened yet)'}>"


class ForkpointLogger(Logger):
    """Lightning logger writing to a forkpoint run; see the module docstring for resume behaviour."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, project: str | None = None, name: str | None = None, *, id: str | None = None,
                 config: Mapping[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", flush_interval: float = 1.0,
                 save_dir: str | os.PathLike[str] = ".", prefix: str = "") -> None:
        super().__init__()
        self.options = PluginOptions(project=project, name=name, id=id, config=config, tags=tags, notes=notes,
                                     store=store, on_resume=on_resume, flush_interval=flush_interval,
                                     step_metric="epoch")
        if not isinstance(prefix, str):
            raise UsageError(f"prefix={prefix!r}: expected a str")
        self._save_dir = os.fspath(save_dir)
        self._prefix = prefix
        self._run: forkpoint.Run | None = None
        self._run_id: str | None = id
        self._hparams: dict[str, Any] = {}
        self._restore: dict[str, Any] | None = None  # set by ForkpointCheckpoint.on_load_checkpoint
        self._evaluating = False  # validate/test/predict outside fit (set by ForkpointCheckpoint)

    @property
    def on_resume(self) -> str:
        return self.options.on_resume

    # -- Logger contract ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.options.project or "default"

    @property
    def version(self) -> str:
        return self.options.id or self.options.name or "forkpoint"

    @property
    def save_dir(self) -> str:
        """Where files that go with the run are saved (``trainer.log_dir`` for this logger)."""
        return self._save_dir

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<name>/<version>``: this run's own folder."""
        return os.path.join(self._save_dir, self.name, self.version)

    @property
    def run_id(self) -> str | None:
        """The forkpoint run id, once the run is open."""
        return self._run_id

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The forkpoint ``Run`` (a handle that opens it on first use)."""
        return self._run if self._run is not None else _RunHandle(self)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        params = json_safe(params)
        if not isinstance(params, dict):
            raise UsageError(f"log_hyperparams({params!r}): expected a dict or argparse.Namespace")
        if self._run is None:
            self._hparams.update(params)
        else:
            self._run.config.update(params)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        run = self._open_run()
        if self._evaluating and step is not None and step < run.step:
            step = run.step  # a stage's own count restarted (ddp_spawn workers): its results go to the run's current step
        run.log(dict(_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)), step=step)

    @rank_zero_only
    def save(self) -> None:
        """Called after every ``log_metrics``: the background writer makes rows durable, so no-op."""

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None:
            self._run.finish(exit_code=0 if status in ("success", "finished") else 1)
            self._run = None

    def __getstate__(self) -> dict[str, Any]:
        if multiprocessing.context.get_spawning_popen() is not None:
            self._hand_over()
        state = self.__dict__.copy()
        state["_run"] = None  # picklable; the copy reopens by id (in this process: the same Run)
        return state

    def _hand_over(self) -> None:
        """Pickled for a spawned process (``ddp_spawn``): fix the run id now, so that the workers'
        rank 0 and this process's later stages (``test()`` after ``fit``) write one run; and finish
        a run this process has open, so that rank 0 can take it over (a live run has one writer)."""
        if self._run_id is None:
            self._run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        if self._run is not None:
            self._run.finish()
            self._run = None

    # -- opening the run ------------------------------------------------------------------------
    def _open_run(self) -> forkpoint.Run:
        if self._run is not None:
            return self._run
        config = {**self.options.user_config, **self._hparams}
        restore, self._restore = self._restore, None
        if restore is None:  # a new run, or reopen (a later stage, a user-given id, an unpickled copy)
            run = self.options.start(config, reopen=self._run_id)
            if self._hparams:
                run.config.update(self._hparams)
        else:
            run = self._branch(restore, config)
        self._run, self._run_id, self._hparams = run, run.id, {}
        return run

    def _branch(self, restore: dict[str, Any], config: dict[str, Any]) -> forkpoint.Run:
        """Map a checkpoint restore to rewind or fork at ``global_step - 1``."""
        saved, cut = restore.get("run_id"), restore["global_step"]
        run = None
        if saved is None:
            warnings.warn(
                f"checkpoint {restore.get('path')!r} has no forkpoint state (saved weights-only, or without "
                "ForkpointLogger): starting a new run instead of rewinding", ForkpointWarning, stacklevel=3)
        elif cut >= 1:
            run = self.options.restore(saved, cut - 1, config)
            if run is None:
                warnings.warn(f"checkpoint names run {saved!r}, which is not in the store: starting a new run",
                              ForkpointWarning, stacklevel=3)
        return run or self.options.new(config)


class ForkpointCheckpoint(Callback):
    """Puts ``{run_id, global_step}`` into checkpoints and turns a restore into a rewind or fork.

    Added to every Trainer by the ``callbacks_factory`` entry point; inert without a ForkpointLogger.
    """

    @property
    def state_key(self) -> str:
        return "ForkpointCheckpoint"

    @staticmethod
    def _loggers(trainer: Any) -> list[ForkpointLogger]:
        return [lg for lg in trainer.loggers if isinstance(lg, ForkpointLogger)]

    def _acts(self, trainer: Any) -> bool:
        mine = [cb for cb in trainer.callbacks if isinstance(cb, ForkpointCheckpoint)]
        return bool(mine) and mine[0] is self and bool(self._loggers(trainer))

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if not self._acts(trainer):
            return
        loggers = self._loggers(trainer)
        for lg in loggers:
            if lg._run is not None:
                lg._run.flush()  # rows up to the checkpoint are durable before the checkpoint exists
        checkpoint[CKPT_KEY] = {"format": 1, "global_step": int(trainer.global_step),
                                "runs": [lg.run_id for lg in loggers]}

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if not self._acts(trainer) or trainer.state.fn != TrainerFn.FITTING:
            return
        state = checkpoint.get(CKPT_KEY) or {}
        runs = state.get("runs") or []
        step = state.get("global_step", checkpoint.get("global_step", 0))
        for i, lg in enumerate(self._loggers(trainer)):
            lg._restore = {"run_id": runs[i] if i < len(runs) else None, "global_step": int(step),
                           "path": getattr(trainer, "ckpt_path", None)}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if self._acts(trainer) and trainer.is_global_zero:
            for lg in self._loggers(trainer):
                lg._open_run()

    def _stage(self, trainer: Any, active: bool) -> None:
        if self._acts(trainer):
            for lg in self._loggers(trainer):
                lg._evaluating = active and trainer.state.fn != TrainerFn.FITTING

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, True)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, True)

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, True)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, False)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, False)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._stage(trainer, False)


def callbacks_factory() -> list[Callback]:
    """Entry point ``lightning.pytorch.callbacks_factory``: the companion callback for every Trainer."""
    return [ForkpointCheckpoint()] if PACKAGE == "lightning.pytorch" else []


def callbacks_factory_pl() -> list[Callback]:
    """Entry point ``pytorch_lightning.callbacks_factory`` (used only when bound to that package)."""
    return [ForkpointCheckpoint()] if PACKAGE == "pytorch_lightning" else []


__all__ = ["ForkpointCheckpoint", "ForkpointLogger", "callbacks_factory"]
