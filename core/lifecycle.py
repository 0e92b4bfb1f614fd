"""Making logged rows durable when the process ends: normal exit, ``sys.exit(n)``, an uncaught
exception, SIGTERM. And the one registry of the runs this process writes.

- Exit: every open run is finished at exit: ``finished`` (exit code 0), else ``crashed`` with the
  code (``sys.exit(3)`` records 3; an uncaught exception records 1).
- SIGTERM (the default action was in force): the handler does nothing that takes a lock, since it
  may interrupt any line of the hot path (a writer's lock, an ``Event.set``). It hands the shutdown
  to a new thread and returns; that thread finishes every open run as ``crashed`` with code 143
  (every row logged so far is written), then ends the process with SIGTERM's default action, so
  the exit status stays "killed by SIGTERM". Meanwhile ``log()`` in other threads waits instead of
  racing the shutdown. If the program installed its own SIGTERM handler before forkpoint, that
  handler is called instead and the runs are finished on the normal exit path; an ignored SIGTERM
  stays ignored.
- Forked children (``multiprocessing`` with fork, DataLoader workers, ``os.fork``): a child did not
  open its parent's runs and never writes, finishes or marks them. ``os.register_at_fork`` empties
  the registry in the child and marks the inherited ``Run`` objects foreign, so the child's exit,
  its SIGTERM handler and any ``log()`` call leave the parent's runs alone.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from typing import Any

# The one registry of runs this process writes, by id. Strong references on purpose: a Run the
# user dropped without finish() still holds queued rows and must still be finished (and flushed)
# at exit. ``owner.alive`` asks it whether a run owned by this pid is really live here.
_runs: dict[str, Any] = {}
_pid = os.getpid()  # the process the registry belongs to (a signal may reach a child before its at-fork hook)
_installed = False
_uncaught = False
_exit_code: int | None = None
_prev_term: Any = None
terminating = threading.Event()  # set when SIGTERM's shutdown has begun
SIGTERM_RETRY_S = 10.0  # how long the SIGTERM shutdown retries a store that is away before it gives up


def register(run: Any) -> None:
    _install()
    if _pid != os.getpid():
        _forget_in_child()
    _runs[run.id] = run


def unregister(run: Any) -> None:
    run_id = run.id
    if _runs.get(run_id) is run:
        del _runs[run_id]


def open_runs() -> list[Any]:
    """The runs this process has open (started and not finished)."""
    return list(_runs.values()) if _pid == os.getpid() else []


def live(run_id: str) -> Any | None:
    """This process's open Run with id ``run_id``, or None."""
    return _runs.get(run_id) if _pid == os.getpid() else None


def finish_all(exit_code: int, retry_for: float | None = None) -> None:
    for run in open_runs():
        try:
            run.finish(exit_code=exit_code, _retry_for=retry_for)
        except Exception as exc:
            print(f"forkpoint: could not finish run {run.id!r}: {exc!r}", file=sys.stderr)


def wait_for_exit() -> None:
    """Called by ``log()`` once SIGTERM's shutdown has begun: the process is about to end."""
    while True:
        time.sleep(1.0)


def _at_exit() -> None:
    if _exit_code is not None:
        finish_all(_exit_code)
    else:
        finish_all(1 if _uncaught else 0)


def _excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
    global _uncaught
    _uncaught = True
    _prev_excepthook(exc_type, exc, tb)


def _exit(status: Any = None) -> None:
    """``sys.exit`` that remembers its code for the runs finished at exit (as W&B's hook does)."""
    global _exit_code
    _exit_code = 0 if status is None else status if isinstance(status, int) else 1
    _prev_exit(status)


def _on_sigterm(signum: int, frame: Any) -> None:
    prev = _prev_term
    if callable(prev):  # the program handles SIGTERM itself; runs are finished when it exits
        prev(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    if not open_runs():  # nothing to save (or a forked child, maybe before its at-fork hook ran)
        os.kill(os.getpid(), signum)
        return
    terminating.set()
    threading.Thread(target=_shutdown, args=(signum,), name="forkpoint-sigterm", daemon=True).start()


def _shutdown(signum: int) -> None:
    try:
        finish_all(128 + signum, retry_for=SIGTERM_RETRY_S)
    finally:
        sys.stderr.flush()
        os.kill(os.getpid(), signum)


def _forget_in_child() -> None:
    """After ``fork()`` in the child: it owns none of its parent's runs, and SIGTERM gets back the
    disposition it had before forkpoint, so a worker ends as it would without forkpoint."""
    global _pid
    for run in _runs.values():
        run._foreign = run._stopped = True
    _runs.clear()
    _pid = os.getpid()
    terminating.clear()
    if _installed and threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, _prev_term if _prev_term is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    _unblock()


# SIGTERM is blocked while fork() runs: CPython drops signals that reach a child before its
# after-fork work is done, so a worker terminated right after it was started would live on.
# Blocked, the signal waits in the kernel and is delivered once the child's handler is reset.
_mask_before_fork: Any = None


def _block() -> None:
    global _mask_before_fork
    if _installed and hasattr(signal, "pthread_sigmask"):
        _mask_before_fork = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _unblock() -> None:
    global _mask_before_fork
    if _mask_before_fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork)
        _mask_before_fork = None


_prev_excepthook = sys.excepthook
_prev_exit = sys.exit


def _install() -> None:
    global _installed, _prev_term, _prev_excepthook, _prev_exit
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _prev_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    _prev_exit = sys.exit
    sys.exit = _exit  # type: ignore[assignment]  # recorded, then the real sys.exit runs
    if threading.current_thread() is threading.main_thread():
        try:
            prev = signal.getsignal(signal.SIGTERM)
            if prev != signal.SIG_IGN:
                _prev_term = prev
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # not the main interpreter, or signals unavailable
            _prev_term = None


os.register_at_fork(before=_block, after_in_parent=_unblock, after_in_child=_forget_in_child)
