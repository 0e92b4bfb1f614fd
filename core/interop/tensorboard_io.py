"""TensorBoard: event directories out and in, through tensorboard's own writer and reader.

Export: ``DEST/<project>/<unit id>/events.out.tfevents...`` per run head and archived branch,
written with ``tensorboard.summary.writer.event_file_writer.EventFileWriter``. Numbers become
float64 scalar tensors with the scalars plugin's metadata (what ``tf.summary.scalar`` writes,
so the precision of the stored value is kept), strings become text summaries; the tag is the metric
key. A fork's directory holds its inherited prefix, so its curve is whole. The run's lineage,
config and summary go in one text summary, ``forkpoint/run`` (JSON), at the unit's first step.
Media go to TensorBoard's own panels: an image as an image summary (its stored PNG/JPEG bytes), a
histogram as a histogram summary (its bins and counts), a table as a text summary holding a
Markdown table (which the text panel renders); a media list as one tag per item (``key/0``, ...).
Each event carries its row's wall time (``_timestamp``), so TensorBoard's relative and wall-time
axes show when the points were logged (a row without one carries the run's creation time).

Import: every directory under SOURCE holding event files is one run (its path relative to SOURCE
is the run name), read with tensorboard's ``EventFileLoader``. Scalars (``simple_value`` or scalar
tensors) and scalar text become history; hparams become config; images, histograms and other
plugins' data are left out and counted.
"""

from __future__ import annotations

import json
import os
from functools import partial
from itertools import pairwise
from typing import Any

from ..media import is_ref
from .landing import Incoming, project_name
from .peers import need
from .units import InteropError, Unit, media_items

META_TAG = "forkpoint/run"


def _unit_dir(dest: str, unit: Unit) -> str:
    return os.path.join(dest, unit.project, unit.id)


def check_dest(dest: str, units: list[Unit]) -> None:
    for u in units:
        d = _unit_dir(dest, u)
        if os.path.isdir(d) and os.listdir(d):
            raise InteropError(f"TensorBoard directory {d!r} for {u.id!r} is not empty; export to an empty DEST "
                               "(TensorBoard would show both event files as one run)")
        if os.path.exists(d) and not os.path.isdir(d):
            raise InteropError(f"{d!r} exists and is not a directory")


def export(units: list[Unit], dest: str) -> tuple[list[str], list[str]]:
    """Write one event directory per unit; returns the directories (and no notes: TensorBoard takes
    numbers and text, which is all a history holds)."""
    need("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.plugins.scalar import metadata as scalar_meta
    from tensorboard.plugins.text import metadata as text_meta
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    check_dest(dest, units)
    scalar_md = scalar_meta.create_summary_metadata(display_name="", description="")
    text_md = text_meta.create_summary_metadata(display_name="", description="")
    shape = tensor_shape_pb2.TensorShapeProto()
    Value, TensorProto = summary_pb2.Summary.Value, tensor_pb2.TensorProto
    DT_DOUBLE, DT_STRING = types_pb2.DT_DOUBLE, types_pb2.DT_STRING
    out = []
    for u in units:
        d = _unit_dir(dest, u)
        writer = EventFileWriter(d, max_queue_size=1000, flush_secs=30)
        wall = u.view.created_at
        seen: set[str] = set()
        meta = json.dumps({"lineage": u.lineage(), "config": u.view.config, "summary": u.view.summary},
                          default=str)
        first = True
        try:
            for row in u.rows(timestamps=True):
                step = row["_step"]
                when = row.pop("_timestamp", None) or wall
                values = []
                if first:
                    values.append(Value(tag=META_TAG, metadata=text_md, tensor=TensorProto(
                        dtype=DT_STRING, tensor_shape=shape, string_val=[meta.encode("utf-8")])))
                    first = False
                for k, v in row.items():
                    if k == "_step" or v is None:
                        continue
                    if is_ref(v):
                        values.extend(_media_values(u, k, v, summary_pb2, text_md, shape))
                        continue
                    if isinstance(v, str):
                        t = TensorProto(dtype=DT_STRING, tensor_shape=shape, string_val=[v.encode("utf-8")])
                        md = text_md
                    else:
                        t = TensorProto(dtype=DT_DOUBLE, tensor_shape=shape, double_val=[float(v)])
                        md = scalar_md
                    if k in seen:
                        values.append(Value(tag=k, tensor=t))
                    else:  # plugin metadata goes with a tag's first value only, as TensorFlow writes it
                        seen.add(k)
                        values.append(Value(tag=k, tensor=t, metadata=md))
                writer.add_event(event_pb2.Event(wall_time=when, step=step, summary=summary_pb2.Summary(value=values)))
            if first:  # no rows: still record what the run is
                writer.add_event(event_pb2.Event(wall_time=wall, step=0, summary=summary_pb2.Summary(value=[
                    Value(tag=META_TAG, metadata=text_md, tensor=TensorProto(
                        dtype=DT_STRING, tensor_shape=shape, string_val=[meta.encode("utf-8")]))])))
        finally:
            writer.close()
        out.append(d)
    return out, []


def _media_values(u: Unit, key: str, value: dict[str, Any], summary_pb2: Any, text_md: Any, shape: Any) -> list[Any]:
    """Summary values for one media value, in the shapes TensorBoard's image, histogram and text
    panels read (TF1's ``Summary.Image`` and ``HistogramProto``, which TensorBoard still loads)."""
    from tensorboard.compat.proto import tensor_pb2, types_pb2

    Value = summary_pb2.Summary.Value
    out = []
    for tag, ref in media_items(key, value):
        got = u.load(ref)
        if ref["_type"] == "image-file":
            channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(got.to_pil().mode, 3)
            out.append(Value(tag=tag, image=summary_pb2.Summary.Image(
                height=got.height or 0, width=got.width or 0, colorspace=channels, encoded_image_string=got.data)))
        elif ref["_type"] == "histogram":
            edges, counts = got.bins, got.histogram
            mids = [(a + b) / 2 for a, b in pairwise(edges)]
            out.append(Value(tag=tag, histo=summary_pb2.HistogramProto(
                min=edges[0], max=edges[-1], num=sum(counts), sum=sum(c * m for c, m in zip(counts, mids)),
                sum_squares=sum(c * m * m for c, m in zip(counts, mids)), bucket_limit=edges[1:], bucket=counts)))
        else:
            md = _markdown_table(got.columns, got.data)
            out.append(Value(tag=tag, metadata=text_md, tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=[md.encode("utf-8")])))
    return out


