"""W&B's module-level functions (``wandb.log``, ``wandb.finish``, ...) for ``import forkpoint as wandb``.

Each acts on the current run (``current.py``). Names a W&B script commonly calls that only make
sense with W&B's servers (``login``, ``watch``, ``save``, ``alert``) are accepted and do nothing
but say so (a warning), so such a script runs unchanged and its user knows what was not done.
"""

from __future__ import annotations

import enum
import sys
import warnings
from typing import Any, Mapping

from . import current
from .errors import ForkpointError, ForkpointWarning
from .metrics import MetricDef

Error = ForkpointError  # wandb.Error


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    """``run.log`` on the current run (``sync`` is W&B's deprecated argument, ignored)."""
    current.require("log()").log(data, step=step, commit=commit is not False)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if there is one (W&B's ``wandb.finish``)."""
    run = current.get()
    if run is not None:
        run.finish(exit_code=exit_code or 0)


def define_metric(name: str, step_metric: str | bool | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                  overwrite: bool | None = None) -> MetricDef:
    """``run.define_metric`` on the current run."""
    return current.require("define_metric()").define_metric(
        name, step_metric=step_metric, step_sync=step_sync, hidden=hidden, summary=summary, goal=goal,
        overwrite=overwrite)


def log_artifact(path: str, name: str | None = None, step: int | None = None) -> None:
    """``run.log_artifact`` on the current run: records the file (path, size, sha256) at a step."""
    current.require("log_artifact()").log_artifact(path, name=name, step=step)


def _ignored(what: str, why: str) -> None:
    # Python's warning filters show it once per calling line (a training loop does not flood)
    warnings.warn(f"forkpoint.{what} is ignored: {why}", ForkpointWarning, stacklevel=3)


def login(*args: Any, **kwargs: Any) -> bool:
    """Nothing to log in to: runs are stored locally. Returns True, as W&B's does when logged in."""
    _ignored("login()", "there is no server to log in to (runs are stored locally)")
    return True


def watch(*args: Any, **kwargs: Any) -> None:
    """W&B's gradient/parameter hooks are not recorded (log what you need with ``log``)."""
    _ignored("watch()", "gradients and parameters are not recorded automatically; log what you need with log()")


def unwatch(*args: Any, **kwargs: Any) -> None:
    _ignored("unwatch()", "watch() records nothing")


def save(*args: Any, **kwargs: Any) -> None:
    """W&B uploads the files; forkpoint does not copy files (``log_artifact`` records one by hash)."""
    _ignored("save()", "files are not uploaded or copied; run.log_artifact(path) records a file by path and sha256")


class AlertLevel(str, enum.Enum):
    """W&B's alert levels, so ``wandb.alert(..., level=wandb.AlertLevel.WARN)`` runs (and is ignored)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


# W&B names forkpoint does not have: touching one says so and where the decision is written down,
# instead of a bare AttributeError. (Still an AttributeError, so hasattr() and feature checks work.)
UNSUPPORTED = {
    "Artifact": "artifact objects and versioning (log files with run.log_artifact(path): path + sha256 as history)",
    "use_artifact": "artifact objects and versioning",
    "plot": "custom charts (wandb.plot.*): log the values and chart them in `forkpoint ui`",
    "Video": "video media", "Audio": "audio media", "Html": "HTML media", "Object3D": "3-D media",
    "Molecule": "molecule media",
    "sweep": "sweeps", "agent": "sweeps", "controller": "sweeps",
    "restore": "restoring files from the W&B cloud",
    "log_model": "the model registry", "use_model": "the model registry", "link_model": "the model registry",
}


def unsupported(name: str) -> AttributeError:
    return AttributeError(f"forkpoint has no wandb.{name}: {UNSUPPORTED[name]} is not supported "
                          "(docs/wandb.md, 'Not supported')")


def alert(*args: Any, **kwargs: Any) -> None:
    _ignored("alert()", "there is no server to send alerts")


class Settings(dict):
    """W&B's ``wandb.Settings(...)``: kept as given; ``init(settings=...)`` ignores it (with a warning)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    print(("forkpoint: " if prefix else "") + str(string), end="\n" if newline else "", file=sys.stderr)


def termwarn(string: str, **kwargs: Any) -> None:
    termlog(f"WARNING {string}")


def termerror(string: str, **kwargs: Any) -> None:
    termlog(f"ERROR {string}")


class PreInit:
    """``forkpoint.config`` / ``forkpoint.summary`` before ``init``: any use says to call init first."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        return current.require(object.__getattribute__(self, "_name"))

    def __getattr__(self, key: str) -> Any:
        return self._fail()

    __setattr__ = __getitem__ = __setitem__ = __iter__ = __len__ = __contains__ = _fail

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<forkpoint.{object.__getattribute__(self, '_name')} (no run yet: call forkpoint.init())>"


PRE_INIT = {"config": PreInit("config"), "summary": PreInit("summary")}


def module_attribute(name: str) -> Any:
    """``forkpoint.run`` / ``config`` / ``summary``: the current run's, looked up on each access."""
    run = current.get()
    if name == "run":
        return run
    if run is None:
        return PRE_INIT[name]
    return getattr(run, name)
