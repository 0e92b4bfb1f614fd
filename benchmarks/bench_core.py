"""Core benchmarks (issue 2's targets), measured side by side in one process run.

    .venv/bin/python benchmarks/bench_core.py [--quick] [--write-results]

Prints a Markdown table; ``--write-results`` replaces the "Core" section of benchmarks/RESULTS.md.
Not a test: nothing here asserts; the figures are written down with machine and versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import forkpoint
from forkpoint import branch
from forkpoint.spec import RunSpec
from forkpoint.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

KEYS = [f"m{k}" for k in range(10)]


def pct(sorted_ns: list[int], p: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))] / 1000


def hot_path(work: str, steps: int) -> dict:
    """Caller-side µs per log() of a 10-scalar dict, and total CPU per step (writer included)."""
    rows = [{k: i * 0.001 + j for j, k in enumerate(KEYS)} for i in range(steps)]
    run = forkpoint.init(project="bench", store=os.path.join(work, "hot.db"))
    log, pc = run.log, time.perf_counter_ns
    ts = [0] * steps
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i, r in enumerate(rows):
        t = pc()
        log(r)
        ts[i] = pc() - t
    run.finish()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ts.sort()
    return {"p50": pct(ts, 0.5), "p99": pct(ts, 0.99), "mean": sum(ts) / steps / 1000,
            "cpu_per_step": cpu / steps * 1e6, "e2e_pts": steps * len(KEYS) / wall}


def raw_ingest(work: str, steps: int) -> tuple[float, float]:
    """Points/s of raw sqlite3.executemany, durable at the end, from the same dict rows:
    (a) into the same block schema, with the least packing code that schema needs;
    (b) for reference, one row per point into a (segment, key, step) table."""
    from array import array

    rows = [{k: i * 0.001 + j for j, k in enumerate(KEYS)} for i in range(steps)]
    out = []
    for layout in ("blocks", "points"):
        c = sqlite3.connect(os.path.join(work, f"raw-{layout}.db"), isolation_level=None)
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("CREATE TABLE blocks (id INTEGER PRIMARY KEY, segment INTEGER NOT NULL, key INTEGER NOT NULL, "
                  "first_step INTEGER NOT NULL, last_step INTEGER NOT NULL, n INTEGER NOT NULL, enc TEXT NOT NULL, "
                  "steps BLOB NOT NULL, vals BLOB NOT NULL)")
        c.execute("CREATE INDEX blocks_range ON blocks (segment, key, first_step)")
        c.execute("CREATE TABLE points (segment INTEGER NOT NULL, key INTEGER NOT NULL, step INTEGER NOT NULL, "
                  "value, PRIMARY KEY (segment, key, step)) WITHOUT ROWID")
        kid = {k: j for j, k in enumerate(KEYS)}
        t = time.perf_counter()
        for b in range(0, steps, 4096):
            chunk = rows[b:b + 4096]
            c.execute("BEGIN")
            if layout == "blocks":
                st = array("q", range(b, b + len(chunk))).tobytes()
                c.executemany("INSERT INTO blocks (segment, key, first_step, last_step, n, enc, steps, vals) "
                              "VALUES (1, ?, ?, ?, ?, 'd', ?, ?)",
                              [(kid[k], b, b + len(chunk) - 1, len(chunk), st, array("d", [r[k] for r in chunk]).tobytes())
                               for k in KEYS])
            else:
                c.executemany("INSERT INTO points VALUES (1, ?, ?, ?)",
                              [(kid[k], b + i, v) for i, r in enumerate(chunk) for k, v in r.items()])
            c.execute("COMMIT")
        c.close()
        out.append(steps * len(KEYS) / (time.perf_counter() - t))
    return out[0], out[1]


def filled_run(store: str, points: int, keys: list[str] = KEYS) -> str:
    """A finished run holding ``points`` points, written through the store's own append path."""
    run = forkpoint.init(project="bench", store=store)
    run.finish()
    st = open_store(store)
    steps = points // len(keys)
    batch = 50_000
    for s0 in range(0, steps, batch):
        st.append(run.id, run.segment, [(s, {k: s * 0.5 for k in keys}) for s in range(s0, min(steps, s0 + batch))],
                  time.time())
    return run.id


def time_branch(store: str, run_id: str, step: int, reps: int = 15) -> dict:
    """Median ms of the rewind and fork transactions, and of the whole init()+finish() call."""
    st = open_store(store)
    spec = RunSpec(run_id, step)
    out = {}
    for what in ("rewind", "fork"):
        ts, full = [], []
        for _ in range(reps):
            t = time.perf_counter()
            if what == "rewind":
                branch.rewind(st, spec, None, branch.RunFields())
                with st.transaction():
                    st.update_run(run_id, state="finished", owner=None)
            else:
                branch.fork(st, spec, None, None, branch.RunFields())
            ts.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = forkpoint.init(store=store, **({"resume_from": str(spec)} if what == "rewind" else {"fork_from": str(spec)}))
            r.finish()
            full.append(time.perf_counter() - t)
        out[what] = statistics.median(ts) * 1000
        out[what + "_init"] = statistics.median(full) * 1000
    return out


