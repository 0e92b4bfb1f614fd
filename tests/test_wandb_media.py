"""Media (``Image``, ``Histogram``, ``Table``) stored in the store, following rewinds and forks.

Every test that takes ``store`` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import forkpoint as wandb
import numpy as np
import pandas as pd
import pytest
import torch
from forkpoint import media
from forkpoint.store import close_store, open_store
from helpers import wandb_quiet  # noqa: F401  (autouse fixture)
from PIL import Image as PILImage


def picture(seed: int, shape: tuple[int, ...] = (6, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def blob_rows(store) -> int:
    return open_store(store)._x("SELECT COUNT(*) FROM media").fetchone()[0]


def test_image_sources_round_trip(store, api, tmp_path):
    arr = picture(1)
    PILImage.fromarray(arr).save(tmp_path / "pic.png")
    jpeg = tmp_path / "pic.jpg"
    PILImage.fromarray(arr).save(jpeg, format="JPEG")
    with wandb.init("p", store=store) as run:
        run.log({
            "np": wandb.Image(arr, caption="rgb"),
            "gray": wandb.Image(arr[:, :, 0]),
            "float": wandb.Image(np.full((4, 4), 0.5)),
            "torch": wandb.Image(torch.from_numpy(arr).permute(2, 0, 1)),  # C, H, W
            "pil": wandb.Image(PILImage.fromarray(arr)),
            "png_file": wandb.Image(str(tmp_path / "pic.png")),
            "jpeg_file": wandb.Image(jpeg),
            "loss": 0.5,
        })
    view = api.run(run.id)
    (row,) = view.history()
    assert row["loss"] == 0.5
    ref = row["np"]
    assert ref["_type"] == "image-file" and (ref["width"], ref["height"], ref["format"]) == (5, 6, "png")
    assert ref["caption"] == "rgb" and media.is_ref(ref)
    for key in ("np", "torch", "pil", "png_file"):
        got = media.load(row[key], view)
        assert isinstance(got, wandb.Image) and np.array_equal(got.to_numpy(), arr), key
    assert np.array_equal(media.load(row["gray"], view).to_numpy(), arr[:, :, 0])
    assert np.array_equal(media.load(row["float"], api).to_numpy(), np.full((4, 4), 127, dtype=np.uint8))  # 0.5 * 255, truncated as W&B does
    assert media.blob(row["jpeg_file"], store) == jpeg.read_bytes()  # a file is stored byte for byte
    assert row["jpeg_file"]["format"] == "jpeg"
    assert row["np"]["sha256"] == row["torch"]["sha256"] == row["pil"]["sha256"]  # same pixels, same PNG, one blob
    assert blob_rows(store) == 4  # np, torch, pil and the PNG file Pillow wrote hold one PNG; gray; float; jpeg


def test_histogram_and_table_round_trip(store, api):
    values = np.arange(100.0)
    df = pd.DataFrame({"name": ["a", "b"], "score": [0.5, 0.25], "ok": [True, False]})
    with wandb.init("p", store=store) as run:
        run.log({"h": wandb.Histogram(values, num_bins=10),
                 "h2": wandb.Histogram(np_histogram=np.histogram(values, bins=4)),
                 "t": wandb.Table(columns=["x", "y"], data=[[1, "one"], [2, None]]),
                 "df": wandb.Table(dataframe=df)})
    view = api.run(run.id)
    (row,) = view.history()
    h = media.load(row["h"], view)
    assert h.histogram == [10] * 10 and h.bins[0] == 0.0 and h.bins[-1] == 99.0
    assert row["h2"]["num_bins"] == 4 and media.load(row["h2"], view).histogram == [25, 25, 25, 25]
    t = media.load(row["t"], view)
    assert (t.columns, t.data) == (["x", "y"], [[1, "one"], [2, None]])
    assert (row["t"]["ncols"], row["t"]["nrows"]) == (2, 2)
    pd.testing.assert_frame_equal(media.load(row["df"], view).get_dataframe(), df)


def test_media_follow_a_rewind_and_a_fork(store, api):
    with wandb.init("p", store=store) as run:
        for step in range(6):
            run.log({"img": wandb.Image(picture(step)), "h": wandb.Histogram([step, step + 1]), "loss": step})
    original = [r["img"] for r in api.run(run.id).history()]

    with wandb.init("p", resume_from=f"{run.id}?_step=2", store=store) as rewound:
        for step in range(3, 5):
            rewound.log({"img": wandb.Image(picture(100 + step))})
    view = api.run(run.id)
    rows = view.history(keys=["img"])
    assert [r["img"] for r in rows[:3]] == original[:3]
    for r in rows[3:]:
        assert np.array_equal(media.load(r["img"], view).to_numpy(), picture(100 + r["_step"]))
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    (arch,) = view.archived()
    assert [r["img"] for r in arch.history(keys=["img"])] == original  # the abandoned images stay readable
    assert np.array_equal(media.load(arch.history(keys=["img"])[5]["img"], arch).to_numpy(), picture(5))
    assert view.summary["img"] == rows[-1]["img"]

    with wandb.init("p", fork_from=f"{run.id}?_step=3", store=store) as fork:
        fork.log({"img": wandb.Image(picture(3))})  # the same picture as the parent's step 3: no new blob
    child = api.run(fork.id)
    got = child.history(keys=["img"])
    assert [r["_step"] for r in got] == [0, 1, 2, 3, 4] and got[:4] == rows[:4]
    assert np.array_equal(media.load(got[1]["img"], child).to_numpy(), picture(1))  # inherited, read via the fork
    assert child.history(own_only=True) == [{"_step": 4, "img": original[3]}]
    assert blob_rows(store) == 6 + 2 + 6  # 6 + 2 images, 6 histograms; nothing stored twice


def test_a_list_of_images(store, api):
    with wandb.init("p", store=store) as run:
        run.log({"examples": [wandb.Image(picture(i), caption=f"#{i}") for i in range(3)]})
    view = api.run(run.id)
    (row,) = view.history()
    ref = row["examples"]
    assert ref["_type"] == "media-list" and [i["caption"] for i in ref["items"]] == ["#0", "#1", "#2"]
    assert media.is_ref(ref)
    got = media.load(ref, view)
    assert all(np.array_equal(img.to_numpy(), picture(i)) for i, img in enumerate(got))
    with pytest.raises(wandb.UsageError, match="not a media reference"):
        media.blob(ref, view)


def test_unsupported_value_names_the_key_and_keeps_the_rest(store, api):
    with wandb.init("p", store=store) as run:
        with pytest.raises(wandb.UsageError, match=r"'weird' is object.*other keys were logged at step 0"):
            run.log({"loss": 1.0, "weird": object(), "img": wandb.Image(picture(0))})
        assert run.step == 1
        with pytest.raises(wandb.UsageError, match=r"'arr' is a 2-d ndarray.*nothing was logged"):
            run.log({"arr": np.zeros((2, 2))})
        assert run.step == 1
        run.log({"loss": 2.0})
    rows = api.run(run.id).history()
    assert [sorted(r) for r in rows] == [["_step", "img", "loss"], ["_step", "loss"]]


@pytest.mark.parametrize("make, fragment", [
    (lambda: wandb.Image(np.zeros((2, 2, 5))), r"shape \(2, 2, 5\) is not an image"),
    (lambda: wandb.Image(np.array([[np.nan]])), "NaN"),
    (lambda: wandb.Image("no/such/file.png"), "cannot read the file"),
    (lambda: wandb.Image(object()), "object is not an image"),
    (lambda: wandb.Image(np.zeros((2, 2)), caption=3), "caption=3 is not a str"),
    (lambda: wandb.Histogram(), "exactly one of sequence= or np_histogram="),
    (lambda: wandb.Histogram([1.0, float("inf")]), "NaN or infinite"),
    (lambda: wandb.Histogram([1], num_bins=0), "num_bins=0"),
    (lambda: wandb.Histogram(np_histogram=([1, 2], [0, 1])), "2 counts need 3 bin edges"),
    (lambda: wandb.Table(columns=["a"], data=[[1, 2]]), "2 values for 1 columns"),
    (lambda: wandb.Table(columns=["a", "a"]), "names a column twice"),
    (lambda: wandb.Table(columns=["a"], data=[[object()]]), "column 'a': a object cell"),
    (lambda: wandb.Table(dataframe=[1, 2]), "not a pandas DataFrame"),
])
def test_bad_media_inputs(make, fragment):
    with pytest.raises(wandb.UsageError, match=fragment):
        make()


def test_not_a_reference(store, api):
    with wandb.init("p", store=store) as run:
        run.log({"a": 1})
    with pytest.raises(wandb.UsageError, match="is not a media reference"):
        media.load({"a": 1}, api)
    with pytest.raises(wandb.StoreError, match="has no media blob"):
        media.load({"_type": "image-file", "sha256": "0" * 64}, api)


def test_schema_1_store_is_migrated(store, api):
    st = open_store(store)
    with st.transaction():
        st._x("DROP TABLE media")
        for col in ("entity", "run_group", "job_type"):
            st._x(f"ALTER TABLE runs DROP COLUMN {col}")
        st._x("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    close_store(store)
    with wandb.init("p", entity="e", store=store) as run:  # reopened: lifted to version 2
        run.log({"img": wandb.Image(picture(0))})
    st = open_store(store)
    assert st._x("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    assert st.get_run(run.id).entity == "e" and blob_rows(store) == 1
