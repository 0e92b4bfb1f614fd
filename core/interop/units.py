"""What an export writes: one *unit* per run head and per archived branch, read in step windows.

A unit's history is the stitched visible history (a fork's inherited prefix included), so each
exported curve is whole on its own; ``lineage`` says where it branched so the tree can be rebuilt.
History is read window by window through ``RunView.ranges()`` and ``Store.read`` on a sub-range,
never all at once: exporting 10 M points keeps memory flat. A read covers a span of steps, so it
holds at most that many rows; gaps are jumped over with a binary search for the next step with a
row, so sparse or huge step numbers cost a few small queries, not one read per empty window.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from .. import media
from ..api import Api, RunView
from ..errors import ForkpointError, RunNotFoundError
from ..store import Range, Store

TIMESTAMP = "_timestamp"  # the wall time every logged row carries (hidden from plain reads)
ROWS_PER_WINDOW = 10_000  # rows per read: large enough to amortise a query, small enough for flat memory
MAX_STRETCH = 16  # how far the step span of a read may grow beyond ROWS_PER_WINDOW over sparse logging


class InteropError(ForkpointError, ValueError):
    """An export or import that cannot be done as asked (bad destination, unreadable source...)."""


@dataclass
class Unit:
    """One exported curve set: a run head (``id == run_id``) or an archived branch (``"<id>~k"``)."""

    view: RunView
    store: Store

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def project(self) -> str:
        return self.view.project

    def lineage(self) -> dict[str, Any]:
        """Where this unit came from, in plain values (written beside the data by every format)."""
        v = self.view
        parent = v.parent
        return {
            "id": v.id, "run_id": v.run_id, "project": v.project, "name": v.name, "kind": v.kind,
            "state": v.state, "archived": v.is_archived,
            "parent": str(parent) if parent else None,
            "parent_run": parent.run_id if parent else None,
            "branch_step": parent.step if parent else None,
            "tags": list(v.tags), "notes": v.notes, "created_at": v.created_at,
        }

    def metric_keys(self) -> list[str]:
        """Every key of the stitched history, sorted."""
        return sorted({k for r in self.view.ranges() for k in self.store.keys(r.segment)})

    def load(self, ref: dict[str, Any]) -> Any:
        """A media reference of this unit's history as the ``Image``/``Histogram``/``Table`` (or list)."""
        return media.load(ref, self.store)

    def rows(self, window: int = ROWS_PER_WINDOW, timestamps: bool = False) -> Iterator[dict[str, Any]]:
        """The stitched history, row by row in step order, read ``window`` rows at a time.
        ``timestamps``: each row also holds its wall time, ``_timestamp`` (for formats that keep one
        per point), where the row has one (rows logged before forkpoint recorded it have none)."""
        keys = [*self.metric_keys(), TIMESTAMP] if timestamps else None
        for r in self.view.ranges():
            for batch in _range_batches(self.store, r, window, keys):
                yield from batch

    def row_batches(self, window: int = ROWS_PER_WINDOW) -> Iterator[list[dict[str, Any]]]:
        """The stitched history as lists of at most ``window * MAX_STRETCH`` rows each (``window``
        where every step has a row)."""
        for r in self.view.ranges():
            yield from _range_batches(self.store, r, window)


class MediaFiles:
    """Media of exported rows as files, for the formats that have no media of their own (CSV,
    Parquet): each blob is written once, as ``<dir>/<sha256>.<ext>`` (``png``/``jpeg``/... for an
    image, ``json`` for a histogram or table), and the cell holds its path relative to the export's
    DEST; a media list becomes a JSON list of such paths."""

    def __init__(self, store: Store, dest: str, folder: str) -> None:
        self.store, self.dest, self.folder = store, dest, folder
        self.written: set[str] = set()

    def cell(self, value: dict[str, Any]) -> str:
        if value.get("_type") == media.LIST_TYPE:
            return json.dumps([self._file(item) for item in value["items"]])
        return self._file(value)

    def _file(self, ref: dict[str, Any]) -> str:
        ext = (ref.get("format") or "png") if ref["_type"] == "image-file" else "json"
        rel = os.path.join(self.folder, f"{ref['sha256']}.{ext}")
        if rel not in self.written:
            path = os.path.join(self.dest, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(media.blob(ref, self.store))
            self.written.add(rel)
        return rel


def media_items(key: str, value: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(tag, ref)`` per item of a media value: the key itself, or ``key/0``, ``key/1``... for a list
    (for formats whose tags hold one media value each)."""
    if value.get("_type") == media.LIST_TYPE:
        return [(f"{key}/{i}", item) for i, item in enumerate(value["items"])]
    return [(key, value)]


def _range_batches(store: Store, r: Range, window: int,
                   keys: Sequence[str] | None = None) -> Iterator[list[dict[str, Any]]]:
    top = store.last_step(r)
    if top is None:
        return
    lo, span = r.lo, window
    while lo <= top:
        hi = min(top, lo + span - 1)
        batch = store.read([Range(r.segment, r.run_id, lo, hi)], keys)
        if not batch:  # a gap: jump to the next step that has a row
            lo = _next_step(store, r, hi + 1, top)
            continue
        yield batch
        # a step holds at most one row, so a span of ``window`` steps reads at most ``window`` rows;
        # sparse logging (every k-th step) widens the span, at most MAX_STRETCH-fold
        if len(batch) * 2 < window and span < window * MAX_STRETCH:
            span *= 2
        elif len(batch) > window:
            span = max(window, span // 2)
        lo = hi + 1


def _next_step(store: Store, r: Range, lo: int, top: int) -> int:
    """The smallest step >= ``lo`` with a row in ``r`` (``top``, the last one, has a row): a binary
    search with ``Store.last_step``, so a gap of 10**15 steps costs about 50 small queries."""
    a, b = lo, top
    while a < b:
        mid = (a + b) // 2
        if store.last_step(Range(r.segment, r.run_id, lo, mid)) is None:
            a = mid + 1
        else:
            b = mid
    return a


def api_of(api_or_store: Api | Store | str | os.PathLike[str] | None) -> Api:
    """An ``Api`` for an Api, a Store, a path or URL (a store that does not exist is refused)."""
    return api_or_store if isinstance(api_or_store, Api) else Api(api_or_store)


def select(api: Api, runs: str | Sequence[str] | None = None, project: str | None = None,
           archived: bool = True) -> list[Unit]:
    """The units to export: the named runs (or every run of ``project``), each followed by its
    archived branches (``archived=False`` leaves those out)."""
    if (runs is None) == (project is None):
        raise InteropError("export needs either runs (ids or refs) or project=..., not both and not neither")
    if project is not None:
        views = api.runs(project)
        if not views:
            raise RunNotFoundError(f"project {project!r} has no runs in store {api.store.url}")
    else:
        refs = [runs] if isinstance(runs, str) else list(runs)  # type: ignore[arg-type]
        if not refs or not all(isinstance(r, str) for r in refs):
            raise InteropError(f"runs={runs!r}: expected a run ref or a list of them ('<id>', '<project>/<id>', '<id>~k')")
        views = [api.run(r) for r in refs]
    units: list[Unit] = []
    seen: set[str] = set()
    for v in views:
        for u in [v, *(v.archived() if archived and not v.is_archived else [])]:
            if u.id not in seen:
                seen.add(u.id)
                units.append(Unit(u, api.store))
    return units
