"""The queries both SQL backends share. A dialect subclass supplies connections, DDL and locking.

SQL here is written with ``?`` placeholders; PostgreSQL's subclass rewrites them to ``%s``. Every
statement is plain SQL that SQLite (>= 3.35) and PostgreSQL both run: ``ON CONFLICT DO NOTHING``,
``RETURNING``, and the dialect's name for the two-argument maximum.
"""

from __future__ import annotations

import json
import os
import threading
from bisect import bisect_left, bisect_right
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from ..errors import StoreError
from . import blocks
from .base import HIDDEN_KEYS, Range, Row, RunRecord, SegmentLink, SegmentRecord, Store, WriteState

SCHEMA_VERSION = 2

# Media blobs (images, histograms, tables): content-addressed by the sha256 of their bytes, so a
# blob logged many times, or shared by a run and its forks, is stored once. History values refer
# to them by digest (see ``media.py``); a blob is never changed once written.
_MEDIA_TABLE = """CREATE TABLE media (sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL, size {int} NOT NULL,
        data {blob} NOT NULL, created_at {real} NOT NULL)"""

# version -> statements lifting (version - 1) to version (formatted with the dialect's words)
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE runs ADD COLUMN entity TEXT", "ALTER TABLE runs ADD COLUMN run_group TEXT",
        "ALTER TABLE runs ADD COLUMN job_type TEXT", _MEDIA_TABLE],
}

_JSON_RUN = ("tags", "step_metrics")
_JSON_SEG = ("config", "config_changes", "summary")
_RUN_FIELDS = frozenset(RunRecord.__dataclass_fields__) - {"id"}
_SEG_FIELDS = frozenset(SegmentRecord.__dataclass_fields__) - {"id"}

# The tables, written once for both dialects: {pk} {int} {real} {blob} {norowid} are the dialect's words.
SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT, notes TEXT,
        tags TEXT NOT NULL DEFAULT '[]', origin TEXT NOT NULL, parent_run TEXT, parent_step {int},
        head_segment {int}, state TEXT NOT NULL, exit_code INTEGER, owner TEXT, heartbeat {real},
        step_metrics TEXT NOT NULL DEFAULT '[]', dropped_steps {int} NOT NULL DEFAULT 0,
        created_at {real} NOT NULL, updated_at {real} NOT NULL, entity TEXT, run_group TEXT, job_type TEXT)""",
    "CREATE INDEX runs_project ON runs (project, created_at)",
    "CREATE INDEX runs_parent ON runs (parent_run)",
    """CREATE TABLE segments (
        id {pk}, run_id TEXT NOT NULL, ordinal INTEGER NOT NULL, origin TEXT NOT NULL,
        parent_segment {int}, branch_step {int}, start_step {int} NOT NULL, last_step {int},
        config TEXT NOT NULL DEFAULT '{{}}', config_changes TEXT NOT NULL DEFAULT '[]',
        summary TEXT NOT NULL DEFAULT '{{}}', created_at {real} NOT NULL, superseded_at {real},
        replaces {int}, write_seq {int}, UNIQUE (run_id, ordinal))""",
    "CREATE TABLE keys (id {pk}, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE segment_keys (segment {int} NOT NULL, key {int} NOT NULL,
        PRIMARY KEY (segment, key)){norowid}""",
    """CREATE TABLE blocks (id {pk}, segment {int} NOT NULL, key {int} NOT NULL,
        first_step {int} NOT NULL, last_step {int} NOT NULL, n INTEGER NOT NULL, enc TEXT NOT NULL,
        steps {blob} NOT NULL, vals {blob} NOT NULL)""",
    "CREATE INDEX blocks_range ON blocks (segment, key, first_step)",
    _MEDIA_TABLE,
]


