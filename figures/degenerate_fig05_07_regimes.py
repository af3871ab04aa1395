"""Degenerate-polynomials paper, Figs. 5 and 7: the three regimes of Adam on x^4/4 -- theory, min loss, final loss, coupling ratio.

Reproduces Figs. 5 and 7 of "Towards understanding Adam convergence on highly
degenerate polynomials" (Thm 6.1, Appendix E; math.md D12, D13), from one
(beta1, beta2) scan of Adam (eta = 0.01, eps = 0, no bias correction, x_0 = 1)
with :func:`dynsys.scan.phase_diagram`:

(a) Fig. 5, theory: regime I (stable fixed point), II (fixed point exists but
    unstable: linear convergence then spikes), III (no fixed point: SignGD-like
    oscillation), from :func:`dynsys.regimes.predicted_regime`;
(b) the regime observed in each cell by the scanner's classifier;
(c) number of completed loss spikes;
(d, e) Fig. 7(a-b): minimum and final loss (log10): low in I; low minimum but
    high final loss in II; both high in III;
(f) Fig. 7(c-d): coupling ratio log10(v/g^2) over the end of the run: large
    (decoupled) in I and II, near 0 (tightly coupled) in III.
The predicted boundaries (Eq. 8, existence, Eq. 9) are drawn on every panel.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig05_07_regimes"
K, LR = 4, 0.01


def compute(quick: bool = False) -> dict:
    from dynsys.scan import phase_diagram

    n, steps = (40, 3000) if quick else (160, 10_000)
    ds = phase_diagram("adam", "power", k=K, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=LR,
                       steps=steps, x0=1.0, eps=0.0, bias_correction=False, progress=False)
    pred = ds["predicted_regime"].values
    obs = ds["regime"].values
    cr = ds["coupling_ratio"].values
    minl = ds["min_loss"].values
    finl = ds["final_loss"].values
    numbers = dict(agreement=float(ds.attrs["agreement"]))
    for code in (1, 2, 3):
        sel = pred == code
        numbers[f"regime{code}"] = dict(
            cells=int(sel.sum()),
            agreement=float(np.mean(obs[sel] == code)) if sel.any() else np.nan,
            median_min_loss=float(np.median(minl[sel])) if sel.any() else np.nan,
            # final loss NaN: the scanner stopped following the cell (status 8, a giant spike)
            median_final_loss=float(np.nanmedian(finl[sel])) if sel.any() else np.nan,
            scan_range_cells=int(np.sum(ds["status"].values[sel] == 8)),
            median_coupling=float(np.nanmedian(cr[sel])) if sel.any() else np.nan,
        )
    return dict(ds=ds, numbers=numbers, quick=quick, steps=steps)


@_styled
def plot(data: dict, outdir) -> list:
    from matplotlib.colors import ListedColormap

    from dynsys.plot.style import new_figure, save

    ds, num = data["ds"], data["numbers"]
    fig, axes = new_figure(
        f"Degenerate-polynomials paper, Figs. 5 and 7: regimes of Adam on $x^4/4$ ($\\eta$={LR}, $\\epsilon$=0, "
        f"{data['steps']} steps); agreement observed = predicted: {100 * num['agreement']:.1f}% of cells",
        ncols=3, nrows=2, width=14.0, height=8.2)
    cmap = ListedColormap(["0.2", "#1a9641", "#fdae61", "#2b83ba"])
    names = ["0 diverged", "I converging", "II spiking", "III oscillating"]
    for ax, var, title in ((axes[0], "predicted_regime", "(a) Fig. 5: predicted regime (Thm 6.1)"),
                           (axes[1], "regime", "(b) observed regime")):
        vals = ds[var].values.astype(float)
        vals[vals < 0] = np.nan
        mesh = ax.pcolormesh(ds["beta1"].values, ds["beta2"].values, np.ma.masked_invalid(vals), cmap=cmap,
                             vmin=-0.5, vmax=3.5, shading="nearest", rasterized=True)
        cb = fig.colorbar(mesh, ax=ax, ticks=[0, 1, 2, 3], shrink=0.9)
        cb.ax.set_yticklabels(names)
        ax.set_xlabel("$\\beta_1$")
        ax.set_ylabel("$\\beta_2$")
        ax.set_title(title)
    r = [num[f"regime{c}"] for c in (1, 2, 3)]
    axes[1].set_title("(b) observed; agreement I/II/III = "
                      + "/".join(f"{100 * x['agreement']:.0f}%" for x in r))
    ds = ds.assign(log_spikes=np.log10(1 + ds["n_spikes"]))
    _common.heatmap(axes[2], ds, "log_spikes", cmap="magma", label="$\\log_{10}(1 + $spikes$)$")
    axes[2].set_title("(c) completed loss spikes")
    _common.heatmap(axes[3], ds, "min_loss", cmap="viridis_r", vmin=-60, vmax=0, label="$\\log_{10}$ min loss")
    axes[3].set_title("(d) Fig. 7(a): minimum loss")
    _common.heatmap(axes[4], ds, "final_loss", cmap="viridis_r", vmin=-60, vmax=0, label="$\\log_{10}$ final loss")
    axes[4].set_title("(e) Fig. 7(b): final loss")
    _common.heatmap(axes[5], ds, "coupling_ratio", cmap="viridis", vmin=0, vmax=40,
                    label="$\\log_{10}(v/g^2)$ at the end")
    axes[5].set_title("(f) Fig. 7(c-d): coupling ratio")
    for i, ax in enumerate(axes):
        _common.draw_regime_boundaries(ax, K, color="k" if i < 2 else "white", labels=(i == 0))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].legend(loc="lower right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
