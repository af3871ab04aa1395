"""Cost of the trainer callbacks (dynsys.nn.integrations) inside the real trainers (CPU, one thread).

In one run, repeats interleaved (order reversed every other repeat), same model, data and steps:

* ``transformers.Trainer`` on a small GPT-2 (2 layers, n_embd 32, vocab 64, 32 tokens,
  batch 8; eager attention, AdamW): plain; with ``HFTrainerCallback(every=10**9)``
  (the hooks only: no record is ever due); with ``HFTrainerCallback(every=E)`` on a
  probe batch (all predictors, tol 1e-4, warm-started).
* Lightning ``Trainer`` on an MLP (3 -> 64 -> 64 -> 1, Adam), the same three conditions.

Reported: median seconds per training step (HF: ``train_runtime``/steps; Lightning: the
``fit`` wall time/steps), the ratios to the plain run (same run), and the cost of one
record as a multiple of one plain training step, ``(t_E - t_plain) * steps / records / t_step``.

Run:  python benchmarks/bench_callbacks.py [--quick] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import warnings

import torch

torch.set_num_threads(1)


def hf_run(steps, every, tmp):
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    from dynsys.nn.integrations import HFTrainerCallback

    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=64, n_positions=32, bos_token_id=0, eos_token_id=0,
                     attn_implementation="eager")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(cfg)
    ids = torch.randint(0, 64, (64, 32), generator=torch.Generator().manual_seed(1))

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return len(ids)

        def __getitem__(self, i):
            return {"input_ids": ids[i], "labels": ids[i]}

    args = TrainingArguments(output_dir=tmp, use_cpu=True, max_steps=steps, per_device_train_batch_size=8,
                             report_to=[], logging_steps=10, save_strategy="no", learning_rate=1e-3,
                             disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=Tokens())
    if every is not None:
        HFTrainerCallback(every=every, probe_batch={"input_ids": ids[:8], "labels": ids[:8]}).attach(trainer)
    out = trainer.train()
    return out.metrics["train_runtime"] / steps


def lightning_run(steps, every, tmp):
    import lightning.pytorch as pl

    from dynsys.nn.integrations import LightningCallback

    class MLP(pl.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                                           torch.nn.Tanh(), torch.nn.Linear(64, 1))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return ((self.net(x).squeeze(-1) - y) ** 2).mean()

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(512, 3, generator=g), torch.randn(512, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=64, shuffle=True)
    cbs = [] if every is None else [LightningCallback(every=every, probe_batch=(X[:64], Y[:64]))]
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False, callbacks=cbs)
    t0 = time.perf_counter()
    trainer.fit(MLP(), loader)
    return (time.perf_counter() - t0) / steps


def measure(fn, steps, every, repeats, tmp):
    conds = {"plain": None, "hooks only": 10 ** 9, f"every {every}": every}
    times = {k: [] for k in conds}
    for i in range(repeats):  # order reversed every other repeat (warm-up and load drift hit all alike)
        for name, e in (list(conds.items()) if i % 2 == 0 else list(conds.items())[::-1]):
            times[name].append(fn(steps, e, tmp))
    med = {k: statistics.median(v) for k, v in times.items()}
    plain = med["plain"]
    records = steps // every
    return {
        "steps": steps, "every": every, "repeats": repeats,
        "seconds_per_step": med,
        "ratio_to_plain": {k: v / plain for k, v in med.items()},
        "record_cost_in_steps": (med[f"every {every}"] - plain) * steps / records / plain,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import tempfile

    steps, repeats = (40, 1) if a.quick else (100, 4)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        res["hf_gpt2"] = measure(hf_run, steps, 10, repeats, tmp)
        res["lightning_mlp"] = measure(lightning_run, steps, 10, repeats, tmp)
    for key in ("hf_gpt2", "lightning_mlp"):
        r = res[key]
        print(f"{key}: {r['steps']} steps, median of {r['repeats']}")
        for name, v in r["seconds_per_step"].items():
            print(f"  {name:12s} {1e3 * v:8.2f} ms/step  ratio {r['ratio_to_plain'][name]:.2f}")
        print(f"  one record = {r['record_cost_in_steps']:.1f} plain training steps")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
