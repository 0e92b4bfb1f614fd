"""Shared fixtures. Every test gets its own real SQLite file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import forkpoint

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store URL for one test (a fresh SQLite file)."""
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def api(store: str) -> forkpoint.Api:
    return forkpoint.Api(store)


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORKPOINT_STORE", raising=False)
    monkeypatch.delenv("FORKPOINT_PROJECT", raising=False)
