"""TensorBoard round trips, read back with tensorboard's own event accumulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import forkpoint
import pytest
from forkpoint import interop
from interop_peers import make_tree, peer

peer("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402


def accumulate(path: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    return acc


def series(acc: event_accumulator.EventAccumulator, tag: str) -> list[tuple[int, object]]:
    out = []
    for ev in acc.Tensors(tag):
        v = tensor_util.make_ndarray(ev.tensor_proto).item()
        out.append((ev.step, v.decode() if isinstance(v, bytes) else v))
    return out


def test_export_tree_reads_back_with_event_accumulator(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    done = interop.export(api, project="p", to="tensorboard", dest=tmp_path / "tb")
    assert sorted(os.path.relpath(d, tmp_path / "tb") for d in done.written) == \
        ["p/base", "p/base~1", "p/crash", "p/kid"]
    for unit in ["base", "base~1", "kid", "crash"]:
        view = api.run(unit)
        acc = accumulate(tmp_path / "tb" / "p" / unit)
        history = view.history()
        keys = sorted({k for r in history for k in r} - {"_step"})
        assert sorted(acc.Tags()["tensors"]) == sorted([*keys, "forkpoint/run"])
        for key in keys:
            want = [(r["_step"], r[key]) for r in history if key in r]
            got = series(acc, key)
            assert [s for s, _ in got] == [s for s, _ in want], (unit, key)
            assert got == [(s, float(v) if not isinstance(v, str) else v) for s, v in want], (unit, key)
        meta = json.loads(series(acc, "forkpoint/run")[0][1])
        assert meta["config"] == view.config and meta["lineage"]["parent"] == (str(view.parent) if view.parent else None)
    # the fork's curve is whole: the inherited prefix 0..3, then its own 4..7
    kid_loss = series(accumulate(tmp_path / "tb" / "p" / "kid"), "loss")
    assert kid_loss == [(0, 10.0), (1, 9.0), (2, 8.0), (3, 7.0), (4, -4.0), (5, -5.0), (6, -6.0), (7, -7.0)]
    # the rewound head shows 0..5 then the new 6..11; the archived branch keeps the old 6..9
    assert [s for s, _ in series(accumulate(tmp_path / "tb" / "p" / "base"), "loss")] == list(range(12))
    assert series(accumulate(tmp_path / "tb" / "p" / "base~1"), "loss")[6:] == [(6, 4.0), (7, 3.0), (8, 2.0), (9, 1.0)]


def test_export_refuses_a_used_directory_and_writes_nothing(api: forkpoint.Api, tmp_path: Path) -> None:
    make_tree(api.store.url)
    used = tmp_path / "tb" / "p" / "kid"
    used.mkdir(parents=True)
    (used / "events.out.tfevents.old").write_bytes(b"")
    with pytest.raises(interop.InteropError, match="kid.*not empty"):
        interop.export(api, project="p", to="tensorboard", dest=tmp_path / "tb")
    assert sorted(p.name for p in (tmp_path / "tb" / "p").iterdir()) == ["kid"]


def test_import_tensorboard_logs_written_by_tensorboard(tmp_path: Path, store: str) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logdir = tmp_path / "logs"
    for name, scale in (("run_a", 1.0), ("nested/run_b", 2.0)):
        w = Writer(str(logdir / name))
        for step in range(0, 50, 5):
            w.add_scalar("train/loss", scale / (step + 1), step)
            if step % 10 == 0:
                w.add_scalar("val/acc", scale * step, step)
        w.close()
    legacy = EventFileWriter(str(logdir / "run_a"))  # TF1-style simple_value and an image, in a second file
    legacy.add_event(event_pb2.Event(step=45, wall_time=1.0, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="lr", simple_value=0.5),
        summary_pb2.Summary.Value(tag="img", image=summary_pb2.Summary.Image(height=1, width=1))])))
    legacy.close()

    landed, notes = interop.import_runs("tensorboard", logdir, store, project="imp")
    assert [x.status for x in landed] == ["imported", "imported"]
    assert any("image" in n and "1 value" in n for n in notes), notes
    api = forkpoint.Api(store)
    runs = {v.name: v for v in api.runs("imp")}
    assert sorted(runs) == ["nested/run_b", "run_a"]
    for name, scale in (("run_a", 1.0), ("nested/run_b", 2.0)):
        acc = accumulate(logdir / name)
        hist = runs[name].history(keys=["train/loss"])
        want = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors("train/loss")]
        assert [(r["_step"], r["train/loss"]) for r in hist] == want  # float32 in the file, widened exactly
        assert len(want) == 10
    assert runs["run_a"].history(keys=["lr"]) == [{"_step": 45, "lr": 0.5}]
    again, _ = interop.import_runs("tensorboard", logdir, store, project="imp")
    assert [x.status for x in again] == ["already imported"] * 2
    assert len(api.runs("imp")) == 2


def test_round_trip_rebuilds_the_fork(tmp_path: Path, store: str) -> None:
    src = str(tmp_path / "src.db")
    make_tree(src)
    interop.export(src, project="p", to="tensorboard", dest=tmp_path / "tb")
    landed, _ = interop.import_runs("tensorboard", tmp_path / "tb", store)
    ids = {x.identity.rsplit("/", 1)[1]: x.run_id for x in landed}
    api, orig = forkpoint.Api(store), forkpoint.Api(src)
    kid = api.run(ids["kid"])
    assert kid.kind == "fork" and kid.parent == (ids["base"], 3)
    assert [r["_step"] for r in kid.history(own_only=True)] == [4, 5, 6, 7]
    for unit in ["base", "base~1", "kid", "crash"]:
        got, want = api.run(ids[unit]), orig.run(unit)
        assert got.history() == want.history(), unit
        assert got.config == want.config and got.name == want.name and got.tags == want.tags
    assert api.run(ids["crash"]).state == "crashed"
    assert api.run(ids["kid"]).summary["best"] == 3.5


def test_stock_tensorboard_server_serves_the_scalars(api: forkpoint.Api, tmp_path: Path) -> None:
    """What ``tensorboard --logdir`` shows: its multiplexer and data provider, as the server uses them."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    make_tree(api.store.url)
    interop.export(api, project="p", to="tensorboard", dest=tmp_path / "tb")
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path / "tb"))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(tmp_path / "tb"))
    got = provider.read_scalars(context.RequestContext(), experiment_id="", plugin_name="scalars", downsample=10**6)
    assert sorted(got) == ["p/base", "p/base~1", "p/crash", "p/kid"]
    assert [(d.step, d.value) for d in got["p/kid"]["loss"]] == \
        [(r["_step"], r["loss"]) for r in api.run("kid").history(keys=["loss"])]
    assert "note" not in got["p/base"]  # text is served by the text plugin, not as a scalar
