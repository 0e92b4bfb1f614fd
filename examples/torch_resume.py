"""Plain PyTorch + forkpoint: a training loop that crashes, resumes from its checkpoint (the run is
rewound there), and is forked with another learning rate.

    python examples/torch_resume.py [--store PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import forkpoint
import torch
from forkpoint.integrations.torch import ForkpointState


def train(store: str, ckpt: str, lr: float = 0.05, crash_at: int | None = None, on_resume: str = "rewind") -> None:
    """What a user writes: ForkpointState in the checkpoint dict, load_state_dict when resuming."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    state = ForkpointState(project="torch-demo", store=store, on_resume=on_resume, config={"lr": lr})
    start = 0
    if os.path.exists(ckpt):
        c = torch.load(ckpt)
        model.load_state_dict(c["model"]); opt.load_state_dict(c["opt"])  # noqa: E702
        state.load_state_dict(c["forkpoint"])  # rewinds (or forks) the run to the checkpoint's step
        start = c["step"] + 1
        for g in opt.param_groups:
            g["lr"] = lr
    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    y = torch.sin(x.sum(dim=1, keepdim=True))
    for step in range(start, 40):
        if step == crash_at:
            raise RuntimeError(f"simulated crash at step {step}")  # rows logged so far are written at exit
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()  # noqa: E702
        state.run.log({"loss": loss.item()}, step=step)
        if step % 10 == 9:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "forkpoint": state.state_dict()}, ckpt)
    state.finish()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default=None)
    p.add_argument("--_crash", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._crash:
        train(args._crash[0], args._crash[1], crash_at=25)
        return
    work = tempfile.mkdtemp(prefix="fp-torch-")
    store, ckpt = args.store or os.path.join(work, "runs.db"), os.path.join(work, "ckpt.pt")
    print("1. train 40 steps; the process dies at step 25 (checkpoints every 10 steps)")
    subprocess.run([sys.executable, __file__, "--_crash", store, ckpt], capture_output=True)
    shutil.copy(ckpt, os.path.join(work, "fork.pt"))  # the step-19 checkpoint, for the fork below
    print("2. restart: the step-19 checkpoint is loaded and the run is rewound there")
    train(store, ckpt)
    (run,) = forkpoint.Api(store).runs("torch-demo")
    print(f"   run {run.id}: kind={run.kind}, parent={run.parent}, state={run.state}")
    print("3. the same checkpoint, resumed with lr=0.01 as a fork")
    train(store, os.path.join(work, "fork.pt"), lr=0.01, on_resume="fork")
    print()
    subprocess.run([sys.executable, "-m", "forkpoint", "--store", store, "tree", run.id])
    for v in forkpoint.Api(store).runs("torch-demo"):
        print(f"{v.id} {v.kind:<7} lr={v.config['lr']} loss={v.summary['loss']:.4f} steps 0..{v.last_step}")


if __name__ == "__main__":
    main()
