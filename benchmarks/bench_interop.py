"""Export memory: peak RSS while exporting runs of 1 M and 10 M points (10 keys per row).

    /work/interop-venv/bin/python benchmarks/bench_interop.py [--points 1000000 10000000]
        [--formats parquet csv tensorboard] [--full-read]

Each export runs in a fresh child process, so its peak RSS (``VmHWM``) is its own; the table
gives the baseline RSS after imports, the peak during the export, their difference and the time.
``--full-read`` adds ``RunView.history()`` (everything at once) as the contrast the windowed
export avoids. Not a test: nothing here asserts. wandb and mlflow are slower per point (their own
writers); pass them in ``--formats`` to measure them too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

KEYS = [f"m{k}" for k in range(10)]


def status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib() -> int:
    return status_kib("VmRSS")


def make_store(path: str, points: int) -> None:
    """A finished run of ``points`` points; the store is closed after, as a finished training job leaves it."""
    import forkpoint
    from forkpoint.store import close_store

    steps = points // len(KEYS)
    with forkpoint.init(project="bench", id="big", store=path, flush_interval=5.0) as run:
        log = run.log
        for i in range(steps):
            log({k: i * 0.001 + j for j, k in enumerate(KEYS)})
    close_store(path)  # open here, its WAL would stay unmerged while the children read


def child(store: str, fmt: str, dest: str) -> None:
    """Runs in the child: import the peers first, so the baseline holds them, then export."""
    import forkpoint
    from forkpoint import interop

    if fmt == "tensorboard":
        import tensorboard.summary.writer.event_file_writer  # noqa: F401
    elif fmt == "parquet":
        import pyarrow.parquet  # noqa: F401
    elif fmt == "mlflow":
        import mlflow  # noqa: F401
    elif fmt == "wandb":
        import wandb  # noqa: F401
    api = forkpoint.Api(store)
    base = rss_kib()
    t = time.perf_counter()
    if fmt == "history()":
        n = len(api.run("big").history())
    else:
        interop.export(api, "big", to=fmt, dest=dest)
        n = 0
    secs = time.perf_counter() - t
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so a child would report the
    # parent's size (here: the process that logged the points) instead of its own
    peak = status_kib("VmHWM")
    print(json.dumps({"base_mib": base / 1024, "peak_mib": peak / 1024, "secs": secs, "rows": n}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--formats", nargs="+", default=["parquet", "csv", "tensorboard"])
    p.add_argument("--full-read", action="store_true")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("FORKPOINT_QUIET", "1")
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    print("| points | format | baseline RSS MiB | peak RSS MiB | growth MiB | seconds |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for points in args.points:
        with tempfile.TemporaryDirectory() as work:
            store = os.path.join(work, "runs.db")
            t = time.perf_counter()
            make_store(store, points)
            print(f"<!-- {points} points logged in {time.perf_counter() - t:.1f} s -->", file=sys.stderr)
            for fmt in [*args.formats, *(["history()"] if args.full_read else [])]:
                dest = os.path.join(work, f"out-{fmt}")
                got = subprocess.run([sys.executable, __file__, "--child", store, fmt, dest],
                                     capture_output=True, text=True, check=True)
                r = json.loads(got.stdout.strip().splitlines()[-1])
                print(f"| {points:,} | {fmt} | {r['base_mib']:.0f} | {r['peak_mib']:.0f} | "
                      f"{r['peak_mib'] - r['base_mib']:.0f} | {r['secs']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
