"""Cost of the exact mixed-decay threshold: AdamW param groups with different weight decays.

Hugging Face's default AdamW puts ``weight_decay`` on the weight matrices and none on biases and
LayerNorm weights. Then the threshold is ``2/eta - wd_eff`` with ``wd_eff = lambda_max(S + W_d) -
lambda_max(S)`` (docs/nn.md, "Thresholds"), which costs a second Lanczos solve of ``S + W_d``,
warm-started from ``S``'s eigenvector. This benchmark trains the ``gpt2-text`` model with the
Hugging Face grouping (decay 0.1 on parameters with ``ndim >= 2``, 0 on the rest), then in each of
``reps`` rounds trains ``every`` steps and records ``lambda_max_Hhat`` twice on the same state:
through a Monitor on the grouped optimizer (two solves) and through one on a one-group AdamW that
shares the same per-parameter state (one solve, threshold ``2/eta - 0.1``: the baseline). Reported:
median seconds and Hessian-vector products per record, their ratio (same run), and the median
``effective_weight_decay``.

Run:  python benchmarks/bench_mixed_decay.py [--reps 5] [--every 10] [--model-size default]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

torch.set_num_threads(1)

from dynsys.nn import Monitor, get_experiment  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--every", type=int, default=10, help="training steps per round (default 10)")
    ap.add_argument("--warm", type=int, default=40, help="steps trained before measuring (default 40)")
    ap.add_argument("--model-size", default="default", help="gpt2-text model_size (default: default)")
    args = ap.parse_args(argv)
    if args.reps < 1 or args.every < 1 or args.warm < 1:
        ap.error(f"--reps, --every, --warm must be >= 1 (got {args.reps}, {args.every}, {args.warm})")

    exp = get_experiment("gpt2-text", model_size=args.model_size)
    model, d = exp.model, exp.defaults
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    kw = dict(lr=d["lr"], betas=(d["beta1"], d["beta2"]), eps=d["eps"], foreach=False)
    grouped = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                **kw)
    uniform = torch.optim.AdamW(params, weight_decay=0.1, **kw)  # baseline: shares grouped's state, never steps
    base_lr = grouped.param_groups[0]["lr"]
    t_global = [0]

    def train_step():
        grouped.zero_grad(set_to_none=True)
        exp.loss_fn(model, exp.data).backward()
        torch.nn.utils.clip_grad_norm_(params, exp.grad_clip, foreach=False)
        for g in grouped.param_groups:
            g["lr"] = base_lr * exp.lr_schedule(t_global[0], 400)
        grouped.step()
        t_global[0] += 1

    def share_state():
        for g in uniform.param_groups:
            g["lr"] = grouped.param_groups[0]["lr"]
        for p in params:
            uniform.state[p] = grouped.state[p]

    for _ in range(args.warm):
        train_step()
    share_state()
    mons = {"grouped (exact threshold, 2 solves)": Monitor(model, exp.loss_fn, exp.data, grouped, every=10 ** 9,
                                                           predictors=["lambda_max_Hhat"]),
            "one group (baseline, 1 solve)": Monitor(model, exp.loss_fn, exp.data, uniform, every=10 ** 9,
                                                     predictors=["lambda_max_Hhat"])}
    rows = {name: [] for name in mons}
    for _ in range(args.reps):
        for _ in range(args.every):
            train_step()
        share_state()
        for name, mon in mons.items():
            t0 = time.perf_counter()
            r = mon.record()
            rows[name].append((time.perf_counter() - t0, r.get("n_hvp", float("nan")),
                               r.get("effective_weight_decay", float("nan")), r.get("lambda_max_Hhat")))
    n = sum(p.numel() for p in params)
    print(f"gpt2-text ({args.model_size}): {n} parameters ({sum(p.numel() for p in decay)} decayed), 1 thread, "
          f"torch {torch.__version__}, python {platform.python_version()}, {args.reps} records each")
    med = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)) for name, rs in rows.items()}
    for name, (sec, hvp) in med.items():
        print(f"{name:<40} record median {sec:7.2f} s, {hvp:5.0f} HVPs")
    (g_s, g_h), (u_s, u_h) = med.values()
    effs = [r[2] for r in rows["grouped (exact threshold, 2 solves)"]]
    diff = max(abs(a[3] - b[3]) / abs(b[3]) for a, b in zip(*rows.values()))
    print(f"ratio grouped / baseline: {g_s / u_s:.2f}x seconds, {g_h / u_h:.2f}x HVPs; "
          f"effective_weight_decay median {statistics.median(effs):.4f} (range {min(effs):.4f}-{max(effs):.4f}); "
          f"lambda_max_Hhat of the two differs by at most {diff:.1e} relative (the grouped one combines both solves)")


if __name__ == "__main__":
    main()
