"""A/B of the exponential-phase pass (``dynsys.scan.episodes.phase_statistics``) of a git revision
against the working tree's, in one process, interleaved rounds, medians (the ratio is the figure).

The same cells as ``bench_phase_pass.py`` (Adam, eps = 0, no bias correction, lr = 0.01, x^k/k, a cell-centred
beta1 x beta2 grid on [0, 1]^2). The outputs both revisions have are checked equal, cell by cell, and so
are the phase Datasets a scan gets with either pass.

    python benchmarks/ab_phase_pass.py REV [N] [STEPS] [ROUNDS]      # defaults 96 20000 5
"""
from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load_revision(rev):
    src = subprocess.run(["git", "show", f"{rev}:dynsys/scan/episodes.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    path = Path(tempfile.mkdtemp()) / "episodes_ab_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("episodes_ab_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit("usage: ab_phase_pass.py REV [N] [STEPS] [ROUNDS]")
    rev = argv[0]
    n, steps, rounds = (int(v) for v in (argv[1:] + ["96", "20000", "5"][len(argv) - 1:])[:3])
    from dynsys.scan import episodes as new

    old = _load_revision(rev)
    g = (np.arange(n) + 0.5) / n
    b1, b2 = (v.ravel().copy() for v in np.meshgrid(g, g))
    lr = np.full(n * n, 0.01)
    print(f"# {rev} (A) vs working tree (B): {n} x {n} cells x {steps} steps, {rounds} interleaved rounds")
    print("| k | A (s) | B (s) | B / A | outputs equal |\n|---|---:|---:|---:|---|")
    for k in (4, 6, 8):
        def run(mod):
            return mod.phase_statistics(k, 1.0, False, lr, b1, b2, 0.0, 1.0, steps, depth=5.0, spike_factor=100.0)

        oa, ob = run(old), run(new)  # warm-up (compilation) and the outputs
        same = all(np.array_equal(oa[key], ob[key]) for key in oa)
        if not same:  # name what differs: the integer outputs must not; log2 values by how much
            parts = []
            for key in oa:
                if not np.array_equal(oa[key], ob[key]):
                    if oa[key].dtype.kind == "f":
                        fin = np.isfinite(oa[key]) & np.isfinite(ob[key])
                        diff = np.abs(oa[key][fin] - ob[key][fin]).max()
                        parts.append(f"{key}: {np.count_nonzero(oa[key] != ob[key])} cells, by <= {diff:.1e}")
                    else:
                        parts.append(f"{key}: {np.count_nonzero(oa[key] != ob[key])} cells")
            same = "no: " + "; ".join(parts)
        ta, tb = [], []
        for _ in range(rounds):
            for mod, acc in ((old, ta), (new, tb)):
                t = time.perf_counter()
                run(mod)
                acc.append(time.perf_counter() - t)
        a, b = statistics.median(ta), statistics.median(tb)
        print(f"| {k} | {a:.3f} | {b:.3f} | {b / a:.3f} | {same} |")
    print("phase Datasets with A's pass and with B's equal in every variable and attr: "
          + ", ".join(f"k = {k}: {'yes' if v else 'NO'}" for k, v in _same_datasets(old, n, steps).items()))


def _same_datasets(old, n, steps):
    """The phase Datasets of ``phase_diagram`` with revision A's pass and with B's (the working tree's), per k:
    equal in every variable and attribute? (The pass feeds ``phase_steps``, ``settled``, ``arrival_step``,
    ``phase_onset`` and the regimes.)"""
    import types

    from dynsys.scan import phase as phase_mod
    from dynsys.scan import phase_diagram

    def shim(mod):
        def stats(*a, device="cpu", **kw):
            return mod.phase_statistics(*a, **kw)
        return types.SimpleNamespace(phase_statistics=stats, covered=mod.covered, PHASE_OUTPUTS=mod.PHASE_OUTPUTS,
                                     ARRIVAL=mod.ARRIVAL)

    new = phase_mod._ep
    out = {}
    for k in (4, 6, 8):
        kw = dict(k=k, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=0.01, steps=steps, x0=1.0, eps=0.0,
                  bias_correction=False, progress=False)
        try:
            phase_mod._ep = shim(old)
            da = phase_diagram("adam", "power", **kw)
        finally:
            phase_mod._ep = new
        db = phase_diagram("adam", "power", **kw)
        same = all(np.array_equal(da[v].values, db[v].values, equal_nan=da[v].dtype.kind == "f") for v in da.data_vars)
        same &= all(np.array_equal(np.asarray(da.attrs[a]), np.asarray(db.attrs[a]),
                                   equal_nan=np.asarray(da.attrs[a]).dtype.kind == "f") for a in da.attrs)
        out[k] = same
    return out


if __name__ == "__main__":
    main()