def _markdown_table(columns: list[str], data: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in data]
    return "\n".join(lines)


# -- import -------------------------------------------------------------------------------------

def _event_dirs(source: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(source):
        if any("tfevents" in f for f in files):
            found.append(root)
    return sorted(found)


def read(source: str, project: str | None = None) -> tuple[list[Incoming], list[str]]:
    """Runs under ``source``, and one line per kind of data TensorBoard holds that forkpoint does not take."""
    need("tensorboard")
    if not os.path.isdir(source):
        raise InteropError(f"TensorBoard source {source!r} is not a directory of event files")
    dirs = _event_dirs(source)
    if not dirs:
        raise InteropError(f"TensorBoard source {source!r} holds no event files (events.out.tfevents.*)")
    src = os.path.abspath(source)
    runs: list[Incoming] = []
    skipped: dict[str, int] = {}
    for d in dirs:
        rel = os.path.relpath(d, src)
        name = os.path.basename(src) if rel == "." else rel
        _, meta, hparams = _load(d, skipped, keep=False)  # the values are read again when the run is written
        lineage = meta.get("lineage") if meta else None
        config = meta.get("config", {}) if meta else hparams
        summary = meta.get("summary", {}) if meta else {}
        proj = project or (lineage or {}).get("project") or project_name(os.path.basename(src), "tensorboard")
        runs.append(Incoming(
            identity=f"tensorboard:{os.path.abspath(d)}", project=proj,
            name=(lineage or {}).get("name") or name, rows=partial(_rows, d), config=config, summary=summary,
            tags=list((lineage or {}).get("tags") or []), crashed=(lineage or {}).get("state") == "crashed",
            lineage=lineage))
    notes = [f"TensorBoard {what}: {n} value(s) not imported (forkpoint history holds scalars and text)"
             for what, n in sorted(skipped.items())]
    if not any(r.lineage for r in runs):
        notes.append("TensorBoard has no run summary or lineage: summaries are the last logged values")
    return runs, notes


def _rows(d: str) -> list[tuple[int, dict[str, Any]]]:
    """One run's rows in step order (TensorBoard files are not step-ordered: one run in memory)."""
    return sorted(_load(d, {}, keep=True)[0].items())


def _load(d: str, skipped: dict[str, int], keep: bool) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None,
                                                               dict[str, Any]]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import metadata as hp_meta
    from tensorboard.util import tensor_util

    steps: dict[int, dict[str, Any]] = {}
    plugin_of: dict[str, str] = {}
    meta: dict[str, Any] | None = None
    hparams: dict[str, Any] = {}
    files = sorted(f for f in os.listdir(d) if "tfevents" in f)
    for f in files:
        for event in EventFileLoader(os.path.join(d, f)).Load():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                tag = value.tag
                if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
                    plugin_of.setdefault(tag, value.metadata.plugin_data.plugin_name)
                plugin = plugin_of.get(tag, "")
                got: Any = None
                if plugin == hp_meta.PLUGIN_NAME:
                    if tag == hp_meta.SESSION_START_INFO_TAG:
                        info = hp_meta.parse_session_start_info_plugin_data(value.metadata.plugin_data.content)
                        hparams.update(_hparams(info))
                    continue
                if value.HasField("simple_value"):
                    got = float(value.simple_value)
                elif value.HasField("tensor") and plugin in ("scalars", "text", ""):
                    arr = tensor_util.make_ndarray(value.tensor)
                    if arr.ndim == 0 or arr.size == 1:
                        got = arr.reshape(()).item()
                        if isinstance(got, bytes):
                            got = got.decode("utf-8", "replace")
                if got is None:
                    kind = plugin or value.WhichOneof("value") or "empty"
                    skipped[kind] = skipped.get(kind, 0) + 1
                    continue
                if tag == META_TAG and isinstance(got, str):
                    meta = json.loads(got)
                    continue
                if event.step < 0:
                    skipped["negative step"] = skipped.get("negative step", 0) + 1
                    continue
                if keep:
                    steps.setdefault(int(event.step), {})[tag] = got
    return steps, meta, hparams


def _hparams(info: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.hparams.items():
        kind = v.WhichOneof("kind")
        out[k] = None if kind in (None, "null_value") else getattr(v, kind)
    return out

