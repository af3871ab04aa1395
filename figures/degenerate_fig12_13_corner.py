"""Degenerate-polynomials paper, Figs. 12-13: the lower-left corner (Eq. 9) -- zoomed phase diagram and period doubling in beta1.

Reproduces Figs. 12-13 of "Towards understanding Adam convergence on highly
degenerate polynomials" (Appendix G.1; math.md D4, D6): Adam (eta = 0.01,
eps = 0, no bias correction, x_0 = 1) on x^4/4.

Fig. 12: (a) the predicted regimes over the whole (beta1, beta2) square and
(b) zoomed into the corner beta1, beta2 < 0.08, where the period-doubling
condition of Eq. 9 (red) cuts into the region below Eq. 8 (beta1 < beta2);
(c, d) final loss of the scans over the same two windows. In the corner part
of the cells that the theory calls unstable (left of the red curve) still
converge: the fixed point period-doubles but the orbit keeps u w inside (0, 2); where
the period-2 orbit of claim D19 is stable (right of the dashed red curve) the theory now
predicts I.

Fig. 13: beta2 fixed, beta1 varied. (e) loss curves at beta2 = 0.03 for beta1
in the stable band, left of the Eq. 9 curve (period doubling: saw-tooth, still
converging) and beyond beta1 = beta2 (unstable). (f) orbit diagram of the
Eq. 6 product u w of the normalized Adam map (math.md D1) over beta1 at the
same beta2 = 0.03 (low momentum): period-doubling cascade as beta1 decreases
past Eq. 9 (red), u w staying below 2. (g) the same across beta1 = beta2 at
beta2 = 0.5 (high momentum): at the loss of stability u w jumps above 2 at once.
"""
from __future__ import annotations

import numpy as np
from numba import njit

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig12_13_corner"
K, LR, X0 = 4, 0.01, 1.0
ZOOM = 0.08
B2_LOW, B2_HIGH = 0.03, 0.5


