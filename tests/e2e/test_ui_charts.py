"""The chart grid (js/charts.js) in Chromium, driven as a user does, on the compare page of three
runs (one a fork): responsive panels, full screen, log scale, TensorBoard smoothing (checked against
the formula computed here), the x axis, drag-zoom and reset, the tooltip, groups and search,
settings kept across a reload, hostile keys; both stores."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from pathlib import Path

import forkpoint
import pytest
from forkpoint.ui.server import serve_in_thread

STATIC = Path(__file__).resolve().parents[2] / "core" / "ui" / "static"
EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_KEY = '"><img src=x onerror=alert(2)>'
KEYS = {"lr", "shift", "epoch", "train/loss", "train/acc", "val/loss", "sys/gpu"}


def tb_smooth(ys, w):
    """TensorBoard's classicSmoothing (tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts)."""
    if w <= 0 or all(y == ys[0] for y in ys):
        return list(ys)
    last, n, out = 0.0, 0, []
    for y in ys:
        if y is None or not math.isfinite(y):
            out.append(y)
            continue
        last = last * w + (1 - w) * y
        n += 1
        out.append(last / (1 - w ** n if w != 1 else 1))
    return out


def loss_of(seed, i):
    rnd = random.Random(seed * 1000 + i)
    return 1000.0 * 0.95 ** i * (1 + 0.5 * rnd.random()) + 0.01


def make_runs(store):
    """a, b: 200 steps of noisy losses (1000 -> 0.01), a few more keys, epoch as a step metric;
    c: a fork of a at step 100. Returns {run: {key: [values by step]}} of the visible histories."""
    values = {}
    for rid, seed in (("a", 1), ("b", 2)):
        with forkpoint.init(project="ch", store=store, id=rid, name=f"run {rid}", quiet=True) as run:
            run.define_metric("epoch", step_metric=True)
            for i in range(200):
                run.log({"train/loss": loss_of(seed, i), "train/acc": i / 200 + seed / 10, "val/loss": 2.0 / (i + 1),
                         "sys/gpu": 50.0 + seed, "lr": 0.1 * seed, "shift": i - 50.0, "epoch": i / 10})
        values[rid] = {"train/loss": [loss_of(seed, i) for i in range(200)]}
    with forkpoint.init(store=store, fork_from="a?_step=100", id="c", quiet=True) as run:
        for i in range(101, 200):
            run.log({"train/loss": loss_of(3, i), "train/acc": i / 150, "epoch": i / 10}, step=i)
    values["c"] = {"train/loss": values["a"]["train/loss"][:101] + [loss_of(3, i) for i in range(101, 200)]}
    return values


@pytest.fixture
def cmp(browser, store):
    values = make_runs(store)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg, url, values, errors
    pg.close()
    srv.shutdown()
    srv.server_close()


def open_grid(pg, url, runs="a,b,c"):
    pg.goto(f"{url}/compare?runs={runs}")
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)


def ready(pg):
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)


def panel(pg, key):
    return pg.query_selector(f".chart[data-key='{key}']")


def attr(pg, key, name):
    return panel(pg, key).get_attribute(f"data-{name}")


def per_row(pg):
    """Panels in the first row, and the first panel's width."""
    boxes = [p.bounding_box() for p in pg.query_selector_all(".chart")]
    return sum(1 for b in boxes if round(b["y"]) == round(boxes[0]["y"])), boxes[0]["width"]


