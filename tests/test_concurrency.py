"""4 processes x 2 runs each, logging into one SQLite store at once."""

import subprocess
import sys
import textwrap

import forkpoint

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


def test_four_processes_two_runs_each(store, api):
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, store, str(w)], stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    errors = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in errors), errors
    assert not any("locked" in err for _, err in errors), errors
    runs = api.runs("c")
    assert sorted(r.id for r in runs) == sorted(f"w{w}r{k}" for w in range(4) for k in range(2))
    for r in runs:
        assert r.state == "finished"
        assert [row["i"] for row in r.history()] == list(range(1500))


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