def read_one_metric(store: str, run_id: str, reps: int = 3) -> float:
    view = forkpoint.Api(store).run(run_id)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        rows = view.history(keys=["m"])
        ts.append(time.perf_counter() - t)
    assert len(rows) > 0
    return statistics.median(ts)


def fork_chain(store: str, depth: int, per_level: int) -> str:
    st = open_store(store)
    run = forkpoint.init(project="bench", store=store)
    run.finish()
    rid, seg, start = run.id, run.segment, 0
    for level in range(depth):
        st.append(rid, seg, [(s, {"m": s * 0.5}) for s in range(start, start + per_level)], time.time())
        start += per_level
        if level < depth - 1:
            child = forkpoint.init(store=store, fork_from=f"{rid}?_step={start - 1}")
            child.finish()
            rid, seg = child.id, child.segment
    return rid


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="smaller sizes (1 M instead of 10 M points)")
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    big = 1_000_000 if args.quick else 10_000_000
    work = tempfile.mkdtemp(prefix="fp-bench-")
    print(f"workdir {work}", file=sys.stderr)

    hot = hot_path(work, 100_000)
    raw, raw_points = raw_ingest(work, 100_000)
    print("hot path done", file=sys.stderr)

    small_store = f"sqlite:///{work}/small.db"
    small = filled_run(small_store, 10_000)
    big_store = f"sqlite:///{work}/big.db"
    t = time.perf_counter()
    bigrun = filled_run(big_store, big)
    fill_s = time.perf_counter() - t
    print(f"filled {big} points in {fill_s:.1f}s", file=sys.stderr)
    b_small = time_branch(small_store, small, 500)
    b_big = time_branch(big_store, bigrun, big // len(KEYS) // 2)

    flat_store = f"sqlite:///{work}/flat.db"
    flat = filled_run(flat_store, 1_000_000, keys=["m"])
    chain_store = f"sqlite:///{work}/chain.db"
    chain = fork_chain(chain_store, 50, 20_000)
    assert len(forkpoint.Api(chain_store).run(chain).history(keys=["m"])) == 1_000_000
    r_flat = read_one_metric(flat_store, flat)
    r_chain = read_one_metric(chain_store, chain)

    rows = [
        ("log() 10 scalars, caller p50", f"{hot['p50']:.2f} µs", "≤ 3 µs"),
        ("log() 10 scalars, caller p99", f"{hot['p99']:.2f} µs", "≤ 25 µs"),
        ("log() 10 scalars, caller mean", f"{hot['mean']:.2f} µs", ""),
        ("total CPU per step (writer included)", f"{hot['cpu_per_step']:.1f} µs", "≤ 20 µs"),
        ("durable end-to-end ingest", f"{hot['e2e_pts']:,.0f} pts/s", ""),
        ("raw executemany, same block schema, same run", f"{raw:,.0f} pts/s", ""),
        ("(reference: raw executemany, one row per point)", f"{raw_points:,.0f} pts/s", ""),
        ("ingest / raw", f"{hot['e2e_pts'] / raw:.0%}", "≥ 70%"),
        (f"rewind transaction, {big:,} points", f"{b_big['rewind']:.2f} ms", "≤ 2 ms"),
        ("rewind transaction, 10,000 points", f"{b_small['rewind']:.2f} ms", ""),
        (f"fork transaction, {big:,} points", f"{b_big['fork']:.2f} ms", "≤ 2 ms"),
        ("fork transaction, 10,000 points", f"{b_small['fork']:.2f} ms", ""),
        ("rewind big / small", f"{b_big['rewind'] / b_small['rewind']:.2f}×", "≤ 2×"),
        ("fork big / small", f"{b_big['fork'] / b_small['fork']:.2f}×", "≤ 2×"),
        (f"whole init(resume_from)+finish, {big:,} points", f"{b_big['rewind_init']:.2f} ms", ""),
        (f"whole init(fork_from)+finish, {big:,} points", f"{b_big['fork_init']:.2f} ms", ""),
        ("history of 1 metric, 1 M points, flat run", f"{r_flat:.3f} s", "≤ 0.5 s"),
        ("same through a fork chain of depth 50", f"{r_chain:.3f} s", ""),
        ("chain / flat", f"{r_chain / r_flat:.2f}×", "≤ 2×"),
    ]
    table = "| measure | result | target |\n|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    env = (f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.platform()}; Python {platform.python_version()}; "
           f"SQLite {sqlite3.sqlite_version}; forkpoint {forkpoint.__version__}; sizes: {'quick' if args.quick else 'full'}; "
           f"run {time.strftime('%Y-%m-%d %H:%M')}.")
    print(env + "\n\n" + table)
    if args.write_results:
        write_section("core", "Core (`benchmarks/bench_core.py`)", f"{env}\n\n{table}")


if __name__ == "__main__":
    main()
