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
from dataclasses import dataclass
from typing import Any

from . import lineage
from .config import changed_keys, deep_merge
from .errors import RunInUseError, RunNotFoundError, SpecError, StepError, UsageError
from .owner import alive, me
from .spec import RunSpec
from .store import Range, RunRecord, SegmentRecord, Store

_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class Started:
    """What ``init`` needs to build a ``Run``: the record, its head segment and the first step."""

    run: RunRecord
    segment: SegmentRecord
    step: int
    ranges: list[Range]


@dataclass
class Resolved:
    run: RunRecord
    segment: SegmentRecord
    step: int
    ranges: list[Range]  # the visible history of ``segment``


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


def segment_of(store: Store, run: RunRecord, archive: int | None) -> SegmentRecord:
    """The run's head segment, or its archived branch ``~archive``."""
    if archive is None:
        return store.get_segment(run.head_segment)  # type: ignore[arg-type]
    segs = store.run_segments(run.id)
    for seg in segs:
        if seg.ordinal == archive and seg.id != run.head_segment:
            return seg
    have = [f"{run.id}~{s.ordinal}" for s in segs if s.id != run.head_segment]
    raise RunNotFoundError(f"run {run.id!r} has no archived branch '{run.id}~{archive}' (archived branches: {have or 'none'})")


def resolve(store: Store, spec: RunSpec) -> Resolved:
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
        return Resolved(run, seg, int(spec.value), ranges)
    if spec.metric not in run.step_metrics:
        raise SpecError(
            f"run spec '{spec}': {spec.metric!r} is not a step metric of run {spec.ref!r} "
            f"(declared: {run.step_metrics or 'none'}; use run.define_metric({spec.metric!r}, step_metric=True))")
    for r in reversed(ranges):
        step = store.last_step_where(r, spec.metric, spec.value)
        if step is not None:
            return Resolved(run, seg, step, ranges)
    raise StepError(f"run spec '{spec}': run {spec.ref!r} has no row with {spec.metric} <= {spec.value}")


def claim(store: Store, run: RunRecord, now: float, **fields: Any) -> RunRecord:
    """Make this process the run's writer; refused while a live process still writes it."""
    store.lock_run(run.id)
    run = store.get_run(run.id)  # type: ignore[assignment]  # as of the lock
    if alive(run, now):
        raise RunInUseError(
            f"run {run.id!r} is still being written by a live process ({run.owner}); "
            "finish it there first, or fork it instead (fork_from=...)")
    fields.update(state="running", owner=me(), heartbeat=now, exit_code=None, updated_at=now)
    store.update_run(run.id, **fields)
    return store.get_run(run.id)  # type: ignore[return-value]


def _next_step(store: Store, seg: SegmentRecord, ranges: list[Range]) -> int:
    last = lineage.last_step(store, ranges)
    return seg.start_step if last is None else max(last + 1, seg.start_step)


def create(store: Store, *, run_id: str | None, project: str, name: str | None, config: dict[str, Any],
           tags: list[str] | None, notes: str | None) -> Started:
    now = time.time()
    with store.transaction():
        if run_id is not None and store.get_run(run_id) is not None:
            raise UsageError(
                f"run {run_id!r} already exists: pass resume='allow' or 'must' to continue it, "
                f"or resume_from='{run_id}?_step=<N>' to rewind it")
        run_id = run_id or new_id(store)
        store.insert_run(RunRecord(
            id=run_id, project=project, name=name or run_id, origin="run", head_segment=None, state="running",
            created_at=now, updated_at=now, notes=notes, tags=tags or [], owner=me(), heartbeat=now))
        seg_id = store.insert_segment(
            run_id=run_id, ordinal=1, origin="new", parent_segment=None, branch_step=None, start_step=0,
            last_step=None, config=config, config_changes=[], summary={}, created_at=now)
        store.update_run(run_id, head_segment=seg_id)
        run = store.get_run(run_id)
        seg = store.get_segment(seg_id)
    return Started(run, seg, 0, [Range(seg_id, run_id, 0, 2**62)])  # type: ignore[arg-type]


