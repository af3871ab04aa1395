"""Heatmaps of phase diagrams with the theory's boundaries drawn on top.

Losses are stored as log10 values, so their heatmaps are log colour scales (colour bar in
decades); ``n_spikes`` uses a logarithmic norm, ``regime`` a categorical map. When the axes
are ``beta1`` and ``beta2`` (either way round) of Adam/RMSProp on ``x^k/k`` with ``k >= 4``, the
boundaries of Thm 4.1 / Thm 6.1 of the degenerate-polynomials paper are drawn (math.md D3, D4,
D12): ``b1 = b2^{k/(2(k-2))}`` (Eq. 8, I/II), ``b1 = b2^{(k-1)/(2(k-2))}`` (existence, II/III)
and the period-doubling curve of Eq. 9 where it binds (``b2 < ((k-2)/k)^{2(k-2)}``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_phase", "draw_boundaries", "phase_figure", "parse_zoom", "PANEL_VARS"]

PANEL_VARS = ("min_loss", "final_loss", "coupling_ratio", "regime")

_LABELS = {
    "min_loss": "log10 min loss",
    "final_loss": "log10 final loss",
    "sustained_loss": "log10 sustained loss",
    "coupling_ratio": "log10 coupling ratio v/g^2",
    "n_spikes": "number of spikes",
    "min_step": "step of the min loss",
    "regime": "observed regime",
    "predicted_regime": "predicted regime",
}
_REGIME_COLORS = ["#444444", "#2c7bb6", "#fdae61", "#d7191c"]  # 0 diverged, I, II, III


def parse_zoom(text):
    """``"X0:X1,Y0:Y1"`` -> ``(x0, x1, y0, y1)`` (each range increasing)."""
    if text is None:
        return None
    if isinstance(text, (tuple, list)):
        vals = [float(v) for v in text]
    else:
        try:
            xs, ys = str(text).split(",")
            vals = [float(v) for v in xs.split(":")] + [float(v) for v in ys.split(":")]
        except ValueError:
            raise ValueError(f"zoom = {text!r} is not X0:X1,Y0:Y1; allowed: e.g. 0:0.1,0:0.1") from None
    if len(vals) != 4 or not all(np.isfinite(vals)) or not (vals[0] < vals[1] and vals[2] < vals[3]):
        raise ValueError(f"zoom = {text!r} is not two increasing ranges; allowed: X0:X1,Y0:Y1 with X0 < X1, Y0 < Y1")
    return tuple(vals)


def _theory_k(ds):
    a = ds.attrs
    names = {a.get("x_name"), a.get("y_name")}
    if names != {"beta1", "beta2"} or a.get("objective") != "power":
        return None
    if a.get("optimizer") not in ("adam", "adamw", "rmsprop"):
        return None
    k = a.get("k")
    if k is None or int(k) < 4:
        return None
    return int(k)


def draw_boundaries(ax, k, *, b1_axis="x", b2_range=(1e-6, 1.0), n=600, legend=True):
    """Draw the D4/D12 boundaries for exponent ``k`` on ``ax`` (beta1 on ``b1_axis``)."""
    from dynsys import regimes as R

    b2 = np.linspace(b2_range[0], min(b2_range[1], 1 - 1e-12), n)
    b2 = b2[b2 > 0]
    curves = [
        (R.stability_boundary_beta1(b2, k), dict(color="black", ls="--", lw=1.3),
         f"I/II: b1 = b2^{{{k}/{2 * (k - 2)}}} (Eq. 8)"),
        (R.existence_boundary_beta1(b2, k), dict(color="black", ls=":", lw=1.5),
         f"II/III: b1 = b2^{{{k - 1}/{2 * (k - 2)}}} (existence)"),
    ]
    top = min(R.period_doubling_beta2_max(k), b2[-1])
    pd_b2 = np.linspace(b2[0], top, n) if top > b2[0] else b2[:0]  # the corner, sampled as finely as the rest
    if pd_b2.size:
        curves.append((R.period_doubling_boundary_beta1(pd_b2, k), dict(color="magenta", ls="-", lw=1.3),
                       "period doubling (Eq. 9)"))
        flip = np.asarray(R.period_two_stability_boundary_beta1(pd_b2, k))
        curves.append((np.nan_to_num(flip, nan=-1.0), dict(color="magenta", ls="--", lw=1.1),
                       "period-2 orbit loses stability (claim D19)"))
    for i, (b1, style, label) in enumerate(curves):
        bb2 = pd_b2 if i >= 2 else b2
        keep = b1 > 0
        xs, ys = (b1[keep], bb2[keep]) if b1_axis == "x" else (bb2[keep], b1[keep])
        ax.plot(xs, ys, label=label, **style)
    if legend:
        ax.legend(loc="lower right", fontsize=6)


def plot_phase(ds, var="min_loss", ax=None, *, zoom=None, theory=True, colorbar=True, title=None, vmin=None, vmax=None,
               mark_unsettled=True, mark_bistable=True):
    """Heatmap of ``ds[var]`` over the two swept parameters, theory boundaries on top.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`dynsys.scan.phase_diagram`
    var : str
        A variable of ``ds`` (losses in log10; ``regime``/``predicted_regime`` categorical).
    ax : matplotlib Axes, optional (a new Figure otherwise)
    zoom : "X0:X1,Y0:Y1" or (x0, x1, y0, y1), optional
        Axis limits (e.g. the lower-left corner where Eq. 9 binds).
    theory : bool
        Draw the D4/D12 boundaries when the axes are beta1 x beta2 of Adam/RMSProp on x^k.
    vmin, vmax : float, optional
        Colour range (default: 1st-99th percentile, at most 60 decades for losses).
    mark_unsettled : bool
        On the ``regime`` panel, mark with a black dot the cells whose label is not settled
        (``settled == 0``: the first half of the run gives another regime).
    mark_bistable : bool
        On the ``regime`` and ``predicted_regime`` panels of a scan with ``coupled_cycles=True``,
        mark with a grey cross the predicted-II cells where a stable coupled cycle coexists with the
        unstable fixed point (claim D18: the run may be captured by it and oscillate, III).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
    from matplotlib.figure import Figure

    if var not in ds.data_vars:
        raise ValueError(f"var = {var!r} is not a variable of the Dataset; allowed: {', '.join(ds.data_vars)}")
    zoom = parse_zoom(zoom)
    if ax is None:
        fig = Figure(figsize=(4.2, 3.6), layout="constrained")
        ax = fig.add_subplot()
    xn, yn = ds.attrs.get("x_name", ds[var].dims[1]), ds.attrs.get("y_name", ds[var].dims[0])
    data = ds[var].transpose(yn, xn).values.astype(float)
    xs, ys = ds[xn].values.astype(float), ds[yn].values.astype(float)
    masked = np.ma.masked_invalid(data)
    kw = {}
    if var in ("regime", "predicted_regime"):
        kw = dict(cmap=ListedColormap(_REGIME_COLORS), norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], 4))
        masked = np.ma.masked_less(masked, 0)
    elif var == "n_spikes":
        kw = dict(norm=LogNorm(vmin=1, vmax=max(2.0, float(np.nanmax(data)) if data.size else 2.0)), cmap="magma")
        masked = np.ma.masked_less(masked, 1)
    else:
        kw = dict(cmap="viridis_r" if "loss" in var else "viridis")
        fin = data[np.isfinite(data)]
        if fin.size:
            lo, hi = np.percentile(fin, [1, 99]) if var.endswith("loss") else (fin.min(), fin.max())
            if var.endswith("loss"):
                lo = max(lo, hi - 60.0)  # losses reach 1e-4000: keep 60 decades readable
            kw.update(vmin=lo, vmax=hi if hi > lo else lo + 1)
        if vmin is not None:
            kw["vmin"] = vmin
        if vmax is not None:
            kw["vmax"] = vmax
    mesh = ax.pcolormesh(_edges(xs, ds, xn), _edges(ys, ds, yn), masked, shading="flat", **kw)
    if colorbar:
        cb = ax.figure.colorbar(mesh, ax=ax, shrink=0.9)
        cb.set_label(_LABELS.get(var, var))
        if var in ("regime", "predicted_regime"):
            cb.set_ticks([0, 1, 2, 3])
            cb.set_ticklabels(["0 div.", "I", "II", "III"])
    if mark_unsettled and var == "regime" and "settled" in ds.data_vars:
        uns = ds["settled"].transpose(yn, xn).values == 0
        if uns.any():
            iy, ix = np.nonzero(uns)
            ax.scatter(xs[ix], ys[iy], s=2.0, c="k", marker=".", linewidths=0, label=f"unsettled ({uns.sum()} cells)")
    if (mark_bistable and var in ("regime", "predicted_regime") and "coupled_cycle" in ds.data_vars
            and "predicted_regime" in ds.data_vars):
        bis = ((ds["coupled_cycle"].transpose(yn, xn).values > 0)
               & (ds["predicted_regime"].transpose(yn, xn).values == 2))
        if bis.any():
            iy, ix = np.nonzero(bis)
            ax.scatter(xs[ix], ys[iy], s=6.0, c="0.45", marker="x", linewidths=0.5,
                       label=f"bistable: stable coupled cycle ({bis.sum()} cells)")
    k = _theory_k(ds) if theory else None
    if k is not None:
        b1_axis = "x" if xn == "beta1" else "y"
        b2v = ds["beta2"].values
        draw_boundaries(ax, k, b1_axis=b1_axis, b2_range=(max(1e-9, float(b2v.min()) / 2), 1.0))
    ax.set_xlabel(xn)
    ax.set_ylabel(yn)
    if _is_log(ds, xn):
        ax.set_xscale("log")
    if _is_log(ds, yn):
        ax.set_yscale("log")
    e_x, e_y = _edges(xs, ds, xn), _edges(ys, ds, yn)
    lims = (e_x[0], e_x[-1], e_y[0], e_y[-1])
    if zoom is not None:
        lims = zoom
    ax.set_xlim(lims[0], lims[1])
    ax.set_ylim(lims[2], lims[3])
    if title is None:
        a = ds.attrs
        title = f"{a.get('optimizer', '')} on {a.get('objective', '')} k={a.get('k', '')}: {_LABELS.get(var, var)}"
    ax.set_title(title, fontsize=8)
    return ax


