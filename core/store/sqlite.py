"""The embedded default store: one SQLite file in WAL mode.

Points live in blocks (``blocks.py``): per segment and key, packed arrays of up to 4096 steps and
values, so a metric's rows in one segment are a short index range and a rewind or fork touches
none of them. Each writer commits
in batches with ``synchronous=FULL`` (a committed batch survives power loss); ``BEGIN IMMEDIATE`` and
a long busy timeout make concurrent writer processes wait their turn instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from ..errors import StoreError
from . import blocks
from .base import INF_STEP, Range, Row, RunRecord, SegmentRecord, Store

SCHEMA_VERSION = 1

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT, notes TEXT,
        tags TEXT NOT NULL DEFAULT '[]', origin TEXT NOT NULL, parent_run TEXT, parent_step INTEGER,
        head_segment INTEGER, state TEXT NOT NULL, exit_code INTEGER, owner TEXT, heartbeat REAL,
        step_metrics TEXT NOT NULL DEFAULT '[]', dropped_steps INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL, updated_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS runs_project ON runs (project, created_at)",
    "CREATE INDEX IF NOT EXISTS runs_parent ON runs (parent_run)",
    """CREATE TABLE IF NOT EXISTS segments (
        id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ordinal INTEGER NOT NULL, origin TEXT NOT NULL,
        parent_segment INTEGER, branch_step INTEGER, start_step INTEGER NOT NULL, last_step INTEGER,
        config TEXT NOT NULL DEFAULT '{}', config_changes TEXT NOT NULL DEFAULT '[]',
        summary TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, superseded_at REAL,
        replaces INTEGER, UNIQUE (run_id, ordinal))""",
    "CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE IF NOT EXISTS segment_keys (segment INTEGER NOT NULL, key INTEGER NOT NULL,
        PRIMARY KEY (segment, key)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS blocks (id INTEGER PRIMARY KEY, segment INTEGER NOT NULL,
        key INTEGER NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL, n INTEGER NOT NULL,
        enc TEXT NOT NULL, steps BLOB NOT NULL, vals BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS blocks_range ON blocks (segment, key, first_step)",
]
MIGRATIONS: dict[int, list[str]] = {}  # version -> statements that lift version-1 to version

_JSON_RUN = ("tags", "step_metrics")
_JSON_SEG = ("config", "config_changes", "summary")


class SQLiteStore(Store):
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._pid = os.getpid()
        self._key_ids: dict[str, int] = {}
        self._key_names: dict[int, str] = {}
        self._seg_keys: dict[int, set[str]] = {}
        self._open_blocks: dict[int, dict[str, blocks.OpenBlock]] = {}
        parent = os.path.dirname(self.path)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store {self.url}: cannot create folder {parent!r}: {exc}") from None
        self._migrate()

    # -- connections and transactions -------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked child must not reuse the parent's connections
            self._local = threading.local()
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 60000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.url} cannot be opened: {exc}") from None
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self.conn
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        self._begin(conn)
        self._local.depth = 1
        try:
            yield
        except BaseException:
            self._local.depth = 0
            conn.execute("ROLLBACK")
            raise
        self._local.depth = 0
        conn.execute("COMMIT")

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        # busy_timeout covers most waits; a writer that still meets "locked" waits and tries again
        # rather than surfacing it to the user (SEMANTICS: no "database is locked").
        delay = 0.005
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        with self.transaction():
            conn = self.conn
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
            if not exists:
                for stmt in SCHEMA:
                    conn.execute(stmt)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.url} has schema version {version}, newer than this forkpoint "
                    f"understands ({SCHEMA_VERSION}): upgrade forkpoint")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS.get(v, []):
                    conn.execute(stmt)
            if version < SCHEMA_VERSION:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    # -- runs -------------------------------------------------------------------------------
    def _run(self, row: sqlite3.Row | tuple | None, cols: list[str]) -> RunRecord | None:
        if row is None:
            return None
        d = dict(zip(cols, row))
        for k in _JSON_RUN:
            d[k] = json.loads(d[k])
        return RunRecord(**d)

    def _runs(self, sql: str, params: tuple = ()) -> list[RunRecord]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [self._run(r, cols) for r in cur.fetchall()]  # type: ignore[misc]

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
        cols = ", ".join(d)
        self.conn.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(d))})", tuple(d.values()))

    def update_run(self, run_id: str, **fields: Any) -> None:
        for k in _JSON_RUN:
            if k in fields:
                fields[k] = json.dumps(fields[k])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), run_id))

    # -- segments ---------------------------------------------------------------------------
    def _segment(self, cur: sqlite3.Cursor) -> list[SegmentRecord]:
        cols = [c[0] for c in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(cols, row))
            for k in _JSON_SEG:
                d[k] = json.loads(d[k])
            out.append(SegmentRecord(**d))
        return out

    def insert_segment(self, **fields: Any) -> int:
        for k in _JSON_SEG:
            if k in fields:
                fields[k] = json.dumps(fields[k])
        cols = ", ".join(fields)
        cur = self.conn.execute(
            f"INSERT INTO segments ({cols}) VALUES ({', '.join('?' * len(fields))})", tuple(fields.values()))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def get_segment(self, segment_id: int) -> SegmentRecord:
        got = self._segment(self.conn.execute("SELECT * FROM segments WHERE id = ?", (segment_id,)))
        if not got:
            raise StoreError(f"store {self.url}: segment {segment_id} is missing")
        return got[0]

    def run_segments(self, run_id: str) -> list[SegmentRecord]:
        return self._segment(self.conn.execute(
            "SELECT * FROM segments WHERE run_id = ? ORDER BY ordinal", (run_id,)))

    def update_segment(self, segment_id: int, **fields: Any) -> None:
        for k in _JSON_SEG:
            if k in fields:
                fields[k] = json.dumps(fields[k])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE segments SET {sets} WHERE id = ?", (*fields.values(), segment_id))

    # -- keys -------------------------------------------------------------------------------
    def _intern(self, names: Iterable[str]) -> None:
        missing = [n for n in set(names) if n not in self._key_ids]
        if not missing:
            return
        conn = self.conn
        conn.executemany("INSERT OR IGNORE INTO keys (name) VALUES (?)", [(n,) for n in missing])
        for n in missing:
            (kid,) = conn.execute("SELECT id FROM keys WHERE name = ?", (n,)).fetchone()
            self._key_ids[n] = kid
            self._key_names[kid] = n

    def _name(self, kid: int) -> str:
        name = self._key_names.get(kid)
        if name is None:
            (name,) = self.conn.execute("SELECT name FROM keys WHERE id = ?", (kid,)).fetchone()
            self._key_names[kid] = name
            self._key_ids[name] = kid
        return name

    def _ids(self, names: Sequence[str]) -> dict[int, str]:
        out = {}
        for n in names:
            kid = self._key_ids.get(n)
            if kid is None:
                row = self.conn.execute("SELECT id FROM keys WHERE name = ?", (n,)).fetchone()
                if row is None:
                    continue
                kid = self._key_ids[n] = row[0]
                self._key_names[kid] = n
            out[kid] = n
        return out

    def keys(self, segment_id: int) -> list[str]:
        rows = self.conn.execute("SELECT key FROM segment_keys WHERE segment = ?", (segment_id,)).fetchall()
        return sorted(self._name(k) for (k,) in rows)

    # -- points -----------------------------------------------------------------------------
    def append(self, run_id: str, segment_id: int, rows: Sequence[Row], heartbeat: float) -> None:
        open_blocks = self._open_blocks.setdefault(segment_id, {})
        writes: list[blocks.BlockWrite] = []
        ids: list[int] = []
        with self.transaction():
            conn = self.conn
            if rows:
                per_key = blocks.group(rows)
                self._intern(per_key)
                kid = self._key_ids
                writes = blocks.plan(open_blocks, per_key)
                for w in writes:
                    first, last, n, enc, sb, vb = w.row()
                    if w.id is None:
                        cur = conn.execute(
                            "INSERT INTO blocks (segment, key, first_step, last_step, n, enc, steps, vals) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (segment_id, kid[w.key], first, last, n, enc, sb, vb))
                        ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
                    else:
                        conn.execute("UPDATE blocks SET last_step = ?, n = ?, enc = ?, steps = ?, vals = ? WHERE id = ?",
                                     (last, n, enc, sb, vb, w.id))
                        ids.append(w.id)
                seen = self._seg_keys.get(segment_id, set())
                new = per_key.keys() - seen
                if new:
                    conn.executemany("INSERT OR IGNORE INTO segment_keys VALUES (?, ?)",
                                     [(segment_id, kid[k]) for k in new])
                top = max(st[-1] for st, _ in per_key.values())
                conn.execute(
                    "UPDATE segments SET last_step = MAX(COALESCE(last_step, -1), ?) WHERE id = ?", (top, segment_id))
            conn.execute("UPDATE runs SET heartbeat = ?, updated_at = ? WHERE id = ?", (heartbeat, heartbeat, run_id))
        if rows:  # only once committed: a rolled-back batch leaves the writer's state as it was
            blocks.adopt(open_blocks, writes, ids)
            self._seg_keys[segment_id] = seen | new

    def _blocks(self, r: Range, kid: int, newest_first: bool = False) -> sqlite3.Cursor:
        order = "DESC" if newest_first else "ASC"
        return self.conn.execute(
            "SELECT first_step, last_step, steps, enc, vals FROM blocks WHERE segment = ? AND key = ? "
            f"AND first_step <= ? AND last_step >= ? ORDER BY first_step {order}, id {order}",
            (r.segment, kid, r.hi, r.lo))

    def _segment_key_ids(self, segment_id: int) -> list[int]:
        return [k for (k,) in self.conn.execute("SELECT key FROM segment_keys WHERE segment = ?", (segment_id,))]

    def read(self, ranges: Iterable[Range], keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        wanted = self._ids(keys) if keys is not None else None
        for r in ranges:
            kids = wanted if wanted is not None else {k: self._name(k) for k in self._segment_key_ids(r.segment)}
            if len(kids) == 1:
                ((kid, name),) = kids.items()
                st, vs = blocks.merge(self._blocks(r, kid), r.lo, r.hi)
                out.extend([{"_step": s, name: v} for s, v in zip(st, vs)])
                continue
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

    def last_step(self, r: Range) -> int | None:
        seg = self.conn.execute("SELECT last_step FROM segments WHERE id = ?", (r.segment,)).fetchone()
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


__all__ = ["SQLiteStore", "INF_STEP"]