@njit
def product_uw(state, params, index):
    """Observable of the orbit diagram: u_t w_t = 1 - x_{t+1}/x_t (Eq. 6)."""
    return state[0] * state[1]


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.regimes import period_doubling_boundary_beta1, predicted_regime
    from dynsys.scan import orbit_diagram, phase_diagram
    from dynsys.simulate import trajectory

    n, steps = (30, 3000) if quick else (120, 10_000)
    common = dict(lr=LR, steps=steps, x0=X0, eps=0.0, bias_correction=False, progress=False)
    main = phase_diagram("adam", "power", k=K, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), **common)
    zoom = phase_diagram("adam", "power", k=K, x=("beta1", 0.0, ZOOM, n), y=("beta2", 0.0, ZOOM, n), **common)

    # cells of the zoom that Eq. 9 alone makes unstable: below Eq. 8 (b1 < b2) but left of the red curve
    b1 = zoom["beta1"].values[None, :]
    b2 = zoom["beta2"].values[:, None]
    b2c = np.clip(b2, 1e-12, None)
    pd_only = (b1 < b2) & (b1 < period_doubling_boundary_beta1(b2c, K)) & (b2 > 0)
    converged = zoom["final_loss"].values < np.log10(LR ** K / K) - 10
    pd_conv = float(converged[pd_only].mean()) if pd_only.any() else np.nan
    # of those, the cells whose period-2 orbit is stable (claim D19: predicted I) and the rest
    from dynsys.regimes import period_two_spectral_radius
    rad = np.where(pd_only, period_two_spectral_radius(np.broadcast_to(b1, pd_only.shape), np.broadcast_to(b2c, pd_only.shape), K),
                   np.nan)
    p2_stable = pd_only & (rad < 1)
    p2_unstable = pd_only & ~(rad < 1)

    b1_pd = float(period_doubling_boundary_beta1(B2_LOW, K))
    cases = [("stable band", 0.5 * (b1_pd + B2_LOW)), ("period doubling (left of Eq. 9)", 0.3 * b1_pd),
             ("unstable ($\\beta_1 > \\beta_2$)", 1.5 * B2_LOW)]
    runs = []
    for label, beta1 in cases:
        ds = trajectory(adam(LR, beta1, B2_LOW, eps=0.0, bias_correction=False), power(K), [X0], 400)
        runs.append(dict(label=label, beta1=beta1, step=ds["step"].values, log10_loss=ds["log10_loss"].values,
                         predicted=int(predicted_regime(beta1, B2_LOW, K))))

    nb = 200 if quick else 800
    keep = 100 if quick else 200
    orbits = {}
    for key, b2, (lo, hi) in (("low", B2_LOW, (1e-4, 2 * B2_LOW)), ("high", B2_HIGH, (0.3, 0.7))):
        state0 = {"u": 1.0, "w": LR / np.sqrt(1 - b2), "z": (X0 / LR) ** 2}
        values = np.linspace(lo, hi, nb)
        orbits[key] = orbit_diagram("adam-normalized", "beta1", values, fixed={"beta2": b2, "k": K},
                                    discard=500, keep=keep, state0=state0, observe=product_uw, max_period=32)
    low = orbits["low"]
    per = low["period"].values
    vals = low["beta1"].values
    band = (vals > b1_pd * 1.1) & (vals < 0.9 * B2_LOW)
    left = vals < 0.9 * b1_pd
    numbers = dict(
        b1_period_doubling_at_b2_low=b1_pd,
        zoom_pd_only_cells=int(pd_only.sum()),
        zoom_pd_only_converged_fraction=pd_conv,
        zoom_p2_stable_cells=int(p2_stable.sum()),
        zoom_p2_stable_converged_fraction=float(converged[p2_stable].mean()) if p2_stable.any() else np.nan,
        zoom_p2_unstable_converged_fraction=float(converged[p2_unstable].mean()) if p2_unstable.any() else np.nan,
        orbit_low_period1_fraction_in_stable_band=float(np.mean(per[band] == 1)) if band.any() else np.nan,
        orbit_low_period_gt1_fraction_left_of_eq9=float(np.mean(per[left] != 1)) if left.any() else np.nan,
        orbit_low_max_uw_left_of_eq9=float(np.nanmax(low["orbit"].values[left])) if left.any() else np.nan,
        main_agreement=float(main.attrs["agreement"]),
        final_loss_cases=[float(r["log10_loss"][-1]) for r in runs],
        min_loss_cases=[float(np.min(r["log10_loss"])) for r in runs],
    )
    high = orbits["high"]
    hv = high["beta1"].values
    above = hv > B2_HIGH * 1.05
    numbers["orbit_high_max_uw_above_b2"] = float(np.nanmax(high["orbit"].values[above])) if above.any() else np.nan
    numbers["orbit_high_period1_fraction_below_b2"] = float(np.mean(high["period"].values[hv < 0.95 * B2_HIGH] == 1))
    return dict(main=main, zoom=zoom, runs=runs, orbits=orbits, numbers=numbers, quick=quick, steps=steps)


