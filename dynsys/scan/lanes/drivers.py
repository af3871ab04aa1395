"""Drivers of the phase scan: the parallel lane kernel scan_cells, its block runner, the scalar reference.

The scheme (scaled coordinates, lanes, exact shortcuts) is described in :mod:`dynsys.scan.lanes`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dynsys.kernels.status import OK
from dynsys.scan.lanes.arithmetic import (
    BLOCK, LANES, SPAN, _B1, _B2, _BMAX, _BMIN, _CV, _EPS, _ES, _ETA, _EV, _EX, _FEPS, _FSTEP, _GE, _GL, _GM, _HUGE,
    _LRD, _M, _MSTEP, _NI, _NSPK, _NV, _OB1, _P1, _P2, _PEAK, _RMIN, _SE, _SE_INF, _SFX, _SM, _SMX, _ST, _V, _WD, _X,
    _factors, _frexp, _renorm, _steps_fast_variant, _steps_tracked,
)
from dynsys.scan.lanes.cell import careful_kept, rerun_due, run_cell, scan_cell
from dynsys.scan.lanes.span_ends import (
    _finish_lane, _window_end_cheap, _window_end_fast, _window_end_general, _window_mid_lanes, store_outputs,
)


# ----------------------------------------------------------------------------- lane kernel

@njit(cache=True, error_model="numpy", parallel=True)
def scan_cells(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
               coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
               coupling_n, status, fail_step):
    """Run every cell (arrays of length n) for ``steps`` updates; write the statistics.

    ``lr, b1, b2, eps, wd, lrd, x0`` are float64 arrays (one value per cell); ``k`` (int),
    ``curv`` (float), ``adaptive``, ``bias_correction`` (bool) are shared; ``spike_up`` is
    ``spike_factor^{1/k}``. Outputs: :data:`OUTPUTS` (module docstring). Cells are processed in
    blocks of :data:`LANES` in parallel (the last block is padded by repeating its last cell).
    """
    n = lr.shape[0]
    nblocks = (n + LANES - 1) // LANES
    for blk in prange(nblocks):
        _run_block(blk, n, k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
                   coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
                   coupling_n, status, fail_step)


#: the block state a fast window changes (saved at its start, for a rerun with failure tracking)
_NSAVE = 11


@njit(inline="always")
def _save(S, S0):
    L = LANES
    for j in range(L):
        S0[j] = S[_X + j]
        S0[L + j] = S[_M + j]
        S0[2 * L + j] = S[_V + j]
        S0[3 * L + j] = S[_P1 + j]
        S0[4 * L + j] = S[_P2 + j]
        S0[5 * L + j] = S[_RMIN + j]
        S0[6 * L + j] = S[_MSTEP + j]
        S0[7 * L + j] = S[_PEAK + j]
        S0[8 * L + j] = S[_NSPK + j]
        S0[9 * L + j] = S[_BMAX + j]
        S0[10 * L + j] = S[_GL + j]


@njit(inline="always")
def _restore(S, S0):
    L = LANES
    for j in range(L):
        S[_X + j] = S0[j]
        S[_M + j] = S0[L + j]
        S[_V + j] = S0[2 * L + j]
        S[_P1 + j] = S0[3 * L + j]
        S[_P2 + j] = S0[4 * L + j]
        S[_RMIN + j] = S0[5 * L + j]
        S[_MSTEP + j] = S0[6 * L + j]
        S[_PEAK + j] = S0[7 * L + j]
        S[_NSPK + j] = S0[8 * L + j]
        S[_BMAX + j] = S0[9 * L + j]
        S[_GL + j] = S0[10 * L + j]


@njit(cache=True, error_model="numpy")
def _run_block(blk, n, k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
               coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
               coupling_n, status, fail_step):
    L = LANES
    S = np.zeros(_NV * L)
    I = np.zeros(_NI * L, np.int64)
    for j in range(L):
        c = blk * L + j
        c = c if c < n else n - 1
        X, M, V, exj, evj, _ = _renorm(k, x0[c], 0.0, 0.0, 0, 0)
        evj = 2 * (k - 1) * exj
        S[_X + j] = X
        S[_P1 + j] = 1.0
        S[_P2 + j] = 1.0
        S[_ETA + j] = lr[c]
        S[_RMIN + j] = abs(X)
        S[_FSTEP + j] = -1.0
        S[_B1 + j] = b1[c]
        S[_OB1 + j] = 1.0 - b1[c]
        S[_B2 + j] = b2[c]
        cv, sfx, feps = _factors(k, adaptive, b2[c], eps[c], exj, evj)
        S[_CV + j] = cv
        S[_SFX + j] = sfx
        S[_FEPS + j] = feps
        S[_WD + j] = wd[c]
        S[_LRD + j] = lrd[c]
        S[_EPS + j] = eps[c]
        S[_ES + j] = lr[c] * sfx
        fm, fe = _frexp(abs(x0[c]))
        S[_GM + j] = fm
        S[_SM + j] = 1.0
        S[_SMX + j] = math.inf
        S[_BMIN + j] = math.inf
        I[_EX + j] = exj
        I[_EV + j] = evj
        I[_GE + j] = fe
        I[_SE + j] = _SE_INF
        I[_ST + j] = OK
    up = spike_up
    # fast path: adaptive, eta_t = lr (lr_decay = 1) and wd = 0 in every lane of the block
    fast = adaptive
    for j in range(L):
        if S[_LRD + j] != 1.0 or S[_WD + j] != 0.0:
            fast = False
    unit = curv == 1.0
    noeps = True
    for j in range(L):
        if S[_EPS + j] != 0.0:
            noeps = False
    S0 = np.empty(_NSAVE * L)
    t0 = 0
    while t0 < steps:
        t1 = min(t0 + SPAN, steps)
        tw = t0
        while tw < t1:  # the span's windows
            te = min(tw + BLOCK, t1)
            if fast:
                _save(S, S0)
                _steps_fast_variant(S, tw, te, k, curv, up, bias_correction, unit, noeps)
                failed = False
                for j in range(L):
                    if I[_ST + j] == OK and (S[_BMAX + j] >= _HUGE or not (abs(S[_X + j]) < _HUGE)):
                        failed = True
                if failed:  # rare: rerun the window with failure tracking (exact first failing step)
                    _restore(S, S0)
                    _steps_tracked(S, tw, te, k, curv, adaptive, bias_correction, up)
            else:
                _steps_tracked(S, tw, te, k, curv, adaptive, bias_correction, up)
            if te < t1:
                _window_mid_lanes(S, I, k, adaptive, te, coupling_start)
            tw = te
        if not (_window_end_cheap(S, I, k, adaptive, t0, t1, coupling_start)
                or _window_end_fast(S, I, k, adaptive, t0, t1, coupling_start)):
            _window_end_general(S, I, blk, n, k, adaptive, t0, t1, coupling_start, steps, up, min_log2x, min_step,
                                final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status, fail_step)
        t0 = t1
    for j in range(L):
        c = blk * L + j
        if c >= n:
            break
        if I[_ST + j] == OK:
            _finish_lane(S, I, j, c, k, steps, up, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes,
                         coupling_sum, coupling_n, status, fail_step)
        elif rerun_due(adaptive, I[_ST + j]):  # status 8 (or 5, adaptive): run again, units renewed every step
            again = run_cell(True, k, curv, adaptive, bias_correction, lr[c], b1[c], b2[c], eps[c], wd[c], lrd[c],
                             x0[c], steps, up, coupling_start)
            if careful_kept(I[_ST + j], again[7]):
                store_outputs(c, again, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
                              coupling_n, status, fail_step)


# ----------------------------------------------------------------------------- scalar reference

@njit(cache=True, error_model="numpy")
def scan_cells_reference(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
                         coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
                         coupling_n, status, fail_step):
    """Scalar reference of :func:`scan_cells`: one cell at a time with scalar locals,
    :func:`dynsys.scan.lanes.cell.scan_cell` (the same shared arithmetic: :func:`_stats`, the updates,
    :func:`_block_end`, :func:`finish_values`; also the CUDA backend's device code). Exists to prove
    the lane kernel bit-identical (tests, benchmarks)."""
    for c in range(lr.shape[0]):
        store_outputs(c, scan_cell(k, curv, adaptive, bias_correction, lr[c], b1[c], b2[c], eps[c], wd[c], lrd[c],
                                   x0[c], steps, spike_up, coupling_start),
                      min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                      fail_step)
