"""Cost of the spike-predictor monitor on the default gpt2-text model (issue 12, cost bullet).

The default ``gpt2-text`` experiment (transformers GPT2LMHeadModel, 1,049,184 parameters,
float32, full batch of 16 x 64 bytes, AdamW) is trained past its warm-up; then, in ``reps``
rounds, ``every`` plain training steps are timed one by one and each predictor set records
once through its own :class:`dynsys.nn.Monitor` (warm-started from its record of the round
before, i.e. exactly the ``--every`` usage). Reported, per predictor set: the median seconds of
one record, its ratio to the median training step of the same run, the cost per training step
at ``--every`` (``(every * step + record) / (every * step)``), and the median Hessian-vector
products / forward passes per record. Memory: the process's peak resident set size after
the training-only phase and after the records (``resource.getrusage``; Linux reports KiB).

Run:  python benchmarks/bench_gpt2.py [--reps 5] [--every 10] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time

import torch

torch.set_num_threads(1)

from dynsys.nn import Monitor, get_experiment  # noqa: E402
from dynsys.nn.experiments import build_optimizer  # noqa: E402

#: predictor set -> Monitor predictors
SETS = {
    "all (default of dynsys predict)": None,
    "lambda_max_Hhat only": ["lambda_max_Hhat"],
    "lambda_max_H only": ["lambda_max_H"],
    "cheap: lambda_grad_H, lambda_grad_Hhat, critical_sharpness": ["lambda_grad_H", "lambda_grad_Hhat",
                                                                   "critical_sharpness"],
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_memory_mib() -> float:
    """MemTotal of /proc/meminfo (NaN where there is none)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--every", type=int, default=10, help="training steps per round (default 10)")
    ap.add_argument("--warm", type=int, default=40, help="steps trained before measuring (default 40)")
    ap.add_argument("--model-size", default="default", help="gpt2-text model_size (default: default)")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.reps < 1 or args.every < 1 or args.warm < 1:
        ap.error(f"--reps, --every, --warm must be >= 1 (got {args.reps}, {args.every}, {args.warm})")

    exp = get_experiment("gpt2-text", model_size=args.model_size)
    model = exp.model
    d = exp.defaults
    opt = build_optimizer(model, d["optimizer"], d["lr"], beta1=d["beta1"], beta2=d["beta2"], eps=d["eps"],
                          weight_decay=d["weight_decay"])
    base_lr = opt.param_groups[0]["lr"]
    t_global = [0]

    def train_step():
        t = t_global[0]
        opt.zero_grad(set_to_none=True)
        loss = exp.loss_fn(model, exp.data)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()), exp.grad_clip, foreach=False)
        for g in opt.param_groups:
            g["lr"] = base_lr * exp.lr_schedule(t, 400)
        opt.step()
        t_global[0] += 1
        return float(loss.detach())

    for _ in range(args.warm):
        train_step()
    rss_train = peak_rss_mib()
    monitors = {name: Monitor(model, exp.loss_fn, exp.data, opt, every=10 ** 9, predictors=preds, per_block=True)
                for name, preds in SETS.items()}
    step_s = []
    rec = {name: [] for name in SETS}
    for _ in range(args.reps):
        for _ in range(args.every):
            t0 = time.perf_counter()
            train_step()
            step_s.append(time.perf_counter() - t0)
        for name, mon in monitors.items():
            t0 = time.perf_counter()
            r = mon.record()
            rec[name].append((time.perf_counter() - t0, r.get("n_hvp", 0.0), r.get("n_forward", 0.0),
                              r.get("nonfinite", False)))
    rss_all = peak_rss_mib()
    step_med = statistics.median(step_s)
    n_params = sum(p.numel() for p in model.parameters())
    out = {"n_parameters": n_params, "dtype": str(next(model.parameters()).dtype), "reps": args.reps,
           "every": args.every, "torch": torch.__version__, "python": platform.python_version(),
           "train_step_s_median": step_med, "peak_rss_mib_training_only": rss_train,
           "peak_rss_mib_with_monitor": rss_all, "sets": {}}
    print(f"gpt2-text ({args.model_size}): {n_params} parameters, {out['dtype']}, 1 thread, "
          f"{args.reps} rounds of {args.every} steps")
    print(f"training step: median {step_med * 1e3:.0f} ms ({len(step_s)} steps)")
    print(f"{'predictor set':<62}{'record s':>10}{'x step':>9}{'per step @every':>17}{'HVPs':>7}{'fwd':>6}")
    for name, rows in rec.items():
        sec = statistics.median(r[0] for r in rows)
        hvp = statistics.median(r[1] for r in rows)
        fwd = statistics.median(r[2] for r in rows)
        ratio = sec / step_med
        per_step = (args.every * step_med + sec) / (args.every * step_med)
        out["sets"][name] = {"record_s_median": sec, "ratio_to_step": ratio, "cost_per_step_at_every": per_step,
                             "n_hvp_median": hvp, "n_forward_median": fwd,
                             "nonfinite_records": sum(bool(r[3]) for r in rows)}
        print(f"{name:<62}{sec:>10.2f}{ratio:>9.1f}{per_step:>16.2f}x{hvp:>7.0f}{fwd:>6.0f}")
    total = machine_memory_mib()
    out["machine_memory_mib"] = total
    print(f"peak RSS: {rss_train:.0f} MiB after training only, {rss_all:.0f} MiB after the records "
          f"(+{rss_all - rss_train:.0f} MiB); machine memory {total:.0f} MiB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