def test_grid_groups_search_full_screen_and_width(cmp, store, shot):
    pg, url, values, errors = cmp
    open_grid(pg, url)
    keys = {p.get_attribute("data-key") for p in pg.query_selector_all(".chart")}
    assert keys == KEYS
    groups = [g.get_attribute("data-group") for g in pg.query_selector_all(".chart-group")]
    assert groups == ["charts", "sys", "train", "val"]  # no prefix first
    assert {p.get_attribute("data-key") for p in pg.query_selector_all(".chart-group[data-group='train'] .chart")} == {"train/loss", "train/acc"}
    # each run keeps its colour; the fork's inherited part is its own (dashed) series
    labels = [s["label"] for s in json.loads(attr(pg, "train/loss", "series"))]
    assert labels == ["a", "b", "c (inherited)", "c"]
    assert json.loads(attr(pg, "train/loss", "series"))[2:] == [{"label": "c (inherited)", "points": 101}, {"label": "c", "points": 99}]
    # 3 panels a row at 1400 px, 2 at 900; the canvases follow the width
    n, w = per_row(pg)
    assert n == 3
    pg.set_viewport_size({"width": 900, "height": 1000})
    pg.wait_for_timeout(300)
    n2, w2 = per_row(pg)
    assert n2 == 2 and w2 != w
    canvas = pg.query_selector(".chart[data-key='lr'] canvas").bounding_box()["width"]
    assert abs(canvas - (w2 - 14)) < 30  # the plot fills its panel
    pg.set_viewport_size({"width": 1400, "height": 1000})
    shot(pg, "charts-grid", store)
    # full screen and back (button, then Esc)
    pg.click(".chart[data-key='train/loss'] .chart-expand")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-expanded='1']")
    pg.wait_for_timeout(200)
    box = panel(pg, "train/loss").bounding_box()
    assert box["width"] > 1300 and box["height"] > 900
    assert pg.query_selector(".chart[data-key='train/loss'] canvas").bounding_box()["width"] > 1250
    shot(pg, "charts-fullscreen", store)
    pg.keyboard.press("Escape")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-expanded='0']")
    pg.wait_for_timeout(200)
    assert panel(pg, "train/loss").bounding_box()["width"] < 500
    pg.click(".chart[data-key='train/loss'] .chart-expand")
    pg.click(".chart[data-key='train/loss'] .chart-expand")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-expanded='0']")
    # a group collapses (its panels go) and stays collapsed after a reload
    pg.click(".chart-group[data-group='train'] .chart-group-head")
    pg.wait_for_selector(".chart-group[data-group='train'][data-collapsed='1']")
    ready(pg)
    assert pg.query_selector_all(".chart-group[data-group='train'] .chart") == []
    assert panel(pg, "val/loss") is not None
    pg.reload()
    ready(pg)
    assert pg.get_attribute(".chart-group[data-group='train']", "data-collapsed") == "1"
    assert pg.get_attribute(".chart-group[data-group='train'] .chart-group-head", "aria-expanded") == "false"
    pg.click(".chart-group[data-group='train'] .chart-group-head")
    pg.wait_for_selector(".chart[data-key='train/loss']")
    # search: a regex, or plain text when it is not one
    pg.fill(".chart-search", "loss$")
    pg.wait_for_selector(".chart[data-key='lr']", state="detached")
    ready(pg)
    assert {p.get_attribute("data-key") for p in pg.query_selector_all(".chart")} == {"train/loss", "val/loss"}
    assert pg.inner_text(".chart-count") == "2 of 7 metrics"
    pg.fill(".chart-search", "^(sys|val)/")
    pg.wait_for_selector(".chart[data-key='train/loss']", state="detached")
    ready(pg)
    assert {p.get_attribute("data-key") for p in pg.query_selector_all(".chart")} == {"sys/gpu", "val/loss"}
    pg.fill(".chart-search", "(")  # not a regex: as text
    pg.wait_for_selector(".chart-empty")
    assert pg.query_selector_all(".chart") == []
    pg.fill(".chart-search", "")
    pg.wait_for_selector(".chart[data-key='train/loss']")
    assert errors == []


