"""Reading through lineage: a run's visible history is a chain of segment ranges.

A segment made by a rewind or fork at N points to ``(parent segment, N)``. Walking from a head
segment towards the root, each parent contributes its rows up to the smallest branch step seen so
far. That walk (``chain``) is the only way history, summary and last step are read, so forks of
forks, forks of rewound runs and forks of archived branches all read the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .store import INF_STEP, Range, RunRecord, SegmentRecord, Store


class BranchPoint(NamedTuple):
    """``(run_id, step)``; ``str()`` gives the spec ``"<run_id>?_step=<N>"``."""

    run_id: str
    step: int

    def __str__(self) -> str:
        return f"{self.run_id}?_step={self.step}"


def kind(record: RunRecord, segment: SegmentRecord) -> str:
    """``"fork"`` (made by fork_from), ``"rewind"`` (rewound at least once) or ``"run"``."""
    if record.origin == "fork":
        return "fork"
    return "rewind" if segment.ordinal > 1 else "run"


def parent(store: Store, record: RunRecord, segment: SegmentRecord) -> BranchPoint | None:
    """Fork: ``(parent run, step)``. Rewound run: ``("<id>~k", step)``, the archived branch it left."""
    if record.origin == "fork":
        return BranchPoint(record.parent_run, record.parent_step)  # type: ignore[arg-type]
    if segment.origin == "rewind" and segment.replaces is not None:
        return BranchPoint(f"{record.id}~{store.get_segment(segment.replaces).ordinal}", segment.branch_step)  # type: ignore[arg-type]
    return None


def chain(store: Store, segment_id: int, hi: int = INF_STEP) -> list[Range]:
    """The ranges that make up the visible history of ``segment_id``, oldest first."""
    out: list[Range] = []
    seg: int | None = segment_id
    while seg is not None:
        link = store.link(seg)
        if link.start_step <= hi:
            out.append(Range(seg, link.run_id, link.start_step, hi))
        if link.branch_step is not None:
            hi = min(hi, link.branch_step)
        seg = link.parent_segment
    out.reverse()
    return out


def last_step(store: Store, ranges: list[Range]) -> int | None:
    """The last step with a row in the visible history, or None if it is empty."""
    for r in reversed(ranges):
        got = store.last_step(r)
        if got is not None:
            return got
    return None


def computed_summary(store: Store, ranges: list[Range]) -> dict[str, Any]:
    """Last value per key over the visible history (newer segments win)."""
    out: dict[str, Any] = {}
    for r in ranges:
        for key, (_, value) in store.last_values(r).items():
            out[key] = value
    return out


def attach_point(ranges: list[Range], step: int) -> int:
    """The newest segment in ``ranges`` that holds ``step``: a branch at ``step`` hangs off it."""
    for r in reversed(ranges):
        if r.lo <= step:
            return r.segment
    return ranges[0].segment
