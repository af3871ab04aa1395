"""Speed of the core optimizer maps: the same work four ways, plus one long trajectory.

Work: Adam (PyTorch convention, bias correction on, eps = 1e-8, lr = 1e-2) on x^4/4 from
x0 = 1, for a fixed number of steps, in every cell of a (beta1, beta2) grid -- the inner loop
of a phase diagram. Run as

* pure Python (floats, one cell at a time) on a sub-grid;
* NumPy, vectorized over all cells (one array operation per step);
* numba, serial (``dynsys.kernels.grid.adam_power_grid_serial``);
* numba, parallel over cells with ``prange`` (``adam_power_grid_parallel``).

Speed is map-steps per second (cells x steps / seconds), median of ``--repeats`` runs after a
warm-up (compilation excluded), with ratios against pure Python and against numba serial. The
results of the four ways are checked to agree (numba serial == parallel bit for bit).

Then the single-trajectory figure of issue 2: ``dynsys.simulate.trajectory`` of Adam on x^k/k
for 10^6 steps after compilation (target < 0.1 s), in log coordinates (the default for x^k/k)
and plain coordinates, keeping only the last row, and with every row kept.

Usage::

    python benchmarks/bench_core.py                 # full run, prints a markdown table
    python benchmarks/bench_core.py --quick         # small sizes (seconds)
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import numpy as np


def python_cell(k, lr, b1, b2, eps, steps, x0):
    """Pure-Python Adam on x^k/k, the same operations as dynsys.kernels.raw (bias correction on)."""
    x, m, v = x0, 0.0, 0.0
    for t in range(steps):
        g = x ** (k - 1)
        eta = lr * 1.0 ** t
        bc1 = 1.0 - b1 ** (t + 1)
        bc2 = 1.0 - b2 ** (t + 1)
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        den = math.sqrt(v) / math.sqrt(bc2) + eps
        x = x * 1.0 - (eta / bc1) * (m / den)
    return x


def python_grid(k, lr, b1s, b2s, eps, steps, x0):
    return np.array([[python_cell(k, lr, b1, b2, eps, steps, x0) for b2 in b2s] for b1 in b1s])


def numpy_grid(k, lr, b1s, b2s, eps, steps, x0):
    """All cells at once: one NumPy operation per step and per term."""
    B1, B2 = np.meshgrid(b1s, b2s, indexing="ij")
    X = np.full(B1.shape, x0)
    M = np.zeros(B1.shape)
    V = np.zeros(B1.shape)
    p1 = np.ones(B1.shape)
    p2 = np.ones(B1.shape)
    for t in range(steps):
        G = X ** (k - 1)
        p1 = B1 ** (t + 1)
        p2 = B2 ** (t + 1)
        M = B1 * M + (1.0 - B1) * G
        V = B2 * V + (1.0 - B2) * G * G
        den = np.sqrt(V) / np.sqrt(1.0 - p2) + eps
        X = X - (lr / (1.0 - p1)) * (M / den)
    return X


BEST = {}


def _median_time(fn, repeats):
    """Median wall time of ``repeats`` calls (the fastest is kept in ``BEST[fn]``: on a shared
    machine it shows the uncontended speed) and the last result."""
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    BEST[fn] = min(times)
    return statistics.median(times), out


def _load() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=64, help="grid is cells x cells (default 64)")
    parser.add_argument("--steps", type=int, default=2000, help="steps per cell (default 2000)")
    parser.add_argument("--subgrid", type=int, default=8, help="pure-Python grid is subgrid x subgrid (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats; medians reported (default 5)")
    parser.add_argument("--k", type=int, default=4, help="exponent of x^k/k (default 4)")
    parser.add_argument("--traj-steps", type=int, default=10**6, help="steps of the single trajectory (default 1e6)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.cells, args.steps, args.subgrid, args.repeats, args.traj_steps = 16, 300, 2, 3, 10**5

    import numba

    from dynsys.kernels.grid import adam_power_grid
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    k, lr, eps, x0 = args.k, 1e-2, 1e-8, 1.0
    b1s = np.linspace(0.0, 0.99, args.cells)
    b2s = np.linspace(0.5, 0.999, args.cells)
    sub = np.linspace(0, args.cells - 1, args.subgrid).astype(int)
    n_grid = args.cells ** 2 * args.steps
    n_sub = args.subgrid ** 2 * args.steps

    # warm-up / compilation (excluded)
    adam_power_grid(k, lr, b1s[:2], b2s[:2], eps, True, 5, x0, parallel=False)
    adam_power_grid(k, lr, b1s[:2], b2s[:2], eps, True, 5, x0, parallel=True)
    trajectory(adam(lr, 0.9, 0.999, eps), power(k), x0, 10)
    trajectory(adam(lr, 0.9, 0.999, eps), power(k), x0, 10, log_space=False)

    rows = []
    t_py, x_py = _median_time(lambda: python_grid(k, lr, b1s[sub], b2s[sub], eps, args.steps, x0), args.repeats)
    rows.append(("pure Python (sub-grid)", args.subgrid ** 2, t_py, n_sub / t_py, n_sub / min(BEST.values())))
    BEST.clear()
    t_np, x_np = _median_time(lambda: numpy_grid(k, lr, b1s, b2s, eps, args.steps, x0), args.repeats)
    rows.append(("NumPy vectorized", args.cells ** 2, t_np, n_grid / t_np, n_grid / BEST.popitem()[1]))
    t_ser, (x_ser, st_ser, _) = _median_time(
        lambda: adam_power_grid(k, lr, b1s, b2s, eps, True, args.steps, x0, parallel=False), args.repeats)
    rows.append(("numba serial", args.cells ** 2, t_ser, n_grid / t_ser, n_grid / BEST.popitem()[1]))
    t_par, (x_par, st_par, _) = _median_time(
        lambda: adam_power_grid(k, lr, b1s, b2s, eps, True, args.steps, x0, parallel=True), args.repeats)
    rows.append((f"numba parallel ({numba.get_num_threads()} threads)", args.cells ** 2, t_par, n_grid / t_par,
                 n_grid / BEST.popitem()[1]))

    # the four ways compute the same map
    assert np.array_equal(x_ser, x_par) and np.array_equal(st_ser, st_par), "serial and parallel differ"
    # NumPy/Python take b^(t+1) and x^(k-1) with pow(), the kernel with a running product and
    # repeated multiplication: last-bit differences, which a few cells near the chaotic /
    # period-doubling region amplify over thousands of steps. Require 99% of cells to agree.
    ok = st_ser == 0
    close = np.isclose(x_np[ok], x_ser[ok], rtol=1e-9, atol=1e-12)
    assert close.mean() >= 0.99, f"NumPy and numba differ in {np.sum(~close)} of {close.size} cells"
    close_py = np.isclose(x_py, x_ser[np.ix_(sub, sub)], rtol=1e-9, atol=1e-12)
    assert close_py.mean() >= 0.9, f"Python and numba differ in {np.sum(~close_py)} of {close_py.size} cells"
    agree = (f"results agree (rtol 1e-9) in {close.sum()}/{close.size} cells (NumPy vs numba), "
             f"{close_py.sum()}/{close_py.size} (Python vs numba); numba serial == parallel bit for bit")

    base = rows[0][3]
    print(f"## Core maps: Adam on x^{k}/{k}, {args.cells}x{args.cells} (beta1, beta2) cells x {args.steps} steps")
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
          f"python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}; "
          f"medians of {args.repeats} repeats; load average at start {_load()}")
    print()
    print(agree)
    print()
    print("| method | cells | seconds (median) | map-steps/s (median) | map-steps/s (fastest) "
          "| vs pure Python | vs numba serial |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cells, sec, rate, best in rows:
        print(f"| {name} | {cells} | {sec:.4g} | {rate:.3g} | {best:.3g} | {rate / base:.3g}x | "
              f"{rate / rows[2][3]:.3g}x |")
    print()

    # single trajectory: 10^6 steps after compilation
    n = args.traj_steps
    print(f"### One trajectory: Adam on x^{k}/{k}, {n:.0e} steps (after compilation)")
    print()
    print("| configuration | seconds (median) | seconds (fastest) | steps/s (median) |")
    print("|---|---:|---:|---:|")
    configs = [
        ("log coordinates (default), b1=0.9 b2=0.999 eps=1e-8 bias corr., last row kept",
         dict(opt=adam(lr, 0.9, 0.999, eps), log_space=True, every=n)),
        ("log coordinates, b1=0.5 b2=0.9 eps=0 no bias corr. (paper setting), last row kept",
         dict(opt=adam(lr, 0.5, 0.9, 0.0, bias_correction=False), log_space=True, every=n)),
        ("plain coordinates, b1=0.9 b2=0.999 eps=1e-8 bias corr., last row kept",
         dict(opt=adam(lr, 0.9, 0.999, eps), log_space=False, every=n)),
        (f"log coordinates, every row kept (Dataset of {n:.0e} rows)",
         dict(opt=adam(lr, 0.9, 0.999, eps), log_space=True, every=1)),
    ]
    for label, c in configs:
        fn = lambda: trajectory(c["opt"], power(k), x0, n, record_every=c["every"],  # noqa: E731
                                log_space=c["log_space"])
        sec, ds = _median_time(fn, max(args.repeats, 7))
        assert ds.attrs["diverged"] == 0
        print(f"| {label} | {sec:.4g} | {BEST[fn]:.4g} | {n / sec:.3g} |")
    print()
    print(f"command: `python benchmarks/bench_core.py{' --quick' if args.quick else ''}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