def test_log_scale(cmp, store, shot):
    pg, url, values, errors = cmp
    open_grid(pg, url)
    lo, hi = json.loads(attr(pg, "train/loss", "y-range"))
    assert attr(pg, "train/loss", "log") == "0" and lo < 1 and hi >= 1000
    ticks = json.loads(attr(pg, "val/loss", "y-ticks"))
    assert len({round(b - a, 9) for a, b in zip(ticks, ticks[1:])}) == 1 and len(ticks) >= 3, ticks
    pg.check(".chart-log")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-log='1']")
    ready(pg)
    lo, hi = json.loads(attr(pg, "train/loss", "y-range"))
    assert 0 < lo <= min(values["a"]["train/loss"]) and hi >= 1000
    # the labelled ticks: evenly spaced on the linear axis, decades on the log one
    ticks = json.loads(attr(pg, "val/loss", "y-ticks"))
    decades = [t for t in ticks if math.isclose(math.log10(t), round(math.log10(t)), abs_tol=1e-9)]
    assert len(decades) >= 3 and {0.01, 0.1, 1} <= set(decades), ticks
    # non-positive values are left out, and the panel says so
    assert attr(pg, "shift", "nonpositive") == str(3 * 51)  # a, b and c's inherited part
    assert "153 values ≤ 0 not drawn on the log scale" in pg.inner_text(".chart[data-key='shift'] .chart-note")
    lo, _ = json.loads(attr(pg, "shift", "y-range"))
    assert lo > 0
    shot(pg, "charts-log", store)
    # one panel back to linear; the choice survives a reload
    pg.click(".chart[data-key='train/loss'] .chart-logbtn")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-log='0']")
    assert attr(pg, "val/loss", "log") == "1"
    pg.reload()
    ready(pg)
    assert pg.is_checked(".chart-log") and attr(pg, "val/loss", "log") == "1" and attr(pg, "train/loss", "log") == "0"
    assert errors == []


def plot_box(pg, key):
    """The plot area of a panel, scrolled into view (the mouse only reaches what is on screen)."""
    over = pg.query_selector(f".chart[data-key='{key}'] .u-over")
    over.scroll_into_view_if_needed()
    return over.bounding_box()


def hover_tip(pg, key, frac):
    over = plot_box(pg, key)
    pg.mouse.move(over["x"] + over["width"] * frac, over["y"] + over["height"] * 0.5)
    pg.wait_for_selector(f".chart[data-key='{key}'] .chart-tip:not([hidden])")
    tip = pg.query_selector(f".chart[data-key='{key}'] .chart-tip")
    return tip, tip.query_selector_all("tr[data-run]")


def test_smoothing_matches_tensorboard_and_the_tooltip_lists_every_run(cmp, store, shot):
    pg, url, values, errors = cmp
    open_grid(pg, url)
    tip, rows = hover_tip(pg, "train/loss", 0.5)
    step = float(tip.get_attribute("data-x"))
    assert {r.get_attribute("data-run") for r in rows} == {"a", "b", "c"}
    shown = [float(r.get_attribute("data-value")) for r in rows]
    assert shown == sorted(shown, reverse=True)  # highest first
    for r in rows:
        assert float(r.get_attribute("data-value")) == values[r.get_attribute("data-run")]["train/loss"][int(step)]
        assert r.query_selector(".tip-run").inner_text() == r.get_attribute("data-run")
    colours = {r.get_attribute("data-run"): r.query_selector(".swatch").get_attribute("style") for r in rows}
    assert len(set(colours.values())) == 3
    shot(pg, "charts-tooltip", store)
    pg.mouse.move(5, 5)
    pg.wait_for_selector(".chart[data-key='train/loss'] .chart-tip", state="hidden")
    # smoothing 0.9 typed in the box next to the slider
    pg.fill(".chart-smoothing-value", "0.9")
    pg.press(".chart-smoothing-value", "Enter")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-smoothing='0.9']")
    ready(pg)
    assert pg.input_value(".chart-smoothing") == "0.9"
    labels = [s["label"] for s in json.loads(attr(pg, "train/loss", "series"))]
    assert labels == ["a", "b", "c (inherited)", "c"]  # the raw lines stay (faint), not listed twice
    expected = {r: tb_smooth(v["train/loss"], 0.9) for r, v in values.items()}
    seen = set()
    for frac in (0.02, 0.3, 0.55, 0.8, 0.99):
        tip, rows = hover_tip(pg, "train/loss", frac)
        for r in rows:
            run, x = r.get_attribute("data-run"), int(float(r.get_attribute("data-x")))
            got = float(r.get_attribute("data-smoothed"))
            assert got == pytest.approx(expected[run][x], rel=1e-12), (run, x)
            assert float(r.get_attribute("data-value")) == values[run]["train/loss"][x]
            seen.add((run, x))
    assert len({x for _, x in seen}) >= 4 and {r for r, _ in seen} == {"a", "b", "c"}
    shot(pg, "charts-smoothing", store)
    # the slider drives it too; the setting survives a reload
    pg.fill(".chart-smoothing", "0.5")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-smoothing='0.5']")
    pg.reload()
    ready(pg)
    assert attr(pg, "train/loss", "smoothing") == "0.5" and pg.input_value(".chart-smoothing-value") == "0.5"
    assert errors == []


