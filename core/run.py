"""``Run``: what ``forkpoint.init`` returns. Logs rows at steps, holds config and summary.

``log()`` is the hot path: it checks the row cheaply, updates the live summary and hands the row
to the background writer (see ``writer.py``); it never waits for disk unless ``flush_interval=0``.
Rows with new keys or values that are not plain int/float/str take the slow path (``_slow``):
values are checked and converted, media (``Image``, ``Histogram``, ``Table``) are stored as blobs
and replaced by references, and a value that cannot be stored is reported by name after the rest
of the row is written.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, Callable, Mapping

from . import current, extras, lifecycle, lineage
from .branch import Position
from .config import to_plain
from .errors import StepError, StepRegressionWarning, StoreError, UsageError
from .lineage import BranchPoint
from .media import Media, MediaList
from .metrics import MetricDef, Metrics, check_name, is_rendered, parse_summary
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
            return self[key]
        except KeyError:
            raise AttributeError(f"{self._what} has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:  # run.config.lr = 0.1, as in W&B
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self[key] = value

    def _plain(self, other: Any, kw: dict[str, Any]) -> dict[str, Any]:
        """``other`` (a dict, pairs, an argparse Namespace...) and ``kw`` as one JSON-safe dict."""
        if isinstance(other, (list, tuple)):
            other = dict(other)
        return {**to_plain(other, self._what), **to_plain(kw, self._what)}

    def update(self, other: Any = (), /, **kw: Any) -> None:
        self._data.update(self._plain(other, kw))
        self._save(self._data)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))

    def __repr__(self) -> str:
        return f"{self._what}({self._data!r})"


class Config(PersistentDict):
    """``run.config``. As in W&B, ``allow_val_change=False`` (init or ``update``) makes changing a
    value already set an error; forkpoint's default (None) lets later updates change values."""

    def __init__(self, data: dict[str, Any], save: Callable[[dict[str, Any]], None],
                 allow_val_change: bool | None = None) -> None:
        super().__init__(data, save, "config")
        self._allow_val_change = allow_val_change

    def update(self, other: Any = (), /, allow_val_change: bool | None = None, **kw: Any) -> None:
        new = self._plain(other, kw)
        allow = self._allow_val_change if allow_val_change is None else allow_val_change
        if allow is False:
            for key, value in new.items():
                if key in self._data and self._data[key] != value:
                    raise UsageError(f"config key {key!r} is {self._data[key]!r}; changing it to {value!r} needs "
                                     "allow_val_change=True (in init or config.update)")
        self._data.update(new)
        self._save(self._data)

    def setdefaults(self, defaults: Any) -> None:
        """Set the keys of ``defaults`` that are not set yet (W&B's ``config.setdefaults``)."""
        new = {k: v for k, v in self._plain(defaults, {}).items() if k not in self._data}
        if new:
            self._data.update(new)
            self._save(self._data)


