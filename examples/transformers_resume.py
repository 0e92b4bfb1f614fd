"""Hugging Face Trainer + forkpoint: crash, resume_from_checkpoint=True (the run is rewound), a fork
with another learning rate, and the lineage. A tiny GPT-2 built from a config; nothing is downloaded.

    pip install 'forkpoint[transformers]'
    python examples/transformers_resume.py [--store PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings

import forkpoint
import torch
import transformers
from forkpoint.integrations.transformers import ForkpointCallback


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int = 64):
        self.ids = torch.randint(0, 64, (n, 16), generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class CrashAt(transformers.TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise SystemExit(f"simulated crash at step {self.step}")


class ApplyLR(transformers.TrainerCallback):
    """A resume restores the optimizer and scheduler, old learning rate included: apply this run's."""

    def __init__(self, lr: float):
        self.lr = lr

    def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kw):
        if lr_scheduler is not None:
            lr_scheduler.base_lrs = [self.lr for _ in lr_scheduler.base_lrs]
        for group in optimizer.param_groups if optimizer is not None else []:
            group["lr"] = self.lr


def train(store: str, out: str, lr: float = 5e-3, crash_at: int | None = None, on_resume: str = "rewind",
          resume: bool | str = False) -> None:
    """What a user writes: callbacks=[ForkpointCallback(...)] and train(resume_from_checkpoint=...)."""
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32,
                                                                 n_layer=2, n_head=2))
    args = transformers.TrainingArguments(
        output_dir=out, per_device_train_batch_size=8, num_train_epochs=4, learning_rate=lr, logging_steps=1,
        eval_strategy="steps", eval_steps=4, save_steps=8, report_to="none", use_cpu=True, disable_tqdm=True)
    callbacks = [ForkpointCallback(project="hf-demo", store=store, on_resume=on_resume)]
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(), eval_dataset=Tokens(16),
                                   callbacks=callbacks + [ApplyLR(lr)] + ([CrashAt(crash_at)] if crash_at else []))
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train(resume_from_checkpoint=resume or None)
    trainer.evaluate()  # lands in the run's last row (the run stays open after train)
    callbacks[0].finish()  # else the run is finished at process exit


def main() -> None:
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    p = argparse.ArgumentParser()
    p.add_argument("--store", default=None)
    p.add_argument("--_crash", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._crash:
        train(args._crash[0], args._crash[1], crash_at=21)
        return
    work = tempfile.mkdtemp(prefix="fp-hf-")
    store, out = args.store or os.path.join(work, "runs.db"), os.path.join(work, "out")
    print("1. train 32 steps; the process dies at step 21 (checkpoints every 8 steps)")
    subprocess.run([sys.executable, __file__, "--_crash", store, out], capture_output=True)
    print("2. train(resume_from_checkpoint=True): checkpoint-16 is restored and the run is rewound there")
    train(store, out, resume=True)
    (run,) = forkpoint.Api(store).runs("hf-demo")
    print(f"   run {run.id}: kind={run.kind}, parent={run.parent}, state={run.state}")
    print("3. fork from checkpoint-8 with learning_rate=1e-3")
    train(store, os.path.join(work, "fork"), lr=1e-3, on_resume="fork", resume=os.path.join(out, "checkpoint-8"))
    print()
    subprocess.run([sys.executable, "-m", "forkpoint", "--store", store, "tree", run.id])
    for v in forkpoint.Api(store).runs("hf-demo"):
        print(f"{v.id} {v.kind:<7} lr={v.config['learning_rate']} eval/loss={v.summary['eval/loss']:.4f} "
              f"steps 1..{v.last_step}")


if __name__ == "__main__":
    main()
