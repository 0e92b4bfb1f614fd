"""The store interface the core stands on, and the records it passes around.

A store keeps three things: runs (identity, state, owner), segments (one stretch of logging each;
a rewind or fork adds a segment whose parent is ``(segment, branch_step)``) and points
(``segment, key, step -> value``). Everything that decides *what* to write (rewind, fork, resume,
summary) lives in the core; a backend only runs small, plain queries, so PostgreSQL fits beside SQLite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

INF_STEP = 2**62  # "no upper bound" in step ranges
MAX_STEP = INF_STEP - 1  # the largest step a row may have (log() refuses larger ones)
# Keys every row carries that readers leave out unless asked by name (``keys()``, ``read()`` without
# keys, ``last_values()``): W&B's ``_timestamp``. Hidden here, in one place, so a resumed run's
# history, summary and exports equal an uninterrupted one's (the wall times differ).
HIDDEN_KEYS = frozenset({"_timestamp"})


@dataclass
class RunRecord:
    id: str
    project: str
    name: str | None
    origin: str  # "run" (created fresh) or "fork" (created by fork_from)
    head_segment: int | None
    state: str  # running | finished | crashed
    created_at: float
    updated_at: float
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    parent_run: str | None = None  # fork origin: parent run id ...
    parent_step: int | None = None  # ... and step
    exit_code: int | None = None
    owner: str | None = None  # "host:pid:token" of the live writer
    heartbeat: float | None = None
    step_metrics: list[str] = field(default_factory=list)
    dropped_steps: int = 0
    entity: str | None = None  # W&B's entity (user or team), kept as given
    run_group: str | None = None  # W&B's group= (``group`` is an SQL keyword)
    job_type: str | None = None


@dataclass
class SegmentRecord:
    id: int
    run_id: str
    ordinal: int  # 1 for the run's first segment; archived segment k is addressed "<run_id>~k"
    origin: str  # "new" | "rewind" | "fork"
    parent_segment: int | None
    branch_step: int | None  # the parent's rows with step <= branch_step are visible
    start_step: int
    last_step: int | None
    config: dict[str, Any]
    config_changes: list[str]
    summary: dict[str, Any]  # explicit summary writes made while this segment was the head
    created_at: float
    superseded_at: float | None = None
    replaces: int | None = None  # for a rewind: the head segment it superseded
    write_seq: int | None = None  # the last writer batch committed (makes retries exactly-once)


@dataclass(frozen=True)
class Range:
    """Rows ``lo <= step <= hi`` of one segment: one link of a visible history."""

    segment: int
    run_id: str
    lo: int
    hi: int


class SegmentLink(NamedTuple):
    """The fields of a segment that never change once it exists: what a lineage walk needs."""

    run_id: str
    start_step: int
    parent_segment: int | None
    branch_step: int | None


Row = tuple[int, dict[str, Any]]  # (step, {key: value})


@dataclass
class WriteState:
    """What one writer remembers about the segment it writes: each key's newest, not yet full block
    and the keys already listed for the segment. Owned by that writer (``writer.Writer``), never by
    the shared store object, so it cannot outlive the writer's ownership of the run."""

    open_blocks: dict[str, Any] = field(default_factory=dict)  # key -> blocks.OpenBlock
    keys: set[str] = field(default_factory=set)