class SQLStore(Store):
    GREATEST = "MAX"
    TYPES: dict[str, str] = {}  # the dialect's words for the SCHEMA placeholders
    READ_SNAPSHOT = "BEGIN"

    def __init__(self, create: bool = True) -> None:
        self._local = threading.local()
        self._pid = os.getpid()
        # Caches of facts that never change once committed: segment links, key name <-> id.
        # A transaction's new key ids are published here only after its COMMIT.
        self._links: dict[int, SegmentLink] = {}
        self._key_ids: dict[str, int] = {}
        self._key_names: dict[int, str] = {}
        # table_version per project, with the commit marker it was read under
        self._versions: dict[str | None, tuple[Any, tuple[Any, list[RunRecord]]]] = {}
        self._versions_lock = threading.Lock()
        self._migrate(create)

    @classmethod
    def ddl(cls) -> list[str]:
        return [stmt.format(**cls.TYPES) for stmt in SCHEMA]

    # -- dialect hooks ----------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, conn: Any) -> None:
        conn.execute("BEGIN")

    def _sql(self, sql: str) -> str:
        return sql

    def _migration_lock(self) -> None:
        """Held for the migration transaction (PostgreSQL: an advisory lock)."""

    def lock_run(self, run_id: str) -> None:
        """Lock the run's row for the rest of the transaction (SQLite: BEGIN IMMEDIATE already does)."""

    def _tables_exist(self) -> bool:
        raise NotImplementedError

    def _lost_connection(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the connection is gone (so a fresh one may succeed)."""
        return False

    def rejects_rows(self, exc: BaseException) -> bool:
        # errors raised while encoding or binding the rows themselves, on either dialect
        return isinstance(exc, (OverflowError, UnicodeError, ValueError, TypeError))

    # -- connections and transactions -------------------------------------------------------
    @property
    def conn(self) -> Any:
        if self._pid != os.getpid():  # a forked child must not reuse the parent's connections
            self._local = threading.local()
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.depth = 0
        return conn

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(self._sql(sql), tuple(params))
        except Exception as exc:
            # outside a transaction a statement stands alone: after a connection dropped while
            # idle (server restart, terminated backend) it is safe to run it once more
            if getattr(self._local, "depth", 0) or not self._lost_connection(exc):
                raise
            self.close()
            return self.conn.execute(self._sql(sql), tuple(params))

    def _xm(self, sql: str, seq: list[Sequence[Any]]) -> None:
        if seq:
            self.conn.cursor().executemany(self._sql(sql), seq)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield from self._within(self._begin)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        yield from self._within(lambda conn: conn.execute(self.READ_SNAPSHOT))

    def _within(self, begin: Any) -> Iterator[None]:
        conn = self.conn
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        try:
            begin(conn)
        except Exception as exc:
            if not self._lost_connection(exc):
                raise
            self.close()  # dropped while idle: nothing was done yet, so begin on a fresh connection
            conn = self.conn
            begin(conn)
        self._local.depth = 1
        self._local.new_keys = {}
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            self._local.depth = 0
            self._local.new_keys = {}  # ids from a transaction that did not commit are forgotten
            self._rollback(conn)
            if isinstance(exc, Exception) and self._lost_connection(exc):
                raise StoreError(f"store {self.url}: the connection was lost during a transaction ({exc}); "
                                 "it was rolled back unless its COMMIT had reached the server") from exc
            raise
        self._local.depth = 0
        if self._local.new_keys:  # committed: now other threads may use them
            for name, kid in self._local.new_keys.items():
                self._key_ids[name] = kid
                self._key_names[kid] = name
            self._local.new_keys = {}

    def _rollback(self, conn: Any) -> None:
        try:
            conn.execute("ROLLBACK")
        except Exception:
            self.close()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            finally:
                self._local.conn = None

    def _migrate(self, create: bool) -> None:
        with self.transaction():
            self._migration_lock()
            if not self._tables_exist():
                if not create:
                    raise StoreError(f"store {self.url} holds no forkpoint runs (no forkpoint tables): "
                                     "check the path or URL; nothing was created")
                for stmt in self.ddl():
                    self._x(stmt)
                self._x("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            row = self._x("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.url} has schema version {version}, newer than this forkpoint "
                    f"understands ({SCHEMA_VERSION}): upgrade forkpoint")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS.get(v, []):
                    self._x(stmt.format(**self.TYPES))
            if version < SCHEMA_VERSION:
                self._x("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    # -- runs -------------------------------------------------------------------------------
    def _records(self, cls: type, json_fields: tuple[str, ...], sql: str, params: tuple) -> list[Any]:
        cur = self._x(sql, params)
        cols = [c[0] for c in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(cols, row))
            for k in json_fields:
                d[k] = json.loads(d[k])
            out.append(cls(**d))
        return out

    def _runs(self, sql: str, params: tuple = ()) -> list[RunRecord]:
        return self._records(RunRecord, _JSON_RUN, sql, params)

    def get_run(self, run_id: str) -> RunRecord | None:
        got = self._runs("SELECT * FROM runs WHERE id = ?", (run_id,))
        return got[0] if got else None

    def list_runs(self, project: str | None = None) -> list[RunRecord]:
        if project is None:
            return self._runs("SELECT * FROM runs ORDER BY created_at, id")
        return self._runs("SELECT * FROM runs WHERE project = ? ORDER BY created_at, id", (project,))

    def children(self, run_id: str) -> list[RunRecord]:
        return self._runs("SELECT * FROM runs WHERE parent_run = ? ORDER BY created_at, id", (run_id,))

    def insert_run(self, run: RunRecord) -> None:
        d = dict(vars(run))
        for k in _JSON_RUN:
            d[k] = json.dumps(d[k])
        self._x(f"INSERT INTO runs ({', '.join(d)}) VALUES ({', '.join('?' * len(d))})", tuple(d.values()))

    def update_run(self, run_id: str, **fields: Any) -> None:
        self._update("runs", _RUN_FIELDS, _JSON_RUN, run_id, fields)

    def _update(self, table: str, known: frozenset[str], json_fields: tuple[str, ...], key: Any,
                fields: dict[str, Any]) -> None:
        unknown = fields.keys() - known
        if unknown:  # field names become column names: only the record's own fields may
            raise ValueError(f"{table}: unknown field(s) {sorted(unknown)}")
        for k in json_fields:
            if k in fields:
                fields[k] = json.dumps(fields[k])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._x(f"UPDATE {table} SET {sets} WHERE id = ?", (*fields.values(), key))

    # -- segments ---------------------------------------------------------------------------
    def _segments(self, sql: str, params: tuple) -> list[SegmentRecord]:
        return self._records(SegmentRecord, _JSON_SEG, sql, params)

    def insert_segment(self, **fields: Any) -> int:
        unknown = fields.keys() - _SEG_FIELDS
        if unknown:
            raise ValueError(f"segments: unknown field(s) {sorted(unknown)}")
        for k in _JSON_SEG:
            if k in fields:
                fields[k] = json.dumps(fields[k])
        cur = self._x(f"INSERT INTO segments ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))}) RETURNING id",
                      tuple(fields.values()))
        return int(cur.fetchone()[0])

    def get_segment(self, segment_id: int) -> SegmentRecord:
        got = self._segments("SELECT * FROM segments WHERE id = ?", (segment_id,))
        if not got:
            raise StoreError(f"store {self.url}: segment {segment_id} is missing")
        return got[0]

    def run_segments(self, run_id: str) -> list[SegmentRecord]:
        return self._segments("SELECT * FROM segments WHERE run_id = ? ORDER BY ordinal", (run_id,))

    def update_segment(self, segment_id: int, **fields: Any) -> None:
        self._update("segments", _SEG_FIELDS, _JSON_SEG, segment_id, fields)

    def segment_size(self, segment_id: int) -> tuple[int, int]:
        # points as logged (a HIDDEN_KEYS value rides along with every row), bytes of everything
        hidden = list(self._ids(sorted(HIDDEN_KEYS))) or [-1]
        marks = ", ".join("?" * len(hidden))
        row = self._x(f"SELECT COALESCE(SUM(CASE WHEN key IN ({marks}) THEN 0 ELSE n END), 0), "
                      "COALESCE(SUM(LENGTH(steps) + LENGTH(vals)), 0) FROM blocks WHERE segment = ?",
                      (*hidden, segment_id)).fetchone()
        return int(row[0]), int(row[1])

    def delete_segment(self, segment_id: int) -> None:
        for table, col in (("blocks", "segment"), ("segment_keys", "segment"), ("segments", "id")):
            self._x(f"DELETE FROM {table} WHERE {col} = ?", (segment_id,))
        self._links.pop(segment_id, None)

    def link(self, segment_id: int) -> SegmentLink:
        got = self._links.get(segment_id)
        if got is None:
            seg = self.get_segment(segment_id)
            got = self._links[segment_id] = SegmentLink(seg.run_id, seg.start_step, seg.parent_segment, seg.branch_step)
        return got

    # -- keys -------------------------------------------------------------------------------
    def _intern(self, names: Iterable[str]) -> dict[str, int]:
        """Ids for ``names`` (inside a transaction), creating the missing ones. New ids stay
        private to this transaction until it commits (``_within``)."""
        out: dict[str, int] = {}
        pending: dict[str, int] = self._local.new_keys
        missing = []
        for n in names:
            kid = self._key_ids.get(n)
            if kid is None:
                kid = pending.get(n)
            if kid is None:
                missing.append(n)
            else:
                out[n] = kid
        if missing:
            missing.sort()
            self._xm("INSERT INTO keys (name) VALUES (?) ON CONFLICT DO NOTHING", [(n,) for n in missing])
            for n in missing:
                (kid,) = self._x("SELECT id FROM keys WHERE name = ?", (n,)).fetchone()
                out[n] = pending[n] = kid
        return out

    # Readers cache only ids they read back from the table, which are committed.
    def _name(self, kid: int) -> str:
        name = self._key_names.get(kid)
        if name is None:
            row = self._x("SELECT name FROM keys WHERE id = ?", (kid,)).fetchone()
            if row is None:
                raise StoreError(f"store {self.url}: key id {kid} is missing from the keys table")
            name = row[0]
            self._key_names[kid] = name
            self._key_ids[name] = kid
        return name

    def _ids(self, names: Sequence[str]) -> dict[int, str]:
        out = {}
        for n in names:
            kid = self._key_ids.get(n)
            if kid is None:
                row = self._x("SELECT id FROM keys WHERE name = ?", (n,)).fetchone()
                if row is None:
                    continue
                kid = self._key_ids[n] = row[0]
                self._key_names[kid] = n
            out[kid] = n
        return out

    def keys(self, segment_id: int) -> list[str]:
        return sorted(self._name(k) for k in self._segment_key_ids(segment_id))

    def _segment_key_ids(self, segment_id: int) -> list[int]:
        """The segment's key ids, ``HIDDEN_KEYS`` left out."""
        ids = [k for (k,) in self._x("SELECT key FROM segment_keys WHERE segment = ?", (segment_id,)).fetchall()]
        return [k for k in ids if self._name(k) not in HIDDEN_KEYS]

    # -- points -----------------------------------------------------------------------------
    def append(self, run_id: str, segment_id: int, rows: Sequence[Row], heartbeat: float, seq: int | None = None,
               state: WriteState | None = None) -> None:
        if state is None:
            state = WriteState()
        open_blocks = state.open_blocks
        writes: list[blocks.BlockWrite] = []
        ids: list[int] = []
        with self.transaction():
            if seq is not None:
                (done,) = self._x("SELECT write_seq FROM segments WHERE id = ?", (segment_id,)).fetchone()
                if done is not None and done >= seq:
                    # committed already: the connection broke before the commit was confirmed;
                    # the blocks it wrote are not known here, so later rows start new blocks
                    state.open_blocks.clear()
                    return
            if rows:
                per_key = blocks.group(rows)
                kid = self._intern(per_key)
                writes = blocks.plan(open_blocks, per_key)
                for w in writes:
                    first, last, n, enc, sb, vb = w.row()
                    if w.id is None:
                        cur = self._x(
                            "INSERT INTO blocks (segment, key, first_step, last_step, n, enc, steps, vals) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", (segment_id, kid[w.key], first, last, n, enc, sb, vb))
                        ids.append(int(cur.fetchone()[0]))
                    else:
                        self._x("UPDATE blocks SET last_step = ?, n = ?, enc = ?, steps = ?, vals = ? WHERE id = ?",
                                (last, n, enc, sb, vb, w.id))
                        ids.append(w.id)
                new = per_key.keys() - state.keys
                self._xm("INSERT INTO segment_keys (segment, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         [(segment_id, kid[k]) for k in sorted(new)])
                top = max(st[-1] for st, _ in per_key.values())
                self._x(f"UPDATE segments SET last_step = {self.GREATEST}(COALESCE(last_step, -1), ?) WHERE id = ?",
                        (top, segment_id))
            if seq is not None:
                self._x("UPDATE segments SET write_seq = ? WHERE id = ?", (seq, segment_id))
            self._x("UPDATE runs SET heartbeat = ?, updated_at = ? WHERE id = ?", (heartbeat, heartbeat, run_id))
        if rows:  # only once committed: a rolled-back batch leaves the writer's state as it was
            blocks.adopt(open_blocks, writes, ids)
            state.keys |= new

    def _blocks(self, r: Range, kid: int, newest_first: bool = False) -> list[tuple[int, int, bytes, str, bytes]]:
        # newest_first: only the newest block can hold the last value in range (blocks.last_in),
        # so fetch just that one; this keeps rewind and fork O(1) in the number of points
        order = "first_step DESC, id DESC LIMIT 1" if newest_first else "first_step, id"
        return self._x(
            "SELECT first_step, last_step, steps, enc, vals FROM blocks WHERE segment = ? AND key = ? "
            f"AND first_step <= ? AND last_step >= ? ORDER BY {order}",
            (r.segment, kid, r.hi, r.lo)).fetchall()

    def read_series(self, ranges: Iterable[Range], key: str) -> tuple[list[int], list[Any]]:
        steps: list[int] = []
        values: list[Any] = []
        with self.snapshot():
            ids = self._ids([key])
            if ids:
                (kid,) = ids
                for r in ranges:
                    st, vs = blocks.merge(self._blocks(r, kid), r.lo, r.hi)
                    steps.extend(st)
                    values.extend(vs)
        return steps, values

    def read_at(self, ranges: Sequence[Range], key: str, steps: Sequence[int]) -> list[Any]:
        # blocks are searched in place (memoryviews, bisect): a few thousand lookups in 100,000
        # points cost less than decoding them all into lists
        out: list[Any] = [None] * len(steps)
        with self.snapshot():
            ids = self._ids([key])
            if not ids or not steps:
                return out
            (kid,) = ids
            for r in ranges:
                lo, hi = bisect_left(steps, r.lo), bisect_right(steps, r.hi)
                if lo >= hi:
                    continue
                for first, last, sb, enc, vb in self._blocks(r, kid):  # write order: a later block wins
                    a, b = bisect_left(steps, max(first, r.lo), lo, hi), bisect_right(steps, min(last, r.hi), lo, hi)
                    if a >= b:
                        continue
                    st = memoryview(sb).cast("q")
                    vals: Any = json.loads(vb) if enc == "j" else memoryview(vb).cast(enc)  # type: ignore[call-overload]
                    for i in range(a, b):
                        j = bisect_left(st, steps[i])
                        if j < len(st) and st[j] == steps[i]:
                            out[i] = vals[j]
        return out

    def first_in(self, ranges: Sequence[Range], key: str) -> tuple[int, Any] | None:
        with self.snapshot():
            ids = self._ids([key])
            if not ids:
                return None
            (kid,) = ids
            for r in ranges:
                row = self._x("SELECT steps, enc, vals FROM blocks WHERE segment = ? AND key = ? AND last_step >= ? "
                              "AND first_step <= ? ORDER BY first_step, id LIMIT 1", (r.segment, kid, r.lo, r.hi)).fetchone()
                if row is None:
                    continue
                st = memoryview(bytes(row[0])).cast("q")
                j = bisect_left(st, r.lo)
                if j < len(st) and st[j] <= r.hi:
                    vals: Any = json.loads(bytes(row[2])) if row[1] == "j" else memoryview(bytes(row[2])).cast(row[1])
                    return st[j], vals[j]
        return None

    def read(self, ranges: Iterable[Range], keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One snapshot for the whole read: a live run's batches are seen whole or not at all."""
        with self.snapshot():
            return self._read(ranges, keys)

    def _read(self, ranges: Iterable[Range], keys: Sequence[str] | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if keys is not None and len(keys) == 1:
            (name,) = keys
            steps, values = self.read_series(ranges, name)
            return [{"_step": s, name: v} for s, v in zip(steps, values)]
        wanted = self._ids(keys) if keys is not None else None
        for r in ranges:
            kids = wanted if wanted is not None else {k: self._name(k) for k in self._segment_key_ids(r.segment)}
            by_step: dict[int, dict[str, Any]] = {}
            for kid, name in kids.items():
                st, vs = blocks.merge(self._blocks(r, kid), r.lo, r.hi)
                for s, v in zip(st, vs):
                    row = by_step.get(s)
                    if row is None:
                        row = by_step[s] = {"_step": s}
                    row[name] = v
            out.extend(by_step[s] for s in sorted(by_step))
        return out

    def last_values(self, r: Range) -> dict[str, tuple[int, Any]]:
        out = {}
        for kid in self._segment_key_ids(r.segment):
            got = blocks.last_in(iter(self._blocks(r, kid, newest_first=True)), r.lo, r.hi)
            if got is not None:
                out[self._name(kid)] = got
        return out

    BULK = 500  # ids per IN (...) list: well under either dialect's limit on parameters

    def segments_of(self, run_ids: Sequence[str]) -> list[SegmentRecord]:
        out: list[SegmentRecord] = []
        ids = list(run_ids)
        for i in range(0, len(ids), self.BULK):
            chunk = ids[i:i + self.BULK]
            out += self._segments(f"SELECT * FROM segments WHERE run_id IN ({', '.join('?' * len(chunk))})", tuple(chunk))
        out.sort(key=lambda s: (s.run_id, s.ordinal))
        for s in out:  # their lineage fields never change: later walks need no query
            self._links.setdefault(s.id, SegmentLink(s.run_id, s.start_step, s.parent_segment, s.branch_step))
        return out

    def _commit_marker(self) -> Any:
        """Called first inside a read snapshot: a value equal on two calls only if the snapshots see
        the same committed data (SQLite: ``PRAGMA data_version``; PostgreSQL: the snapshot itself).
        None: the dialect has none (every ``table_version`` hashes)."""
        return None

    def table_version(self, project: str | None) -> tuple[Any, list[RunRecord]] | None:
        # whole rows of both tables, hashed: ~50 ms for 10,000 runs, against ~0.5 s to rebuild the
        # table; kept per project while the commit marker says nothing was committed since
        where, params = ("WHERE project = ?", (project,)) if project is not None else ("", ())
        with self.snapshot():
            marker = self._commit_marker()
            if marker is not None:
                hit = self._versions.get(project)
                if hit is not None and hit[0] == marker:
                    return hit[1]
            cur = self._x(f"SELECT * FROM runs {where}", params)
            cols = [c[0] for c in cur.description]
            runs = cur.fetchall()
            segs = self._x(f"SELECT s.* FROM segments s JOIN runs r ON r.id = s.run_id {where.replace('project', 'r.project')}",
                           params).fetchall()
        state = cols.index("state")
        running = []
        for row in runs:
            if row[state] == "running":
                d = dict(zip(cols, row))
                for k in _JSON_RUN:
                    d[k] = json.loads(d[k])
                running.append(RunRecord(**d))
        got = hash((tuple(runs), tuple(segs))), running
        if marker is not None:
            with self._versions_lock:
                if len(self._versions) > 256:
                    self._versions.clear()
                self._versions[project] = (marker, got)
        return got

    def segment_tails(self, segment_ids: Sequence[int]) -> dict[int, dict[str, tuple[int, Any]]]:
        # Only the newest block per (segment, key), and of a packed block only its last 8 bytes:
        # one query per BULK segments, not one per key (a JSON block is read whole).
        out: dict[int, dict[str, tuple[int, Any]]] = {}
        ids = list(segment_ids)
        with self.snapshot():
            for i in range(0, len(ids), self.BULK):
                chunk = ids[i:i + self.BULK]
                marks = ", ".join("?" * len(chunk))
                rows = self._x(
                    "SELECT b.id, b.segment, b.key, b.last_step, b.enc, CASE WHEN b.enc = 'j' THEN b.vals "
                    "ELSE substr(b.vals, length(b.vals) - 7, 8) END FROM blocks b JOIN "
                    f"(SELECT segment, key, MAX(first_step) AS f FROM blocks WHERE segment IN ({marks}) "
                    "GROUP BY segment, key) m ON b.segment = m.segment AND b.key = m.key AND b.first_step = m.f "
                    "ORDER BY b.id", tuple(chunk)).fetchall()
                for _, seg, kid, last, enc, tail in rows:  # id order: of two blocks at one first_step the later wins
                    name = self._name(kid)
                    if name in HIDDEN_KEYS:
                        continue
                    data = bytes(tail)
                    value = json.loads(data)[-1] if enc == "j" else memoryview(data).cast(enc)[0]
                    out.setdefault(seg, {})[name] = (last, value)
        return out

    def last_step(self, r: Range) -> int | None:
        seg = self._x("SELECT last_step FROM segments WHERE id = ?", (r.segment,)).fetchone()
        if seg is None or seg[0] is None or seg[0] < r.lo:
            return None
        if seg[0] <= r.hi:
            return seg[0]
        steps = [step for step, _ in self.last_values(r).values()]
        return max(steps) if steps else None

    def last_step_where(self, r: Range, key: str, at_most: float) -> int | None:
        ids = self._ids([key])
        if not ids:
            return None
        (kid,) = ids
        st, vs = blocks.merge(self._blocks(r, kid), r.lo, r.hi)
        best = None
        for s, v in zip(st, vs):
            if type(v) in (int, float) and v <= at_most:
                best = s
        return best

    # -- media blobs ------------------------------------------------------------------------
    def put_blob(self, digest: str, kind: str, data: bytes, now: float) -> None:
        with self.transaction():
            self._x("INSERT INTO media (sha256, kind, size, data, created_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at", (digest, kind, len(data), data, now))

    def get_blob(self, digest: str) -> bytes | None:
        row = self._x("SELECT data FROM media WHERE sha256 = ?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def blobs(self) -> list[tuple[str, int, float]]:
        return [(d, int(n), float(t)) for d, n, t in self._x("SELECT sha256, size, created_at FROM media").fetchall()]

    def blob_references(self, skip: Iterable[int] = ()) -> Iterator[Any]:
        # media references are JSON values ("j" blocks); a block without "sha256" holds none
        skipped = set(skip)
        cur = self._x("SELECT segment, vals FROM blocks WHERE enc = 'j'")
        while chunk := cur.fetchmany(500):
            for segment, vals in chunk:
                data = bytes(vals)
                if segment not in skipped and b'"sha256"' in data:
                    yield from json.loads(data)

    def delete_blobs(self, digests: Iterable[str]) -> None:
        self._xm("DELETE FROM media WHERE sha256 = ?", [(d,) for d in digests])
