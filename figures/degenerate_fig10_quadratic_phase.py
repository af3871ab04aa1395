"""Degenerate-polynomials paper, Fig. 10: phase diagram of Adam on the quadratic x^2/2 (Appendix F).

Reproduces Fig. 10 of "Towards understanding Adam convergence on highly
degenerate polynomials" (math.md D14): Adam (eta = 0.013, eps = 0, no bias
correction, x_0 = 1; eta is chosen so that SignGD cannot land exactly on the
minimum) on x^2/2 over beta1 in (0, 1), beta2 in (0.8, 1)
(:func:`dynsys.scan.phase_diagram`, k = 2).

For k = 2 no non-trivial fixed point exists, so every run ends in a spike or
oscillation (predicted regime II everywhere). What the figure shows:
(a) minimum loss before the spike: for fixed beta1 it increases as beta2
    decreases (v reacts faster, so the preconditioner reaches its threshold
    at a higher loss); for fixed beta2 it increases with beta1 (momentum
    overshoots earlier);
(b) the step at which the minimum is reached;
(c) the final loss: high everywhere (no convergence at a constant rate).
The panel titles give the fraction of columns / rows with the stated monotone
trend (Spearman rank correlation of the right sign).
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig10_quadratic_phase"
LR, X0 = 0.013, 1.0
B2_RANGE = (0.8, 1.0)


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def compute(quick: bool = False) -> dict:
    from dynsys.scan import phase_diagram

    n, steps = (30, 3000) if quick else (120, 6000)
    ds = phase_diagram("adam", "power", k=2, x=("beta1", 0.0, 1.0, n), y=("beta2", *B2_RANGE, n), lr=LR,
                       steps=steps, x0=X0, eps=0.0, bias_correction=False, progress=False)
    m = ds["min_loss"].values
    b1, b2 = ds["beta1"].values, ds["beta2"].values
    col = np.array([_spearman(b2, m[:, j]) for j in range(m.shape[1])])
    row = np.array([_spearman(b1, m[i, :]) for i in range(m.shape[0])])
    fin = ds["final_loss"].values
    numbers = dict(
        columns_min_loss_rises_as_beta2_falls=float(np.mean(col < 0)),
        rows_min_loss_rises_with_beta1=float(np.mean(row > 0)),
        median_column_spearman=float(np.median(col)),
        median_row_spearman=float(np.median(row)),
        fraction_final_above_min_by_5_decades=float(np.mean(fin > m + 5)),
        predicted_regime_values=sorted(int(v) for v in np.unique(ds["predicted_regime"].values)),
    )
    return dict(ds=ds, numbers=numbers, quick=quick, steps=steps)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import new_figure, save

    ds, num = data["ds"], data["numbers"]
    fig, (ax_a, ax_b, ax_c) = new_figure(
        f"Degenerate-polynomials paper, Fig. 10: Adam on $x^2/2$ ($\\eta$={LR}, $\\epsilon$=0, "
        f"{data['steps']} steps): no constant-rate convergence, the minimum reached depends on $\\beta_1, \\beta_2$",
        ncols=3, width=14.0, height=4.2)
    _common.heatmap(ax_a, ds, "min_loss", cmap="viridis_r", vmin=-120, vmax=0, label="$\\log_{10}$ min loss")
    ax_a.set_title(f"(a) min loss: rises as $\\beta_2$ falls ({100 * num['columns_min_loss_rises_as_beta2_falls']:.0f}% "
                   f"of columns)\nand as $\\beta_1$ grows ({100 * num['rows_min_loss_rises_with_beta1']:.0f}% of rows)")
    ds = ds.assign(log_min_step=np.log10(np.maximum(ds["min_step"], 1)))
    _common.heatmap(ax_b, ds, "log_min_step", cmap="magma", label="$\\log_{10}$ step of the minimum")
    ax_b.set_title("(b) when the minimum is reached (the spike)")
    _common.heatmap(ax_c, ds, "final_loss", cmap="viridis_r", vmin=-120, vmax=0, label="$\\log_{10}$ final loss")
    ax_c.set_title(f"(c) final loss: {100 * num['fraction_final_above_min_by_5_decades']:.0f}% of cells end\n"
                   "more than 5 decades above their minimum")
    # theory (D14): no converging fixed point for k = 2, so every cell must spike; outline the cells
    # where the measurement disagrees (final loss within 5 decades of the minimum)
    t = ds.transpose("beta2", "beta1")
    fails = t["final_loss"].values <= t["min_loss"].values + 5
    gb1, gb2 = np.meshgrid(t["beta1"].values, t["beta2"].values)
    ax_c.scatter(gb1[fails], gb2[fails], s=4, marker="x", color="red", linewidths=0.6,
                 label="no 5-decade rise (D14 predicts a spike everywhere)")
    ax_c.legend(loc="lower left", fontsize=7, framealpha=0.9)
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
