"""Figure of one trajectory Dataset (from :func:`dynsys.simulate.trajectory`).

Three panels, every setting read from the Dataset's attrs:

1. ``log10 |loss|`` against step (exact also below 1e-308);
2. the effective learning rate ``eta_t/(sqrt(vhat)+eps)`` (log scale); on objectives of
   constant curvature ``S`` (quadratics, ``x^2/2``) with the threshold
   ``2 (1+b1)/(1-b1) / S`` (math.md A4; ``b1 = 0`` gives GD's ``2/S`` of E1);
3. the preconditioned curvature ``lambda_max(Hhat)`` of Eq. 7 (math.md A3) and, for
   ``d > 1``, the gradient-directional curvature ``g^T H g/|g|^2`` (Eq. 8), with the
   stability threshold ``2/eta_t`` (A2/A3/E1).
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_trajectory"]


def _constant_curvature(attrs):
    """``lambda_max`` of the Hessian when it does not depend on x, else None."""
    if attrs.get("objective") == "power" and int(attrs.get("k", 0)) == 2:
        return 1.0
    if attrs.get("objective") == "quadratic":
        shape = tuple(int(s) for s in np.atleast_1d(attrs["A_shape"]))
        A = np.asarray(attrs["A"], dtype=float).reshape(shape)
        return float(np.linalg.eigvalsh(A)[-1])
    return None


def plot_trajectory(ds, path=None, *, title=None):
    """Draw ``ds`` in three labelled panels; write it to ``path`` (PNG/PDF/SVG) if given.

    Parameters
    ----------
    ds : xarray.Dataset
        A trajectory Dataset (variables ``log10_loss``, ``eff_lr``, ``precond_curvature``, ...).
    path : str or Path, optional
        Output file; its extension picks the format.
    title : str, optional
        Figure title (default: optimizer, objective and hyperparameters).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import xarray as xr

    from dynsys.plot.style import THEORY, THRESHOLD, new_figure

    if not isinstance(ds, xr.Dataset) or "log10_loss" not in ds or "precond_curvature" not in ds:
        raise ValueError(f"ds = {type(ds).__name__} is not a trajectory Dataset; allowed: the result of dynsys.simulate.trajectory")
    a = ds.attrs
    step = ds.step.values
    lr, gamma, b1 = float(a["lr"]), float(a.get("lr_decay", 1.0)), float(a.get("beta1", 0.0))
    eta_t = lr * gamma ** step.astype(float)
    if title is None:
        hyper = f"lr={lr:g}"
        if a["optimizer"] in ("momentum", "adam", "adamw"):
            hyper += f", b1={b1:g}"
        if a["optimizer"] in ("rmsprop", "adam", "adamw"):
            hyper += f", b2={float(a['beta2']):g}, eps={float(a['eps']):g}"
        if a["optimizer"] == "adamw":
            hyper += f", wd={float(a['weight_decay']):g}"
        obj = a["objective"] + (f" (k={int(a['k'])})" if a["objective"] == "power" else "")
        title = f"{a['optimizer']} on {obj}: {hyper}"
    fig, (ax_loss, ax_lr, ax_curv) = new_figure(title, ncols=3, width=11.0, height=3.4)

    ax_loss.plot(step, ds.log10_loss.values, color="tab:blue", label="measured")
    ax_loss.set_xlabel("step t")
    ax_loss.set_ylabel("log10 |loss|")
    ax_loss.set_title("loss (log scale)")

    with np.errstate(divide="ignore", invalid="ignore"):
        ax_lr.plot(step, ds.log10_eff_lr.values, color="tab:green", label="eff. lr  eta_t/(sqrt(vhat)+eps)")
        S = _constant_curvature(a)
        if S is not None and S > 0:
            thr = 2 * (1 + b1) / (1 - b1) / S
            ax_lr.axhline(np.log10(thr), **THRESHOLD, label=f"2(1+b1)/(1-b1)/S = {thr:.3g}")
    ax_lr.set_xlabel("step t")
    ax_lr.set_ylabel("log10 effective learning rate")
    ax_lr.set_title("effective learning rate")
    ax_lr.legend(loc="best")

    prec = ds.precond_curvature.values
    ax_curv.plot(step, prec, color="tab:purple", label="lambda_max(Hhat), Eq. 7")
    if int(a.get("dim", 1)) > 1:
        ax_curv.plot(step, ds.directional_curvature.values, color="tab:orange", lw=0.8,
                     label="g^T H g / |g|^2 (Eq. 8)")
    ax_curv.plot(step, 2 / eta_t, **THRESHOLD, label="2/eta_t (stability threshold)")
    finite = prec[np.isfinite(prec)]
    if finite.size and np.all(finite > 0):
        ax_curv.set_yscale("log")
    ax_curv.set_xlabel("step t")
    ax_curv.set_ylabel("preconditioned curvature")
    ax_curv.set_title("curvature vs threshold")
    ax_curv.legend(loc="best")

    if int(a.get("diverged", 0)):
        for ax in (ax_loss, ax_lr, ax_curv):
            ax.axvline(int(a["diverged_step"]), **THEORY)
        ax_loss.text(0.02, 0.02, f"diverged at step {int(a['diverged_step'])}: {a['reason']}",
                     transform=ax_loss.transAxes, fontsize=6, va="bottom")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
