"""forkpoint: track training runs that get interrupted, resumed and branched.

``init(resume_from="<id>?_step=N")`` rewinds a run, ``init(fork_from="<id>?_step=N")`` forks it;
see docs/semantics.md. Where things live: ``branch.py`` (rewind, fork, resume), ``lineage.py``
(reading through segments), ``run.py`` (logging), ``store/`` (SQLite, PostgreSQL).
"""

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
from .run import Run
from .spec import RunSpec
from .start import init

__version__ = "0.1.0"

__all__ = [
                     "Api",
                     "BranchPoint",
                     "ForkpointError",
                     "ForkpointWarning",
                     "Run",
                     "RunInUseError",
                     "RunNotFoundError",
                     "RunSpec",
                     "RunView",
                     "SpecError",
                     "StepError",
                     "StepRegressionWarning",
                     "StoreError",
                     "UsageError",
                     "init",
]
