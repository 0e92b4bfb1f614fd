"""Durability, checked with real subprocesses: SIGKILL, SIGTERM, an uncaught exception, normal exit."""

import signal
import subprocess
import sys
import textwrap
import time

import forkpoint
import pytest

CHILD = textwrap.dedent("""
    import sys, time, forkpoint
    store, mode, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
    run = forkpoint.init(project="d", id="victim", store=store, flush_interval=interval)
    for i in range(200):
        run.log({"i": i, "x": i * 0.5})
    run.flush()                      # rows 0..199 are durable now
    for i in range(200, 400):
        run.log({"i": i, "x": i * 0.5})
    print("ready", flush=True)
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "exit":
        sys.exit(0)
    time.sleep(60)
""")


def _start(store, mode, interval=30.0):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, store, mode, str(interval)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def test_sigkill_keeps_rows_up_to_last_flush_and_reads_as_crashed(store, api):
    proc = _start(store, "sleep")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    v = api.run("victim")
    assert v.state == "crashed"
    got = [r["i"] for r in v.history()]
    assert got[:200] == list(range(200))  # everything flushed is there
    assert got == list(range(len(got)))  # no torn or out-of-order rows
    # the store is healthy: the run can be rewound at once (no waiting for a timeout)
    with forkpoint.init(store=store, resume_from="victim?_step=150") as run:
        run.log({"i": -1})
    assert api.run("victim").history()[-1] == {"_step": 151, "i": -1}


def test_sigkill_with_short_interval_loses_at_most_the_interval(store, api):
    proc = _start(store, "sleep", interval=0.05)
    time.sleep(0.5)  # several flush intervals
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(api.run("victim").history()) == 400


@pytest.mark.parametrize("mode, state", [("raise", "crashed"), ("exit", "finished")])
def test_exception_and_exit_lose_nothing(store, api, mode, state):
    proc = _start(store, mode)
    proc.wait(timeout=30)
    v = api.run("victim")
    assert v.state == state
    assert [r["i"] for r in v.history()] == list(range(400))


def test_sigterm_loses_nothing(store, api):
    proc = _start(store, "sleep")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM  # the default action still happens
    v = api.run("victim")
    assert v.state == "crashed" and v.exit_code == 128 + signal.SIGTERM
    assert [r["i"] for r in v.history()] == list(range(400))


def test_flush_interval_zero_is_durable_at_return(store, api):
    with forkpoint.init(store=store, flush_interval=0) as run:
        run.log({"a": 1})
        assert forkpoint.Api(store).run(run.id).history() == [{"_step": 0, "a": 1}]


DROPPED = textwrap.dedent("""
    import gc, sys, forkpoint
    run = forkpoint.init(project="d", id="dropped", store=sys.argv[1], flush_interval=60)
    for i in range(50):
        run.log({"i": i})
    del run          # never finished, no reference left
    gc.collect()
""")


def test_a_dropped_unfinished_run_is_still_flushed_and_finished_at_exit(store, api):
    subprocess.run([sys.executable, "-c", DROPPED, store], check=True, timeout=60)
    v = api.run("dropped")
    assert [r["i"] for r in v.history()] == list(range(50)) and v.state == "finished"
