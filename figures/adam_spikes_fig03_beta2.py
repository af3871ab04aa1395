"""Adam-preconditioners paper, Fig. 3: beta2 = 0.99 vs 0.9 on theta^2/2, with the v-decay fit.

Reproduces Fig. 3 of "Adaptive preconditioners trigger loss spikes in Adam":
Adam (beta1 = 0.9, eta = 0.05, eps = 1e-8, bias correction) on
f(theta) = theta^2/2 from theta_0 = 1.

(a, c) loss and gradient norm |g_t|;
(b, d) vhat_t and lambda_max(Hhat_t) (Eq. 7, math.md A3) against the threshold
2/eta, with the fit vhat_t = A alpha^t over the stretch before lambda_max(Hhat)
reaches 2/eta (green dashed, alpha in the label).

With beta2 = 0.99 the gradient becomes negligible against sqrt(vhat), v decays
freely at alpha = beta2 and the loss spikes when lambda_max(Hhat) crosses 2/eta
(red dotted line: measured onset; blue dotted: the loss starts to fall again).
With beta2 = 0.9 the gradient stays comparable to sqrt(v): the fitted alpha is
above beta2 (the paper reports 0.93) and the crossing gives oscillation, not a
large spike.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "adam_spikes_fig03_beta2"
BETA1, EPS, LR, X0 = 0.9, 1e-8, 0.05, 1.0
BETA2S = (0.99, 0.9)


def _run(beta2: float, steps: int) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    ds = trajectory(adam(LR, BETA1, beta2, EPS, bias_correction=True), power(2), [X0], steps)
    step = ds["step"].values
    log10_loss = ds["log10_loss"].values
    grad = np.abs(ds["grad"].values)
    sqrt_vhat = LR / ds["eff_lr"].values - EPS
    vhat = sqrt_vhat ** 2
    lam_hat = ds["precond_curvature"].values
    crossing = _common.first_crossing(lam_hat, 2.0 / LR)
    found = _common.spike_onset(log10_loss, window=20, decades=4.0)
    onset = found[0] if found else None
    recovery = None
    if onset is not None:
        # the loss begins to decrease again: the peak of the first spike
        stop = min(len(step), onset + 400)
        recovery = onset + int(np.argmax(log10_loss[onset:stop]))
    t_end = crossing if crossing is not None else len(step) - 1
    if onset is not None:
        t_end = min(t_end, onset)
    t_start = max(1, int(0.3 * t_end))
    alpha, amp = _common.fit_log_slope(step[t_start:t_end], vhat[t_start:t_end])
    rise = float(log10_loss[recovery] - log10_loss[onset]) if onset is not None else 0.0
    return dict(beta2=beta2, step=step, log10_loss=log10_loss, grad=grad, vhat=vhat, lam_hat=lam_hat,
                crossing=crossing, onset=onset, recovery=recovery, fit=(t_start, t_end, alpha, amp),
                alpha=alpha, spike_decades=rise)


def compute(quick: bool = False) -> dict:
    steps = 1400 if quick else 2000
    runs = [_run(b2, steps) for b2 in BETA2S]
    numbers = {}
    for r in runs:
        key = f"beta2={r['beta2']:g}"
        numbers[key] = dict(alpha=r["alpha"], crossing=r["crossing"], onset=r["onset"],
                            spike_decades=r["spike_decades"])
    return dict(runs=runs, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THRESHOLD, new_figure, save

    fig, axes = new_figure(
        f"Adam-preconditioners paper, Fig. 3: Adam on $\\theta^2/2$, $\\beta_1$={BETA1}, "
        f"$\\eta$={LR}, $\\beta_2$ = 0.99 (a, b) vs 0.9 (c, d)", ncols=4, width=14.0, height=3.4)
    for i, r in enumerate(data["runs"]):
        ax_l, ax_v = axes[2 * i], axes[2 * i + 1]
        t = r["step"]
        ax_l.plot(t, r["log10_loss"], color="C0", label="$\\log_{10}$ loss")
        ax_l.plot(t, np.log10(np.maximum(r["grad"], 1e-300)), color="C2", lw=0.9,
                  label="$\\log_{10}|g_t|$")
        ax_l.set_xlabel("step $t$")
        ax_l.set_ylabel("$\\log_{10}$ value")
        ax_l.set_title(f"({'ac'[i]}) $\\beta_2$={r['beta2']:g}: loss and gradient norm")
        ax_v.semilogy(t, r["vhat"], color="C3", label="$\\hat v_t$")
        t0, t1, alpha, amp = r["fit"]
        tf = t[t0:t1 + 1]
        ax_v.semilogy(tf, amp * alpha ** tf, color="green", ls="--", lw=1.4,
                      label=f"fit $A\\alpha^t$, $\\alpha$={alpha:.4f}")
        ax_v.set_xlabel("step $t$")
        ax_v.set_ylabel("$\\hat v_t$")
        ax_h = ax_v.twinx()
        ax_h.semilogy(t, r["lam_hat"], color="C4", lw=0.9, label="$\\lambda_{\\max}(\\hat H_t)$")
        ax_h.axhline(2 / LR, **THRESHOLD, label="$2/\\eta$")
        ax_h.set_ylabel("$\\lambda_{\\max}(\\hat H_t)$")
        ax_v.set_title(f"({'bd'[i]}) $\\hat v_t$ and preconditioned sharpness")
        for ax in (ax_l, ax_v):
            if r["onset"] is not None:
                ax.axvline(t[r["onset"]], color="red", ls=":", lw=1)
            if r["recovery"] is not None:
                ax.axvline(t[r["recovery"]], color="blue", ls=":", lw=1)
        # show the run up to well past the crossing / spike (beta2 = 0.9 acts within ~200 steps)
        ref = max(x for x in (r["crossing"], r["recovery"], 100) if x is not None)
        for ax in (ax_l, ax_v):
            ax.set_xlim(0, min(t[-1], int(2.5 * ref)))
        ax_l.legend(loc="lower left")
        lines = ax_v.get_legend_handles_labels()
        lines2 = ax_h.get_legend_handles_labels()
        ax_v.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
