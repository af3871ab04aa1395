"""New figure (no paper counterpart; degenerate-polynomials paper, Thm 6.1 / Fig. 6: regime II is "initial exponential convergence, then a spike"): onset of the first exponential phase after arrival at the SignGD scale.

Adam on x^k/k, k = 4, 6, 8, on the 96 x 96 cell-centred (beta1, beta2) grid of issue 13 (eta = 0.01,
eps = 0, no bias correction, x_0 = 1, 20000 steps; ``--quick``: 32 x 32 x 3000), from
:func:`dynsys.scan.phase_diagram` (``phase_onset``, ``arrival_step``: :mod:`dynsys.scan.episodes`):

(a-c) for every cell observed in regime II, the number of steps from its arrival at ``|x| <= 2 eta`` to the
      start of its first exponential phase (>= 8 steps 5 decades below c eta^k/k), against the cell's signed
      beta1 distance to the existence line ``beta1 = beta2^{(k-1)/(2(k-2))}`` (Thm 4.1 i, the theory's II/III
      boundary, drawn at 0), coloured by beta2; black: the median in bins of 0.01. Inside the line the
      first phase comes within tens of steps of arrival (the paper's initial convergence); past it (the
      ghost band of claims D15/D16) hundreds to thousands of steps later, after a long oscillation.
(d) what a rule "regime II needs a first phase within D steps of arrival" would give: agreement with the
    prediction in regimes II (solid) and III (dashed) against D, per k, with the issue's target 0.95.
    Every D that lifts III to 0.95 drops II below it: the finite-time II/III boundary is blurred on both
    sides of the existence line, so the scanner keeps its rule (any phase of >= 8 steps) and reports the
    onset as a per-cell diagnostic instead.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_phase_onset"
KS, LR = (4, 6, 8), _common.REGIME_LR
CUTOFFS = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800)


def _agreement_with_cutoff(ds, cutoff):
    """(II, III) agreement if an observed-II cell whose first phase starts more than ``cutoff`` steps after
    arrival were called III (observed I cells keep their label)."""
    obs, pred, onset = ds.regime.values, ds.predicted_regime.values, ds.phase_onset.values
    new = np.where((obs == 2) & (onset > cutoff), 3, obs)
    return tuple(float(np.mean(new[pred == c] == c)) for c in (2, 3))


def compute(quick: bool = False) -> dict:
    from dynsys.regimes import existence_boundary_beta1

    n, steps = _common.REGIME_GRID[bool(quick)]
    data = {"n": n, "steps": steps, "rows": {}, "numbers": {}}
    for k in KS:
        ds = _common.regime_scan(k, quick)
        b1, b2 = np.meshgrid(ds.beta1.values, ds.beta2.values)
        dist = b1 - existence_boundary_beta1(b2, k)
        two = ds.regime.values == 2
        onset = ds.phase_onset.values
        trade = [_agreement_with_cutoff(ds, c) for c in CUTOFFS]
        inside, past = two & (dist <= -0.03), two & (dist >= 0.02)
        data["rows"][k] = dict(dist=dist[two], onset=onset[two], b2=b2[two], trade=trade)
        data["numbers"][f"k{k}"] = {
            "agreement_regime2": float(ds.attrs["agreement_regime2"]),
            "agreement_regime3": float(ds.attrs["agreement_regime3"]),
            "cells_inside": int(inside.sum()), "cells_past": int(past.sum()),
            "median_onset_inside": float(np.median(onset[inside])) if inside.any() else float("nan"),
            "p90_onset_inside": float(np.percentile(onset[inside], 90)) if inside.any() else float("nan"),
            "median_onset_past": float(np.median(onset[past])) if past.any() else float("nan"),
            "p10_onset_past": float(np.percentile(onset[past], 10)) if past.any() else float("nan"),
            "cutoff_trade": {str(c): [round(a, 4), round(b, 4)] for c, (a, b) in zip(CUTOFFS, trade)},
            "best_min_of_two": max(min(a, b) for a, b in trade),
        }
    return data


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import new_figure, save

    fig, axes = new_figure(
        f"Onset of the first exponential phase after arrival (new figure; Thm 6.1 regime II = initial convergence; "
        f"{data['n']}$\\times${data['n']} cells, $\\eta$={LR}, {data['steps']} steps)", ncols=4, width=17.0, height=4.3)
    axes = np.ravel(axes)
    bins = np.arange(-0.2, 0.2001, 0.01)
    for ax, k in zip(axes[:3], KS):
        row, num = data["rows"][k], data["numbers"][f"k{k}"]
        sc = ax.scatter(row["dist"], row["onset"] + 1, c=row["b2"], s=4, cmap="viridis", vmin=0, vmax=1,
                        rasterized=True)
        idx = np.digitize(row["dist"], bins)
        mids, meds = [], []
        for i in np.unique(idx):
            sel = idx == i
            if sel.sum() >= 5 and 0 < i < len(bins):
                mids.append(0.5 * (bins[i - 1] + bins[i]))
                meds.append(np.median(row["onset"][sel]) + 1)
        ax.plot(mids, meds, "k-o", ms=3, lw=1.2, label="median (bins of 0.01)")
        ax.axvline(0, color="r", ls=":", lw=1.2, label="existence line (Thm 4.1 i)")
        ax.set_yscale("log")
        ax.set_xlim(-0.2, 0.2)
        ax.set_xlabel("$\\beta_1 - \\beta_2^{(k-1)/(2(k-2))}$ (distance past the existence line)")
        ax.set_ylabel("phase onset + 1 (steps after $|x| \\leq 2\\eta$)")
        ax.set_title(f"({'abc'[KS.index(k)]}) k={k}, observed-II cells: median onset\n"
                     f"{num['median_onset_inside']:.0f} steps inside (<= -0.03), {num['median_onset_past']:.0f} past (>= 0.02)",
                     fontsize=8)
        if k == KS[0]:
            ax.legend(loc="upper left", fontsize=6)
    fig.colorbar(sc, ax=axes[2], label="$\\beta_2$", shrink=0.9)
    ax = axes[3]
    for k, color in zip(KS, ("C0", "C1", "C2")):
        trade = np.array(data["rows"][k]["trade"])
        ax.plot(CUTOFFS, trade[:, 0], "-o", color=color, ms=3, label=f"k={k}: regime II")
        ax.plot(CUTOFFS, trade[:, 1], "--s", color=color, ms=3, label=f"k={k}: regime III")
    ax.axhline(0.95, color="k", lw=0.8, ls="-.", label="target 0.95")
    ax.set_xscale("log")
    ax.set_xlabel("cutoff D (steps): II needs a first phase within D steps")
    ax.set_ylabel("agreement with Thm 6.1")
    ax.set_title("(d) no cutoff gives 0.95 in both II and III\n(best min(II, III): "
                 + " / ".join(f"{data['numbers'][f'k{k}']['best_min_of_two']:.3f}" for k in KS) + ")", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
