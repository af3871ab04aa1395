"""One cell of the phase scan as one scalar function: the device code of the CUDA backend.

:func:`scan_cell` runs one cell (one optimizer run on ``c x^k/k``) for ``steps`` updates with
scalar locals and returns its nine outputs (:data:`dynsys.scan.lanes.OUTPUTS`, in that order).
It is the per-cell body of :func:`dynsys.scan.lanes.scan_cells_reference`, built from the same
shared inline functions (:func:`~dynsys.scan.lanes.arithmetic._stats`, the updates,
:func:`~dynsys.scan.lanes.arithmetic._failure`, :func:`~dynsys.scan.lanes.span_ends._mid_window`,
:func:`~dynsys.scan.lanes.span_ends._block_end`), so the arithmetic has one definition. Being a plain
``@numba.njit`` function of scalars, it runs

* on the CPU (compiled by numba, also what numba's CUDA simulator calls from a simulated thread),
* on a GPU, where numba-cuda compiles an ``@njit`` function called from a ``@cuda.jit`` kernel
  for the CUDA target (a device function): one thread per cell
  (:mod:`dynsys.scan.cuda_backend`).

Its outputs are bit for bit those of the reference (tested for every status code).
"""
from __future__ import annotations

import math

from numba import njit

from dynsys.kernels.status import OK, SCAN_RANGE, ZERO_BY_ZERO
from dynsys.scan.lanes.arithmetic import (BLOCK, SPAN, _SE_INF, _SE_ZERO, _factors, _failure, _frexp, _log2_scaled,
                                          _renorm, _stats, _update_adaptive, _update_adaptive_bc, _update_plain)
from dynsys.scan.lanes.span_ends import _block_end, _mid_window

__all__ = ["scan_cell", "finish_values"]


@njit(inline="always", error_model="numpy")
def finish_values(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se):
    """Statistics of the final iterate ``x_steps`` (of a cell still running), then the cell's
    nine outputs as a tuple (the values :func:`dynsys.scan.lanes.span_ends._finish` stores)."""
    if st == OK:
        a = abs(X)
        if a < RMIN:
            fm, fe = _frexp(a)
            gm = fm
            ge = fe + ex
            MSTEP = float(steps)
        if PEAK > 0.0 and a * up < max(PEAK, a):
            NSPK += 1.0
        final = _log2_scaled(a, ex) if a != 0.0 else -math.inf
    elif st == ZERO_BY_ZERO:
        final = -math.inf
    elif st == SCAN_RANGE:  # not followed to the end
        final = math.nan
    else:
        final = math.inf
    mn = math.log2(gm) + ge if gm != 0.0 else -math.inf
    if se == _SE_INF:
        sus = math.inf
    elif se == _SE_ZERO:
        sus = -math.inf
    else:
        sus = math.log2(sm) + se
    return mn, int(MSTEP), final, sus, int(NSPK), csum, cn, st, (int(FSTEP) if st != OK else -1)


@njit(error_model="numpy", cache=True)
def scan_cell(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up, coupling_start):
    """One cell of :func:`dynsys.scan.lanes.scan_cells_reference` (scalars in, the nine outputs out)."""
    X, M, V, ex, ev, _ = _renorm(k, x0, 0.0, 0.0, 0, 0)
    ev = 2 * (k - 1) * ex
    P1 = 1.0
    P2 = 1.0
    e = lr
    RMIN = abs(X)
    MSTEP = 0.0
    PEAK = 0.0
    NSPK = 0.0
    BMAX = 0.0
    FSTEP = -1.0
    ZF = 0.0
    GL = 0.0
    B1 = b1
    OB1 = 1.0 - b1
    B2 = b2
    CV, SFX, FEPS = _factors(k, adaptive, b2, eps, ex, ev)
    WD = wd
    LRD = lrd
    gm, ge = _frexp(abs(x0))
    st = OK
    csum = 0.0
    cn = 0
    sm = 1.0
    se = _SE_INF
    smx = math.inf
    BMIN = math.inf
    t0 = 0
    while t0 < steps:
        t1 = min(t0 + SPAN, steps)
        for t in range(t0, t1):
            tf = float(t)
            G = X
            for _ in range(k - 2):
                G = G * X
            G = G * curv
            RMIN, MSTEP, PEAK, NSPK, BMAX = _stats(tf, X, RMIN, MSTEP, PEAK, NSPK, BMAX, up)
            if adaptive and bias_correction:
                xn, M, V, den, P1, P2 = _update_adaptive_bc(X, G, M, V, e, B1, OB1, B2, CV, FEPS, WD, SFX, P1, P2)
            elif adaptive:
                xn, M, V, den = _update_adaptive(X, G, M, V, e, B1, OB1, B2, CV, FEPS, WD, SFX)
            else:
                xn, M = _update_plain(X, G, M, e, B1, OB1, WD, SFX)
                den = 1.0
            ZF, FSTEP = _failure(tf, xn, den, M, ZF, FSTEP)
            GL = G
            X = xn
            e = e * LRD
            if (t + 1 - t0) % BLOCK == 0 and t + 1 < t1:  # a window ends inside the span
                BMIN, csum, cn = _mid_window(k, adaptive, t + 1, coupling_start, M, V, GL, BMAX, BMIN, FSTEP,
                                             ex, ev, csum, cn)
                BMAX = 0.0
        (X, M, V, cv, sfx, feps, RMIN, PEAK, BMAX, BMIN, FSTEP, ex, ev, gm, ge, st, csum, cn, sm,
         se, smx) = _block_end(k, adaptive, t0, t1, coupling_start, B2, eps, X, M, V, GL, RMIN, MSTEP, PEAK,
                               BMAX, BMIN, FSTEP, ZF, ex, ev, gm, ge, st, csum, cn, sm, se, smx)
        if st != OK:
            break
        CV = cv
        SFX = sfx
        FEPS = feps
        t0 = t1
    return finish_values(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se)
