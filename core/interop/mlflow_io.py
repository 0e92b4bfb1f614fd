"""MLflow: runs out to a tracking store and in from one, through ``mlflow.MlflowClient``.

Export: one MLflow run per run head and archived branch, in the experiment named after the
project. Metrics keep their steps (``log_batch``, 1000 points a call, one window of history at a
time); params are the config flattened with ``.``; lineage is in tags (``forkpoint.parent``,
``forkpoint.branch_step``, ``forkpoint.kind``...) and in nesting: a fork is a child run
(``mlflow.parentRunId``) of its parent, an archived branch a child of its run. Config, summary and
lineage are also logged whole as the artifact ``forkpoint/run.json``, which the importer reads back.
MLflow metrics are numbers: string values are left out (counted in the notes), keys MLflow refuses
are renamed (``_`` for each refused character). Media: an image is logged with
``log_image(key=, step=)`` (MLflow's step-keyed images, shown in its image panel); a histogram or
a table is an artifact per step, ``histograms/<key>/step_<N>.json`` (``{"bins", "counts"}``) and
``tables/<key>/step_<N>.json`` (MLflow's ``log_table`` format); a media list gives one per item.

DEST: a tracking URI (``sqlite:///...``, ``file:///...``), a ``.db`` path (SQLite) or a directory
(``DEST/mlflow.db``; artifacts beside it). MLflow 3 refuses plain file stores unless
``MLFLOW_ALLOW_FILE_STORE=true``; forkpoint sets that only for an explicit ``file:`` URI.

Import: every run of every experiment (or of the experiment named by ``project``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Iterator

from ..media import is_ref
from .landing import Incoming, project_name
from .peers import need
from .units import InteropError, Unit, media_items

RUN_ARTIFACT = "forkpoint/run.json"
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")
_STATUS = {"finished": "FINISHED", "crashed": "FAILED", "running": "RUNNING", "archived": "FINISHED"}


def tracking_uri(dest: str) -> tuple[str, str]:
    """``(tracking URI, artifact root)`` for a DEST/SOURCE given as a URI, a ``.db`` path or a directory."""
    if dest.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        return dest, ""
    if "://" in dest:
        if dest.startswith("sqlite:///"):
            path = os.path.abspath(dest[len("sqlite:///"):])
            return "sqlite:///" + path, os.path.join(os.path.dirname(path), "mlartifacts")
        return dest, ""
    path = os.path.abspath(dest)
    if not path.endswith(".db"):
        if os.path.exists(path) and not os.path.isdir(path):
            raise InteropError(f"MLflow destination {dest!r} is a file but not a .db SQLite store")
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, "mlflow.db")
    return "sqlite:///" + path, os.path.join(os.path.dirname(path), "mlartifacts")


def _client(dest: str) -> tuple[Any, str]:
    need("mlflow")
    from mlflow import MlflowClient

    uri, artifacts = tracking_uri(dest)
    return MlflowClient(tracking_uri=uri), artifacts


def _key(name: str, renamed: dict[str, str]) -> str | None:
    """``name`` as an MLflow metric/param key (renamed if MLflow refuses it, ``None`` if it still does)."""
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    def ok(k: str) -> bool:
        return bool(k) and len(k) <= 250 and validate_param_and_metric_name(k) and not path_not_unique(k)

    if ok(name):
        return name
    fixed = _BAD_KEY_CHARS.sub("_", name).strip("/")[:250]
    fixed = "/".join(p if p not in (".", "..", "") else "_" for p in fixed.split("/"))
    if ok(fixed):
        renamed[name] = fixed
        return fixed
    return None


def _flatten(config: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in config.items():
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _experiment(client: Any, name: str, artifacts: str) -> str:
    got = client.get_experiment_by_name(name)
    if got is not None:
        return got.experiment_id
    loc = f"file://{os.path.join(artifacts, name)}" if artifacts else None
    return client.create_experiment(name, artifact_location=loc)


def _existing(client: Any, experiment_id: str, unit_id: str) -> bool:
    found = client.search_runs([experiment_id], filter_string=f"tags.`forkpoint.id` = '{unit_id}'", max_results=1)
    return bool(found)


def export(units: list[Unit], dest: str) -> tuple[list[str], list[str]]:
    """One MLflow run per unit; returns the MLflow run ids and what MLflow could not take. Refuses
    (before writing) units already exported to that store."""
    from mlflow.entities import Metric, Param, RunTag

    client, artifacts = _client(dest)
    experiments = {p: _experiment(client, p, artifacts) for p in sorted({u.project for u in units})}
    for u in units:
        if _existing(client, experiments[u.project], u.id):
            raise InteropError(f"{u.project}/{u.id} is already in MLflow store {dest!r} (tag forkpoint.id); "
                               "nothing exported: use another destination")
    made: dict[str, str] = {}
    renamed: dict[str, str] = {}
    dropped: dict[str, int] = {}
    for u in units:
        lin = u.lineage()
        config, summary = u.view.config, u.view.summary
        tags = {"forkpoint.id": u.id, "forkpoint.run_id": u.view.run_id,
                "forkpoint.kind": lin["kind"], "forkpoint.state": lin["state"],
                "forkpoint.archived": str(lin["archived"]).lower(), "forkpoint.tags": json.dumps(lin["tags"])}
        if lin["parent"]:
            tags["forkpoint.parent"] = lin["parent"]
            tags["forkpoint.branch_step"] = str(lin["branch_step"])
        if lin["notes"]:
            tags["mlflow.note.content"] = lin["notes"][:8000]
        start_ms = int(u.view.created_at * 1000)
        run = client.create_run(experiments[u.project], start_time=start_ms, tags=tags, run_name=lin["name"] or u.id)
        rid = run.info.run_id
        made[u.id] = rid
        params = []
        for k, v in _flatten(config):
            key = _key(k, renamed)
            if key is None:
                dropped["config keys MLflow refuses"] = dropped.get("config keys MLflow refuses", 0) + 1
                continue
            params.append(Param(key, (json.dumps(v) if not isinstance(v, str) else v)[:6000]))
        for i in range(0, len(params), 100):
            client.log_batch(rid, params=params[i:i + 100])
        keys: dict[str, str | None] = {}
        batch: list[Any] = []
        for row in u.rows(timestamps=True):
            step = row["_step"]
            when = row.pop("_timestamp", None)
            ms = int(when * 1000) if isinstance(when, (int, float)) else start_ms
            for k, v in row.items():
                if k == "_step" or v is None:
                    continue
                if is_ref(v):
                    _log_media(client, rid, u, k, v, step)
                    continue
                if isinstance(v, str):
                    dropped["string values (MLflow metrics are numbers)"] = \
                        dropped.get("string values (MLflow metrics are numbers)", 0) + 1
                    continue
                key = keys[k] if k in keys else keys.setdefault(k, _key(k, renamed))
                if key is None:
                    dropped["values of keys MLflow refuses"] = dropped.get("values of keys MLflow refuses", 0) + 1
                    continue
                batch.append(Metric(key, float(v), ms, step))
                if len(batch) == 1000:
                    client.log_batch(rid, metrics=batch)
                    batch = []
        if batch:
            client.log_batch(rid, metrics=batch)
        client.log_dict(rid, {"lineage": lin, "config": config, "summary": summary}, RUN_ARTIFACT)
        client.set_terminated(rid, _STATUS.get(u.view.state, "FINISHED"))
    for u in units:  # nesting: forks under their parent, archived branches under their run
        lin = u.lineage()
        parent = lin["parent_run"] if lin["kind"] == "fork" and not lin["archived"] else (
            lin["run_id"] if lin["archived"] else None)
        if parent in made:
            client.log_batch(made[u.id], tags=[RunTag("mlflow.parentRunId", made[parent])])
    return [made[u.id] for u in units], _notes(renamed, dropped)


def _log_media(client: Any, rid: str, u: Unit, key: str, value: dict[str, Any], step: int) -> None:
    for tag, ref in media_items(key, value):
        got = u.load(ref)
        # MLflow's key characters; no empty, "." or ".." path parts (artifact paths are file paths)
        safe = "/".join(p if p not in ("", ".", "..") else "_" for p in re.sub(r"[^A-Za-z0-9_./ -]", "_", tag).split("/"))
        if ref["_type"] == "image-file":
            client.log_image(rid, got.to_pil(), key=safe, step=step)
        elif ref["_type"] == "histogram":
            client.log_dict(rid, {"bins": got.bins, "counts": got.histogram}, f"histograms/{safe}/step_{step}.json")
        else:
            client.log_table(rid, data={c: [row[i] for row in got.data] for i, c in enumerate(got.columns)},
                             artifact_file=f"tables/{safe}/step_{step}.json")


def _notes(renamed: dict[str, str], dropped: dict[str, int]) -> list[str]:
    out = [f"MLflow: {n} {what} left out" for what, n in sorted(dropped.items())]
    if renamed:
        out.append("MLflow: keys renamed: " + ", ".join(f"{a!r} -> {b!r}" for a, b in sorted(renamed.items())))
    return out


# -- import -------------------------------------------------------------------------------------

def read(source: str, project: str | None = None) -> tuple[list[Incoming], list[str]]:
    local = source[len("sqlite:///"):] if source.startswith("sqlite:///") else \
        source[len("file://"):] if source.startswith("file://") else None
    if local is not None and not os.path.exists(local):  # reading must not create a tracking store
        raise InteropError(f"MLflow source {source!r}: {local!r} does not exist")
    if "://" not in source and not os.path.exists(source):
        raise InteropError(f"MLflow source {source!r} does not exist: expected a tracking URI, a .db file or a directory")
    if "://" not in source and os.path.isdir(source) and not os.path.exists(os.path.join(source, "mlflow.db")):
        raise InteropError(f"MLflow source {source!r} is a directory without mlflow.db: pass the tracking URI "
                           "(sqlite:///<path> or file:///<path>)")
    client, _ = _client(source)
    experiments = client.search_experiments()
    if project is not None:
        experiments = [e for e in experiments if project_name(e.name, "mlflow") == project or e.name == project]
    runs: list[Incoming] = []
    skipped: dict[str, int] = {}
    for exp in experiments:
        token = None
        while True:
            page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
            for r in page:
                runs.append(_incoming(client, exp.name, r, project, skipped))
            token = page.token
            if not token:
                break
    notes = [f"MLflow {what}: {n} not imported" for what, n in sorted(skipped.items())]
    return runs, notes


def _incoming(client: Any, experiment: str, r: Any, project: str | None, skipped: dict[str, int]) -> Incoming:
    rid = r.info.run_id
    meta = _run_artifact(client, rid)
    lineage = meta.get("lineage") if meta else None
    tags = r.data.tags
    if meta:
        config = meta.get("config", {})
        summary = meta.get("summary", {})
    else:
        config = dict(r.data.params)
        summary = {}
        user_tags = [k for k in tags if not k.startswith(("mlflow.", "forkpoint."))]
        if user_tags:
            skipped["tags (forkpoint tags are names, MLflow tags key=value)"] = \
                skipped.get("tags (forkpoint tags are names, MLflow tags key=value)", 0) + len(user_tags)
        if "mlflow.parentRunId" in tags:
            skipped["nesting (parentRunId has no branch step)"] = \
                skipped.get("nesting (parentRunId has no branch step)", 0) + 1
    keys = sorted(r.data.metrics)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        by_step: dict[int, dict[str, tuple[int, Any]]] = {}
        for key in keys:
            for m in client.get_metric_history(rid, key):
                got = by_step.setdefault(int(m.step), {})
                old = got.get(key)
                if old is None or m.timestamp >= old[0]:  # several values at one step: the latest wins
                    got[key] = (m.timestamp, m.value)
        for step in sorted(by_step):
            if step >= 0:
                yield step, {k: v for k, (_, v) in by_step[step].items()}

    return Incoming(
        identity=f"mlflow:{rid}", project=project or (lineage or {}).get("project") or project_name(experiment, "mlflow"),
        name=(lineage or {}).get("name") or r.info.run_name, rows=rows, config=config, summary=summary,
        tags=list((lineage or {}).get("tags") or json.loads(tags.get("forkpoint.tags", "[]"))),
        crashed=r.info.status in ("FAILED", "KILLED"), lineage=lineage)


def _run_artifact(client: Any, rid: str) -> dict[str, Any] | None:
    try:
        listed = [a.path for a in client.list_artifacts(rid, "forkpoint")]
    except Exception:  # an artifact store that cannot be listed: read params and metrics only
        return None
    if RUN_ARTIFACT not in listed:
        return None
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    with tempfile.TemporaryDirectory() as tmp:
        before = os.environ.get(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
        os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"  # one small file: no progress bar
        try:
            path = client.download_artifacts(rid, RUN_ARTIFACT, tmp)
        finally:
            if before is None:
                del os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name]
            else:
                os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = before
        with open(path, encoding="utf-8") as f:
            return json.load(f)
