"""``forkpoint.init``: check every argument, then start the run the arguments describe.

Two halves: ``_check`` turns the arguments into a ``Request`` (or raises, before anything is
written, so a bad call leaves the store untouched); ``_start`` dispatches it to ``branch.create``,
``resume``, ``rewind`` or ``fork``.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from . import branch, lifecycle, lineage
from .branch import Position, RunFields
from .config import to_plain
from .errors import RunNotFoundError, UsageError
from .run import Run
from .spec import RunSpec, check_project, check_run_id
from .store import Store, open_store

DEFAULT_PROJECT = "default"
_RESUME = (None, "allow", "must", "never")


@dataclass
class Request:
    """A checked ``init`` call: which run, how it starts, and its fields."""

    project: str | None
    run_id: str | None
    resume: str | None
    rewind_at: RunSpec | None
    fork_at: RunSpec | None
    inherit_config: bool
    fields: RunFields


def init(project: str | None = None, name: str | None = None, config: Any = None, *, id: str | None = None,
         resume: str | None = None, resume_from: str | RunSpec | None = None,
         fork_from: str | RunSpec | None = None, inherit_config: bool = True, tags: list[str] | None = None,
         notes: str | None = None, store: str | os.PathLike[str] | Store | None = None,
         on_step_regression: str = "warn", flush_interval: float = 1.0, capture_console: bool = False,
         system_metrics: float | None = None, quiet: bool | None = None) -> Run:
    """Start a run: new, resumed (``id`` + ``resume``), rewound (``resume_from``) or forked (``fork_from``).

    Args:
        project: project name (1-128 of ``A-Z a-z 0-9 _ . -``); default ``$FORKPOINT_PROJECT`` or
            ``"default"``; a rewind keeps the run's project.
        name: display name (default: the id).
        config: dict, argparse Namespace or dataclass; deep-merged over the run's config (rewind,
            resume) or the parent's (fork, unless ``inherit_config=False``).
        id: the run id (default: a random one). W&B's alphabet, 1-128 characters, without
            whitespace, control characters or ``/ \\ ? # % : ~``.
        resume: ``"allow"`` continues run ``id`` if it exists, ``"must"`` requires it, ``"never"``
            or None start a new run.
        resume_from: ``"<id>?_step=N"``: rewind: the same run keeps rows ``<= N``, the rest stays in
            the archived branch ``<id>~k``; logging continues at N+1. Works on finished and crashed runs.
        fork_from: ``"<id>?_step=N"``: a new run that shows the parent's rows ``<= N`` and then its
            own. Calling it again with the same ``id`` resumes that fork.
        inherit_config: whether a fork starts from its parent's config.
        tags, notes: kept from the run unless given.
        store: path, ``sqlite:///path``, ``postgresql://...`` or a Store (default
            ``$FORKPOINT_STORE``, else ``./forkpoint-runs/runs.db``).
        on_step_regression: ``"warn"`` (drop the row, count it) or ``"raise"`` for ``log(step=s)``
            below the current step.
        flush_interval: seconds between background commits; 0 makes every ``log()`` durable at return.
        capture_console: record stdout/stderr per step.
        system_metrics: sample CPU and memory every this many seconds.
        quiet: do not print the one line saying where the run is stored (default
            ``$FORKPOINT_QUIET``).

    Returns:
        The live ``Run``; use it as a context manager or call ``finish()``.
    """
    req = _check(project, name, config, id, resume, resume_from, fork_from, inherit_config, tags, notes)
    _check_run_options(on_step_regression, flush_interval, system_metrics)
    st = open_store(store)
    at = _start(st, req)
    if not (quiet if quiet is not None else os.environ.get("FORKPOINT_QUIET", "") not in ("", "0")):
        print(where_line(at, st), file=sys.stderr)  # before console capture starts
    return Run(st, at, on_step_regression=on_step_regression, flush_interval=float(flush_interval),
               capture_console=bool(capture_console), system_metrics=system_metrics)


def _spec(value: Any, what: str) -> RunSpec | None:
    if value is None:
        return None
    if isinstance(value, RunSpec):
        return value  # RunSpec objects are checked when built, exactly like parsed strings
    if not isinstance(value, str):
        raise UsageError(f"{what}={value!r} is not a run spec: expected '<run_id>?_step=<N>'")
    return RunSpec.parse(value)


def _check(project: Any, name: Any, config: Any, run_id: Any, resume: Any, resume_from: Any, fork_from: Any,
           inherit_config: Any, tags: Any, notes: Any) -> Request:
    if project is not None:
        check_project(project)
    if run_id is not None:
        check_run_id(run_id)
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
    if not isinstance(inherit_config, bool):
        raise UsageError(f"inherit_config={inherit_config!r} is not a bool")
    rewind_at = _spec(resume_from, "resume_from")
    fork_at = _spec(fork_from, "fork_from")
    _check_lineage(run_id, resume, rewind_at, fork_at)
    if rewind_at and project is None:
        project = rewind_at.project
    return Request(project, run_id, resume, rewind_at, fork_at, inherit_config,
                   RunFields(name=name, config=to_plain(config), tags=tags, notes=notes))


def _check_lineage(run_id: str | None, resume: str | None, rewind_at: RunSpec | None, fork_at: RunSpec | None) -> None:
    if rewind_at and fork_at:
        raise UsageError("resume_from and fork_from are exclusive: resume_from rewinds a run, fork_from starts a new one")
    if resume is not None and (rewind_at or fork_at):
        which = "resume_from" if rewind_at else "fork_from"
        raise UsageError(
            f"resume={resume!r} cannot be combined with {which}: {which} already says where to continue"
            + (" (a repeated fork_from with the same id resumes that fork)" if fork_at else
               " (resume_from continues the same run after the step it names)"))
    if rewind_at and run_id is not None and run_id != rewind_at.run_id:
        raise UsageError(f"id={run_id!r} differs from the run in resume_from={str(rewind_at)!r}: a rewind keeps the run's id")
    if rewind_at and rewind_at.archive is not None:
        raise UsageError(f"resume_from={str(rewind_at)!r} names an archived branch: fork it instead (fork_from=...)")
    if fork_at and run_id is not None and run_id == fork_at.run_id:
        raise UsageError(f"id={run_id!r} is the run being forked; to rewind it use resume_from={str(fork_at)!r}")


def _check_run_options(on_step_regression: Any, flush_interval: Any, system_metrics: Any) -> None:
    if on_step_regression not in ("warn", "raise"):
        raise UsageError(f"on_step_regression={on_step_regression!r}: expected 'warn' or 'raise'")
    if isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float)) \
            or not math.isfinite(flush_interval) or flush_interval < 0:
        raise UsageError(f"flush_interval={flush_interval!r}: expected a number of seconds >= 0 (0 = durable at return)")
    if system_metrics is not None and (isinstance(system_metrics, bool) or not isinstance(system_metrics, (int, float))
                                       or not math.isfinite(system_metrics) or system_metrics <= 0):
        raise UsageError(f"system_metrics={system_metrics!r}: expected a sampling interval in seconds > 0, or None")


def _start(st: Store, req: Request) -> Position:
    """Dispatch a checked request: rewind, fork, resume or create."""
    if req.rewind_at:
        _flush_open(req.rewind_at.run_id)
        return branch.rewind(st, req.rewind_at, req.project, req.fields)
    if req.fork_at:
        _flush_open(req.fork_at.run_id)
        return branch.fork(st, req.fork_at, req.run_id, req.project or req.fork_at.project, req.fields,
                           req.inherit_config)
    if req.run_id is not None and req.resume in ("allow", "must") and st.get_run(req.run_id) is not None:
        return branch.resume(st, req.run_id, req.project, req.fields)
    if req.resume == "must":
        if req.run_id is None:
            raise UsageError("resume='must' needs id=... (the run to continue)")
        raise RunNotFoundError(f"resume='must' but run {req.run_id!r} does not exist in store {st.url}")
    project = req.project or os.environ.get("FORKPOINT_PROJECT") or DEFAULT_PROJECT
    return branch.create(st, req.run_id, project, req.fields)


def _flush_open(run_id: str) -> None:
    """A branch from a run this process still writes must see its queued rows."""
    run = lifecycle.live(run_id)
    if run is not None:
        run.flush()


def where_line(at: Position, st: Store) -> str:
    """The one line ``init`` prints: where the run is stored and the command that shows it."""
    cli = shutil.which("forkpoint")
    if cli is None or os.path.dirname(cli) != os.path.dirname(sys.executable):
        cli = f"{sys.executable} -m forkpoint"
    where = st.url[len("sqlite:///"):] if st.url.startswith("sqlite:///") else st.url
    return (f"forkpoint: run {at.run.id} ({lineage.kind(at.run, at.segment)}, project {at.run.project}) in {where}; "
            f"see it: {cli} ui --store {where}  (FORKPOINT_QUIET=1 silences this line)")
