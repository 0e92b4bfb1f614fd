"""Making logged rows durable when the process ends: normal exit, an uncaught exception, SIGTERM.

At exit every open run is finished (``finished``, or ``crashed`` if an exception escaped). SIGTERM
finishes open runs as ``crashed`` and then hands the signal on (to the previous handler, or to the
default action, so the exit status stays "killed by SIGTERM").
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from typing import Any

# The one registry of runs this process writes, by id. Strong references on purpose: a Run the
# user dropped without finish() still holds queued rows and must still be finished (and flushed)
# at exit. ``owner.alive`` asks it whether a run owned by this pid is really live here.
_runs: dict[str, Any] = {}
_installed = False
_uncaught = False
_prev_term: Any = None


def register(run: Any) -> None:
    _install()
    _runs[run.id] = run


def unregister(run: Any) -> None:
    if _runs.get(run.id) is run:
        del _runs[run.id]


def open_runs() -> list[Any]:
    """The runs this process has open (started and not finished)."""
    return list(_runs.values())


def live(run_id: str) -> Any | None:
    """This process's open Run with id ``run_id``, or None."""
    return _runs.get(run_id)


def finish_all(exit_code: int) -> None:
    for run in list(_runs.values()):
        try:
            run.finish(exit_code=exit_code)
        except Exception as exc:  # noqa: BLE001 - reported, never swallowed silently
            print(f"forkpoint: could not finish run {run.id!r}: {exc!r}", file=sys.stderr)


def _at_exit() -> None:
    finish_all(1 if _uncaught else 0)


def _excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
    global _uncaught
    _uncaught = True
    _prev_excepthook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: Any) -> None:
    finish_all(128 + signum)
    prev = _prev_term
    if callable(prev):
        prev(signum, frame)
    elif prev != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


_prev_excepthook = sys.excepthook


def _install() -> None:
    global _installed, _prev_term, _prev_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _prev_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        try:
            _prev_term = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # not the main interpreter, or signals unavailable
            _prev_term = None
