"""``forkpoint.init``: check every argument, then start the run the arguments describe.

Two halves: ``_check`` turns the arguments into a ``Request`` (or raises, before anything is
written, so a bad call leaves the store untouched); ``_start`` dispatches it to ``branch.create``,
``resume``, ``rewind`` or ``fork``.

``init`` takes W&B's arguments with W&B's meaning (``import forkpoint as wandb``): ``entity``,
``group``, ``job_type`` are stored with the run; ``mode`` "online"/"offline" both write locally and
"disabled" returns a run that writes nothing; ``resume`` also takes True/False/"auto"; ``reinit``
says what happens to the current run. Arguments that only matter to W&B's cloud are accepted with
one warning naming them. Where forkpoint differs from W&B, docs/wandb.md says so and why.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from . import branch, current, lifecycle, lineage
from .branch import Position, RunFields
from .config import to_plain
from .disabled import DisabledRun
from .errors import ForkpointWarning, RunNotFoundError, UsageError
from .owner import effective_state
from .run import Run
from .spec import RunSpec, check_project, check_run_id
from .store import Store, open_store

DEFAULT_PROJECT = "default"
_RESUME = (None, "allow", "must", "never", "auto")
_MODES = {None: "online", "online": "online", "run": "online", "offline": "offline", "dryrun": "offline",
          "disabled": "disabled"}
_REINIT = (None, False, True, "default", "return_previous", "finish_previous", "create_new")
# Arguments that only matter to W&B's servers: accepted, ignored, named in one warning.
CLOUD_ONLY = ("settings", "save_code", "sync_tensorboard", "tensorboard", "monitor_gym", "force", "anonymous")


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


def init(project: str | None = None, name: str | None = None, config: Any = None, *, entity: str | None = None,
         id: str | None = None, group: str | None = None, job_type: str | None = None,
         resume: str | bool | None = None, resume_from: str | RunSpec | None = None,
         fork_from: str | RunSpec | None = None, inherit_config: bool = True, tags: list[str] | None = None,
         notes: str | None = None, config_exclude_keys: list[str] | None = None,
         config_include_keys: list[str] | None = None, allow_val_change: bool | None = None,
         mode: str | None = None, dir: str | os.PathLike[str] | None = None, reinit: bool | str | None = None,
         store: str | os.PathLike[str] | Store | None = None,
         on_step_regression: str = "warn", flush_interval: float = 1.0, capture_console: bool = False,
         system_metrics: float | None = None, quiet: bool | None = None,
         settings: Any = None, save_code: Any = None, sync_tensorboard: Any = None, tensorboard: Any = None,
         monitor_gym: Any = None, force: Any = None, anonymous: Any = None) -> Run:
    """Start a run: new, resumed (``id`` + ``resume``), rewound (``resume_from``) or forked (``fork_from``).

    Args:
        project: project name (1-128 of ``A-Z a-z 0-9 _ . -``); default ``$FORKPOINT_PROJECT`` or
            ``"default"``; a rewind keeps the run's project.
        name: display name (default: the id).
        config: dict, argparse Namespace or dataclass (nested dicts allowed); deep-merged over the
            run's config (rewind, resume) or the parent's (fork, unless ``inherit_config=False``).
        entity, group, job_type: W&B's fields, stored with the run (``run.entity``, ``run.group``,
            ``run.job_type``); kept from the run on resume and rewind unless given; a fork keeps its
            parent's entity unless given.
        id: the run id (default: a random one). W&B's alphabet, 1-128 characters, without
            whitespace, control characters or ``/ \\ ? # % : ~``.
        resume: ``"allow"`` continues run ``id`` if it exists, ``"must"`` requires it, ``"never"``
            or None start a new run. ``"auto"`` (or True): continue the run this folder (``dir``)
            started last if it did not finish cleanly, else start a new one; with ``id``, as "allow".
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
        config_exclude_keys, config_include_keys: top-level config keys to leave out / to keep only.
        allow_val_change: False makes changing a config value already set an error (W&B's default);
            None (forkpoint's default) and True let later updates change values.
        mode: "online" or "offline" (both write to the store), "disabled" (a run that writes
            nothing; also ``$WANDB_MODE``).
        dir: with no ``store``/``$FORKPOINT_STORE``, the store is ``<dir>/forkpoint-runs/runs.db``
            (W&B's ``dir``: where the run's files go); also where ``resume="auto"`` looks.
        reinit: when a run is current: None/False/"default" start the new run and make it current
            (the previous one stays open); True/"finish_previous" finish it first;
            "return_previous" return it; "create_new" start a run that does not become current.
        settings, save_code, sync_tensorboard, tensorboard, monitor_gym, force, anonymous: W&B
            cloud options; accepted and ignored, with one warning naming them.

    Returns:
        The live ``Run`` (also ``forkpoint.run``); use it as a context manager or call ``finish()``.
    """
    ignored = [n for n, v in zip(CLOUD_ONLY, (settings, save_code, sync_tensorboard, tensorboard, monitor_gym,
                                              force, anonymous)) if v is not None]
    resume = _resume_value(resume)
    mode_name = _mode(mode)
    req = _check(project, name, _filter_config(config, config_exclude_keys, config_include_keys), id, resume,
                 resume_from, fork_from, inherit_config, tags, notes)
    extra = _check_wandb_fields(entity, group, job_type, reinit, allow_val_change, dir)
    _check_run_options(on_step_regression, flush_interval, system_metrics)
    if ignored:
        warnings.warn(f"forkpoint.init: ignoring {', '.join(ignored)}: W&B cloud options, with no meaning for "
                      "runs stored locally", ForkpointWarning, stacklevel=2)
    previous = current.get()
    if previous is not None and reinit == "return_previous":
        return previous
    if previous is not None and reinit in (True, "finish_previous"):
        previous.finish()
    if mode_name == "disabled":
        run: Any = DisabledRun(req.project or os.environ.get("FORKPOINT_PROJECT") or DEFAULT_PROJECT,
                               req.fields.name, req.fields.config, entity=entity, group=group, job_type=job_type,
                               tags=req.fields.tags, notes=req.fields.notes, run_id=req.run_id)
    else:
        run = _open(req, extra, store, dir, mode_name, allow_val_change, quiet, on_step_regression=on_step_regression,
                    flush_interval=float(flush_interval), capture_console=bool(capture_console),
                    system_metrics=system_metrics)
    if reinit != "create_new":
        current.set(run)
    return run


def _open(req: Request, extra: dict[str, Any], store: Any, folder: Any, mode: str, allow_val_change: bool | None,
          quiet: bool | None, **options: Any) -> Run:
    """Open the store, start the run (``_start``), store the W&B fields, return the live ``Run``."""
    if store is None and folder is not None and not os.environ.get("FORKPOINT_STORE"):
        store = os.path.join(os.fspath(folder), "forkpoint-runs", "runs.db")
    st = open_store(store)
    marker = None
    if req.resume == "auto":
        marker = current.resume_marker_path(os.fspath(folder) if folder is not None else os.getcwd())
        req = _auto_resume(st, req, marker)
    resumed = req.resume in ("allow", "must") and req.run_id is not None and st.get_run(req.run_id) is not None
    at = _start(st, req)
    changes = {k: v for k, v in extra.items() if v is not None}
    if "entity" not in changes and req.fork_at is not None and at.run.origin == "fork" and at.run.entity is None:
        parent = st.get_run(req.fork_at.run_id)
        if parent is not None and parent.entity is not None:
            changes["entity"] = parent.entity  # a fork stays in its parent's entity
    if changes:
        with st.transaction():
            st.update_run(at.run.id, **changes)
        for k, v in changes.items():
            setattr(at.run, k, v)
    if not (quiet if quiet is not None else os.environ.get("FORKPOINT_QUIET", "") not in ("", "0")):
        print(where_line(at, st), file=sys.stderr)  # before console capture starts
    run = Run(st, at, allow_val_change=allow_val_change, mode=mode, **options)
    run.resumed = resumed
    if marker is not None:
        current.write_resume_marker(marker, st.url, run.id)
        run._resume_marker = marker
    return run


def _auto_resume(st: Store, req: Request, marker: str) -> Request:
    """``resume="auto"``: with an id, as "allow"; without, continue the run the folder's marker
    names if it exists and did not finish cleanly, else start a new run."""
    run_id = req.run_id
    if run_id is None:
        named = current.read_resume_marker(marker, st.url)
        rec = st.get_run(named) if named is not None else None
        if rec is not None and effective_state(rec) != "finished" and (req.project is None or rec.project == req.project):
            run_id = named
    if run_id is None:
        return Request(req.project, None, None, None, None, req.inherit_config, req.fields)
    return Request(req.project, run_id, "allow", None, None, req.inherit_config, req.fields)


def _resume_value(resume: Any) -> Any:
    """W&B's deprecated booleans: True is "auto", False is the default (a new run)."""
    if resume is True:
        return "auto"
    if resume is False:
        return None
    return resume


def _mode(mode: Any) -> str:
    if mode is None:
        mode = os.environ.get("WANDB_MODE") or None
    if mode == "shared":
        raise UsageError("mode='shared' (several processes writing one run) is not supported: a run has one "
                         "writing process; give each process its own run (e.g. the same group=)")
    if not isinstance(mode, (str, type(None))) or mode not in _MODES:
        raise UsageError(f"mode={mode!r}: expected 'online', 'offline' or 'disabled' (also from $WANDB_MODE)")
    return _MODES[mode]


def _filter_config(config: Any, exclude: Any, include: Any) -> Any:
    """W&B's ``config_exclude_keys`` / ``config_include_keys``: top-level keys only."""
    for what, keys in (("config_exclude_keys", exclude), ("config_include_keys", include)):
        if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
            raise UsageError(f"{what}={keys!r} is not a list of str")
    if exclude is not None and include is not None:
        raise UsageError("config_exclude_keys and config_include_keys are exclusive: pass one of them")
    if exclude is None and include is None:
        return config
    plain = to_plain(config)
    if include is not None:
        return {k: v for k, v in plain.items() if k in set(include)}
    return {k: v for k, v in plain.items() if k not in set(exclude)}


def _check_wandb_fields(entity: Any, group: Any, job_type: Any, reinit: Any, allow_val_change: Any,
                        folder: Any) -> dict[str, Any]:
    for what, value in (("entity", entity), ("group", group), ("job_type", job_type)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 128
                                  or any(ord(c) < 32 or ord(c) == 127 for c in value)):
            raise UsageError(f"{what}={value!r}: expected a non-empty str of at most 128 characters, "
                             "without control characters")
    if not (reinit is None or isinstance(reinit, bool) or (isinstance(reinit, str) and reinit in _REINIT)):
        raise UsageError(f"reinit={reinit!r}: expected None, True, False, 'default', 'return_previous', "
                         "'finish_previous' or 'create_new'")
    if allow_val_change is not None and not isinstance(allow_val_change, bool):
        raise UsageError(f"allow_val_change={allow_val_change!r} is not a bool")
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise UsageError(f"dir={folder!r} is not a folder path")
    return {"entity": entity, "run_group": group, "job_type": job_type}


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
    if isinstance(resume, bool) or resume not in _RESUME:
        raise UsageError(f"resume={resume!r}: expected None, 'allow', 'must', 'never', 'auto', True or False")
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
