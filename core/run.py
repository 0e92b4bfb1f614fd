"""``Run``: what ``forkpoint.init`` returns. Logs rows at steps, holds config and summary.

``log()`` is the hot path: it checks the row cheaply, updates the live summary and hands the row
to the background writer (see ``writer.py``); it never waits for disk unless ``flush_interval=0``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, Callable, Mapping

from . import extras, lifecycle, lineage
from .branch import Position
from .config import to_plain
from .errors import StepError, StepRegressionWarning, UsageError
from .lineage import BranchPoint
from .store import MAX_STEP, SegmentRecord, Store
from .values import FAST_TYPES, normalize
from .writer import Writer


class PersistentDict(MutableMapping):
    """A dict whose every change is written through ``save`` (used for config and summary)."""

    def __init__(self, data: dict[str, Any], save: Callable[[dict[str, Any]], None], what: str) -> None:
        self._data = data
        self._save = save
        self._what = what

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._save(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:  # run.config.lr, as in W&B
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"{self._what} has no key {key!r}") from None

    def update(self, other: Any = (), /, **kw: Any) -> None:
        new = to_plain({**dict(other), **kw}, self._what)
        self._data.update(new)
        self._save(self._data)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))

    def __repr__(self) -> str:
        return f"{self._what}({self._data!r})"


class Summary(PersistentDict):
    """Last logged value per key, overridden by explicit writes (``run.summary["best"] = x``)."""

    def __init__(self, auto: dict[str, Any], explicit: dict[str, Any], save: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(explicit, save, "summary")
        self._auto = auto

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        return self._auto[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._data
        yield from (k for k in self._auto if k not in self._data)

    def __len__(self) -> int:
        return len(self._auto.keys() | self._data.keys())

    def __delitem__(self, key: str) -> None:
        if key not in self._data:
            raise KeyError(f"{key!r}: only explicit summary values can be deleted")
        super().__delitem__(key)

    def as_dict(self) -> dict[str, Any]:
        return {k: self[k] for k in self}

    def __repr__(self) -> str:
        return f"summary({self.as_dict()!r})"


class Run:
    """A run being written by this process. Use as a context manager or call ``finish()``."""

    def __init__(self, store: Store, started: Position, *, on_step_regression: str, flush_interval: float,
                 capture_console: bool = False, system_metrics: float | None = None) -> None:
        rec, seg = started.run, started.segment
        self._store = store
        self._record = rec
        self._segment: SegmentRecord = seg
        self.id: str = rec.id
        self.project: str = rec.project
        self.name: str = rec.name or rec.id
        self.tags: list[str] = list(rec.tags)
        self.notes: str | None = rec.notes
        self.starting_step: int = started.step
        self._step = started.step
        self._raise_on_regression = on_step_regression == "raise"
        self._dropped = rec.dropped_steps
        self._step_metrics = list(rec.step_metrics)
        self._finished = False
        self._stopped = False  # finished, shutting down on SIGTERM, or inherited by a forked child
        self._foreign = False  # set in a forked child (lifecycle): this process did not open the run
        self._keys: set[str] = set()  # keys log() has already checked
        self._auto = lineage.computed_summary(store, started.ranges) if started.ranges else {}
        self.config = PersistentDict(dict(seg.config), self._save_config, "config")
        self.summary = Summary(self._auto, dict(seg.summary), self._save_summary)
        self._writer = Writer(store, rec.id, seg.id, flush_interval, seq=seg.write_seq or 0)
        self._sync = flush_interval == 0
        lifecycle.register(self)
        self._console = extras.install_console(self) if capture_console else None
        self._sampler = extras.SystemSampler(self, system_metrics) if system_metrics else None
        if self._sampler is not None:
            self._sampler.start()

    # -- lineage ----------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` writes to."""
        return self._step

    @property
    def kind(self) -> str:
        """``"fork"`` (made by fork_from), ``"rewind"`` (rewound at least once) or ``"run"``."""
        return lineage.kind(self._record, self._segment)

    @property
    def parent(self) -> BranchPoint | None:
        """Fork: ``(parent run, step)``. Rewound run: ``("<id>~k", step)``, the archived branch it left."""
        return lineage.parent(self._store, self._record, self._segment)

    @property
    def segment(self) -> int:
        return self._segment.id

    @property
    def dropped_steps(self) -> int:
        """Rows dropped because their step went backwards (see ``on_step_regression``)."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Rows logged but not yet written to the store (non-zero for long only while it is away)."""
        return self._writer.pending

    @property
    def rejected_rows(self) -> int:
        """Rows the store refused for their content (each reported when it happened)."""
        return self._writer.rejected

    # -- logging ----------------------------------------------------------------------------
    def _refuse(self) -> None:
        """Why this process may not write the run any more (or wait: the process is ending)."""
        if self._foreign:
            raise UsageError(
                f"run {self.id!r} was opened by the parent process; a forked child process cannot write, "
                "finish or mark it (open its own run with forkpoint.init, or send values to the parent)")
        if lifecycle.terminating.is_set():
            lifecycle.wait_for_exit()  # SIGTERM: rows logged so far are being written, then the process ends
        raise UsageError(f"run {self.id!r} is finished; start it again with forkpoint.init(id={self.id!r}, resume='allow')")

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Write ``data`` at the current step (or ``step``).

        Without ``step``: the row is written at ``run.step`` and, with ``commit=True``, the step
        advances; ``commit=False`` keeps adding to the same row. With ``step=s``: ``s`` equal to the
        current step merges, larger moves there (gaps allowed) and leaves that row open for more
        keys, as in W&B; smaller is a step regression (warned and dropped, or raised).
        """
        if self._stopped:
            self._refuse()
        try:
            row = dict(data)
        except (TypeError, ValueError):
            raise UsageError(f"log() data {data!r} is not a dict: expected a dict of metric name -> number or str") from None
        keys = self._keys
        if keys.issuperset(row):  # keys checked before: only the values' types are left
            fast = FAST_TYPES
            for v in row.values():
                if type(v) not in fast:
                    row = normalize(row)
                    break
        else:
            row = normalize(row)  # checks every key
            keys.update(row)
        cur = self._step
        if step is None:
            s = cur
            if commit:
                self._step = cur + 1
        else:
            if type(step) is not int or step < 0 or step > MAX_STEP:
                if isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= MAX_STEP:
                    step = int(step)
                elif isinstance(step, int) and not isinstance(step, bool) and step > MAX_STEP:
                    raise StepError(f"log() step={step} is beyond the largest step, {MAX_STEP} (2**62 - 1)")
                else:
                    raise UsageError(f"log() step={step!r} is not a non-negative int")
            if step < cur:
                self._regression(step, cur, row)
                return
            s = self._step = step
        self._auto.update(row)
        self._writer.put(s, row)
        if self._sync:
            self._writer.flush()

    def _regression(self, step: int, cur: int, row: dict[str, Any]) -> None:
        msg = (f"run {self.id!r}: log(step={step}) is below the current step {cur}; steps must not go back, "
               f"so this row ({sorted(row)}) is dropped. To branch from an earlier step, use "
               f"forkpoint.init(resume_from='{self.id}?_step=<N>') or fork_from=...")
        if self._raise_on_regression:
            raise StepError(msg)
        self._dropped += 1
        warnings.warn(msg, StepRegressionWarning, stacklevel=3)

    def _put_extra(self, step: int, row: dict[str, Any]) -> None:
        """Console text and system samples: written at ``step`` without moving the run's step."""
        if not self._stopped:
            self._auto.update(row)
            self._writer.put(step, row)

    def log_artifact(self, path: str, name: str | None = None, step: int | None = None) -> None:
        """Record a file (path, size, sha256) as ``artifact/<name>`` at ``step`` (default: the current
        step), so it follows rewinds and forks like a metric. The file is not copied."""
        name = name or os.path.basename(path)
        if not isinstance(name, str) or not name:
            raise UsageError(f"log_artifact name {name!r} is not a non-empty str")
        self.log({f"artifact/{name}": extras.artifact_record(path)}, step=step, commit=False)

    def define_metric(self, name: str, *, step_metric: bool = True) -> None:
        """Declare ``name`` a step metric, so ``"<id>?<name>=<v>"`` specs can branch on it."""
        if not isinstance(name, str) or not name or name == "_step":
            raise UsageError(f"define_metric name {name!r} is not a metric name")
        if step_metric and name not in self._step_metrics:
            self._step_metrics.append(name)
            with self._store.transaction():
                self._store.update_run(self.id, step_metrics=self._step_metrics)

    # -- persistence ------------------------------------------------------------------------
    def _save_config(self, data: dict[str, Any]) -> None:
        with self._store.transaction():
            self._store.update_segment(self._segment.id, config=data)

    def _save_summary(self, data: dict[str, Any]) -> None:
        with self._store.transaction():
            self._store.update_segment(self._segment.id, summary=to_plain(data, "summary"))

    def flush(self) -> None:
        """Make every row logged so far durable; ``StoreError`` if the store cannot take them now
        (they stay queued and are retried)."""
        if self._foreign:
            self._refuse()
        self._writer.flush()
        if self._dropped != self._record.dropped_steps:
            with self._store.transaction():
                self._store.update_run(self.id, dropped_steps=self._dropped)
            self._record.dropped_steps = self._dropped

    def finish(self, exit_code: int = 0, *, _retry_for: float | None = None) -> None:
        """Write everything, then mark the run ``finished`` (exit code 0) or ``crashed`` (recording
        the code). Stops and joins every thread the run started. In a forked child: does nothing."""
        if self._finished or self._foreign:
            return
        if lifecycle.terminating.is_set():
            self._stopped = True  # SIGTERM: log() in other threads waits from now on
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler.join()
        extras.uninstall_console(self._console)
        self._console = None
        # raises if the rows cannot be written; finish() may then be called again
        if _retry_for is None:
            self._writer.close()
        else:
            self._writer.close(retry_for=_retry_for)
        with self._store.transaction():
            self._store.update_segment(self._segment.id, config=to_plain(self.config._data))
            self._store.update_run(
                self.id, state="finished" if exit_code == 0 else "crashed", exit_code=exit_code, owner=None,
                dropped_steps=self._dropped, updated_at=time.time())
        self._finished = self._stopped = True
        lifecycle.unregister(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)

    def __repr__(self) -> str:
        return f"<forkpoint.Run {self.project}/{self.id} step={self._step} kind={self.kind}>"

