"""Speed of dynsys.nn on a ~52k-parameter MLP (float64, CPU, one thread).

Measures, on the same model, data and tolerance in one run:

1. lambda_max(H): HVPs (and time) that Lanczos and power iteration need to reach a
   relative accuracy of 1e-4 (oracle stop against a tight reference), the default
   ``hessian_lambda_max`` run, and PyHessian's default run (``hessian.eigenvalues()``:
   power iteration, maxIter=100, tol=1e-3 relative change of the eigenvalue) and its
   run at tol=1e-4, when PyHessian is installed (benchmark-only dependency).
2. lambda_max(Hhat) (Adam, Eq. 7): the same comparison.
3. HVP implementations (double backward with the kept gradient graph, double backward
   rebuilding the graph each product, forward-over-reverse, central finite
   difference) as ratios to one gradient evaluation (forward + backward).
4. Critical learning rate: forward passes per estimate along an Adam run, cold
   (guess = lr) and warm-started from the previous estimate, at rel_tol = 0.01.
5. Monitor overhead: seconds per Adam training step with a :class:`dynsys.nn.Monitor`
   recording each predictor set every step and every 10 steps (warm-started, tol 1e-4),
   as a ratio to a plain training step.

6. With ``--experiments-device {cpu,cuda}`` (alone): seconds per record of each predictor
   set on the fnn-50d (Fig. 5, 50k parameters) and transformer experiments, and the plain
   training step, on that device.

Run:  python benchmarks/bench_nn.py [--quick] [--json FILE]
      python benchmarks/bench_nn.py --experiments-device cuda --json gpu.json
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time

import torch

torch.set_num_threads(1)

from dynsys.nn import (HessianOperator, PreconditionedHessianOperator, critical_learning_rate,  # noqa: E402
                       hessian_lambda_max, lanczos, make_hvp, parameter_layout)
from dynsys.nn.hvp import loss_and_gradient  # noqa: E402


def build(seed=0, n=512, outputs=10, hidden=(256, 185)):
    """10 -> 256 -> 185 -> 10 tanh MLP (52,221 parameters) on a 10-output regression.

    Ten outputs give ten large, nearly equal top Hessian eigenvalues (after 100 Adam
    steps the top two differ by < 1%), the hard case for power iteration.
    """
    torch.manual_seed(seed)
    h1, h2 = hidden
    model = torch.nn.Sequential(torch.nn.Linear(10, h1), torch.nn.Tanh(), torch.nn.Linear(h1, h2), torch.nn.Tanh(),
                                torch.nn.Linear(h2, outputs)).double()
    x = torch.randn(n, 10, dtype=torch.float64)
    w = torch.randn(10, outputs, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    return model, (x, torch.sin(x @ w))


def mse(model, data):
    return ((model(data[0]) - data[1]) ** 2).mean()


def train(model, data, opt, steps):
    for _ in range(steps):
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    opt.zero_grad()


def timed(fn, reps=5):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def power_trace(op, n_max, seed=0):
    """Plain power iteration; the Rayleigh quotient after each product."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(op.size, generator=gen, dtype=torch.float64)
    v = v / v.norm()
    trace = []
    for _ in range(n_max):
        w = op.matvec(v)
        trace.append(float(v @ w))
        v = w / w.norm()
    return trace


def lanczos_hvps_to(op_factory, ref, acc, seed=0, m_max=300):
    """Smallest Krylov dimension whose top Ritz value is within acc (relative) of ref."""
    def err(m):
        r = lanczos(op_factory(), tol=1e-300, max_iter=m, seed=seed)
        return abs(r.value - ref) / abs(ref)
    lo, hi = 1, m_max
    if err(hi) > acc:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if err(mid) <= acc:
            hi = mid
        else:
            lo = mid + 1
    return lo


