"""Rows the stores cannot hold are refused at log(); a row the store refuses anyway stops nothing
else; stale write state, rolled-back key ids and whole-row reads (docs/guarantees.md)."""

from __future__ import annotations

import time

import forkpoint
import pytest
from forkpoint.store import MAX_STEP, open_store
from procs import child, run_child


@pytest.mark.parametrize("key", ["\ud800", "a\x00b", "k" * 10_000])
def test_log_refuses_keys_the_stores_cannot_hold_and_queues_nothing(store, key):
    with forkpoint.init(project="p", store=store, flush_interval=0) as run:
        run.log({"ok": 1})
        with pytest.raises(forkpoint.UsageError, match="key"):
            run.log({key: 1, "ok": 2})
        assert run.step == 1 and run.pending == 0
        run.log({"ok": 3})
    assert forkpoint.Api(store).run(run.id).history() == [{"_step": 0, "ok": 1}, {"_step": 1, "ok": 3}]


def test_steps_beyond_the_largest_are_refused_and_the_largest_reads_back(store):
    with forkpoint.init(project="p", store=store) as run:
        with pytest.raises(forkpoint.StepError, match="beyond the largest step"):
            run.log({"a": 1}, step=2**63)
        with pytest.raises(forkpoint.StepError):
            run.log({"a": 1}, step=MAX_STEP + 1)
        run.log({"a": 2}, step=MAX_STEP)
    view = forkpoint.Api(store).run(run.id)
    assert view.history() == [{"_step": MAX_STEP, "a": 2}] and view.last_step == MAX_STEP


def test_values_that_are_not_scalars_or_clash_are_refused(store):
    np = pytest.importorskip("numpy")
    with forkpoint.init(project="p", store=store) as run:
        with pytest.raises(forkpoint.UsageError, match="1-d"):
            run.log({"a": np.array([1.0])})
        with pytest.raises(forkpoint.UsageError, match="twice"):
            run.log({"c/d": 1, "c": {"d": 2}})
        run.log({"a": np.array(1.5), "s": "nul \x00 and \ud800 in a value are fine"})
    (row,) = forkpoint.Api(store).run(run.id).history()
    assert row["a"] == 1.5 and row["s"] == "nul \x00 and \ud800 in a value are fine"


def test_a_row_the_store_refuses_is_reported_and_the_others_are_written(store):
    """The last line of defence: a row that slipped past log() (put straight on the writer here)."""
    run = forkpoint.init(project="p", store=store, flush_interval=0.05)
    for i in range(5):
        run.log({"a": i})
    run._writer.put(5, {"bad\ud800key": 1, "a": 5})  # a key no store can encode
    for i in range(6, 10):
        run.log({"a": i}, step=i)
    with pytest.warns(forkpoint.ForkpointWarning, match="refused the row at step 5"):
        run.finish()
    assert run.rejected_rows == 1
    got = [r["a"] for r in forkpoint.Api(store).run(run.id).history()]
    assert got == [0, 1, 2, 3, 4, 6, 7, 8, 9]


RESUME = """
import sys, forkpoint
run = forkpoint.init(project="p", id="r", resume="must", store=sys.argv[1])
for i in range(50, 100):
    run.log({"i": i})
run.finish()
"""


def test_resume_after_another_process_wrote_the_run(store):
    """Per-run write state must not outlive this process's ownership of the run."""
    run = forkpoint.init(project="p", id="r", store=store, flush_interval=0.05)
    for i in range(50):
        run.log({"i": i})
    run.finish()
    r = run_child(RESUME, store)
    assert r.returncode == 0, r.stderr
    run = forkpoint.init(project="p", id="r", resume="must", store=store, flush_interval=0.05)
    for i in range(100, 150):
        run.log({"i": i})
    run.finish()
    assert [r["i"] for r in forkpoint.Api(store).run("r").history()] == list(range(150))


def test_key_ids_of_a_rolled_back_transaction_are_never_used(store):
    st = open_store(store)
    with forkpoint.init(project="p", store=store):
        pass
    with pytest.raises(RuntimeError):
        with st.transaction():
            st._intern(["rolled/back"])
            raise RuntimeError("force the rollback path")
    assert "rolled/back" not in st._key_ids
    with forkpoint.init(project="p", store=store, flush_interval=0) as run:
        run.log({"rolled/back": 1.0})
    assert forkpoint.Api(store).run(run.id).history() == [{"_step": 0, "rolled/back": 1.0}]


WRITER = """
import sys, forkpoint
run = forkpoint.init(project="p", id="w", store=sys.argv[1], flush_interval=0.01)
print("ready", flush=True)
for i in range(40000):
    run.log({f"k{j}": i for j in range(10)})
run.finish()
"""


def test_readers_of_a_live_run_see_whole_rows(store):
    p = child(WRITER, store)
    assert p.stdout.readline().strip() == "ready"
    api = forkpoint.Api(store)
    reads = torn = 0
    while p.poll() is None and reads < 150:
        rows = api.run("w").history()
        reads += 1
        torn += sum(len(r) != 11 for r in rows)
    p.wait(timeout=60)
    assert p.returncode == 0, p.stderr.read()
    assert reads >= 5 and torn == 0, (reads, torn)


KILLED = """
import sys, time, forkpoint
run = forkpoint.init(project="p", id="k", store=sys.argv[1], flush_interval=1.0)
i = 0
t0 = time.monotonic()
while True:
    run.log({f"k{j}": i for j in range(10)})
    if i % 20000 == 0:
        print(i, time.monotonic(), flush=True)
    i += 1
"""


def test_sigkill_loses_at_most_the_last_flush_interval_at_full_speed(store):
    """Logging as fast as Python can (faster than a store can commit): back-pressure keeps the
    newest durable row within the flush interval (1 s here) of the kill, plus one commit."""
    import signal

    p = child(KILLED, store)
    marks = []
    t_end = time.monotonic() + 4.0
    while time.monotonic() < t_end:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        i, t = line.split()
        marks.append((int(i), float(t)))
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    killed_at = time.monotonic()
    got = forkpoint.Api(store).run("k").history(keys=["k0"])
    n = len(got)
    assert [r["k0"] for r in got] == list(range(n))  # no gaps, no torn rows
    # every row reported more than 2.5 s (1 s interval + a commit + scheduling slack) before the kill is stored
    must = max((i for i, t in marks if t < killed_at - 2.5), default=-1)
    assert n > must, (n, must, marks[-3:])
