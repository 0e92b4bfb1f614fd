"""The team / multi-node store: PostgreSQL through psycopg 3 (``pip install 'forkpoint[postgres]'``).

``store="postgresql://user@host/db"``; add ``?schema=<name>`` to keep forkpoint's tables in their
own schema (created if missing). The schema of tables is created and migrated on first use under
an advisory lock, so many processes may start at once. Same blocks layout as SQLite: a writer
inserts one row per key per batch (up to 4096 points each), which is as fast a path as COPY for
this data. A run's row is locked (``FOR UPDATE``) while deciding who may write it.

Lost connections (server restart, ``pg_terminate_backend``): the broken connection is dropped and
the next call reconnects; the background writer retries its in-flight batch, which is
exactly-once through the segment's ``write_seq`` (see ``writer.py``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StoreError
from .sql import SQLStore

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_LOCK_ID = 0x666F726B  # "fork": the advisory lock for schema creation and migration


def split_url(url: str) -> tuple[str, str | None]:
    """``postgresql://...?schema=s&x=y`` -> (``postgresql://...?x=y``, ``s``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not _IDENT.match(schema):
        raise StoreError(f"store {url!r}: schema {schema!r} is not a plain identifier (letters, digits, '_')")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore(SQLStore):
    GREATEST = "GREATEST"
    TYPES = {"pk": "BIGSERIAL PRIMARY KEY", "int": "BIGINT", "real": "DOUBLE PRECISION", "blob": "BYTEA", "norowid": ""}
    READ_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: str, create: bool = True) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError(f"store {url!r} needs psycopg 3: pip install 'forkpoint[postgres]'") from None
        self._psycopg = psycopg
        self.url = url
        self._conninfo, self.schema = split_url(url)
        self._sql_cache: dict[str, str] = {}
        self._schema_made = not create  # a reader never creates the schema
        super().__init__(create)

    def _commit_marker(self) -> Any:
        # The snapshot this REPEATABLE READ transaction reads (its first statement takes it): two
        # equal snapshots (xmin, xmax, transactions in progress) see the same committed rows. A
        # write anywhere in the cluster moves it (conservative); a commit racing the read cannot
        # slip past, as it could with a WAL position read beside the snapshot.
        return self._x("SELECT pg_current_snapshot()::text").fetchone()[0]

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"store {self.url} cannot be reached: {exc}".strip()) from None
        if self.schema:
            if not self._schema_made:
                try:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                    pass  # another process made it at the same moment
                self._schema_made = True
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    @property
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.closed or conn.broken) and not getattr(self._local, "depth", 0):
            self._local.conn = None  # reconnect on next use
        return super().conn

    def _sql(self, sql: str) -> str:
        got = self._sql_cache.get(sql)
        if got is None:
            got = self._sql_cache[sql] = sql.replace("?", "%s")
        return got

    def _migration_lock(self) -> None:
        self._x("SELECT pg_advisory_xact_lock(?)", (_LOCK_ID,))

    def lock_run(self, run_id: str) -> None:
        self._x("SELECT id FROM runs WHERE id = ? FOR UPDATE", (run_id,))

    def _lost_connection(self, exc: BaseException) -> bool:
        errors = self._psycopg.errors
        if isinstance(exc, errors.ProgramLimitExceeded):  # an OperationalError caused by the data
            return False
        return isinstance(exc, (self._psycopg.OperationalError, self._psycopg.InterfaceError))

    def rejects_rows(self, exc: BaseException) -> bool:
        # DataError: NUL in text, bad encoding; ProgramLimitExceeded: e.g. index row too big
        return super().rejects_rows(exc) or isinstance(
            exc, (self._psycopg.DataError, self._psycopg.errors.ProgramLimitExceeded))

    def _tables_exist(self) -> bool:
        return self._x("SELECT to_regclass('meta')").fetchone()[0] is not None
