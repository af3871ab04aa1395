"""New figure (no paper counterpart; degenerate-polynomials paper, Thm 6.1 / Fig. 5): regime maps of Adam on x^k/k, k = 4, 6, 8, before and after the exponential-phase classifier.

One row per k (96 x 96 cell-centred (beta1, beta2) grid on [0, 1]^2, eta = 0.01, eps = 0, no bias
correction, x_0 = 1, 20000 steps; math.md D12, claim D15), from :func:`dynsys.scan.phase_diagram`:

(a) the regime Thm 6.1 predicts (:func:`dynsys.regimes.predicted_regime`);
(b) the observed regime with the first scanner's rule (``phase_length=None``: an exponential phase
    is a whole aligned 32-step window 5 decades below c eta^k/k), which misses the short phases of
    small beta2 (predicted II observed III);
(c) the observed regime with the exponential-phase rule (``phase_steps >= 8`` steps 5 decades below
    c eta^k/k); black dots: unsettled cells (the first 10000 steps give another label); cyan: the best
    II/III cut per beta2 row read off this map (``theory.ii_iii_edge.best_row_cuts``, an oracle, not a
    prediction: how far any boundary curve could agree; docs/regime-agreement.md item 11);
(d) where (c) disagrees with (a), coloured by the cell's ``boundary_distance`` (beta1 distance to the
    nearest theory boundary): the remaining disagreement lies within a few hundredths of the
    boundaries, mostly just past the existence line (D15: the ghost of the fixed point), and on the
    line beta1 = beta2 of k = 4 (marginal fixed point, det J = 1).
The theory's boundaries (Eq. 8, existence, Eq. 9) are drawn on every panel.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_regimes_before_after"
KS, LR = (4, 6, 8), _common.REGIME_LR


def _numbers(ds):
    a = ds.attrs
    out = {f"regime{c}": float(a[f"agreement_regime{c}"]) for c in (1, 2, 3)}
    out.update({f"confident_regime{c}": float(a[f"agreement_confident_regime{c}"]) for c in (1, 2, 3)})
    out["cells_unsettled"] = int(a["cells_unsettled"])
    pred, obs, dist = ds.predicted_regime.values, ds.regime.values, ds.boundary_distance.values
    bad = (pred >= 0) & (obs != pred)
    out["disagreeing_cells"] = int(bad.sum())
    out["disagreeing_within_0.05"] = float(np.mean(dist[bad] < 0.05)) if bad.any() else float("nan")
    from theory.ii_iii_edge import best_row_cuts

    a2, a3, cuts, _ = best_row_cuts(obs, pred)
    out["best_cut_regime2"], out["best_cut_regime3"] = float(a2), float(a3)
    out["best_cut_column"] = [int(c) for c in cuts]
    return out


def compute(quick: bool = False) -> dict:
    n, steps = _common.REGIME_GRID[bool(quick)]
    data = {"n": n, "steps": steps, "rows": {}, "numbers": {}}
    for k in KS:
        before = _common.regime_scan(k, quick, phase_length=None)
        after = _common.regime_scan(k, quick)
        data["rows"][k] = (before, after)
        data["numbers"][f"k{k}"] = {"before": _numbers(before), "after": _numbers(after)}
    return data


@_styled
def plot(data: dict, outdir) -> list:
    from matplotlib.colors import ListedColormap

    from dynsys.plot.style import new_figure, save

    fig, axes = new_figure(
        f"Regimes of Adam on $x^k/k$ (new figure; Thm 6.1): predicted, observed before / after the exponential-phase "
        f"rule ({data['n']}$\\times${data['n']} cells, $\\eta$={LR}, {data['steps']} steps)",
        ncols=4, nrows=len(KS), width=17.0, height=4.0 * len(KS))
    axes = np.asarray(axes).reshape(len(KS), 4)
    cmap = ListedColormap(["0.2", "#1a9641", "#fdae61", "#2b83ba"])
    for row, k in zip(axes, KS):
        before, after = data["rows"][k]
        nb, na = data["numbers"][f"k{k}"]["before"], data["numbers"][f"k{k}"]["after"]
        b1, b2 = after.beta1.values, after.beta2.values
        panels = ((after.predicted_regime.values, f"(a) k={k}: predicted (Thm 6.1)"),
                  (before.regime.values, "(b) before: I/II/III agree " + "/".join(f"{nb[f'regime{c}']:.3f}" for c in (1, 2, 3))),
                  (after.regime.values, "(c) after: " + "/".join(f"{na[f'regime{c}']:.3f}" for c in (1, 2, 3))
                   + f"; {na['cells_unsettled']} unsettled"))
        for ax, vals, title in zip(row[:3], *zip(*panels)):
            v = vals.astype(float)
            v[v < 0] = np.nan
            ax.pcolormesh(b1, b2, np.ma.masked_invalid(v), cmap=cmap, vmin=-0.5, vmax=3.5, shading="nearest",
                          rasterized=True)
            ax.set_title(title, fontsize=8)
        uns = after.settled.values == 0
        iy, ix = np.nonzero(uns)
        row[2].scatter(b1[ix], b2[iy], s=3, c="k", marker=".", linewidths=0)
        cut = np.asarray(na["best_cut_column"])
        rows_with = np.flatnonzero(cut >= 0)
        step = b1[1] - b1[0]
        edge = np.where(cut[rows_with] < b1.size, b1[np.minimum(cut[rows_with], b1.size - 1)] - step / 2, 1.0)
        row[2].step(edge, b2[rows_with], where="mid", color="cyan", lw=1.0,
                    label=f"best cut per row (oracle): II/III {na['best_cut_regime2']:.3f}/{na['best_cut_regime3']:.3f}")
        row[2].legend(loc="lower right", fontsize=6)
        pred, obs = after.predicted_regime.values, after.regime.values
        dist = np.where((pred >= 0) & (obs != pred), after.boundary_distance.values, np.nan)
        mesh = row[3].pcolormesh(b1, b2, np.ma.masked_invalid(dist), cmap="magma_r", vmin=0, vmax=0.15,
                                 shading="nearest", rasterized=True)
        fig.colorbar(mesh, ax=row[3], label="boundary distance (in $\\beta_1$)", shrink=0.9)
        row[3].set_title(f"(d) disagreeing cells after: {na['disagreeing_cells']}, "
                         f"{100 * na['disagreeing_within_0.05']:.0f}% within 0.05 of a boundary", fontsize=8)
        for i, ax in enumerate(row):
            _common.draw_regime_boundaries(ax, k, color="k", labels=(i == 0 and k == KS[0]))
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("$\\beta_1$")
            ax.set_ylabel("$\\beta_2$")
    axes[0, 0].legend(loc="lower right", fontsize=6)
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
