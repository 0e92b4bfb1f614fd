"""forkpoint side by side with the trackers users would pick instead (issue 7).

    bash benchmarks/run_peers.sh            # makes .venv-bench with the [bench] extra, then runs this
    .venv-bench/bin/python benchmarks/compare_peers.py [--quick] [--write-results]

Everything is offline and deterministic. Each measurement runs in a child process of this one run,
one after another, so that CPU can be counted per tracker, background threads and helper processes
included. Peers: wandb (offline), MLflow (sqlite backend, synchronous and asynchronous logging),
tensorboardX, and Aim.

Fork and rewind use the peer's native mechanism where one exists and works offline; otherwise the
cheapest emulation the peer allows (read the source history, write the prefix into a new run),
labelled as emulation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

KEYS = [f"m{k}" for k in range(10)]
PEERS = ["forkpoint", "wandb", "mlflow_sync", "mlflow_async", "tensorboardX", "aim"]


def rows(n: int) -> list[dict[str, float]]:
    return [{k: i * 0.001 + j for j, k in enumerate(KEYS)} for i in range(n)]


def tree_cpu() -> float:
    import psutil

    p = psutil.Process()
    total = sum(p.cpu_times()[:2])
    for c in p.children(recursive=True):
        try:
            total += sum(c.cpu_times()[:2])
        except psutil.Error:
            pass
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + ru.ru_utime + ru.ru_stime


# -- adapters: open a run, log a row, close (durable), read one metric back ------------------------
class Forkpoint:
    native_fork = native_rewind = True

    def __init__(self, work: str):
        import forkpoint

        self.fp, self.store = forkpoint, f"sqlite:///{work}/fp.db"

    def open(self, name: str):
        self.run = self.fp.init(project="bench", name=name, store=self.store)
        self.id = self.run.id
        return self.run.log

    def log(self, i, d):
        self.run.log(d)

    def close(self):
        self.run.finish()

    def read(self, key: str) -> int:
        return len(self.fp.Api(self.store).run(self.id).history(keys=[key]))

    def fork(self, step: int) -> None:
        self.fp.init(store=self.store, fork_from=f"{self.id}?_step={step}").finish()

    def rewind(self, step: int) -> None:
        self.fp.init(store=self.store, resume_from=f"{self.id}?_step={step}").finish()


class Wandb:
    native_fork = native_rewind = False  # fork_from/resume_from are done by the server, at sync time

    def __init__(self, work: str):
        os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=work, WANDB_CONSOLE="off")
        import wandb

        self.wandb = wandb

    def open(self, name: str):
        self.run = self.wandb.init(project="bench", name=name, settings=self.wandb.Settings(_disable_stats=True))
        return None

    def log(self, i, d):
        self.run.log(d, step=i)

    def close(self):
        self.run.finish()

    def read(self, key: str) -> None:
        return None  # offline runs have no read API without a server (wandb sync + wandb.Api)

    def relog_prefix(self, data, step):
        """Offline data cannot be read back: the cheapest emulation re-logs the prefix the caller still has."""
        run = self.wandb.init(project="bench", name="copy", settings=self.wandb.Settings(_disable_stats=True))
        for i, d in enumerate(data[:step + 1]):
            run.log(d, step=i)
        run.finish()


class MLflow:
    native_fork = native_rewind = False

    def __init__(self, work: str, asynchronous: bool):
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        import mlflow

        self.mlflow, self.asynchronous = mlflow, asynchronous
        mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
        mlflow.set_experiment("bench")

    def open(self, name: str):
        self.run = self.mlflow.start_run(run_name=name)
        self.id = self.run.info.run_id
        return None

    def log(self, i, d):
        self.mlflow.log_metrics(d, step=i, synchronous=not self.asynchronous)

    def close(self):
        self.mlflow.flush_async_logging() if self.asynchronous else None
        self.mlflow.end_run()

    def read(self, key: str) -> int:
        return len(self.mlflow.tracking.MlflowClient().get_metric_history(self.id, key))

    def bulk(self, data):
        """Source runs for the fork test are written with log_batch (setup, not what is measured)."""
        from mlflow.entities import Metric

        ms = [Metric(k, v, 0, i) for i, d in enumerate(data) for k, v in d.items()]
        c = self.mlflow.tracking.MlflowClient()
        for i in range(0, len(ms), 1000):
            c.log_batch(self.id, metrics=ms[i:i + 1000])

    def history(self):
        c = self.mlflow.tracking.MlflowClient()
        return {k: [(m.step, m.value) for m in c.get_metric_history(self.id, k)] for k in KEYS}

    def write_prefix(self, hist, step):
        from mlflow.entities import Metric

        c = self.mlflow.tracking.MlflowClient()
        new = c.create_run(c.get_experiment_by_name("bench").experiment_id).info.run_id
        ms = [Metric(k, v, 0, s) for k, pts in hist.items() for s, v in pts if s <= step]
        for i in range(0, len(ms), 1000):
            c.log_batch(new, metrics=ms[i:i + 1000])
        c.set_terminated(new)


class TensorboardX:
    native_fork = False
    native_rewind = True  # SummaryWriter(purge_step=N): readers drop events with step >= N

    def __init__(self, work: str):
        from tensorboardX import SummaryWriter

        self.SW, self.work = SummaryWriter, work

    def open(self, name: str):
        self.dir = os.path.join(self.work, "tb", name)
        self.w = self.SW(self.dir)
        return None

    def log(self, i, d):
        for k, v in d.items():
            self.w.add_scalar(k, v, i)

    def close(self):
        self.w.close()

    def _acc(self):
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(self.dir, size_guidance={"scalars": 0})
        acc.Reload()
        return acc

    def read(self, key: str) -> int:
        return len(self._acc().Scalars(key))

    def history(self):
        acc = self._acc()
        return {k: [(e.step, e.value) for e in acc.Scalars(k)] for k in KEYS}

    def write_prefix(self, hist, step):
        w = self.SW(os.path.join(self.work, "tb", "copy"))
        for k, pts in hist.items():
            for s, v in pts:
                if s <= step:
                    w.add_scalar(k, v, s)
        w.close()

    def rewind(self, step: int) -> None:
        self.SW(self.dir, purge_step=step + 1).close()


class Aim:
    native_fork = native_rewind = False

    def __init__(self, work: str):
        import aim

        self.aim, self.repo = aim, os.path.join(work, "aim")
        os.makedirs(self.repo, exist_ok=True)
        subprocess.run([sys.executable, "-m", "aim", "init", "--repo", self.repo], capture_output=True)

    def open(self, name: str):
        self.run = self.aim.Run(repo=self.repo, experiment="bench", system_tracking_interval=None,
                                log_system_params=False, capture_terminal_logs=False)
        self.hash = self.run.hash
        return None

    def log(self, i, d):
        for k, v in d.items():
            self.run.track(v, name=k, step=i)

    def close(self):
        self.run.close()

    def _metric(self, key):
        """Aim's readers see a run only once it is indexed; indexing is part of the read time."""
        from aim.sdk.index_manager import RepoIndexManager
        from aim.storage.context import Context

        RepoIndexManager.get_index_manager(self.aim.Repo(self.repo)).index(self.hash)
        return self.aim.Repo(self.repo).get_run(self.hash).get_metric(key, Context({}))

    def read(self, key: str) -> int:
        return len(list(self._metric(key).values.values_list()))

    def relog_prefix(self, data, step):
        """Re-log the prefix the caller still has (reading every metric back needs one index pass
        per query, which is slower than this)."""
        run = self.aim.Run(repo=self.repo, experiment="bench", system_tracking_interval=None,
                           log_system_params=False, capture_terminal_logs=False)
        for i, d in enumerate(data[:step + 1]):
            for k, v in d.items():
                run.track(v, name=k, step=i)
        run.close()


