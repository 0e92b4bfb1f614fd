"""From "training restored a checkpoint of run R made at step N" to the right run: the rule all
framework plugins share (SEMANTICS, "Framework plugins").

- ``on_resume="rewind"``: rewind R to N; if nothing was logged past N, just continue R.
- ``"fork"``: a new run forked from R at N (at R's last step if that is earlier).
- ``"auto"``: fork when a hyperparameter differs from R's config, else rewind.

A run the same process left open because its training loop died with an exception (a notebook
re-running ``fit``) is closed as crashed first, so a restart in the same process works too.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from . import lifecycle
from .api import Api
from .run import Run
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
