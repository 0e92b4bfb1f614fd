"""Helpers for the interop tests: the peers are optional, and the test runs build one lineage tree."""

from __future__ import annotations

import os
from types import ModuleType

import forkpoint
import pytest

REQUIRE = os.environ.get("FORKPOINT_REQUIRE_INTEROP") == "1"


def peer(module: str) -> ModuleType:
    """``pytest.importorskip(module)``, or a failure when ``FORKPOINT_REQUIRE_INTEROP=1``."""
    if REQUIRE:
        try:
            return __import__(module, fromlist=["_"])
        except ImportError as exc:
            pytest.fail(f"{module} is required (FORKPOINT_REQUIRE_INTEROP=1) but cannot be imported: {exc}")
    return pytest.importorskip(module)


def make_tree(store: str) -> dict[str, str]:
    """``base`` (steps 0..9, rewound at 5, then 6..11; its first branch is ``base~1``), ``kid``
    forked from it at 3 (steps 4..7), and ``crash``, a crashed run. Strings, ints and a nested key
    ride along with the floats."""
    with forkpoint.init(project="p", id="base", store=store, config={"lr": 0.1, "opt": {"beta": 0.9}},
                        tags=["t1"], flush_interval=0) as run:
        for i in range(10):
            run.log({"loss": 10.0 - i, "acc": i / 10, "note": f"s{i}", "train": {"epoch": i // 4}})
    with forkpoint.init(resume_from="base?_step=5", store=store, config={"lr": 0.05}) as run:
        for i in range(6, 12):
            run.log({"loss": 100.0 + i})
    with forkpoint.init(fork_from="base?_step=3", id="kid", store=store) as run:
        for i in range(4, 8):
            run.log({"loss": -1.0 * i})
        run.summary["best"] = 3.5
    run = forkpoint.init(project="p", id="crash", store=store)
    run.log({"loss": 1.5}, step=2)
    run.finish(exit_code=3)
    return {"base": "base", "kid": "kid", "crash": "crash"}
