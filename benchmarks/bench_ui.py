"""UI benchmark (issue 8's target): chart data of a 1 M-point metric over HTTP, flat and forked.

    .venv/bin/python benchmarks/bench_ui.py [--write-results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import forkpoint
from forkpoint.ui.server import serve_in_thread

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import filled_run  # noqa: E402
from results import write_section  # noqa: E402


def fetch(url: str) -> tuple[float, dict]:
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = json.loads(r.read())
    return time.perf_counter() - t, body


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    store = f"sqlite:///{tempfile.mkdtemp(prefix='fp-ui-bench-')}/runs.db"
    flat = filled_run(store, 1_000_000, keys=["m"])
    with forkpoint.init(store=store, fork_from=f"{flat}?_step=499999", id="kid") as f:
        for i in range(500_000, 500_100):
            f.log({"m": -1.0}, step=i)
    srv, url = serve_in_thread(store)
    rows = []
    for name, ref in (("1 M points, one run", flat), ("fork: 500 k inherited + 100 own", "kid")):
        times = []
        for _ in range(5):
            dt, body = fetch(f"{url}/api/run/{ref}/series?key=m&points=2000")
            times.append(dt)
        pts = sum(len(s["steps"]) for s in body["series"])
        rows.append((f"series API, {name}", f"{statistics.median(times):.3f} s", f"{body['total_points']:,} -> {pts:,} points",
                     "≤ 1 s"))
    srv.shutdown()
    table = "| measure | median of 5 | points read -> sent | target |\n|---|---|---|---|\n" + \
        "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    print(table)
    if args.write_results:
        write_section("ui", "UI (`benchmarks/bench_ui.py`)",
                      f"Run {time.strftime('%Y-%m-%d %H:%M')}, same machine, SQLite store, min/max buckets to 2000 "
                      f"points.\n\n{table}")


if __name__ == "__main__":
    main()