class Store(ABC):
    """A backend. Connections are per thread; ``transaction()`` makes the calls inside it atomic."""

    url: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    # runs
    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None: ...
    @abstractmethod
    def list_runs(self, project: str | None = None) -> list[RunRecord]: ...
    @abstractmethod
    def insert_run(self, run: RunRecord) -> None: ...
    @abstractmethod
    def update_run(self, run_id: str, **fields: Any) -> None: ...
    @abstractmethod
    def children(self, run_id: str) -> list[RunRecord]: ...

    # segments
    @abstractmethod
    def insert_segment(self, **fields: Any) -> int: ...
    @abstractmethod
    def get_segment(self, segment_id: int) -> SegmentRecord: ...
    @abstractmethod
    def run_segments(self, run_id: str) -> list[SegmentRecord]: ...
    @abstractmethod
    def update_segment(self, segment_id: int, **fields: Any) -> None: ...
    @abstractmethod
    def segment_size(self, segment_id: int) -> tuple[int, int]:
        """(points, bytes of packed steps and values) stored in the segment; points of the
        ``HIDDEN_KEYS`` are not counted (their bytes are)."""
    @abstractmethod
    def delete_segment(self, segment_id: int) -> None:
        """Delete an archived segment and its points (``gc``; the caller checks nothing reads it)."""
    @abstractmethod
    def link(self, segment_id: int) -> SegmentLink:
        """The segment's immutable lineage fields (cached by the store: they never change)."""

    # points
    @abstractmethod
    def append(self, run_id: str, segment_id: int, rows: Sequence[Row], heartbeat: float, seq: int | None = None,
               state: WriteState | None = None) -> None:
        """Write ``rows`` durably in one transaction (the background writer's only call).

        ``seq`` numbers the writer's batches; a batch whose number was committed already is skipped,
        so a retry after a connection lost during COMMIT writes nothing twice. ``state`` is the
        writer's own memory of the segment (extended only once the transaction commits); without
        it every key starts a new block."""
    @abstractmethod
    def read(self, ranges: Iterable[Range], keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows of the ranges, in step order, each ``{"_step": s, key: value, ...}``; without
        ``keys``, every key but the ``HIDDEN_KEYS``."""
    @abstractmethod
    def read_series(self, ranges: Iterable[Range], key: str) -> tuple[list[int], list[Any]]:
        """One key's steps and values over the ranges, in step order (charts read this)."""
    @abstractmethod
    def last_values(self, r: Range) -> dict[str, tuple[int, Any]]:
        """``key -> (step, value)`` of the last row holding each key within ``r`` (``HIDDEN_KEYS`` left out)."""
    @abstractmethod
    def last_step(self, r: Range) -> int | None:
        """The largest step with a row within ``r``."""
    @abstractmethod
    def last_step_where(self, r: Range, key: str, at_most: float) -> int | None:
        """The largest step within ``r`` whose ``key`` value is ``<= at_most``."""
    @abstractmethod
    def keys(self, segment_id: int) -> list[str]:
        """The segment's keys, sorted, without the ``HIDDEN_KEYS``."""

    # bulk reads (the UI's runs table and lineage graph: a few queries for thousands of runs)
    def segments_of(self, run_ids: Sequence[str]) -> list[SegmentRecord]:
        """Every segment of these runs (archived ones included), by run and ordinal."""
        return [s for r in run_ids for s in self.run_segments(r)]

    def segment_tails(self, segment_ids: Sequence[int]) -> dict[int, dict[str, tuple[int, Any]]]:
        """Per segment: ``key -> (step, value)`` of its newest row holding the key, over the whole
        segment (``HIDDEN_KEYS`` left out); a segment without rows is missing from the answer."""
        out = {}
        for seg in segment_ids:
            got = self.last_values(Range(seg, "", 0, INF_STEP))
            if got:
                out[seg] = got
        return out

    def table_version(self, project: str | None) -> tuple[Any, list[RunRecord]] | None:
        """A value that changes whenever a run of ``project`` (every run: None) or one of their
        segments changes (their rows too: every write moves a segment's ``write_seq``/``last_step``
        and the run's ``updated_at``), and the records of those runs marked running (whose liveness
        no stored value tells). None: the backend cannot tell cheaply (nothing is cached)."""
        return None

    def read_at(self, ranges: Sequence[Range], key: str, steps: Sequence[int]) -> list[Any]:
        """``key``'s value at each of ``steps`` (ascending) over the ranges, None where no row holds
        it: the x values of a downsampled chart, without reading the whole key into lists."""
        got_s, got_v = self.read_series(ranges, key)
        at = dict(zip(got_s, got_v))
        return [at.get(s) for s in steps]

    def first_in(self, ranges: Sequence[Range], key: str) -> tuple[int, Any] | None:
        """The first ``(step, value)`` of ``key`` over the ranges (oldest range first)."""
        got_s, got_v = self.read_series(ranges, key)
        return (got_s[0], got_v[0]) if got_s else None

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one consistent state of the store (whole batches only)."""

    @abstractmethod
    def rejects_rows(self, exc: BaseException) -> bool:
        """Whether a failed write failed because of the rows themselves (retrying them as they are
        cannot succeed), as opposed to the store being away, locked or full (retry later)."""

    # media blobs
    @abstractmethod
    def put_blob(self, digest: str, kind: str, data: bytes, now: float) -> None:
        """Store ``data`` under its sha256 ``digest`` (durably, in its own transaction); a digest
        stored already keeps its bytes (content-addressed: same digest, same bytes) and gets
        ``created_at = now``: ``gc`` spares young blobs, whose rows may still be on their way."""
    @abstractmethod
    def get_blob(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, or None."""

    @abstractmethod
    def blobs(self) -> list[tuple[str, int, float]]:
        """``(digest, size, created_at)`` of every stored blob."""

    @abstractmethod
    def blob_references(self, skip: Iterable[int] = ()) -> Iterator[Any]:
        """Every JSON-encoded history value that may refer to a blob (media references), block by
        block, but those of the segments in ``skip``."""

    @abstractmethod
    def delete_blobs(self, digests: Iterable[str]) -> None:
        """Delete these blobs (inside the caller's transaction)."""

    def lock_run(self, run_id: str) -> None:
        """Lock the run's row until the transaction ends (before deciding who may write it)."""

    def close(self) -> None:
        """Close this thread's connection."""
