"""trackio: import a project's runs from its SQLite file (``$TRACKIO_DIR/<project>.db``).

The file is opened read-only with the standard library (trackio itself need not be importable,
and reading never touches a hub). SOURCE is one project's ``.db`` file, or a directory of them
(``TRACKIO_DIR``), every project then. Per run: the ``metrics`` rows become history (trackio's
``"Infinity"``/``"NaN"`` strings back to floats, nested dicts flattened with ``/``), the ``configs``
row the config (trackio's own ``_Username``, ``_Created``, ``_Group`` entries left out). trackio has no summary,
lineage or exit state; media values and system metrics are left out and counted.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Iterator

from .landing import Incoming, flatten, project_name
from .units import InteropError

_TRACKIO_KEYS = frozenset({"_Username", "_Created", "_Group"})  # trackio's own entries in a run's config
_SPECIAL = {"Infinity": float("inf"), "-Infinity": float("-inf"), "NaN": float("nan")}


def _dbs(source: str) -> list[str]:
    if os.path.isfile(source):
        return [source]
    if os.path.isdir(source):
        found = sorted(os.path.join(source, f) for f in os.listdir(source) if f.endswith(".db"))
        if found:
            return found
        raise InteropError(f"trackio source {source!r} holds no project database (<project>.db)")
    raise InteropError(f"trackio source {source!r} does not exist: expected a trackio <project>.db or TRACKIO_DIR")


def _connect(path: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise InteropError(f"{path!r} is not a trackio project database: {exc}") from None
    if "metrics" not in names:
        conn.close()
        raise InteropError(f"{path!r} is not a trackio project database (no metrics table)")
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def read(source: str, project: str | None = None) -> tuple[list[Incoming], list[str]]:
    runs: list[Incoming] = []
    skipped: dict[str, int] = {}
    for db in _dbs(source):
        proj = project_name(os.path.splitext(os.path.basename(db))[0], "trackio")
        if project is not None and len(_dbs(source)) > 1 and proj != project:
            continue
        runs.extend(_read_db(db, project or proj, skipped))
    if not runs:
        raise InteropError(f"trackio source {source!r} holds no runs" + (f" for project {project!r}" if project else ""))
    notes = [f"trackio {what}: {n} not imported" for what, n in sorted(skipped.items())]
    notes.append("trackio has no run summary, lineage or exit state: summaries are the last logged values")
    return runs, notes


def _read_db(db: str, project: str, skipped: dict[str, int]) -> list[Incoming]:
    conn = _connect(db)
    try:
        by = "run_id" if "run_id" in _columns(conn, "metrics") else "run_name"
        runs = conn.execute(f"SELECT {by} AS ident, MAX(run_name) AS name, MIN(id) AS first FROM metrics "
                            f"GROUP BY {by} ORDER BY first").fetchall()
        configs: dict[str, dict[str, Any]] = {}
        if "configs" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
            cby = "run_id" if "run_id" in _columns(conn, "configs") else "run_name"
            for r in conn.execute(f"SELECT {cby} AS ident, config FROM configs"):
                configs[r["ident"]] = _decode(json.loads(r["config"]))
            n_sys = 0
            if "system_metrics" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
                n_sys = conn.execute("SELECT COUNT(*) FROM system_metrics").fetchone()[0]
            if n_sys:
                skipped["system metrics rows"] = skipped.get("system metrics rows", 0) + n_sys
        for r in runs:  # media and other non-scalar values, counted up front
            for (text,) in conn.execute(f"SELECT metrics FROM metrics WHERE {by} = ?", (r["ident"],)):
                flatten("", json.loads(text), {}, skipped, _decode)
    finally:
        conn.close()
    out = []
    for r in runs:
        ident = r["ident"]
        config = {k: v for k, v in configs.get(ident, {}).items() if k not in _TRACKIO_KEYS}

        def rows(ident: str = ident) -> Iterator[tuple[int, dict[str, Any]]]:
            by_step: dict[int, dict[str, Any]] = {}
            c = _connect(db)
            try:
                for step, text in c.execute(f"SELECT step, metrics FROM metrics WHERE {by} = ? ORDER BY id", (ident,)):
                    flatten("", json.loads(text), by_step.setdefault(int(step), {}), {}, _decode)
            finally:
                c.close()
            for s in sorted(by_step):
                if s >= 0:
                    yield s, by_step[s]

        out.append(Incoming(identity=f"trackio:{os.path.abspath(db)}:{ident}", project=project, name=r["name"],
                            rows=rows, config=config))
    return out


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        return _SPECIAL.get(value, value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value
