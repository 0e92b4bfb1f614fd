"""Parquet and CSV: one table per run head and archived branch, and a lineage table beside them.

``DEST/<project>/<unit id>.parquet`` (or ``.csv``) holds the stitched history: ``_step`` and one
column per key, empty where a row has no value for that key. ``DEST/lineage.parquet`` (``.csv``)
has one row per exported unit: id, run id, project, name, kind, state, archived, parent
(``"<id>?_step=N"``), parent run, branch step, tags, notes, created_at, the table's file, and
config and summary as JSON text. Media values (images, histograms, tables) are written once per
blob under ``DEST/<project>/media/`` (``<sha256>.png``, ``.json``...) and their cell holds that
file's path relative to DEST (a media list: a JSON list of paths).

Both are written window by window (Parquet as one row group per window), so memory stays flat.
A Parquet column needs one type before the first row group: a first pass over the history picks it
(bool, int64, float64 or string; mixed numbers widen to float64, numbers mixed with text become text).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any

from ..media import is_ref
from .peers import need
from .units import InteropError, MediaFiles, Unit

LINEAGE_COLUMNS = ["id", "run_id", "project", "name", "kind", "state", "archived", "parent", "parent_run",
                   "branch_step", "tags", "notes", "created_at", "file", "config", "summary"]


def _path(dest: str, unit: Unit, ext: str) -> str:
    return os.path.join(dest, unit.project, f"{unit.id}.{ext}")


def export(units: list[Unit], dest: str, fmt: str) -> tuple[list[str], list[str]]:
    """Write the tables; returns the files (lineage table last)."""
    ext = fmt
    if fmt == "parquet":
        need("pyarrow")
    targets = [_path(dest, u, ext) for u in units] + [os.path.join(dest, f"lineage.{ext}")]
    for t in targets:
        if os.path.exists(t):
            raise InteropError(f"{t!r} exists; export to an empty DEST (nothing was written)")
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise InteropError(f"export destination {dest!r} is a file, not a directory")
    lineage_rows = []
    for u, path in zip(units, targets):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files = MediaFiles(u.store, dest, os.path.join(u.project, "media"))
        if fmt == "parquet":
            _write_parquet(u, path, files)
        else:
            _write_csv(u, path, files)
        lin = u.lineage()
        lin.update(tags=json.dumps(lin["tags"]), file=os.path.relpath(path, dest),
                   config=json.dumps(u.view.config, default=str), summary=json.dumps(u.view.summary, default=str))
        lineage_rows.append({c: lin.get(c) for c in LINEAGE_COLUMNS})
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(lineage_rows, schema=_lineage_schema(pa)), targets[-1])
    else:
        with open(targets[-1], "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, LINEAGE_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows({k: "" if v is None else v for k, v in row.items()} for row in lineage_rows)
    return targets, []


def _lineage_schema(pa: Any) -> Any:
    types = {"archived": pa.bool_(), "branch_step": pa.int64(), "created_at": pa.float64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in LINEAGE_COLUMNS])


def _csv_cell(v: Any, files: MediaFiles) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return files.cell(v) if is_ref(v) else v


def _write_csv(u: Unit, path: str, files: MediaFiles) -> None:
    cols = ["_step", *u.metric_keys()]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for batch in u.row_batches():
            w.writerows([_csv_cell(row.get(c), files) for c in cols] for row in batch)


def _column_types(u: Unit, pa: Any) -> dict[str, Any]:
    seen: dict[str, set[type]] = {}
    for batch in u.row_batches():
        for row in batch:
            for k, v in row.items():
                if v is not None:
                    seen.setdefault(k, set()).add(type(v))
    out = {}
    for k in u.metric_keys():
        kinds = seen.get(k, set())
        if not kinds or str in kinds or dict in kinds:  # media values: the path of their file
            out[k] = pa.string()
        elif kinds == {bool}:
            out[k] = pa.bool_()
        elif kinds <= {int, bool}:
            out[k] = pa.int64()
        else:
            out[k] = pa.float64()
    return out


def _cell(v: Any, as_text: bool, files: MediaFiles) -> Any:
    if v is None or not as_text or isinstance(v, str):
        return v
    return files.cell(v) if is_ref(v) else json.dumps(v)


def _write_parquet(u: Unit, path: str, files: MediaFiles) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = _column_types(u, pa)
    schema = pa.schema([("_step", pa.int64()), *types.items()])
    text = {k for k, t in types.items() if t == pa.string()}
    with pq.ParquetWriter(path, schema) as writer:
        for batch in u.row_batches():
            arrays = [pa.array([r["_step"] for r in batch], pa.int64())]
            for k, t in types.items():
                as_text = k in text
                arrays.append(pa.array([_cell(r.get(k), as_text, files) for r in batch], t))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
