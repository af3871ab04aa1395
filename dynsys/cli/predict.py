"""``dynsys predict``: train a network experiment under the spike-predictor monitor.

Writes a netCDF file whose main group has the coordinate ``step`` and the
computed variables among ``loss, lambda_max_H, lambda_max_Hhat, lambda_grad_H,
lambda_grad_Hhat, lambda_update_Hhat, lambda_grad_Hhat_sustained,
critical_sharpness, threshold``; a group ``diagnostics`` holds the gradient
norm, per-block ``||sqrt(vhat)||`` and gradient norms, the every-step training
loss and solver counts, and a group ``spikes`` the detected spikes. Prints the
spike/predictor tables at the end.
"""
from __future__ import annotations

EXPERIMENT_NAMES = ("fnn-sin", "fnn-50d", "cnn", "transformer", "llas-fnn", "gpt2-text")
#: default optimizer and dtype where an experiment's differ from adam / float64
DEFAULT_OPTIMIZER = {"llas-fnn": "gd", "gpt2-text": "adamw"}
DEFAULT_DTYPE = {"gpt2-text": "float32"}
#: predictors selectable with --predictors (the contract's variables)
PREDICTOR_CHOICES = ("lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat",
                     "lambda_update_Hhat", "lambda_grad_Hhat_sustained", "critical_sharpness")
MAIN_VARIABLES = ("loss",) + PREDICTOR_CHOICES + ("threshold",)

DESCRIPTION = (
    "Train one of the loss-spike experiments (data generated in code) with a stock torch optimizer, "
    "record the spike predictors every K steps, detect the loss spikes and report, per predictor, whether "
    "it crossed its stability threshold (2/eta) before each spike and how many steps earlier. "
    "Unset hyperparameters take the experiment's defaults (the paper's settings).")


