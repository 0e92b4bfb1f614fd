"""Reading through lineage: a run's visible history is a chain of segment ranges.

A segment made by a rewind or fork at N points to ``(parent segment, N)``. Walking from a head
segment towards the root, each parent contributes its rows up to the smallest branch step seen so
far. That walk (``chain``) is the only way history, summary and last step are read, so forks of
forks, forks of rewound runs and forks of archived branches all read the same way.

Which branch a fork's parent is gets derived at read time, never trusted from what was true when
the fork was made (see ``parent``): a later rewind of the parent moves the fork's prefix into an
archived branch, and the lineage must then name that branch. Every walk here is a loop (a fork
chain may be thousands deep).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

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
    """Where the visible history of ``segment`` (a segment of ``record``) branched off.

    Rewound run (or an archived branch made by a rewind): ``("<id>~k", N)``, the branch the rewind
    left. Fork: ``(branch, N)`` where ``branch`` is the parent run or one of its archived branches,
    whichever holds the fork's inherited rows *now*. The fork's history leaves its own run at
    ``(parent segment, N)``; if the parent run's current history shows that segment at step N, the
    parent run is named, otherwise the archived branch ``P~k`` that does. So fork F at step 150 of
    P reads ``P?_step=150`` until P is rewound to 100; from then on it reads ``P~k?_step=150``
    (P's rows <= 150 as F saw them live in ``P~k``). A fork made at a step <= the rewind step
    still belongs to P (P still shows those rows). A fork made from ``P~k`` explicitly keeps naming
    ``P~k``. ``N`` is where this segment's history leaves the fork's own run: the fork step, or a
    lower one if the fork itself was rewound below it."""
    if record.origin == "fork":
        return fork_parent(store, record, segment)
    if segment.origin == "rewind" and segment.replaces is not None:
        return BranchPoint(f"{record.id}~{store.get_segment(segment.replaces).ordinal}", segment.branch_step)  # type: ignore[arg-type]
    return None


def fork_parent(store: Store, record: RunRecord, segment: SegmentRecord) -> BranchPoint:
    """A fork's parent branch as the store holds it now (the rule is in ``parent``)."""
    stored = BranchPoint(record.parent_run, record.parent_step)  # type: ignore[arg-type]
    left = leaves_run(store, segment.id)
    if left is None:  # a fork's history always reads its parent; keep what was recorded
        return stored
    held_by, step = left
    base, _, archive = stored.run_id.partition("~")
    owner = store.get_run(base)
    if owner is None or owner.head_segment is None:
        return BranchPoint(stored.run_id, step)
    if not archive and holder(store, owner.head_segment, step) == held_by:
        return BranchPoint(base, step)  # the common case: two small lookups
    segments = store.run_segments(base)
    if archive:
        named = next((s for s in segments if str(s.ordinal) == archive), None)
        if named is not None and holder(store, named.id, step) == held_by:
            return BranchPoint(stored.run_id, step)
        if holder(store, owner.head_segment, step) == held_by:
            return BranchPoint(base, step)
    archived = [s for s in segments if s.id != owner.head_segment and holder(store, s.id, step) == held_by]
    if not archived:
        return BranchPoint(stored.run_id, step)
    # Several archived branches can show the same rows (each rewind keeps the older prefix): name
    # the one that was the parent's head when the fork was made, the branch the user forked from.
    made = record.created_at
    at_fork = [s for s in archived if s.created_at <= made and (s.superseded_at is None or s.superseded_at >= made)]
    pick = (at_fork or archived)[-1]
    return BranchPoint(f"{base}~{pick.ordinal}", step)


def leaves_run(store: Store, segment_id: int) -> tuple[int, int] | None:
    """``(segment, step)`` where the history of ``segment_id`` first reads another run's rows: that
    run's segment and the last step read from it. None for a history that stays in one run."""
    seg = segment_id
    run_id = store.link(seg).run_id
    hi = INF_STEP
    while True:
        link = store.link(seg)
        if link.branch_step is not None:
            hi = min(hi, link.branch_step)
        if link.parent_segment is None:
            return None
        if store.link(link.parent_segment).run_id != run_id:
            return link.parent_segment, hi
        seg = link.parent_segment


def holder(store: Store, segment_id: int, step: int) -> int | None:
    """The segment whose rows at ``step`` the history of ``segment_id`` shows (None: none, the
    step is below where that history starts). Same answer as ``attach_point(chain(...), step)``,
    but the walk stops at the holder: one or two links for a step near the head, however deep the
    lineage below it."""
    seg: int | None = segment_id
    while seg is not None:
        link = store.link(seg)
        if link.start_step <= step:
            return seg
        seg = link.parent_segment
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


def chains(store: Store, segment_ids: Sequence[int]) -> dict[int, list[Range]]:
    """``chain(store, s)`` for each of ``segment_ids``, walking each segment once: a segment's
    chain is its parent's, cut at its branch step, plus its own range. Many branches of one lineage
    (the UI's runs table and lineage graph, gc) then cost one link read per segment instead of one
    per segment per descendant (a 600-deep fork chain: 600 reads, not 180,000)."""
    whole: dict[int, list[Range]] = {}  # segment -> chain(store, segment), as chain() gives it
    for start in segment_ids:
        todo: list[int] = []
        seg: int | None = start
        while seg is not None and seg not in whole:  # up to the first segment already known
            todo.append(seg)
            seg = store.link(seg).parent_segment
        for seg in reversed(todo):  # then down, parents first
            link = store.link(seg)
            out: list[Range] = []
            if link.parent_segment is not None:
                hi = INF_STEP if link.branch_step is None else link.branch_step
                out = [r if r.hi <= hi else Range(r.segment, r.run_id, r.lo, hi)
                       for r in whole[link.parent_segment] if r.lo <= min(r.hi, hi)]
            out.append(Range(seg, link.run_id, link.start_step, INF_STEP))
            whole[seg] = out
    return {s: whole[s] for s in segment_ids}


def last_step(store: Store, ranges: list[Range]) -> int | None:
    """The last step with a row in the visible history, or None if it is empty."""
    for r in reversed(ranges):
        got = store.last_step(r)
        if got is not None:
            return got
    return None


def computed_summary(store: Store, ranges: list[Range]) -> dict[str, Any]:
    """Last value per key over the visible history (newer segments win), keys in sorted order.

    Read newest range first; a range whose keys all have a newer value already is not read (on a
    deep fork chain logging the same keys, one small query per older range instead of several)."""
    out: dict[str, Any] = {}
    for r in reversed(ranges):
        if all(k in out for k in store.keys(r.segment)):
            continue
        for key, (_, value) in store.last_values(r).items():
            out.setdefault(key, value)
    return dict(sorted(out.items()))


def attach_point(ranges: list[Range], step: int) -> int:
    """The newest segment in ``ranges`` that holds ``step``: a branch at ``step`` hangs off it."""
    for r in reversed(ranges):
        if r.lo <= step:
            return r.segment
    return ranges[0].segment
