"""The background writer: ``log()`` appends to a deque, this thread commits batches.

The caller never waits for disk. The thread wakes every ``interval`` seconds (or early when the
queue grows past ``WAKE_AT`` rows) and writes everything queued in one transaction. ``flush()``
does the same synchronously. A failed write puts the rows back at the front of the queue and is
retried; after ``MAX_PENDING`` queued rows ``put`` raises instead of growing without bound, so
nothing is ever dropped silently.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from .errors import StoreError
from .owner import HEARTBEAT_EVERY
from .store import Store

WAKE_AT = 20_000
MAX_PENDING = 5_000_000


class Writer:
    def __init__(self, store: Store, run_id: str, segment_id: int, interval: float) -> None:
        self.store = store
        self.run_id = run_id
        self.segment_id = segment_id
        self.interval = interval
        self.queue: deque[tuple[int, dict[str, Any]]] = deque()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._last_beat = 0.0
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._loop, name=f"forkpoint-writer-{run_id}", daemon=True)
            self._thread.start()

    def put(self, step: int, row: dict[str, Any]) -> None:
        q = self.queue
        q.append((step, row))
        if len(q) > WAKE_AT:
            self._wake.set()
            if len(q) > MAX_PENDING:
                raise StoreError(
                    f"run {self.run_id}: {len(q)} rows are waiting for the store ({self.store.url}) and the "
                    f"writer keeps failing ({self.error!r}); refusing to buffer more")

    def flush(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        q = self.queue
        n = len(q)
        now = time.time()
        if not n and now - self._last_beat < HEARTBEAT_EVERY:
            return
        rows = [q.popleft() for _ in range(n)]
        try:
            self.store.append(self.run_id, self.segment_id, rows, now)
        except BaseException:
            q.extendleft(reversed(rows))
            raise
        self._last_beat = now
        self.error = None

    def _loop(self) -> None:
        delay = self.interval
        while not self._closed:
            self._wake.wait(delay)
            self._wake.clear()
            if self._closed:
                break
            try:
                with self._lock:
                    self._write()
                delay = self.interval
            except Exception as exc:  # kept for put()/flush() to report; retried with backoff
                self.error = exc
                delay = min(max(delay * 2, 0.05), 5.0)

    def close(self) -> None:
        """Stop the thread and write what is left (raises if that final write fails)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
