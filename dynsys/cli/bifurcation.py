"""``dynsys bifurcation``: orbit diagram of a map of the toolkit over one parameter.

Example (Fig. 4 of the degenerate-polynomials paper, the effective-sharpness map for k = 4)::

    dynsys bifurcation --map sharpness --k 4 --param gamma:1.5:6.5:1000 --discard 1000 --keep 300 \\
        --out orbit.nc --plot orbit.png
"""
from __future__ import annotations

from pathlib import Path

NAME = "bifurcation"


def register(subparsers):
    p = subparsers.add_parser(
        NAME, help="orbit (bifurcation) diagram of a map over one parameter",
        description="Iterate a map of dynsys.systems for every value of one parameter: attractor points, detected "
                    "period, largest Lyapunov exponent (from the Jacobian) and escape from the domain.")
    p.add_argument("--map", required=True, metavar="NAME",
                   help="system name: sharpness, adam-normalized, gd-power, gd-exp-power, rmsprop-power, adam-power, llas-gd")
    p.add_argument("--k", type=int, default=None, help="exponent k of the map (if it has one)")
    p.add_argument("--param", required=True, metavar="NAME:START:STOP:NUM",
                   help="swept parameter, NUM values from START to STOP inclusive")
    p.add_argument("--set", dest="fixed", action="append", default=[], metavar="NAME=VALUE",
                   help="value of another parameter (repeatable), e.g. --set beta2=0.9")
    p.add_argument("--state0", action="append", default=[], metavar="NAME=VALUE",
                   help="initial state component (repeatable; default the system's default state)")
    p.add_argument("--observe", default=None, metavar="STATE", help="state component recorded (default the first)")
    p.add_argument("--discard", type=int, default=1000, help="transient steps discarded (default 1000)")
    p.add_argument("--keep", type=int, default=1000, help="steps kept per value (default 1000)")
    p.add_argument("--continuation", action="store_true",
                   help="start each value from the previous value's final state")
    p.add_argument("--max-period", type=int, default=64, help="largest period detected (default 64)")
    p.add_argument("--histogram-bins", type=int, default=None,
                   help="also store a density histogram with this many bins (long keeps)")
    p.add_argument("--histogram-range", default=None, metavar="LO:HI",
                   help="histogram range (default (0, 2) for sharpness)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="iterate on the CPU (default) or on a CUDA GPU, one thread per value (the sharpness map "
                        "without --continuation; the same points); auto: CUDA when available and applicable")
    p.add_argument("--out", required=True, metavar="FILE.nc", help="output netCDF file")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also draw the diagram with the theory marks")
    p.add_argument("--density", action="store_true", help="plot the density histogram instead of the points")
    p.set_defaults(func=run)
    return p


def _pairs(items, label):
    out = {}
    for item in items:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{label} {item!r} is not NAME=VALUE; allowed: e.g. {label} gamma=2.5")
        try:
            out[name] = float(val)
        except ValueError:
            raise ValueError(f"{label} {item!r} has a non-numeric value; allowed: NAME=<real number>") from None
    return out


def parse_param(text):
    """``NAME:START:STOP:NUM`` -> ``(name, values)`` (inclusive linspace)."""
    import numpy as np

    parts = str(text).split(":")
    if len(parts) != 4:
        raise ValueError(f"--param {text!r} is not NAME:START:STOP:NUM; allowed: e.g. gamma:1.5:6:1000")
    name = parts[0]
    try:
        start, stop = float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError(f"--param {text!r} has a non-numeric range; allowed: real START < STOP") from None
    try:
        num = int(parts[3])
    except ValueError:
        raise ValueError(f"--param NUM = {parts[3]!r} is not an integer; allowed: integer NUM >= 1") from None
    if not (np.isfinite(start) and np.isfinite(stop)):
        raise ValueError(f"--param range {start!r}:{stop!r} is not finite; allowed: finite START < STOP")
    if num < 1:
        raise ValueError(f"--param NUM = {num} is out of range; allowed: integer NUM >= 1")
    if not start < stop and not (num == 1 and start == stop):
        what = "empty" if start == stop else "reversed"
        raise ValueError(f"--param range {start!r}:{stop!r} is {what}; allowed: START < STOP")
    return name, np.linspace(start, stop, num)


def run(args):
    import os

    from dynsys.cli.phase import _check_out
    from dynsys.scan import orbit_diagram
    from dynsys.systems import get_system

    out = _check_out(args.out, ".nc", "--out")
    plot = _check_out(args.plot, ".png", "--plot") if args.plot else None
    if args.density and args.histogram_bins is None:
        raise ValueError("--density without --histogram-bins; allowed: --density with --histogram-bins B")
    try:
        system = get_system(args.map)
    except ValueError as exc:
        raise ValueError(f"--map {args.map!r} is unknown; {str(exc).split('; ', 1)[-1]}") from None
    name, values = parse_param(args.param)
    if name not in system.param_names:
        raise ValueError(f"--param {name!r} is not a parameter of map {system.name!r}; allowed: {', '.join(system.param_names)}")
    fixed = _pairs(args.fixed, "--set")
    for key in fixed:
        if key not in system.param_names:
            raise ValueError(f"--set {key!r} is not a parameter of map {system.name!r}; allowed: {', '.join(system.param_names)}")
    if args.k is not None:
        if "k" not in system.param_names:
            raise ValueError(f"--k is not a parameter of map {system.name!r}; allowed: {', '.join(system.param_names)}")
        if name == "k":
            raise ValueError("--k given while --param sweeps k; allowed: one of them")
        fixed["k"] = args.k
    if "k" in fixed:
        fixed["k"] = int(fixed["k"]) if float(fixed["k"]).is_integer() else fixed["k"]
    state0 = _pairs(args.state0, "--state0") or None
    hr = None
    if args.histogram_range:
        try:
            lo, hi = (float(v) for v in args.histogram_range.split(":"))
        except ValueError:
            raise ValueError(f"--histogram-range {args.histogram_range!r} is not LO:HI; allowed: e.g. 0:2") from None
        hr = (lo, hi)
    ds = orbit_diagram(system, name, values, fixed=fixed, discard=args.discard, keep=args.keep,
                       continuation=args.continuation, state0=state0, max_period=args.max_period,
                       observe=args.observe, histogram_bins=args.histogram_bins, histogram_range=hr,
                       device=args.device)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    ds.to_netcdf(tmp)
    os.replace(tmp, out)
    if plot is not None:
        from dynsys.plot.orbit import orbit_figure

        orbit_figure(ds, density=args.density or None).savefig(plot, dpi=110)
    n_esc = int(ds["escaped"].sum())
    print(f"wrote {out} ({values.size} values of {name}; {n_esc} escaped)" + (f"; plot {plot}" if plot else ""))
    return 0
