"""Adam-preconditioners paper, Fig. 2: Adam vs GD on theta^2/2 across learning rates.

Reproduces Fig. 2 of "Adaptive preconditioners trigger loss spikes in Adam"
(``adam-preconditioners-trigger-loss-spikes.txt``):

(a) loss of Adam (beta1 = 0.9, beta2 = 0.99, eps = 1e-8, bias correction) for
    several learning rates eta << 2, beside GD, which converges for eta < 2;
(b) sqrt(vhat) at the spike onset against eta on log-log axes: a power law of
    slope 1, drawn with the theory line sqrt(vhat) = eta (1-b1) / (2 (1+b1));
(c) the effective rate eta / sqrt(vhat) against step, rising to the same
    threshold 2 (1+b1)/(1-b1) = 38 for every eta (Lemma 1, math.md A2/A4),
    where the spike starts.

The spike onset is measured from the loss alone (:func:`_common.spike_onset`:
the lowest loss before the loss envelope rises by 4 decades).
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "adam_spikes_fig02_lr_sweep"
BETA1, BETA2, EPS = 0.9, 0.99, 1e-8
X0 = 1.0


def compute(quick: bool = False) -> dict:
    """Run Adam at several learning rates (and GD) on theta^2/2; measure the spikes."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam, gd
    from dynsys.simulate import trajectory

    lrs = [1e-2, 5e-2] if quick else [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2]
    objective = power(2)
    threshold = 2 * (1 + BETA1) / (1 - BETA1)
    runs = []
    for lr in lrs:
        steps = int(2.0 * X0 / lr) + (1500 if quick else 2500)
        ds = trajectory(adam(lr, BETA1, BETA2, EPS, bias_correction=True), objective, [X0], steps)
        log10_loss = ds["log10_loss"].values
        sqrt_vhat = lr / ds["eff_lr"].values - EPS
        found = _common.spike_onset(log10_loss, window=20, decades=4.0)
        onset = found[0] if found else None
        runs.append(dict(
            lr=lr, step=ds["step"].values, log10_loss=log10_loss, ratio=lr / sqrt_vhat,
            onset=onset,
            sqrt_vhat_onset=float(sqrt_vhat[onset]) if onset is not None else np.nan,
            ratio_onset=float(lr / sqrt_vhat[onset]) if onset is not None else np.nan,
        ))
    gd_runs = []
    for lr in ([0.5, 1.5] if quick else [0.5, 1.0, 1.5, 1.9]):
        ds = trajectory(gd(lr), objective, [X0], 60)
        gd_runs.append(dict(lr=lr, step=ds["step"].values, log10_loss=ds["log10_loss"].values))

    etas = np.array([r["lr"] for r in runs])
    sv = np.array([r["sqrt_vhat_onset"] for r in runs])
    ok = np.isfinite(sv)
    slope = float(np.polyfit(np.log(etas[ok]), np.log(sv[ok]), 1)[0]) if ok.sum() >= 2 else np.nan
    numbers = dict(
        threshold=threshold,
        ratio_onset=[r["ratio_onset"] for r in runs],
        median_ratio_onset=float(np.nanmedian([r["ratio_onset"] for r in runs])),
        loglog_slope=slope,
        predicted_slope=1.0,
        n_spikes=int(ok.sum()),
        n_runs=len(runs),
    )
    return dict(runs=runs, gd_runs=gd_runs, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, THRESHOLD, new_figure, save

    runs, num = data["runs"], data["numbers"]
    fig, (ax_a, ax_b, ax_c) = new_figure(
        "Adam-preconditioners paper, Fig. 2: Adam vs GD on $f(\\theta)=\\theta^2/2$ "
        f"($\\beta_1$={BETA1}, $\\beta_2$={BETA2}, $\\varepsilon$={EPS:g})", ncols=3)
    colors = [f"C{i}" for i in range(len(runs))]
    for r, c in zip(runs, colors):
        ax_a.plot(r["step"], r["log10_loss"], color=c, lw=0.9, label=f"Adam $\\eta$={r['lr']:g}")
        if r["onset"] is not None:
            ax_a.plot(r["step"][r["onset"]], r["log10_loss"][r["onset"]], "v", color=c, ms=4)
    for i, r in enumerate(data["gd_runs"]):
        ax_a.plot(r["step"], r["log10_loss"], color="0.35", ls="--", lw=0.9,
                  alpha=0.5 + 0.5 * i / max(1, len(data["gd_runs"]) - 1),
                  label=f"GD $\\eta$={r['lr']:g}" if i in (0, len(data["gd_runs"]) - 1) else None)
    ax_a.set_xlabel("step $t$")
    ax_a.set_ylabel("$\\log_{10}$ loss")
    ax_a.set_title("(a) loss; ▼ = measured spike onset")
    ax_a.legend(loc="lower left", ncol=2)

    etas = np.array([r["lr"] for r in runs])
    sv = np.array([r["sqrt_vhat_onset"] for r in runs])
    ax_b.loglog(etas, sv, "o", color="C3", label=f"measured, fitted slope {num['loglog_slope']:.3f}")
    grid = np.geomspace(etas.min() / 1.5, etas.max() * 1.5, 20)
    ax_b.loglog(grid, grid / num["threshold"], **THEORY,
                label="theory $\\sqrt{\\hat v}=\\eta(1-\\beta_1)/(2(1+\\beta_1))$ (slope 1)")
    ax_b.set_xlabel("learning rate $\\eta$")
    ax_b.set_ylabel("$\\sqrt{\\hat v_t}$ at spike onset")
    ax_b.set_title("(b) second moment at the spike vs $\\eta$")
    ax_b.legend(loc="upper left")

    for r, c in zip(runs, colors):
        ax_c.semilogy(r["step"], r["ratio"], color=c, lw=0.9, label=f"$\\eta$={r['lr']:g}")
        if r["onset"] is not None:
            ax_c.semilogy(r["step"][r["onset"]], r["ratio_onset"], "v", color=c, ms=4)
    ax_c.axhline(num["threshold"], **THRESHOLD,
                 label=f"threshold $2(1+\\beta_1)/(1-\\beta_1)$ = {num['threshold']:.0f}")
    ax_c.set_xlabel("step $t$")
    ax_c.set_ylabel("effective rate $\\eta/\\sqrt{\\hat v_t}$")
    ax_c.set_title(f"(c) median ratio at onset: {num['median_ratio_onset']:.1f}")
    ax_c.legend(loc="upper left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
