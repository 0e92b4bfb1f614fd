"""PostgreSQL store benchmarks (issue 6), side by side in one process run.

    FORKPOINT_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/bench_postgres.py [--quick] [--write-results]

Uses throw-away schemas and drops them afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from array import array
from pathlib import Path

import forkpoint
import psycopg
from forkpoint.store import close_store

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import KEYS, filled_run, time_branch  # noqa: E402
from results import write_section  # noqa: E402

BASE = os.environ.get("FORKPOINT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def schema_url() -> tuple[str, str]:
    s = f"fp_bench_{uuid.uuid4().hex[:8]}"
    return s, f"{BASE}?schema={s}"


def ours(url: str, steps: int) -> float:
    rows = [{k: i * 0.001 + j for j, k in enumerate(KEYS)} for i in range(steps)]
    t = time.perf_counter()
    run = forkpoint.init(project="bench", store=url)
    for r in rows:
        run.log(r)
    run.finish()
    return steps * len(KEYS) / (time.perf_counter() - t)


def raw_copy(url_schema: str, steps: int) -> tuple[float, float]:
    """COPY of the same dict rows: (a) into forkpoint's blocks table, packed with the least code;
    (b) for reference, one row per point into a (segment, key, step, value) table."""
    rows = [{k: i * 0.001 + j for j, k in enumerate(KEYS)} for i in range(steps)]
    out = []
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{url_schema}"')
        conn.execute("CREATE TABLE raw_blocks (LIKE blocks INCLUDING ALL)")
        conn.execute("CREATE TABLE raw_points (segment BIGINT, key BIGINT, step BIGINT, value DOUBLE PRECISION, "
                     "PRIMARY KEY (segment, key, step))")
        t = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(
                "COPY raw_blocks (segment, key, first_step, last_step, n, enc, steps, vals) FROM STDIN") as cp:
            for b in range(0, steps, 4096):
                chunk = rows[b:b + 4096]
                st = array("q", range(b, b + len(chunk))).tobytes()
                for j, k in enumerate(KEYS):
                    cp.write_row((1, j, b, b + len(chunk) - 1, len(chunk), "d", st, array("d", [r[k] for r in chunk]).tobytes()))
        out.append(steps * len(KEYS) / (time.perf_counter() - t))
        t = time.perf_counter()
        with conn.transaction(), conn.cursor().copy("COPY raw_points FROM STDIN") as cp:
            for i, r in enumerate(rows):
                for j, v in enumerate(r.values()):
                    cp.write_row((1, j, i, v))
        out.append(steps * len(KEYS) / (time.perf_counter() - t))
    return out[0], out[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    big = 1_000_000 if args.quick else 10_000_000
    schemas = []
    try:
        s, url = schema_url()
        schemas.append(s)
        ingest = ours(url, 100_000)
        copy_blocks, copy_points = raw_copy(s, 100_000)
        s2, small_url = schema_url()
        s3, big_url = schema_url()
        schemas += [s2, s3]
        small = filled_run(small_url, 10_000)
        t = time.perf_counter()
        bigrun = filled_run(big_url, big)
        print(f"filled {big} points in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        b_small = time_branch(small_url, small, 500)
        b_big = time_branch(big_url, bigrun, big // len(KEYS) // 2)
    finally:
        for s in schemas:
            close_store(f"{BASE}?schema={s}")
            with psycopg.connect(BASE, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
    rows = [
        ("durable end-to-end ingest (100k steps x 10)", f"{ingest:,.0f} pts/s", ""),
        ("raw COPY into the same blocks table, same run", f"{copy_blocks:,.0f} pts/s", ""),
        ("(reference: raw COPY, one row per point)", f"{copy_points:,.0f} pts/s", ""),
        ("ingest / raw COPY (blocks)", f"{ingest / copy_blocks:.0%}", "≥ 60%"),
        ("ingest / raw COPY (one row per point)", f"{ingest / copy_points:.0%}", ""),
        (f"rewind transaction, {big:,} points", f"{b_big['rewind']:.2f} ms", ""),
        ("rewind transaction, 10,000 points", f"{b_small['rewind']:.2f} ms", ""),
        (f"fork transaction, {big:,} points", f"{b_big['fork']:.2f} ms", ""),
        ("fork transaction, 10,000 points", f"{b_small['fork']:.2f} ms", ""),
        ("rewind big / small", f"{b_big['rewind'] / b_small['rewind']:.2f}×", "O(1)"),
        ("fork big / small", f"{b_big['fork'] / b_small['fork']:.2f}×", "O(1)"),
    ]
    with psycopg.connect(BASE) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    table = "| measure | result | target |\n|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    env = (f"Machine: {os.cpu_count()} CPUs, {platform.machine()}; Python {platform.python_version()}; PostgreSQL {server} "
           f"on 127.0.0.1 (same machine); psycopg {psycopg.__version__}; sizes: {'quick' if args.quick else 'full'}; "
           f"run {time.strftime('%Y-%m-%d %H:%M')}.")
    print(env + "\n\n" + table)
    if args.write_results:
        write_section("postgres", "PostgreSQL (`benchmarks/bench_postgres.py`)", f"{env}\n\n{table}")


if __name__ == "__main__":
    main()
