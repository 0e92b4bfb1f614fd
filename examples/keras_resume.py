"""Keras 3 + forkpoint: a crash, a restart that BackupAndRestore resumes (the run is rewound), a fork
with another learning rate, and the lineage.

    pip install 'forkpoint[keras]'
    KERAS_BACKEND=torch python examples/keras_resume.py [--store PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import forkpoint  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from forkpoint.integrations.keras import ForkpointCallback  # noqa: E402


def make_model(lr: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9), loss="mse")
    return m


class CrashAt(keras.callbacks.Callback):
    def __init__(self, iteration: int):
        super().__init__()
        self.iteration = iteration

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == self.iteration:
            raise SystemExit(f"simulated crash at iteration {self.iteration}")


class SetLR(keras.callbacks.Callback):
    """BackupAndRestore restores the optimizer's variables, learning rate included: set ours after it."""

    def __init__(self, lr: float):
        super().__init__()
        self.lr = lr

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.lr)


def train(store: str, backup: str, lr: float = 0.05, crash_at: int | None = None, on_resume: str = "rewind") -> None:
    """What a user writes: BackupAndRestore and ForkpointCallback (naming the backup), in any order;
    an evaluate() after fit lands in the run's last row; finish() ends the run (else process exit does)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")
    backup_cb = keras.callbacks.BackupAndRestore(backup)
    fp = ForkpointCallback(project="keras-demo", store=store, on_resume=on_resume, config={"lr": lr},
                           savers=[backup_cb])
    model = make_model(lr)
    model.fit(x, y, batch_size=32, epochs=5, validation_split=0.25, shuffle=False, verbose=0,
              callbacks=[backup_cb, fp, SetLR(lr)] + ([CrashAt(crash_at)] if crash_at else []))
    model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[fp])
    fp.finish()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default=None)
    p.add_argument("--_crash", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._crash:
        train(args._crash[0], args._crash[1], crash_at=18)
        return
    work = tempfile.mkdtemp(prefix="fp-keras-")
    store, backup = args.store or os.path.join(work, "runs.db"), os.path.join(work, "backup")
    print("1. train 5 epochs x 6 batches; the process dies at iteration 18 (backups at each epoch end)")
    subprocess.run([sys.executable, __file__, "--_crash", store, backup], capture_output=True)
    fork_backup = os.path.join(work, "backup-fork")
    subprocess.run(["cp", "-r", backup, fork_backup])  # keep the epoch-2 backup for the fork below
    print("2. restart: BackupAndRestore restores iteration 12 and the run is rewound there")
    train(store, backup)
    (run,) = forkpoint.Api(store).runs("keras-demo")
    print(f"   run {run.id}: kind={run.kind}, parent={run.parent}, state={run.state}")
    print("3. the same backup, resumed with lr=0.01 as a fork")
    train(store, fork_backup, lr=0.01, on_resume="fork")
    print()
    subprocess.run([sys.executable, "-m", "forkpoint", "--store", store, "tree", run.id])
    for v in forkpoint.Api(store).runs("keras-demo"):
        print(f"{v.id} {v.kind:<7} lr={v.config.get('lr')} epoch/val_loss={v.summary.get('epoch/val_loss'):.4f} "
              f"steps 1..{v.last_step}")


if __name__ == "__main__":
    main()
