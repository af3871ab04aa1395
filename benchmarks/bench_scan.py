"""Speed and memory of the scanners (issue 3, section 4), in one process, as ratios.

1. **Phase scan**: Adam (eps = 0, no bias correction, lr = 0.01) on x^4/4 over a beta1 x beta2
   grid with every per-cell statistic of ``dynsys.scan.phase_diagram`` (running min and its
   step, spike state machine, sustained window level, coupling ratio v/g^2, failure flags,
   exact power-of-two renormalization at a span end when a cell's units have drifted far):

   * ``dynsys.scan.lanes.scan_cells`` (lane kernel, 32 cells per inner loop; this scan takes its
     fast path: ``lr_decay = 1``, ``wd = 0``) on 1 thread and on all threads (``numba.set_num_threads``);
   * ``scan_cells_reference`` (scalar reference kernel): must be **bit-identical**;
   * a NumPy in-place implementation of the same scan (:func:`numpy_scan`, one ufunc call with
     ``out=`` per operation and step, all cells at once), checked against the kernel.

   Speed is cell-steps per second (cells x steps / seconds).
2. **Orbit diagram** of the effective-sharpness map ``s -> gamma s (1-s)^{k-2}`` (k = 3: the
   logistic map), 1000 parameter values x 1000 iterations (500 discarded, 500 kept), through
   ``dynsys.scan.orbit_diagram`` (which also computes the Jacobian Lyapunov exponent, the period
   and escape and builds the Dataset) vs ``pynamical.simulate`` on the same logistic-map work
   (``num_gens=500, num_discard=500``; a pandas DataFrame). ``pynamical.simulate`` compiles a new
   simulator on every call (its ``make_jit_simulator``), so its time is mostly compilation: that
   is the cost a user of it pays per diagram.
3. **Peak memory** of a full ``phase_diagram`` call on a 2048 x 2048 grid (and 1024 x 1024, and a
   larger chunk), each in a fresh subprocess: ``ru_maxrss`` (resident set, includes the
   interpreter, numba and the libraries: about 150-200 MB before any scan).

Every time is the median of ``--repeats`` runs after a warm-up (compilation excluded). Usage::

    python benchmarks/bench_scan.py            # full run (a few minutes on 2 shared cores)
    python benchmarks/bench_scan.py --quick    # small sizes (seconds)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from dynsys.scan import lanes as K  # noqa: E402
from dynsys.scan.lanes import arithmetic as A  # noqa: E402

LR = 0.01
KEXP = 4


def _median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), ts


def grid_cells(n):
    c = (np.arange(n) + 0.5) / n
    b1, b2 = np.meshgrid(c, c)
    return np.ascontiguousarray(b1.ravel()), np.ascontiguousarray(b2.ravel())


def kernel_scan(b1, b2, steps, *, reference=False):
    n = b1.size
    out = {key: np.empty(n, dt) for key, dt in K.OUTPUTS.items()}
    lr, zero, one = np.full(n, LR), np.zeros(n), np.ones(n)
    up = 100.0 ** (1.0 / KEXP)
    cstart = steps - max(1, math.ceil(0.1 * steps))
    f = K.scan_cells_reference if reference else K.scan_cells
    f(KEXP, 1.0, True, False, lr, b1, b2, zero, zero, one, one, steps, up, cstart, *out.values())
    return out


def _log2_scaled(y, e):
    """``log2 |y| + e`` from the normalized parts (as ``dynsys.scan.lanes.arithmetic._log2_scaled``)."""
    m, n = np.frexp(np.abs(y))
    return np.log2(m) + (n + e)


def _coupling(csum, cn, V, GL, ex, ev, k):
    """Add the coupling samples log2(v / g^2) at a window's last step (in place)."""
    ok = (GL != 0.0) & (V > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        csum += np.where(ok, _log2_scaled(V, ev) - 2.0 * _log2_scaled(GL, (k - 1) * ex), 0.0)
    cn += ok


def numpy_scan(b1, b2, steps):
    """The same scan (Adam, eps = 0, no bias correction, x0 = 1 on x^4/4) in NumPy, in place.

    The per-step arithmetic, the statistics and the renormalization rule are those of
    ``dynsys.scan.lanes`` (same formulas, same order of operations), over all cells at once
    (the renormalization itself is done for every cell at every span end: powers of two 1
    where the units stay).
    """
    k, n = KEXP, b1.size
    up = 100.0 ** (1.0 / k)
    cstart = steps - max(1, math.ceil(0.1 * steps))
    X, M, V = np.ones(n), np.zeros(n), np.zeros(n)
    ex = np.zeros(n, np.int64)
    ev = 2 * (k - 1) * ex
    ob1, omb2 = 1.0 - b1, 1.0 - b2
    cv, sfx = np.ldexp(omb2, 2 * (k - 1) * ex - ev), np.ldexp(1.0, (k - 2) * ex - ev // 2)
    RMIN, MSTEP, PEAK, NSPK, BMAX = np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    BMIN = np.full(n, np.inf)  # min of the maxima of the span's earlier windows
    FSTEP, GL = np.full(n, -1.0), np.zeros(n)
    gm, ge = np.full(n, 0.5), np.ones(n, np.int64)
    sm, se, csum, cn = np.ones(n), np.full(n, A._SE_INF, np.int64), np.zeros(n), np.zeros(n, np.int64)
    band = A._RENORM_G // (k - 1)
    G, a, t1b, t2b, xn, den = (np.empty(n) for _ in range(6))
    b_nm, b_st, b_in, b_end = (np.empty(n, bool) for _ in range(4))
    e = LR
    t0 = 0
    while t0 < steps:
        t1 = min(t0 + K.SPAN, steps)
        for t in range(t0, t1):
            tf = float(t)
            np.multiply(X, X, out=G)
            np.multiply(G, X, out=G)  # G = X^{k-1} (k = 4)
            # statistics at x_t
            np.abs(X, out=a)
            np.less(a, RMIN, out=b_nm)
            np.copyto(RMIN, a, where=b_nm)
            np.copyto(MSTEP, tf, where=b_nm)
            np.maximum(BMAX, a, out=BMAX)
            np.greater(PEAK, 0.0, out=b_in)  # inside a spike <=> peak > 0
            np.multiply(RMIN, up, out=t1b)
            np.greater(a, t1b, out=b_st)
            np.maximum(a, PEAK, out=t2b)  # p2
            np.multiply(a, up, out=t1b)
            np.less(t1b, t2b, out=b_end)
            np.logical_and(b_end, b_in, out=b_end)
            np.add(NSPK, b_end, out=NSPK)
            np.logical_or(b_st, b_in, out=b_st)
            np.logical_and(b_st, ~b_end, out=b_st)
            np.multiply(t2b, b_st, out=PEAK)
            # update
            np.multiply(b1, M, out=M)
            np.multiply(ob1, G, out=t1b)
            np.add(M, t1b, out=M)
            np.multiply(G, G, out=t1b)
            np.multiply(cv, t1b, out=t1b)
            np.multiply(b2, V, out=V)
            np.add(V, t1b, out=V)
            np.sqrt(V, out=den)
            np.multiply(e, sfx, out=t1b)
            np.multiply(t1b, M, out=t1b)
            np.divide(t1b, den, out=t1b)
            np.multiply(X, 1.0, out=xn)
            np.subtract(xn, t1b, out=xn)
            np.abs(xn, out=t2b)
            np.logical_not(t2b < A._HUGE, out=b_nm)
            np.logical_and(b_nm, FSTEP < 0.0, out=b_nm)
            np.copyto(FSTEP, tf, where=b_nm)
            np.copyto(GL, G)
            np.copyto(X, xn)
            if (t + 1 - t0) % K.BLOCK == 0 and t + 1 < t1:  # a window ends inside the span
                np.minimum(BMIN, BMAX, out=BMIN)
                if t + 1 >= cstart:
                    _coupling(csum, cn, V, GL, ex, ev, k)
                BMAX[:] = 0.0
        # block end (no cell of this scan fails; failures are flagged and checked below)
        newmin = (MSTEP >= float(t0)) & ((t0 > 0) | (MSTEP > 0.0))
        fm, fe = np.frexp(RMIN)
        gm = np.where(newmin, fm, gm)
        ge = np.where(newmin, fe + ex, ge)
        fb, eb = np.frexp(np.minimum(BMAX, BMIN))  # sustained level, exactly (no zero window max in this scan)
        eb = eb + ex
        low = (eb < se) | ((eb == se) & (fb < sm))
        sm = np.where(low, fb, sm)
        se = np.where(low, eb, se)
        if t1 >= cstart:
            _coupling(csum, cn, V, GL, ex, ev, k)
        exo = ex
        fx = (X != 0.0) & np.isfinite(X)
        e1 = np.where(fx, np.frexp(X)[1], 0)
        fv = (V != 0.0) & np.isfinite(V)
        e2 = np.where(fv, np.frexp(V)[1], 0)
        e2 -= e2 & 1
        due = (e1 < -band) | (e1 > band) | (e2 < -A._RENORM_V) | (e2 > A._RENORM_V)  # units renewed?
        e1 = np.where(due, e1, 0)
        e2 = np.where(due, e2, 0)
        X = np.ldexp(X, -e1)
        M = np.ldexp(M, -(k - 1) * e1)
        ex = ex + e1
        V = np.ldexp(V, -e2)
        ev = ev + e2
        cv = np.ldexp(omb2, 2 * (k - 1) * ex - ev)
        sfx = np.ldexp(1.0, (k - 2) * ex - ev // 2)
        RMIN = np.ldexp(gm, ge - ex)
        PEAK = np.ldexp(PEAK, exo - ex)
        BMAX[:] = 0.0
        BMIN[:] = np.inf
        t0 = t1
    assert np.all(FSTEP < 0.0), "a cell failed: the NumPy port handles only successful runs"
    a = np.abs(X)
    last = a < RMIN
    fm, fe = np.frexp(a)
    gm = np.where(last, fm, gm)
    ge = np.where(last, fe + ex, ge)
    MSTEP = np.where(last, float(steps), MSTEP)
    NSPK = NSPK + ((PEAK > 0.0) & (a * up < np.maximum(PEAK, a)))
    with np.errstate(divide="ignore"):
        return {"min_log2x": np.log2(gm) + ge, "min_step": MSTEP.astype(np.int64),
                "final_log2x": np.where(a != 0.0, np.log2(fm) + (fe + ex), -np.inf), "sustained_log2x": np.log2(sm) + se,
                "n_spikes": NSPK.astype(np.int64), "coupling_sum": csum, "coupling_n": cn}


def bench_phase(n, steps, numpy_n, numpy_steps, repeats):
    import numba

    b1, b2 = grid_cells(n)
    nthreads = numba.config.NUMBA_NUM_THREADS
    kernel_scan(b1[:64], b2[:64], 40)  # compile / load cache
    kernel_scan(b1[:64], b2[:64], 40, reference=True)
    rows = {}
    numba.set_num_threads(1)
    t1, _ = _median_time(lambda: kernel_scan(b1, b2, steps), repeats)
    numba.set_num_threads(nthreads)
    tp, _ = _median_time(lambda: kernel_scan(b1, b2, steps), repeats)
    rows["lane kernel, 1 thread"] = n * n * steps / t1
    rows[f"lane kernel, {nthreads} threads"] = n * n * steps / tp
    lane = kernel_scan(b1, b2, steps)
    tr = time.perf_counter()
    ref = kernel_scan(b1, b2, steps, reference=True)
    tr = time.perf_counter() - tr
    rows["scalar reference kernel, 1 thread"] = n * n * steps / tr
    identical = all(np.array_equal(lane[key], ref[key], equal_nan=lane[key].dtype.kind == "f") for key in lane)
    # NumPy on a sub-grid (it is slow); its rate is cells x steps / s all the same
    c1, c2 = grid_cells(numpy_n)
    tn, _ = _median_time(lambda: numpy_scan(c1, c2, numpy_steps), max(1, repeats // 2))
    rows["NumPy in-place, all cells per op"] = numpy_n ** 2 * numpy_steps / tn
    npy = numpy_scan(c1, c2, numpy_steps)
    numba.set_num_threads(nthreads)
    ker = kernel_scan(c1, c2, numpy_steps)
    same = {key: bool(np.array_equal(npy[key], ker[key], equal_nan=True)) for key in npy}
    return rows, identical, same, nthreads, t1 / tp


def bench_orbit(repeats):
    import pynamical

    from dynsys.scan import orbit_diagram

    g = np.linspace(3.0, 4.0, 1000)
    orbit_diagram("sharpness", "gamma", g[:4], fixed={"k": 3}, discard=10, keep=10)  # compile
    pynamical.simulate(num_gens=10, rate_min=3.0, rate_max=4.0, num_rates=4, num_discard=10)
    to, _ = _median_time(lambda: orbit_diagram("sharpness", "gamma", g, fixed={"k": 3}, discard=500, keep=500,
                                               state0={"s": 0.5}), repeats)
    tpy, _ = _median_time(lambda: pynamical.simulate(num_gens=500, rate_min=3.0, rate_max=4.0, num_rates=1000,
                                                     num_discard=500, initial_pop=0.5), repeats)
    ds = orbit_diagram("sharpness", "gamma", g, fixed={"k": 3}, discard=500, keep=500, state0={"s": 0.5})
    pdf = pynamical.simulate(num_gens=500, rate_min=3.0, rate_max=4.0, num_rates=1000, num_discard=500, initial_pop=0.5)
    # same attractors? (pynamical: rows = generations, columns = rates; its first row may be the
    # state before the first kept step, so compare the range of the last 64 points of each orbit
    # where the attractor is periodic, gamma <= 3.5)
    per = g <= 3.5
    a, b = ds.orbit.values[per, -64:], pdf.values.T[per, -64:]
    diff = float(max(np.abs(a.max(1) - b.max(1)).max(), np.abs(a.min(1) - b.min(1)).max()))
    return to, tpy, diff


_MEM_CHILD = """
import resource, sys, time, json
import numpy as np
from dynsys.scan import phase_diagram
phase_diagram("adam", k=4, x="beta1:0:1:4", y="beta2:0:1:4", lr=0.01, steps=5, progress=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n, chunk, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t = time.perf_counter()
ds = phase_diagram("adam", k=4, x=f"beta1:0:1:{n}", y=f"beta2:0:1:{n}", lr=0.01, steps=steps, chunk=chunk, progress=False)
print(json.dumps({"before_mb": before / 1024, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "result_mb": ds.nbytes / 2**20, "seconds": time.perf_counter() - t}))
"""


def bench_memory(cases):
    out = []
    for n, chunk, steps in cases:
        res = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(n), str(chunk), str(steps)], capture_output=True,
                             text=True, check=True, cwd=os.path.dirname(HERE))
        out.append((n, chunk, steps, json.loads(res.stdout.strip().splitlines()[-1])))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    args = ap.parse_args(argv)
    if args.quick:
        n, steps, nn, ns, mem = 128, 1000, 64, 200, [(512, 16384, 20)]
    else:
        n, steps, nn, ns, mem = 256, 4000, 256, 400, [(1024, 16384, 100), (2048, 16384, 100), (2048, 262144, 100)]
    print(f"# bench_scan: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"numpy {np.__version__}; medians of {args.repeats} runs")
    rows, identical, same, nth, sp = bench_phase(n, steps, nn, ns, args.repeats)
    base = rows["NumPy in-place, all cells per op"]
    print(f"\n## Phase scan: Adam on x^4/4, all per-cell statistics ({n}x{n} cells x {steps} steps; NumPy {nn}x{nn} x {ns})\n")
    print("| implementation | cell-steps/s | vs NumPy |\n|---|---:|---:|")
    for name, rate in rows.items():
        print(f"| {name} | {rate:.3g} | {rate / base:.1f}x |")
    print(f"\nserial/parallel time ratio ({nth} threads): {sp:.2f}")
    print(f"lane kernel bit-identical to the scalar reference: {identical}")
    print(f"NumPy port equal to the kernel, per output: {same}")
    to, tpy, diff = bench_orbit(args.repeats)
    print("\n## Orbit diagram: 1000 parameter values x 1000 iterations (500 discarded, 500 kept), logistic map\n")
    print("| implementation | seconds | vs pynamical |\n|---|---:|---:|")
    print(f"| dynsys.scan.orbit_diagram (sharpness map, k = 3; + Lyapunov, period, Dataset) | {to:.4f} | {tpy / to:.1f}x |")
    print(f"| pynamical.simulate (logistic map) | {tpy:.4f} | 1.0x |")
    print(f"\nlargest difference between the two attractors (max and min of the last 64 points, gamma <= 3.5): {diff:.2e}")
    print("(pynamical.simulate builds and JIT-compiles a new simulator on every call: its time is mostly compilation)")
    print("\n## Peak memory of phase_diagram (fresh subprocess, ru_maxrss)\n")
    print("| grid | chunk | steps | peak RSS MB | RSS before scan MB | result MB | seconds |\n|---|---:|---:|---:|---:|---:|---:|")
    for n_, chunk, st, r in bench_memory(mem):
        print(f"| {n_}x{n_} | {chunk} | {st} | {r['peak_mb']:.0f} | {r['before_mb']:.0f} | {r['result_mb']:.0f} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