class Summary(PersistentDict):
    """Last logged value per key, overridden by explicit writes (``run.summary["best"] = x``).

    Keys governed by ``define_metric(summary=...)`` show their aggregate instead (``metrics.py``)."""

    def __init__(self, auto: dict[str, Any], explicit: dict[str, Any], save: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(explicit, save, "summary")
        self._auto = auto
        self._metrics: Metrics | None = None

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        if self._metrics is None:
            return self._auto[key]
        return self._metrics.value(key, self._auto[key])

    def __iter__(self) -> Iterator[str]:
        yield from self._data
        for k in self._auto:
            if k not in self._data and (self._metrics is None or self._metrics.ops(k) != ("none",)):
                yield k

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def rendered(self) -> dict[str, Any]:
        """The aggregated entries (``define_metric``) as they are now, to store with the segment."""
        if self._metrics is None:
            return {}
        return {k: self[k] for k in self._metrics.governed() if k in self._auto and k in self}

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
                 capture_console: bool = False, system_metrics: float | None = None,
                 allow_val_change: bool | None = None, mode: str = "online") -> None:
        rec, seg = started.run, started.segment
        self._store = store
        self._record = rec
        self._segment: SegmentRecord = seg
        self.id: str = rec.id
        self.project: str = rec.project
        self._name: str = rec.name or rec.id
        self._tags: list[str] = list(rec.tags)
        self._notes: str | None = rec.notes
        self.entity: str | None = rec.entity
        self.group: str | None = rec.run_group
        self.job_type: str | None = rec.job_type
        self.mode = mode
        self.resumed = False  # set by init: True when an existing run was continued (resume=...)
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
        self.config = Config(dict(seg.config), self._save_config, allow_val_change)
        self.summary = Summary(self._auto, dict(seg.summary), self._save_summary)
        self._metrics: Metrics | None = None  # define_metric's definitions, once there is one
        self._blobs: set[str] = set()  # media digests this run stored already
        self._resume_marker: str | None = None  # resume="auto": the file naming this run (start.py)
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

    # name, tags and notes can be changed on the live run (``run.name = "..."``), as in W&B
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise UsageError(f"run.name={value!r} is not a non-empty str")
        self._set(name=value)
        self._name = value

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) for t in value):
            raise UsageError(f"run.tags={value!r} is not a list of str")
        self._set(tags=list(value))
        self._tags = list(value)

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise UsageError(f"run.notes={value!r} is not a str")
        self._set(notes=value)
        self._notes = value

    def _set(self, **fields: Any) -> None:
        if self._stopped:
            self._refuse()
        with self._store.transaction():
            self._store.update_run(self.id, **fields)

    @property
    def path(self) -> str:
        """``"<entity>/<project>/<id>"`` (W&B's run path; ``"<project>/<id>"`` without an entity)."""
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    @property
    def disabled(self) -> bool:
        return False

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
        bad = None
        if keys.issuperset(row):  # keys checked before: only the values' types are left
            fast = FAST_TYPES
            for v in row.values():
                if type(v) not in fast:
                    row, bad = self._slow(row)
                    break
        else:
            row, bad = self._slow(row)  # checks every key
            keys.update(row)
        cur = self._step
        if step is None:
            s = cur
            if commit or commit is None:  # None: W&B code passing its default
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
        if self._metrics is not None:
            self._metrics.observe(row)
        self._writer.put(s, row)
        if self._sync:
            self._writer.flush()
        if bad:
            self._report(bad, s)

    def _slow(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check and convert every value; store media blobs and put their references in the row.

        Returns the row that can be written and ``(key, why)`` for each value that cannot; if no
        value can be written, raises at once (nothing is logged, the step does not move)."""
        bad: list[tuple[str, str]] = []
        row = normalize(data, bad=bad)
        for key, value in row.items():
            if isinstance(value, Media):
                try:
                    row[key] = self._put_media(value)
                except (UsageError, StoreError) as exc:
                    bad.append((key, f"log() value for {key!r}: {exc}"))
        if bad:
            for key, _ in bad:
                row.pop(key, None)
            if not row:
                self._report(bad, None)
        return row, bad

    def _put_media(self, value: Media) -> dict[str, Any]:
        """Store the value's blob (once per digest) and return the reference the history keeps."""
        if isinstance(value, MediaList):
            return {"_type": value._type, "items": [self._put_media(item) for item in value.items]}
        ref, data = value.to_ref()
        digest = ref["sha256"]
        if digest not in self._blobs:
            self._store.put_blob(digest, ref["_type"], data, time.time())
            self._blobs.add(digest)
        return ref

    def _report(self, bad: list[tuple[str, str]], step: int | None) -> None:
        where = "nothing was logged" if step is None else f"the row's other keys were logged at step {step}"
        raise UsageError("; ".join(why for _, why in bad) + f" ({where})")

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

    def define_metric(self, name: str, step_metric: str | bool | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> MetricDef:
        """W&B's ``define_metric``: ``summary`` ("min", "max", "mean", "first", "last", "none", or
        several comma-separated) sets what the summary keeps for ``name`` (a trailing ``*`` matches
        by prefix: ``"val/*"``), computed over the visible history, so it follows rewinds and forks.

        ``step_metric="epoch"`` makes ``epoch`` a step metric of the run (so ``"<id>?epoch=<v>"``
        specs can branch on it) and the x-axis of ``name``; ``step_metric=True`` makes ``name``
        itself one. ``goal`` ("minimize"/"maximize") goes with ``summary="best"``; ``hidden`` and
        ``step_sync`` are accepted for W&B compatibility (forkpoint's charts do not use them)."""
        d = check_define(name, step_metric, step_sync, hidden, summary, goal, overwrite)
        new_step_metric = step_metric if isinstance(step_metric, str) else name if step_metric is True else None
        if new_step_metric is not None and new_step_metric not in self._step_metrics:
            self._step_metrics.append(new_step_metric)
            with self._store.transaction():
                self._store.update_run(self.id, step_metrics=self._step_metrics)
        if d.summary or self._metrics is not None:  # runs without summaries keep log() as it was
            if self._metrics is None:
                self._metrics = self.summary._metrics = Metrics()
            self._metrics.define(d)
            if d.summary:
                self._seed(d)
        return d

    def _seed(self, d: MetricDef) -> None:
        """Aggregates of the keys ``d`` governs over the visible history (rows logged so far included)."""
        metrics = self._metrics
        assert metrics is not None
        for key in [k for k in self.summary._data if d.matches(k) and is_rendered(self.summary._data[k])]:
            del self.summary._data[key]  # stored by an earlier process's define_metric: recomputed now
        self._writer.flush()
        ranges = lineage.chain(self._store, self._segment.id)
        keys = {k for r in ranges for k in self._store.keys(r.segment)}
        for key in sorted(k for k in keys if d.matches(k) and metrics.ops(k) == d.summary):
            metrics.seed(key, self._store.read_series(ranges, key)[1])

    # -- persistence ------------------------------------------------------------------------
    def _save_config(self, data: dict[str, Any]) -> None:
        with self._store.transaction():
            self._store.update_segment(self._segment.id, config=data)

    def _save_summary(self, data: dict[str, Any]) -> None:
        with self._store.transaction():
            self._store.update_segment(self._segment.id, summary=to_plain(data, "summary"))

    def _stored_summary(self) -> dict[str, Any]:
        """What the segment keeps as its summary: define_metric aggregates, then explicit writes."""
        return to_plain({**self.summary.rendered(), **self.summary._data}, "summary")

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
        if self._metrics is not None:
            with self._store.transaction():
                self._store.update_segment(self._segment.id, summary=self._stored_summary())

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
            fields: dict[str, Any] = {"config": to_plain(self.config._data)}
            if self._metrics is not None:
                fields["summary"] = self._stored_summary()
            self._store.update_segment(self._segment.id, **fields)
            self._store.update_run(
                self.id, state="finished" if exit_code == 0 else "crashed", exit_code=exit_code, owner=None,
                dropped_steps=self._dropped, updated_at=time.time())
        self._finished = self._stopped = True
        lifecycle.unregister(self)
        current.forget(self)
        if exit_code == 0 and self._resume_marker is not None:
            current.drop_resume_marker(self._resume_marker, self.id)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)

    def __repr__(self) -> str:
        return f"<forkpoint.Run {self.project}/{self.id} step={self._step} kind={self.kind}>"



def check_define(name: Any, step_metric: Any, step_sync: Any, hidden: Any, summary: Any, goal: Any,
                 overwrite: Any) -> MetricDef:
    """``define_metric``'s arguments as a ``MetricDef``, or a ``UsageError`` naming the bad one."""
    check_name(name)
    if step_metric is not None and not isinstance(step_metric, (str, bool)):
        step_metric = getattr(step_metric, "name", step_metric)  # W&B accepts a Metric object
    if isinstance(step_metric, str):
        check_name(step_metric)
        if step_metric.endswith("*"):
            raise UsageError(f"define_metric step_metric={step_metric!r} is a pattern: expected one metric name")
    elif step_metric is not None and not isinstance(step_metric, bool):
        raise UsageError(f"define_metric step_metric={step_metric!r}: expected a metric name (or True)")
    for arg, value in (("step_sync", step_sync), ("hidden", hidden), ("overwrite", overwrite)):
        if value is not None and not isinstance(value, bool):
            raise UsageError(f"define_metric {arg}={value!r} is not a bool")
    if goal is not None and goal not in ("minimize", "maximize"):
        raise UsageError(f"define_metric goal={goal!r}: expected 'minimize' or 'maximize'")
    return MetricDef(name, step_metric if isinstance(step_metric, str) else None, parse_summary(summary, goal),
                     goal, bool(hidden))
