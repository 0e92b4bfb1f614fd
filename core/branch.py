"""Where runs start: a new run, a plain resume, a rewind, a fork. Each is one short transaction.

Rewind and fork never copy or delete rows. A rewind of run R at N adds a segment to R that starts
at N+1 with parent ``(segment holding N, N)`` and makes it R's head; the old head stays as it is
and becomes the archived branch ``R~k``. A fork adds a new run whose first segment hangs off the
parent in the same way. Both cost a handful of small queries, whatever the history's size.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from . import lineage
from .config import changed_keys, deep_merge
from .errors import RunInUseError, RunNotFoundError, SpecError, StepError, UsageError
from .owner import alive, me
from .spec import RunSpec
from .store import Range, RunRecord, SegmentRecord, Store

_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class RunFields:
    """What ``init`` says about the run itself, whichever way it starts. ``config`` is merged over
    the run's (resume, rewind) or the parent's (fork) config; name, tags and notes replace the
    run's only when given (W&B silently drops ``name=`` on resume; we keep it)."""

    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] | None = None
    notes: str | None = None

    def renames(self) -> dict[str, Any]:
        """The run-record fields this call changes."""
        got = {"name": self.name, "tags": self.tags, "notes": self.notes}
        return {k: v for k, v in got.items() if v is not None}


@dataclass
class Position:
    """A run, one of its segments, a step in it, and that segment's visible history: what a spec
    resolves to, and what ``init`` hands to ``Run`` (the head segment and the next step)."""

    run: RunRecord
    segment: SegmentRecord
    step: int
    ranges: list[Range]


def new_id(store: Store) -> str:
    while True:
        run_id = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        if store.get_run(run_id) is None:
            return run_id


def get_run(store: Store, run_id: str, project: str | None = None) -> RunRecord:
    run = store.get_run(run_id)
    if run is None:
        raise RunNotFoundError(f"run {run_id!r} not found in store {store.url}")
    if project is not None and run.project != project:
        raise RunNotFoundError(f"run {run_id!r} is in project {run.project!r}, not {project!r}")
    return run


def head_of(store: Store, run: RunRecord) -> SegmentRecord:
    assert run.head_segment is not None, f"run {run.id} has no head segment"
    return store.get_segment(run.head_segment)


def segment_of(store: Store, run: RunRecord, archive: int | None) -> SegmentRecord:
    """The run's head segment, or its archived branch ``~archive``."""
    if archive is None:
        return head_of(store, run)
    segs = store.run_segments(run.id)
    for seg in segs:
        if seg.ordinal == archive and seg.id != run.head_segment:
            return seg
    have = [f"{run.id}~{s.ordinal}" for s in segs if s.id != run.head_segment]
    raise RunNotFoundError(f"run {run.id!r} has no archived branch '{run.id}~{archive}' (archived branches: {have or 'none'})")


def resolve(store: Store, spec: RunSpec) -> Position:
    """The segment and ``_step`` a spec names; every check that can fail happens here."""
    run = get_run(store, spec.run_id, spec.project)
    seg = segment_of(store, run, spec.archive)
    ranges = lineage.chain(store, seg.id)
    last = lineage.last_step(store, ranges)
    if last is None:
        raise StepError(f"run spec '{spec}': run {spec.ref!r} has no logged rows yet, so there is no step to branch at")
    if spec.metric == "_step":
        if spec.value > last:
            raise StepError(f"run spec '{spec}': step {spec.value} is beyond the last step of run {spec.ref!r}, which is {last}")
        return Position(run, seg, int(spec.value), ranges)
    if spec.metric not in run.step_metrics:
        raise SpecError(
            f"run spec '{spec}': {spec.metric!r} is not a step metric of run {spec.ref!r} "
            f"(declared: {run.step_metrics or 'none'}; use run.define_metric({spec.metric!r}, step_metric=True))")
    for r in reversed(ranges):
        step = store.last_step_where(r, spec.metric, spec.value)
        if step is not None:
            return Position(run, seg, step, ranges)
    raise StepError(f"run spec '{spec}': run {spec.ref!r} has no row with {spec.metric} <= {spec.value}")


def claim(store: Store, run: RunRecord, now: float, **fields: Any) -> RunRecord:
    """Make this process the run's writer; refused while a live process still writes it."""
    store.lock_run(run.id)
    run = get_run(store, run.id)  # as of the lock
    if alive(run, now):
        raise RunInUseError(
            f"run {run.id!r} is still being written by a live process ({run.owner}); "
            "finish it there first, or fork it instead (fork_from=...)")
    fields.update(state="running", owner=me(), heartbeat=now, exit_code=None, updated_at=now)
    store.update_run(run.id, **fields)
    return get_run(store, run.id)


def _next_step(store: Store, seg: SegmentRecord, ranges: list[Range]) -> int:
    last = lineage.last_step(store, ranges)
    return seg.start_step if last is None else max(last + 1, seg.start_step)


