"""Degenerate-polynomials paper, Figs. 1-2: Adam vs GD vs Momentum on x^2/2 and x^4/4, and the effective curvature.

Reproduces Figs. 1-2 of "Towards understanding Adam convergence on highly
degenerate polynomials" (``adam-degenerate-polynomials.txt``; math.md D1, D2,
D5, D7). GD, heavy-ball Momentum (EMA form, beta = 0.9) and Adam (beta1 = 0.9,
beta2 = 0.99, eps = 0, no bias correction: the paper's simplifications), all
with eta = 0.05, from x_0 = 1:

(a) on the quadratic x^2/2 all three converge linearly at first, but Adam
    spikes (shaded: measured spike);
(b) on the degenerate x^4/4 GD and Momentum slow to the power law
    L ~ (1/4) (2 eta t)^(-2) of gradient flow (Thm 5.1/5.3, dashed), while
    Adam converges linearly with the predicted slope
    d ln L / dt = k ln(beta2) / (2 (k - 2)) = ln(beta2) (Thm 4.1 iii, dashed);
(c) the effective (preconditioned) curvature
    eta lambda(Hhat) = (1-b1)/(1+b1) eta L''(x_t)/sqrt(v_t) (Eq. 7 of the
    Adam-preconditioners paper): for k = 2 it grows as v decays until it
    crosses the stability threshold 2 (spike); for k = 4 numerator and
    denominator decay together and it settles at the value of the non-trivial
    fixed point (1-b1)/(1+b1) (k-1) w* of D2 (dashed), far below 2.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig01_02_adam_vs_gd"
LR, BETA1, BETA2, X0 = 0.05, 0.9, 0.99, 1.0


def fixed_point_curvature(k: int, beta1: float, beta2: float) -> float:
    """eta * lambda(Hhat) at the non-trivial fixed point of D2:
    rho = b2^(1/(2(k-2))), u* = (1-b1)/(1-b1/rho^(k-1)), w* = (1-rho)/u*,
    value (1-b1)/(1+b1) (k-1) w* (uses (k-1) w = eta L''/sqrt(v), math.md D1)."""
    rho = beta2 ** (1.0 / (2 * (k - 2)))
    u = (1 - beta1) / (1 - beta1 / rho ** (k - 1))
    w = (1 - rho) / u
    return (1 - beta1) / (1 + beta1) * (k - 1) * w


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam, gd, momentum
    from dynsys.simulate import trajectory

    steps = 2000 if quick else 4000
    optimizers = {
        "GD": gd(LR),
        "Momentum": momentum(LR, beta=BETA1),
        "Adam": adam(LR, BETA1, BETA2, eps=0.0, bias_correction=False),
    }
    runs = {}
    for k in (2, 4):
        for label, opt in optimizers.items():
            ds = trajectory(opt, power(k), [X0], steps)
            runs[(k, label)] = dict(step=ds["step"].values, log10_loss=ds["log10_loss"].values,
                                    eff_curv=LR * ds["precond_curvature"].values,
                                    diverged=bool(ds.attrs["diverged"]))
    num = {}
    # k = 4, Adam: linear rate over the second half (math.md D5)
    r = runs[(4, "Adam")]
    half = len(r["step"]) // 2
    num["adam_k4_log10_slope"] = _common.fit_log10_slope(r["step"][half:], r["log10_loss"][half:])
    num["adam_k4_log10_slope_theory"] = 4 * np.log10(BETA2) / (2 * (4 - 2))
    # k = 4, GD and Momentum: power law L ~ t^(-k/(k-2)) = t^-2 (math.md D7)
    for label in ("GD", "Momentum"):
        r = runs[(4, label)]
        t = r["step"][half:].astype(float)
        num[f"{label.lower()}_k4_loglog_slope"] = float(np.polyfit(np.log10(t), r["log10_loss"][half:], 1)[0])
    num["gd_k4_loglog_slope_theory"] = -4.0 / (4 - 2)
    # k = 2, Adam spikes; k = 4 effective curvature settles at the fixed point
    found = _common.spike_onset(runs[(2, "Adam")]["log10_loss"])
    num["adam_k2_spike_onset"] = found[0] if found else None
    num["adam_k2_eff_curv_at_onset"] = float(runs[(2, "Adam")]["eff_curv"][found[0]]) if found else np.nan
    num["adam_k4_eff_curv_final"] = float(np.median(runs[(4, "Adam")]["eff_curv"][-200:]))
    num["adam_k4_eff_curv_theory"] = fixed_point_curvature(4, BETA1, BETA2)
    return dict(runs=runs, numbers=num, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, THRESHOLD, new_figure, save

    runs, num = data["runs"], data["numbers"]
    fig, (ax_a, ax_b, ax_c) = new_figure(
        "Degenerate-polynomials paper, Figs. 1-2: GD, Momentum, Adam ($\\eta$=0.05, $\\beta_1$=0.9, "
        "$\\beta_2$=0.99, $\\epsilon$=0) on $x^2/2$ and $x^4/4$", ncols=3)
    colors = {"GD": "C0", "Momentum": "C2", "Adam": "C3"}
    for ax, k in ((ax_a, 2), (ax_b, 4)):
        for label, c in colors.items():
            r = runs[(k, label)]
            ax.plot(r["step"], r["log10_loss"], color=c, lw=1.0, label=label)
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$\\log_{10}$ loss")
    onset = num["adam_k2_spike_onset"]
    if onset is not None:
        ax_a.axvspan(onset, runs[(2, "Adam")]["step"][-1], color="red", alpha=0.08, label="after Adam's spike")
    ax_a.set_title("(a) $L = x^2/2$: Adam spikes")
    ax_a.legend(loc="lower left")
    t = runs[(4, "GD")]["step"][1:].astype(float)
    ax_b.plot(t, np.log10(0.25 * (2 * LR * t) ** -2.0), **THEORY, label="flow: $\\frac{1}{4}(2\\eta t)^{-2}$")
    ra = runs[(4, "Adam")]
    t0 = ra["step"][len(ra["step"]) // 4]
    y0 = ra["log10_loss"][len(ra["step"]) // 4]
    tt = ra["step"][len(ra["step"]) // 4:]
    ax_b.plot(tt, y0 + num["adam_k4_log10_slope_theory"] * (tt - t0), color="k", ls=":", lw=1.4,
              label=f"Thm 4.1: slope {num['adam_k4_log10_slope_theory']:.5f}/step")
    ax_b.set_title(f"(b) $L = x^4/4$: Adam linear (measured {num['adam_k4_log10_slope']:.5f}/step)")
    ax_b.legend(loc="lower left")
    for k, ls in ((2, "-"), (4, "-")):
        r = runs[(k, "Adam")]
        ax_c.semilogy(r["step"], r["eff_curv"], color="C3" if k == 2 else "C1", ls=ls, lw=1.0,
                      label=f"Adam, $k$={k}")
    ax_c.axhline(2.0, **THRESHOLD, label="stability threshold 2")
    ax_c.axhline(num["adam_k4_eff_curv_theory"], **THEORY, label="fixed point of D2 ($k$=4)")
    ax_c.set_xlabel("step $t$")
    ax_c.set_ylabel("$\\eta\\,\\lambda(\\hat H_t) = \\frac{1-\\beta_1}{1+\\beta_1}\\eta L''(x_t)/\\sqrt{v_t}$")
    ax_c.set_title("(c) effective curvature")
    ax_c.legend(loc="center right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
