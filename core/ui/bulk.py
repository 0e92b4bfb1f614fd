"""Many runs at once, for the runs table and the lineage graph: a few queries for thousands of runs.

``RunView`` reads the store on every property (several queries per run: summary, last step,
parent). Here the runs' records and all their segments are read in one go (``Store.segments_of``),
lineage walks run in memory, and the data-derived parts of a branch (its computed summary and last
step) come from ``Store.segment_tails`` (the newest value per key per segment, one query per 500
segments) or, unchanged since the last request, from ``Cache``. What reads the same as
``RunView``: ``summary``, ``last_step``, ``parent``, ``kind``, ``state`` (tests compare them).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence, cast

from .. import lineage
from ..lineage import BranchPoint
from ..owner import effective_state
from ..store import Range, RunRecord, SegmentRecord, Store
from ..store.base import SegmentLink


class Cache:
    """Per branch: (version, computed summary, last step). The version names every segment its
    visible history reads with the fields a write changes (``write_seq``, ``last_step``) and the
    owning run's ``updated_at``, so a live run's new rows, a rewind (new head segment) or a fork
    of a run still writing at the fork step all miss and are read again; nothing else expires."""

    LIMIT = 200_000  # entries; beyond that start over (a store with more branches than this re-reads)

    def __init__(self) -> None:
        self._data: dict[int, tuple[tuple, dict[str, Any], int | None]] = {}
        self._lock = threading.Lock()
        # whole answers of the runs table and lineage graph: (project, q or name) -> views.CachedTable
        self.tables: dict[tuple[str | None, str], Any] = {}

    def get(self, segment: int, version: tuple) -> tuple[dict[str, Any], int | None] | None:
        got = self._data.get(segment)
        if got is None or got[0] != version:
            return None
        return got[1], got[2]

    def put(self, segment: int, version: tuple, summary: dict[str, Any], last: int | None) -> None:
        with self._lock:
            if len(self._data) >= self.LIMIT:
                self._data.clear()
            self._data[segment] = (version, summary, last)


class _Prefetched:
    """The store's run and segment reads answered from what ``Snapshot`` loaded (falling back to
    the store for runs outside it, e.g. a fork's parent in another project), so ``lineage.parent``
    runs without a query per run."""

    def __init__(self, store: Store, runs: dict[str, RunRecord], segments: dict[int, SegmentRecord],
                 by_run: dict[str, list[SegmentRecord]]) -> None:
        self._store, self._runs, self._segments, self._by_run = store, runs, segments, by_run

    def get_run(self, run_id: str) -> RunRecord | None:
        got = self._runs.get(run_id)
        return got if got is not None else self._store.get_run(run_id)

    def run_segments(self, run_id: str) -> list[SegmentRecord]:
        got = self._by_run.get(run_id)
        return got if got is not None else self._store.run_segments(run_id)

    def get_segment(self, segment_id: int) -> SegmentRecord:
        got = self._segments.get(segment_id)
        return got if got is not None else self._store.get_segment(segment_id)

    def link(self, segment_id: int) -> SegmentLink:
        s = self._segments.get(segment_id)
        if s is None:
            return self._store.link(segment_id)
        return SegmentLink(s.run_id, s.start_step, s.parent_segment, s.branch_step)


class Branch:
    """One branch of a run as the snapshot read it: the head (``id == run_id``) or ``<id>~k``."""

    __slots__ = ("id", "is_archived", "last_step", "ranges", "record", "segment", "summary")

    def __init__(self, record: RunRecord, segment: SegmentRecord) -> None:
        self.record = record
        self.segment = segment
        self.is_archived = segment.id != record.head_segment
        self.id = f"{record.id}~{segment.ordinal}" if self.is_archived else record.id
        self.ranges: list[Range] = []
        self.summary: dict[str, Any] = {}
        self.last_step: int | None = None

    @property
    def state(self) -> str:
        return "archived" if self.is_archived else effective_state(self.record)

    @property
    def kind(self) -> str:
        return lineage.kind(self.record, self.segment)


class Snapshot:
    """Runs (records as given), every branch of them, with summary and last step filled in."""

    def __init__(self, store: Store, records: Sequence[RunRecord], cache: Cache | None = None,
                 archived: bool = True) -> None:
        self.store = store
        self.runs = {r.id: r for r in records}
        segs = store.segments_of(list(self.runs))
        self.segments = {s.id: s for s in segs}
        self.by_run: dict[str, list[SegmentRecord]] = {}
        for s in segs:
            self.by_run.setdefault(s.run_id, []).append(s)
        self.view = cast(Store, _Prefetched(store, self.runs, self.segments, self.by_run))
        self.branches: list[Branch] = []
        for rec in records:
            for s in self.by_run.get(rec.id, []):
                if archived or s.id == rec.head_segment:
                    self.branches.append(Branch(rec, s))
        self._fill(cache)

    def heads(self) -> list[Branch]:
        return [b for b in self.branches if not b.is_archived]

    def _version(self, ranges: list[Range]) -> tuple:
        out = []
        for r in ranges:
            s = self.segments.get(r.segment)
            if s is None:  # outside the snapshot (a parent in another project): read it now
                s = self.store.get_segment(r.segment)
                self.segments[s.id] = s
            run = self.runs.get(s.run_id)
            out.append((r.segment, r.hi, s.write_seq, s.last_step, run.updated_at if run else None))
        return tuple(out)

    def _fill(self, cache: Cache | None) -> None:
        missing: list[tuple[Branch, tuple]] = []
        ranges = lineage.chains(self.view, [b.segment.id for b in self.branches])
        for b in self.branches:
            b.ranges = ranges[b.segment.id]
            version = self._version(b.ranges)
            got = cache.get(b.segment.id, version) if cache is not None else None
            if got is None:
                missing.append((b, version))
            else:
                b.summary, b.last_step = got
        if not missing:
            return
        tails = self.store.segment_tails(sorted({r.segment for b, _ in missing for r in b.ranges}))
        for b, version in missing:
            b.summary = self._summary(b.ranges, tails)
            b.last_step = self._last_step(b.ranges)
            if cache is not None:
                cache.put(b.segment.id, version, b.summary, b.last_step)

    def _whole(self, r: Range) -> bool:
        last = self.segments[r.segment].last_step
        return last is None or last <= r.hi

    def _summary(self, ranges: list[Range], tails: dict[int, dict[str, tuple[int, Any]]]) -> dict[str, Any]:
        # lineage.computed_summary, with the newest value per key of a whole segment from ``tails``;
        # a range cut below its segment's end (a fork's parent, a rewound run's older rows) is read as before
        out: dict[str, Any] = {}
        for r in reversed(ranges):
            tail = tails.get(r.segment, {})
            if tail and all(k in out for k in tail):
                continue
            got = tail if self._whole(r) else self.store.last_values(r)
            for key, (_, value) in got.items():
                out.setdefault(key, value)
        return dict(sorted(out.items()))

    def _last_step(self, ranges: list[Range]) -> int | None:
        for r in reversed(ranges):
            last = self.segments[r.segment].last_step
            if last is None or last < r.lo:
                continue
            if last <= r.hi:
                return last
            got = self.store.last_step(r)
            if got is not None:
                return got
        return None

    def parent(self, b: Branch) -> BranchPoint | None:
        return lineage.parent(self.view, b.record, b.segment)

    def replaced_at(self, b: Branch) -> int | None:
        """For an archived branch: the step of the rewind that archived it."""
        for s in self.by_run.get(b.record.id, []):
            if s.replaces == b.segment.id:
                return s.branch_step
        return None
