"""A/B timing of the phase-scan lane kernel between two checkouts of dynsys (same machine, one run).

For a change that must not alter speed (a refactor, a moved module), this times
``bench_scan.kernel_scan`` -- the lane kernel ``scan_cells`` on Adam (eps = 0, no bias correction,
lr = 0.01) over a beta1 x beta2 grid of x^4/4, every per-cell statistic -- from checkout A and from
checkout B, each in its own fresh subprocess (its own ``sys.path``, its own numba cache), on one
numba thread. The processes alternate A, B, A, B, ... for ``--rounds`` rounds, each doing a warm-up
(compilation excluded) and then ``--repeats`` timed runs, so drift in the machine's load hits both
sides alike. It also checks that both produce the same outputs bit for bit (SHA-256 of every
output array).

Reported per side: the median wall time and the median and best CPU time (``time.process_time``, less
disturbed than wall time when other jobs share the cores) of all timed runs, with the B/A ratios,
and the B/A ratio of the CPU-time medians in each round (and their median).

Usage::

    git archive main | tar -x -C /tmp/dynsys-main     # checkout A (any dynsys tree)
    python benchmarks/ab_scan.py --a /tmp/dynsys-main --b .            # 128^2 cells x 2000 steps
    python benchmarks/ab_scan.py --a OLD --b NEW --grid 64 --steps 1000 --rounds 2 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

_CHILD = r"""
import hashlib, json, sys, time
root, grid, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, root)
sys.path.insert(0, root + "/benchmarks")
import numba
numba.set_num_threads(1)
import bench_scan as B
import dynsys
assert dynsys.__file__.startswith(root), (dynsys.__file__, root)
b1, b2 = B.grid_cells(grid)
out = B.kernel_scan(b1, b2, steps)  # warm-up: compile or load the cache
h = hashlib.sha256()
for key in sorted(out):
    h.update(key.encode()); h.update(out[key].tobytes())
ts, cs = [], []
for _ in range(repeats):
    t, c = time.perf_counter(), time.process_time()
    B.kernel_scan(b1, b2, steps)
    ts.append(time.perf_counter() - t)
    cs.append(time.process_time() - c)
print(json.dumps({"times": ts, "cpu": cs, "digest": h.hexdigest()}))
"""


def _run(root, grid, steps, repeats):
    env = dict(os.environ, PYTHONPATH=root)
    res = subprocess.run([sys.executable, "-c", _CHILD, root, str(grid), str(steps), str(repeats)],
                         capture_output=True, text=True, env=env, cwd=root)
    if res.returncode != 0:
        raise SystemExit(f"ab_scan: error: the run from {root} failed:\n{res.stderr.strip()}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="root of checkout A (the baseline)")
    ap.add_argument("--b", required=True, help="root of checkout B")
    ap.add_argument("--grid", type=int, default=128, help="grid side (grid^2 cells; default 128)")
    ap.add_argument("--steps", type=int, default=2000, help="steps per cell (default 2000)")
    ap.add_argument("--rounds", type=int, default=3, help="A/B process pairs (default 3)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per process (default 5)")
    args = ap.parse_args(argv)
    for name in ("grid", "steps", "rounds", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} = {getattr(args, name)} is out of range; allowed: an integer >= 1")
    roots = {}
    for side in ("a", "b"):
        root = os.path.abspath(getattr(args, side))
        if not os.path.isfile(os.path.join(root, "benchmarks", "bench_scan.py")):
            ap.error(f"--{side} = {root!r} is not a dynsys checkout; allowed: a tree with benchmarks/bench_scan.py")
        roots[side] = root
    print(f"# ab_scan: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python "
          f"{platform.python_version()}; {args.grid}x{args.grid} cells x {args.steps} steps, 1 numba thread, "
          f"{args.rounds} rounds x {args.repeats} runs per side")
    times = {"a": [], "b": []}
    cpu = {"a": [], "b": []}
    digests = {"a": set(), "b": set()}
    ratios = []
    for _ in range(args.rounds):
        med = {}
        for side in ("a", "b"):
            r = _run(roots[side], args.grid, args.steps, args.repeats)
            times[side] += r["times"]
            cpu[side] += r["cpu"]
            digests[side].add(r["digest"])
            med[side] = statistics.median(r["cpu"])
        ratios.append(med["b"] / med["a"])
    cell_steps = args.grid ** 2 * args.steps
    wa, wb = statistics.median(times["a"]), statistics.median(times["b"])
    ca, cb = statistics.median(cpu["a"]), statistics.median(cpu["b"])
    ba, bb = min(cpu["a"]), min(cpu["b"])
    print("\n| checkout | wall s (median) | CPU s (median) | CPU s (best) | cell-steps/s (CPU median) | B/A wall | B/A CPU median | B/A CPU best |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| A {roots['a']} | {wa:.4f} | {ca:.4f} | {ba:.4f} | {cell_steps / ca:.3g} | | | |")
    print(f"| B {roots['b']} | {wb:.4f} | {cb:.4f} | {bb:.4f} | {cell_steps / cb:.3g} | {wb / wa:.3f} | {cb / ca:.3f} | {bb / ba:.3f} |")
    print(f"\nper-round B/A ratios of the CPU-time medians: {', '.join(f'{r:.3f}' for r in ratios)} "
          f"(median {statistics.median(ratios):.3f})")
    same = len(digests["a"]) == 1 and digests["a"] == digests["b"]
    print(f"outputs bit for bit the same in A and B: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
