"""Reading runs back: ``forkpoint.Api().run("<id>")`` gives a read-only ``RunView``.

``history()`` is the stitched visible history (inherited prefix included); ``own_only=True`` keeps
only rows the run logged itself. ``archived()`` lists the branches rewinds left behind, each
readable the same way and addressable as ``"<id>~k"``. ``keys()``, ``series()``, ``parent``,
``children()``, ``ancestors()``, ``root()`` and ``tree()`` are the one read model the UI, the CLI
and exports use; every lineage walk is a loop, so a fork chain of any depth reads.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, NamedTuple, Sequence

from . import lineage
from .branch import get_run, segment_of
from .errors import RunNotFoundError
from .lineage import BranchPoint
from .owner import effective_state
from .spec import check_project, parse_run_ref
from .store import Range, RunRecord, SegmentRecord, Store, open_store


class Series(NamedTuple):
    """One metric of a run in step order; ``steps[:own_from]`` are inherited from fork parents."""

    key: str
    steps: list[int]
    values: list[Any]
    own_from: int


class Span(NamedTuple):
    """What a branch holds: rows ``<= parent.step`` read from ``parent`` (None: nothing inherited),
    then its own rows ``own_first..own_last`` (``own_last`` None: none logged yet)."""

    parent: BranchPoint | None
    own_first: int
    own_last: int | None

    def __str__(self) -> str:
        own = "no own rows" if self.own_last is None else f"own steps {self.own_first}..{self.own_last}"
        if self.parent is None:
            return own
        return f"steps <= {self.parent.step} from {self.parent.run_id}, {own}"


class TreeEntry(NamedTuple):
    """One line of a lineage tree: how deep, how it hangs off its parent line, the view."""

    depth: int
    relation: str  # "root", "archived" or "fork"
    view: RunView
    last: bool  # the last entry among its siblings


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
        self.updated_at = record.updated_at  # the last write (rows, heartbeat, finish) as of this view
        self.dropped_steps = record.dropped_steps
        self.step_metrics = list(record.step_metrics)
        self.entity = record.entity  # W&B's entity, group and job_type, as given to init
        self.group = record.run_group
        self.job_type = record.job_type

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
        """``(branch, step)`` this view branched from, derived from the store as it is now: a fork
        names the branch that holds its inherited rows (``P``, or ``P~k`` once a rewind of P moved
        them there); a rewound run names the archived branch it left. See ``lineage.parent``."""
        return lineage.parent(self._store, self._record, self._segment)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._segment.config)

    @property
    def config_changes(self) -> list[str]:
        """Dotted config keys the rewind/fork/resume that started this segment changed."""
        return list(self._segment.config_changes)

    def ranges(self) -> list[Range]:
        """The segment ranges the visible history reads, oldest first (``lineage.chain``)."""
        return lineage.chain(self._store, self._segment.id)

    def _ranges(self, own_only: bool) -> list[Range]:
        ranges = self.ranges()
        return [r for r in ranges if r.run_id == self.run_id] if own_only else ranges

    @property
    def summary(self) -> dict[str, Any]:
        """Last value per key over the visible history (``_timestamp`` left out), then explicit writes."""
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
        the prefix inherited from a fork parent. Without ``keys``, W&B's ``_timestamp`` (every row's
        wall time) is left out: ask for it by name, ``history(keys=["_timestamp"])``.
        """
        if isinstance(keys, str):
            keys = [keys]
        return self._store.read(self._ranges(own_only), list(keys) if keys is not None else None)

    def scan_history(self, keys: Sequence[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """W&B's ``scan_history``: the visible history as an iterator, read ``page_size`` steps at a
        time; with ``keys``, only those keys and only rows holding all of them; steps
        ``min_step <= _step < max_step``. ``_timestamp`` only when named in ``keys``."""
        if isinstance(keys, str):
            keys = [keys]
        want = list(keys) if keys is not None else None
        ranges = self.ranges()
        lo = max(min_step or 0, 0)
        last = self.last_step
        hi = last + 1 if last is not None else 0
        if max_step is not None:
            hi = min(hi, max_step)
        page = max(int(page_size), 1)
        for start in range(lo, hi, page):
            end = min(start + page, hi) - 1
            window = [Range(r.segment, r.run_id, max(r.lo, start), min(r.hi, end)) for r in ranges
                      if r.lo <= end and r.hi >= start]
            for row in self._store.read(window, want) if window else []:
                if want is None or all(k in row for k in want):
                    yield row

    def artifacts(self) -> dict[str, dict[str, Any]]:
        """Visible artifacts, newest record per name: ``{name: {"path", "size", "sha256", "step"}}``."""
        keys = [k for k in self.keys() if k.startswith("artifact/")]
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

    def keys(self, own_only: bool = False) -> list[str]:
        """Metric names of the visible history (``own_only``: of the run's own rows), sorted;
        ``_timestamp``, which every row has, is not listed."""
        return sorted({k for r in self._ranges(own_only) for k in self._store.keys(r.segment)})

    def series(self, key: str, own_only: bool = False) -> Series:
        """One metric over the visible history, in step order: ``steps``, ``values`` and ``own_from``,
        the index of the first point the run logged itself (points before it are inherited from a
        fork parent). One reader for charts, the CLI and exports; ``series("_timestamp")`` gives
        each row's wall time."""
        ranges = self.ranges()
        inherited = [] if own_only else [r for r in ranges if r.run_id != self.run_id]
        own = [r for r in ranges if r.run_id == self.run_id]
        steps, values = self._store.read_series(inherited, key) if inherited else ([], [])
        split = len(steps)
        if own:
            s, v = self._store.read_series(own, key)
            steps, values = steps + s, values + v
        return Series(key, steps, values, split)

    def span(self) -> Span:
        """What this branch holds: the steps it shows from its parent, and its own steps."""
        own = [r for r in self.ranges() if r.segment == self._segment.id]
        return Span(self.parent, self._segment.start_step, lineage.last_step(self._store, own))

    def children(self) -> list[RunView]:
        """Forks whose parent (``lineage.parent``: the branch holding their prefix now) is this view.

        After a rewind of this run, a fork whose inherited rows now live only in an archived branch
        is that branch's child, not this run's."""
        names = [self.run_id] + [f"{self.run_id}~{s.ordinal}" for s in self._store.run_segments(self.run_id)]
        seen: set[str] = set()
        out: list[RunView] = []
        for name in names:
            for c in self._store.children(name):
                if c.id in seen:
                    continue
                seen.add(c.id)
                view = RunView(self._store, c, segment_of(self._store, c, None))
                got = view.parent
                if got is not None and got.run_id == self.id:
                    out.append(view)
        out.sort(key=lambda v: (v.created_at, v.id))
        return out

    def archived(self) -> list[RunView]:
        """The archived branches of the run, oldest first (empty for an archived view)."""
        if self.is_archived:
            return []
        return [RunView(self._store, self._record, s) for s in self._store.run_segments(self.run_id)
                if s.id != self._record.head_segment]

    def ancestors(self) -> list[BranchPoint]:
        """Branch points from this view up to its root, nearest first (a loop: any depth)."""
        out: list[BranchPoint] = []
        seen = {self.id}
        view = self
        while True:
            point = view.parent
            if point is None or point.run_id in seen:
                return out
            out.append(point)
            seen.add(point.run_id)
            try:
                view = _open_view(self._store, point.run_id)
            except LookupError:
                return out

    def root(self) -> RunView:
        """The run this lineage starts from: up through fork parents (and from an archived branch to
        its run) to a run that is no fork; its head view."""
        view: RunView = self
        seen: set[str] = set()
        while view.run_id not in seen:
            seen.add(view.run_id)
            point = view.parent if view.kind == "fork" else None
            if point is None:
                break
            try:
                view = _open_view(self._store, point.run_id.partition("~")[0])
            except LookupError:
                break
        return view if not view.is_archived else _open_view(self._store, view.run_id)

    def tree(self) -> list[TreeEntry]:
        """The lineage below this view, depth first, as a flat list (no recursion, no nesting, so a
        chain of any depth prints and serialises): this view at depth 0, then per node its archived
        branches and then its child forks. ``last`` marks the last entry among its siblings."""
        out: list[TreeEntry] = []
        stack: list[TreeEntry] = [TreeEntry(0, "root", self, True)]
        seen: set[str] = set()
        while stack:
            entry = stack.pop()
            if entry.view.id in seen:  # a lineage is a tree; this only guards against a damaged store
                continue
            seen.add(entry.view.id)
            out.append(entry)
            below = [("archived", a) for a in entry.view.archived()] + [("fork", c) for c in entry.view.children()]
            for i in reversed(range(len(below))):
                relation, view = below[i]
                stack.append(TreeEntry(entry.depth + 1, relation, view, i == len(below) - 1))
        return out

    def __repr__(self) -> str:
        return f"<forkpoint.RunView {self.project}/{self.id} {self.state} kind={self.kind}>"


class Api:
    """Read access to a store (path, URL, a ``Store`` object, or ``FORKPOINT_STORE`` / the default).
    A store that does not exist is a ``StoreError``; reading never creates one. The UI and the CLI
    read only through ``Api`` and ``RunView``."""

    def __init__(self, store: str | os.PathLike[str] | Store | None = None) -> None:
        self._store = open_store(store, create=False)

    @property
    def url(self) -> str:
        """The store's URL (``sqlite:///<path>`` or ``postgresql://...``)."""
        return self._store.url

    @property
    def store(self) -> Store:
        """The ``Store`` object, for tools that write to it (``forkpoint.interop`` imports)."""
        return self._store

    def projects(self) -> dict[str, int]:
        """Project name -> number of runs, by name."""
        counts: dict[str, int] = {}
        for r in self._store.list_runs():
            counts[r.project] = counts.get(r.project, 0) + 1
        return dict(sorted(counts.items()))

    def runs(self, project: str | None = None) -> list[RunView]:
        """Runs of ``project`` (all without), oldest first; ``"<entity>/<project>"`` as in W&B."""
        entity = None
        if project is not None and project.count("/") == 1:
            entity, project = project.split("/")
        if project is not None:
            check_project(project)
        return [RunView(self._store, r, segment_of(self._store, r, None)) for r in self._store.list_runs(project)
                if entity is None or r.entity == entity]

    def run(self, ref: str) -> RunView:
        """``"<id>"``, ``"<project>/<id>"``, ``"<entity>/<project>/<id>"`` (W&B's run path) or
        ``"<id>~k"`` (archived branch k)."""
        if isinstance(ref, str) and ref.count("/") == 2:
            entity, ref = ref.split("/", 1)
            view = _open_view(self._store, ref)
            if view.entity != entity:
                raise RunNotFoundError(f"run {view.run_id!r} is in entity {view.entity!r}, not {entity!r}")
            return view
        return _open_view(self._store, ref)


def _open_view(store: Store, ref: str) -> RunView:
    project, run_id, archive = parse_run_ref(ref)
    rec = get_run(store, run_id, project)
    return RunView(store, rec, segment_of(store, rec, archive))
