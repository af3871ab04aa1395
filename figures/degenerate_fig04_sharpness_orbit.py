"""Degenerate-polynomials paper, Fig. 4: orbit diagram of the effective-sharpness map s -> gamma s (1-s)^(k-2).

Reproduces Fig. 4 of "Towards understanding Adam convergence on highly
degenerate polynomials" (Eqs. 17-18, Prop. 5.6; math.md D10): GD with the
exponential schedule eta_t = eta_0 gamma^t on x^4/4 has effective sharpness
s_t = eta_t x_t^2 obeying s -> gamma s (1-s)^2. For each gamma the map is
iterated 1000 transient steps from s_0 = 0.5 and the next points are drawn
(:func:`dynsys.scan.orbit_diagram`).

(a) the attractor of s against gamma, with the fixed point s* = 1 - gamma^(-1/(k-2))
    (black: stable, dashed: unstable), its predicted loss of stability at
    gamma* = (k/(k-2))^(k-2) = 4 (red dotted), and RMSProp's gamma = 1/sqrt(beta2)
    for beta2 = 0.999, 0.99, 0.9 (all far inside the stable range). Past gamma*
    come period doubling and chaos with s still inside (0, 2), so x still
    converges; then the orbit escapes (grey band).
(b) the largest Lyapunov exponent (from the map's symbolic derivative) with the
    theory ln|f'(s*)| = ln|1 - (k-2)(gamma^(1/(k-2)) - 1)| on the period-1 branch,
    and the detected period.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig04_sharpness_orbit"
K = 4
GAMMA_RANGE = (1.0, 10.0)


def compute(quick: bool = False) -> dict:
    from dynsys.regimes import sharpness_critical_gamma, sharpness_fixed_point, sharpness_multiplier
    from dynsys.scan import orbit_diagram

    n = 300 if quick else 1500
    keep = 200 if quick else 400
    gammas = np.linspace(*GAMMA_RANGE, n)
    ds = orbit_diagram("sharpness", "gamma", gammas, fixed={"k": K}, discard=1000, keep=keep,
                       state0={"s": 0.5}, max_period=64)
    period = ds["period"].values
    escaped = ds["escaped"].values
    lyap = ds["lyapunov"].values
    g_crit = float(sharpness_critical_gamma(K))
    s_star = np.asarray(sharpness_fixed_point(gammas, K))
    lyap_theory = np.log(np.abs(np.asarray(sharpness_multiplier(gammas, K))))
    stay = ~escaped
    first_not_p1 = gammas[stay & (period != 1)]
    first_not_p1 = float(first_not_p1[0]) if first_not_p1.size else np.nan
    # away from gamma = 1 (multiplier -> 1: slow approach), gamma = 2 (superstable, ln 0) and gamma*
    p1 = stay & (period == 1) & (gammas > 1.2) & (gammas < g_crit - 0.05) & (np.abs(gammas - 2.0) > 0.05)
    first_escape = float(gammas[escaped][0]) if escaped.any() else np.nan
    first_p4 = gammas[stay & (period == 4)]
    numbers = dict(
        gamma_critical_theory=g_crit,
        gamma_first_period_not_1=first_not_p1,
        gamma_first_period_4=float(first_p4[0]) if first_p4.size else np.nan,
        gamma_first_escape=first_escape,
        lyapunov_max_abs_err_period1=float(np.max(np.abs(lyap[p1] - lyap_theory[p1]))) if p1.any() else np.nan,
        fixed_point_max_abs_err=float(np.max(np.abs(ds["orbit"].values[p1, -1] - s_star[p1]))) if p1.any() else np.nan,
        grid_step=float(gammas[1] - gammas[0]),
        chaotic_fraction_before_escape=float(np.mean(lyap[stay & (gammas > g_crit)] > 0)) if (stay & (gammas > g_crit)).any() else np.nan,
    )
    return dict(ds=ds, gammas=gammas, s_star=s_star, lyap_theory=lyap_theory, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, THRESHOLD, new_figure, save

    ds, g, num = data["ds"], data["gammas"], data["numbers"]
    fig, (ax_a, ax_b) = new_figure(
        "Degenerate-polynomials paper, Fig. 4: effective-sharpness map $s\\mapsto\\gamma s(1-s)^{k-2}$, "
        f"$k$={K} (GD with $\\eta_t=\\eta_0\\gamma^t$ on $x^4/4$)", ncols=2, width=11.0, height=4.0)
    orbit = ds["orbit"].values
    gg = np.repeat(g[:, None], orbit.shape[1], axis=1)
    ok = np.isfinite(orbit)
    ax_a.plot(gg[ok], orbit[ok], ",", color="k", alpha=0.35, rasterized=True)
    gc = num["gamma_critical_theory"]
    stable = g < gc
    ax_a.plot(g[stable], data["s_star"][stable], color="C0", lw=1.4, label="fixed point $s^*=1-\\gamma^{-1/(k-2)}$")
    ax_a.plot(g[~stable], data["s_star"][~stable], color="C0", ls="--", lw=1.0, label="$s^*$ (unstable)")
    ax_a.axvline(gc, **THRESHOLD, label=f"$\\gamma^*=(k/(k-2))^{{k-2}}$ = {gc:g}")
    for b2 in (0.999, 0.99, 0.9):
        ax_a.axvline(1 / np.sqrt(b2), color="C2", lw=0.8, ls="-.")
    ax_a.plot([], [], color="C2", ls="-.", label="RMSProp $\\gamma=1/\\sqrt{\\beta_2}$, $\\beta_2$=0.999, 0.99, 0.9")
    esc = ds["escaped"].values
    if esc.any():
        ax_a.axvspan(g[esc][0], g[-1], color="0.5", alpha=0.2, label=f"escapes (0, 2) from $\\gamma$ = {g[esc][0]:.3f}")
    ax_a.axhline(2.0, color="0.3", lw=0.8)
    ax_a.set_xlim(g[0], g[-1])
    ax_a.set_ylim(0, 2.05)
    ax_a.set_xlabel("$\\gamma$ (learning-rate growth per step)")
    ax_a.set_ylabel("effective sharpness $s = \\eta_t x_t^{k-2}$ on the attractor")
    ax_a.set_title(f"(a) orbit after 1000 transient steps; first period $\\neq$ 1 at $\\gamma$ = "
                   f"{num['gamma_first_period_not_1']:.3f}")
    ax_a.legend(loc="upper left")
    lyap = ds["lyapunov"].values
    ax_b.plot(g, lyap, color="C3", lw=0.8, label="measured (from the Jacobian)")
    ax_b.plot(g[stable], data["lyap_theory"][stable], **THEORY, label="$\\ln|f'(s^*)|$")
    ax_b.axhline(0.0, color="0.3", lw=0.8)
    ax_b.axvline(gc, **THRESHOLD)
    ax_b.set_ylim(-3, 1.5)
    ax_b.set_xlim(g[0], g[-1])
    ax_b.set_xlabel("$\\gamma$")
    ax_b.set_ylabel("largest Lyapunov exponent")
    ax_p = ax_b.twinx()
    per = ds["period"].values.astype(float)
    per[per == 0] = np.nan
    ax_p.plot(g, per, ".", color="C0", ms=1.5)
    ax_p.set_yscale("log", base=2)
    ax_p.set_ylabel("detected period (blue dots)")
    ax_b.set_title("(b) Lyapunov exponent and period")
    ax_b.legend(loc="lower left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
