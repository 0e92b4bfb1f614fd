"""Keras 3: ``backup = BackupAndRestore(d)``, then
``model.fit(..., callbacks=[backup, ForkpointCallback(project="p", savers=[backup])])``.

Also the ``ModelCheckpoint`` + ``load_model``/``load_weights`` + ``fit(initial_epoch=...)`` path.
Tested with ``KERAS_BACKEND=torch``; the hooks used are the same on tensorflow and jax (untested).

How it fits Keras (3.15; details in shared/research/framework-hooks.md, part B):

- Steps: batch metrics go to ``_step = optimizer.iterations`` after the update (the first batch is
  step 1), as ``batch/<name>``. Epoch metrics (validation included) go to the step of the epoch's
  last update, as ``epoch/<name>``, with ``epoch`` (0-based, as Keras counts) declared a step
  metric, so ``"<id>?epoch=2"`` specs work.
- The sidecar: ``forkpoint.json`` holds the run id and the iteration count at each save. It is
  written atomically (temp file + rename) beside the files of the savers named in ``savers=``
  (``BackupAndRestore``'s backup dir, ``ModelCheckpoint``'s folder), or in ``state_dir`` when
  given, else in ``./forkpoint-runs/keras/<project>/<id or name>``. Keras hands a callback only
  the model and the fit's params, never the other callbacks, so the savers are named explicitly.
  The run's rows are flushed at each save of those savers (their ``save_freq`` is mirrored) and
  at each epoch end, so rows up to the saved iteration are durable before the backup exists.
- The decision waits for the first ``on_train_batch_begin``: only then are ``iterations`` and the
  initial epoch final, whatever the callback order and however the model was restored. If the
  sidecar names a run and the model's restored ``iterations`` is below that run's last step, the run
  is rewound to ``iterations`` (``on_resume="rewind"``), forked there (``"fork"``), or forked only
  if the config differs (``"auto"``). No sidecar, or a fresh model (``iterations == 0``): a new run.
- After ``fit`` the run stays open (its rows flushed), so ``model.evaluate(..., callbacks=[cb])``
  lands in the run at the last step, merged into that row as ``eval/<name>``. It is finished by
  ``cb.finish()``, by the next ``fit`` that restores an earlier state, or at process exit
  (``finished``; ``crashed`` if the process dies of an exception).
- Keras restarts the epoch at batch 0 after a mid-epoch backup, while ``iterations`` goes on. So
  a run resumed from a ``save_freq=<batches>`` backup runs more iterations than an uninterrupted
  one. Its history is still exact: rows up to the restored iteration are kept, the abandoned rows
  go to the archived branch, and then it shows what Keras ran. Epoch-level backups and
  checkpoints give point-for-point the history of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any, Mapping, Sequence

import forkpoint
import keras
from forkpoint.config import json_safe
from forkpoint.errors import ForkpointWarning, UsageError
from forkpoint.restore import PluginOptions

SIDECAR = "forkpoint.json"


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if isinstance(v, int) and not isinstance(v, bool) else f


class _SaveMirror:
    """Mirrors a Keras saver's batch schedule (``_should_save_on_batch``) to know when it saves."""

    def __init__(self, every: int) -> None:
        self.every, self.seen, self.last = every, 0, 0

    def due(self, batch: int) -> bool:
        add = batch + 1 if batch <= self.last else batch - self.last
        self.seen += add
        self.last = batch
        if self.seen >= self.every:
            self.seen = 0
            return True
        return False