def register(subparsers):
    p = subparsers.add_parser("predict", help="loss-spike predictors on a network experiment (needs torch)",
                              description=DESCRIPTION)
    p.add_argument("--experiment", required=True, choices=EXPERIMENT_NAMES,
                   help="which experiment: fnn-sin (Fig. 4), fnn-50d (Fig. 5), cnn (Fig. 6), transformer (Fig. 7), "
                        "llas-fnn (LLAS paper Sec. 3), gpt2-text (transformers GPT-2 on the CPython help text; "
                        "needs dynsys[hf])")
    p.add_argument("--optimizer", choices=("gd", "adam", "adamw"), default=None,
                   help="optimizer (default: the experiment's: adam; gd for llas-fnn, adamw for gpt2-text)")
    p.add_argument("--lr", type=float, default=None, help="learning rate eta (default: the experiment's)")
    p.add_argument("--beta1", type=float, default=None, help="Adam beta1 (default 0.9)")
    p.add_argument("--beta2", type=float, default=None, help="Adam beta2 (default 0.999)")
    p.add_argument("--eps", type=float, default=None, help="Adam eps (default 1e-8)")
    p.add_argument("--weight-decay", type=float, default=None, dest="weight_decay",
                   help="weight decay (GD/Adam: coupled L2; AdamW: decoupled); default 0")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the experiment's)")
    p.add_argument("--every", type=int, default=None, help="record the predictors every K steps (K >= 1)")
    p.add_argument("--predictors", default=None,
                   help="comma-separated list among " + ", ".join(PREDICTOR_CHOICES)
                        + " (default: all that apply to the optimizer)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--dtype", default=None, choices=("float64", "float32"),
                   help="floating-point type of model and data (default float64; float32 for gpt2-text)")
    p.add_argument("--model-size", default=None, dest="model_size", choices=("tiny", "default", "small", "gpt2"),
                   help="gpt2-text only: GPT-2 size preset (default ~1.0M parameters; small ~4.8M, gpt2 ~85M: "
                        "n_layer 12, n_embd 768); --set n_layer=.. --set n_embd=.. --set n_head=.. override it")
    p.add_argument("--seed", type=int, default=0, help="seed of data and initialization (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="experiment setting, e.g. --set width=200 (repeatable; see dynsys.nn.experiments)")
    p.add_argument("--rise", type=float, default=None,
                   help="a spike is a loss above RISE times its trailing minimum (default: the experiment's, "
                        "10; 3 for llas-fnn, whose GD spikes are smaller)")
    p.add_argument("--out", required=True, help="netCDF file to write (.nc)")
    p.add_argument("--plot", default=None, help="PNG of the record in the paper's Fig. 4-5 layout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _parse_settings(items):
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r} is not KEY=VALUE; allowed: e.g. --set width=200")
        k, v = item.split("=", 1)
        k = k.strip()
        for conv in (int, float):
            try:
                out[k] = conv(v)
                break
            except ValueError:
                continue
        else:
            out[k] = v
    return out


def parse_predictors(text, optimizer):
    """Validate a comma-separated predictor list (ValueError naming the bad one and the valid ones)."""
    if text is None:
        return None
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names:
        raise ValueError(f"--predictors {text!r} is empty; allowed: a comma-separated list among "
                         + ", ".join(PREDICTOR_CHOICES))
    for n in names:
        if n not in PREDICTOR_CHOICES:
            raise ValueError(f"--predictors contains unknown predictor {n!r}; allowed: " + ", ".join(PREDICTOR_CHOICES))
        if "Hhat" in n and optimizer == "gd":
            raise ValueError(f"--predictors {n!r} needs Adam's preconditioner but --optimizer is gd; allowed with gd: "
                             "lambda_max_H, lambda_grad_H, critical_sharpness")
    return names


def run(args):
    import inspect
    import math
    import os
    import time

    from dynsys._validate import check_int

    check_int("--every", args.every, 1) if args.every is not None else None
    check_int("--steps", args.steps, 1) if args.steps is not None else None
    check_int("--seed", args.seed, 0)
    if args.rise is not None and not (args.rise > 1):
        raise ValueError(f"--rise = {args.rise!r} is out of range; allowed: --rise > 1")
    if args.device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"--device = {args.device!r} is not valid; allowed: cpu or cuda")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ValueError(f"--out = {args.out!r}: directory {out_dir!r} does not exist; allowed: a path in an existing directory")
    try:
        import torch
    except ImportError:
        raise ValueError("dynsys predict needs the optional dependency torch; install it with pip install 'dynsys[torch]'") from None
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device = {args.device!r} does not exist here (torch.cuda.is_available() is False); "
                         "allowed: cpu, or cuda on a machine with a CUDA GPU")
    from dynsys.nn.experiments import EXPERIMENTS, run_experiment
    from dynsys.nn.spikes import evaluate_predictors, format_spike_table, format_summary, spikes_to_dataset

    settings = _parse_settings(args.set)
    if args.model_size is not None:
        if args.experiment != "gpt2-text":
            raise ValueError(f"--model-size is a gpt2-text setting but --experiment is {args.experiment}; "
                             "allowed: --model-size with --experiment gpt2-text")
        settings["model_size"] = args.model_size
    if args.dtype is None:
        args.dtype = DEFAULT_DTYPE.get(args.experiment, "float64")
    # default optimizer of the experiment (llas-fnn is a GD experiment, gpt2-text an AdamW one)
    optimizer = args.optimizer or DEFAULT_OPTIMIZER.get(args.experiment, "adam")
    predictors = parse_predictors(args.predictors, optimizer)
    factory_kw = dict(settings, seed=args.seed, device=args.device, dtype=args.dtype)
    t0 = time.perf_counter()
    try:
        ds, exp = run_experiment(args.experiment, optimizer=optimizer, lr=args.lr, beta1=args.beta1,
                                 beta2=args.beta2, eps=args.eps, weight_decay=args.weight_decay, steps=args.steps,
                                 every=args.every, predictors=predictors, progress=not args.quiet, **factory_kw)
    except TypeError as exc:  # an unknown --set key
        raise ValueError(f"--set: {exc}; allowed: the keyword settings of the {args.experiment} experiment") from None
    wall = time.perf_counter() - t0
    rise = args.rise if args.rise is not None else float(exp.defaults.get("rise", 10.0))
    spikes, reports = evaluate_predictors(ds, rise=rise)

    main_vars = [v for v in MAIN_VARIABLES if v in ds]
    main = ds[main_vars]
    main = main.drop_vars([c for c in main.coords if c != "step"])
    main.attrs = dict(ds.attrs)
    main.attrs.update(wall_seconds=wall, n_spikes=len(spikes), spike_rise=rise,
                      command="dynsys predict " + " ".join(_argv_of(args)))
    diag_vars = [v for v in ds.data_vars if v not in main_vars]
    diag = ds[diag_vars].copy()
    if "nonfinite" in diag:
        diag["nonfinite"] = diag["nonfinite"].astype("int8")
    if "block" in diag.coords:
        diag = diag.assign_coords(block=[str(b) for b in diag["block"].values])
    main.to_netcdf(args.out, mode="w")
    diag.to_netcdf(args.out, mode="a", group="diagnostics")
    sp = spikes_to_dataset(spikes)
    sp["diverged"] = sp["diverged"].astype("int8")
    sp.to_netcdf(args.out, mode="a", group="spikes")

    if args.plot:
        from dynsys.nn.plot import plot_record

        plot_record(main, args.plot, diagnostics=diag, spikes=spikes)

    print(f"{args.experiment}: {exp.attrs.get('n_params')} parameters, {ds.attrs.get('optimizer')} "
          f"lr={ds.attrs.get('lr')}, {ds.attrs.get('steps_done')} steps, predictors every "
          f"{ds.attrs.get('every')} steps, {wall:.1f} s on {args.device}")
    thr = float(ds["threshold"].values[-1]) if "threshold" in ds and ds.sizes.get("step", 0) else math.nan
    print(f"stability threshold: {thr:.6g}  (2/eta = {2 / ds.attrs['lr']:.6g})")
    print(f"loss spikes detected (loss > {rise:g} x trailing minimum): {len(spikes)}")
    print()
    print(format_spike_table(spikes, reports))
    print()
    print(format_summary(reports, spikes))
    if spikes:
        print("lead = steps between the predictor crossing its threshold and the spike onset "
              "(positive: crossed earlier; miss: not above the threshold at the onset)")
    if ds.attrs.get("problems"):
        print(f"non-finite values while monitoring: {ds.attrs['problems']}")
    if ds.attrs.get("train_reason"):
        print(f"training stopped: {ds.attrs['train_reason']}")
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0


def _argv_of(args):
    parts = [f"--experiment {args.experiment}"]
    for k in ("optimizer", "lr", "beta1", "beta2", "eps", "weight_decay", "steps", "every", "predictors",
              "device", "dtype", "seed"):
        v = getattr(args, k)
        if v is not None:
            parts.append(f"--{k.replace('_', '-')} {v}")
    if getattr(args, "model_size", None) is not None:
        parts.append(f"--model-size {args.model_size}")
    parts += [f"--set {s}" for s in args.set]
    return parts
