"""forkpoint demo: train, crash, resume from the checkpoint (rewind), fork with another learning
rate, and show the result. Pure Python (a tiny linear model fitted by SGD), no framework needed.

    bash scripts/demo.sh            # or: python examples/demo.py [--store PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile

import forkpoint

STEPS, CKPT_EVERY, CRASH_AT = 300, 50, 237


def data(n: int = 64) -> list[tuple[float, float]]:
    rng = random.Random(0)
    return [(x, 3.0 * x - 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def train(store: str, ckpt_dir: str, lr: float, crash_at: int | None, restore: str | None = None,
          on_resume: str = "rewind") -> str:
    """Train from checkpoint file ``restore`` (rewinding or forking the run it names), or from scratch."""
    state = {"w": 0.0, "b": 0.0, "step": -1, "run_id": None}
    if restore:
        with open(restore) as f:
            state = json.load(f)
    branch = f"{state['run_id']}?_step={state['step']}" if state["run_id"] else None
    kw = {"resume_from": branch} if on_resume == "rewind" else {"fork_from": branch}
    run = forkpoint.init(project="demo", config={"lr": lr}, store=store, **(kw if branch else {}))
    with run:
        w, b = state["w"], state["b"]
        points = data()
        for step in range(state["step"] + 1, STEPS):
            x, y = points[step % len(points)]
            err = (w * x + b) - y
            w, b = w - lr * err * x, b - lr * err
            loss = sum(((w * px + b) - py) ** 2 for px, py in points) / len(points)
            run.log({"loss": loss, "w": w, "b": b}, step=step)
            if step % CKPT_EVERY == CKPT_EVERY - 1:  # the checkpoint holds the run id and its step
                os.makedirs(ckpt_dir, exist_ok=True)
                path = os.path.join(ckpt_dir, f"step-{step}.json")
                with open(path + ".tmp", "w") as f:
                    json.dump({"w": w, "b": b, "step": step, "run_id": run.id}, f)
                os.replace(path + ".tmp", path)
            if step == crash_at:
                raise RuntimeError(f"simulated crash at step {step}")
    return run.id


def chart(rows: list[dict], key: str, width: int = 60, height: int = 10) -> str:
    vals = [r[key] for r in rows]
    lo, hi = min(vals), max(vals)
    cols = [vals[int(i * len(vals) / width)] for i in range(width)]
    grid = [[" "] * width for _ in range(height)]
    for x, v in enumerate(cols):
        y = 0 if hi == lo else int((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo) + 1e-12) * (height - 1))
        grid[height - 1 - y][x] = "*"
    return "\n".join("".join(r) for r in grid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default=None, help="store path (default: a fresh temporary file)")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="forkpoint-demo-")
    store = args.store or os.path.join(work, "runs.db")
    ckpts = os.path.join(work, "ckpt")
    print(f"store: {store}\n")

    print(f"1. Train; the process crashes at step {CRASH_AT} (last checkpoint: step 199).")
    proc = subprocess.run([sys.executable, __file__, "--_train", store, ckpts, str(CRASH_AT)],
                          capture_output=True, text=True)
    code = proc.returncode
    print(f"   {(proc.stderr.strip().splitlines() or ['(no output)'])[-1]}")
    api = forkpoint.Api(store)
    (crashed,) = api.runs("demo")
    print(f"   run {crashed.id}: state={crashed.state}, last step {crashed.last_step} (exit code {code})\n")

    print("2. Restart from the checkpoint: the run is rewound to step 199 and continues.")
    rid = train(store, ckpts, lr=0.1, crash_at=None, restore=os.path.join(ckpts, "step-199.json"))
    resumed = api.run(rid)
    print(f"   run {rid}: state={resumed.state}, kind={resumed.kind}, parent={resumed.parent}")

    print("3. For comparison, the same training uninterrupted:")
    ref = train(store, os.path.join(work, "ref-ckpt"), lr=0.1, crash_at=None)
    same = [(r["_step"], round(r["loss"], 12)) for r in api.run(ref).history()] == \
           [(r["_step"], round(r["loss"], 12)) for r in resumed.history()]
    print(f"   identical visible history (steps and values): {same}; "
          f"abandoned rows {CKPT_EVERY * 4}..{CRASH_AT} kept in {resumed.archived()[0].id}\n")

    print("4. Fork the resumed run at step 149 with a smaller learning rate.")
    fork_id = train(store, os.path.join(work, "fork-ckpt"), lr=0.01, crash_at=None,
                    restore=os.path.join(ckpts, "step-149.json"), on_resume="fork")
    fork = api.run(fork_id)
    print(f"   fork {fork_id}: parent={fork.parent}, config={fork.config}, own rows {len(fork.history(own_only=True))}, "
          f"visible rows {len(fork.history())}\n")

    print("5. Result")
    subprocess.run([sys.executable, "-m", "forkpoint", "--store", store, "tree", rid])
    print()
    print(f"{'run':<12}{'kind':<8}{'state':<10}{'final loss':>12}")
    for v in api.runs("demo"):
        print(f"{v.id:<12}{v.kind:<8}{v.state:<10}{v.summary['loss']:>12.5f}")
    print(f"\nloss of {rid} (log scale), steps 0..299:")
    print(chart(resumed.history(keys=["loss"]), "loss"))
    cli = f"{sys.executable} -m forkpoint"  # works as printed, inside or outside the venv
    print(f"\nTry: {cli} --store {store} history {fork_id} --keys loss | head")
    print(f"     {cli} ui --store {store}")
    if not same:
        sys.exit("the resumed run differs from the uninterrupted one")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_train":
        train(sys.argv[2], sys.argv[3], lr=0.1, crash_at=int(sys.argv[4]))
    else:
        main()
