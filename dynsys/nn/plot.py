"""Figures of a monitor record in the layout of Fig. 4-5 of the loss-spikes-in-Adam paper.

Panels: (a) training loss (log scale) and gradient norm, detected spikes shaded
from onset to end; (b) the curvature predictors against the stability threshold
``2/eta`` (dashed); (c) ``||sqrt(vhat)||_2`` of each parameter block (Adam, Fig. 5c /
6d) or, for GD, the gradient norm of each block (Fig. 6c). Everything drawn
comes from the Dataset; no side information is needed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_record"]

_STYLE = {
    "lambda_max_H": dict(color="tab:blue", label=r"$\lambda_{max}(H)$"),
    "lambda_max_Hhat": dict(color="tab:purple", label=r"$\lambda_{max}(\hat H)$"),
    "lambda_grad_H": dict(color="tab:cyan", label=r"$\lambda_{grad}(H)$"),
    "lambda_grad_Hhat": dict(color="tab:gray", label=r"$\lambda_{grad}(\hat H)$"),
    "lambda_update_Hhat": dict(color="tab:green", label=r"$\lambda_{update}(\hat H)$"),
    "lambda_grad_Hhat_sustained": dict(color="tab:orange", label=r"$\lambda_{grad}(\hat H)$ sustained"),
    "critical_sharpness": dict(color="tab:brown", label="critical sharpness"),
}


def plot_record(ds, path=None, *, diagnostics=None, spikes=None, title=None):
    """Draw a monitor record; return the matplotlib Figure (and save it to ``path``).

    Parameters
    ----------
    ds : xarray.Dataset
        A :class:`~dynsys.nn.monitor.Monitor` record or a ``dynsys predict`` file's
        main group (coordinate ``step``, ``loss``, ``threshold``, predictors).
    path : str or Path, optional
        PNG to write.
    diagnostics : xarray.Dataset, optional
        Extra per-step data (``grad_norm``, ``sqrt_vhat_norm``, ``grad_norm_block``,
        ``train_loss``) when they are not in ``ds`` (the ``diagnostics`` group of a
        ``dynsys predict`` file).
    spikes : list of Spike, optional
        Detected on the finest loss record when not given.
    """
    from dynsys.nn.spikes import detect_spikes
    from dynsys.plot.style import THRESHOLD, new_figure, style_context

    if "step" not in ds.coords or "loss" not in ds:
        raise ValueError("ds needs a coordinate 'step' and a variable 'loss'; allowed: a monitor record")
    extra = diagnostics if diagnostics is not None else ds

    def get(name):
        if name in ds:
            return ds[name]
        if diagnostics is not None and name in diagnostics:
            return diagnostics[name]
        return None

    step = ds["step"].values
    train = get("train_loss")
    if spikes is None:
        if train is not None and train.size > 1:
            spikes = detect_spikes(train.values, train["train_step"].values)
        elif step.size > 1:
            spikes = detect_spikes(ds["loss"].values, step)
        else:
            spikes = []
    attrs = dict(ds.attrs)
    name = attrs.get("experiment", "")
    opt = attrs.get("optimizer_name", attrs.get("optimizer", ""))
    lr = attrs.get("lr", "")
    title = title or f"{name} {opt} lr={lr}: loss-spikes-in-Adam Fig. 4-5 layout"
    with style_context():
        fig, axes = new_figure(title, ncols=3, width=13.0, height=3.6)
        ax = axes[0]
        if train is not None:
            ax.semilogy(train["train_step"].values, np.where(train.values > 0, train.values, np.nan),
                        color="tab:red", lw=0.9, label="loss")
        else:
            ax.semilogy(step, ds["loss"].values, color="tab:red", lw=0.9, label="loss")
        gn = get("grad_norm")
        if gn is not None:
            ax2 = ax.twinx()
            ax2.semilogy(gn["step"].values, gn.values, color="tab:blue", lw=0.8, alpha=0.7, label=r"$\|g\|$")
            ax2.set_ylabel("gradient norm", color="tab:blue")
        for s in spikes:
            end = s.end if s.end >= 0 else int(step[-1])
            ax.axvspan(s.onset, end, color="tab:orange", alpha=0.2, lw=0)
            ax.axvline(s.onset, color="tab:red", ls=":", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("(a) loss; spikes shaded (onset dotted)")
        ax.legend(loc="upper right")

        ax = axes[1]
        drew = False
        for key, kw in _STYLE.items():
            v = get(key)
            if v is None:
                continue
            vals = v.values.astype(float)
            ax.plot(v["step"].values, np.where(vals > 0, vals, np.nan), lw=1.0, **kw)
            drew = True
        thr = get("threshold")
        if thr is not None:
            ax.plot(thr["step"].values, thr.values, **{**THRESHOLD, "color": "black", "ls": "--"},
                    label=r"threshold $2/\eta$")
        for s in spikes:
            ax.axvline(s.onset, color="tab:red", ls=":", lw=0.8)
        if drew:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("curvature")
        ax.set_title(r"(b) predictors vs $2/\eta$")
        ax.legend(loc="lower right")

        ax = axes[2]
        blockvar = get("sqrt_vhat_norm")
        label = r"$\|\sqrt{\hat v}\|_2$"
        if blockvar is None or not np.isfinite(blockvar.values).any():
            blockvar, label = get("grad_norm_block"), r"$\|g\|_2$"
        if blockvar is not None:
            for j, b in enumerate(blockvar["block"].values):
                ax.semilogy(blockvar["step"].values, blockvar.values[:, j], lw=1.0, label=str(b))
            ax.legend(loc="upper right", title="block")
        for s in spikes:
            ax.axvline(s.onset, color="tab:red", ls=":", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.set_title(f"(c) {label} per parameter block")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