def test_x_axis_choices(cmp, store, shot):
    pg, url, values, errors = cmp
    open_grid(pg, url)
    assert json.loads(attr(pg, "train/loss", "x-range")) == [0, 199]
    assert [o.get_attribute("value") for o in pg.query_selector_all(".chart-x option")] == ["_step", "_runtime", "_timestamp", "epoch"]
    pg.select_option(".chart-x", "_timestamp")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-x='_timestamp']")
    ready(pg)
    lo, hi = json.loads(attr(pg, "train/loss", "x-range"))
    assert 1.6e9 < lo < hi < lo + 600
    pg.select_option(".chart-x", "_runtime")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-x='_runtime']")
    ready(pg)
    lo, hi = json.loads(attr(pg, "train/loss", "x-range"))
    assert lo == 0 and 0 < hi < 600
    tip, rows = hover_tip(pg, "train/loss", 0.005)  # where every run has rows (c's own part comes later)
    assert "relative time" in tip.inner_text() and len(rows) == 3
    pg.select_option(".chart-x", "epoch")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-x='epoch']")
    ready(pg)
    assert json.loads(attr(pg, "train/loss", "x-range")) == [0, 19.9]
    shot(pg, "charts-x-epoch", store)
    pg.reload()
    ready(pg)
    assert pg.input_value(".chart-x") == "epoch" and attr(pg, "val/loss", "x") == "epoch"
    assert errors == []


def test_drag_zoom_and_reset(cmp, store, shot):
    pg, url, values, errors = cmp
    open_grid(pg, url)
    assert attr(pg, "train/loss", "zoom") == ""
    over = plot_box(pg, "train/loss")
    y = over["y"] + over["height"] / 2
    pg.mouse.move(over["x"] + over["width"] * 0.25, y)
    pg.mouse.down()
    pg.mouse.move(over["x"] + over["width"] * 0.5, y, steps=5)
    pg.mouse.up()
    pg.wait_for_selector(".chart[data-key='train/loss']:not([data-zoom=''])")
    lo, hi = json.loads(attr(pg, "train/loss", "zoom"))
    assert 40 < lo < 60 and 90 < hi < 110
    ylo, yhi = json.loads(attr(pg, "train/loss", "y-range"))
    assert yhi < 200  # the y axis fits the zoomed steps (1000 at step 0 is out of view)
    assert json.loads(attr(pg, "val/loss", "zoom")) == [lo, hi]  # the panels zoom together (synced x)
    shot(pg, "charts-zoom", store)
    # the zoom survives a smoothing change (a redraw)
    pg.fill(".chart-smoothing-value", "0.3")
    pg.press(".chart-smoothing-value", "Enter")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-smoothing='0.3']")
    ready(pg)
    assert json.loads(attr(pg, "train/loss", "zoom")) == [lo, hi]
    pg.dblclick(".chart[data-key='train/loss'] .u-over")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-zoom='']")
    assert json.loads(attr(pg, "train/loss", "y-range"))[1] > 1000 and attr(pg, "val/loss", "zoom") == ""
    # the button resets too
    over = plot_box(pg, "train/loss")
    y = over["y"] + over["height"] / 2
    pg.mouse.move(over["x"] + over["width"] * 0.6, y)
    pg.mouse.down()
    pg.mouse.move(over["x"] + over["width"] * 0.9, y, steps=5)
    pg.mouse.up()
    pg.wait_for_selector(".chart[data-key='train/loss']:not([data-zoom=''])")
    pg.click(".chart[data-key='train/loss'] .chart-unzoom")
    pg.wait_for_selector(".chart[data-key='train/loss'][data-zoom='']")
    assert errors == []