def make(peer: str, work: str):
    if peer == "forkpoint":
        return Forkpoint(work)
    if peer == "wandb":
        return Wandb(work)
    if peer.startswith("mlflow"):
        return MLflow(work, asynchronous=peer.endswith("async"))
    if peer == "tensorboardX":
        return TensorboardX(work)
    if peer == "aim":
        return Aim(work)
    raise SystemExit(f"unknown peer {peer}")


# -- child tasks -----------------------------------------------------------------------------------
def task_hot(peer: str, work: str, steps: int) -> dict:
    t = make(peer, work)
    data = rows(steps)
    t.open("hot")
    log, pc = t.log, time.perf_counter_ns
    ts = [0] * steps
    cpu0, wall0 = tree_cpu(), time.perf_counter()
    for i, d in enumerate(data):
        s = pc()
        log(i, d)
        ts[i] = pc() - s
    t.close()
    os.sync()
    wall = time.perf_counter() - wall0
    cpu = tree_cpu() - cpu0
    ts.sort()
    out = {"mean": sum(ts) / steps / 1000, "p50": ts[steps // 2] / 1000, "p99": ts[int(steps * 0.99)] / 1000,
           "cpu_per_step": cpu / steps * 1e6, "pts_per_s": steps * len(KEYS) / wall}
    t0 = time.perf_counter()
    n = t.read("m0")
    out["read_s"] = None if n is None else time.perf_counter() - t0
    out["read_n"] = n
    return out


def task_branch(peer: str, work: str, points: int) -> dict:
    t = make(peer, work)
    steps = points // len(KEYS)
    data = rows(steps)
    t.open("source")
    if hasattr(t, "bulk"):
        t.bulk(data)
    else:
        for i, d in enumerate(data):
            t.log(i, d)
    t.close()
    at = steps // 2
    out = {}
    for what in ("fork", "rewind"):
        native = getattr(t, f"native_{what}")
        t0 = time.perf_counter()
        if native:
            getattr(t, what)(at)
        elif hasattr(t, "history"):
            t.write_prefix(t.history(), at)
        elif hasattr(t, "relog_prefix"):
            t.relog_prefix(data, at)
            out[what] = {"s": time.perf_counter() - t0, "how": "emulation (re-log prefix)"}
            continue
        else:
            out[what] = {"s": None, "how": "not possible offline"}
            continue
        out[what] = {"s": time.perf_counter() - t0, "how": "native" if native else "emulation (copy prefix)"}
    return out


def task_train(variant: str, work: str, steps: int) -> dict:
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=work, MLFLOW_DISABLE_TELEMETRY="true")
    warnings.filterwarnings("ignore")
    import logging

    import lightning.pytorch as L
    import torch

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("loss", loss)
            self.log("loss_x2", loss * 2)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.repeat(steps, 1), x.sum(1, keepdim=True).repeat(steps, 1)),
                                       batch_size=8)
    if variant == "none":
        logger = False
    elif variant == "forkpoint":
        from forkpoint.integrations.lightning import ForkpointLogger

        logger = ForkpointLogger(project="bench", store=f"sqlite:///{work}/fp.db")
    elif variant == "wandb":
        logger = L.loggers.WandbLogger(project="bench", offline=True, save_dir=work)
    elif variant == "mlflow_sync":
        logger = L.loggers.MLFlowLogger(experiment_name="bench", tracking_uri=f"sqlite:///{work}/mlflow.db")
    elif variant == "tensorboardX":
        logger = L.loggers.TensorBoardLogger(save_dir=work)
    elif variant == "aim":
        from aim.pytorch_lightning import AimLogger

        logger = AimLogger(repo=os.path.join(work, "aim"), experiment="bench", system_tracking_interval=None)
    else:
        raise SystemExit(variant)
    trainer = L.Trainer(max_steps=steps, logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    t0 = time.perf_counter()
    trainer.fit(Tiny(), data)
    if logger:
        logger.finalize("success")
        if variant == "wandb":
            import wandb

            wandb.finish()
    return {"wall_s": time.perf_counter() - t0}


def child(args: list[str]) -> None:
    kind, peer, work, n = args[0], args[1], args[2], int(args[3])
    fn = {"hot": task_hot, "branch": task_branch, "train": task_train}[kind]
    print("RESULT " + json.dumps(fn(peer, work, n)), flush=True)


def run_child(kind: str, peer: str, n: int, timeout: float = 1800) -> dict:
    work = tempfile.mkdtemp(prefix=f"fp-peer-{peer}-")
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, __file__, "--child", kind, peer, work, str(n)], capture_output=True,
                           text=True, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    print(f"  {kind:<6} {peer:<13} n={n:<8} {time.perf_counter() - t0:6.1f}s {'ok' if line else 'FAILED'}", file=sys.stderr)
    if line is None:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1][:160]}
    return json.loads(line[len("RESULT "):])


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("forkpoint", "wandb", "mlflow", "tensorboardX", "tensorboard", "aim", "lightning", "torch"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def fmt(v, spec=".1f", unit=""):
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="1k steps, fork at 10k points only, 200 training steps")
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    peers = args.peers.split(",")
    steps = 1_000 if args.quick else 10_000
    sizes = [10_000] if args.quick else [10_000, 1_000_000]
    train_steps = 200 if args.quick else 2_000

    hot = {peer: run_child("hot", peer, steps) for peer in peers}
    branch = {(peer, n): run_child("branch", peer, n) for n in sizes for peer in peers}
    variants = ["none"] + [v for v in peers if v != "mlflow_async"]
    train: dict[str, list[float]] = {v: [] for v in variants}
    train_err: dict[str, str] = {}
    for _ in range(2):  # alternate the variants twice; keep the faster of each (noisy machine)
        for v in variants:
            got = run_child("train", v, train_steps)
            if "error" in got:
                train_err[v] = got["error"]
            else:
                train[v].append(got["wall_s"])

    lines = [f"### Hot path: {steps:,} steps x 10 scalars\n",
             "| tracker | µs/log mean | p50 | p99 | CPU µs/step (all threads, processes) | durable pts/s | read m0 back |",
             "|---|---|---|---|---|---|---|"]
    for peer, r in hot.items():
        if "error" in r:
            lines.append(f"| {peer} | error: {r['error']} ||||||")
            continue
        read = "no read API offline" if r["read_n"] is None else f"{r['read_s'] * 1000:.1f} ms ({r['read_n']:,} pts)"
        lines.append(f"| {peer} | {r['mean']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['cpu_per_step']:.1f} | "
                     f"{r['pts_per_s']:,.0f} | {read} |")
    lines += ["", "### Fork and rewind at the middle of a run", "",
              "| tracker | points | fork | rewind |", "|---|---|---|---|"]
    for (peer, n), r in branch.items():
        if "error" in r:
            lines.append(f"| {peer} | {n:,} | error: {r['error']} | |")
            continue
        cell = lambda x: "n/a: " + x["how"] if x["s"] is None else f"{x['s'] * 1000:,.1f} ms ({x['how']})"  # noqa: E731
        lines.append(f"| {peer} | {n:,} | {cell(r['fork'])} | {cell(r['rewind'])} |")
    base = min(train["none"]) if train["none"] else None
    lines += ["", f"### Lightning training loop, {train_steps:,} steps, logging every step (best of 2)", "",
              "| logger | wall s | overhead vs no logger |", "|---|---|---|"]
    for v in variants:
        if not train[v]:
            lines.append(f"| {v} | error: {train_err.get(v, '?')} | |")
            continue
        w = min(train[v])
        lines.append(f"| {v} | {w:.2f} | {'—' if v == 'none' or base is None else f'{(w - base) / base:+.0%}'} |")
    env = (f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; {versions()}; "
           f"run {time.strftime('%Y-%m-%d %H:%M')}{' (quick sizes)' if args.quick else ''}.")
    text = env + "\n\n" + "\n".join(lines)
    print(text)
    if args.write_results:
        sys.path.insert(0, str(Path(__file__).parent))
        from results import write_section

        write_section("peers", "Side by side with peers (`benchmarks/compare_peers.py`)", text)


if __name__ == "__main__":
    main()
