"""Adam-preconditioners paper, Fig. D2: the spike sits where lambda_max(Hhat) crosses 2/eta, for many hyperparameters.

Reproduces Fig. D2 of "Adaptive preconditioners trigger loss spikes in Adam":
Adam on f(theta) = theta^2/2 (theta_0 = 1, eps = 1e-8, bias correction) under
several (beta1, beta2, eta). Each panel shows the loss (red), the threshold
2/eta (black dashed), lambda_max(H) = 1 (blue), lambda_max(Hhat_t) of Eq. 7
(purple, math.md A3) and the bias-corrected sqrt(vhat_t) (green). The measured
spike onset (lowest loss before the loss rises by 4 decades, grey dotted line)
coincides with the step where lambda_max(Hhat_t) first exceeds 2/eta.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "adam_spikes_figD2_hyperparams"
EPS, X0 = 1e-8, 1.0

#: (beta1, beta2, eta) of the panels
VARIANTS = (
    (0.9, 0.99, 0.05),
    (0.9, 0.99, 0.01),
    (0.9, 0.999, 0.05),
    (0.8, 0.99, 0.05),
    (0.95, 0.995, 0.02),
    (0.5, 0.98, 0.05),
)
QUICK_VARIANTS = VARIANTS[:2]


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    runs = []
    for b1, b2, lr in (QUICK_VARIANTS if quick else VARIANTS):
        # long enough to pass the onset: signGD phase ~x0/lr, then v decays at b2
        steps = int(1.5 * X0 / lr + 60.0 / (1 - b2) + 200)
        ds = trajectory(adam(lr, b1, b2, EPS, bias_correction=True), power(2), [X0], steps)
        log10_loss = ds["log10_loss"].values
        lam_hat = ds["precond_curvature"].values
        sqrt_vhat = lr / ds["eff_lr"].values - EPS
        crossing = _common.first_crossing(lam_hat, 2.0 / lr)
        found = _common.spike_onset(log10_loss, window=20, decades=4.0)
        runs.append(dict(beta1=b1, beta2=b2, lr=lr, step=ds["step"].values, log10_loss=log10_loss,
                         lam_hat=lam_hat, sqrt_vhat=sqrt_vhat, crossing=crossing,
                         onset=found[0] if found else None))
    numbers = dict(onset_minus_crossing=[
        (r["onset"] - r["crossing"]) if (r["onset"] is not None and r["crossing"] is not None) else None
        for r in runs])
    return dict(runs=runs, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, new_figure, save

    runs = data["runs"]
    ncols = min(3, len(runs))
    nrows = int(np.ceil(len(runs) / ncols))
    fig, axes = new_figure("Adam-preconditioners paper, Fig. D2: Adam on $\\theta^2/2$ under different "
                           "hyperparameters; the spike starts where $\\lambda_{\\max}(\\hat H_t)$ crosses "
                           "$2/\\eta$", ncols=ncols, nrows=nrows, width=4.0 * ncols)
    for ax, r in zip(axes, runs):
        t = r["step"]
        ax.plot(t, r["log10_loss"], color="red", lw=1.0, label="$\\log_{10}$ loss")
        ax.axhline(np.log10(2 / r["lr"]), **THEORY, label="$\\log_{10}(2/\\eta)$")
        ax.axhline(0.0, color="blue", lw=1.0, label="$\\log_{10}\\lambda_{\\max}(H)$ = 0")
        ax.plot(t, np.log10(r["lam_hat"]), color="purple", lw=1.0, label="$\\log_{10}\\lambda_{\\max}(\\hat H_t)$")
        ax.plot(t, np.log10(r["sqrt_vhat"]), color="green", lw=1.0, label="$\\log_{10}\\sqrt{\\hat v_t}$")
        if r["onset"] is not None:
            ax.axvline(t[r["onset"]], color="0.4", ls=":", lw=1.2, label="measured spike onset")
        delta = "" if r["onset"] is None or r["crossing"] is None else \
            f", onset $-$ crossing = {r['onset'] - r['crossing']:+d} steps"
        ax.set_title(f"$\\beta_1$={r['beta1']:g}, $\\beta_2$={r['beta2']:g}, $\\eta$={r['lr']:g}{delta}")
        ref = r["onset"] if r["onset"] is not None else r["crossing"]
        if ref is not None:
            ax.set_xlim(0, min(t[-1], int(1.6 * ref) + 50))
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$\\log_{10}$ value")
    axes[0].legend(loc="lower left")
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
