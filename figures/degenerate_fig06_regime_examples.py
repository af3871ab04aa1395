"""Degenerate-polynomials paper, Fig. 6: typical trajectories of the three regimes (k = 4).

Reproduces Fig. 6 of "Towards understanding Adam convergence on highly
degenerate polynomials" (math.md D1, D2, D12, D13): Adam (eps = 0, no bias
correction, eta = 0.01) on x^4/4 from x_0 = 1 with beta2 = 0.9 and beta1 in
each regime of Thm 6.1 (for k = 4: I if b1 < b2, II if b2 <= b1 < b2^(3/4),
III otherwise):

(a-c) loss, with the SignGD level eta^k/k (dashed);
(d-f) second moment v_t against g_t^2 (log10): decoupled (v >> g^2, v decaying
      like b2^t, dashed) in I and II, tightly coupled in III;
(g-i) the product u_t w_t = 1 - x_{t+1}/x_t of Eq. 6 (loss falls iff
      0 < u w < 2), with the fixed-point value 1 - rho, rho = b2^(1/(2(k-2)))
      (D2, dashed): I settles there, II leaves it (spike), III wanders.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig06_regime_examples"
K, LR, BETA2, X0 = 4, 0.01, 0.9, 1.0
CASES = (("I", 0.8), ("II", 0.91), ("III", 0.97))


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    steps = 1200 if quick else 2000
    rho = BETA2 ** (1.0 / (2 * (K - 2)))
    runs = []
    for regime, b1 in CASES:
        ds = trajectory(adam(LR, b1, BETA2, eps=0.0, bias_correction=False), power(K), [X0], steps)
        x = np.ravel(ds["x"].values)
        with np.errstate(divide="ignore", invalid="ignore"):
            uw = 1.0 - x[1:] / x[:-1]
        log10_v = ds["log10_v"].values
        log10_g2 = 2 * ds["log10_abs_grad"].values
        runs.append(dict(regime=regime, beta1=b1, step=ds["step"].values, log10_loss=ds["log10_loss"].values,
                         log10_v=log10_v, log10_g2=log10_g2, uw=uw))
    num = {"rho": rho, "uw_fixed_point": 1 - rho}
    for r in runs:
        tail = slice(-200, None)
        num[r["regime"]] = dict(
            beta1=r["beta1"],
            min_log10_loss=float(np.min(r["log10_loss"])),
            final_log10_loss=float(r["log10_loss"][-1]),
            final_log10_coupling=float(np.median(r["log10_v"][tail] - r["log10_g2"][tail])),
            uw_median_tail=float(np.nanmedian(r["uw"][tail])),
        )
    ri = runs[0]
    half = len(ri["step"]) // 2
    num["I"]["log10_slope"] = _common.fit_log10_slope(ri["step"][half:], ri["log10_loss"][half:])
    num["I"]["log10_slope_theory"] = K * np.log10(BETA2) / (2 * (K - 2))
    return dict(runs=runs, numbers=num, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, THRESHOLD, new_figure, save

    num = data["numbers"]
    fig, axes = new_figure(
        f"Degenerate-polynomials paper, Fig. 6: Adam on $x^4/4$ ($\\eta$={LR}, $\\beta_2$={BETA2}, $\\epsilon$=0) "
        "in regimes I, II, III", ncols=3, nrows=3, width=11.5, height=8.4)
    for j, r in enumerate(data["runs"]):
        ax_l, ax_v, ax_u = axes[j], axes[3 + j], axes[6 + j]
        t = r["step"]
        ax_l.plot(t, r["log10_loss"], color="C0")
        ax_l.axhline(np.log10(LR ** K / K), **THEORY, label="SignGD level $\\eta^k/k$")
        ax_l.set_title(f"({'abc'[j]}) regime {r['regime']}: $\\beta_1$={r['beta1']}")
        ax_l.set_xlabel("step $t$")
        ax_l.set_ylabel("$\\log_{10}$ loss")
        ax_l.legend(loc="lower left")
        ax_v.plot(t, r["log10_v"], color="C3", lw=1.0, label="$\\log_{10} v_t$")
        ax_v.plot(t, r["log10_g2"], color="C2", lw=0.8, label="$\\log_{10} g_t^2$")
        mid = len(t) // 3
        ax_v.plot(t[mid:], r["log10_v"][mid] + np.log10(BETA2) * (t[mid:] - t[mid]), color="k", ls=":",
                  lw=1.2, label="free decay $\\beta_2^t$")
        ax_v.set_title(f"({'def'[j]}) coupling: median $\\log_{{10}}(v/g^2)$ at end = "
                       f"{num[r['regime']]['final_log10_coupling']:.1f}")
        ax_v.set_xlabel("step $t$")
        ax_v.set_ylabel("$\\log_{10}$ value")
        ax_v.set_ylim(max(min(r["log10_g2"].min(), r["log10_v"].min()), -300) - 5, 5)
        ax_v.legend(loc="lower left")
        ax_u.plot(t[:-1], r["uw"], ".", color="C4", ms=1.2)
        ax_u.axhline(num["uw_fixed_point"], **THEORY, label="fixed point $1-\\rho$")
        ax_u.axhline(2.0, **THRESHOLD, label="$uw = 2$ (loss rises above)")
        ax_u.axhline(0.0, **THRESHOLD)
        ax_u.set_ylim(-1.0, 3.0)
        ax_u.set_xlabel("step $t$")
        ax_u.set_ylabel("$u_t w_t = 1 - x_{t+1}/x_t$")
        ax_u.set_title(f"({'ghi'[j]}) Eq. 6 product $u_t w_t$")
        ax_u.legend(loc="upper right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
