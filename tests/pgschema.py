"""The PostgreSQL test server: its URL, fresh schemas, and the rule for skipping. A module of its own
(not conftest) so test files import it by a name no other folder's conftest shadows.

Without ``FORKPOINT_TEST_POSTGRES_URL`` the PostgreSQL half is skipped with a message; with
``FORKPOINT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) it fails instead.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest
from forkpoint.store import close_store

PG_URL = os.environ.get("FORKPOINT_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("FORKPOINT_REQUIRE_POSTGRES") == "1"


def postgres_url() -> str:
    if not PG_URL:
        msg = "PostgreSQL tests need FORKPOINT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        if REQUIRE_PG:
            pytest.fail(msg + " and FORKPOINT_REQUIRE_POSTGRES=1 forbids skipping them")
        pytest.skip(msg)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if REQUIRE_PG:
            pytest.fail("psycopg is not installed but PostgreSQL tests are required")
        pytest.skip("psycopg is not installed (pip install 'forkpoint[postgres]')")
    return PG_URL


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def finish_open_runs() -> None:
    """Runs a test left open (a training loop that died mid-run) are closed before their store goes."""
    from forkpoint import lifecycle

    for run in lifecycle.open_runs():
        run.finish(exit_code=1)



def postgres_store() -> Iterator[str]:
    """A fresh schema on the test server; afterwards open runs are closed and the schema dropped."""
    schema = f"fp_test_{uuid.uuid4().hex[:12]}"
    url = with_schema(postgres_url(), schema)
    yield url
    finish_open_runs()
    close_store(url)
    drop_schema(schema)
