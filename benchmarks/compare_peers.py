"""forkpoint side by side with the trackers users would pick instead (issue 7).

    bash benchmarks/run_peers.sh            # makes .venv-bench with the [bench] extra, then runs this
    .venv-bench/bin/python benchmarks/compare_peers.py [--quick] [--write-results] [--sections hot,branch,train,media]

Everything is offline and deterministic. Each measurement runs in a child process of this one run,
one after another, so that CPU can be counted per tracker, background threads and helper processes
included. Peers: wandb (offline), MLflow (sqlite backend, synchronous and asynchronous logging),
tensorboardX, Aim and trackio (local SQLite; no server, no browser).

Each child works in its own fresh temporary directory (its cwd; every tracker is pointed there), and
"durable" means the tracker's own close/finish followed by an fsync of every file and directory in
that directory: the figure depends on the tracker, not on what else the machine had dirty. The
peers run in a different order in each repetition (rotations of a seeded shuffle, printed with the
results), so no tracker always runs first after a cold start or right after a heavy one.

The media section logs a 256x256 RGB image every step (`Image` of a uint8 NumPy array, converted
inside the timed call) with forkpoint, wandb offline and trackio: a new random image each step, and
the same image each step (where de-duplication can help).

Fork and rewind use the peer's native mechanism where one exists and works offline; otherwise the
cheapest emulation the peer allows (read the source history, write the prefix into a new run),
labelled as emulation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

KEYS = [f"m{k}" for k in range(10)]
PEERS = ["forkpoint", "wandb", "mlflow_sync", "mlflow_async", "tensorboardX", "aim", "trackio"]
MEDIA_PEERS = ["forkpoint", "wandb", "trackio"]  # the trackers issue 17 compares image logging with
SECTIONS = ["hot", "branch", "train", "media"]
IMG = (256, 256, 3)


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


def fsync_tree(root: str) -> None:
    """Make everything under root durable: fsync each regular file, then each directory (entries)."""
    for d, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue  # sockets, fifos and links are not data
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # a temporary file that went away meanwhile
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_usage(root: str) -> tuple[int, int]:
    """(bytes allocated on disk, apparent bytes) of the regular files under root."""
    blocks = size = 0
    for d, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(d, name))
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                blocks += st.st_blocks * 512
                size += st.st_size
    return blocks, size


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

    def image(self, arr):
        return self.fp.Image(arr)

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

    def image(self, arr):
        return self.wandb.Image(arr)

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


class Trackio:
    native_fork = native_rewind = False  # no rewind or fork; resume="allow" only appends to a run

    def __init__(self, work: str):
        # TRACKIO_DIR is read once, at import: the project databases and media go under the work dir.
        # Local mode starts no server and opens no browser (only a notebook with embed=True would).
        os.environ.update(TRACKIO_DIR=os.path.join(work, "trackio"), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
        import trackio
        from trackio.sqlite_storage import SQLiteStorage

        self.trackio, self.storage = trackio, SQLiteStorage

    def open(self, name: str):
        # no CPU/GPU sampling thread, as wandb runs here with _disable_stats
        self.run = self.trackio.init(project="bench", name=name, embed=False, auto_log_cpu=False, auto_log_gpu=False)
        self.name = name
        return None

    def log(self, i, d):
        self.run.log(d, step=i)

    def close(self):
        self.run.finish()

    def image(self, arr):
        return self.trackio.Image(arr)

    def read(self, key: str) -> int:
        # what `trackio get metric` and the dashboard's get_metric_values call
        return len(self.storage.get_metric_values("bench", self.name, key))

    def history(self):
        return self.storage.get_logs("bench", self.name)

    def write_prefix(self, hist, step):
        """The cheapest copy trackio has: one bulk_log (what its CSV and TensorBoard importers use)."""
        prefix = [r for r in hist if r["step"] <= step]
        self.storage.bulk_log(project="bench", run=f"copy-{time.time_ns()}", steps=[r["step"] for r in prefix],
                              metrics_list=[{k: r[k] for k in KEYS} for r in prefix])


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
    if peer == "trackio":
        return Trackio(work)
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
    fsync_tree(work)
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
    logger: Any
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
    elif variant == "trackio":
        logger = trackio_lightning_logger(L, work)
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


def trackio_lightning_logger(L, work: str):
    """Lightning ships no trackio logger (and trackio none for Lightning): the minimal one a user writes."""
    os.environ.update(TRACKIO_DIR=os.path.join(work, "trackio"), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    import trackio

    class TrackioLogger(L.loggers.Logger):
        def __init__(self):
            super().__init__()
            self.run = trackio.init(project="bench", embed=False, auto_log_cpu=False, auto_log_gpu=False)
            self.done = False

        @property
        def name(self):
            return "trackio"

        @property
        def version(self):
            return self.run.name

        def log_hyperparams(self, params, *args, **kwargs):
            pass  # the tiny model has none

        def log_metrics(self, metrics, step=None):
            self.run.log(dict(metrics), step=step)

        def finalize(self, status):
            if not self.done:
                self.done = True
                self.run.finish()

    return TrackioLogger()


def task_media(peer: str, work: str, steps: int, same: bool = False) -> dict:
    """A 256x256 RGB uint8 image every step: per-call cost (conversion included), finish, store growth."""
    import numpy as np

    t = make(peer, work)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, IMG, dtype=np.uint8) for _ in range(1 if same else steps)]
    before = disk_usage(work)[0]
    t.open("media")
    log, image, pc = t.log, t.image, time.perf_counter_ns
    ts = [0] * steps
    cpu0, wall0 = tree_cpu(), time.perf_counter()
    for i in range(steps):
        arr = imgs[0 if same else i]
        s = pc()
        log(i, {"img": image(arr)})
        ts[i] = pc() - s
    c0 = time.perf_counter()
    t.close()
    c1 = time.perf_counter()
    fsync_tree(work)
    c2 = time.perf_counter()
    cpu = tree_cpu() - cpu0
    on_disk, apparent = disk_usage(work)
    ts.sort()
    return {"before": before, "mean_ms": sum(ts) / steps / 1e6, "p50_ms": ts[steps // 2] / 1e6, "p99_ms": ts[int(steps * 0.99)] / 1e6,
            "finish_s": c1 - c0, "fsync_s": c2 - c1, "total_s": c2 - wall0, "cpu_ms_per_step": cpu / steps * 1e3,
            "growth": on_disk - before, "apparent": apparent, "steps": steps}


def child(args: list[str]) -> None:
    kind, peer, work, n = args[0], args[1], args[2], int(args[3])
    fn = {"hot": task_hot, "branch": task_branch, "train": task_train, "media": task_media,
          "media_same": lambda p, w, k: task_media(p, w, k, same=True)}[kind]
    print("RESULT " + json.dumps(fn(peer, work, n)), flush=True)


def run_child(kind: str, peer: str, n: int, timeout: float = 1800) -> dict:
    work = tempfile.mkdtemp(prefix=f"fp-peer-{peer}-")
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, __file__, "--child", kind, peer, work, str(n)], capture_output=True,
                           text=True, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        shutil.rmtree(work, ignore_errors=True)
        return {"error": f"timed out after {timeout:.0f}s"}
    exit_disk = disk_usage(work)[0]  # after the process is gone (SQLite folds its WAL back in at the last close)
    shutil.rmtree(work, ignore_errors=True)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    print(f"  {kind:<10} {peer:<13} n={n:<8} {time.perf_counter() - t0:6.1f}s {'ok' if line else 'FAILED'}", file=sys.stderr)
    if line is None:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1][:160]}
    return {**json.loads(line[len("RESULT "):]), "exit_disk": exit_disk}


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("forkpoint", "wandb", "mlflow", "tensorboardX", "tensorboard", "aim", "trackio", "lightning", "torch"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def fmt(v, spec=".1f", unit=""):
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def orders(items: list[str], reps: int, seed: str) -> list[list[str]]:
    """One order per repetition: rotations of a seeded shuffle, so each item takes a different place."""
    base = list(items)
    random.Random(seed).shuffle(base)
    return [base[r % len(base):] + base[:r % len(base)] for r in range(reps)]


def med(rs: list[dict], key: str):
    xs = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def png_size() -> int | None:
    """Bytes of one random 256x256 RGB image as a PNG (Pillow's defaults): the floor for a lossless store."""
    try:
        import io

        import numpy as np
        from PIL import Image
    except ImportError:
        return None
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, IMG, dtype=np.uint8)).save(buf, format="PNG")
    return len(buf.getvalue())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true",
                   help="1k steps, fork at 10k points only, 200 training steps, 100 images, one repetition")
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--sections", default=",".join(SECTIONS), help="any of " + ",".join(SECTIONS))
    p.add_argument("--reps", type=int, help="repetitions of the hot path and media runs (default 3; quick 1)")
    p.add_argument("--seed", default="17", help="seeds the order the peers run in")
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    peers = args.peers.split(",")
    sections = args.sections.split(",")
    unknown = set(peers) - set(PEERS) | set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown peer or section: {sorted(unknown)}")
    reps = args.reps or (1 if args.quick else 3)
    steps = 1_000 if args.quick else 10_000
    sizes = [10_000] if args.quick else [10_000, 1_000_000]
    train_steps = 200 if args.quick else 2_000
    media_steps = 100 if args.quick else 1_000
    order_notes: list[str] = []
    started, load0 = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]

    def plan(what: str, items: list[str], n: int) -> list[list[str]]:
        got = orders(items, n, f"{args.seed}/{what}")
        order_notes.append(f"{what}: " + "; ".join(" → ".join(o) for o in got))
        return got

    lines: list[str] = []
    if "hot" in sections:
        hot: dict[str, list[dict]] = {peer: [] for peer in peers}
        hot_err: dict[str, list[str]] = {peer: [] for peer in peers}
        for order in plan("hot path", peers, reps):
            for peer in order:
                r = run_child("hot", peer, steps)
                (hot_err[peer].append(r["error"]) if "error" in r else hot[peer].append(r))
        lines += [f"### Hot path: {steps:,} steps x 10 scalars ({'median of ' + str(reps) + ' runs' if reps > 1 else 'one run'})\n",
                  "| tracker | µs/log mean | p50 | p99 | CPU µs/step (all threads, processes) | durable pts/s | read m0 back |",
                  "|---|---|---|---|---|---|---|"]
        for peer in peers:
            rs = hot[peer]
            if not rs:
                lines.append(f"| {peer} | FAILED: {hot_err[peer][-1]} ||||||")
                continue
            read = ("no read API offline" if rs[0]["read_n"] is None
                    else f"{med(rs, 'read_s') * 1000:.1f} ms ({rs[0]['read_n']:,} pts)")
            spread = f" ({min(r['pts_per_s'] for r in rs):,.0f}–{max(r['pts_per_s'] for r in rs):,.0f})" if len(rs) > 1 else ""
            failed = f" ({len(hot_err[peer])} run(s) FAILED: {hot_err[peer][-1]})" if hot_err[peer] else ""
            lines.append(f"| {peer}{failed} | {med(rs, 'mean'):.1f} | {med(rs, 'p50'):.1f} | {med(rs, 'p99'):.1f} | "
                         f"{med(rs, 'cpu_per_step'):.1f} | {med(rs, 'pts_per_s'):,.0f}{spread} | {read} |")
    if "branch" in sections:
        branch = {}
        for n, order in zip(sizes, plan("fork and rewind", peers, len(sizes))):
            for peer in order:
                branch[(peer, n)] = run_child("branch", peer, n)
        lines += ["", "### Fork and rewind at the middle of a run", "",
                  "| tracker | points | fork | rewind |", "|---|---|---|---|"]
        for n in sizes:
            for peer in peers:
                r = branch[(peer, n)]
                if "error" in r:
                    lines.append(f"| {peer} | {n:,} | FAILED: {r['error']} | |")
                    continue
                cell = lambda x: "n/a: " + x["how"] if x["s"] is None else f"{x['s'] * 1000:,.1f} ms ({x['how']})"  # noqa: E731
                lines.append(f"| {peer} | {n:,} | {cell(r['fork'])} | {cell(r['rewind'])} |")
    if "train" in sections:
        variants = ["none"] + [v for v in peers if v != "mlflow_async"]
        train: dict[str, list[float]] = {v: [] for v in variants}
        train_err: dict[str, str] = {}
        for order in plan("Lightning", variants, 3):  # each variant three times, in three orders; keep the fastest (noisy machine)
            for v in order:
                got = run_child("train", v, train_steps)
                if "error" in got:
                    train_err[v] = got["error"]
                else:
                    train[v].append(got["wall_s"])
        base = min(train["none"]) if train["none"] else None
        lines += ["", f"### Lightning training loop, {train_steps:,} steps, logging every step (best of 3)", "",
                  "| logger | wall s | overhead vs no logger |", "|---|---|---|"]
        for v in variants:
            if not train[v]:
                lines.append(f"| {v} | FAILED: {train_err.get(v, '?')} | |")
                continue
            w = min(train[v])
            lines.append(f"| {v} | {w:.2f} | {'—' if v == 'none' or base is None else f'{(w - base) / base:+.0%}'} |")
    media_lines: list[str] = []
    if "media" in sections:
        mpeers = [peer for peer in MEDIA_PEERS if peer in peers]
        media: dict[tuple[str, str], list[dict]] = {(pe, k): [] for pe in mpeers for k in ("media", "media_same")}
        media_err: dict[tuple[str, str], list[str]] = {key: [] for key in media}
        for order in plan("images", mpeers, reps):
            for peer in order:
                for kind in ("media", "media_same"):
                    r = run_child(kind, peer, media_steps)
                    (media_err[(peer, kind)].append(r["error"]) if "error" in r else media[(peer, kind)].append(r))
        png = png_size()
        media_lines += [
            f"### A 256×256 RGB image every step, {media_steps:,} steps "
            f"({'median of ' + str(reps) + ' runs' if reps > 1 else 'one run'})", "",
            f"Raw pixels: 196,608 bytes per image; one random image as a PNG (Pillow defaults): "
            f"{fmt(png, ',')} bytes. Random noise does not compress: a worst case for every tracker.", "",
            "| tracker | images | log() p50 ms | mean ms | p99 ms | finish s | fsync s | CPU ms/step | "
            "store growth after finish | after the process exits | per image (after exit) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
        for kind, label in (("media", "a new random one each step"), ("media_same", "the same one each step")):
            for peer in mpeers:
                rs = media[(peer, kind)]
                if not rs:
                    media_lines.append(f"| {peer} | {label} | FAILED: {media_err[(peer, kind)][-1]} ||||||||")
                    continue
                failed = f" ({len(media_err[(peer, kind)])} run(s) FAILED: {media_err[(peer, kind)][-1]})" if media_err[(peer, kind)] else ""
                g = med(rs, "growth")
                gx = statistics.median(r["exit_disk"] - r["before"] for r in rs)
                media_lines.append(
                    f"| {peer}{failed} | {label} | {med(rs, 'p50_ms'):.2f} | {med(rs, 'mean_ms'):.2f} | {med(rs, 'p99_ms'):.2f} | "
                    f"{med(rs, 'finish_s'):.2f} | {med(rs, 'fsync_s'):.3f} | {med(rs, 'cpu_ms_per_step'):.2f} | "
                    f"{g / 2**20:,.1f} MiB | {gx / 2**20:,.1f} MiB | {gx / media_steps / 1024:,.1f} KiB |")
    env = (f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.platform()}, Python {platform.python_version()}; "
           f"{versions()}; run {started} to {time.strftime('%H:%M')}{' (quick sizes)' if args.quick else ''}; "
           f"load average (1 min) {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n\n"
           f"Order the peers ran in (rotations of a shuffle seeded with {args.seed!r}): " + " / ".join(order_notes) + ".")
    text = env + "\n\n" + "\n".join(lines)
    print(text)
    if media_lines:
        print("\n".join(media_lines))
    if args.write_results:
        sys.path.insert(0, str(Path(__file__).parent))
        from results import write_section

        if {"hot", "branch", "train"} <= set(sections):
            write_section("peers", "Side by side with peers (`benchmarks/compare_peers.py`)", text)
        elif lines:
            print("not written: the peers section is written only from a run of all of hot, branch and train", file=sys.stderr)
        if media_lines:
            media_env = env.split("\n\n")[0] + "\n\n" + "Order: " + next(o for o in order_notes if o.startswith("images"))
            write_section("media", "Image logging side by side (`benchmarks/compare_peers.py`, media section)",
                          media_env + ".\n\n" + "\n".join(media_lines))


if __name__ == "__main__":
    main()
