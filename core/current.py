"""The process's current run: what ``forkpoint.run``, ``forkpoint.log()``, ``forkpoint.config`` and
``forkpoint.summary`` refer to (W&B's ``wandb.run`` and its module-level functions).

``init`` makes the run it returns current (unless ``reinit="create_new"``); ``finish`` of that run
makes it None again. Also here: the ``resume="auto"`` marker, a small file in the working folder
(or ``dir=``) naming the run this folder last started, as W&B's ``wandb/wandb-resume.json``: a run
that did not finish cleanly is continued by the next ``init(resume="auto")`` from the same folder.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from .errors import UsageError

_lock = threading.Lock()
_current: Any = None  # a Run, a DisabledRun or None


def get() -> Any:
    """The current run, or None."""
    return _current


def set(run: Any) -> None:
    global _current
    with _lock:
        _current = run


def forget(run: Any) -> None:
    """``run`` finished: if it is the current run, there is none now."""
    global _current
    with _lock:
        if _current is run:
            _current = None


def require(what: str) -> Any:
    """The current run, or a ``UsageError`` saying ``what`` needs one."""
    run = _current
    if run is None:
        raise UsageError(f"forkpoint.{what} needs a run: call forkpoint.init() first")
    return run


# -- resume="auto" ---------------------------------------------------------------------------
MARKER = "resume.json"


def resume_marker_path(folder: str) -> str:
    return os.path.join(folder, "forkpoint-runs", MARKER)


def read_resume_marker(path: str, store_url: str) -> str | None:
    """The run id the marker names for ``store_url``, or None (no marker, another store, unreadable)."""
    try:
        with open(path, encoding="utf-8") as f:
            got = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(got, dict) or got.get("store") != store_url or not isinstance(got.get("run_id"), str):
        return None
    return got["run_id"]


def write_resume_marker(path: str, store_url: str, run_id: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"run_id": run_id, "store": store_url}, f)
    os.replace(tmp, path)


def drop_resume_marker(path: str, run_id: str) -> None:
    """The run finished cleanly: the next ``resume="auto"`` starts a new run."""
    try:
        with open(path, encoding="utf-8") as f:
            got = json.load(f)
        if isinstance(got, dict) and got.get("run_id") == run_id:
            os.remove(path)
    except (OSError, ValueError):
        pass
