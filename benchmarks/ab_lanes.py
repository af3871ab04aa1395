"""One-process A/B of the phase-scan lane kernel: the ``dynsys/scan/lanes`` of a git revision against the
working tree's, on the benchmark scan of ``bench_scan.py`` (Adam, eps = 0, lr = 0.01 on x^4/4 over a
cell-centred beta1 x beta2 grid), interleaved rounds, medians; also counts status-8 cells and the cells
whose outputs differ. Usage::

    python benchmarks/ab_lanes.py REV [N STEPS ROUNDS [GRID]]     # e.g. python benchmarks/ab_lanes.py main 256 1000 12

GRID ``betas`` (default) is that scan; ``lr`` sweeps ``lr`` over 1e-3 .. 1e120 (log) against ``beta2`` in
(0, 1) at ``beta1 = 0.9``: the cells with ``lr`` above about 1e75 diverge (the loss passes 1e301);
``wd`` is AdamW (``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``) over ``lr`` 1e-3 .. 1 (log) x ``weight_decay``
0 .. 20: cells with ``lr wd < 2`` converge by weight decay, most of them with ``m`` outgrowing ``g``.
"""
from __future__ import annotations

import io
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def old_lanes(rev, where):
    """``dynsys/scan/lanes`` at ``rev`` as the package ``lanes_at_rev`` in ``where``."""
    data = subprocess.run(["git", "-C", ROOT, "archive", rev, "dynsys/scan/lanes"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(where, filter="data")
    pkg = os.path.join(where, "lanes_at_rev")
    os.rename(os.path.join(where, "dynsys", "scan", "lanes"), pkg)
    for name in os.listdir(pkg):
        if name.endswith(".py"):
            path = os.path.join(pkg, name)
            with open(path) as fh:
                src = fh.read()
            with open(path, "w") as fh:
                fh.write(src.replace("dynsys.scan.lanes.", "lanes_at_rev.").replace("from dynsys.scan.lanes import",
                                                                                   "from lanes_at_rev import"))
    sys.path.insert(0, where)
    import lanes_at_rev

    return lanes_at_rev


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__)
        return 2
    rev = argv[0]
    n, steps, rounds = (int(v) for v in (argv[1:4] + ["256", "1000", "12"][len(argv[1:4]):])[:3])
    grid = argv[4] if len(argv) > 4 else "betas"
    if grid not in ("betas", "lr", "wd"):
        print(f"ab_lanes: GRID must be 'betas', 'lr' or 'wd', got {grid!r}", file=sys.stderr)
        return 2
    import numba
    import numpy as np

    from dynsys.scan import lanes as new

    old = old_lanes(rev, tempfile.mkdtemp(prefix="ab_lanes_"))
    c = (np.arange(n) + 0.5) / n
    m = n * n
    lrs, b1, b2, eps, wds = np.full(m, 0.01), np.full(m, 0.9), np.full(m, 0.999), np.zeros(m), np.zeros(m)
    if grid == "betas":
        b1, b2 = (np.ascontiguousarray(a.ravel()) for a in np.meshgrid(c, c))
    elif grid == "wd":
        lrs, wds = (np.ascontiguousarray(a.ravel()) for a in np.meshgrid(np.logspace(-3, 0, n), np.linspace(0, 20, n)))
        eps = np.full(m, 1e-8)
    else:
        lrs, b2 = (np.ascontiguousarray(a.ravel()) for a in np.meshgrid(np.logspace(-3, 120, n), c))

    def run(K):
        out = {key: np.empty(m, dt) for key, dt in K.OUTPUTS.items()}
        one = np.ones(m)
        K.scan_cells(4, 1.0, True, False, lrs, b1, b2, eps, wds, one, one, steps, 100.0 ** 0.25,
                     steps - max(1, math.ceil(0.1 * steps)), *out.values())
        return out

    oa, ob = run(old), run(new)
    ta, tb = [], []
    for r in range(rounds):
        for K, ts in ((old, ta), (new, tb)) if r % 2 == 0 else ((new, tb), (old, ta)):
            t = time.perf_counter()
            run(K)
            ts.append(time.perf_counter() - t)
    changed = np.zeros(m, bool)
    for key in oa:
        a, b = oa[key], ob[key]
        changed |= ~((a == b) | ((a != a) & (b != b)))
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"# {grid} grid, {n}x{n} cells x {steps} steps, {numba.get_num_threads()} threads, "
          f"{rounds} interleaved rounds")
    print(f"{rev}: median {ma:.4f} s ({m * steps / ma:.3g} cell-steps/s), min {min(ta):.4f} s")
    print(f"working tree: median {mb:.4f} s ({m * steps / mb:.3g} cell-steps/s), min {min(tb):.4f} s")
    print(f"speed ratio working tree / {rev} (medians): {ma / mb:.3f}")
    print(f"status-8 cells: {int(np.sum(oa['status'] == 8))} -> {int(np.sum(ob['status'] == 8))}; status-5 cells: "
          f"{int(np.sum(oa['status'] == 5))} -> {int(np.sum(ob['status'] == 5))}; cells with an output changed: "
          f"{int(changed.sum())}, all of them status 8 or 5 at {rev}: "
          f"{bool(np.all(np.isin(oa['status'][changed], (5, 8))))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
