"""Cost of the exponential-phase pass of the phase scan (issue 13), as a ratio to the main kernel.

The same cells (Adam, eps = 0, no bias correction, lr = 0.01, x^k/k, a beta1 x beta2 grid on
[0, 1]^2) through

* ``dynsys.scan.lanes.scan_cells`` (the lane kernel: every statistic of the scan), and
* ``dynsys.scan.episodes.phase_statistics`` (the second pass: longest exponential phase and the
  half-run statistics, one cell at a time, ``prange`` over cells),

both on all threads, median of ``--repeats`` runs after a warm-up (compilation excluded). The
ratio pass / kernel is what ``phase_diagram`` pays on top of the kernel.

    python benchmarks/bench_phase_pass.py            # 96 x 96 x 20000, k = 4, 6, 8
    python benchmarks/bench_phase_pass.py --quick    # 32 x 32 x 3000
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np


def _time(fn, repeats):
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    from dynsys.scan import lanes as K
    from dynsys.scan.episodes import phase_statistics

    n, steps = (32, 3000) if a.quick else (96, 20_000)
    g = (np.arange(n) + 0.5) / n
    b1, b2 = (v.ravel().copy() for v in np.meshgrid(g, g))
    cells = n * n
    lr = np.full(cells, 0.01)
    zeros, ones = np.zeros(cells), np.ones(cells)
    print(f"{n} x {n} cells, {steps} steps; times are medians of {a.repeats} runs (s); cell-steps/s")
    print("k  kernel      pass      ratio  kernel cs/s  pass cs/s")
    for k in (4, 6, 8):
        out = {key: np.empty(cells, dt) for key, dt in K.OUTPUTS.items()}

        def kernel():
            K.scan_cells(k, 1.0, True, False, lr, b1, b2, zeros, zeros, ones, ones, steps, 100.0 ** (1 / k),
                         steps - int(math.ceil(0.1 * steps)), *out.values())

        def second():
            phase_statistics(k, 1.0, False, lr, b1, b2, 0.0, 1.0, steps, depth=5.0, spike_factor=100.0)

        tk, tp = _time(kernel, a.repeats), _time(second, a.repeats)
        work = cells * steps
        print(f"{k}  {tk:9.4f} {tp:9.4f} {tp / tk:8.1f}  {work / tk:11.3g} {work / tp:10.3g}")


if __name__ == "__main__":
    main()
