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

SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT, notes TEXT,
        tags TEXT NOT NULL DEFAULT '[]', origin TEXT NOT NULL, parent_run TEXT, parent_step BIGINT,
        head_segment BIGINT, state TEXT NOT NULL, exit_code INTEGER, owner TEXT, heartbeat DOUBLE PRECISION,
        step_metrics TEXT NOT NULL DEFAULT '[]', dropped_steps BIGINT NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX runs_project ON runs (project, created_at)",
    "CREATE INDEX runs_parent ON runs (parent_run)",
    """CREATE TABLE segments (
        id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, ordinal INTEGER NOT NULL, origin TEXT NOT NULL,
        parent_segment BIGINT, branch_step BIGINT, start_step BIGINT NOT NULL, last_step BIGINT,
        config TEXT NOT NULL DEFAULT '{}', config_changes TEXT NOT NULL DEFAULT '[]',
        summary TEXT NOT NULL DEFAULT '{}', created_at DOUBLE PRECISION NOT NULL, superseded_at DOUBLE PRECISION,
        replaces BIGINT, write_seq BIGINT, UNIQUE (run_id, ordinal))""",
    "CREATE TABLE keys (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE segment_keys (segment BIGINT NOT NULL, key BIGINT NOT NULL, PRIMARY KEY (segment, key))",
    """CREATE TABLE blocks (id BIGSERIAL PRIMARY KEY, segment BIGINT NOT NULL, key BIGINT NOT NULL,
        first_step BIGINT NOT NULL, last_step BIGINT NOT NULL, n INTEGER NOT NULL, enc TEXT NOT NULL,
        steps BYTEA NOT NULL, vals BYTEA NOT NULL)""",
    "CREATE INDEX blocks_range ON blocks (segment, key, first_step)",
]
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
    SCHEMA = SCHEMA

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

    def _tables_exist(self) -> bool:
        return self._x("SELECT to_regclass('meta')").fetchone()[0] is not None
