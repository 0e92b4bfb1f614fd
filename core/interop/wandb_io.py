"""W&B: offline run directories out (written by wandb itself) and in (read from their ``.wandb`` log).

Export: for each run head and archived branch, ``wandb.init(mode="offline", dir=DEST)`` with the
run's id, name, tags, notes and config, one ``run.log(row, step=s)`` per stitched history row, the
summary, and ``finish`` (exit code 1 for a crashed run). Media values are logged as the W&B
objects they stand for (``wandb.Image``, ``wandb.Histogram``, ``wandb.Table``; a media list as a
list), so wandb writes its own media files. The result is what any offline run leaves
(``DEST/wandb/offline-run-<time>-<id>/run-<id>.wandb``), so ``wandb sync DEST/wandb/offline-run-*``
uploads it. Nothing leaves the machine: wandb runs offline. A fork carries its lineage in its
config under ``forkpoint``: ``fork_from`` (``"<parent>?_step=N"``, the ``wandb.init`` argument that
would recreate it), ``kind``, ``parent``, ``branch_step``, ``archived``, so the tree can be rebuilt.
An archived branch keeps forkpoint's id ``"<id>~k"`` (``~`` is legal in W&B ids); characters W&B
refuses in ids (``:;,#?/'``) become ``_``.

Import: every ``*.wandb`` file under SOURCE. History rows (without W&B's ``_runtime`` and
``_timestamp``), the last summary, the config (without ``_wandb``) and the exit code become a
forkpoint run; media, tables and histograms (values with a ``_type``), console output and system
stats are left out and counted.
"""

from __future__ import annotations

import glob
import json
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

from ..media import Histogram, Image, is_ref
from . import wandb_log
from .landing import Incoming, flatten, project_name
from .peers import need
from .units import InteropError, Unit

LINEAGE_KEY = "forkpoint"
_W_BAD = re.compile(r"[:;,#?/']")
_SKIP_KEYS = frozenset({"_runtime", "_timestamp", "_step", "_wandb"})


def wandb_id(unit_id: str) -> str:
    return _W_BAD.sub("_", unit_id)


@contextmanager
def _offline_env(dest: str) -> Iterator[None]:
    """wandb reads some settings from the environment: offline, silent, writing under ``dest``."""
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": dest, "WANDB_CONSOLE": "off"}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _lineage_config(u: Unit) -> dict[str, Any]:
    lin = u.lineage()
    out = {k: lin[k] for k in ("id", "run_id", "project", "kind", "state", "archived", "parent", "parent_run",
                               "branch_step")}
    out["fork_from"] = lin["parent"] if lin["kind"] == "fork" else None
    out["name"] = lin["name"]
    return out


def export(units: list[Unit], dest: str) -> tuple[list[str], list[str]]:
    """One offline run directory per unit; returns the directories. Refuses (before writing) a
    DEST that already holds an offline run with one of the ids."""
    wandb = need("wandb")
    dest = os.path.abspath(dest)
    for u in units:
        if LINEAGE_KEY in u.view.config:
            raise InteropError(f"run {u.id!r} has a config key {LINEAGE_KEY!r}, which the W&B export uses for "
                               "lineage; nothing exported")
        if glob.glob(os.path.join(dest, "wandb", f"*-{glob.escape(wandb_id(u.id))}")):
            raise InteropError(f"{dest!r} already holds a W&B run {wandb_id(u.id)!r}; export to another DEST")
    renamed = sorted(u.id for u in units if wandb_id(u.id) != u.id)
    os.makedirs(dest, exist_ok=True)
    quiet = dict(console="off", x_disable_stats=True, disable_git=True, save_code=False, silent=True,
                 x_save_requirements=False, disable_job_creation=True)
    known = getattr(wandb.Settings, "model_fields", quiet)  # settings this wandb version has
    settings = wandb.Settings(**{k: v for k, v in quiet.items() if k in known})
    out = []
    with _offline_env(dest):
        for u in units:
            v = u.view
            run = wandb.init(project=v.project, id=wandb_id(u.id), name=v.name or v.run_id, notes=v.notes,
                             tags=[t[:64] for t in v.tags] or None, config={**v.config, LINEAGE_KEY: _lineage_config(u)},
                             dir=dest, mode="offline", settings=settings, reinit="create_new")
            try:
                for row in u.rows():
                    step = row.pop("_step")
                    run.log({k: _to_wandb(wandb, u, v) if is_ref(v) else v for k, v in row.items()}, step=step)
                run.summary.update({k: x for k, x in v.summary.items() if not is_ref(x)})  # wandb summarises media itself
            except BaseException:
                run.finish(exit_code=1)
                raise
            run.finish(exit_code=1 if v.state == "crashed" else 0)
            found = sorted(glob.glob(os.path.join(dest, "wandb", f"offline-run-*-{glob.escape(wandb_id(u.id))}")))
            if not found:
                raise InteropError(f"wandb wrote no offline run directory for {u.id!r} under {dest!r}")
            wandb_log.wait_complete(found[-1])
            out.append(found[-1])
    notes = [f"W&B: run ids with characters W&B refuses were written with '_': {', '.join(renamed)}"] if renamed else []
    return out, notes


