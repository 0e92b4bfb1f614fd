"""SIGTERM and forked children: every logged row is stored, the process ends, no child writes the
parent's run (docs/guarantees.md)."""

from __future__ import annotations

import os
import signal
import time

import forkpoint
import pytest
from procs import child, run_child

LOGGER = """
import sys, forkpoint
run = forkpoint.init(project="p", id="r", store=sys.argv[1], flush_interval=float(sys.argv[2]))
i = 0
while True:
    run.log({"i": i, "x": i * 0.5})
    if i % 100 == 0:
        print(i, flush=True)
    i += 1
"""


def _reported(p, at_least: int) -> int:
    last = -1
    while last < at_least:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        last = int(line)
    return last


@pytest.mark.parametrize("interval", [0.0, 1.0])
@pytest.mark.parametrize("after", [300, 2000])
def test_sigterm_stores_every_logged_row_and_ends_the_process(store, interval, after):
    p = child(LOGGER, store, str(interval))
    last = _reported(p, after)
    t = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rest = p.stdout.read()  # rows reported after the signal was sent count too
    p.wait(timeout=30)
    took = time.monotonic() - t
    assert p.returncode == -signal.SIGTERM, p.stderr.read()
    assert took < 15, f"the process took {took:.1f} s to end after SIGTERM"
    for line in rest.split():
        last = max(last, int(line))
    view = forkpoint.Api(store).run("r")
    got = [r["i"] for r in view.history(keys=["i"])]
    assert got == list(range(len(got))) and len(got) > last, (len(got), last)
    assert view.state == "crashed" and view.exit_code == 128 + signal.SIGTERM


FORKED = """
import multiprocessing as mp, os, signal, sys, time, forkpoint

def worker():
    time.sleep(60)

run = forkpoint.init(project="p", id="r", store=sys.argv[1], flush_interval=0.05)
ctx = mp.get_context("fork")
procs = [ctx.Process(target=worker) for _ in range(2)]
for i in range(3000):
    run.log({"i": i})
    if i == 200:
        for pr in procs:
            pr.start()
    if i == 400:
        for pr in procs:  # the children get SIGTERM while the parent's run is open
            os.kill(pr.pid, signal.SIGTERM)
        for pr in procs:
            pr.join()
        print("children", [pr.exitcode for pr in procs], flush=True)
run.finish()
print("done", flush=True)
"""


def test_forked_children_terminated_never_touch_the_parents_run(store):
    r = run_child(FORKED, store)
    assert r.returncode == 0, r.stderr
    assert f"children [{-signal.SIGTERM}, {-signal.SIGTERM}]" in r.stdout and "done" in r.stdout
    view = forkpoint.Api(store).run("r")
    assert [row["i"] for row in view.history()] == list(range(3000))
    assert view.state == "finished" and view.exit_code == 0


GROUP = """
import multiprocessing as mp, os, sys, time, forkpoint

def worker():
    time.sleep(60)

os.setpgrp()
run = forkpoint.init(project="p", id="r", store=sys.argv[1], flush_interval=0.2)
procs = [mp.get_context("fork").Process(target=worker) for _ in range(2)]
for pr in procs:
    pr.start()
i = 0
while True:
    run.log({"i": i})
    if i % 100 == 0:
        print(i, flush=True)
    i += 1
"""


def test_sigterm_to_a_process_group_with_forked_workers(store):
    p = child(GROUP, store)
    last = _reported(p, 500)
    os.killpg(p.pid, signal.SIGTERM)
    rest = p.stdout.read()
    p.wait(timeout=30)
    for line in rest.split():
        last = max(last, int(line))
    assert p.returncode == -signal.SIGTERM, p.stderr.read()
    view = forkpoint.Api(store).run("r")
    got = [r["i"] for r in view.history()]
    assert got == list(range(len(got))) and len(got) > last
    assert view.state == "crashed"


CHILD_LOGS = """
import os, sys, forkpoint
run = forkpoint.init(project="p", id="r", store=sys.argv[1])
run.log({"i": 0})
pid = os.fork()
if pid == 0:
    try:
        run.log({"i": 1})
    except forkpoint.UsageError as exc:
        print("child refused:", "forked child" in str(exc), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
run.log({"i": 1})
"""


def test_a_forked_child_cannot_write_the_parents_run_and_exit_leaves_it_alone(store):
    r = run_child(CHILD_LOGS, store)
    assert r.returncode == 0, r.stderr
    assert "child refused: True" in r.stdout
    view = forkpoint.Api(store).run("r")
    assert view.history() == [{"_step": 0, "i": 0}, {"_step": 1, "i": 1}]
    assert view.state == "finished"


def test_sys_exit_code_is_recorded(store):
    r = run_child("import sys, forkpoint\nrun = forkpoint.init(project='p', id='r', store=sys.argv[1])\n"
                  "run.log({'a': 1})\nsys.exit(3)\n", store)
    assert r.returncode == 3, r.stderr
    view = forkpoint.Api(store).run("r")
    assert view.state == "crashed" and view.exit_code == 3 and view.history() == [{"_step": 0, "a": 1}]


def test_own_sigterm_handler_is_respected(store):
    code = """
import signal, sys, forkpoint
stop = []
signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
run = forkpoint.init(project="p", id="r", store=sys.argv[1])
i = 0
while not stop:
    run.log({"i": i}); i += 1
    if i == 100:
        print("go", flush=True)
run.log({"i": i})  # the program's handler lets it finish its step
print("stopped at", i, flush=True)
"""
    p = child(code, store)
    assert p.stdout.readline().strip() == "go"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    n = int(out.split()[-1])
    view = forkpoint.Api(store).run("r")
    assert [r["i"] for r in view.history()] == list(range(n + 1)) and view.state == "finished"
