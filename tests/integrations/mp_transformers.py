"""A 2-process CPU (gloo) Hugging Face Trainer, run by test_multiprocess.py under
``torchrun --nproc_per_node 2``.

    torchrun --standalone --nproc_per_node 2 mp_transformers.py STORE OUT [--crash-at N] [--resume]
"""

from __future__ import annotations

import argparse

import torch
import transformers
from forkpoint.integrations.transformers import ForkpointCallback

SAMPLES, BATCH, EPOCHS = 16, 2, 2  # 2 ranks x 2 per device: 4 steps per epoch, 8 in all


class Tokens(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (SAMPLES, 8), generator=g)

    def __len__(self):
        return SAMPLES

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class Crash(transformers.TrainerCallback):
    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise RuntimeError(f"simulated crash at step {self.at}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("out")
    p.add_argument("--crash-at", type=int, default=-1)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    args = transformers.TrainingArguments(
        output_dir=a.out, per_device_train_batch_size=BATCH, num_train_epochs=EPOCHS, learning_rate=5e-3,
        logging_steps=1, save_strategy="steps", save_steps=3, report_to="none", use_cpu=True, seed=0,
        disable_tqdm=True, ddp_backend="gloo")
    t = transformers.Trainer(model=model, args=args, train_dataset=Tokens(),
                             callbacks=[ForkpointCallback(project="hf", store=a.store), Crash(a.crash_at)])
    t.train(resume_from_checkpoint=True if a.resume else None)
    # tear the gloo group down before exit: left to the interpreter's exit, a rank can abort in
    # gloo's threads ("terminate called without an active exception", seen once in CI)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
