"""The embedded default store: one SQLite file in WAL mode.

Points live in blocks (``blocks.py``): per segment and key, packed arrays of up to 4096 steps and
values, so a metric's rows in one segment are a short index range and a rewind or fork touches
none of them. Each writer commits in batches with ``synchronous=FULL`` (a committed batch survives
power loss); ``BEGIN IMMEDIATE`` and a long busy timeout make concurrent writer processes wait
their turn instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any
from urllib.parse import quote

from ..errors import StoreError
from .sql import SQLStore


class SQLiteStore(SQLStore):
    TYPES = {"pk": "INTEGER PRIMARY KEY", "int": "INTEGER", "real": "REAL", "blob": "BLOB", "norowid": " WITHOUT ROWID"}

    def __init__(self, path: str, create: bool = True) -> None:
        self.path = os.path.abspath(path)
        self.url = f"sqlite:///{self.path}"
        parent = os.path.dirname(self.path)
        self.readonly = False
        if create:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {self.url}: cannot create folder {parent!r}: {exc}") from None
        elif not os.path.isfile(self.path):
            raise StoreError(f"store {self.path!r} does not exist: expected the path of a forkpoint store "
                             "(a runs.db file); nothing was created")
        else:
            # a read-only mount or a file this user cannot write: reads still work
            self.readonly = not (os.access(self.path, os.W_OK) and os.access(parent, os.W_OK))
        self._marker_lock = threading.Lock()
        self._marker_conn: sqlite3.Connection | None = None
        self._marker_pid = -1
        super().__init__(create)

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                return self._connect_readonly()
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.url} cannot be opened: {exc}") from None
        return conn

    def _connect_readonly(self) -> sqlite3.Connection:
        """``mode=ro`` reads a WAL store whose ``-shm`` file is there; without one (nobody may
        create it), ``immutable=1`` reads the main file, which is safe only if no ``-wal`` holds
        rows that were never checkpointed."""
        uri = f"file:{quote(self.path)}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=60.0, check_same_thread=False)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return conn
        except sqlite3.OperationalError:
            wal = self.path + "-wal"
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                raise StoreError(
                    f"store {self.url} is read-only for this user and has a write-ahead log ({wal}) that only a "
                    "user who can write the folder can apply: open it once as that user, or copy the store") from None
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
            return conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        if self.readonly:
            conn.execute("BEGIN")
            return
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

    def _commit_marker(self) -> Any:
        # ``PRAGMA data_version`` changes on a connection whenever another connection (of any
        # process) commits; this one never writes, so an unchanged value means nothing committed.
        # It is a per-connection counter: always the same connection (one per process).
        with self._marker_lock:
            if self._marker_conn is None or self._marker_pid != os.getpid():  # first, or a forked child
                self._marker_conn, self._marker_pid = self._connect(), os.getpid()
                self._versions.clear()
            return self._marker_conn.execute("PRAGMA data_version").fetchone()[0]

    def rejects_rows(self, exc: BaseException) -> bool:
        # "string or blob too big", a value SQLite cannot bind; not: locked, full, I/O, read-only
        return super().rejects_rows(exc) or isinstance(exc, (sqlite3.DataError, sqlite3.InterfaceError))

    def _tables_exist(self) -> bool:
        return self._x("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None
