"""Lane arithmetic of the phase scan: constants, lane-state layout, one optimizer step per lane, window loops.

The scheme (scaled coordinates, lanes, exact shortcuts) is described in :mod:`dynsys.scan.lanes`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import literally, njit


#: cells advanced together in the inner loop (vectorized by LLVM)
LANES = 32
#: steps of a window: the sustained level's window and the coupling sampling period
BLOCK = 32
#: steps of a span: the windows between two checks of a cell's units (renormalization, range,
#: failures); inside a span only the window statistics are updated (:func:`_mid_window`)
SPAN = 2 * BLOCK
#: a run whose loss exceeds about 2^MAX_LOG2_LOSS (1e301) is reported as diverged
MAX_LOG2_LOSS = 1000
#: within a window |X| beyond this (relative to the window's scale) is an overflow
_LOG2_HUGE = 500
_HUGE = 2.0 ** _LOG2_HUGE
_TWO_M1022 = 2.0 ** -1022

#: output arrays of the kernels: name -> dtype
OUTPUTS = {
    "min_log2x": np.float64, "min_step": np.int64, "final_log2x": np.float64, "sustained_log2x": np.float64,
    "n_spikes": np.int64, "coupling_sum": np.float64, "coupling_n": np.int64, "status": np.int8,
    "fail_step": np.int64,
}

# offsets of the lane variables in the flat float block state S (compile-time constants)
_NV = 30
(_X, _M, _V, _P1, _P2, _ETA, _RMIN, _MSTEP, _PEAK, _NSPK, _BMAX, _FSTEP, _ZF, _GL, _GP,
 _B1, _OB1, _B2, _CV, _SFX, _FEPS, _WD, _LRD, _ES, _EPS, _GM, _SM, _CSUM, _SMX, _BMIN) = [i * LANES for i in range(_NV)]
# offsets of the integer lane variables in the flat int64 block state I
_NI = 6
(_EX, _EV, _GE, _SE, _CN, _ST) = [i * LANES for i in range(_NI)]
#: lazy renormalization: a cell's units are renewed at a window end only when ``|G| = |X|^{k-1}``
#: has drifted beyond ``2^(+-_RENORM_G)`` (i.e. ``|X|`` beyond ``2^(+-(_RENORM_G // (k-1)))``) or
#: ``V`` beyond ``2^(+-_RENORM_V)`` of them
_RENORM_G = 48
_RENORM_V = 96
#: exponent standing for "+infinity" / "zero" in the exact (mantissa, exponent) sustained level
_SE_INF = 1 << 40
_SE_ZERO = -(1 << 40)


# ----------------------------------------------------------------------------- shared arithmetic

@njit(inline="always")
def _stats(tf, x, r, ms, p, ns, bm, up):
    """Running min (and its step), spike state machine and window max at ``x_t`` (selects only).

    The spike state lives in the peak: ``p > 0`` inside a spike (the peak so far), ``p = 0``
    outside. A spike starts when ``|x| > up r`` (``r`` the running min including ``x_t``; then
    ``|x| > 0``, so the peak is positive) and ends, counted, once ``up |x| < peak``."""
    a = abs(x)
    nm = a < r
    r = a if nm else r
    ms = tf if nm else ms
    bm = a if a > bm else bm
    insb = p > 0.0
    start = a > r * up
    p2 = a if a > p else p
    end = insb & (a * up < p2)
    p = p2 if ((insb | start) & (end ^ True)) else 0.0
    ns = ns + (1.0 if end else 0.0)
    return r, ms, p, ns, bm


@njit(inline="always")
def _update_adaptive(x, G, mo, vo, e, b1, ob1, b2, cv, feps, wd, sfx):
    m = b1 * mo + ob1 * G
    v = b2 * vo + cv * (G * G)
    den = math.sqrt(v) + feps
    xn = x * (1.0 - e * wd) - (e * sfx) * m / den
    return xn, m, v, den


@njit(inline="always")
def _update_adaptive_bc(x, G, mo, vo, e, b1, ob1, b2, cv, feps, wd, sfx, p1, p2):
    m = b1 * mo + ob1 * G
    v = b2 * vo + cv * (G * G)
    p1 = p1 * b1
    p2 = p2 * b2
    den = math.sqrt(v / (1.0 - p2)) + feps
    xn = x * (1.0 - e * wd) - (e * sfx) * (m / (1.0 - p1)) / den
    return xn, m, v, den, p1, p2


@njit(inline="always")
def _update_plain(x, G, mo, e, b1, ob1, wd, sfx):
    m = b1 * mo + ob1 * G
    xn = x * (1.0 - e * wd) - (e * sfx) * m
    return xn, m


@njit(inline="always")
def _failure(tf, xn, den, m, z, fs):
    """Remember the first 0/0 (z = 1) or m/0 (z = 2) and the first non-finite/huge step."""
    zz = 1.0 if m == 0.0 else 2.0
    z = z if ((z != 0.0) | (den != 0.0)) else zz
    bad = (abs(xn) < _HUGE) ^ True
    fs = tf if (bad & (fs < 0.0)) else fs
    return z, fs


@njit(inline="always")
def _ldexp(x, n):
    """``math.ldexp(x, n)`` bit for bit: for ``-1022 <= n <= 1023`` one multiplication by the
    exact power ``2^n`` (built from its bits), which IEEE rounds once, exactly like ``ldexp``;
    otherwise the library call."""
    if -1022 <= n <= 1023:
        return x * np.int64((n + 1023) << 52).view(np.float64)
    return math.ldexp(x, n)


@njit(inline="always")
def _frexp(x):
    """``math.frexp(x)`` bit for bit: exponent and mantissa read from the bits of a normal
    ``x``; zero, subnormal, inf and NaN go to the library call."""
    b = np.float64(x).view(np.int64)
    be = (b >> 52) & 0x7FF
    if be == 0 or be == 0x7FF:
        return math.frexp(x)
    return np.int64((b & ~(0x7FF << 52)) | (1022 << 52)).view(np.float64), be - 1022


@njit(inline="always", error_model="numpy")
def _log2_scaled(y, e):
    """``log2 |y| + e`` formed as ``log2 m + (n + e)`` from ``|y| = m 2^n``, ``m`` in [1/2, 1):
    the same bits whatever units ``y`` is expressed in (``y 2^e`` fixed)."""
    m, n = _frexp(abs(y))
    return math.log2(m) + (n + e)


@njit(inline="always")
def _renorm_band(k):
    """Largest ``|e1|`` (binary exponent of ``X`` in the current units) kept without renormalizing."""
    return _RENORM_G // (k - 1)


@njit(inline="always")
def _renorm_due(band, e1, e2):
    """Are a cell's units renewed at this window end? ``e1``, ``e2``: the binary exponents
    (``frexp``) of ``X`` and ``V`` in the current units (0 for a zero or non-finite value);
    ``band``: :func:`_renorm_band`."""
    return (e1 < -band) | (e1 > band) | (e2 < -_RENORM_V) | (e2 > _RENORM_V)


@njit(inline="always", error_model="numpy")
def _renorm(k, X, M, V, ex, ev):
    """Exact power-of-two renormalization of one cell, when :func:`_renorm_due`: ``X`` to
    ``[1/2, 1)`` and ``V`` to ``[1/4, 1)``; returns new (X, M, V, ex, ev) and the exponent of ``X``
    in the old units (``ex + e1`` is the true binary exponent of ``|x|``)."""
    e1 = 0
    e2 = 0
    if X != 0.0 and math.isfinite(X):
        _, e1 = _frexp(X)
    if V != 0.0 and math.isfinite(V):
        _, e2 = _frexp(V)
        e2 -= e2 & 1
    if _renorm_due(_renorm_band(k), e1, e2):
        X = _ldexp(X, -e1)
        M = _ldexp(M, -(k - 1) * e1)
        ex += e1
        V = _ldexp(V, -e2)
        ev += e2
        return X, M, V, ex, ev, 0
    return X, M, V, ex, ev, e1


@njit(inline="always", error_model="numpy")
def _factors(k, adaptive, b2, eps, ex, ev):
    """Per-cell constants between renormalizations: (CV, SFX, FEPS)."""
    cv = _ldexp(1.0 - b2, 2 * (k - 1) * ex - ev)
    if adaptive:
        sfx = _ldexp(1.0, (k - 2) * ex - ev // 2)
    else:
        sfx = _ldexp(1.0, (k - 2) * ex)
    feps = _ldexp(eps, -(ev // 2))
    return cv, sfx, feps


@njit(inline="always")
def _store_stats(S, j, r, ms, pk, ns, bm):
    S[_RMIN + j] = r
    S[_MSTEP + j] = ms
    S[_PEAK + j] = pk
    S[_NSPK + j] = ns
    S[_BMAX + j] = bm


@njit(inline="always")
def _lane_adaptive(S, j, tf, x, G, up, bc):
    """One adaptive step of lane ``j`` of the block state ``S`` (statistics at x_t first), bias
    corrected when ``bc`` (a constant at every call site, so the branch is folded away)."""
    e = S[_ETA + j]
    r, ms, pk, ns, bm = _stats(tf, x, S[_RMIN + j], S[_MSTEP + j], S[_PEAK + j], S[_NSPK + j], S[_BMAX + j], up)
    if bc:
        xn, m, v, den, p1, p2 = _update_adaptive_bc(x, G, S[_M + j], S[_V + j], e, S[_B1 + j], S[_OB1 + j],
                                                    S[_B2 + j], S[_CV + j], S[_FEPS + j], S[_WD + j],
                                                    S[_SFX + j], S[_P1 + j], S[_P2 + j])
        S[_P1 + j] = p1
        S[_P2 + j] = p2
    else:
        xn, m, v, den = _update_adaptive(x, G, S[_M + j], S[_V + j], e, S[_B1 + j], S[_OB1 + j],
                                         S[_B2 + j], S[_CV + j], S[_FEPS + j], S[_WD + j], S[_SFX + j])
    z, fs = _failure(tf, xn, den, m, S[_ZF + j], S[_FSTEP + j])
    _store_stats(S, j, r, ms, pk, ns, bm)
    S[_ZF + j] = z
    S[_FSTEP + j] = fs
    S[_M + j] = m
    S[_V + j] = v
    S[_GL + j] = G
    S[_X + j] = xn
    S[_ETA + j] = e * S[_LRD + j]


@njit(inline="always")
def _lane_plain(S, j, tf, x, G, up):
    """One gd/momentum step of lane ``j``."""
    e = S[_ETA + j]
    r, ms, pk, ns, bm = _stats(tf, x, S[_RMIN + j], S[_MSTEP + j], S[_PEAK + j], S[_NSPK + j], S[_BMAX + j], up)
    xn, m = _update_plain(x, G, S[_M + j], e, S[_B1 + j], S[_OB1 + j], S[_WD + j], S[_SFX + j])
    z, fs = _failure(tf, xn, 1.0, m, S[_ZF + j], S[_FSTEP + j])
    _store_stats(S, j, r, ms, pk, ns, bm)
    S[_FSTEP + j] = fs
    S[_M + j] = m
    S[_GL + j] = G
    S[_X + j] = xn
    S[_ETA + j] = e * S[_LRD + j]


@njit(inline="always")
def _lane_fast(S, j, tf, x, G, up, bc, gl, noeps):
    """One adaptive step of lane ``j`` for ``lr_decay = 1``, ``wd = 0`` (``eta_t = lr``) *without*
    failure tracking: ``x (1 - eta wd) = x`` and ``eta sfx = ES`` (set at the window start) exactly,
    so the update is the one of :func:`_lane_adaptive` bit for bit. A failure (``|x| >= _HUGE``,
    inf, NaN; a zero denominator makes x non-finite in the same step) is detected at the window's
    end from ``BMAX`` and ``X`` and the window is then rerun with the tracking lane functions.
    ``G`` is stored only at the window's last step (``gl``). ``noeps`` (``eps = 0`` in every lane of
    the block): ``den = sqrt(.)`` without adding ``feps = 0`` (the same value: ``v >= +0``, never -0)."""
    r, ms, pk, ns, bm = _stats(tf, x, S[_RMIN + j], S[_MSTEP + j], S[_PEAK + j], S[_NSPK + j], S[_BMAX + j], up)
    b1 = S[_B1 + j]
    b2 = S[_B2 + j]
    m = b1 * S[_M + j] + S[_OB1 + j] * G
    v = b2 * S[_V + j] + S[_CV + j] * (G * G)
    if bc:
        p1 = S[_P1 + j] * b1
        p2 = S[_P2 + j] * b2
        S[_P1 + j] = p1
        S[_P2 + j] = p2
        den = math.sqrt(v / (1.0 - p2))
        den = den if noeps else den + S[_FEPS + j]
        xn = x - S[_ES + j] * (m / (1.0 - p1)) / den
    else:
        den = math.sqrt(v)
        den = den if noeps else den + S[_FEPS + j]
        xn = x - S[_ES + j] * m / den
    _store_stats(S, j, r, ms, pk, ns, bm)
    S[_M + j] = m
    S[_V + j] = v
    if gl:
        S[_GL + j] = G
    S[_X + j] = xn


@njit(inline="always")
def _steps_fast(S, t0, t1, k, curv, up, bc, unit, noeps):
    """Steps ``t0 .. t1-1`` of a block on the fast path (:func:`_lane_fast`)."""
    L = LANES
    for t in range(t0, t1):
        tf = float(t)
        last = t == t1 - 1
        if k == 4:
            if last:
                for j in range(L):
                    x = S[_X + j]
                    G = (x * x) * x
                    _lane_fast(S, j, tf, x, G if unit else G * curv, up, bc, True, noeps)
            else:
                for j in range(L):
                    x = S[_X + j]
                    G = (x * x) * x
                    _lane_fast(S, j, tf, x, G if unit else G * curv, up, bc, False, noeps)
        else:
            for j in range(L):
                S[_GP + j] = S[_X + j]
            for _ in range(k - 2):
                for j in range(L):
                    S[_GP + j] = S[_GP + j] * S[_X + j]
            if last:
                for j in range(L):
                    _lane_fast(S, j, tf, S[_X + j], S[_GP + j] * curv, up, bc, True, noeps)
            else:
                for j in range(L):
                    _lane_fast(S, j, tf, S[_X + j], S[_GP + j] * curv, up, bc, False, noeps)


@njit(cache=True, error_model="numpy")
def _steps_tracked(S, t0, t1, k, curv, adaptive, bias_correction, up):
    """Steps ``t0 .. t1-1`` of a block with the general lane functions (failure tracking, any
    ``lr_decay`` and ``wd``)."""
    L = LANES
    for t in range(t0, t1):
        tf = float(t)
        if k == 4:  # G = X^3 inside the lane loop (same products as the general path)
            if adaptive and bias_correction:
                for j in range(L):
                    x = S[_X + j]
                    _lane_adaptive(S, j, tf, x, ((x * x) * x) * curv, up, True)
            elif adaptive:
                for j in range(L):
                    x = S[_X + j]
                    _lane_adaptive(S, j, tf, x, ((x * x) * x) * curv, up, False)
            else:
                for j in range(L):
                    x = S[_X + j]
                    _lane_plain(S, j, tf, x, ((x * x) * x) * curv, up)
        else:  # G = X^{k-1} in its own loops (a runtime trip count would stop vectorization)
            for j in range(L):
                S[_GP + j] = S[_X + j]
            for _ in range(k - 2):
                for j in range(L):
                    S[_GP + j] = S[_GP + j] * S[_X + j]
            if adaptive and bias_correction:
                for j in range(L):
                    _lane_adaptive(S, j, tf, S[_X + j], S[_GP + j] * curv, up, True)
            elif adaptive:
                for j in range(L):
                    _lane_adaptive(S, j, tf, S[_X + j], S[_GP + j] * curv, up, False)
            else:
                for j in range(L):
                    _lane_plain(S, j, tf, S[_X + j], S[_GP + j] * curv, up)


@njit(cache=True, error_model="numpy")
def _fast_window(S, t0, t1, k, curv, up, bc, unit, noeps):
    """Steps ``t0 .. t1-1`` on the fast path. The flags (bias correction, curvature 1, eps = 0) are
    made compile-time constants (``numba.literally``): one compiled loop per flag set, without the
    branches. ``G * 1.0`` and ``sqrt(.) + 0.0`` are the same values, so those are exact shortcuts."""
    literally(bc)
    literally(unit)
    literally(noeps)
    _steps_fast(S, t0, t1, k, curv, up, bc, unit, noeps)


@njit(inline="always", error_model="numpy")
def _steps_fast_variant(S, t0, t1, k, curv, up, bc, unit, noeps):
    """:func:`_fast_window` with the runtime flags turned into literal arguments."""
    if bc:
        if unit:
            if noeps:
                _fast_window(S, t0, t1, k, curv, up, True, True, True)
            else:
                _fast_window(S, t0, t1, k, curv, up, True, True, False)
        elif noeps:
            _fast_window(S, t0, t1, k, curv, up, True, False, True)
        else:
            _fast_window(S, t0, t1, k, curv, up, True, False, False)
    elif unit:
        if noeps:
            _fast_window(S, t0, t1, k, curv, up, False, True, True)
        else:
            _fast_window(S, t0, t1, k, curv, up, False, True, False)
    elif noeps:
        _fast_window(S, t0, t1, k, curv, up, False, False, True)
    else:
        _fast_window(S, t0, t1, k, curv, up, False, False, False)
