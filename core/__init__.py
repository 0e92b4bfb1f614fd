"""forkpoint: track training runs that get interrupted, resumed and branched.

``init(resume_from="<id>?_step=N")`` rewinds a run, ``init(fork_from="<id>?_step=N")`` forks it;
see docs/semantics.md. Where things live: ``branch.py`` (rewind, fork, resume), ``lineage.py``
(reading through segments), ``run.py`` (logging), ``store/`` (SQLite, PostgreSQL).

``import forkpoint as wandb`` works: the module has W&B's names (``init``, ``log``, ``finish``,
``define_metric``, ``Image``, ``Histogram``, ``Table``, ``Api``, ...), and ``forkpoint.run``,
``forkpoint.config`` and ``forkpoint.summary`` are the current run's (``current.py``,
``wandb_api.py``; docs/wandb.md). The submodules ``run`` and ``config`` stay importable by their
full names (``from forkpoint.config import ...``); as attributes of the package, those names are
the current run's, as in W&B (so ``import forkpoint.run as m`` binds the current run, not the module).
"""

from typing import Any

from .api import Api, RunView
from .errors import (
    ForkpointError,
    ForkpointWarning,
    RunInUseError,
    RunNotFoundError,
    SpecError,
    StepError,
    StepRegressionWarning,
    StoreError,
    UsageError,
)
from .lineage import BranchPoint
from .media import Histogram, Image, Table
from .run import Run
from .spec import RunSpec
from .start import init
from .wandb_api import (
    AlertLevel,
    Error,
    Settings,
    alert,
    define_metric,
    finish,
    log,
    log_artifact,
    login,
    save,
    termerror,
    termlog,
    termwarn,
    unwatch,
    watch,
)

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "BranchPoint",
    "Error",
    "ForkpointError",
    "ForkpointWarning",
    "Histogram",
    "Image",
    "Run",
    "RunInUseError",
    "RunNotFoundError",
    "RunSpec",
    "RunView",
    "Settings",
    "SpecError",
    "StepError",
    "StepRegressionWarning",
    "StoreError",
    "Table",
    "UsageError",
    "alert",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "save",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "watch",
]

# The submodules run.py and config.py were bound here as attributes when imported; drop those
# bindings so the names resolve through __getattr__ to the current run's (W&B's wandb.run).
for _name in ("run", "config", "summary"):
    globals().pop(_name, None)
del _name


def __getattr__(name: str) -> Any:
    if name in ("run", "config", "summary"):
        from .wandb_api import module_attribute

        return module_attribute(name)
    from .wandb_api import UNSUPPORTED, unsupported

    if name in UNSUPPORTED:
        raise unsupported(name)
    raise AttributeError(f"module 'forkpoint' has no attribute {name!r}")