def _to_wandb(wandb: Any, u: Unit, ref: dict[str, Any]) -> Any:
    """A media reference as the W&B object it stands for (a list of them for a media list)."""
    got = u.load(ref)
    if isinstance(got, list):
        return [_wandb_value(wandb, g) for g in got]
    return _wandb_value(wandb, got)


def _wandb_value(wandb: Any, got: Any) -> Any:
    if isinstance(got, Image):
        return wandb.Image(got.to_pil(), caption=got.caption)
    if isinstance(got, Histogram):
        return wandb.Histogram(np_histogram=(got.histogram, got.bins))
    return wandb.Table(columns=got.columns, data=got.data)


# -- import -------------------------------------------------------------------------------------

def _value(item: Any) -> Any:
    kind = item.WhichOneof("value") if "value" in item.DESCRIPTOR.oneofs_by_name else None
    if kind is not None and kind != "json":
        return None if kind == "none" else getattr(item, kind)
    text = item.json if kind == "json" else item.value_json
    return json.loads(text) if text else None


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _nest(items: Any) -> dict[str, Any]:
    """Items as one nested dict: W&B splits a logged dict (a histogram, an image) into one item per
    nested key, so ``{"_type": ...}`` shows only once they are put back together."""
    out: dict[str, Any] = {}
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = _value(item)
    return out


def read(source: str, project: str | None = None) -> tuple[list[Incoming], list[str]]:
    need("wandb")
    if os.path.isfile(source) and source.endswith(".wandb"):
        files = [source]
    elif os.path.isdir(source):
        files = sorted(os.path.join(root, f) for root, _dirs, names in os.walk(source)  # not via latest-run
                       for f in names if f.endswith(".wandb"))
    else:
        raise InteropError(f"W&B source {source!r} is neither a .wandb file nor a directory")
    if not files:
        raise InteropError(f"W&B source {source!r} holds no offline run (no *.wandb file below it)")
    skipped: dict[str, int] = {}
    runs = [_read_one(path, project, skipped) for path in files]
    notes = [f"W&B {what}: {n} not imported (forkpoint history holds numbers and text)"
             for what, n in sorted(skipped.items())]
    return runs, notes


def _read_one(path: str, project: str | None, skipped: dict[str, int]) -> Incoming:
    """Config, summary and lineage in one pass; the history is read again, streaming, when written."""
    run_rec = None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    exit_code = None
    for rec in wandb_log.records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run_rec = rec.run
            for item in rec.run.config.update:
                config[_key(item)] = _value(item)
        elif kind == "config":
            for item in rec.config.update:
                config[_key(item)] = _value(item)
            for item in rec.config.remove:
                config.pop(_key(item), None)
        elif kind == "summary":
            for k, v in _nest(rec.summary.update).items():
                summary[k] = v
            for item in rec.summary.remove:
                summary.pop(_key(item), None)
        elif kind == "history":  # counted here: the history itself is read when the run is written
            for k, v in _nest(rec.history.item).items():
                if k not in _SKIP_KEYS:
                    flatten(k, v, {}, skipped)
        elif kind == "exit":
            exit_code = rec.exit.exit_code
        elif kind in ("output", "output_raw", "stats", "artifact", "use_artifact", "tbrecord"):
            what = {"output": "console output", "output_raw": "console output", "stats": "system stats"}.get(kind, kind)
            skipped[what] = skipped.get(what, 0) + 1
    if run_rec is None:
        raise InteropError(f"{path!r} holds no run record: not an offline run's log")
    config.pop("_wandb", None)
    lineage = config.pop(LINEAGE_KEY, None)
    if not (isinstance(lineage, dict) and lineage.get("id")):
        if lineage is not None:
            config[LINEAGE_KEY] = lineage
        lineage = None
    flat_summary: dict[str, Any] = {}
    for k, v in summary.items():
        if k not in _SKIP_KEYS and not k.startswith("_wandb"):
            flatten(k, v, flat_summary, {})
    if run_rec.branch_point.run and lineage is None:
        skipped["fork_from branch points (the parent is on the W&B server)"] = \
            skipped.get("fork_from branch points (the parent is on the W&B server)", 0) + 1

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for rec in wandb_log.records(path):
            if rec.WhichOneof("record_type") != "history":
                continue
            row: dict[str, Any] = {}
            values = _nest(rec.history.item)
            step = int(values.get("_step", rec.history.step.num))
            for key, value in values.items():
                if key not in _SKIP_KEYS:
                    flatten(key, value, row, {})
            yield step, row

    run_dir = os.path.basename(os.path.dirname(os.path.abspath(path)))
    name = (lineage or {}).get("name") or run_rec.display_name or run_rec.run_id
    proj = project or (lineage or {}).get("project") or project_name(run_rec.project, "wandb")
    return Incoming(identity=f"wandb:{run_rec.project}/{run_rec.run_id}/{run_dir}", project=proj, name=name,
                    rows=rows, config=config, summary=flat_summary, tags=list(run_rec.tags),
                    crashed=bool(exit_code), lineage=lineage)
