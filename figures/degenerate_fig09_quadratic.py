"""Degenerate-polynomials paper, Fig. 9: Adam vs RMSProp on the quadratic x^2/2 (Appendix F).

Reproduces Fig. 9 of "Towards understanding Adam convergence on highly
degenerate polynomials" (math.md D8, D14): Adam (beta1 = 0.9) and RMSProp
(beta1 = 0), both with beta2 = 0.99, eps = 0, no bias correction, eta = 0.01,
on L = x^2/2 from x_0 = 1.

(a) loss: RMSProp converges super-linearly before its spike (the flow of
    Lemma F.1 with the measured effective rate, dotted), Adam linearly. The
    Adam rate is momentum-limited (Lemma F.2); in discrete time the (x, m)
    recursion with eta_eff growing by 1/sqrt(beta2) per step has determinant
    beta1/sqrt(beta2), and with the adiabatic factor eta_eff^(-1/4) the loss
    falls as d ln L/dt = ln(beta1) - ln(beta2)/4 (dashed). The paper's
    continuous form -(2 mu - alpha)/2 with mu = 1 - beta1, alpha = (1-beta2)/2 is
    its small-(1-beta) limit.
(b, c) v_t against g_t^2 for RMSProp and Adam: v decouples and decays freely as
    beta2^t (dashed fit of the decay rate);
(d) Adam's first moment m_t stays coupled to g_t.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "degenerate_fig09_quadratic"
LR, BETA1, BETA2, X0 = 0.01, 0.9, 0.99, 1.0


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam, rmsprop
    from dynsys.simulate import trajectory

    steps = 1700 if quick else 2500
    runs = {}
    for label, opt in (("Adam", adam(LR, BETA1, BETA2, eps=0.0, bias_correction=False)),
                       ("RMSProp", rmsprop(LR, BETA2, eps=0.0))):
        ds = trajectory(opt, power(2), [X0], steps)
        y = ds["log10_loss"].values
        found = _common.spike_onset(y, window=30)
        onset = found[0] if found else len(y) - 1
        runs[label] = dict(step=ds["step"].values, log10_loss=y, log10_v=ds["log10_v"].values,
                           log10_g2=2 * ds["log10_abs_grad"].values,
                           log10_m=np.log10(np.maximum(np.abs(ds["m"].values), 1e-300)),
                           log10_eff_lr=ds["log10_eff_lr"].values, onset=onset)
    num = {}
    a = runs["Adam"]
    i0, i1 = int(0.4 * a["onset"]), int(0.9 * a["onset"])
    env = _common.log10_envelope(a["log10_loss"], 30)
    num["adam_ln_slope"] = _common.fit_log10_slope(a["step"][i0:i1], env[i0:i1]) * np.log(10)
    num["adam_ln_slope_theory"] = float(np.log(BETA1) - np.log(BETA2) / 4)
    num["adam_ln_slope_continuous"] = -(2 * (1 - BETA1) - (1 - BETA2) / 2) / 2
    num["adam_fit_window"] = (i0, i1)
    for label, r in runs.items():
        j0, j1 = int(0.3 * r["onset"]), int(0.95 * r["onset"])
        alpha, _ = _common.fit_log_slope(r["step"][j0:j1], 10.0 ** (r["log10_v"][j0:j1] - r["log10_v"][j0]))
        num[f"{label.lower()}_v_decay"] = alpha
        num[f"{label.lower()}_spike_onset"] = int(r["onset"])
        num[f"{label.lower()}_min_log10_loss"] = float(np.min(r["log10_loss"][: r["onset"] + 1]))
        num[f"{label.lower()}_final_log10_coupling"] = float(r["log10_v"][j1] - r["log10_g2"][j1])
    # Adam's m/g stays O(1) before the spike (first moment coupled to the gradient)
    gm = a["log10_m"][10:a["onset"]] - 0.5 * a["log10_g2"][10:a["onset"]]
    num["adam_log10_m_over_g_median"] = float(np.median(gm))
    # RMSProp is super-linear: its loss slope steepens towards the spike
    r = runs["RMSProp"]
    q = r["onset"] // 4
    s_early = _common.fit_log10_slope(r["step"][q:2 * q], r["log10_loss"][q:2 * q])
    s_late = _common.fit_log10_slope(r["step"][3 * q:4 * q], r["log10_loss"][3 * q:4 * q])
    num["rmsprop_slope_steepening"] = s_late / s_early
    # Lemma F.1 flow from t0 = q: ln|x(t)| = ln|x0| - (eta_eff0/alpha)(e^{alpha t} - 1), alpha = -ln(b2)/2
    t0 = q
    alpha = -np.log(BETA2) / 2
    tt = r["step"][t0:r["onset"]].astype(float) - t0
    eff0 = 10.0 ** r["log10_eff_lr"][t0]
    num["rmsprop_flow"] = (r["step"][t0:r["onset"]],
                           r["log10_loss"][t0] - 2 * (eff0 / alpha) * np.expm1(alpha * tt) / np.log(10))
    return dict(runs=runs, numbers=num, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, new_figure, save

    runs, num = data["runs"], data["numbers"]
    fig, (ax_a, ax_b, ax_c, ax_d) = new_figure(
        f"Degenerate-polynomials paper, Fig. 9: Adam vs RMSProp on $x^2/2$ ($\\eta$={LR}, "
        f"$\\beta_1$={BETA1}, $\\beta_2$={BETA2}, $\\epsilon$=0)", ncols=4, width=15.0, height=3.6)
    a, r = runs["Adam"], runs["RMSProp"]
    ax_a.plot(a["step"], a["log10_loss"], color="C3", lw=0.9, label="Adam")
    ax_a.plot(r["step"], r["log10_loss"], color="C0", lw=0.9, label="RMSProp")
    i0, i1 = num["adam_fit_window"]
    t = a["step"][i0 // 2:a["onset"]].astype(float)
    y0 = _common.log10_envelope(a["log10_loss"], 30)[i0]
    ax_a.plot(t, y0 + num["adam_ln_slope_theory"] / np.log(10) * (t - i0), **THEORY,
              label=f"$\\ln\\beta_1-\\ln(\\beta_2)/4$ = {num['adam_ln_slope_theory']:.4f}/step")
    ts, ys = num["rmsprop_flow"]
    keep = ys > np.min(r["log10_loss"]) - 20
    ax_a.plot(ts[keep], ys[keep], color="k", ls=":", lw=1.3, label="Lemma F.1 flow (RMSProp)")
    ax_a.set_xlabel("step $t$")
    ax_a.set_ylabel("$\\log_{10}$ loss")
    ax_a.set_title(f"(a) loss; Adam measured {num['adam_ln_slope']:.4f}/step in ln")
    ax_a.legend(loc="lower left")
    for ax, rr, label, key in ((ax_b, r, "RMSProp", "rmsprop"), (ax_c, a, "Adam", "adam")):
        ax.plot(rr["step"], rr["log10_v"], color="C3", lw=1.0, label="$\\log_{10} v_t$")
        ax.plot(rr["step"], rr["log10_g2"], color="C2", lw=0.8, label="$\\log_{10} g_t^2$")
        t0 = int(0.3 * rr["onset"])
        tt = rr["step"][t0:rr["onset"] + 1]
        ax.plot(tt, rr["log10_v"][t0] + np.log10(num[f"{key}_v_decay"]) * (tt - t0), **THEORY,
                label=f"fit $\\alpha^t$, $\\alpha$={num[f'{key}_v_decay']:.4f} ($\\beta_2$={BETA2})")
        ax.set_ylim(max(np.min(rr["log10_g2"]), -400) - 5, 5)
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$\\log_{10}$ value")
        ax.set_title(f"({'b' if label == 'RMSProp' else 'c'}) {label}: $v$ decouples from $g^2$")
        ax.legend(loc="lower left")
    ax_d.plot(a["step"], a["log10_m"], color="C1", lw=1.0, label="$\\log_{10}|m_t|$")
    ax_d.plot(a["step"], 0.5 * a["log10_g2"], color="C2", lw=0.8, label="$\\log_{10}|g_t|$")
    ax_d.set_xlabel("step $t$")
    ax_d.set_ylabel("$\\log_{10}$ value")
    ax_d.set_title("(d) Adam: $m$ stays coupled to $g$")
    ax_d.legend(loc="lower left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
