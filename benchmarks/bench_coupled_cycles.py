"""Cost of ``phase_diagram(..., coupled_cycles=True)`` (the stable-coupled-cycle search of claim D18,
:func:`dynsys.coupled_cycles.stable_coupled_cycle`) as a ratio to the same scan without it, in one process.

The issue-13 scans (Adam, eps = 0, no bias correction, lr = 0.01, x^k/k, 96 x 96 cell-centred
(beta1, beta2) grid on [0, 1]^2, 20000 steps), k = 4, 6, 8, interleaved rounds, medians (compilation
excluded by a warm-up). The outputs both scans have are checked equal.

    python benchmarks/bench_coupled_cycles.py [N] [STEPS] [ROUNDS]      # defaults 96 20000 3
    python benchmarks/bench_coupled_cycles.py --quick                   # 32 3000 1 (make bench --quick)
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--quick" in argv:
        argv = ["32", "3000", "1"]
    n, steps, rounds = (int(v) for v in (list(argv) + ["96", "20000", "3"][len(argv):])[:3])
    from dynsys.scan import phase_diagram

    print(f"# {n} x {n} cells x {steps} steps, {rounds} interleaved rounds (medians, s)")
    print("| k | scan | scan + coupled_cycles | ratio | search per cell (ms) | cells with a cycle | other outputs equal |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for k in (4, 6, 8):
        kw = dict(k=k, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=0.01, steps=steps, progress=False)
        plain, with_cycles = phase_diagram("adam", **kw), phase_diagram("adam", coupled_cycles=True, **kw)
        same = all(np.array_equal(plain[v].values, with_cycles[v].values, equal_nan=True)
                   for v in plain.data_vars if v != "coupled_cycle")
        ta, tb = [], []
        for _ in range(rounds):
            for cyc, acc in ((False, ta), (True, tb)):
                t = time.perf_counter()
                phase_diagram("adam", coupled_cycles=cyc, **kw)
                acc.append(time.perf_counter() - t)
        a, b = statistics.median(ta), statistics.median(tb)
        ncyc = int(np.sum(with_cycles.coupled_cycle.values > 0))
        print(f"| {k} | {a:.2f} | {b:.2f} | {b / a:.2f} | {(b - a) / (n * n) * 1e3:.3f} | {ncyc} | {same} |")


if __name__ == "__main__":
    main()
