"""``dynsys phase``: phase diagram of an optimizer on x^k/k over two hyperparameters.

Example (the k = 4 diagram of the degenerate-polynomials paper, Fig. 3/7)::

    dynsys phase --optimizer adam --objective power --k 4 --x beta1:0:1:100 --y beta2:0:1:100 \\
        --lr 0.01 --steps 5000 --out phase_k4.nc --plot phase_k4.png

Finished chunks go to ``FILE.nc.chunks/``; after an interruption run the same command with
``--resume``. The store is removed once ``FILE.nc`` is written.
"""
from __future__ import annotations

from pathlib import Path

NAME = "phase"


def register(subparsers):
    p = subparsers.add_parser(
        NAME, help="phase diagram over two hyperparameters (regimes, theory boundaries)",
        description="Scan an optimizer on x^k/k (or c x^2/2) over a grid of two hyperparameters; per cell "
                    "log10 min/final loss, spikes, coupling ratio, observed and predicted regime "
                    "(1 I converging, 2 II spiking after convergence, 3 III oscillating, 0 diverged). "
                    "Resumable (--resume), parallel, optionally on a Dask cluster (--scheduler).")
    p.add_argument("--optimizer", default="adam", choices=("gd", "momentum", "rmsprop", "adam", "adamw"),
                   help="update rule (default adam)")
    p.add_argument("--objective", default="power", choices=("power", "quadratic"),
                   help="power: x^k/k; quadratic: c x^2/2 with c = --curvature (default power)")
    p.add_argument("--k", type=int, default=4, help="even exponent k >= 2 of x^k/k (default 4)")
    p.add_argument("--x", default="beta1:0:1:50", metavar="NAME:START:STOP:NUM[:log]",
                   help="horizontal axis, cell-centred: any of lr, beta1 (beta), beta2, eps, weight_decay, lr_decay, "
                        "x0, k, curvature (default beta1:0:1:50)")
    p.add_argument("--y", default="beta2:0:1:50", metavar="NAME:START:STOP:NUM[:log]",
                   help="vertical axis (default beta2:0:1:50)")
    p.add_argument("--lr", type=float, default=None, help="learning rate eta > 0 (required unless swept)")
    p.add_argument("--steps", type=int, default=10_000, help="updates per cell (default 10000)")
    p.add_argument("--x0", type=float, default=1.0, help="initial point (default 1)")
    p.add_argument("--beta1", "--momentum", dest="beta1", type=float, default=0.9,
                   help="first-moment / heavy-ball factor in [0, 1) when not swept (default 0.9)")
    p.add_argument("--beta2", type=float, default=0.999, help="second-moment factor in [0, 1) when not swept (default 0.999)")
    p.add_argument("--eps", type=float, default=0.0, help="eps >= 0 added to sqrt(vhat) (default 0, the paper's setting)")
    p.add_argument("--bias-correction", dest="bias_correction", action="store_true", default=False,
                   help="divide m, v by 1-beta^t (PyTorch default; the paper uses none)")
    p.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                   help="no bias correction (default)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled weight decay >= 0 (default 0)")
    p.add_argument("--lr-decay", type=float, default=1.0, help="eta_t = lr * lr_decay^t, lr_decay > 0 (default 1)")
    p.add_argument("--curvature", type=float, default=1.0, help="c > 0 of the quadratic c x^2/2 (default 1)")
    p.add_argument("--spike-factor", type=float, default=100.0,
                   help="a spike: loss rises above this factor times its running min and falls back by it (default 100)")
    p.add_argument("--plateau-depth", type=float, default=5.0,
                   help="decades below lr^k/k the loss must be in an exponential phase (default 5)")
    p.add_argument("--phase-length", type=int, default=8,
                   help="an exponential phase: at least this many consecutive steps that deep (default 8)")
    p.add_argument("--sustained-rule", action="store_true",
                   help="the first classification rule instead (a whole 32-step window that deep; no phase pass, faster)")
    p.add_argument("--coupled-cycles", action="store_true",
                   help="also search each predicted cell for a stable coupled cycle (claim D18; variable coupled_cycle)")
    p.add_argument("--coupling-window", type=float, default=0.1,
                   help="final fraction of the run over which v/g^2 is averaged (default 0.1)")
    p.add_argument("--chunk", type=int, default=None,
                   help="cells per chunk: memory, progress and resume unit (default 16384 on cpu, what fits the GPU "
                        "on cuda, the store's with --resume)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="run the cells on the CPU (default), on a CUDA GPU (numba-cuda, the same results) or on "
                        "CUDA when one is available (auto)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted scan stored in FILE.nc.chunks/")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run chunks on this Dask scheduler (tcp://host:port)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="FILE.nc", help="output netCDF file")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also draw heatmaps with the theory boundaries")
    p.add_argument("--vars", default=",".join(("min_loss", "final_loss", "coupling_ratio", "regime")),
                   metavar="V1,V2,...", help="variables drawn by --plot (default min_loss,final_loss,coupling_ratio,regime)")
    p.add_argument("--zoom", default=None, metavar="X0:X1,Y0:Y1", help="axis limits of the plot, e.g. 0:0.1,0:0.1")
    p.set_defaults(func=run)
    return p


def _check_out(path, suffix, label):
    path = Path(path)
    if path.suffix != suffix:
        raise ValueError(f"{label} = {str(path)!r} does not end in {suffix}; allowed: a {suffix} file name")
    if not path.parent.exists():
        raise ValueError(f"{label} = {str(path)!r}: directory {str(path.parent)!r} does not exist; allowed: an existing directory")
    if path.is_dir():
        raise ValueError(f"{label} = {str(path)!r} is a directory; allowed: a file name")
    return path


def run(args):
    import os

    from dynsys.plot.phase import parse_zoom
    from dynsys.scan import phase_diagram
    from dynsys.scan.store import ChunkStore

    out = _check_out(args.out, ".nc", "--out")
    plot = _check_out(args.plot, ".png", "--plot") if args.plot else None
    zoom = parse_zoom(args.zoom)
    variables = [v for v in args.vars.split(",") if v]
    store = Path(str(out) + ".chunks")
    counters = {}
    ds = phase_diagram(
        args.optimizer, args.objective, k=args.k, x=args.x, y=args.y, lr=args.lr, steps=args.steps, x0=args.x0,
        beta1=args.beta1, beta2=args.beta2, eps=args.eps, weight_decay=args.weight_decay, lr_decay=args.lr_decay,
        bias_correction=args.bias_correction, curvature=args.curvature, spike_factor=args.spike_factor,
        plateau_depth=args.plateau_depth, coupling_window=args.coupling_window, chunk=args.chunk, store=store,
        phase_length=None if args.sustained_rule else args.phase_length, coupled_cycles=args.coupled_cycles,
        resume=args.resume, scheduler=args.scheduler, progress=not args.no_progress, counters=counters,
        device=args.device)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    ds.to_netcdf(tmp)
    os.replace(tmp, out)
    ChunkStore(store).remove()
    if plot is not None:
        from dynsys.plot.phase import phase_figure

        fig = phase_figure(ds, variables, zoom=zoom)
        fig.savefig(plot, dpi=110)
    a = ds.attrs
    print(f"wrote {out} ({a['y_name']} x {a['x_name']} = {ds.sizes[a['y_name']]} x {ds.sizes[a['x_name']]} cells); "
          f"agreement with theory: {a['agreement']:.4f}; computed {counters['computed']} of {counters['nchunks']} chunks "
          f"({counters['resumed']} resumed from the store)" + (f"; plot {plot}" if plot else ""))
    return 0
