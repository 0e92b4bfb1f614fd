"""Dropping archived branches on purpose: ``forkpoint gc``.

A rewind never deletes rows: the superseded segment stays as the archived branch ``<id>~k``.
``collect`` drops archived branches the user no longer wants, and only those that no visible
history reads through: a segment on the chain of any run's head (a fork made before the rewind,
or the rewound run itself up to its branch step) is kept. ``dry_run=True`` (the CLI's
``--dry-run``) says what would go and how much, and drops nothing. A rewound run whose archived
branch was dropped keeps ``kind == "rewind"``; its ``parent`` is None from then on (the branch it
left no longer exists).

``collect_media`` then drops media blobs that no stored history refers to any more: those only
the dropped branches logged, and those a process stored before it died without writing the row
that refers to them. A blob stored (or stored again) in the last ``MEDIA_GRACE`` seconds is kept:
a live run stores a blob before the row that refers to it reaches the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from . import lineage
from .branch import get_run
from .errors import UsageError
from .media import LIST_TYPE, is_ref
from .store import Store

MEDIA_GRACE = 3600.0  # seconds: far longer than a row waits in a live writer (flush interval, back-pressure)


@dataclass
class Archived:
    """One archived branch that ``collect`` dropped (or would drop)."""

    ref: str  # "<run_id>~<k>"
    segment: int
    points: int
    bytes: int


def collect(store: Store, run_id: str | None = None, project: str | None = None, *, dry_run: bool = False) -> list[Archived]:
    """Drop the archived branches of ``run_id`` (or of every run in ``project``, or in the store)
    that no visible history reads through. Returns what was (or, with ``dry_run``, would be) dropped."""
    if run_id is not None and project is not None:
        raise UsageError("gc takes a run or a project, not both")
    with store.transaction():
        runs = [get_run(store, run_id)] if run_id is not None else store.list_runs(project)
        # every segment some run's visible history reads (any project: forks may cross projects)
        heads = [rec.head_segment for rec in store.list_runs() if rec.head_segment is not None]
        needed = {r.segment for ranges in lineage.chains(store, heads).values() for r in ranges}
        out: list[Archived] = []
        for rec in runs:
            for seg in store.run_segments(rec.id):
                if seg.id == rec.head_segment or seg.id in needed:
                    continue
                points, size = store.segment_size(seg.id)
                out.append(Archived(f"{rec.id}~{seg.ordinal}", seg.id, points, size))
        if not dry_run:
            dropped = {a.segment for a in out}
            for rec in runs:
                for seg in store.run_segments(rec.id):
                    if seg.replaces in dropped:  # its archived branch is gone: the rewind names none now
                        store.update_segment(seg.id, replaces=None)
            for a in out:
                store.delete_segment(a.segment)
    return out


@dataclass
class Blobs:
    """Media blobs that ``collect_media`` dropped (or would drop)."""

    count: int
    bytes: int


def collect_media(store: Store, *, dry_run: bool = False, grace: float = MEDIA_GRACE,
                  dropping: Iterable[Archived] = ()) -> Blobs:
    """Drop the media blobs no history value refers to, except those stored in the last ``grace``
    seconds. Reads every media reference in the store (gc is rare; it never runs on the write path).
    ``dropping``: branches a dry run of ``collect`` would drop, counted as gone already."""
    with store.transaction():
        referenced = set(_digests(store.blob_references(skip={a.segment for a in dropping})))
        young = time.time() - grace
        gone = [(d, n) for d, n, t in store.blobs() if d not in referenced and t < young]
        if gone and not dry_run:
            store.delete_blobs(d for d, _ in gone)
    return Blobs(len(gone), sum(n for _, n in gone))


def _digests(values: Iterable[Any]) -> Iterable[str]:
    for v in values:
        if is_ref(v):
            if v["_type"] == LIST_TYPE:
                yield from (item["sha256"] for item in v["items"])
            else:
                yield v["sha256"]
