"""Reading through lineage: a run's visible history is a chain of segment ranges.

A segment made by a rewind or fork at N points to ``(parent segment, N)``. Walking from a head
segment towards the root, each parent contributes its rows up to the smallest branch step seen so
far. That walk (``chain``) is the only way history, summary and last step are read, so forks of
forks, forks of rewound runs and forks of archived branches all read the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .store import INF_STEP, Range, Store


class BranchPoint(NamedTuple):
    """``(run_id, step)``; ``str()`` gives the spec ``"<run_id>?_step=<N>"``."""

    run_id: str
    step: int

    def __str__(self) -> str:
        return f"{self.run_id}?_step={self.step}"


class _Link(NamedTuple):
    run_id: str
    start_step: int
    parent_segment: int | None
    branch_step: int | None


def _link(store: Store, segment_id: int) -> _Link:
    # these four fields never change once a segment exists, so they are cached per store
    cache: dict[int, _Link] = store.__dict__.setdefault("_links", {})
    got = cache.get(segment_id)
    if got is None:
        seg = store.get_segment(segment_id)
        got = cache[segment_id] = _Link(seg.run_id, seg.start_step, seg.parent_segment, seg.branch_step)
    return got


def chain(store: Store, segment_id: int, hi: int = INF_STEP) -> list[Range]:
    """The ranges that make up the visible history of ``segment_id``, oldest first."""
    out: list[Range] = []
    seg: int | None = segment_id
    while seg is not None:
        link = _link(store, seg)
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
