"""Where imports land: each source run becomes a forkpoint run, exactly once.

The run id is derived from the source's identity (``"<format>-" + sha256(identity)[:16]``) and the
identity is written in the run's notes, so importing the same source again finds the run and
writes only the source rows past the run's last step: none for a finished import (skipped), the
rest for an import that died half-way (continued).
Runs that forkpoint itself exported carry their lineage; a fork whose parent comes in the same
import is rebuilt as a real fork (``fork_from``), so only its own rows are stored.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Iterable, Iterator

from ..api import Api
from ..run import Run
from ..start import init
from ..store import Store
from .units import InteropError

_PROJECT_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
NOTE_PREFIX = "imported from "


@dataclass
class Incoming:
    """One run read from another tracker, ready to land.

    ``rows`` is called when the run is written (sources stream); it yields ``(step, row)`` in
    increasing step order. ``lineage`` is the forkpoint lineage of runs forkpoint exported."""

    identity: str
    project: str
    name: str | None
    rows: Callable[[], Iterable[tuple[int, dict[str, Any]]]]
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    crashed: bool = False
    lineage: dict[str, Any] | None = None


@dataclass
class Landed:
    """What happened to one source run."""

    identity: str
    run_id: str
    status: str  # "imported", "continued" or "already imported"
    rows: int = 0


def run_id_for(fmt: str, identity: str) -> str:
    return f"{fmt}-{hashlib.sha256(identity.encode('utf-8')).hexdigest()[:16]}"


def project_name(name: object, default: str) -> str:
    """A source's project/experiment name as a forkpoint project name (invalid characters -> ``_``)."""
    text = _PROJECT_BAD.sub("_", str(name)).strip("_")[:128] if name else ""
    return text or default


def scalar(value: Any) -> Any:
    """A source value as something ``log()`` takes, or ``None`` to leave it out."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return scalar(item())
        except (TypeError, ValueError):
            return None
    return None


def flatten(key: str, value: Any, out: dict[str, Any], skipped: dict[str, int],
            decode: Callable[[Any], Any] | None = None) -> None:
    """A source's value under ``key`` into the row ``out``: nested dicts flattened with ``/``;
    media and other typed values (a dict with ``_type``) and lists are left out and counted in
    ``skipped``. ``decode`` first turns a source's encoding of a leaf into a plain value."""
    if isinstance(value, dict):
        if "_type" in value:
            what = f"{value['_type']} values"
            skipped[what] = skipped.get(what, 0) + 1
            return
        for k, v in value.items():
            flatten(f"{key}/{k}" if key else k, v, out, skipped, decode)
        return
    got = scalar(decode(value) if decode else value)
    if got is None and value is not None:
        skipped["list values"] = skipped.get("list values", 0) + 1
        return
    out[key] = got


def land(store: Store, fmt: str, incoming: Iterable[Incoming]) -> list[Landed]:
    """Write every incoming run (forks after their parents); returns one ``Landed`` per run."""
    batch = list(incoming)
    ids = {inc.identity: run_id_for(fmt, inc.identity) for inc in batch}
    by_unit = {inc.lineage["id"]: inc for inc in batch if inc.lineage and inc.lineage.get("id")}
    out: list[Landed] = []
    for inc in _parents_first(batch, by_unit):
        fork_at = None
        lin = inc.lineage or {}
        parent = by_unit.get(lin.get("parent_run") or "")
        if lin.get("kind") == "fork" and parent is not None and not lin.get("archived") \
                and lin.get("branch_step") is not None:
            fork_at = f"{ids[parent.identity]}?_step={int(lin['branch_step'])}"
        out.append(_land_one(store, ids[inc.identity], inc, fork_at))
    return out


def _parents_first(batch: list[Incoming], by_unit: dict[str, Incoming]) -> list[Incoming]:
    out: list[Incoming] = []
    done: set[str] = set()

    def place(inc: Incoming, depth: int) -> None:
        if inc.identity in done:
            return
        parent = by_unit.get((inc.lineage or {}).get("parent_run") or "")
        if parent is not None and depth < len(batch):
            place(parent, depth + 1)
        done.add(inc.identity)
        out.append(inc)

    for inc in batch:
        place(inc, 0)
    return out


def _land_one(store: Store, run_id: str, inc: Incoming, fork_at: str | None) -> Landed:
    note = NOTE_PREFIX + inc.identity
    existing = store.get_run(run_id)
    fork_step = int(fork_at.rsplit("=", 1)[1]) if fork_at is not None else -1
    if existing is not None:
        if existing.notes != note:
            raise InteropError(f"run {run_id!r} exists in store {store.url} but was not imported from "
                               f"{inc.identity!r} (its notes say {existing.notes!r}); nothing imported")
        last = Api(store).run(run_id).last_step
        rows = _after(inc.rows(), max(fork_step, -1 if last is None else last))
        first = next(rows, None)
        if first is None:  # every source row is in the run already
            return Landed(inc.identity, run_id, "already imported")
        run = init(id=run_id, project=existing.project, store=store, resume="must", flush_interval=5.0)
        status = "continued"
    else:
        kw: dict[str, Any] = dict(project=inc.project, name=inc.name, config=inc.config, tags=inc.tags or None,
                                  notes=note, store=store, flush_interval=5.0)
        if fork_at is not None:
            kw.update(fork_from=fork_at, inherit_config=False)
        run = init(id=run_id, **kw)
        rows = _after(inc.rows(), fork_step)
        first = next(rows, None)
        status = "imported"
    try:
        n, last_values = _write_rows(run, rows if first is None else chain([first], rows))
        explicit = {k: v for k, v in inc.summary.items() if not _same(last_values.get(k, _MISSING), v)}
        if explicit:
            run.summary.update(explicit)
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish(exit_code=1 if inc.crashed else 0)
    return Landed(inc.identity, run_id, status, n)


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _write_rows(run: Run, rows: Iterable[tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    n = 0
    last: dict[str, Any] = {}
    for step, row in rows:
        run.log(row, step=step)
        last.update(row)
        n += 1
    return n, last


def _after(rows: Iterable[tuple[int, dict[str, Any]]], after: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """The non-empty rows with a step above ``after``; an error if the source goes back in steps."""
    prev = -1
    for step, row in rows:
        if step < prev:
            raise InteropError(f"source rows are not in step order (step {step} after {prev}); nothing more imported")
        prev = step
        if step > after and row:
            yield step, row
