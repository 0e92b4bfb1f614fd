"""``forkpoint.init``: check every argument, then start the run the arguments describe.

All checks happen before anything is written, so a bad call leaves the store untouched.
"""

from __future__ import annotations

import math
import os
from typing import Any

from . import branch, lifecycle
from .config import to_plain
from .errors import RunNotFoundError, UsageError
from .run import Run
from .spec import RunSpec, check_project, check_run_id
from .store import Store, open_store

DEFAULT_PROJECT = "default"
_RESUME = (None, "allow", "must", "never")


def _spec(value: Any, what: str) -> RunSpec | None:
    if value is None:
        return None
    if isinstance(value, RunSpec):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{what}={value!r} is not a run spec: expected '<run_id>?_step=<N>'")
    return RunSpec.parse(value)


def init(project: str | None = None, name: str | None = None, config: Any = None, *, id: str | None = None,
         resume: str | None = None, resume_from: str | RunSpec | None = None,
         fork_from: str | RunSpec | None = None, inherit_config: bool = True, tags: list[str] | None = None,
         notes: str | None = None, store: "str | os.PathLike[str] | Store | None" = None,
         on_step_regression: str = "warn", flush_interval: float = 1.0, capture_console: bool = False,
         system_metrics: float | None = None) -> Run:
    """Start a run: new, resumed (``id`` + ``resume``), rewound (``resume_from``) or forked (``fork_from``).

    - ``resume_from="<id>?_step=N"``: same run; visible history keeps rows ``<= N``; the rest stays in
      an archived branch; logging continues at N+1. Works on finished and crashed runs.
    - ``fork_from="<id>?_step=N"``: a new run (``id`` or a random one) that shows the parent's rows
      ``<= N`` and then its own. Calling it again with the same ``id`` resumes that fork.
    - ``config`` is deep-merged over the run's (rewind, resume) or the parent's (fork, unless
      ``inherit_config=False``) config.
    - ``capture_console=True`` records stdout/stderr per step; ``system_metrics=<seconds>`` samples
      CPU and memory; both follow rewinds and forks like metrics (see ``extras.py``).
    """
    if project is not None:
        check_project(project)
    if id is not None:
        check_run_id(id)
    if name is not None and not isinstance(name, str):
        raise UsageError(f"name={name!r} is not a str")
    if notes is not None and not isinstance(notes, str):
        raise UsageError(f"notes={notes!r} is not a str")
    if tags is not None:
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise UsageError(f"tags={tags!r} is not a list of str")
        tags = list(tags)
    if resume not in _RESUME:
        raise UsageError(f"resume={resume!r}: expected None, 'allow', 'must' or 'never'")
    if on_step_regression not in ("warn", "raise"):
        raise UsageError(f"on_step_regression={on_step_regression!r}: expected 'warn' or 'raise'")
    if isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float)) \
            or not math.isfinite(flush_interval) or flush_interval < 0:
        raise UsageError(f"flush_interval={flush_interval!r}: expected a number of seconds >= 0 (0 = durable at return)")
    rewind_at = _spec(resume_from, "resume_from")
    fork_at = _spec(fork_from, "fork_from")
    if rewind_at and fork_at:
        raise UsageError("resume_from and fork_from are exclusive: resume_from rewinds a run, fork_from starts a new one")
    if resume is not None and (rewind_at or fork_at):
        which = "resume_from" if rewind_at else "fork_from"
        raise UsageError(
            f"resume={resume!r} cannot be combined with {which}: {which} already says where to continue "
            "(a repeated fork_from with the same id resumes that fork)")
    if rewind_at and id is not None and id != rewind_at.run_id:
        raise UsageError(f"id={id!r} differs from the run in resume_from={str(rewind_at)!r}: a rewind keeps the run's id")
    if rewind_at and rewind_at.archive is not None:
        raise UsageError(
            f"resume_from={str(rewind_at)!r} names an archived branch: fork it instead (fork_from=...)")
    if fork_at and id is not None and id == fork_at.run_id:
        raise UsageError(f"id={id!r} is the run being forked; to rewind it use resume_from={str(fork_at)!r}")
    if system_metrics is not None and (isinstance(system_metrics, bool) or not isinstance(system_metrics, (int, float))
                                       or not math.isfinite(system_metrics) or system_metrics <= 0):
        raise UsageError(f"system_metrics={system_metrics!r}: expected a sampling interval in seconds > 0, or None")
    if not isinstance(inherit_config, bool):
        raise UsageError(f"inherit_config={inherit_config!r} is not a bool")
    cfg = to_plain(config)
    if rewind_at and project is None:
        project = rewind_at.project

    st = open_store(store)
    kw = dict(name=name, config=cfg, tags=tags, notes=notes)
    if rewind_at:
        _flush_open(rewind_at.run_id)
        started = branch.rewind(st, rewind_at, project=project, **kw)
    elif fork_at:
        _flush_open(fork_at.run_id)
        started = branch.fork(st, fork_at, run_id=id, project=project or fork_at.project,
                              inherit_config=inherit_config, **kw)
    elif id is not None and resume in ("allow", "must") and st.get_run(id) is not None:
        started = branch.resume(st, id, project=project, **kw)
    else:
        if resume == "must":
            if id is None:
                raise UsageError("resume='must' needs id=... (the run to continue)")
            raise RunNotFoundError(f"resume='must' but run {id!r} does not exist in store {st.url}")
        started = branch.create(st, run_id=id, project=project or os.environ.get("FORKPOINT_PROJECT") or DEFAULT_PROJECT,
                                **kw)
    return Run(st, started, on_step_regression=on_step_regression, flush_interval=float(flush_interval),
               capture_console=bool(capture_console), system_metrics=system_metrics)


def _flush_open(run_id: str) -> None:
    """A branch from a run this process still writes must see its queued rows."""
    for run in lifecycle.open_runs():
        if run.id == run_id:
            run.flush()