def resume(store: Store, run_id: str, *, project: str | None, name: str | None, config: dict[str, Any],
           tags: list[str] | None, notes: str | None) -> Started:
    """Plain resume: continue the head segment at its last step + 1; nothing is truncated."""
    now = time.time()
    with store.transaction():
        run = get_run(store, run_id, project)
        run = claim(store, run, now, **_renames(name, tags, notes))
        seg = store.get_segment(run.head_segment)  # type: ignore[arg-type]
        if config:
            merged = deep_merge(seg.config, config)
            changes = seg.config_changes + [k for k in changed_keys(seg.config, merged) if k not in seg.config_changes]
            store.update_segment(seg.id, config=merged, config_changes=changes)
            seg = store.get_segment(seg.id)
        ranges = lineage.chain(store, seg.id)
        return Started(run, seg, _next_step(store, seg, ranges), ranges)


def rewind(store: Store, spec: RunSpec, *, project: str | None, name: str | None, config: dict[str, Any],
           tags: list[str] | None, notes: str | None) -> Started:
    """``resume_from="<id>?_step=N"``: same run, rows <= N kept, the old head archived."""
    now = time.time()
    with store.transaction():
        at = resolve(store, spec)
        run = at.run
        if project is not None and run.project != project:
            raise RunNotFoundError(f"run {run.id!r} is in project {run.project!r}, not {project!r}")
        run = claim(store, run, now, **_renames(name, tags, notes))
        head = store.get_segment(run.head_segment)  # type: ignore[arg-type]
        merged = deep_merge(head.config, config)
        ordinal = max(s.ordinal for s in store.run_segments(run.id)) + 1
        seg_id = store.insert_segment(
            run_id=run.id, ordinal=ordinal, origin="rewind", parent_segment=lineage.attach_point(at.ranges, at.step),
            branch_step=at.step, start_step=at.step + 1, last_step=None, config=merged,
            config_changes=changed_keys(head.config, merged), summary={}, created_at=now, replaces=head.id)
        store.update_segment(head.id, superseded_at=now)
        store.update_run(run.id, head_segment=seg_id)
        run = store.get_run(run.id)
        seg = store.get_segment(seg_id)
        return Started(run, seg, at.step + 1, lineage.chain(store, seg_id))  # type: ignore[arg-type]


def fork(store: Store, spec: RunSpec, *, run_id: str | None, project: str | None, name: str | None,
         config: dict[str, Any], inherit_config: bool, tags: list[str] | None, notes: str | None) -> Started:
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
                    return resume(store, run_id, project=project, name=name, config=config, tags=tags, notes=notes)
                was = f"a fork of '{existing.parent_run}?_step={existing.parent_step}'" if existing.origin == "fork" else "not a fork"
                raise UsageError(
                    f"run {run_id!r} already exists and is {was}, not a fork of '{spec.ref}?_step={at.step}': "
                    "pick another id, or pass the branch point it was created with")
        run_id = run_id or new_id(store)
        base = at.segment.config if inherit_config else {}
        merged = deep_merge(base, config)
        store.insert_run(RunRecord(
            id=run_id, project=project or at.run.project, name=name or run_id, origin="fork", head_segment=None,
            state="running", created_at=now, updated_at=now, notes=notes,
            tags=list(at.run.tags) if tags is None else tags, parent_run=spec.ref, parent_step=at.step,
            owner=me(), heartbeat=now, step_metrics=list(at.run.step_metrics)))
        seg_id = store.insert_segment(
            run_id=run_id, ordinal=1, origin="fork", parent_segment=lineage.attach_point(at.ranges, at.step),
            branch_step=at.step, start_step=at.step + 1, last_step=None, config=merged,
            config_changes=changed_keys(base, merged), summary={}, created_at=now)
        store.update_run(run_id, head_segment=seg_id)
        run = store.get_run(run_id)
        seg = store.get_segment(seg_id)
        return Started(run, seg, at.step + 1, lineage.chain(store, seg_id))  # type: ignore[arg-type]


def _renames(name: str | None, tags: list[str] | None, notes: str | None) -> dict[str, Any]:
    """Name, tags and notes are kept unless the call passes new ones (W&B silently drops ``name=``)."""
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    if tags is not None:
        out["tags"] = tags
    if notes is not None:
        out["notes"] = notes
    return out
