"""``dynsys trajectory``: run one optimizer on one objective and write the trajectory.

Examples::

    dynsys trajectory --optimizer adam --objective power --k 4 --lr 0.01 --beta1 0.5 --beta2 0.9 \\
        --eps 0 --no-bias-correction --steps 100000 --record-every 100 --x0 1 --out adam_x4.csv --plot adam_x4.png
    dynsys trajectory --optimizer gd --objective quadratic --diag 1,4 --lr 0.49 --steps 200 --x0 1,1 --out gd.nc
    dynsys trajectory --optimizer gd --objective llas --lr 5e-3 --steps 120 --x0 0.5,1e-5 --out llas.csv --plot llas.png
"""
from __future__ import annotations

NAME = "trajectory"

CSV_COLUMNS = ("step", "loss", "log10_loss", "grad", "m", "v", "eff_lr", "precond_curvature", "diverged")
#: exact logarithms written after the required columns: in log coordinates (x^k/k) grad, m, v and
#: eff_lr leave float64 long before the run ends (stored as 0.0 / inf there), these stay exact
CSV_LOG_COLUMNS = ("log10_abs_grad", "log10_abs_m", "log10_v", "log10_eff_lr")
_DEFAULT_X0 = {"power": "1.0", "quadratic": None, "llas": "0.5,1e-5", "powerlaw-fit": "0.0,-0.8"}


def register(subparsers) -> None:
    from dynsys.objectives import OBJECTIVES
    from dynsys.optimizers import OPTIMIZERS

    p = subparsers.add_parser(
        NAME,
        help="run one optimizer on one objective; write CSV or netCDF (and a plot)",
        description="Iterate the compiled optimizer map from x0 and write the trajectory: CSV columns "
        + ", ".join(CSV_COLUMNS)
        + ", then the exact logarithms " + ", ".join(CSV_LOG_COLUMNS)
        + " (one row per recorded step; where a value is outside float64 its plain column shows 0.0 or inf "
        "and its log10 column the true value), or the full labelled Dataset as netCDF (.nc) with every setting "
        "in its attributes. On x^k/k the state is carried in log coordinates, so log10_loss stays exact "
        "far below 1e-308. A divergence (overflow, or 0/0 with eps = 0) ends the run: the last row has "
        "diverged = 1.",
    )
    p.add_argument("--optimizer", required=True, choices=OPTIMIZERS, help="update rule")
    p.add_argument("--objective", required=True, choices=OBJECTIVES,
                   help="power: x^k/k; quadratic: x^T A x/2 (--diag or --matrix); llas: (50x+200)y^2-x+5; "
                   "powerlaw-fit: least-squares fit of C x^alpha to seeded Zipf data")
    p.add_argument("--k", type=int, default=4, help="exponent of x^k/k, even >= 2 (default 4)")
    p.add_argument("--lr", type=float, required=True, help="learning rate eta > 0")
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="exponential schedule eta_t = lr * lr_decay^t, > 0 (default 1: constant)")
    p.add_argument("--beta1", type=float, default=0.9, help="Adam/AdamW first-moment factor in [0, 1) (default 0.9)")
    p.add_argument("--beta2", type=float, default=0.999,
                   help="second-moment factor in [0, 1) for rmsprop/adam/adamw (default 0.999)")
    p.add_argument("--eps", type=float, default=1e-8, help="eps >= 0 added to sqrt(vhat) (default 1e-8)")
    p.add_argument("--momentum", type=float, default=None,
                   help="heavy-ball beta in [0, 1) for --optimizer momentum (default: --beta1)")
    p.add_argument("--no-bias-correction", action="store_true",
                   help="use m, v without dividing by 1 - beta^t (rmsprop never corrects)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="decoupled weight decay >= 0 (adamw only; default 0.01)")
    p.add_argument("--diag", default=None, metavar="S1,S2,...",
                   help="quadratic: eigenvalues of a diagonal A (comma-separated)")
    p.add_argument("--matrix", default=None, metavar="A11,A12;A21,A22",
                   help="quadratic: dense symmetric A, rows separated by ';'")
    p.add_argument("--n-data", type=int, default=64, help="powerlaw-fit: number of Zipf data points (default 64)")
    p.add_argument("--zipf-alpha", type=float, default=1.0, help="powerlaw-fit: Zipf exponent of the data (default 1)")
    p.add_argument("--noise", type=float, default=0.1, help="powerlaw-fit: log-normal noise of the data (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="powerlaw-fit: data seed (default 0)")
    p.add_argument("--steps", type=int, required=True, help="number of updates N >= 1")
    p.add_argument("--x0", default=None,
                   help="initial point; comma-separated for d > 1 (default: power 1.0, llas 0.5,1e-5, "
                   "powerlaw-fit 0,-0.8, quadratic all ones)")
    p.add_argument("--record-every", type=int, default=1,
                   help="keep every n-th step (the last step and a divergence step are always kept)")
    p.add_argument("--plain", action="store_true",
                   help="power: plain float64 coordinates instead of log coordinates (the loss underflows then)")
    p.add_argument("--out", required=True, metavar="FILE.{csv,nc}", help="output file: .csv or .nc (netCDF)")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="also draw loss, effective learning rate and curvature with thresholds")
    p.set_defaults(func=run)


def _floats(name, text):
    parts = [s.strip() for s in text.split(",")]
    try:
        return [float(s) for s in parts]
    except ValueError:
        raise ValueError(f"{name} = {text!r} is not a comma-separated list of numbers; allowed: e.g. 1.0,0.5") from None


def _suffix(name, path, allowed):
    import pathlib

    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"{name} = {path!r} has extension {suffix or '(none)'!r}; allowed: {', '.join(allowed)}")
    return suffix


