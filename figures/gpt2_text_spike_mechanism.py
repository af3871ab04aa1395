"""New Fig. (not in the papers): the loss-spikes-in-Adam mechanism on a transformers GPT-2.

A new figure, reproducing the mechanism of "Adaptive preconditioners trigger loss spikes in
Adam" (Sec. 4.4, Figs. 3-5 and 7) on the ``gpt2-text`` experiment: a Hugging Face
``GPT2LMHeadModel`` (1,049,184 parameters, random init) trained as a byte-level language model
on the CPython help text with stock ``torch.optim.AdamW`` (lr 3e-3 after a 20-step warm-up,
betas (0.9, 0.95), eps 1e-8, weight decay 0.1, gradient clipping at 1), full batch.

(a) training loss (log scale); red dotted: detected spike onsets (``dynsys.nn.spikes``);
    black dashed: the onset the v-decay theory forecasts from the last phase-2 record
    before each spike (``dynsys.nn.onset``, math.md A3-A5).
(b) lambda_max(Hhat) (Eq. 7) against the AdamW threshold 2/eta - wd (red dotted) and
    lambda_max(H) against GD's 2/eta: Adam's curvature climbs through its threshold at each
    spike while the Hessian's own lambda_max is orders of magnitude below 2/eta.
(c) ||sqrt(vhat)||_2 (all parameters) with the theory's free decay beta2^(t/2) from the
    first phase-2 record of each stretch (black dashed): once the batch is learnt, v decays
    at beta2 (Sec. 4.4 phase 2), which is what drives lambda_max(Hhat) up.

Quick mode: the tiny GPT-2 (8k parameters), a batch of 2 windows, lr 1e-2, 240 steps.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "gpt2_text_spike_mechanism"


def compute(quick: bool = False) -> dict:
    import torch

    from dynsys.nn.experiments import run_experiment
    from dynsys.nn.onset import predict_onsets

    torch.set_num_threads(1)
    settings = dict(model_size="tiny", n=2, lr=1e-2, steps=240, every=5) if quick else dict(steps=400, every=10)
    ds, exp = run_experiment("gpt2-text", predictors=["lambda_max_H", "lambda_max_Hhat"], **settings)
    ds.attrs["spike_rise"] = float(exp.defaults["rise"])
    spikes, preds = predict_onsets(ds)
    step = ds["step"].values
    sqrt_vhat = np.sqrt(np.nansum(ds["sqrt_vhat_norm"].values ** 2, axis=1))
    beta2, lr, wd = float(ds.attrs["beta2"]), float(ds.attrs["lr"]), float(ds.attrs["weight_decay"])
    # measured decay rate of ||sqrt(vhat)||^2 per step over each phase-2 stretch (anchor -> last anchor)
    rates = []
    for p in preds:
        if p.anchor >= 0 and p.last_anchor > p.anchor:
            i, j = int(np.nonzero(step == p.anchor)[0][0]), int(np.nonzero(step == p.last_anchor)[0][0])
            rates.append(float((sqrt_vhat[j] / sqrt_vhat[i]) ** (2.0 / (step[j] - step[i]))))
    numbers = {"n_parameters": int(exp.attrs["n_parameters"]), "beta2": beta2, "lr": lr,
               "onsets": [s.onset for s in spikes], "factors": [float(s.factor) for s in spikes],
               "forecast_last": [p.last_predicted for p in preds], "forecast_first": [p.predicted for p in preds],
               "anchors": [p.anchor for p in preds], "v_decay_rates": rates,
               "lambda_max_H_max_before_first_onset": float(np.nanmax(ds["lambda_max_H"].values[
                   step < spikes[0].onset])) if spikes else float("nan")}
    return dict(step=step, train_step=ds["train_step"].values, train_loss=ds["train_loss"].values,
                lam_hat=ds["lambda_max_Hhat"].values, lam_h=ds["lambda_max_H"].values,
                threshold=ds["threshold"].values, sqrt_vhat=sqrt_vhat, beta2=beta2, lr=lr, wd=wd,
                spikes=spikes, preds=preds, quick=quick, numbers=numbers)


@_styled
def plot(data: dict, outdir):
    from pathlib import Path

    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    step, preds, spikes = data["step"], data["preds"], data["spikes"]
    fig, axes = plt.subplots(3, 1, figsize=(8.5, 9.5), sharex=True)
    ax = axes[0]
    ax.semilogy(data["train_step"], data["train_loss"], color="C0", lw=1.0, label="training loss")
    for k, s in enumerate(spikes):
        ax.axvline(s.onset, color="red", ls=":", lw=1.2, label="detected onset" if k == 0 else None)
    for k, p in enumerate(preds):
        if p.last_predicted is not None:
            ax.axvline(p.last_predicted, color="k", ls="--", lw=1.0,
                       label="theory forecast (last phase-2 record)" if k == 0 else None)
    ax.set_ylabel("loss (next-byte CE)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("New figure: Adam-spike mechanism (loss-spikes-in-Adam Sec. 4.4) on a transformers GPT-2"
                 + (" [quick]" if data["quick"] else ""), fontsize=10)
    ax = axes[1]
    ax.semilogy(step, data["lam_hat"], color="C1", marker=".", ms=3, lw=1.0, label=r"$\lambda_{max}(\hat H)$ (Eq. 7)")
    ax.semilogy(step, data["threshold"], color="red", ls=":", lw=1.2, label=r"$2/\eta - wd$ (AdamW)")
    ax.semilogy(step, data["lam_h"], color="C2", marker=".", ms=3, lw=1.0, label=r"$\lambda_{max}(H)$")
    ax.axhline(2 / data["lr"], color="C2", ls=":", lw=1.0, label=r"$2/\eta$ (GD)")
    for s in spikes:
        ax.axvline(s.onset, color="red", ls=":", lw=1.0)
    ax.set_ylabel("curvature")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    ax = axes[2]
    ax.semilogy(step, data["sqrt_vhat"], color="C4", marker=".", ms=3, lw=1.0, label=r"$\|\sqrt{\hat v}\|_2$")
    for k, p in enumerate(preds):
        if p.anchor >= 0:
            i = int(np.nonzero(step == p.anchor)[0][0])
            t = np.arange(p.anchor, p.detected + 1)
            ax.semilogy(t, data["sqrt_vhat"][i] * data["beta2"] ** ((t - p.anchor) / 2), color="k", ls="--",
                        lw=1.0, label=r"theory $\beta_2^{t/2}$ (free decay, phase 2)" if k == 0 else None)
    for s in spikes:
        ax.axvline(s.onset, color="red", ls=":", lw=1.0)
    ax.set_ylabel(r"$\|\sqrt{\hat v}\|_2$")
    ax.set_xlabel("step")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = outdir / f"{NAME}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def make(outdir, quick: bool = False):
    return plot(compute(quick=quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