class ForkpointCallback(keras.callbacks.Callback):
    """Logs Keras training to a forkpoint run; a restored backup or checkpoint rewinds or forks it."""

    def __init__(self, project: str | None = None, name: str | None = None, *, id: str | None = None,
                 config: Mapping[str, Any] | None = None, tags: list[str] | None = None, notes: str | None = None,
                 store: str | None = None, on_resume: str = "rewind", state_dir: str | os.PathLike[str] | None = None,
                 savers: Sequence[keras.callbacks.Callback] = (), flush_interval: float = 1.0) -> None:
        super().__init__()
        self.options = PluginOptions(project=project, name=name, id=id, config=config, tags=tags, notes=notes,
                                     store=store, on_resume=on_resume, flush_interval=flush_interval,
                                     step_metric="epoch")
        self.state_dir = os.fspath(state_dir) if state_dir is not None else None
        self.run: forkpoint.Run | None = None
        self._dirs: list[str] = []
        self._savers = list(savers)
        for cb in self._savers:
            if not isinstance(cb, (keras.callbacks.BackupAndRestore, keras.callbacks.ModelCheckpoint)):
                raise UsageError(f"savers: {cb!r} is not a keras.callbacks.BackupAndRestore or ModelCheckpoint")
        self._mirrors: list[_SaveMirror] = []
        self._epoch = 0
        self._fitting = False
        self._decided = False  # whether this fit's first batch has chosen the run

    # -- where the sidecar lives ------------------------------------------------------------------
    def _plan_saves(self) -> None:
        """The sidecar's folders and the batch schedules of the savers named in ``savers=``."""
        dirs: list[str] = []
        self._mirrors = []
        for cb in self._savers:
            if isinstance(cb, keras.callbacks.BackupAndRestore):
                dirs.append(str(cb.backup_dir))
            else:
                dirs.append(os.path.dirname(os.path.abspath(str(cb.filepath))))
            if isinstance(cb.save_freq, int):
                self._mirrors.append(_SaveMirror(cb.save_freq))
        if self.state_dir:
            dirs = [self.state_dir]
        if not dirs:
            o = self.options
            dirs = [os.path.join("forkpoint-runs", "keras", o.project or "default", o.id or o.name or "run")]
        self._dirs = dirs

    def _read_sidecar(self) -> dict[str, Any] | None:
        for d in self._dirs:
            try:
                with open(os.path.join(d, SIDECAR)) as f:
                    return json.load(f)
            except (OSError, ValueError):
                continue
        return None

    def _save_point(self) -> None:
        """A save happens now: make the rows durable, then record the run id and iteration."""
        if self.run is None:
            return
        self.run.flush()
        it = self._iterations()
        for d in self._dirs:
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, SIDECAR)
            try:
                with open(path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                state = {}
            if state.get("run_id") != self.run.id:
                state = {"format": 1, "run_id": self.run.id, "project": self.run.project, "saves": []}
            state["saves"] = (state["saves"] + [{"iterations": it, "epoch": self._epoch}])[-100:]
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".forkpoint-")
            with os.fdopen(fd, "w") as f:
                json.dump(state, f)
            os.replace(tmp, path)

    # -- the run ----------------------------------------------------------------------------------
    def _iterations(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None:
            ocfg = json_safe(opt.get_config())
            # not its name: Keras numbers it per process (sgd, sgd_1), which is no hyperparameter
            cfg["optimizer"] = {k: v for k, v in ocfg.items() if k in (
                "learning_rate", "weight_decay", "momentum", "beta_1", "beta_2", "epsilon", "clipnorm",
                "clipvalue", "global_clipnorm", "nesterov", "gradient_accumulation_steps")}
        cfg["model"] = {"name": self.model.name, "params": int(self.model.count_params())}
        cfg.update(self.options.user_config)
        return cfg

    def _open(self) -> forkpoint.Run:
        it = self._iterations()
        config = self._config()
        if self.run is not None:  # still open from an earlier fit/evaluate of this callback
            if self.run.step <= it:
                return self.run  # the model went on from where the run is
            self.run.finish()  # the model was restored to an earlier state: branch below
            self.run = None
        state = self._read_sidecar() if it > 0 else None
        run = None
        if state and state.get("run_id"):  # "auto" compares the optimizer's hyperparameters and config=
            run = self.options.restore(state["run_id"], it, config, hyper=["optimizer", *self.options.user_config])
        if run is None:
            if it > 0:
                warnings.warn(f"the model was restored at iteration {it} but no forkpoint sidecar names its run "
                              f"(looked in {self._dirs}): starting a new run", ForkpointWarning, stacklevel=3)
            run = self.options.start(config)
        return run

    def finish(self) -> None:
        """Finish the run (else it is finished at process exit). Another fit or evaluate reopens it."""
        if self.run is not None:
            self.run.finish()
            self.run = None

    # -- Keras hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs: Any = None) -> None:
        self._fitting, self._decided = True, False
        self._plan_saves()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if not self._decided:  # only now are iterations and the initial epoch final
            self._decided = True
            self.run = self._open()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.run is None:
            return
        row = {f"batch/{k}": v for k, v in ((k, _num(v)) for k, v in (logs or {}).items()) if v is not None}
        self.run.log(row, step=self._iterations())
        if any([m.due(batch) for m in self._mirrors]):
            self._save_point()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.run is None:
            return
        row = {f"epoch/{k}": v for k, v in ((k, _num(v)) for k, v in (logs or {}).items()) if v is not None}
        row["epoch"] = epoch
        self.run.log(row, step=self._iterations())
        self._save_point()

    def on_train_end(self, logs: Any = None) -> None:
        self._fitting = False
        if self.run is not None:
            self.run.flush()  # stays open: an evaluate() after fit lands in the last row

    def on_test_end(self, logs: Any = None) -> None:
        """``model.evaluate(..., callbacks=[cb])`` outside fit: ``eval/<name>`` at the current iteration
        (fit's own validation arrives with the epoch's row instead)."""
        if self._fitting:
            return
        if self.run is None:
            if not self._dirs:
                self._plan_saves()
            self.run = self._open()
        row = {f"eval/{k}": v for k, v in ((k, _num(v)) for k, v in (logs or {}).items()) if v is not None}
        if row:
            self.run.log(row, step=self._iterations())
