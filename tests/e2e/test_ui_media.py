"""Media panels of the run page in Chromium (js/media.js): images with a step slider (a media list's
items side by side, captions), histograms over steps (heat-map and the chosen step's bars), tables;
media follow a rewind and a fork like metrics; store strings shown as text; a running run's new
media appear without a reload."""

from __future__ import annotations

import hashlib
import json
import threading

import forkpoint
import pytest
from forkpoint.media import load
from forkpoint.ui.server import serve_in_thread

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")

HOSTILE_RUN = "<img src=x onerror=alert(1)>"
HOSTILE_KEY = '"><img src=x onerror=alert(2)>'
HOSTILE_TEXT = "<script>alert(3)</script><b>bold</b>"
KEYS = ["h", "img", "pair", "tab"]


def img(v, caption=None):
    a = np.zeros((8, 12, 3), np.uint8)
    a[:, :, 0] = v
    a[:4, :, 1] = 255 - v  # two tones: each image's bytes are its own
    return forkpoint.Image(a, caption=caption if caption is not None else f"v{v}")


def row(v):
    """What each step logs: an image, a histogram, a table and a list of two images."""
    return {"img": img(v), "h": forkpoint.Histogram(np.arange(40) % (7 + v % 5) + v, num_bins=8),
            "tab": forkpoint.Table(columns=["step", "name"], data=[[v, f"row{v}"], [v * 0.5, None]]),
            "pair": [img(v + 1, f"left{v}"), img(v + 2, f"right{v}")], "loss": float(v)}


def media_lineage(store):
    """m logs media at 0..5, is rewound at 2 and relogs 3 and 4 (values 50+); mf forks m at 3 and
    logs 4 and 5 (values 100+)."""
    with forkpoint.init(store=store, project="media", id="m") as run:
        for i in range(6):
            run.log(row(i))
    with forkpoint.init(store=store, resume_from="m?_step=2") as r:
        for i in (3, 4):
            r.log(row(50 + i), step=i)
    with forkpoint.init(store=store, fork_from="m?_step=3", id="mf") as f:
        for i in (4, 5):
            f.log(row(100 + i), step=i)


@pytest.fixture
def served(browser, store):
    media_lineage(store)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, dialogs = [], []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg, url, errors, dialogs
    pg.close()
    srv.shutdown()
    srv.server_close()


def panel(pg, key):
    return pg.locator(f"#media .media-panel[data-key='{key}']")


def state(pg):
    """key -> (steps the slider offers, the step shown)."""
    return {el.get_attribute("data-key"): (json.loads(el.get_attribute("data-steps")), int(el.get_attribute("data-step")))
            for el in pg.query_selector_all("#media .media-panel")}


def refs(store, ref, key):
    """step -> the media reference the run's visible history holds at that step."""
    return {r["_step"]: r[key] for r in forkpoint.Api(store).run(ref).history(keys=[key])}


def shown_images(pg, key):
    pg.wait_for_selector(f"#media .media-panel[data-key='{key}'] img[data-loaded='1']")
    figs = panel(pg, key).locator("figure")
    return [(figs.nth(i).locator("img").get_attribute("data-sha"), figs.nth(i).locator("figcaption").inner_text())
            for i in range(figs.count())]


def wait_step(pg, key, step):
    pg.wait_for_selector(f"#media .media-panel[data-key='{key}'][data-step='{step}']")


def check_step(pg, store, ref, step):
    """Every panel shows `step`: the image and the list's two items are that row's (sha256 of the
    bytes the browser loaded), the bars hold that histogram's counts, the table that table's cells."""
    for key in KEYS:
        wait_step(pg, key, step)
    want = refs(store, ref, "img")[step]
    got = shown_images(pg, "img")
    assert got == [(want["sha256"], want["caption"])]
    src = panel(pg, "img").locator("img").get_attribute("src")
    body = pg.request.get(pg.url.split("/run/")[0] + src).body()
    assert hashlib.sha256(body).hexdigest() == want["sha256"] and body[:4] == b"\x89PNG"
    pair = refs(store, ref, "pair")[step]["items"]
    assert shown_images(pg, "pair") == [(i["sha256"], i["caption"]) for i in pair]
    hist = load(refs(store, ref, "h")[step], store)
    bars = panel(pg, "h").locator(".media-bars")
    assert json.loads(bars.get_attribute("data-counts")) == hist.histogram
    assert bars.locator("rect").count() == len(hist.histogram)
    table = load(refs(store, ref, "tab")[step], store)
    assert panel(pg, "tab").locator("thead th").all_inner_texts() == table.columns
    cells = [r.locator("td").all_inner_texts() for r in panel(pg, "tab").locator("tbody tr").all()]
    assert cells == [["" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in r] for r in table.data]


