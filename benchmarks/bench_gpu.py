"""Cell-steps per second of the CUDA phase-scan backend against the CPU lane kernel, in one run.

The work is the phase scan of ``benchmarks/bench_scan.py``: Adam (eps = 0, no bias correction,
lr = 0.01) on x^4/4 over a cell-centred beta1 x beta2 grid with every per-cell statistic (running
min and its step, spikes, sustained level, coupling ratio, failures, exact renormalization).

* CUDA: :func:`dynsys.scan.cuda_backend.scan_cells_cuda` (one thread per cell, the kernel compiled
  without fma contraction), timed end to end (host -> device copies, kernel, device -> host
  copies) on grids ``--grids`` (default 256^2 .. 4096^2) x ``--steps``;
* CPU: :func:`dynsys.scan.lanes.scan_cells` (lane kernel, all numba threads) on
  ``--cpu-grid``^2 x ``--cpu-steps`` (the CPU would take hours on the big grids; cell-steps/s is the
  same unit whatever the size);
* the CUDA outputs on the CPU's grid are compared with the CPU's: status, steps and counts exactly,
  the log2 statistics to 1e-12 relative (libdevice's log2), reported as ``equal``.

Every time is the median of ``--repeats`` runs after a warm-up (compilation excluded). Usage::

    python benchmarks/bench_gpu.py                      # on a machine with a CUDA GPU
    python benchmarks/bench_gpu.py --grids 256,1024 --steps 100000
    python benchmarks/bench_gpu.py --simulator          # no GPU: numba's simulator, a tiny grid, proves it runs

Without a GPU (and without ``--simulator``) it exits with status 2 and says so: GPU figures are
only ever measured on a GPU.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

LR = 0.01
KEXP = 4


def _grid(n):
    import numpy as np

    c = (np.arange(n) + 0.5) / n
    b1, b2 = np.meshgrid(c, c)
    return np.ascontiguousarray(b1.ravel()), np.ascontiguousarray(b2.ravel())


def run_scan(kernel, n, steps):
    """The benchmark scan of an ``n x n`` grid for ``steps`` steps with ``kernel`` (the
    signature of :func:`dynsys.scan.lanes.scan_cells`); returns the outputs."""
    import numpy as np

    from dynsys.scan import lanes as K

    b1, b2 = _grid(n)
    m = b1.size
    out = {key: np.empty(m, dt) for key, dt in K.OUTPUTS.items()}
    lr, zero, one = np.full(m, LR), np.zeros(m), np.ones(m)
    cstart = steps - max(1, math.ceil(0.1 * steps))
    kernel(KEXP, 1.0, True, False, lr, b1, b2, zero, zero, one, one, steps, 100.0 ** (1.0 / KEXP), cstart,
           *out.values())
    return out


def _median(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def compare(gpu, cpu):
    """``equal`` as in the module docstring, and the largest relative difference of the logs."""
    import numpy as np

    worst = 0.0
    for key, a in cpu.items():
        b = gpu[key]
        if a.dtype.kind != "f":
            if not np.array_equal(a, b):
                return False, math.inf
            continue
        if not np.array_equal(np.isfinite(a), np.isfinite(b)) or not np.array_equal(a[~np.isfinite(a)],
                                                                                    b[~np.isfinite(b)],
                                                                                    equal_nan=True):
            return False, math.inf
        fin = np.isfinite(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(a[fin] - b[fin]) / np.maximum(np.abs(a[fin]), 1e-300)
        worst = max(worst, float(rel.max()) if rel.size else 0.0)
    return worst <= 1e-12, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", default="256,512,1024,2048,4096", metavar="N1,N2,...",
                    help="CUDA grid sizes N (N x N cells; default 256,512,1024,2048,4096)")
    ap.add_argument("--steps", type=int, default=10_000, help="steps per cell on the GPU (default 10000)")
    ap.add_argument("--cpu-grid", type=int, default=256, help="CPU baseline grid N (default 256)")
    ap.add_argument("--cpu-steps", type=int, default=2000, help="CPU baseline steps (default 2000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median; default 3)")
    ap.add_argument("--simulator", action="store_true",
                    help="no GPU: run numba's CUDA simulator on a tiny grid (8 x 8, 200 steps) to prove the path works")
    args = ap.parse_args(argv)
    try:
        grids = [int(v) for v in args.grids.split(",") if v]
    except ValueError:
        ap.exit(2, f"bench_gpu: error: --grids {args.grids!r} is not a list of integers; allowed: e.g. 256,1024\n")
    for name, val in (("--steps", args.steps), ("--cpu-grid", args.cpu_grid), ("--cpu-steps", args.cpu_steps),
                      ("--repeats", args.repeats), *(("--grids", g) for g in grids)):
        if val < 1:
            ap.exit(2, f"bench_gpu: error: {name} = {val} is out of range; allowed: >= 1\n")
    if args.simulator:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        grids, args.steps, args.cpu_grid, args.cpu_steps, args.repeats = [8], 200, 8, 200, 1
    elif os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        ap.exit(2, "bench_gpu: error: NUMBA_ENABLE_CUDASIM is set; allowed: a real GPU, or --simulator for a tiny check\n")

    import numba
    import numpy as np

    from dynsys.scan import cuda_backend, lanes

    why = cuda_backend._why_no_cuda()
    if why is not None:
        ap.exit(2, f"bench_gpu: no CUDA GPU here ({why}); GPU figures stay pending: run this on a machine with a "
                   "CUDA GPU (pip install 'dynsys[cuda]'), or pass --simulator for a tiny functional check\n")
    if args.simulator:
        device = "numba CUDA simulator (NOT a GPU: these rates mean nothing)"
    else:
        from numba import cuda

        dev = cuda.get_current_device()
        device = f"{dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, compute capability {dev.compute_capability}"
    print(f"# bench_gpu: {device}; CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"{numba.config.NUMBA_NUM_THREADS} numba threads; numba {numba.__version__}; medians of {args.repeats} runs")

    gpu_kernel = cuda_backend.scan_cells_cuda
    run_scan(lanes.scan_cells, 8, 40)  # compile / load the caches
    run_scan(gpu_kernel, 8, 40)
    tc = _median(lambda: run_scan(lanes.scan_cells, args.cpu_grid, args.cpu_steps), args.repeats)
    cpu_rate = args.cpu_grid ** 2 * args.cpu_steps / tc
    equal, worst = compare(run_scan(gpu_kernel, args.cpu_grid, args.cpu_steps),
                           run_scan(lanes.scan_cells, args.cpu_grid, args.cpu_steps))
    print(f"\n## Phase scan: Adam on x^4/4, all per-cell statistics (CUDA: {args.steps} steps; "
          f"CPU lane kernel: {args.cpu_grid}x{args.cpu_grid} x {args.cpu_steps})\n")
    print("| implementation | grid | seconds | cell-steps/s | vs CPU lane kernel |\n|---|---|---:|---:|---:|")
    print(f"| CPU lane kernel, {numba.config.NUMBA_NUM_THREADS} threads | {args.cpu_grid}^2 | {tc:.3f} | {cpu_rate:.3g} | 1.0x |")
    for n in grids:
        t = _median(lambda: run_scan(gpu_kernel, n, args.steps), args.repeats)
        rate = n * n * args.steps / t
        print(f"| CUDA, one thread per cell | {n}^2 | {t:.3f} | {rate:.3g} | {rate / cpu_rate:.1f}x |")
    print(f"\nCUDA outputs equal to the CPU lane kernel's on {args.cpu_grid}^2 x {args.cpu_steps} (status, steps, counts "
          f"exactly; logs to 1e-12 relative): {equal} (largest relative difference of a log: {worst:.1e})")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
