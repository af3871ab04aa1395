"""Adam-preconditioners paper, Fig. D3 (and D4a): GD with a growing learning rate, 1-D vs 2-D quadratic: the spike is delayed in 2-D.

Reproduces Figs. D3-D4 of "Adaptive preconditioners trigger loss spikes in Adam":
gradient descent with the exponentially growing schedule eta_t = eta_0 gamma^t
(``gd(lr, lr_decay=gamma)``) on

* a 1-D quadratic lambda x^2/2 (lambda = 1): the loss rises at once when
  eta_t crosses 2/lambda_max;
* a 2-D quadratic diag(1, 0.05) from (1, 1): the sharp component was learned
  early and is tiny when eta_t crosses 2/lambda_max, so the loss keeps falling
  (the flat direction still descends) until the sharp component has regrown:
  a delayed spike.

(a) loss against step with the crossing step of 2/lambda_max (dashed) and the
measured onset of the loss increase (dotted); (b) the components |x_i| along
the eigendirections (Fig. D4a) with the per-step growth factor |1 - eta_t lambda_1|
of the sharp one predicted by the linear map (theory, dashed).
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "adam_spikes_figD3_delay"
LR0, GAMMA = 0.3, 1.012
LAMBDAS_2D = (1.0, 0.05)


def _loss_rise_onset(log10_loss: np.ndarray, start: int) -> int | None:
    """First step >= start after which the loss increases (L_{t+1} > L_t)."""
    d = np.diff(log10_loss[start:])
    idx = np.nonzero(d > 0)[0]
    return start + int(idx[0]) if idx.size else None


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import quadratic
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory

    crossing = int(np.ceil(np.log(2.0 / LAMBDAS_2D[0] / LR0) / np.log(GAMMA)))  # eta_t > 2/lambda_max
    steps = crossing + (140 if quick else 180)
    out = {}
    for label, lambdas, x0 in (("1-D", (1.0,), [1.0]), ("2-D", LAMBDAS_2D, [1.0, 1.0])):
        ds = trajectory(gd(LR0, lr_decay=GAMMA), quadratic(np.array(lambdas)), x0, steps)
        log10_loss = ds["log10_loss"].values
        x = np.atleast_2d(ds["x"].values)
        if x.shape[0] != len(ds["step"]):
            x = x.T
        onset = _loss_rise_onset(log10_loss, crossing)
        out[label] = dict(step=ds["step"].values, log10_loss=log10_loss, x=x, onset=onset,
                          delay=(onset - crossing) if onset is not None else None, lambdas=lambdas)
    eta = LR0 * GAMMA ** np.arange(steps + 1)
    numbers = dict(crossing=crossing, delay_1d=out["1-D"]["delay"], delay_2d=out["2-D"]["delay"])
    return dict(runs=out, eta=eta, crossing=crossing, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, new_figure, save

    fig, (ax_a, ax_b, ax_c) = new_figure(
        "Adam-preconditioners paper, Figs. D3-D4: GD with growing $\\eta_t=\\eta_0\\gamma^t$ "
        f"($\\eta_0$={LR0}, $\\gamma$={GAMMA}): the 2-D spike is delayed", ncols=3)
    c = data["crossing"]
    for ax, label in ((ax_a, "1-D"), (ax_b, "2-D")):
        r = data["runs"][label]
        ax.plot(r["step"], r["log10_loss"], color="C0", label="$\\log_{10}$ loss")
        ax.axvline(c, **THEORY, label=f"$\\eta_t = 2/\\lambda_{{\\max}}$ (step {c})")
        if r["onset"] is not None:
            ax.axvline(r["onset"], color="red", ls=":", lw=1.4,
                       label=f"loss starts rising (step {r['onset']}, delay {r['delay']})")
        ax.set_ylim(min(r["log10_loss"]) - 5, 10)
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$\\log_{10}$ loss")
        lam = ", ".join(f"{v:g}" for v in r["lambdas"])
        ax.set_title(f"({'a' if label == '1-D' else 'b'}) {label} quadratic, $\\lambda$ = ({lam})")
        ax.legend(loc="lower left")
    r = data["runs"]["2-D"]
    t = r["step"]
    for i, lam in enumerate(r["lambdas"]):
        ax_c.semilogy(t, np.abs(r["x"][:, i]), color=f"C{i + 1}", label=f"$|x_{i + 1}|$ ($\\lambda$={lam:g})")
    # theory: linear map x1_{t+1} = (1 - eta_t lambda_1) x1_t, from the crossing on
    eta = data["eta"]
    x1c = abs(r["x"][c, 0])
    growth = np.cumprod(np.abs(1 - eta[c:len(t) - 1] * r["lambdas"][0]))
    ax_c.semilogy(t[c + 1:], x1c * growth, **THEORY, label="$\\prod|1-\\eta_t\\lambda_1|$ from the crossing")
    ax_c.axvline(c, color="0.5", ls="--", lw=0.8)
    ax_c.set_ylim(None, 1e5)
    ax_c.set_xlabel("step $t$")
    ax_c.set_ylabel("component along eigendirection")
    ax_c.set_title("(c) 2-D components (Fig. D4a)")
    ax_c.legend(loc="lower left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