def test_rewound_run_slider_offers_the_visible_steps(served, store, shot):
    pg, url, errors, dialogs = served
    pg.goto(f"{url}/run/m")
    pg.wait_for_selector("#media[data-ready='1']")
    # the rewind at 2 left 5 behind (archived): the slider offers 0..4, the newest shown first
    assert state(pg) == {k: ([0, 1, 2, 3, 4], 4) for k in KEYS}
    assert [panel(pg, k).get_attribute("data-type") for k in KEYS] == ["histogram", "image", "media-list", "table"]
    check_step(pg, store, "m", 4)
    assert shown_images(pg, "img")[0][1] == "v54"  # the relogged row, not the archived one
    # keyboard: Home, then two steps right; the other panels follow (same step in every panel)
    slider = panel(pg, "img").locator("input[type=range]")
    slider.focus()
    pg.keyboard.press("Home")
    check_step(pg, store, "m", 0)
    assert panel(pg, "img").locator(".media-step").inner_text() == "step 0"
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowRight")
    check_step(pg, store, "m", 2)
    assert shown_images(pg, "img")[0][1] == "v2" and shown_images(pg, "pair")[1][1] == "right2"
    # a drag of the slider to its right end
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    pg.mouse.move(box["x"] + 4, box["y"] + box["height"] / 2)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2, steps=6)
    pg.mouse.up()
    check_step(pg, store, "m", 4)
    # a click on the histogram heat-map's second column shows step 1
    hm = panel(pg, "h").locator("canvas.media-heatmap")
    hb = hm.bounding_box()
    hm.click(position={"x": hb["width"] * 1.5 / 5, "y": hb["height"] / 2})
    check_step(pg, store, "m", 1)
    shot(pg, "media-rewound", store)
    # without the sync, a slider moves its own panel only
    pg.uncheck("#media-sync")
    panel(pg, "tab").locator("input[type=range]").focus()
    pg.keyboard.press("End")
    wait_step(pg, "tab", 4)
    assert {k: v[1] for k, v in state(pg).items()} == {"h": 1, "img": 1, "pair": 1, "tab": 4}
    assert errors == [] and dialogs == []


def test_archived_branch_keeps_what_the_rewind_left(served, store):
    pg, url, errors, _ = served
    pg.goto(f"{url}/run/m~1")
    pg.wait_for_selector("#media[data-ready='1']")
    assert state(pg)["img"] == ([0, 1, 2, 3, 4, 5], 5)
    check_step(pg, store, "m~1", 5)
    panel(pg, "img").locator("input[type=range]").focus()
    pg.keyboard.press("ArrowLeft")
    pg.keyboard.press("ArrowLeft")
    check_step(pg, store, "m~1", 3)
    assert shown_images(pg, "img")[0][1] == "v3"  # the row the rewind abandoned
    assert errors == []


def test_fork_shows_its_parents_media_up_to_the_fork_step(served, store, shot):
    pg, url, errors, _ = served
    pg.goto(f"{url}/run/mf")
    pg.wait_for_selector("#media[data-ready='1']")
    assert state(pg) == {k: ([0, 1, 2, 3, 4, 5], 5) for k in KEYS}
    slider = panel(pg, "img").locator("input[type=range]")
    slider.focus()
    pg.keyboard.press("Home")
    captions = []
    for step in range(6):
        check_step(pg, store, "mf", step)
        captions.append(shown_images(pg, "img")[0][1])
        inherited = panel(pg, "img").get_attribute("data-inherited") == "1"
        assert inherited == (step <= 3)
        assert panel(pg, "img").locator(".media-note").inner_text() == ("from m?_step=3" if step <= 3 else "")
        if step == 3:
            shot(pg, "media-fork-inherited", store)
        pg.keyboard.press("ArrowRight")
    # the parent's rows up to 3 (its relogged 3), then the fork's own
    assert captions == ["v0", "v1", "v2", "v53", "v104", "v105"]
    assert errors == []


def test_hostile_strings_are_text(browser, store, shot):
    with forkpoint.init(store=store, project="media", id="x", name=HOSTILE_RUN) as run:
        for i in range(3):
            run.log({HOSTILE_KEY: img(i, HOSTILE_TEXT),
                     "t": forkpoint.Table(columns=[HOSTILE_KEY, "n"], data=[[HOSTILE_TEXT, i]])})
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1200, "height": 900})
    dialogs, errors = [], []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(f"{url}/run/x")
        pg.wait_for_selector("#media[data-ready='1']")
        keys = [el.get_attribute("data-key") for el in pg.query_selector_all("#media .media-panel")]
        assert keys == [HOSTILE_KEY, "t"]
        hostile = pg.locator("#media .media-panel").first
        assert hostile.locator("h3").inner_text() == HOSTILE_KEY
        assert hostile.locator("figcaption").inner_text() == HOSTILE_TEXT
        assert hostile.locator("img").get_attribute("alt") == HOSTILE_TEXT
        assert panel(pg, "t").locator("thead th").all_inner_texts() == [HOSTILE_KEY, "n"]
        assert panel(pg, "t").locator("tbody td").first.inner_text() == HOSTILE_TEXT
        # nothing parsed as markup: the only images are the logged ones, no script, no <b>
        assert pg.locator("#media img").count() == 1 and pg.locator("#media img[src='x']").count() == 0
        assert pg.locator("#media script, #media b").count() == 0
        shot(pg, "media-hostile", store)
        assert dialogs == [] and errors == []
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()


def test_running_run_shows_new_media_without_reload(browser, store):
    logged, go, done = threading.Event(), threading.Event(), threading.Event()

    def train():
        with forkpoint.init(store=store, project="media", id="live") as run:
            for i in range(2):
                run.log({"img": img(i)})
            run.flush()  # durable before the page first reads
            logged.set()
            go.wait(30)
            for i in range(2, 4):
                run.log({"img": img(i)})
            run.flush()
            done.wait(60)

    t = threading.Thread(target=train, daemon=True)
    t.start()
    assert logged.wait(30)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        pg.goto(f"{url}/run/live")
        pg.wait_for_selector("#media[data-ready='1']")
        assert state(pg)["img"] == ([0, 1], 1)
        go.set()
        # the page polls /api/status and fetches the media again: the newest step is followed
        pg.wait_for_selector("#media .media-panel[data-key='img'][data-step='3']", timeout=20_000)
        assert state(pg)["img"] == ([0, 1, 2, 3], 3)
        assert shown_images(pg, "img")[0][1] == "v3"
    finally:
        done.set()
        t.join(30)
        pg.close()
        srv.shutdown()
        srv.server_close()