def test_hostile_run_name_and_metric_key(browser, store, shot):
    with forkpoint.init(project="evil", store=store, id="e1", name=EVIL_NAME, quiet=True) as run:
        for i in range(30):
            run.log({EVIL_KEY: float(i), f"{EVIL_KEY}/x": 1.0 + i, "loss": 1.0 / (i + 1)})
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    events: list[str] = []
    pg.on("dialog", lambda d: (events.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: events.append(str(e)))
    try:
        pg.goto(f"{url}/compare?runs=e1")
        ready(pg)
        keys = {p.get_attribute("data-key") for p in pg.query_selector_all(".chart")}
        assert keys == {EVIL_KEY, f"{EVIL_KEY}/x", "loss"}
        heads = [h.inner_text() for h in pg.query_selector_all(".chart h3")]
        assert EVIL_KEY in heads and f"{EVIL_KEY}/x" in heads
        assert EVIL_KEY in [g.get_attribute("data-group") for g in pg.query_selector_all(".chart-group")]
        assert EVIL_KEY in pg.inner_text(f".chart-group[data-group='{EVIL_KEY.replace(chr(34), chr(92) + chr(34))}'] .chart-group-head")
        pg.fill(".chart-search", "<img")
        pg.wait_for_selector(".chart[data-key='loss']", state="detached")
        ready(pg)
        assert len(pg.query_selector_all(".chart")) == 2
        over = plot_box(pg, EVIL_KEY.replace('"', '\\"'))
        pg.mouse.move(over["x"] + over["width"] / 2, over["y"] + over["height"] / 2)
        pg.wait_for_selector(".chart-tip:not([hidden])")
        shot(pg, "charts-hostile", store)
        assert pg.query_selector_all("#app img, #app script") == [] and events == []
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_smoothing_function_in_node():
    """charts.js's smooth() against the same formula, in Node (edge cases: gaps, constant, w=0)."""
    ys = [3.0, None, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    script = (f"import {{ smooth }} from {json.dumps((STATIC / 'js' / 'charts.js').as_uri())};"
              f"const ys = {json.dumps(ys)};"
              "console.log(JSON.stringify([smooth(ys, 0.6), smooth(ys, 0), smooth([2, 2, 2], 0.9), smooth(ys, 0.999)]));")
    out = subprocess.run(["node", "--experimental-detect-module", "--input-type=module", "-e", script],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    got = json.loads(out.strip().splitlines()[-1])

    def same(a, b):
        return len(a) == len(b) and all(x is None and y is None or x == pytest.approx(y, rel=1e-12) for x, y in zip(a, b))

    assert same(got[0], tb_smooth(ys, 0.6)) and got[0][1] is None  # a gap stays a gap, uncounted
    assert got[0][0] == pytest.approx(3.0)  # debiased: the first point is the value itself, not 0.4 * 3
    assert got[1] == ys and got[2] == [2, 2, 2]
    assert same(got[3], tb_smooth(ys, 0.999))
