"""``init(mode="disabled")``: a run that writes nothing (W&B's mode for tests and dry runs).

It has a ``Run``'s interface so a script runs unchanged: ``log()`` checks nothing and stores
nothing but moves the step as a real run would; ``config`` and ``summary`` live in memory only; no
store is opened or created, no thread is started.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, Mapping

from . import current
from .metrics import MetricDef
from .run import Config, Summary, check_define


class DisabledRun:
    """What ``init(mode="disabled")`` returns."""

    mode = "disabled"
    disabled = True
    offline = False
    resumed = False
    kind = "run"
    parent = None
    dropped_steps = pending = rejected_rows = 0

    def __init__(self, project: str | None, name: str | None, config: dict[str, Any], *, entity: str | None,
                 group: str | None, job_type: str | None, tags: list[str] | None, notes: str | None,
                 run_id: str | None) -> None:
        self.id = run_id or "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        self.project = project or "default"
        self.name = name or self.id
        self.entity, self.group, self.job_type = entity, group, job_type
        self.tags, self.notes = list(tags or []), notes
        self.starting_step = self._step = 0
        self.config = Config(dict(config), lambda data: None)
        self._auto: dict[str, Any] = {}
        self.summary = Summary(self._auto, {}, lambda data: None)
        self._finished = False

    @property
    def step(self) -> int:
        return self._step

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Stores nothing; the step moves as in a real run."""
        if step is not None and isinstance(step, int) and step > self._step:
            self._step = step
        elif step is None and commit:
            self._step += 1

    def define_metric(self, name: str, step_metric: str | bool | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> MetricDef:
        return check_define(name, step_metric, step_sync, hidden, summary, goal, overwrite)

    def log_artifact(self, path: str, name: str | None = None, step: int | None = None) -> None:
        pass

    def flush(self) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        self._finished = True
        current.forget(self)

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)

    def __repr__(self) -> str:
        return f"<forkpoint.Run {self.project}/{self.id} disabled>"