def _insert_run(store: Store, record: RunRecord, *, origin: str, parent_segment: int | None,
                branch_step: int | None, config: dict[str, Any], changes: list[str]) -> Position:
    """Insert a run with its first segment (a new run, or a fork) and return where it starts."""
    seg_id = store.insert_segment(
        run_id=record.id, ordinal=1, origin=origin, parent_segment=parent_segment, branch_step=branch_step,
        start_step=0 if branch_step is None else branch_step + 1, last_step=None, config=config,
        config_changes=changes, summary={}, created_at=record.created_at)
    record.head_segment = seg_id
    store.insert_run(record)
    seg = store.get_segment(seg_id)
    return Position(get_run(store, record.id), seg, seg.start_step, lineage.chain(store, seg_id))


def _new_record(store: Store, run_id: str | None, project: str, fields: RunFields, now: float,
                **extra: Any) -> RunRecord:
    run_id = run_id or new_id(store)
    return RunRecord(id=run_id, project=project, name=fields.name or run_id, origin=extra.pop("origin", "run"),
                     head_segment=None, state="running", created_at=now, updated_at=now, notes=fields.notes,
                     tags=fields.tags or [], owner=me(), heartbeat=now, **extra)


def create(store: Store, run_id: str | None, project: str, fields: RunFields) -> Position:
    now = time.time()
    with store.transaction():
        if run_id is not None and store.get_run(run_id) is not None:
            raise UsageError(
                f"run {run_id!r} already exists: pass resume='allow' or 'must' to continue it, "
                f"or resume_from='{run_id}?_step=<N>' to rewind it")
        record = _new_record(store, run_id, project, fields, now)
        return _insert_run(store, record, origin="new", parent_segment=None, branch_step=None,
                           config=fields.config, changes=[])


def resume(store: Store, run_id: str, project: str | None, fields: RunFields) -> Position:
    """Plain resume: continue the head segment at its last step + 1; nothing is truncated."""
    now = time.time()
    with store.transaction():
        run = claim(store, get_run(store, run_id, project), now, **fields.renames())
        seg = head_of(store, run)
        if fields.config:
            merged = deep_merge(seg.config, fields.config)
            changes = seg.config_changes + [k for k in changed_keys(seg.config, merged) if k not in seg.config_changes]
            store.update_segment(seg.id, config=merged, config_changes=changes)
            seg = store.get_segment(seg.id)
        ranges = lineage.chain(store, seg.id)
        return Position(run, seg, _next_step(store, seg, ranges), ranges)


def rewind(store: Store, spec: RunSpec, project: str | None, fields: RunFields) -> Position:
    """``resume_from="<id>?_step=N"``: same run, rows <= N kept, the old head archived. THE rewind."""
    now = time.time()
    with store.transaction():
        at = resolve(store, spec)
        if project is not None and at.run.project != project:
            raise RunNotFoundError(f"run {at.run.id!r} is in project {at.run.project!r}, not {project!r}")
        run = claim(store, at.run, now, **fields.renames())
        head = head_of(store, run)
        merged = deep_merge(head.config, fields.config)
        ordinal = max(s.ordinal for s in store.run_segments(run.id)) + 1
        seg_id = store.insert_segment(
            run_id=run.id, ordinal=ordinal, origin="rewind", parent_segment=lineage.attach_point(at.ranges, at.step),
            branch_step=at.step, start_step=at.step + 1, last_step=None, config=merged,
            config_changes=changed_keys(head.config, merged), summary={}, created_at=now, replaces=head.id)
        store.update_segment(head.id, superseded_at=now)
        store.update_run(run.id, head_segment=seg_id)
        return Position(get_run(store, run.id), store.get_segment(seg_id), at.step + 1, lineage.chain(store, seg_id))


def fork(store: Store, spec: RunSpec, run_id: str | None, project: str | None, fields: RunFields,
         inherit_config: bool = True) -> Position:
    """``fork_from="<id>?_step=N"``: a new run showing the parent's rows <= N, then its own.

    Idempotent: if ``run_id`` already exists as a fork of the same branch point, it is resumed.
    The parent is never changed. Forking a parent that is still being written, at the very step it
    is still adding keys to (``commit=False`` or a repeated ``step=``), shares that one row as it
    ends up; every earlier row is fixed.
    """
    now = time.time()
    with store.transaction():
        at = resolve(store, spec)
        if run_id is not None:
            existing = store.get_run(run_id)
            if existing is not None:
                if existing.origin == "fork" and existing.parent_run == spec.ref and existing.parent_step == at.step:
                    return resume(store, run_id, project, fields)
                was = (f"a fork of '{existing.parent_run}?_step={existing.parent_step}'"
                       if existing.origin == "fork" else "not a fork")
                raise UsageError(
                    f"run {run_id!r} already exists and is {was}, not a fork of '{spec.ref}?_step={at.step}': "
                    "pick another id, or pass the branch point it was created with")
        base = at.segment.config if inherit_config else {}
        merged = deep_merge(base, fields.config)
        tags = list(at.run.tags) if fields.tags is None else fields.tags
        record = _new_record(store, run_id, project or at.run.project, RunFields(fields.name, merged, tags, fields.notes),
                             now, origin="fork", parent_run=spec.ref, parent_step=at.step,
                             step_metrics=list(at.run.step_metrics))
        return _insert_run(store, record, origin="fork", parent_segment=lineage.attach_point(at.ranges, at.step),
                           branch_step=at.step, config=merged, changes=changed_keys(base, merged))
