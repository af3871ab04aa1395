"""Helpers shared by the figure scripts (not a figure itself).

Measurement helpers (spike onset, exponential-rate fits) that turn a
trajectory into the numbers a figure compares with theory, and the small
command line every script offers (``python figures/<script>.py [--quick]
[--outdir DIR]``).
"""
from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(make, doc: str | None = None) -> None:
    """Command line of a figure script: ``[--quick] [--outdir DIR]`` (default: figures/)."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="small grids / short runs")
    parser.add_argument("--outdir", default=str(HERE), help="folder for the PNG (default: figures/)")
    args = parser.parse_args()
    for path in make(args.outdir, quick=args.quick):
        print(path)


def log10_envelope(log10_loss: np.ndarray, window: int) -> np.ndarray:
    """Trailing running maximum of ``log10_loss`` over ``window`` steps.

    Oscillating optimizers (momentum, Adam) make the loss dip by decades at every
    sign change of ``x``; the envelope removes those dips so that a spike is a
    rise of the envelope, not of a single sample.
    """
    y = np.asarray(log10_loss, dtype=float)
    out = np.empty_like(y)
    from collections import deque

    dq: deque = deque()
    for i, val in enumerate(y):
        while dq and y[dq[-1]] <= val:
            dq.pop()
        dq.append(i)
        if dq[0] <= i - window:
            dq.popleft()
        out[i] = y[dq[0]]
    return out


def spike_onset(log10_loss, *, window: int = 20, decades: float = 4.0):
    """Locate the first loss spike.

    A spike is a rise of the loss envelope (:func:`log10_envelope`, trailing
    maximum over ``window`` steps) by more than ``decades`` orders of magnitude
    above its running minimum. Returns ``(onset, peak_start)``: ``onset`` is the
    step where the centred envelope (maximum over ``t - window/2 .. t + window/2``)
    is lowest before the rise -- the step "immediately before the loss begins to
    spike", insensitive to the single-step dips of an oscillating loss;
    ``peak_start`` is the first step where the trailing envelope is ``decades``
    above its running minimum. ``None`` when there is no spike.
    """
    y = np.asarray(log10_loss, dtype=float)
    finite = np.isfinite(y)
    if not finite.any():
        return None
    y = np.where(finite, y, np.nanmax(y[finite]))
    env = log10_envelope(y, window)
    running_min = np.minimum.accumulate(env)
    hit = np.nonzero(env > running_min + decades)[0]
    if hit.size == 0:
        return None
    j = int(hit[0])
    half = window // 2
    centred = log10_envelope(y, 2 * half + 1)[np.minimum(np.arange(len(y)) + half, len(y) - 1)]
    onset = int(np.argmin(centred[: j + 1]))
    return onset, j


def fit_log_slope(steps, values):
    """Least-squares slope of ``ln(values)`` against ``steps``: the per-step rate
    ``ln(alpha)`` of ``values ~ A alpha^t``. Returns ``(alpha, A)``."""
    t = np.asarray(steps, dtype=float)
    y = np.log(np.asarray(values, dtype=float))
    ok = np.isfinite(y)
    slope, intercept = np.polyfit(t[ok], y[ok], 1)
    return float(np.exp(slope)), float(np.exp(intercept))


def fit_log10_slope(steps, log10_values):
    """Least-squares slope of ``log10_values`` per step."""
    t = np.asarray(steps, dtype=float)
    y = np.asarray(log10_values, dtype=float)
    ok = np.isfinite(y)
    return float(np.polyfit(t[ok], y[ok], 1)[0])


def first_crossing(values, threshold) -> int | None:
    """First index where ``values > threshold`` (``None`` if never)."""
    idx = np.nonzero(np.asarray(values) > threshold)[0]
    return int(idx[0]) if idx.size else None


# ----------------------------------------------------------------------------- phase-diagram helpers

def theory_spectral_radius(beta1, beta2, k: int) -> np.ndarray:
    """Spectral radius of the Jacobian at Adam's non-trivial fixed point on x^k/k
    (math.md D2, D4), on the grid ``beta2 x beta1`` (rows: beta2). The ``(u, w)``
    block comes from :func:`dynsys.regimes.adam_fixed_point_jacobian`; the ``z``
    direction adds the eigenvalue ``rho^2 = beta2^(1/(k-2)) < 1``. NaN where the
    fixed point does not exist (``u* <= 0``, regime III)."""
    from dynsys.regimes import adam_fixed_point, adam_fixed_point_jacobian

    b1 = np.asarray(beta1, dtype=float)
    b2 = np.asarray(beta2, dtype=float)
    out = np.full((b2.size, b1.size), np.nan)
    for i, y in enumerate(b2):
        for j, x in enumerate(b1):
            _, u, _ = adam_fixed_point(x, y, k)
            if not np.isfinite(u) or u <= 0:
                continue
            ev = np.linalg.eigvals(adam_fixed_point_jacobian(x, y, k))
            out[i, j] = max(float(np.max(np.abs(ev))), y ** (1.0 / (k - 2)))
    return out


#: the issue-13 regime grid: (cells per axis, steps) for the full and the ``--quick`` figures, and its lr
REGIME_GRID = {False: (96, 20_000), True: (32, 3000)}
REGIME_LR = 0.01


@lru_cache(maxsize=None)
def regime_scan(k: int, quick: bool = False, **options):
    """The issue-13 regime scan of Adam on x^k/k: the cell-centred (beta1, beta2) grid on [0, 1]^2 of
    :data:`REGIME_GRID`, lr = :data:`REGIME_LR`, eps = 0, no bias correction, x_0 = 1 (the paper's setting);
    ``options`` go to :func:`dynsys.scan.phase_diagram` (``phase_length``, ``coupled_cycles``). Cached: the
    figures that share a scan (``dynsys figures`` runs them in one process) compute it once; they only read it."""
    from dynsys.scan import phase_diagram

    n, steps = REGIME_GRID[bool(quick)]
    return phase_diagram("adam", "power", k=k, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=REGIME_LR,
                         steps=steps, x0=1.0, eps=0.0, bias_correction=False, progress=False, **options)


def draw_regime_boundaries(ax, k: int, beta2_range=(1e-4, 0.9999), *, n: int = 400, period_doubling=True,
                           labels=True, color="white") -> None:
    """Draw the theory's boundaries on a (beta1 = x, beta2 = y) axes (math.md D3, D4, D12):
    I/II ``beta1 = beta2^(k/(2(k-2)))`` (Eq. 8), II/III ``beta1 = beta2^((k-1)/(2(k-2)))``
    (Thm 4.1 i) and the period-doubling curve of Eq. 9 where it binds."""
    from dynsys.regimes import (existence_boundary_beta1, period_doubling_beta2_max, period_doubling_boundary_beta1,
                                period_two_stability_boundary_beta1, stability_boundary_beta1)

    b2 = np.linspace(*beta2_range, n)
    ax.plot(stability_boundary_beta1(b2, k), b2, color=color, ls="--", lw=1.3,
            label=f"I/II: $\\beta_1=\\beta_2^{{{k}/(2({k}-2))}}$ (Eq. 8)" if labels else None)
    ax.plot(existence_boundary_beta1(b2, k), b2, color=color, ls=":", lw=1.5,
            label=f"II/III: $\\beta_1=\\beta_2^{{({k}-1)/(2({k}-2))}}$" if labels else None)
    if period_doubling:
        top = min(period_doubling_beta2_max(k), beta2_range[1])
        if top > beta2_range[0]:
            b2p = np.linspace(beta2_range[0], top, n)
            b1p = period_doubling_boundary_beta1(b2p, k)
            keep = b1p > 0
            ax.plot(b1p[keep], b2p[keep], color="red", ls="-", lw=1.3,
                    label="period doubling (Eq. 9)" if labels else None)
            flip = np.asarray(period_two_stability_boundary_beta1(b2p, k))
            keep = np.isfinite(flip)
            if keep.any():
                ax.plot(flip[keep], b2p[keep], color="red", ls="--", lw=1.1,
                        label="period-2 orbit unstable (D19)" if labels else None)


def heatmap(ax, ds, var: str, *, cmap="viridis", vmin=None, vmax=None, label=None):
    """pcolormesh of ``ds[var]`` over its two coordinates (x = last dim) with a colour bar."""
    da = ds[var]
    ydim, xdim = da.dims
    mesh = ax.pcolormesh(ds[xdim].values, ds[ydim].values, np.ma.masked_invalid(da.values), cmap=cmap,
                         vmin=vmin, vmax=vmax, shading="nearest", rasterized=True)
    ax.figure.colorbar(mesh, ax=ax, label=label or var, shrink=0.9)
    ax.set_xlabel(AXIS_LABELS.get(xdim, xdim))
    ax.set_ylabel(AXIS_LABELS.get(ydim, ydim))
    return mesh


AXIS_LABELS = {"beta1": "$\\beta_1$", "beta2": "$\\beta_2$", "lr": "learning rate $\\eta$", "k": "$k$"}
