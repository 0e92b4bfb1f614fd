"""Media through every exporter, read back with each peer's own reader.

The run is rewound (media logged on the abandoned branch must not leak into the run's export) and
holds an image, a histogram, a table and a list of two images under one key."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from pathlib import Path

import forkpoint
import numpy as np
import pytest
from forkpoint import interop
from forkpoint.media import load
from interop_peers import peer

STEPS = 4


def media_run(store: str) -> forkpoint.Api:
    """Steps 0..3 with media; rewound at 1 and relogged, so the abandoned steps 2..3 stay archived."""
    rng = np.random.default_rng(7)

    def row(i: int, tone: int) -> dict:
        img = np.full((6, 5, 3), tone, np.uint8)
        img[0, 0] = (i * 40, 0, 255)
        return {"loss": 1.0 / (i + 1), "img": forkpoint.Image(img, caption=f"step {i}"),
                "hist": forkpoint.Histogram(rng.normal(size=50), num_bins=8),
                "tab": forkpoint.Table(columns=["a", "b|c"], data=[[i, "x|y"], [i + 1, None]]),
                "pair": [forkpoint.Image(np.full((3, 3, 3), i, np.uint8)), forkpoint.Image(np.full((3, 3, 3), 99, np.uint8))]}

    with forkpoint.init(store=store, project="m", id="media", quiet=True) as run:
        for i in range(STEPS):
            run.log(row(i, 10))
    with forkpoint.init(store=store, resume_from="media?_step=1", quiet=True) as run:
        for i in range(2, STEPS):
            run.log(row(i, 200), step=i)
    return forkpoint.Api(store)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def api(store: str) -> forkpoint.Api:
    return media_run(store)


def test_csv_and_parquet_cells_name_files_holding_the_blobs(api: forkpoint.Api, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    history = api.run("media").history()
    for fmt in ("csv", "parquet"):
        dest = tmp_path / fmt
        interop.export(api, ["media"], to=fmt, dest=dest, archived=False)
        path = dest / "m" / f"media.{fmt}"
        if fmt == "csv":
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            rows = pq.read_table(path).to_pylist()
        assert [int(r["_step"]) for r in rows] == list(range(STEPS))
        for got, want in zip(rows, history):
            for key in ("img", "hist", "tab"):
                assert sha((dest / got[key]).read_bytes()) == want[key]["sha256"], (fmt, key)
            pair = json.loads(got["pair"])
            assert [sha((dest / p).read_bytes()) for p in pair] == [i["sha256"] for i in want["pair"]["items"]]
        # rewound: the image at step 2 is the relogged one (tone 200), never the archived branch's
        img = load(history[2]["img"], api).to_numpy()
        assert img[1, 1].tolist() == [200, 200, 200]
        assert sha((dest / rows[2]["img"]).read_bytes()) == history[2]["img"]["sha256"]


def test_tensorboard_shows_images_histograms_and_tables(api: forkpoint.Api, tmp_path: Path) -> None:
    peer("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    interop.export(api, ["media"], to="tensorboard", dest=tmp_path / "tb", archived=False)
    acc = EventAccumulator(str(tmp_path / "tb" / "m" / "media"), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    history = api.run("media").history()
    images = acc.Images("img")
    assert [e.step for e in images] == list(range(STEPS))
    assert [sha(e.encoded_image_string) for e in images] == [r["img"]["sha256"] for r in history]
    assert (images[0].width, images[0].height) == (5, 6)
    assert [sha(e.encoded_image_string) for e in acc.Images("pair/1")] == [r["pair"]["items"][1]["sha256"] for r in history]
    hist = acc.Histograms("hist")
    want = load(history[3]["hist"], api)
    assert hist[3].step == 3 and list(hist[3].histogram_value.bucket) == want.histogram
    assert list(hist[3].histogram_value.bucket_limit) == want.bins[1:]
    table = acc.Tensors("tab")[2]
    text = table.tensor_proto.string_val[0].decode()
    assert text.splitlines()[0] == "| a | b\\|c |" and "| 2 | x\\|y |" in text


def test_mlflow_gets_step_keyed_images_and_artifacts(api: forkpoint.Api, tmp_path: Path) -> None:
    peer("mlflow")
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    (rid,) = interop.export(api, ["media"], to="mlflow", dest=uri, archived=False).written
    client = MlflowClient(uri)
    local = client.download_artifacts(rid, "", str(tmp_path / "dl"))
    files = {os.path.relpath(p, local) for p in glob.glob(os.path.join(local, "**", "*"), recursive=True) if os.path.isfile(p)}
    images = sorted(f for f in files if f.startswith("images/") and f.endswith(".png"))
    assert len([f for f in images if "img" in os.path.basename(f)]) == STEPS, images
    history = api.run("media").history()
    hist = json.loads(Path(local, "histograms/hist/step_3.json").read_text())
    want = load(history[3]["hist"], api)
    assert hist == {"bins": want.bins, "counts": want.histogram}
    tab = json.loads(Path(local, "tables/tab/step_1.json").read_text())
    assert tab["columns"] == ["a", "b|c"] and tab["data"] == [[1, "x|y"], [2, None]]
    # a media list: one image key per item (MLflow writes "/" in an image key as "~")
    assert len([f for f in images if os.path.basename(f).startswith("pair~1+step+")]) == STEPS, images


def test_wandb_offline_run_holds_wandb_media(api: forkpoint.Api, tmp_path: Path) -> None:
    peer("wandb")
    from forkpoint.interop import wandb_log

    (run_dir,) = interop.export(api, ["media"], to="wandb", dest=tmp_path / "wb", archived=False).written
    (log,) = glob.glob(os.path.join(run_dir, "*.wandb"))
    rows = []
    for rec in wandb_log.records(log):
        if rec.WhichOneof("record_type") == "history":
            row: dict = {}
            for i in rec.history.item:
                path = [i.key] if i.key else list(i.nested_key)
                node = row
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = json.loads(i.value_json)
            rows.append(row)
    assert [r["_step"] for r in rows] == list(range(STEPS))
    history = api.run("media").history()
    for got, want in zip(rows, history):
        assert got["img"]["_type"] == "image-file" and got["img"]["caption"] == want["img"]["caption"]
        assert got["img"]["sha256"] == want["img"]["sha256"]  # wandb hashes the same PNG bytes
        assert got["hist"]["_type"] == "histogram" and got["hist"]["values"] == load(want["hist"], api).histogram
        assert got["tab"]["_type"] == "table-file"
        assert got["pair"]["_type"] == "images/separated" and got["pair"]["count"] == 2
    media_files = glob.glob(os.path.join(run_dir, "files", "media", "images", "*.png"))
    assert media_files


def test_tensorboard_and_mlflow_points_carry_each_rows_wall_time(store: str, tmp_path: Path) -> None:
    peer("tensorboard")
    peer("mlflow")
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with forkpoint.init(store=store, project="t", id="timed", quiet=True) as run:
        for i in range(5):
            run.log({"loss": float(i)})
    api = forkpoint.Api(store)
    stamps = [r["_timestamp"] for r in api.run("timed").history(keys=["_timestamp"])]
    assert len(stamps) == 5 and stamps == sorted(stamps)
    interop.export(api, ["timed"], to="tensorboard", dest=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb" / "t" / "timed"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.wall_time for e in acc.Tensors("loss")] == pytest.approx(stamps)
    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    (rid,) = interop.export(api, ["timed"], to="mlflow", dest=uri).written
    got = sorted(MlflowClient(uri).get_metric_history(rid, "loss"), key=lambda m: m.step)
    assert [m.timestamp for m in got] == [int(t * 1000) for t in stamps]