def _regime_map(ax, fig, ds, title):
    from matplotlib.colors import ListedColormap

    vals = ds["predicted_regime"].values.astype(float)
    vals[vals < 0] = np.nan
    cmap = ListedColormap(["0.2", "#1a9641", "#fdae61", "#2b83ba"])
    mesh = ax.pcolormesh(ds["beta1"].values, ds["beta2"].values, np.ma.masked_invalid(vals), cmap=cmap,
                         vmin=-0.5, vmax=3.5, shading="nearest", rasterized=True)
    cb = fig.colorbar(mesh, ax=ax, ticks=[1, 2, 3], shrink=0.9)
    cb.ax.set_yticklabels(["I", "II", "III"])
    ax.set_xlabel("$\\beta_1$")
    ax.set_ylabel("$\\beta_2$")
    ax.set_title(title)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THRESHOLD, new_figure, save

    num = data["numbers"]
    fig, axes = new_figure(
        f"Degenerate-polynomials paper, Figs. 12-13: Adam on $x^4/4$ ($\\eta$={LR}, $\\epsilon$=0), the "
        "lower-left corner of the phase diagram and period doubling in $\\beta_1$", ncols=4, nrows=2,
        width=17.0, height=8.2)
    main, zoom = data["main"], data["zoom"]
    _regime_map(axes[0], fig, main, "(a) Fig. 12(a): predicted regimes")
    _regime_map(axes[1], fig, zoom, f"(b) Fig. 12(b): zoom $\\beta_1,\\beta_2<{ZOOM}$")
    _common.heatmap(axes[2], main, "final_loss", cmap="viridis_r", vmin=-60, vmax=0, label="$\\log_{10}$ final loss")
    axes[2].set_title("(c) Fig. 12(c): final loss")
    _common.heatmap(axes[3], zoom, "final_loss", cmap="viridis_r", vmin=-60, vmax=0, label="$\\log_{10}$ final loss")
    axes[3].set_title(f"(d) Fig. 12(d): final loss, zoom; {100 * num['zoom_pd_only_converged_fraction']:.0f}% "
                      f"of Eq.-9-unstable cells converge\n({100 * num['zoom_p2_stable_converged_fraction']:.0f}% with a stable "
                      f"period-2 orbit, D19; {100 * num['zoom_p2_unstable_converged_fraction']:.0f}% of the rest)")
    for i, (ax, ds) in enumerate(zip(axes[:4], (main, zoom, main, zoom))):
        hi = float(ds["beta2"].values.max())
        _common.draw_regime_boundaries(ax, K, beta2_range=(1e-6, hi), color="k" if i < 2 else "white",
                                       labels=(i == 1))
        ax.set_xlim(0, float(ds["beta1"].values.max()) * 1.006)
        ax.set_ylim(0, hi * 1.006)
    axes[1].legend(loc="upper left")

    ax_e = axes[4]
    for i, r in enumerate(data["runs"]):
        ax_e.plot(r["step"], r["log10_loss"], color=f"C{i}", lw=(3.0, 1.2, 1.0)[i], ls=("-", (0, (4, 2)), "-")[i],
                  label=f"$\\beta_1$={r['beta1']:.4f}: {r['label']}")
    ax_e.axhline(np.log10(LR ** K / K), color="k", ls="--", lw=1.0, label="SignGD level $\\eta^k/k$")
    ax_e.set_ylim(-250, 5)
    ax_e.set_xlim(0, 250)
    ax_e.set_xlabel("step $t$")
    ax_e.set_ylabel("$\\log_{10}$ loss")
    ax_e.set_title(f"(e) Fig. 13(a-c): loss at $\\beta_2$={B2_LOW}")
    ax_e.legend(loc="lower left")
    for ax, key, b2, tag in ((axes[5], "low", B2_LOW, "(f) Fig. 13(d): low momentum"),
                             (axes[6], "high", B2_HIGH, "(g) Fig. 13(e): high momentum")):
        od = data["orbits"][key]
        v = od["beta1"].values
        orb = od["orbit"].values
        vv = np.repeat(v[:, None], orb.shape[1], axis=1)
        ok = np.isfinite(orb)
        ax.plot(vv[ok], np.clip(orb[ok], -1, 4), ",", color="k", alpha=0.5, rasterized=True)
        ax.axhline(2.0, **THRESHOLD, label="$uw = 2$")
        ax.axvline(b2, color="C1", ls="--", lw=1.2, label="$\\beta_1=\\beta_2$ (Eq. 8)")
        if key == "low":
            ax.axvline(num["b1_period_doubling_at_b2_low"], color="red", lw=1.2, label="Eq. 9")
        ax.set_ylim(-0.2, 4.0)
        ax.set_xlabel("$\\beta_1$")
        ax.set_ylabel("$u_t w_t$ after 500 steps")
        ax.set_title(f"{tag}, $\\beta_2$={b2}")
        ax.legend(loc="upper left")
    ax_p = axes[7]
    for key, c in (("low", "C0"), ("high", "C3")):
        od = data["orbits"][key]
        p = od["period"].values.astype(float)
        p[p == 0] = np.nan
        x = od["beta1"].values / float(
            od.attrs["fixed_beta2"])
        ax_p.plot(x, p, ".", color=c, ms=2, label=f"$\\beta_2$={od.attrs['fixed_beta2']:g}")
    ax_p.set_yscale("log", base=2)
    ax_p.axvline(1.0, color="C1", ls="--", lw=1.0)
    ax_p.set_xlabel("$\\beta_1/\\beta_2$")
    ax_p.set_ylabel("detected period of $u w$ (0: none / escaped, not shown)")
    ax_p.set_title("(h) period of the orbits in (f, g)")
    ax_p.legend(loc="upper right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
