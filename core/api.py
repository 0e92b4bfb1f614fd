"""Reading runs back: ``forkpoint.Api().run("<id>")`` gives a read-only ``RunView``.

``history()`` is the stitched visible history (inherited prefix included); ``own_only=True`` keeps
only rows the run logged itself. ``archived()`` lists the branches rewinds left behind, each
readable the same way and addressable as ``"<id>~k"``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from . import lineage
from .branch import get_run, segment_of
from .lineage import BranchPoint
from .owner import effective_state
from .spec import check_project, parse_run_ref
from .store import Range, RunRecord, SegmentRecord, Store, open_store


class RunView:
    """A run (or one archived branch of it) as stored. Reads go to the store each time."""

    def __init__(self, store: Store, record: RunRecord, segment: SegmentRecord) -> None:
        self._store = store
        self._record = record
        self._segment = segment
        self.is_archived = segment.id != record.head_segment
        self.run_id = record.id
        self.id = f"{record.id}~{segment.ordinal}" if self.is_archived else record.id
        self.project = record.project
        self.name = record.name
        self.tags = list(record.tags)
        self.notes = record.notes
        self.created_at = record.created_at
        self.dropped_steps = record.dropped_steps
        self.step_metrics = list(record.step_metrics)

    @property
    def state(self) -> str:
        """running, finished or crashed (a dead writer's run); ``archived`` for an archived branch."""
        return "archived" if self.is_archived else effective_state(self._record)

    @property
    def exit_code(self) -> int | None:
        return self._record.exit_code

    @property
    def kind(self) -> str:
        """``"fork"``, ``"rewind"`` or ``"run"`` (see ``lineage.kind``)."""
        return lineage.kind(self._record, self._segment)

    @property
    def parent(self) -> BranchPoint | None:
        return lineage.parent(self._store, self._record, self._segment)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._segment.config)

    @property
    def config_changes(self) -> list[str]:
        """Dotted config keys the rewind/fork/resume that started this segment changed."""
        return list(self._segment.config_changes)

    def ranges(self) -> list[Range]:
        return lineage.chain(self._store, self._segment.id)

    @property
    def summary(self) -> dict[str, Any]:
        out = lineage.computed_summary(self._store, self.ranges())
        out.update(self._segment.summary)
        return out

    @property
    def last_step(self) -> int | None:
        return lineage.last_step(self._store, self.ranges())

    @property
    def branch_step(self) -> int | None:
        """For a rewind or fork segment: the step N it branched at."""
        return self._segment.branch_step

    def history(self, keys: Sequence[str] | None = None, own_only: bool = False) -> list[dict[str, Any]]:
        """Rows ``{"_step": s, key: value}`` in step order.

        ``keys``: only these keys, and only rows holding at least one of them. ``own_only``: leave out
        the prefix inherited from a fork parent.
        """
        if isinstance(keys, str):
            keys = [keys]
        ranges = self.ranges()
        if own_only:
            ranges = [r for r in ranges if r.run_id == self.run_id]
        return self._store.read(ranges, list(keys) if keys is not None else None)

    def artifacts(self) -> dict[str, dict[str, Any]]:
        """Visible artifacts, newest record per name: ``{name: {"path", "size", "sha256", "step"}}``."""
        keys = sorted({k for r in self.ranges() for k in self._store.keys(r.segment) if k.startswith("artifact/")})
        out = {}
        for row in self.history(keys=keys) if keys else []:
            for k, v in row.items():
                if k != "_step":
                    out[k[len("artifact/"):]] = {**json.loads(v), "step": row["_step"]}
        return out

    def console(self, stream: str = "stdout") -> str:
        """Captured console text of the visible history, in step order."""
        key = f"console/{stream}"
        return "".join(r[key] for r in self.history(keys=[key]))

    def history_df(self, keys: Sequence[str] | None = None, own_only: bool = False) -> Any:
        """``history()`` as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("history_df() needs pandas: pip install pandas") from None
        rows = self.history(keys, own_only)
        return pd.DataFrame.from_records(rows, columns=["_step", *sorted({k for r in rows for k in r} - {"_step"})])

    def children(self) -> list["RunView"]:
        """Runs forked from this run (or from this archived branch)."""
        return [RunView(self._store, c, segment_of(self._store, c, None)) for c in self._store.children(self.id)]

    def archived(self) -> list["RunView"]:
        """The archived branches of the run, oldest first (empty for an archived view)."""
        if self.is_archived:
            return []
        return [RunView(self._store, self._record, s) for s in self._store.run_segments(self.run_id)
                if s.id != self._record.head_segment]

    def ancestors(self) -> list[BranchPoint]:
        """Branch points from this run up to its root: nearest first."""
        out: list[BranchPoint] = []
        view: RunView | None = self
        while view is not None and view.parent is not None:
            out.append(view.parent)
            try:
                view = Api(self._store).run(view.parent.run_id)
            except LookupError:
                view = None
        return out

    def __repr__(self) -> str:
        return f"<forkpoint.RunView {self.project}/{self.id} {self.state} kind={self.kind}>"


class Api:
    """Read access to a store (path, URL, or ``FORKPOINT_STORE`` / the default). A store that does
    not exist is a ``StoreError``; reading never creates one."""

    def __init__(self, store: "str | os.PathLike[str] | Store | None" = None) -> None:
        self.store = open_store(store, create=False)

    def runs(self, project: str | None = None) -> list[RunView]:
        if project is not None:
            check_project(project)
        return [RunView(self.store, r, segment_of(self.store, r, None)) for r in self.store.list_runs(project)]

    def run(self, ref: str) -> RunView:
        """``"<id>"``, ``"<project>/<id>"`` or ``"<id>~k"`` (archived branch k)."""
        project, run_id, archive = parse_run_ref(ref)
        rec = get_run(self.store, run_id, project)
        return RunView(self.store, rec, segment_of(self.store, rec, archive))
