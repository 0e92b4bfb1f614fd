"""Shared fixtures. Every test that takes ``store`` runs twice: on a fresh SQLite file and on a
fresh schema of the real PostgreSQL server named by ``FORKPOINT_TEST_POSTGRES_URL``.

Without that variable the PostgreSQL half is skipped with a message; with
``FORKPOINT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) it fails instead.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Iterator

import forkpoint
import pytest
from forkpoint.store import close_store

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

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


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL for one test: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
        yield url
        finish_open_runs()
        close_store(url)
        return
    yield from postgres_store()


def postgres_store() -> Iterator[str]:
    """A fresh schema on the test server; afterwards open runs are closed and the schema dropped."""
    schema = f"fp_test_{uuid.uuid4().hex[:12]}"
    url = with_schema(postgres_url(), schema)
    yield url
    finish_open_runs()
    close_store(url)
    drop_schema(schema)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Only PostgreSQL: a fresh schema on the test server (for PostgreSQL-only fault tests)."""
    yield from postgres_store()


@pytest.fixture
def api(store: str) -> forkpoint.Api:
    """A reader on the test's store (created first: a reader never creates a store)."""
    from forkpoint.store import open_store

    open_store(store)
    return forkpoint.Api(store)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No store from the environment, and a private working directory: defaults such as
    ./forkpoint/ land there, not in the checkout (where a bare forkpoint/ folder would shadow the
    editable-installed package)."""
    monkeypatch.delenv("FORKPOINT_STORE", raising=False)
    monkeypatch.delenv("FORKPOINT_PROJECT", raising=False)
    monkeypatch.delenv("FORKPOINT_QUIET", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
