"""A 2-process CPU (gloo) Lightning training, started by test_multiprocess.py as its own program:
Lightning's DDP launcher re-runs this file for rank 1, and ddp_spawn pickles the Trainer into
spawned workers, neither of which works from inside pytest.

    python mp_lightning.py STORE WORKDIR STRATEGY [--crash-at N] [--ckpt PATH] [--log-before] [--test]
"""

from __future__ import annotations

import argparse
import os
import sys

import lightning.pytorch as L
import torch
from forkpoint.integrations.lightning import ForkpointLogger

BATCHES_PER_RANK, EPOCHS = 4, 3


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def test_step(self, batch, _):
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


class Crash(L.Callback):
    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise RuntimeError(f"simulated crash at global_step {self.at_step}")


class RankZeroLoggerCheck(L.Callback):
    """From Lightning's loggers/test_all.py: rank 0 gets the real experiment, the others a dummy."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        from lightning.pytorch.loggers.logger import DummyExperiment

        is_dummy = isinstance(trainer.logger.experiment, DummyExperiment)
        assert is_dummy != trainer.is_global_zero, f"rank {trainer.global_rank}: experiment {trainer.logger.experiment!r}"


def loader():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    n = 2 * BATCHES_PER_RANK  # every batch holds the same samples on both ranks
    data = torch.utils.data.TensorDataset(x.repeat(n, 1), y.repeat(n, 1))
    return torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("workdir")
    p.add_argument("strategy", choices=["ddp", "ddp_spawn"])
    p.add_argument("--crash-at", type=int)
    p.add_argument("--ckpt")
    p.add_argument("--log-before", action="store_true")
    p.add_argument("--test", action="store_true")
    a = p.parse_args()
    logger = ForkpointLogger(project="mp", store=a.store)
    if a.log_before:
        logger.log_metrics({"before_fit": 1.0}, step=0)
    callbacks: list[L.Callback] = [L.callbacks.ModelCheckpoint(
        dirpath=os.path.join(a.workdir, "ckpt"), save_top_k=-1, every_n_train_steps=4), RankZeroLoggerCheck()]
    if a.crash_at is not None:
        callbacks.append(Crash(a.crash_at))
    trainer = L.Trainer(strategy=a.strategy, accelerator="cpu", devices=2, max_epochs=EPOCHS, logger=logger,
                        callbacks=callbacks, log_every_n_steps=1, enable_progress_bar=False,
                        enable_model_summary=False, deterministic=True, default_root_dir=a.workdir)
    model = Tiny()
    trainer.fit(model, loader(), loader(), ckpt_path=a.ckpt)
    if a.test:
        trainer.test(model, loader())
    if trainer.global_rank == 0:
        print(f"RUN {logger.run_id}", file=sys.stderr)


if __name__ == "__main__":
    main()