def build(args):
    """``(optimizer, objective, x0)`` from parsed arguments (validated by the API)."""
    import numpy as np

    from dynsys.objectives import llas, power, powerlaw_fit, quadratic
    from dynsys.optimizers import adam, adamw, gd, momentum, rmsprop

    bc = not args.no_bias_correction
    name = args.optimizer
    if args.weight_decay is not None and name != "adamw":
        raise ValueError(f"--weight-decay = {args.weight_decay!r} is only for adamw; allowed: --optimizer adamw")
    if name == "gd":
        opt = gd(args.lr, lr_decay=args.lr_decay)
    elif name == "momentum":
        beta = args.momentum if args.momentum is not None else args.beta1
        opt = momentum(args.lr, beta, lr_decay=args.lr_decay)
    elif name == "rmsprop":
        opt = rmsprop(args.lr, args.beta2, args.eps, bias_correction=False, lr_decay=args.lr_decay)
    elif name == "adam":
        opt = adam(args.lr, args.beta1, args.beta2, args.eps, bias_correction=bc, lr_decay=args.lr_decay)
    else:
        wd = 1e-2 if args.weight_decay is None else args.weight_decay
        opt = adamw(args.lr, args.beta1, args.beta2, args.eps, weight_decay=wd, bias_correction=bc,
                    lr_decay=args.lr_decay)

    if args.objective == "power":
        obj = power(args.k)
    elif args.objective == "quadratic":
        if (args.diag is None) == (args.matrix is None):
            raise ValueError("--diag/--matrix: give exactly one for --objective quadratic; allowed: --diag 1,4 or --matrix '2,1;1,3'")
        if args.diag is not None:
            obj = quadratic(np.array(_floats("--diag", args.diag)))
        else:
            rows = [_floats("--matrix", row) for row in args.matrix.split(";")]
            if len({len(r) for r in rows}) != 1:
                raise ValueError(f"--matrix = {args.matrix!r} has rows of different lengths; allowed: a square symmetric matrix")
            try:
                obj = quadratic(np.array(rows))
            except ValueError as exc:
                raise ValueError(f"--matrix: {exc}") from None
    elif args.objective == "llas":
        obj = llas()
    else:
        obj = powerlaw_fit(n=args.n_data, alpha=args.zipf_alpha, noise=args.noise, seed=args.seed)
    if args.objective != "quadratic" and (args.diag is not None or args.matrix is not None):
        raise ValueError("--diag/--matrix are only for --objective quadratic; allowed: omit them")

    text = args.x0 if args.x0 is not None else _DEFAULT_X0[args.objective]
    x0 = np.ones(obj.dim) if text is None else np.array(_floats("--x0", text))
    if x0.shape[0] != obj.dim:
        raise ValueError(f"--x0 = {text!r} has {x0.shape[0]} values; allowed: {obj.dim} comma-separated values "
                         f"(the dimension of {obj.name})")
    return opt, obj, x0


def write_csv(ds, path) -> None:
    """Write the columns :data:`CSV_COLUMNS` then :data:`CSV_LOG_COLUMNS` (d > 1: grad, m, v are norms),
    full float64 precision."""
    import numpy as np

    cols = [ds.step.values.astype(np.int64)]
    for name in CSV_COLUMNS[1:-1]:
        cols.append(ds[name].values.astype(float))
    div = ds.diverged.values.astype(int)
    logs = [ds[name].values.astype(float) for name in CSV_LOG_COLUMNS]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(CSV_COLUMNS + CSV_LOG_COLUMNS) + "\n")
        for i in range(len(cols[0])):
            vals = ([str(int(cols[0][i]))] + [repr(float(c[i])) for c in cols[1:]] + [str(int(div[i]))]
                    + [repr(float(c[i])) for c in logs])
            fh.write(",".join(vals) + "\n")


def run(args) -> int:
    out_kind = _suffix("--out", args.out, (".csv", ".nc"))
    if args.plot is not None:
        _suffix("--plot", args.plot, (".png", ".pdf", ".svg"))
    opt, obj, x0 = build(args)
    if args.plain and obj.name != "power":
        raise ValueError("--plain is only for --objective power; allowed: omit it")

    from dynsys.simulate import trajectory

    ds = trajectory(opt, obj, x0, args.steps, record_every=args.record_every,
                    log_space=False if args.plain else None)
    if out_kind == ".csv":
        write_csv(ds, args.out)
    else:
        ds.to_netcdf(args.out)
    if args.plot is not None:
        from dynsys.plot.trajectory import plot_trajectory

        plot_trajectory(ds, args.plot)
    last = ds.isel(step=-1)
    msg = (f"wrote {ds.sizes['step']} rows to {args.out}: {opt.name} on {obj.name}, "
           f"step {int(last.step)} log10_loss {float(last.log10_loss):.6g}")
    if ds.attrs["diverged"]:
        msg += f"; diverged at step {ds.attrs['diverged_step']}: {ds.attrs['reason']}"
    print(msg)
    if args.plot is not None:
        print(f"plot written to {args.plot}")
    return 0