def _is_log(ds, name):
    spec = ds.attrs.get("x" if ds.attrs.get("x_name") == name else "y", "")
    return isinstance(spec, str) and spec.endswith(":log")


def _edges(vals, ds, name):
    """Cell edges of a cell-centred axis (geometric on a log axis)."""
    if vals.size == 1:
        return np.array([vals[0] - 0.5, vals[0] + 0.5])
    if _is_log(ds, name):
        lv = np.log(vals)
        d = np.diff(lv)
        return np.exp(np.concatenate([[lv[0] - d[0] / 2], lv[:-1] + d / 2, [lv[-1] + d[-1] / 2]]))
    d = np.diff(vals)
    return np.concatenate([[vals[0] - d[0] / 2], vals[:-1] + d / 2, [vals[-1] + d[-1] / 2]])


def phase_figure(ds, variables=PANEL_VARS, *, zoom=None, theory=True):
    """A Figure with one heatmap per variable (default: min, final loss, coupling, regime)."""
    from matplotlib.figure import Figure

    variables = [v for v in variables if v in ds.data_vars]
    if not variables:
        raise ValueError(f"variables = {variables!r} has none of the Dataset's variables; allowed: {', '.join(ds.data_vars)}")
    ncols = min(2, len(variables))
    nrows = (len(variables) + ncols - 1) // ncols
    fig = Figure(figsize=(4.4 * ncols, 3.7 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, var in zip(axes, variables):
        plot_phase(ds, var, ax=ax, zoom=zoom, theory=theory)
    for ax in axes[len(variables):]:
        ax.set_visible(False)
    a = ds.attrs
    agree = a.get("agreement")
    fig.suptitle(f"phase diagram: {a.get('optimizer')} on {a.get('objective')} k={a.get('k', '')}, lr={a.get('lr', 'swept')}, "
                 f"steps={a.get('steps')}" + (f"; agreement with theory {agree:.3f}" if agree == agree and agree is not None else ""),
                 fontsize=9)
    return fig
