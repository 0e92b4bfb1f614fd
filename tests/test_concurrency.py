"""Many processes x 2 runs each logging into one store at once (4 on SQLite, 8 on PostgreSQL),
and two processes trying to write the same run."""

import subprocess
import sys
import textwrap

import forkpoint
import pytest

WORKER = textwrap.dedent("""
    import sys, forkpoint
    store, w = sys.argv[1], int(sys.argv[2])
    runs = [forkpoint.init(project="c", id=f"w{w}r{k}", store=store, flush_interval=0.01) for k in range(2)]
    for i in range(1500):
        for run in runs:
            run.log({"i": i, "w": w})
        if i % 500 == 0:
            runs[0].flush()
    for run in runs:
        run.finish()
""")


def test_processes_two_runs_each(store, api):
    n = 8 if store.startswith("postgres") else 4
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, store, str(w)], stderr=subprocess.PIPE, text=True)
             for w in range(n)]
    errors = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in errors), errors
    assert not any("locked" in err for _, err in errors), errors
    runs = api.runs("c")
    assert sorted(r.id for r in runs) == sorted(f"w{w}r{k}" for w in range(n) for k in range(2))
    for r in runs:
        assert r.state == "finished"
        assert [row["i"] for row in r.history()] == list(range(1500))
    assert stored_points(store) == n * 2 * 1500 * 3  # every point stored exactly once (2 keys and _timestamp)


def stored_points(store):
    from forkpoint.store import open_store

    return open_store(store)._x("SELECT SUM(n) FROM blocks").fetchone()[0]


HOLDER = textwrap.dedent("""
    import sys, time, forkpoint
    run = forkpoint.init(id="held", store=sys.argv[1])
    run.log({"a": 1})
    run.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    run.finish()
""")


def test_second_process_gets_a_clear_error(store, api):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, store], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        for kw in (dict(id="held", resume="allow"), dict(resume_from="held?_step=0")):
            with pytest.raises(forkpoint.RunInUseError, match=r"run 'held' is still being written by a live process"):
                forkpoint.init(store=store, **kw)
        with forkpoint.init(store=store, fork_from="held?_step=0") as child:  # forking a live run is fine
            assert child.parent == ("held", 0)
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    assert api.run("held").state == "finished" and api.run("held").history() == [{"_step": 0, "a": 1}]


def test_threads_share_a_store(store, api):
    import threading

    def work(k):
        with forkpoint.init(project="t", id=f"t{k}", store=store, flush_interval=0.01) as run:
            for i in range(500):
                run.log({"i": i})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(r.history()) == 500 for r in api.runs("t"))
