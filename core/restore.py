"""From "training restored a checkpoint of run R made at step N" to the right run: the rule all
framework plugins share (SEMANTICS, "Framework plugins"), and the options every plugin takes.

- ``on_resume="rewind"``: rewind R to N; if nothing was logged past N, just continue R.
- ``"fork"``: a new run forked from R at N (at R's last step if that is earlier).
- ``"auto"``: fork when a hyperparameter differs from R's config, else rewind.

A run the same process left open because its training loop died with an exception (a notebook
re-running ``fit``) is closed as crashed first, so a restart in the same process works too.

``PluginOptions`` is what every plugin's constructor takes (project, name, id, config, tags, notes,
store, on_resume, flush_interval): checked once, when the plugin is built, so a bad value fails
before training starts rather than at the first log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from . import lifecycle
from .api import Api
from .config import json_safe
from .errors import UsageError
from .run import Run
from .spec import check_project
from .start import init
from .store import open_store

ON_RESUME = ("rewind", "fork", "auto")


def close_stale(run_id: str) -> None:
    for run in lifecycle.open_runs():
        if run.id == run_id:
            run.finish(exit_code=1)


def differs(old: Mapping[str, Any], new: Mapping[str, Any], keys: Iterable[str] | None = None) -> bool:
    """Whether ``new`` changes any of ``keys`` (all of ``new``'s keys if None) against ``old``."""
    return any(old.get(k) != new.get(k) for k in (keys if keys is not None else new.keys()) if k in new)


def open_at(run_id: str, step: int, *, on_resume: str, config: dict[str, Any], hyper: Iterable[str] | None = None,
            store: Any = None, **kw: Any) -> Run | None:
    """The run to log into after restoring run ``run_id``'s checkpoint made at ``step`` (rows
    ``<= step`` belong with the checkpoint). None if ``run_id`` is not in the store."""
    close_stale(run_id)
    try:
        view = Api(open_store(store)).run(run_id)
    except LookupError:
        return None
    mode = on_resume
    if mode == "auto":
        mode = "fork" if differs(view.config, config, hyper) else "rewind"
    last = view.last_step
    if mode == "fork":
        if last is None:
            return init(config=config, store=store, **kw)
        return init(fork_from=f"{run_id}?_step={min(step, last)}", config=config, store=store, **kw)
    kw.pop("project", None)
    if last is None or step >= last:  # nothing logged past the checkpoint: continue the run
        return init(id=run_id, resume="must", config=config, store=store, **kw)
    return init(resume_from=f"{run_id}?_step={step}", config=config, store=store, **kw)


def last_step(run_id: str, store: Any = None) -> int | None:
    """The run's last durable step (None if it has no rows): what a checkpoint made now belongs with."""
    return Api(open_store(store)).run(run_id).last_step


def _optional_str(what: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{what}={value!r}: expected a str or None")


@dataclass
class PluginOptions:
    """The run options every plugin takes, checked when the plugin is built."""

    project: str | None = None
    name: str | None = None
    id: str | None = None
    config: Mapping[str, Any] | None = None
    tags: list[str] | None = None
    notes: str | None = None
    store: str | None = None
    on_resume: str = "rewind"
    flush_interval: float = 1.0
    step_metric: str | None = None  # declared on every run the plugin opens ("epoch" for the framework loops)
    user_config: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.project is not None:
            check_project(self.project)
        for what in ("name", "id", "notes", "store"):
            _optional_str(what, getattr(self, what))
        if self.on_resume not in ON_RESUME:
            raise UsageError(f"on_resume={self.on_resume!r}: expected 'rewind', 'fork' or 'auto'")
        if self.config is not None and not isinstance(self.config, Mapping):
            raise UsageError(f"config={self.config!r}: expected a dict of hyperparameters")
        if self.tags is not None and (isinstance(self.tags, str)
                                      or not all(isinstance(t, str) for t in self.tags)):
            raise UsageError(f"tags={self.tags!r}: expected a list of str")
        fi = self.flush_interval
        if isinstance(fi, bool) or not isinstance(fi, (int, float)) or not math.isfinite(fi) or fi < 0:
            raise UsageError(f"flush_interval={fi!r}: expected a number of seconds >= 0")
        self.user_config = json_safe(dict(self.config or {}))
        self.tags = list(self.tags) if self.tags is not None else None

    def init_kwargs(self) -> dict[str, Any]:
        """What ``forkpoint.init`` takes from these options (without id, config and branching)."""
        return dict(project=self.project, name=self.name, tags=self.tags, notes=self.notes, store=self.store,
                    flush_interval=self.flush_interval)

    def as_args(self) -> dict[str, Any]:
        """The constructor arguments, for plugins whose framework rebuilds them from saved state."""
        return dict(project=self.project, name=self.name, id=self.id, config=self.user_config, tags=self.tags,
                    notes=self.notes, store=self.store, on_resume=self.on_resume, flush_interval=self.flush_interval)

    def _opened(self, run: Run) -> Run:
        if self.step_metric is not None:
            run.define_metric(self.step_metric, step_metric=True)
        return run

    def start(self, config: Mapping[str, Any], reopen: str | None = None) -> Run:
        """A new run, or run ``reopen`` (else the ``id=`` option) continued. A run with that id this
        process already has open (a pickled copy of the plugin, a second handle) is reused as is."""
        run_id = reopen or self.id
        if run_id is not None:
            live = lifecycle.live(run_id)
            if live is not None:
                return live
        return self._opened(init(id=run_id, resume="allow" if run_id else None, config=dict(config),
                                 **self.init_kwargs()))

    def new(self, config: Mapping[str, Any]) -> Run:
        """A new run, whatever ``id=`` says (the checkpoint named no run this process can continue)."""
        return self._opened(init(config=dict(config), **self.init_kwargs()))

    def restore(self, run_id: str, step: int, config: Mapping[str, Any], hyper: Iterable[str] | None = None) -> Run | None:
        """``open_at`` with these options: the run after restoring ``run_id``'s checkpoint made at ``step``."""
        run = open_at(run_id, step, on_resume=self.on_resume, config=dict(config), hyper=hyper, **self.init_kwargs())
        return self._opened(run) if run is not None else None


__all__ = ["ON_RESUME", "PluginOptions", "close_stale", "differs", "last_step", "open_at"]
