"""What follows a branch beyond metrics (SEMANTICS): console output, system metrics, artifacts.

All three are stored as history values at steps, under their own prefixes, so a rewind or fork
treats them exactly like metrics: after a rewind to N nothing recorded after N is visible on the
run, and all of it is still in the archived branch. No second mechanism, nothing more to keep
consistent.

- ``console/stdout``, ``console/stderr``: text written while the run was at a step (opt in with
  ``init(capture_console=True)``), accumulated per step.
- ``sys/cpu_percent``, ``sys/rss_mb``, ``sys/threads``: sampled every ``system_metrics`` seconds
  (opt in with ``init(system_metrics=10)``) at the run's current step. GPU: not sampled yet.
- ``artifact/<name>``: ``run.log_artifact(path)`` records a file (path, size, sha256) at a step; the
  file itself stays where it is (forkpoint is not a blob store).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from typing import Any, TextIO


class ConsoleTee:
    """Wraps sys.stdout or sys.stderr: writes go through unchanged and are recorded at the run's step."""

    def __init__(self, run: Any, stream: TextIO, key: str) -> None:
        self._run, self._stream, self._key = run, stream, key
        self._step: int | None = None
        self._text: list[str] = []
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        n = self._stream.write(s)
        if s:
            with self._lock:
                step = self._run.step
                if step != self._step:
                    self._emit()
                    self._step, self._text = step, []
                self._text.append(s)
        return n

    def _emit(self) -> None:
        if self._step is not None and self._text:
            self._run._put_extra(self._step, {self._key: "".join(self._text)})

    def flush(self) -> None:
        with self._lock:
            self._emit()  # the whole text of the step so far; a later emit at that step replaces it
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install_console(run: Any) -> tuple[ConsoleTee, ConsoleTee]:
    out, err = ConsoleTee(run, sys.stdout, "console/stdout"), ConsoleTee(run, sys.stderr, "console/stderr")
    sys.stdout, sys.stderr = out, err
    return out, err


def uninstall_console(tees: tuple[ConsoleTee, ConsoleTee] | None) -> None:
    if not tees:
        return
    out, err = tees
    out.flush()
    err.flush()
    if sys.stdout is out:
        sys.stdout = out._stream
    if sys.stderr is err:
        sys.stderr = err._stream


def sample_system() -> dict[str, float]:
    """CPU percent since the last sample, resident memory and threads of this process (Linux /proc)."""
    row: dict[str, float] = {"sys/threads": float(threading.active_count())}
    try:
        with open("/proc/self/statm") as f:
            row["sys/rss_mb"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        pass
    return row


class SystemSampler(threading.Thread):
    def __init__(self, run: Any, every: float) -> None:
        super().__init__(name=f"forkpoint-sys-{run.id}", daemon=True)
        self._run, self._every = run, every
        self._stop_event = threading.Event()
        self._cpu = (time.process_time(), time.monotonic())

    def run(self) -> None:
        while not self._stop_event.wait(self._every):
            self.sample()

    def sample(self) -> None:
        cpu, wall = time.process_time(), time.monotonic()
        row = sample_system()
        if wall > self._cpu[1]:
            row["sys/cpu_percent"] = 100.0 * (cpu - self._cpu[0]) / (wall - self._cpu[1])
        self._cpu = (cpu, wall)
        self._run._put_extra(self._run.step, row)

    def stop(self) -> None:
        self._stop_event.set()


def artifact_record(path: str) -> str:
    """JSON text describing a file: its absolute path, size and sha256."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"log_artifact: {path!r} is not a file")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return json.dumps({"path": os.path.abspath(path), "size": os.path.getsize(path), "sha256": h.hexdigest()})
