"""The background writer: ``log()`` appends to a deque, this thread commits batches.

The caller never waits for disk. The thread wakes every ``interval`` seconds (or early when the
queue grows past ``WAKE_AT`` rows) and writes everything queued in one transaction. ``flush()``
does the same synchronously. A failed batch stays in flight and is retried as it was, under the
same sequence number, so a batch whose COMMIT reached the store before the connection broke is
recognised and not written twice (``Store.append(seq=...)``). Retries back off up to 5 s and go on
for as long as the process lives; meanwhile ``log()`` keeps queueing up to ``MAX_PENDING`` rows
(``FORKPOINT_MAX_PENDING``) and then raises: nothing is ever dropped silently.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from .errors import StoreError
from .owner import HEARTBEAT_EVERY
from .store import Store

WAKE_AT = 20_000
CLOSE_RETRY_S = 30.0  # finish() keeps retrying the last write this long before it raises
MAX_PENDING = int(os.environ.get("FORKPOINT_MAX_PENDING", "5000000"))


class Writer:
    def __init__(self, store: Store, run_id: str, segment_id: int, interval: float, seq: int = 0) -> None:
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
        self._seq = seq  # the last batch number committed for this segment
        self._inflight: tuple[int, list[tuple[int, dict[str, Any]]]] | None = None
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._loop, name=f"forkpoint-writer-{run_id}", daemon=True)
            self._thread.start()

    def put(self, step: int, row: dict[str, Any]) -> None:
        q = self.queue
        n = len(q)
        if n >= WAKE_AT:
            self._wake.set()
        if n >= MAX_PENDING:
            raise StoreError(
                    f"run {self.run_id}: {n} rows are waiting for the store ({self.store.url}) and the "
                    f"writer keeps failing ({self.error!r}); this row was not taken, none was dropped")
        q.append((step, row))

    def flush(self) -> None:
        with self._lock:
            self._write()  # a batch left in flight by a failed write goes first, as it was
            while self.queue:
                self._write()

    def _write(self) -> None:
        if self._inflight is None:
            q = self.queue
            n = len(q)
            if not n and time.time() - self._last_beat < HEARTBEAT_EVERY:
                return
            self._inflight = (self._seq + 1, [q.popleft() for _ in range(n)])
        seq, rows = self._inflight
        now = time.time()
        self.store.append(self.run_id, self.segment_id, rows, now, seq=seq)
        self._seq, self._inflight = seq, None
        self._last_beat = now
        self.error = None

    @property
    def pending(self) -> int:
        """Rows logged but not yet committed."""
        return len(self.queue) + (len(self._inflight[1]) if self._inflight else 0)

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
        self.store.close()  # this thread's connection

    def close(self, retry_for: float = CLOSE_RETRY_S) -> None:
        """Stop the thread and write what is left, retrying for up to ``retry_for`` seconds; then
        raise (the rows stay queued, so calling ``close`` again retries)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            try:
                self.flush()
                return
            except Exception as exc:
                self.error = exc
                if time.monotonic() + delay > deadline:
                    raise StoreError(
                        f"run {self.run_id}: {self.pending} logged rows could not be written to {self.store.url} "
                        f"({exc}); they are still queued in this process: call finish() again to retry") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
