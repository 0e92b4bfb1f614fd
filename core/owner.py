"""Who writes a run, and whether that writer is still alive.

A run being written carries ``owner = "host:pid:token"``. On the same host a writer is alive while
its process is (a zombie counts as dead); on another host (PostgreSQL stores) while its heartbeat is
younger than ``STALE_AFTER``. A run marked ``running`` whose writer is dead reads as ``crashed`` and
may be resumed, rewound or forked at once — no waiting for a server-side timeout (W&B #10438).
"""

from __future__ import annotations

import os
import secrets
import socket
import time

from . import lifecycle
from .store import RunRecord

HOST = socket.gethostname()
TOKEN = secrets.token_hex(6)
STALE_AFTER = 60.0  # seconds without a heartbeat before a writer on another host counts as dead
HEARTBEAT_EVERY = 10.0  # an idle writer still touches its run this often


def me() -> str:
    return f"{HOST}:{os.getpid()}:{TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def alive(run: RunRecord, now: float | None = None) -> bool:
    if run.state != "running" or not run.owner:
        return False
    host, _, rest = run.owner.partition(":")
    pid_s, _, token = rest.partition(":")
    if host == HOST:
        pid = int(pid_s)
        if pid == os.getpid():
            return token == TOKEN and lifecycle.live(run.id) is not None
        return _pid_alive(pid)
    now = time.time() if now is None else now
    return run.heartbeat is not None and now - run.heartbeat < STALE_AFTER


def effective_state(run: RunRecord) -> str:
    """``running`` only while a live process writes the run; a dead writer's run is ``crashed``."""
    if run.state == "running" and not alive(run):
        return "crashed"
    return run.state
