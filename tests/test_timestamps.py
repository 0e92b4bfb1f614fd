"""W&B's ``_timestamp``: every logged row carries its wall time (Unix seconds), as an ordinary key
that follows rewinds and forks; readers leave it out unless asked for it by name."""

from __future__ import annotations

import json
import time

import forkpoint
from forkpoint.cli import main


def ts(view):
    return {r["_step"]: r["_timestamp"] for r in view.history(keys=["_timestamp"])}


def test_every_row_has_a_monotone_timestamp_when_asked_by_name(store, api):
    t0 = time.time()
    with forkpoint.init(store=store, project="t") as run:
        for i in range(50):
            run.log({"loss": 1.0 / (i + 1)})
            if i == 25:
                time.sleep(0.02)
        run.log({"acc": 0.5}, commit=False)
        run.log({"loss": 0.0})  # the same row: one timestamp, the later one
    t1 = time.time()
    got = ts(api.run(run.id))
    assert sorted(got) == list(range(51))
    values = [got[s] for s in range(51)]
    assert values == sorted(values) and t0 <= values[0] and values[-1] <= t1
    assert values[26] - values[25] >= 0.02  # the sleep shows: it is wall time, not a counter
    s = api.run(run.id).series("_timestamp")
    assert s.steps == list(range(51)) and s.values == values


def test_hidden_from_keys_history_summary_scan_and_cli(store, api, capsys):
    with forkpoint.init(store=store, project="t") as run:
        for i in range(5):
            run.log({"loss": float(i)})
    v = api.run(run.id)
    assert v.keys() == ["loss"]
    assert v.history() == [{"_step": i, "loss": float(i)} for i in range(5)]
    assert list(v.scan_history()) == v.history()
    assert v.summary == {"loss": 4.0}
    assert all(set(r) == {"_step", "_timestamp"} for r in v.scan_history(keys=["_timestamp"]))
    assert main(["--store", store, "history", run.id, "--format", "json"]) == 0
    assert "_timestamp" not in capsys.readouterr().out
    assert main(["--store", store, "history", run.id, "--keys", "loss,_timestamp", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and all(isinstance(r["_timestamp"], float) for r in rows)


def test_resumed_history_equals_an_uninterrupted_one(store, api):
    with forkpoint.init(store=store, project="t", id="whole") as run:
        for i in range(20):
            run.log({"loss": float(i)})
    with forkpoint.init(store=store, project="t", id="cut") as run:
        for i in range(15):
            run.log({"loss": float(i)})
    with forkpoint.init(store=store, resume_from="cut?_step=9") as run:
        for i in range(10, 20):
            run.log({"loss": float(i)})
    assert api.run("cut").history() == api.run("whole").history()
    assert api.run("cut").summary == api.run("whole").summary


def test_follows_a_rewind_and_a_fork(store, api):
    with forkpoint.init(store=store, project="t") as run:
        for i in range(10):
            run.log({"loss": float(i)})
    before = ts(api.run(run.id))
    time.sleep(0.01)
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=4") as r:
        for i in range(5, 8):
            r.log({"loss": -float(i)})
    after = ts(api.run(run.id))
    assert sorted(after) == list(range(8))
    assert [after[s] for s in range(5)] == [before[s] for s in range(5)]  # the rows kept keep their time
    assert all(after[s] > before[9] for s in range(5, 8))  # new rows, new times
    assert ts(api.run(f"{run.id}~1")) == before  # the archived branch keeps what it had
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=6", id="kid") as f:
        f.log({"loss": 0.0})
    kid = ts(api.run("kid"))
    assert [kid[s] for s in range(7)] == [after[s] for s in range(7)] and kid[7] > after[7]
    assert api.run("kid").series("_timestamp").own_from == 7


def test_a_timestamp_logged_by_the_user_wins_and_empty_rows_stay_empty(store, api):
    with forkpoint.init(store=store, project="t") as run:
        run.log({"loss": 1.0, "_timestamp": 1234.5})
        run.log({})  # nothing logged: no row (a timestamp alone makes none)
        run.log({"loss": 2.0})
    got = ts(api.run(run.id))
    assert got[0] == 1234.5 and sorted(got) == [0, 2] and got[2] > 1234.5
    assert api.run(run.id).last_step == 2
