"""Small helpers shared by tests."""

from __future__ import annotations

import math
from typing import Any, Iterable

import forkpoint
import pytest


def linear(store: str, n: int = 300, project: str = "p", **kw: Any) -> str:
    """A finished run with ``metric = i`` at steps 0..n-1; returns its id."""
    with forkpoint.init(project=project, store=store, **kw) as run:
        for i in range(n):
            run.log({"metric": i})
    return run.id


def steps(rows: list[dict[str, Any]]) -> list[int]:
    return [r["_step"] for r in rows]


def same_history(a: list[dict[str, Any]], b: list[dict[str, Any]], skip: Iterable[str] = (), rel: float = 1e-5,
                 abs_tol: float = 1e-7) -> None:
    """Point for point: the same steps and keys, values allclose (``skip``: wall-clock keys)."""
    skip = set(skip)
    assert [r["_step"] for r in a] == [r["_step"] for r in b]
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys(), (ra, rb)
        for k in ra.keys() - skip:
            assert math.isclose(ra[k], rb[k], rel_tol=rel, abs_tol=abs_tol), (k, ra, rb)


@pytest.fixture(autouse=True)
def wandb_quiet(monkeypatch: pytest.MonkeyPatch) -> Any:
    """For modules that run W&B-style code (``from helpers import wandb_quiet``): no "run stored
    in ..." line, and a module-level run (``wandb.run``) a test left open is finished after it."""
    monkeypatch.setenv("FORKPOINT_QUIET", "1")
    yield
    if forkpoint.run is not None:
        forkpoint.finish()
