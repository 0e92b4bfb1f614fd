"""Lightning + forkpoint: crash, resume from the checkpoint (the run is rewound), fork with another
learning rate, print the lineage.

    pip install 'forkpoint[lightning]'
    python examples/lightning_resume.py [--store PATH]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import forkpoint
import lightning.pytorch as L
import torch
from forkpoint.integrations.lightning import ForkpointLogger


class Regressor(L.LightningModule):
    def __init__(self, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def training_step(self, batch, _):
        loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

    def on_load_checkpoint(self, checkpoint):  # a fork with another lr: apply it to the restored optimizer
        for opt in checkpoint.get("optimizer_states", []):
            for group in opt["param_groups"]:
                group["lr"] = self.hparams.lr

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 4, generator=g)
    y = torch.sin(x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)


class CrashAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise SystemExit(f"simulated crash at global_step {self.step}")


def fit(store: str, workdir: Path, *, lr=0.05, crash_at=None, ckpt_path=None, on_resume="rewind"):
    """What a user writes: a Trainer with ForkpointLogger, and fit(ckpt_path=...) to resume."""
    trainer = L.Trainer(
        max_epochs=4, logger=ForkpointLogger(project="lightning-demo", store=store, on_resume=on_resume),
        callbacks=[L.callbacks.ModelCheckpoint(dirpath=workdir / "ckpt", save_last=True, save_top_k=-1,
                                                   every_n_train_steps=10)]
        + ([CrashAt(crash_at)] if crash_at else []),
        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Regressor(lr), data(), data(), ckpt_path=ckpt_path)


def main() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    p = argparse.ArgumentParser()
    p.add_argument("--store", default=None)
    p.add_argument("--_crash", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._crash:
        fit(args._crash[0], Path(args._crash[1]), crash_at=25)
        return
    work = Path(tempfile.mkdtemp(prefix="fp-lightning-"))
    store = args.store or str(work / "runs.db")
    print("1. train; the process dies at global_step 25 (checkpoints every 10 steps)")
    subprocess.run([sys.executable, __file__, "--_crash", store, str(work)], capture_output=True)
    print("2. restart with ckpt_path='last': the run is rewound to the checkpoint and continues")
    fit(store, work, ckpt_path="last")
    (run,) = forkpoint.Api(store).runs("lightning-demo")
    print(f"   run {run.id}: kind={run.kind}, parent={run.parent}, state={run.state}")
    print("3. fork from the step-20 checkpoint with lr=0.01")
    fit(store, work / "fork", ckpt_path=str(next((work / "ckpt").glob("*step=20.ckpt"))), lr=0.01, on_resume="fork")
    print()
    subprocess.run([sys.executable, "-m", "forkpoint", "--store", store, "tree", run.id])
    for v in forkpoint.Api(store).runs("lightning-demo"):
        print(f"{v.id} {v.kind:<7} lr={v.config.get('lr')} last val_loss={v.summary.get('val_loss'):.4f} "
              f"steps 0..{v.last_step}")


if __name__ == "__main__":
    main()
