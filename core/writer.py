"""The background writer: ``log()`` appends to a deque, this thread commits batches.

The caller never waits for disk while the store keeps up. The thread wakes every ``interval``
seconds (or early when the queue grows past ``WAKE_AT`` rows) and writes what is queued, in
transactions of at most ``BATCH_MAX`` rows. ``flush()`` does the same synchronously.

Guarantees this file keeps (docs/guarantees.md):

- **Age bound.** While writes succeed, no row waits more than about ``interval`` seconds to be
  committed, at any logging rate: when the oldest uncommitted row's age plus the time the store
  needs for the backlog (at its measured commit rate) nears the interval, ``put()`` waits for the
  writer (back-pressure) instead of letting the backlog grow. So SIGKILL
  loses at most the rows of the last ``interval`` (plus one transaction in progress).
- **Exactly once.** A failed batch stays in flight and is retried as it was, under the same
  sequence number, so a batch whose COMMIT reached the store before the connection broke is
  recognised and not written twice (``Store.append(seq=...)``).
- **Bounded buffer.** While the store is away, retries back off up to 5 s for as long as the
  process lives; ``log()`` keeps queueing up to ``MAX_PENDING`` rows (queued and in flight,
  ``FORKPOINT_MAX_PENDING``) and then raises: nothing is dropped silently.
- **One bad row stops nothing else.** If the store refuses a batch because of its rows
  (``Store.rejects_rows``), the rows are written one by one; a row the store refuses is reported
  (warning and ``logging``), counted in ``rejected``, and the rest go on. ``Run.log`` already
  refuses what the stores cannot hold, so this is the last line of defence.
- Every non-empty row gets W&B's ``_timestamp`` (Unix seconds) here, when it is queued: an
  ordinary key in the store, so it follows rewinds and forks; readers hide it unless asked by name
  (``store.base.HIDDEN_KEYS``).
- Failures are visible: a ``ForkpointWarning`` and a ``logging.getLogger("forkpoint")`` record
  the first time writes start failing, with the cause, and one when they recover.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections import deque
from typing import Any

from .errors import ForkpointWarning, StoreError
from .owner import HEARTBEAT_EVERY
from .store import Store, WriteState

log = logging.getLogger("forkpoint")

WAKE_AT = 20_000
BATCH_MAX = 20_000  # rows per transaction: bounds one commit's duration (and a backlog is written in steps)
MARK_EVERY = 1024  # put() notes the time every this many rows, for the age bound
RATE_PRIOR = 10_000.0  # rows/s assumed until the first large commit is timed (cautious: PostgreSQL does ~30k)
CLOSE_RETRY_S = 30.0  # finish() keeps retrying the last write this long before it raises
MAX_PENDING = int(os.environ.get("FORKPOINT_MAX_PENDING", "5000000"))

Row = tuple[int, dict[str, Any]]
_now = time.time


class Writer:
    def __init__(self, store: Store, run_id: str, segment_id: int, interval: float, seq: int = 0) -> None:
        self.store = store
        self.run_id = run_id
        self.segment_id = segment_id
        self.interval = interval
        self.state = WriteState()  # this writer's memory of its segment's open blocks and keys
        self.queue: deque[Row] = deque()
        self.error: BaseException | None = None
        self.rejected = 0  # rows the store refused because of their content (reported each time)
        self._failing_since: float | None = None
        self._lock = threading.Lock()  # one write at a time: the thread's or flush()'s
        self._wake = threading.Event()
        self._committed = threading.Condition()  # notified after every commit (back-pressure waits on it)
        self._closed = False
        self._last_beat = 0.0
        self._seq = seq  # the last batch number committed for this segment
        self._inflight: tuple[int, list[Row]] | None = None
        self._measured = False
        self._put_n = 0  # rows ever queued
        self._done_n = 0  # rows ever committed or rejected
        self._marks: deque[tuple[int, float]] = deque()  # (rows queued so far, when), every MARK_EVERY rows
        self._rate = RATE_PRIOR  # rows per second the store commits (moving average of batches)
        self._check_at = min(WAKE_AT, MAX_PENDING)
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._loop, name=f"forkpoint-writer-{run_id}", daemon=True)
            self._thread.start()

    # -- the caller's side --------------------------------------------------------------------
    def put(self, step: int, row: dict[str, Any]) -> None:
        if row and "_timestamp" not in row:  # W&B's wall time of the row; a user's own value wins
            row["_timestamp"] = _now()
        q = self.queue
        n = len(q)
        if n >= self._check_at:  # lowered by the rows in flight, so those count too
            if n >= WAKE_AT:
                self._wake.set()
            if self.pending >= MAX_PENDING:
                raise StoreError(
                    f"run {self.run_id}: {self.pending} rows are waiting for the store ({self.store.url}) and the "
                    f"writer keeps failing ({self.error!r}); this row was not taken, none was dropped")
        q.append((step, row))
        self._put_n += 1
        if not self._put_n % MARK_EVERY:
            self._pace()

    def _pace(self) -> None:
        """Back-pressure: wait while the oldest uncommitted row's age plus the time the store needs
        for the backlog (at its measured rate) would pass the interval."""
        self._marks.append((self._put_n, time.monotonic()))
        if self._thread is None or self.error is not None:
            return  # in sync mode flush() keeps up; while the store is away the buffer takes the rows
        if self._behind():
            self._wake.set()
            with self._committed:
                while self._behind() and self.error is None and not self._closed and self._thread.is_alive():
                    self._committed.wait(0.02)

    def _behind(self) -> bool:
        marks = self._marks
        while marks and marks[0][0] <= self._done_n:
            marks.popleft()
        if not marks:
            return False
        backlog = self.pending / self._rate
        return time.monotonic() - marks[0][1] + backlog > self.interval * 0.8

    @property
    def pending(self) -> int:
        """Rows logged but not yet committed (queued and in flight)."""
        inflight = self._inflight
        return len(self.queue) + (len(inflight[1]) if inflight else 0)

    def flush(self) -> None:
        """Commit everything queued so far; on failure raise ``StoreError`` (the rows stay queued)."""
        try:
            with self._lock:
                self._drain()
        except Exception as exc:
            self._failed(exc)
            raise StoreError(
                f"run {self.run_id}: {self.pending} logged rows could not be written to {self.store.url} ({exc}); "
                "they are still queued in this process and are retried") from exc
        self._recovered()

    # -- writing ------------------------------------------------------------------------------
    def _drain(self) -> None:
        self._write()  # a batch left in flight by a failed write goes first, as it was
        while self.queue:
            self._write()

    def _write(self) -> None:
        if self._inflight is None:
            q = self.queue
            n = min(len(q), BATCH_MAX)
            if not n and time.time() - self._last_beat < HEARTBEAT_EVERY:
                return
            self._inflight = (self._seq + 1, [q.popleft() for _ in range(n)])
            self._check_at = min(WAKE_AT, MAX_PENDING - n)
        seq, rows = self._inflight
        now = time.time()
        t0 = time.perf_counter()
        try:
            self.store.append(self.run_id, self.segment_id, rows, now, seq=seq, state=self.state)
        except Exception as exc:
            if not rows or not self.store.rejects_rows(exc):
                raise
            self._write_each(seq, rows)
        else:
            if len(rows) >= MARK_EVERY:
                rate = len(rows) / max(time.perf_counter() - t0, 1e-6)
                self._rate = 0.7 * self._rate + 0.3 * rate if self._measured else rate
                self._measured = True
            self._done(seq, len(rows))
        self._last_beat = now

    def _write_each(self, seq: int, rows: list[Row]) -> None:
        """A batch the store refused for its content: write row by row, reporting the bad ones."""
        for i, row in enumerate(rows):
            self._inflight = (seq, rows[i:])
            self._check_at = min(WAKE_AT, MAX_PENDING - (len(rows) - i))
            try:
                self.store.append(self.run_id, self.segment_id, [row], time.time(), seq=seq, state=self.state)
            except Exception as exc:
                if not self.store.rejects_rows(exc):
                    raise  # the store went away meanwhile: the rest stays in flight
                self._reject(row, exc)
            self._done(seq, 1)
            seq += 1

    def _done(self, seq: int, n: int) -> None:
        self._seq, self._inflight = seq, None
        self._check_at = min(WAKE_AT, MAX_PENDING)
        with self._committed:
            self._done_n += n
            self._committed.notify_all()

    def _reject(self, row: Row, exc: BaseException) -> None:
        self.rejected += 1
        msg = (f"run {self.run_id}: the store {self.store.url} refused the row at step {row[0]} "
               f"(keys {sorted(row[1])}): {exc}; that row is not stored, the others are")
        log.error(msg)
        warnings.warn(msg, ForkpointWarning, stacklevel=2)

    def _failed(self, exc: BaseException) -> None:
        self.error = exc
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            msg = (f"run {self.run_id}: writing to {self.store.url} failed ({exc!r}); {self.pending} rows wait "
                   "and are retried (run.pending tells how many)")
            log.warning(msg)
            warnings.warn(msg, ForkpointWarning, stacklevel=2)

    def _recovered(self) -> None:
        self.error = None
        if self._failing_since is not None:
            log.warning("run %s: writing to %s works again after %.1f s", self.run_id, self.store.url,
                        time.monotonic() - self._failing_since)
            self._failing_since = None

    def _loop(self) -> None:
        delay = self.interval
        while not self._closed:
            self._wake.wait(delay)
            self._wake.clear()
            if self._closed:
                break
            try:
                with self._lock:
                    self._drain()
            except Exception as exc:  # kept for put()/flush() to report; retried with backoff
                self._failed(exc)
                delay = min(max(delay * 2, 0.05), 5.0)
            else:
                self._recovered()
                delay = self.interval
            with self._committed:
                self._committed.notify_all()  # a waiting put() re-checks (also after a failure)
        self.store.close()  # this thread's connection

    def stop_thread(self) -> None:
        """Stop the background thread (it finishes the batch it is writing) and wait for it."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def close(self, retry_for: float = CLOSE_RETRY_S) -> None:
        """Stop the thread and write what is left, retrying for up to ``retry_for`` seconds; then
        raise (the rows stay queued, so calling ``close`` again retries)."""
        self.stop_thread()
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            try:
                self.flush()
                return
            except StoreError as exc:
                if time.monotonic() + delay > deadline:
                    raise StoreError(
                        f"run {self.run_id}: {self.pending} logged rows could not be written to {self.store.url} "
                        f"({exc.__cause__}); they are still queued in this process: call finish() again to retry"
                    ) from exc.__cause__
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
