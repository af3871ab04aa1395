"""Orbit (bifurcation) diagrams with the theory's fixed-point branch and its loss of stability.

For the effective-sharpness map ``s -> gamma s (1-s)^{k-2}`` (Prop. 5.6 of the
degenerate-polynomials paper, math.md D10) the non-trivial fixed point
``s* = 1 - gamma^{-1/(k-2)}`` is drawn (solid while stable, dashed after), with a vertical line
at ``gamma* = (k/(k-2))^{k-2}`` where it period-doubles and the line ``s = 2`` that ends
convergence; the lower panel shows the Lyapunov exponent with its fixed-point value
``ln |1 - (k-2) s*/(1-s*)|``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_orbit", "orbit_figure"]


def plot_orbit(ds, ax=None, *, density=None, theory=True, marker_size=0.3):
    """Scatter (or density image) of the attractor against the swept parameter.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`dynsys.scan.orbit_diagram`
    density : bool, optional
        Draw the ``density`` histogram (log colour scale) instead of the points; default:
        when the Dataset has one.
    theory : bool
        Fixed-point branch and ``gamma*`` for the sharpness map.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(5, 3.4), layout="constrained")
        ax = fig.add_subplot()
    param = ds.attrs["param"]
    vals = ds[param].values
    if density is None:
        density = "density" in ds
    if density:
        if "density" not in ds:
            raise ValueError("density = True but the Dataset has no density; allowed: orbit_diagram(..., histogram_bins=B)")
        d = ds["density"].transpose(param, "bin").values.T
        d = np.ma.masked_less_equal(d, 0)
        bins = ds["bin"].values
        ax.pcolormesh(_edges(vals), _edges(bins), d, shading="flat", cmap="Greys",
                      norm=LogNorm(vmin=max(float(d.min()) if d.count() else 1e-6, 1e-6), vmax=1.0))
    else:
        orb = ds["orbit"].values
        xs = np.repeat(vals, orb.shape[1])
        ys = orb.ravel()
        ok = np.isfinite(ys)
        ax.plot(xs[ok], ys[ok], ",", color="black", alpha=0.6, markersize=marker_size, rasterized=True)
    esc = ds["escaped"].values
    if esc.any():
        ax.plot(vals[esc], np.full(esc.sum(), ax.get_ylim()[1] if not density else ds["bin"].values[-1]), "|",
                color="tab:red", markersize=4, label="escaped")
    if theory and ds.attrs.get("system") == "sharpness" and param == "gamma":
        from dynsys.regimes import sharpness_critical_gamma, sharpness_fixed_point

        k = int(ds.attrs.get("fixed_k", 4))
        gstar = sharpness_critical_gamma(k)
        g = vals[vals > 1]
        if g.size:
            s = sharpness_fixed_point(g, k)
            ax.plot(g[g <= gstar], s[g <= gstar], color="tab:blue", lw=1.2, label="fixed point s* (stable)")
            ax.plot(g[g > gstar], s[g > gstar], color="tab:blue", lw=1.0, ls="--", label="s* (unstable)")
        ax.axvline(gstar, color="tab:red", ls=":", lw=1.3, label=f"gamma* = (k/(k-2))^(k-2) = {gstar:.3g}")
        ax.axhline(2.0, color="tab:gray", ls="--", lw=0.8)
    ax.set_xlabel(param)
    ax.set_ylabel(ds["orbit"].attrs.get("observable", "state"))
    ax.set_xlim(vals.min(), vals.max())
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=6)
    return ax


def _edges(v):
    v = np.asarray(v, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    d = np.diff(v)
    return np.concatenate([[v[0] - d[0] / 2], v[:-1] + d / 2, [v[-1] + d[-1] / 2]])


def orbit_figure(ds, *, density=None, theory=True):
    """Two panels: the orbit diagram and the Lyapunov exponent (with the fixed-point theory)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.2), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    plot_orbit(ds, ax1, density=density, theory=theory)
    param = ds.attrs["param"]
    vals = ds[param].values
    ax2.plot(vals, ds["lyapunov"].values, color="black", lw=0.8, label="measured (Jacobian)")
    if theory and ds.attrs.get("system") == "sharpness" and param == "gamma":
        from dynsys.regimes import sharpness_critical_gamma, sharpness_multiplier

        k = int(ds.attrs.get("fixed_k", 4))
        g = vals[(vals > 1) & (vals <= sharpness_critical_gamma(k))]
        if g.size:
            with np.errstate(divide="ignore"):
                ax2.plot(g, np.log(np.abs(sharpness_multiplier(g, k))), color="tab:blue", ls="--", lw=1.0,
                         label="ln|f'(s*)|")
        ax2.axvline(sharpness_critical_gamma(k), color="tab:red", ls=":", lw=1.3)
    ax2.axhline(0.0, color="tab:gray", lw=0.6)
    ax2.set_ylabel("Lyapunov exponent")
    ax2.set_xlabel(param)
    fin = ds["lyapunov"].values[np.isfinite(ds["lyapunov"].values)]
    if fin.size:
        ax2.set_ylim(max(float(fin.min()), -5.0) - 0.2, float(fin.max()) + 0.2)
    ax2.legend(loc="lower left", fontsize=6)
    a = ds.attrs
    fixed = ", ".join(f"{k_[6:]}={v}" for k_, v in a.items() if k_.startswith("fixed_"))
    fig.suptitle(f"orbit diagram of {a.get('system')} over {param} ({fixed}; discard {a.get('discard')}, keep {a.get('keep')})",
                 fontsize=9)
    return fig
