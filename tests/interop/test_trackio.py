"""trackio import, checked against trackio's own storage reader (``SQLiteStorage``)."""

from __future__ import annotations

import math
import os
import tempfile
import uuid
from pathlib import Path

import forkpoint
import pytest
from forkpoint import interop
from interop_peers import peer

# trackio reads TRACKIO_DIR once, at import: give this module a private one, and no hub
os.environ.setdefault("TRACKIO_DIR", tempfile.mkdtemp(prefix="fp-trackio-"))
os.environ["HF_HUB_OFFLINE"] = "1"
trackio = peer("trackio")
from trackio.sqlite_storage import SQLiteStorage  # noqa: E402


def write_project() -> str:
    project = f"tp_{uuid.uuid4().hex[:8]}"
    trackio.init(project=project, name="r1", config={"lr": 0.1, "opt": {"beta": 0.9}})
    for i in range(6):
        trackio.log({"loss": 1.0 / (i + 1), "phase": "a" if i < 3 else "b", "inf": float("inf")})
    trackio.finish()
    trackio.init(project=project, name="r2", config={"lr": 0.2})
    for i in range(3):
        trackio.log({"loss": 2.0 * i, "val": {"acc": i / 4}}, step=i * 10)
    trackio.finish()
    return project


def test_import_matches_trackio_storage(store: str) -> None:
    project = write_project()
    db = SQLiteStorage.get_project_db_path(project)
    landed, notes = interop.import_runs("trackio", db, store)
    assert [x.status for x in landed] == ["imported", "imported"]
    assert any("no run summary" in n for n in notes)
    api = forkpoint.Api(store)
    runs = {v.name: v for v in api.runs(project)}
    assert sorted(runs) == sorted(SQLiteStorage.get_runs(project))
    for name, view in runs.items():
        want = SQLiteStorage.get_logs(project, name)
        got = view.history()
        assert [r["_step"] for r in got] == [w["step"] for w in want]
        for g, w in zip(got, want):
            for k, v in g.items():
                if k == "_step":
                    continue
                wv = w[k] if k in w else w[k.split("/")[0]][k.split("/")[1]]
                assert v == wv or (isinstance(v, float) and math.isinf(v) and v == wv), (name, k)
        cfg = SQLiteStorage.get_run_config(project, name)
        assert view.config == {k: v for k, v in cfg.items() if not k.startswith("_")}
    assert runs["r2"].history(keys=["val/acc"]) == [{"_step": 0, "val/acc": 0.0}, {"_step": 10, "val/acc": 0.25},
                                                    {"_step": 20, "val/acc": 0.5}]
    again, _ = interop.import_runs("trackio", db, store)
    assert [x.status for x in again] == ["already imported"] * 2
    assert len(api.runs(project)) == 2


def test_not_a_trackio_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "x.db"
    other.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(interop.InteropError, match="x.db"):
        interop.import_runs("trackio", other, tmp_path / "runs.db")
    assert not (tmp_path / "runs.db").exists()