def pyhessian_run(model, data, tol, max_iter=100):
    try:
        import sys

        import pyhessian  # noqa: F401  (pyhessian/__init__ shadows the module name with the class)
        ph = sys.modules["pyhessian.hessian"]
    except ImportError:
        return None
    count = {"hvp": 0}
    orig = ph.hessian_vector_product

    def counting(gradsH, params, v):
        count["hvp"] += 1
        return orig(gradsH, params, v)

    ph.hessian_vector_product = counting
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyHessian draws its start vector in the default dtype
    torch.manual_seed(0)
    try:
        t0 = time.perf_counter()
        comp = ph.hessian(model, torch.nn.MSELoss(), data=data, cuda=False)
        vals, _ = comp.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
        elapsed = time.perf_counter() - t0
    finally:
        torch.set_default_dtype(default)
        ph.hessian_vector_product = orig
        model.train()
        for p in model.parameters():
            p.grad = None
    return {"value": vals[0], "n_hvp": count["hvp"], "time_s": elapsed}


def section_lambda_max(model, data, opt, quick):
    out = {}
    layout = parameter_layout(model)
    acc = 1e-4
    # --- H
    ref = hessian_lambda_max(model, mse, data, tol=1e-10).value
    n_pow = 120 if quick else 600
    t_pow, trace = timed(lambda: power_trace(HessianOperator(model, mse, data), n_pow), reps=1)
    hit = next((i + 1 for i, v in enumerate(trace) if abs(v - ref) / ref <= acc), None)
    lan_m = lanczos_hvps_to(lambda: HessianOperator(model, mse, data), ref, acc)
    out["H"] = {"n_params": layout.size, "reference": ref, "power_hvps_to_1e-4": hit,
                "power_time_per_hvp_s": t_pow / n_pow, "lanczos_hvps_to_1e-4": lan_m}
    # ours at three tolerances against PyHessian's default run (and at tol 1e-4), interleaved, medians
    runs = {f"ours_tol_{tol:g}": (lambda tol=tol: hessian_lambda_max(model, mse, data, tol=tol))
            for tol in (3e-2, 1e-2, 1e-3, 1e-6)}
    runs["pyhessian_default_tol_0.001"] = lambda: pyhessian_run(model, data, 1e-3)
    runs["pyhessian_tol_0.0001"] = lambda: pyhessian_run(model, data, 1e-4)
    times = {k: [] for k in runs}
    last = {}
    for _ in range(2 if quick else 5):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            r = fn()
            times[name].append(time.perf_counter() - t0)
            last[name] = r
    for name, r in last.items():
        if r is None:  # PyHessian not installed
            continue
        value, n_hvp = (r["value"], r["n_hvp"]) if isinstance(r, dict) else (r.value, r.n_hvp)
        out["H"][name] = {"n_hvp": n_hvp, "rel_err": abs(value - ref) / ref, "time_s": statistics.median(times[name])}
    # --- Hhat
    def hhat():
        return PreconditionedHessianOperator(HessianOperator(model, mse, data), opt)
    ref_hat = hessian_lambda_max(model, mse, data, optimizer=opt, tol=1e-10).value
    trace = power_trace(hhat(), n_pow)
    hit = next((i + 1 for i, v in enumerate(trace) if abs(v - ref_hat) / ref_hat <= acc), None)
    t_def, res = timed(lambda: hessian_lambda_max(model, mse, data, optimizer=opt), reps=3)
    out["Hhat"] = {"reference": ref_hat, "power_hvps_to_1e-4": hit,
                   "lanczos_hvps_to_1e-4": lanczos_hvps_to(hhat, ref_hat, acc),
                   "ours_default": {"tol": 1e-6, "n_hvp": res.n_hvp, "rel_err": abs(res.value - ref_hat) / ref_hat,
                                    "time_s": t_def}}
    # --- warm start: one Adam step later, from the previous eigenvector
    prev_H = hessian_lambda_max(model, mse, data)
    prev_hat = hessian_lambda_max(model, mse, data, optimizer=opt)
    train(model, data, opt, 1)
    cold = hessian_lambda_max(model, mse, data)
    warm = hessian_lambda_max(model, mse, data, v0=prev_H.vector)
    cold_hat = hessian_lambda_max(model, mse, data, optimizer=opt)
    warm_hat = hessian_lambda_max(model, mse, data, optimizer=opt, v0=prev_hat.vector)
    out["warm_start_one_step_later"] = {
        "H": {"cold_hvp": cold.n_hvp, "warm_hvp": warm.n_hvp, "value_diff": abs(warm.value - cold.value) / cold.value},
        "Hhat": {"cold_hvp": cold_hat.n_hvp, "warm_hvp": warm_hat.n_hvp,
                 "value_diff": abs(warm_hat.value - cold_hat.value) / cold_hat.value}}
    return out


