"""Shared fixtures. Every test that takes ``store`` runs twice: on a fresh SQLite file and on a
fresh schema of the real PostgreSQL server named by ``FORKPOINT_TEST_POSTGRES_URL``.

Without that variable the PostgreSQL half is skipped with a message; with
``FORKPOINT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) it fails instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import forkpoint
import pytest
from forkpoint.store import close_store

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from pgschema import finish_open_runs, postgres_store  # noqa: E402


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
