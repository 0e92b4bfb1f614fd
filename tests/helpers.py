"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any

import forkpoint


def linear(store: str, n: int = 300, project: str = "p", **kw: Any) -> str:
    """A finished run with ``metric = i`` at steps 0..n-1; returns its id."""
    with forkpoint.init(project=project, store=store, **kw) as run:
        for i in range(n):
            run.log({"metric": i})
    return run.id


def steps(rows: list[dict[str, Any]]) -> list[int]:
    return [r["_step"] for r in rows]
