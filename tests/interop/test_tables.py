"""Parquet and CSV export (read back with pyarrow and the csv module), windowed reads, the CLI,
and imports that stop half-way."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import forkpoint
import pytest
from forkpoint import interop
from forkpoint.interop import cli
from forkpoint.interop.landing import Incoming, land
from forkpoint.interop.units import select
from forkpoint.store import open_store
from interop_peers import make_tree, peer

pq = peer("pyarrow.parquet")


def test_parquet_tables_and_lineage(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    done = interop.export(api, project="p", to="parquet", dest=tmp_path / "pq")
    assert sorted(Path(f).name for f in done.written) == ["base.parquet", "base~1.parquet", "crash.parquet", "kid.parquet",
                                                    "lineage.parquet"]
    for unit in ["base", "base~1", "crash", "kid"]:
        table = pq.read_table(tmp_path / "pq" / "p" / f"{unit}.parquet")
        rows = [{k: v for k, v in r.items() if v is not None} for r in table.to_pylist()]
        assert rows == api.run(unit).history(), unit
    base = pq.read_table(tmp_path / "pq" / "p" / "base.parquet")
    assert str(base.schema.field("loss").type) == "double" and str(base.schema.field("note").type) == "string"
    assert str(base.schema.field("train/epoch").type) == "int64"
    lineage = {r["id"]: r for r in pq.read_table(tmp_path / "pq" / "lineage.parquet").to_pylist()}
    assert lineage["kid"]["parent"] == "base?_step=3" and lineage["kid"]["branch_step"] == 3
    assert lineage["base"]["kind"] == "rewind" and lineage["base"]["parent"] == "base~1?_step=5"
    assert lineage["base~1"]["archived"] is True and lineage["crash"]["state"] == "crashed"
    assert json.loads(lineage["kid"]["summary"])["best"] == 3.5
    assert json.loads(lineage["base"]["config"]) == api.run("base").config


def test_csv_tables(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    interop.export(api, ["kid", "base~1"], to="csv", dest=tmp_path / "csv")
    with open(tmp_path / "csv" / "p" / "kid.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    want = api.run("kid").history()
    assert [int(r["_step"]) for r in rows] == [w["_step"] for w in want]
    assert [float(r["loss"]) for r in rows] == [w["loss"] for w in want]
    assert rows[0]["note"] == "s0" and rows[5]["note"] == ""
    with open(tmp_path / "csv" / "lineage.csv", newline="") as f:
        assert [r["id"] for r in csv.DictReader(f)] == ["kid", "base~1"]


def test_windows_cover_gaps_and_branches(store: str) -> None:
    """Reading in tiny windows gives exactly ``history()``, across huge step gaps, a rewind and a fork."""
    with forkpoint.init(project="w", id="sparse", store=store) as run:
        for s in [0, 1, 2, 10**6, 10**6 + 1, 10**12, 10**15]:
            run.log({"x": s % 97, "y": float(s)}, step=s)
    with forkpoint.init(resume_from=f"sparse?_step={10**6}", store=store) as run:
        run.log({"x": -1}, step=10**13)
    with forkpoint.init(fork_from=f"sparse?_step={10**6 + 1}", id="f", store=store) as run:
        for s in range(10**6 + 2, 10**6 + 60):
            run.log({"z": s}, step=s)
    api = forkpoint.Api(store)
    for unit in select(api, ["sparse", "f"]):
        for window in (1, 3, 1000):
            assert list(unit.rows(window=window)) == unit.view.history(), (unit.id, window)


def test_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer("tensorboard")
    src = str(tmp_path / "src.db")
    make_tree(src)
    assert cli.main(["--store", src, "export", "base", "kid", "--to", "parquet", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("lineage.parquet")
    assert cli.main(["--store", src, "export", "--project", "p", "--to", "tensorboard", str(tmp_path / "tb")]) == 0
    new = str(tmp_path / "new.db")
    assert cli.main(["--store", new, "import", "tensorboard", str(tmp_path / "tb")]) == 0
    out = capsys.readouterr().out
    assert out.count("\timported\t") == 4
    assert cli.main(["--store", new, "import", "tensorboard", str(tmp_path / "tb")]) == 0
    assert capsys.readouterr().out.count("already imported") == 4
    assert cli.main(["--store", src, "export", "nope", "--to", "csv", str(tmp_path / "x")]) == 1
    assert "nope" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert cli.main(["--store", str(tmp_path / "missing.db"), "export", "kid", "--to", "csv", str(tmp_path / "y")]) == 1
    assert cli.main(["--store", src, "export", "kid", "--project", "p", "--to", "csv", str(tmp_path / "z")]) == 1
    assert cli.main(["--store", src, "export", "kid", "--to", "xlsx", str(tmp_path / "z")]) == 1
    assert "xlsx" in capsys.readouterr().err and not (tmp_path / "z").exists()


def test_an_import_that_died_half_way_continues(store: str) -> None:
    rows = [(s, {"loss": 1.0 / (s + 1)}) for s in range(100)]

    def dies() -> object:
        yield from rows[:40]
        raise OSError("source went away")

    st = open_store(store)
    with pytest.raises(OSError, match="went away"):
        land(st, "test", [Incoming(identity="src:1", project="imp", name="one", rows=dies)])
    (view,) = forkpoint.Api(store).runs("imp")
    assert view.state == "crashed" and view.last_step == 39
    (again,) = land(st, "test", [Incoming(identity="src:1", project="imp", name="one", rows=lambda: rows)])
    assert again.status == "continued" and again.rows == 60
    assert forkpoint.Api(store).run(again.run_id).history() == [{"_step": s, **r} for s, r in rows]
    (third,) = land(st, "test", [Incoming(identity="src:1", project="imp", name="one", rows=lambda: rows)])
    assert third.status == "already imported"


def test_export_needs_runs_or_project(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    with pytest.raises(interop.InteropError, match="either runs"):
        interop.export(api, to="csv", dest=tmp_path / "a")
    with pytest.raises(forkpoint.RunNotFoundError):
        interop.export(api, project="nothing_here", to="csv", dest=tmp_path / "a")
    (tmp_path / "b" / "p").mkdir(parents=True)
    (tmp_path / "b" / "p" / "kid.csv").write_text("old")
    with pytest.raises(interop.InteropError, match="kid.csv"):
        interop.export(api, ["base", "kid"], to="csv", dest=tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b" / "p").iterdir()) == ["kid.csv"]
