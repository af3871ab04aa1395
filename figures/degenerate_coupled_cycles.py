"""New figure (no paper counterpart; degenerate-polynomials paper, Thm 6.1 / Fig. 5, math.md D2; claim D18): stable coupled cycles, the attractors Thm 6.1 leaves out, and the cells they explain.

Adam on x^k/k, k = 4, 6, 8, on the 96 x 96 cell-centred (beta1, beta2) grid of issue 13 (eta = 0.01, eps = 0,
no bias correction, x_0 = 1, 20000 steps; ``--quick``: 32 x 32 x 3000), from
:func:`dynsys.scan.phase_diagram` with ``coupled_cycles=True``. Colour: the period of the stable coupled
periodic orbit (|x| ~ eta, v coupled to g^2) that :func:`dynsys.coupled_cycles.stable_coupled_cycle` finds
from the exact 2-cycle x -> -x of math.md D2 (white: none). Red crosses: predicted II (Thm 6.1: the fixed
point exists but is unstable), observed III (no exponential phase) -- nearly all sit on a stable cycle,
which captured the run before it converged (bistability). Black dots: predicted III observed II, the ghost
band past the existence line (claims D15, D16) -- they sit where no stable cycle exists (a chaotic
attractor). Theory boundaries (Eq. 8, existence, Eq. 9) in black.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_coupled_cycles"
KS, LR = (4, 6, 8), _common.REGIME_LR


def compute(quick: bool = False) -> dict:
    n, steps = _common.REGIME_GRID[bool(quick)]
    data = {"n": n, "steps": steps, "rows": {}, "numbers": {}}
    for k in KS:
        ds = _common.regime_scan(k, quick, coupled_cycles=True)
        pred, obs, cyc = ds.predicted_regime.values, ds.regime.values, ds.coupled_cycle.values
        miss23, miss32 = (pred == 2) & (obs == 3), (pred == 3) & (obs == 2)
        a = ds.attrs
        data["rows"][k] = dict(b1=ds.beta1.values, b2=ds.beta2.values, cyc=cyc, miss23=miss23, miss32=miss32)
        data["numbers"][f"k{k}"] = {
            "agreement_regime2": float(a["agreement_regime2"]), "agreement_regime3": float(a["agreement_regime3"]),
            "agreement_cycle_free_regime2": float(a["agreement_cycle_free_regime2"]),
            "agreement_with_cycle_regime2": float(a["agreement_with_cycle_regime2"]),
            "agreement_cycle_free_regime3": float(a["agreement_cycle_free_regime3"]),
            "agreement_with_cycle_regime3": float(a["agreement_with_cycle_regime3"]),
            "cells_with_cycle": {f"regime{c}": int(a[f"cells_with_cycle_regime{c}"]) for c in (1, 2, 3)},
            "misses_II_to_III": int(miss23.sum()), "misses_II_to_III_on_a_cycle": int(np.sum(cyc[miss23] > 0)),
            "misses_III_to_II": int(miss32.sum()), "misses_III_to_II_on_a_cycle": int(np.sum(cyc[miss32] > 0)),
            "periods": {str(int(p)): int(np.sum(cyc == p)) for p in np.unique(cyc[cyc > 0])},
        }
    return data


@_styled
def plot(data: dict, outdir) -> list:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from dynsys.plot.style import new_figure, save

    fig, axes = new_figure(
        f"Stable coupled cycles (claim D18) and the cells Thm 6.1 misses ({data['n']}$\\times${data['n']} cells, "
        f"$\\eta$={LR}, {data['steps']} steps)", ncols=len(KS), width=15.0, height=4.8)
    axes = np.ravel(axes)
    cmap = ListedColormap(["white", "#fdb863", "#b2abd2", "#5e3c99", "#e66101"])
    norm = BoundaryNorm([-0.5, 0.5, 2.5, 4.5, 6.5, 64.5], cmap.N)
    for ax, k in zip(axes, KS):
        row, num = data["rows"][k], data["numbers"][f"k{k}"]
        cyc = row["cyc"].astype(float)
        cyc[cyc < 0] = np.nan
        mesh = ax.pcolormesh(row["b1"], row["b2"], np.ma.masked_invalid(cyc), cmap=cmap, norm=norm, shading="nearest",
                             rasterized=True)
        for mask, style, label in ((row["miss23"], dict(c="r", marker="x", s=10, linewidths=0.8),
                                    f"predicted II, observed III ({num['misses_II_to_III']}: "
                                    f"{num['misses_II_to_III_on_a_cycle']} on a cycle)"),
                                   (row["miss32"], dict(c="k", marker=".", s=3, linewidths=0),
                                    f"predicted III, observed II ({num['misses_III_to_II']}: "
                                    f"{num['misses_III_to_II_on_a_cycle']} on a cycle)")):
            iy, ix = np.nonzero(mask)
            ax.scatter(row["b1"][ix], row["b2"][iy], label=label, **style)
        _common.draw_regime_boundaries(ax, k, color="k", labels=False)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("$\\beta_1$")
        ax.set_ylabel("$\\beta_2$")
        ax.set_title(f"k={k}: II agreement {num['agreement_regime2']:.3f}, without a cycle "
                     f"{num['agreement_cycle_free_regime2']:.3f}, with one {num['agreement_with_cycle_regime2']:.3f}",
                     fontsize=8)
        ax.legend(loc="lower right", fontsize=6)
    cb = fig.colorbar(mesh, ax=axes[-1], shrink=0.9)
    cb.set_ticks([0, 1.5, 3.5, 5.5, 35])
    cb.set_ticklabels(["none", "2", "3-4", "5-6", "7-32"])
    cb.set_label("period of the stable coupled cycle")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
