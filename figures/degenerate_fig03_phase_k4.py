"""Degenerate-polynomials paper, Fig. 3: theoretical vs empirical phase diagram of Adam on x^4/4.

Reproduces Fig. 3 of "Towards understanding Adam convergence on highly
degenerate polynomials" (Thm 4.1; math.md D2-D4):

(a) theory: spectral radius of the Jacobian at the non-trivial fixed point over
    (beta1, beta2) (white where the fixed point does not exist); the stable region
    (radius < 1, contour) is bounded by Eq. 8, beta1 < beta2 for k = 4, and by
    the period-doubling curve of Eq. 9 in the lower-left corner;
(b) experiment: final loss (log10) of Adam (eta = 0.01, eps = 0, no bias
    correction, x_0 = 1) after the run (:func:`dynsys.scan.phase_diagram`),
    with the same boundaries drawn on top: stable cells reach tiny losses,
    the others stay high.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig03_phase_k4"
K, LR = 4, 0.01


def compute(quick: bool = False) -> dict:
    from dynsys.scan import phase_diagram

    n, steps = (40, 3000) if quick else (160, 10_000)
    ds = phase_diagram("adam", "power", k=K, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=LR,
                       steps=steps, x0=1.0, eps=0.0, bias_correction=False, progress=False)
    nt = 40 if quick else 120
    b1t = (np.arange(nt) + 0.5) / nt
    b2t = (np.arange(nt) + 0.5) / nt
    radius = _common.theory_spectral_radius(b1t, b2t, K)
    # measured on the scan grid: theory-stable cells (radius < 1) against observed convergence
    radius_scan = _common.theory_spectral_radius(ds["beta1"].values, ds["beta2"].values, K) if quick else None
    observed_I = ds["regime"].values == 1
    predicted_I = ds["predicted_regime"].values == 1
    numbers = dict(
        agreement=float(ds.attrs["agreement"]),
        predicted_I_observed_I=float(observed_I[predicted_I].mean()),
        observed_I_predicted_I=float(predicted_I[observed_I].mean()) if observed_I.any() else np.nan,
        # NaN: cells the scanner stopped following (status 8, a spike beyond one window's range)
        median_final_loss_predicted_I=float(np.nanmedian(ds["final_loss"].values[predicted_I])),
        median_final_loss_other=float(np.nanmedian(ds["final_loss"].values[~predicted_I])),
        scan_range_cells=int(np.sum(ds["status"].values == 8)),
    )
    if radius_scan is not None:
        numbers["radius_vs_predicted_I"] = float(np.mean((radius_scan < 1) == predicted_I))
    return dict(ds=ds, b1t=b1t, b2t=b2t, radius=radius, numbers=numbers, quick=quick, steps=steps)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import new_figure, save

    ds, num = data["ds"], data["numbers"]
    fig, (ax_a, ax_b) = new_figure(
        f"Degenerate-polynomials paper, Fig. 3: Adam on $x^4/4$, theory vs experiment ($\\eta$={LR}, "
        f"$\\epsilon$=0, {data['steps']} steps)", ncols=2, width=11.0, height=4.4)
    from matplotlib.colors import ListedColormap

    radius = data["radius"]
    cls = np.where(np.isnan(radius), 0, np.where(radius < 1.0, 2, 1)).astype(float)
    mesh = ax_a.pcolormesh(data["b1t"], data["b2t"], cls, cmap=ListedColormap(["white", "#f4a582", "#92c5de"]),
                           vmin=-0.5, vmax=2.5, shading="nearest", rasterized=True)
    cb = fig.colorbar(mesh, ax=ax_a, ticks=[0, 1, 2], shrink=0.9)
    cb.ax.set_yticklabels(["no fixed point", "unstable\n(radius > 1)", "stable\n(radius < 1)"])
    ax_a.contour(data["b1t"], data["b2t"], np.nan_to_num(data["radius"], nan=3.0), levels=[1.0], colors="k",
                 linewidths=1.2)
    _common.draw_regime_boundaries(ax_a, K, color="k")
    ax_a.plot([], [], color="k", lw=1.2, label="radius = 1")
    ax_a.set_xlabel("$\\beta_1$")
    ax_a.set_ylabel("$\\beta_2$")
    ax_a.set_title("(a) theory: spectral radius of the Jacobian at the fixed point")
    ax_a.legend(loc="lower right")
    _common.heatmap(ax_b, ds, "final_loss", cmap="viridis_r", vmin=-60, vmax=0, label="$\\log_{10}$ final loss")
    _common.draw_regime_boundaries(ax_b, K, color="white")
    ax_b.set_title(f"(b) experiment: final loss; {100 * num['predicted_I_observed_I']:.1f}% of predicted-stable "
                   "cells converge")
    ax_b.legend(loc="lower right")
    for ax in (ax_a, ax_b):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