def section_hvp(model, data, reps):
    """Median times, interleaved round-robin so that machine load hits every method alike."""
    layout = parameter_layout(model)
    v = torch.randn(layout.size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    hvps = {
        "double_backward_kept_graph": make_hvp(model, mse, data, layout=layout, method="double_backward"),
        "double_backward_rebuilt_graph": make_hvp(model, mse, data, layout=layout, method="double_backward",
                                                  keep_graph=False),
        "forward_over_reverse": make_hvp(model, mse, data, layout=layout, method="forward_over_reverse"),
        "finite_difference": make_hvp(model, mse, data, layout=layout, method="finite_difference"),
    }
    jobs = {"gradient": lambda: loss_and_gradient(model, mse, data, layout),
            "plain_backward": lambda: torch.autograd.grad(mse(model, data), layout.params),
            "double_backward_graph_build": lambda: make_hvp(model, mse, data, layout=layout)}
    jobs.update({name: (lambda h=h: h(v)) for name, h in hvps.items()})
    times = {name: [] for name in jobs}
    for name, fn in jobs.items():  # warm-up
        fn()
    for _ in range(reps):
        for name, fn in jobs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["gradient"]
    return {name: {"time_s": t, "ratio_to_gradient": t / base} for name, t in med.items()} | {"reps": reps}


def section_critical(model, data, opt, steps):
    cold, warm = [], []
    guess = None
    uphill = 0
    for _ in range(steps):
        c = critical_learning_rate(model, mse, data, opt, rel_tol=0.01)
        w = critical_learning_rate(model, mse, data, opt, rel_tol=0.01, guess=guess)
        if w.descent:
            cold.append(c.n_forward)
            if guess is not None:
                warm.append(w.n_forward)
            guess = w.estimate
        else:
            uphill += 1
        train(model, data, opt, 1)
    return {"steps": steps, "rel_tol": 0.01, "cold_guess_lr": {"median": statistics.median(cold), "max": max(cold)},
            "warm": {"median": statistics.median(warm), "max": max(warm), "mean": sum(warm) / len(warm)},
            "uphill_updates": uphill}


#: predictor sets whose monitor overhead is measured (name -> Monitor predictors)
MONITOR_SETS = {
    "loss_and_norms_only": [],
    "rayleigh_quotients": ["lambda_grad_H", "lambda_grad_Hhat", "lambda_update_Hhat"],
    "critical_sharpness": ["critical_sharpness"],
    "lambda_max_H": ["lambda_max_H"],
    "lambda_max_Hhat": ["lambda_max_Hhat"],
    "default_all": None,
}


def section_monitor(model, data, opt, steps, every_values=(1, 10)):
    """Seconds per training step with a Monitor recording every K steps, as a ratio to a plain step.

    Each predictor set starts from the same model and Adam state (copies), so all runs see the
    same trajectory; sets are interleaved round-robin (``rounds`` times) and the median per-step
    time of each is reported.
    """
    import copy

    from dynsys.nn import Monitor

    base_state = copy.deepcopy(model.state_dict())
    base_opt = copy.deepcopy(opt.state_dict())

    def fresh():
        m = copy.deepcopy(model)
        m.load_state_dict(base_state)
        o = torch.optim.Adam(m.parameters(), lr=opt.param_groups[0]["lr"])
        o.load_state_dict(base_opt)
        return m, o

    def run(preds, every):
        m, o = fresh()
        mon = None if preds == "plain" else Monitor(m, mse, data, o, every=every, predictors=preds, per_block=True)
        if mon is not None:
            mon.record()  # the first record is a cold start; measured runs are warm-started
        t0 = time.perf_counter()
        for _ in range(steps):
            o.zero_grad()
            loss = mse(m, data)
            loss.backward()
            o.step()
            if mon is not None:
                mon.step(loss=loss)
        el = (time.perf_counter() - t0) / steps
        info = {}
        if mon is not None and mon.records[1:]:
            recs = mon.records[1:]
            info = {"hvp_per_record": statistics.mean(r.get("n_hvp", 0) for r in recs),
                    "forward_per_record": statistics.mean(r.get("n_forward", 0) for r in recs)}
        return el, info

    jobs = {("plain", 1): "plain"}
    for name, preds in MONITOR_SETS.items():
        for every in every_values:
            jobs[(name, every)] = preds
    times = {k: [] for k in jobs}
    infos = {}
    for _ in range(3):
        for key, preds in jobs.items():
            el, info = run(preds, key[1])
            times[key].append(el)
            infos[key] = info
    plain = statistics.median(times[("plain", 1)])
    out = {"plain_step_s": plain, "steps_per_run": steps, "rounds": 3}
    for (name, every), ts in times.items():
        if name == "plain":
            continue
        med = statistics.median(ts)
        out.setdefault(name, {})[f"every_{every}"] = {"step_s": med, "ratio_to_plain_step": med / plain,
                                                      **infos[(name, every)]}
    return out


def section_experiments(device, steps=40, every=5, dtype="float64", sizes=None):
    """Seconds per record of each predictor set on the fnn-50d and transformer experiments
    (the paper's settings; ``sizes`` overrides experiment keywords), with the plain training
    step for scale. On CUDA, each timed region is closed by ``torch.cuda.synchronize()``."""
    from dynsys.nn.experiments import build_optimizer, get_experiment

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    sets = {"rayleigh_quotients": ["lambda_grad_H", "lambda_grad_Hhat", "lambda_update_Hhat"],
            "critical_sharpness": ["critical_sharpness"], "lambda_max_H": ["lambda_max_H"],
            "lambda_max_Hhat": ["lambda_max_Hhat"], "default_all": None}
    from dynsys.nn import Monitor

    out = {"device": str(device), "dtype": dtype, "steps": steps, "every": every}
    if str(device).startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(0)
    for name in ("fnn-50d", "transformer"):
        kw = dict((sizes or {}).get(name, {}))
        res = {}
        for label, preds in {"plain": "plain", **sets}.items():
            exp = get_experiment(name, device=device, dtype=dtype, seed=0, **kw)
            d = exp.defaults
            opt = build_optimizer(exp.model, "adam", d["lr"], beta1=d["beta1"], beta2=d["beta2"], eps=d["eps"])
            mon = None if preds == "plain" else Monitor(exp.model, exp.loss_fn, exp.data, opt, every=every,
                                                        predictors=preds, per_block=True)
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                opt.zero_grad()
                loss = exp.loss_fn(exp.model, exp.data)
                loss.backward()
                opt.step()
                if mon is not None:
                    mon.step(loss=loss)
            sync()
            total = time.perf_counter() - t0
            if mon is None:
                res["plain_step_s"] = total / steps
                res["n_params"] = exp.attrs["n_params"]
                continue
            recs = mon.records[1:]  # the first record is a cold start
            res[label] = {"record_s_median": statistics.median(r["monitor_seconds"] for r in recs),
                          "record_s_first": mon.records[0]["monitor_seconds"],
                          "hvp_per_record": statistics.mean(r.get("n_hvp", 0) for r in recs),
                          "forward_per_record": statistics.mean(r.get("n_forward", 0) for r in recs),
                          "step_ratio_every": (total / steps) / res["plain_step_s"]}
        out[name] = res
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and steps")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--experiments-device", default=None, choices=("cpu", "cuda"),
                    help="only time the predictors on the fnn-50d and transformer experiments on this device")
    ap.add_argument("--experiment-steps", type=int, default=40, help="training steps per set (--experiments-device)")
    args = ap.parse_args(argv)
    if args.experiments_device:
        res = section_experiments(args.experiments_device, steps=args.experiment_steps)
        text = json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "experiments": res}, indent=1)
        print(text)
        if args.json:
            with open(args.json, "w") as fh:
                fh.write(text)
        return
    model, data = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, data, opt, 100)
    results = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "dtype": "float64"}
    results["lambda_max"] = section_lambda_max(model, data, opt, args.quick)
    results["hvp"] = section_hvp(model, data, reps=5 if args.quick else 21)
    results["critical"] = section_critical(model, data, opt, steps=10 if args.quick else 40)
    results["monitor"] = section_monitor(model, data, opt, steps=10 if args.quick else 30)
    text = json.dumps(results, indent=1, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
