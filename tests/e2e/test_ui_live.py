"""Live updates (js/live.js and the chart grid's ``live`` option) in Chromium: a run writing in a
background thread while its page is open. The chart's point count grows and the state goes
running -> finished without a reload (one navigation); polling stops once nothing shown runs.
Both stores."""

from __future__ import annotations

import json
import threading
import time

import forkpoint
import pytest
from forkpoint.ui.server import serve_in_thread


class Writer:
    """A run logging a row every 0.2 s in a thread until ``finish()``."""

    def __init__(self, store, project="live", rid="lv"):
        self.run = forkpoint.init(project=project, store=store, id=rid, name="live run", quiet=True)
        self.steps = 0
        for _ in range(5):
            self.log()
        self.run.flush()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def log(self):
        self.run.log({"loss": 1.0 / (self.steps + 1), "train/acc": self.steps / 100})
        self.steps += 1

    def loop(self):
        while not self.stop.wait(0.2):
            self.log()
            self.run.flush()

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=30)
        self.run.finish()


@pytest.fixture
def live(browser, store):
    with forkpoint.init(project="live", store=store, id="done", quiet=True) as other:
        for i in range(5):
            other.log({"loss": 2.0 - i / 10})
    w = Writer(store)
    srv, url = serve_in_thread(store)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    navigations: list[str] = []
    errors: list[str] = []
    pg.on("framenavigated", lambda f: navigations.append(f.url) if f == pg.main_frame else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg, url, w, navigations, errors
    pg.close()
    if not w.stop.is_set():
        w.finish()
    srv.shutdown()
    srv.server_close()


def points(pg, key, label="lv"):
    el = pg.query_selector(f".chart[data-key='{key}']")
    return sum(s["points"] for s in json.loads(el.get_attribute("data-series")) if s["label"] == label)


def wait_until(pg, fn, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = fn()
        if got:
            return got
        pg.wait_for_timeout(200)
    raise AssertionError(f"not within {timeout}s")


def polls(pg):
    return int(pg.get_attribute("html", "data-live-polls") or 0)


def test_run_page_follows_a_live_run(live, store, shot):
    pg, url, w, navigations, errors = live
    pg.goto(f"{url}/run/lv")
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
    assert pg.get_attribute("#run-state", "data-state") == "running"
    first = points(pg, "loss")
    assert first >= 5
    w.start()
    grown = wait_until(pg, lambda: points(pg, "loss") >= first + 5 and points(pg, "loss"))
    assert points(pg, "train/acc") >= first + 3  # every panel of the run follows
    shot(pg, "live-running", store)
    w.finish()
    pg.wait_for_selector("#run-state[data-state='finished']", timeout=15_000)
    final = wait_until(pg, lambda: points(pg, "loss") == w.steps and points(pg, "loss"))
    assert final >= grown and pg.inner_text("#run-state") == "finished"
    # nothing shown runs any more: polling stops
    pg.wait_for_timeout(500)
    settled = polls(pg)
    pg.wait_for_timeout(4500)
    assert polls(pg) == settled
    assert navigations == [f"{url}/run/lv"]  # never reloaded
    shot(pg, "live-finished", store)
    assert errors == []


def test_workspace_table_and_charts_follow_a_live_run(live, store, shot):
    pg, url, w, navigations, errors = live
    pg.goto(f"{url}/p/live")
    pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
    assert pg.inner_text("tr[data-run='lv'] td.state-running") == "running"
    first = points(pg, "loss")
    done = points(pg, "loss", "done")
    w.start()
    wait_until(pg, lambda: points(pg, "loss") >= first + 5)
    assert points(pg, "loss", "done") == done  # the finished run is not refetched into something else
    w.finish()
    pg.wait_for_selector("tr[data-run='lv'] td.state-finished", timeout=15_000)
    wait_until(pg, lambda: points(pg, "loss") == w.steps)
    assert len(navigations) == 1
    shot(pg, "live-workspace", store)
    assert errors == []


def test_a_finished_run_is_not_polled(browser, store):
    with forkpoint.init(project="still", store=store, id="s1", quiet=True) as run:
        run.log({"loss": 1.0})
    srv, url = serve_in_thread(store)
    pg = browser.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url) if "/api/status" in r.url else None)
    try:
        pg.goto(f"{url}/run/s1")
        pg.wait_for_selector("#charts[data-ready='1']", timeout=15_000)
        pg.wait_for_timeout(4500)
        assert len(requests) <= 1  # at most the grid's one look at the states
    finally:
        pg.close()
        srv.shutdown()
        srv.server_close()
