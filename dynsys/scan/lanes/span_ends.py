"""Span ends and statistics of the phase scan: exact min, sustained level, coupling, renormalization, outputs.

The scheme (scaled coordinates, lanes, exact shortcuts) is described in :mod:`dynsys.scan.lanes`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from dynsys.kernels.status import DIVIDE_BY_ZERO, LOSS_OVERFLOW, OK, SCAN_RANGE, STATE_OVERFLOW, ZERO_BY_ZERO
from dynsys.scan.lanes.arithmetic import (
    LANES, MAX_LOG2_LOSS, _B2, _BMAX, _BMIN, _CN, _CSUM, _CV, _EPS, _ES, _ETA, _EV, _EX, _FEPS, _FSTEP, _GE, _GL, _GM,
    _LOG2_HUGE, _M, _MSTEP, _NSPK, _PEAK, _RMIN, _SE, _SE_INF, _SE_ZERO, _SFX, _SM, _SMX, _ST, _TWO_M1022, _V, _X, _ZF,
    _factors, _frexp, _ldexp, _log2_scaled, _renorm, _renorm_band, _renorm_due,
)


@njit(inline="always", error_model="numpy")
def _lower_level(fb, eb, sm, se):
    """Is ``fb 2^eb`` below ``sm 2^se``? (mantissas in [1/2, 1) or 0 with the sentinel exponents)."""
    return (eb < se) | ((eb == se) & (fb < sm))


@njit(inline="always", error_model="numpy")
def _sustained(b, ex, sm, se):
    """The sustained level ``sm 2^se`` lowered to a window maximum ``b 2^ex`` if that is lower
    (exactly, on (mantissa, exponent) pairs; ``b = inf``: no window)."""
    if b == math.inf:
        return sm, se
    if b > 0.0:
        fb, eb = _frexp(b)
        eb += ex
    else:
        fb, eb = 0.0, _SE_ZERO
    if _lower_level(fb, eb, sm, se):
        return fb, eb
    return sm, se


@njit(inline="always", error_model="numpy")
def _coupling_log2(k, V, GL, ex, ev):
    """``log2 (v / g^2)`` from ``V`` and ``G`` in the units ``ex``, ``ev`` (the same bits in any units)."""
    return _log2_scaled(V, ev) - 2.0 * _log2_scaled(GL, (k - 1) * ex)


@njit(inline="always", error_model="numpy")
def _mid_window(k, adaptive, t1, coupling_start, M, V, GL, BMAX, BMIN, FSTEP, ex, ev, csum, cn):
    """Statistics of one cell at the end ``t1`` of a window inside a span (the units stay): a cell
    still healthy there (no failure, ``M`` and ``V`` finite: :func:`_block_end` would go on) adds
    the window's max ``|X|`` to ``BMIN``, the span's minimum of window maxima (exact: it is one of
    them), and takes its coupling sample. Returns (BMIN, csum, cn); the caller resets BMAX."""
    if FSTEP < 0.0 and math.isfinite(M) and math.isfinite(V):
        BMIN = BMAX if BMAX < BMIN else BMIN
        if adaptive and t1 >= coupling_start and GL != 0.0 and V > 0.0:
            csum += _coupling_log2(k, V, GL, ex, ev)
            cn += 1
    return BMIN, csum, cn


@njit(inline="always", error_model="numpy")
def _block_end(k, adaptive, t0, t1, coupling_start, b2, eps, X, M, V, GL, RMIN, MSTEP, PEAK, BMAX, BMIN, FSTEP, ZF,
               ex, ev, gm, ge, st, csum, cn, sm, se, smx):
    """Bookkeeping of one cell after a span ``[t0, t1)`` (:data:`SPAN` steps): failures, exact
    min, sustained level (from the last window's max ``BMAX`` and ``BMIN``, the minimum of the
    earlier windows' maxima, :func:`_mid_window`), coupling sample, renormalization. Returns the
    updated values (see the call sites).

    The running min and the sustained level are kept twice: exactly, as mantissa and exponent
    (``gm 2^ge``, ``sm 2^se``), and in the window's units (``RMIN``, ``smx``: rounded, saturating
    at 0 and inf, recomputed from the exact pair at each renormalization)."""
    if st != OK:
        return X, M, V, 0.0, 0.0, 0.0, RMIN, PEAK, BMAX, BMIN, FSTEP, ex, ev, gm, ge, st, csum, cn, sm, se, smx
    # a new minimum found in this window becomes the exact global minimum gm 2^ge (also in
    # a window where the run fails: the steps before the failure count)
    if MSTEP >= float(t0) and (t0 > 0 or MSTEP > 0.0):
        fm, fe = _frexp(RMIN)
        gm = fm
        ge = fe + ex
    if FSTEP >= 0.0:
        sm, se = _sustained(BMIN, ex, sm, se)  # the windows the cell finished before the failure
        if ZF == 1.0:
            st = ZERO_BY_ZERO
        elif ZF == 2.0:
            st = DIVIDE_BY_ZERO
        elif k * (ex + _LOG2_HUGE) >= MAX_LOG2_LOSS:
            st = STATE_OVERFLOW  # |x| >= 2^500 in the window's units: the loss is beyond float64
        else:
            # |x| (or g = x^{k-1}) left the window's range while the loss itself is still far from
            # overflowing (the window's units are tiny): a giant spike, not a divergence
            st = SCAN_RANGE
        return math.nan, M, V, 0.0, 0.0, 0.0, RMIN, PEAK, BMAX, math.inf, FSTEP, ex, ev, gm, ge, st, csum, cn, sm, se, smx
    if not (math.isfinite(M) and math.isfinite(V)):
        # |x| grew by more than about 2^(1023 / (2 (k - 1))) within the window (a giant spike after
        # a long convergence): v = O(g^2) left float64 in the window's units; with v = inf the
        # update would be 0 and x would freeze. Stop the cell and report it (last step of the window; its
        # minimum so far is kept, the last window's sustained level and coupling sample are not used).
        sm, se = _sustained(BMIN, ex, sm, se)
        st = SCAN_RANGE
        FSTEP = float(t1 - 1)
        return math.nan, M, V, 0.0, 0.0, 0.0, RMIN, PEAK, BMAX, math.inf, FSTEP, ex, ev, gm, ge, st, csum, cn, sm, se, smx
    # sustained level: min over windows of the max |x| in the window, kept exactly as (mantissa, exponent)
    sm, se = _sustained(BMAX if BMAX < BMIN else BMIN, ex, sm, se)
    # coupling ratio C = v/g^2 at the last step of the span's last window (g = c X^{k-1} 2^{(k-1)ex})
    if adaptive and t1 >= coupling_start and GL != 0.0 and V > 0.0:
        csum += _coupling_log2(k, V, GL, ex, ev)
        cn += 1
    exo = ex
    X, M, V, ex, ev, e1 = _renorm(k, X, M, V, ex, ev)
    cv, sfx, feps = _factors(k, adaptive, b2, eps, ex, ev)
    # running min and spike peak in the new units (saturating: 0 / inf are the right limits)
    RMIN = _ldexp(gm, ge - ex)
    PEAK = _ldexp(PEAK, exo - ex)
    smx = _ldexp(sm, se - ex) if se < _SE_INF else math.inf
    if k * (ex + e1) > MAX_LOG2_LOSS:  # |x| in [2^(ex+e1-1), 2^(ex+e1)): the loss is about 2^{k (ex+e1)}
        st = LOSS_OVERFLOW
        FSTEP = float(t1)
        X = math.nan
    return X, M, V, cv, sfx, feps, RMIN, PEAK, 0.0, math.inf, FSTEP, ex, ev, gm, ge, st, csum, cn, sm, se, smx


# ----------------------------------------------------------------------------- vectorized window end

@njit(inline="always")
def _parts(x):
    """``math.frexp(x)`` read from the bits, and whether ``x`` is normal (else the parts are garbage)."""
    b = np.float64(x).view(np.int64)
    be = (b >> 52) & 0x7FF
    ok = (be != 0) & (be != 0x7FF)
    return np.int64((b & ~(0x7FF << 52)) | (1022 << 52)).view(np.float64), be - 1022, ok


@njit(inline="always")
def _pow2(n):
    """The exact power ``2^n`` from its bits, and whether ``-1022 <= n <= 1023`` (else garbage)."""
    return np.int64((n + 1023) << 52).view(np.float64), (n >= -1022) & (n <= 1023)


@njit(inline="always")
def _span_end_parts(S, j):
    """What both vectorized span ends read of lane ``j``: the parts of the running min ``RMIN`` and
    of the new sustained level ``sx = min(SMX, BMAX, BMIN)`` (in the span's units), ``X`` and the
    exponents of ``X`` and ``V`` (``V``'s made even), and whether all four values are normal."""
    gm, ge, okm = _parts(S[_RMIN + j])
    sx = S[_SMX + j]
    bm = S[_BMAX + j]
    bn = S[_BMIN + j]
    bm = bm if bm < bn else bn
    sx = bm if bm < sx else sx
    sm, se, oks = _parts(sx)
    X = S[_X + j]
    _, e1, okx = _parts(X)
    _, e2, okv = _parts(S[_V + j])
    e2 = e2 - (e2 & 1)
    return gm, ge, sm, se, sx, X, e1, e2, okm & oks & okx & okv


@njit(inline="always", error_model="numpy")
def _window_end_lane(S, I, j, k, adaptive, band):
    """:func:`_block_end` of a running lane without failure, branch-free, with every ``frexp`` /
    ``ldexp`` done on the bits: the same values bit for bit whenever ``ok``, i.e. the running min
    ``RMIN``, the new sustained level ``min(smx, BMAX, BMIN)``, ``X`` and ``V`` are normal (then
    ``RMIN`` and ``smx`` are exact, so their parts are the exact pairs ``gm 2^ge``, ``sm 2^se``),
    every power of two is in range and the loss does not overflow. Returns ``ok`` and the new values.
    (No select of a new value against the old one of the same slot: LLVM would make it a masked
    store, which is slow on AMD processors.)"""
    ex = I[_EX + j]
    ev = I[_EV + j]
    gm, ge, sm, se, _, X, e1, e2, okp = _span_end_parts(S, j)
    ge = ge + ex
    se = se + ex
    etrue = ex + e1  # |x| in [2^(etrue-1), 2^etrue)
    due = _renorm_due(band, e1, e2)
    e1 = e1 if due else 0
    e2 = e2 if due else 0
    pm, okpm = _pow2(-(k - 1) * e1)
    pv, okpv = _pow2(-e2)
    exn = ex + e1
    evn = ev + e2
    # cv = (1 - b2) 2^ncv: below 2^-1022 (v far above g^2, e.g. small beta2) it is subnormal, and
    # ldexp rounds it once: here an exact multiplication into the normal range (1 - b2 >= 2^-53)
    # then one rounding multiplication by 2^-1022; below 2^-1991 it rounds to 0
    ncv = 2 * (k - 1) * exn - evn
    low = ncv < -1022
    pcv, okcv = _pow2((ncv + 1022) if low else ncv)
    cv = (1.0 - S[_B2 + j]) * pcv
    cv = (cv * _TWO_M1022) if low else cv
    cv = 0.0 if ncv < -1991 else cv
    okcv = okcv | (ncv < -1991)
    ns = ((k - 2) * exn - (evn >> 1)) if adaptive else ((k - 2) * exn)
    psfx, oksfx = _pow2(ns)
    peps, okeps = _pow2(-(evn >> 1))
    pr, okr = _pow2(ge - exn)
    ps, okps = _pow2(se - exn)
    pp, okpp = _pow2(-e1)
    eps = S[_EPS + j]
    eps0 = eps == 0.0  # then feps = 0 whatever the exponent (ldexp(0, n) = 0)
    ok = okp & okpm & okpv & okcv & oksfx & (okeps | eps0) & okr & okps & okpp
    ok = ok & (k * etrue <= MAX_LOG2_LOSS) & (S[_FSTEP + j] < 0.0)
    return (ok, X * pp, S[_M + j] * pm, S[_V + j] * pv, cv, psfx, 0.0 if eps0 else eps * peps,
            gm * pr, S[_PEAK + j] * pp, exn, evn, gm, ge, sm, se, sm * ps)


@njit(inline="always", error_model="numpy")
def _coupling_samples(S, I, k):
    """Coupling samples ``log2 (v / g^2)`` at a window's last step (before any renormalization)."""
    for j in range(LANES):
        GL = S[_GL + j]
        V = S[_V + j]
        if I[_ST + j] == OK and GL != 0.0 and V > 0.0:
            S[_CSUM + j] += _coupling_log2(k, V, GL, I[_EX + j], I[_EV + j])
            I[_CN + j] += 1


@njit(inline="always", error_model="numpy")
def _window_end_cheap_lane(S, I, j, k, band):
    """:func:`_block_end` of a running lane whose units stay (not :func:`_renorm_due`): only the
    exact pairs of the running min and of the sustained level change; ``ok`` as in
    :func:`_window_end_lane` (``X``, ``V``, ``RMIN`` and the new sustained level normal, no failure,
    no loss overflow). With the units unchanged, ``X, M, V, CV, SFX, FEPS, ES, RMIN, PEAK`` keep
    their values (the powers of two of :func:`_window_end_lane` are all 1)."""
    ex = I[_EX + j]
    gm, ge, sm, se, sx, _, e1, e2, okp = _span_end_parts(S, j)
    ok = okp & (_renorm_due(band, e1, e2) ^ True)
    ok = ok & (k * (ex + e1) <= MAX_LOG2_LOSS) & (S[_FSTEP + j] < 0.0)
    return ok, gm, ge + ex, sm, se + ex, sx


@njit(cache=True, error_model="numpy")
def _window_mid_lanes(S, I, k, adaptive, t1, coupling_start):
    """:func:`_mid_window` of every lane of a block at the end ``t1`` of a window inside a span: one
    vectorizable pass (the span's minimum of window maxima) when every running lane is healthy
    (the common case), else lane by lane."""
    L = LANES
    nbad = 0
    for j in range(L):
        healthy = (S[_FSTEP + j] < 0.0) & (abs(S[_M + j]) < math.inf) & (abs(S[_V + j]) < math.inf)
        nbad += 0 if (healthy | (I[_ST + j] != OK)) else 1
    if nbad == 0:
        for j in range(L):
            bm = S[_BMAX + j]
            bn = S[_BMIN + j]
            S[_BMIN + j] = bm if bm < bn else bn
            S[_BMAX + j] = 0.0
        if adaptive and t1 >= coupling_start:
            _coupling_samples(S, I, k)
        return
    for j in range(L):
        if I[_ST + j] == OK:
            bn, cs, cn = _mid_window(k, adaptive, t1, coupling_start, S[_M + j], S[_V + j], S[_GL + j],
                                     S[_BMAX + j], S[_BMIN + j], S[_FSTEP + j], I[_EX + j], I[_EV + j],
                                     S[_CSUM + j], I[_CN + j])
            S[_BMIN + j] = bn
            S[_CSUM + j] = cs
            I[_CN + j] = cn
        S[_BMAX + j] = 0.0


@njit(cache=True, error_model="numpy")
def _window_end_cheap(S, I, k, adaptive, t0, t1, coupling_start):
    """Window end of a block in which no running lane renews its units (the common case: units
    are renewed only when ``X`` or ``V`` drift far, see :func:`_renorm_due`): two short
    vectorizable passes. Returns False, changing nothing, when some running lane needs more
    (:func:`_window_end_fast` or :func:`_block_end`)."""
    L = LANES
    band = _renorm_band(k)
    nbad = 0
    for j in range(L):
        ok = _window_end_cheap_lane(S, I, j, k, band)[0]
        nbad += 0 if (ok | (I[_ST + j] != OK)) else 1
    if nbad > 0:
        return False
    if adaptive and t1 >= coupling_start:
        _coupling_samples(S, I, k)
    for j in range(L):
        _, gm, ge, sm, se, sx = _window_end_cheap_lane(S, I, j, k, band)
        _store_levels(S, I, j, gm, ge, sm, se, sx)
        S[_BMAX + j] = 0.0
        S[_BMIN + j] = math.inf
    return True


@njit(cache=True, error_model="numpy")
def _window_end_fast(S, I, k, adaptive, t0, t1, coupling_start):
    """Window end of every lane of a block at once (vectorizable loops): returns False, changing
    nothing, when some running lane needs :func:`_block_end` (rare: a zero, subnormal or
    non-finite value, an exponent out of range, a loss overflow). Lanes that stopped earlier
    (status not OK) had their outputs written when they stopped; their state is updated like the
    others' but no longer read (no per-lane condition in the loop: LLVM would turn it into masked
    loads and stores, which are slow on AMD processors)."""
    L = LANES
    band = _renorm_band(k)
    nbad = 0
    for j in range(L):
        ok = _window_end_lane(S, I, j, k, adaptive, band)[0]
        nbad += 0 if (ok | (I[_ST + j] != OK)) else 1
    if nbad > 0:
        return False
    if adaptive and t1 >= coupling_start:
        _coupling_samples(S, I, k)
    for j in range(L):
        (_, X, M, V, cv, sfx, feps, RMIN, PEAK, ex, ev, gm, ge, sm, se, smx) = _window_end_lane(S, I, j, k, adaptive, band)
        _store_units(S, I, j, X, M, V, cv, sfx, feps, RMIN, PEAK, ex, ev)
        _store_levels(S, I, j, gm, ge, sm, se, smx)
    return True


@njit(inline="always")
def _store_levels(S, I, j, gm, ge, sm, se, smx):
    """Store lane ``j``'s exact running min ``gm 2^ge``, exact sustained level ``sm 2^se`` and the
    sustained level ``smx`` in the current units."""
    S[_GM + j] = gm
    S[_SM + j] = sm
    S[_SMX + j] = smx
    I[_GE + j] = ge
    I[_SE + j] = se


@njit(inline="always")
def _store_units(S, I, j, X, M, V, cv, sfx, feps, RMIN, PEAK, ex, ev):
    """Store lane ``j``'s state in new units and start its next span (empty window maxima)."""
    S[_X + j] = X
    S[_M + j] = M
    S[_V + j] = V
    S[_CV + j] = cv
    S[_SFX + j] = sfx
    S[_FEPS + j] = feps
    S[_ES + j] = S[_ETA + j] * sfx
    S[_RMIN + j] = RMIN
    S[_PEAK + j] = PEAK
    S[_BMAX + j] = 0.0
    S[_BMIN + j] = math.inf
    I[_EX + j] = ex
    I[_EV + j] = ev


@njit(inline="always", error_model="numpy")
def finish_values(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se):
    """Statistics of the final iterate ``x_steps`` (of a cell still running), then the cell's nine
    outputs (:data:`~dynsys.scan.lanes.arithmetic.OUTPUTS`, in that order) as a tuple."""
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


@njit(inline="always")
def store_outputs(c, out, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n,
                  status, fail_step):
    """Write the nine outputs ``out`` (:func:`finish_values`) of cell ``c`` into the output arrays."""
    min_log2x[c] = out[0]
    min_step[c] = out[1]
    final_log2x[c] = out[2]
    sustained_log2x[c] = out[3]
    n_spikes[c] = out[4]
    coupling_sum[c] = out[5]
    coupling_n[c] = out[6]
    status[c] = out[7]
    fail_step[c] = out[8]


@njit(cache=True, error_model="numpy")
def _finish(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se, c,
            min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status, fail_step):
    """:func:`finish_values` of a cell, stored as cell ``c``'s outputs."""
    store_outputs(c, finish_values(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se),
                  min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                  fail_step)


@njit(inline="always", error_model="numpy")
def _finish_lane(S, I, j, c, k, steps, up, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes,
                 coupling_sum, coupling_n, status, fail_step):
    _finish(k, steps, up, S[_X + j], S[_RMIN + j], S[_MSTEP + j], S[_PEAK + j], S[_NSPK + j], S[_FSTEP + j],
            I[_EX + j], S[_GM + j], I[_GE + j], I[_ST + j], S[_CSUM + j], I[_CN + j], S[_SM + j], I[_SE + j], c,
            min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status, fail_step)


@njit(cache=True, error_model="numpy")
def _window_end_general(S, I, blk, n, k, adaptive, t0, t1, coupling_start, steps, up, min_log2x, min_step,
                        final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status, fail_step):
    """Window end lane by lane with :func:`_block_end` (failures, zeros, subnormals, exponents out of
    range). A lane that stops here has its outputs written at once and is then kept inert."""
    L = LANES
    for j in range(L):
        if I[_ST + j] != OK:
            continue
        (X, M, V, cv, sfx, feps, RMIN, PEAK, BMAX, BMIN, FSTEP, exj, evj, gmj, gej, stj, csj, cnj, smj,
         sej, smxj) = _block_end(k, adaptive, t0, t1, coupling_start, S[_B2 + j], S[_EPS + j], S[_X + j], S[_M + j],
                           S[_V + j], S[_GL + j], S[_RMIN + j], S[_MSTEP + j], S[_PEAK + j], S[_BMAX + j],
                           S[_BMIN + j], S[_FSTEP + j], S[_ZF + j], I[_EX + j], I[_EV + j], S[_GM + j], I[_GE + j], I[_ST + j],
                           S[_CSUM + j], I[_CN + j], S[_SM + j], I[_SE + j], S[_SMX + j])
        S[_FSTEP + j] = FSTEP
        S[_CSUM + j] = csj
        _store_levels(S, I, j, gmj, gej, smj, sej, smxj)
        I[_ST + j] = stj
        I[_CN + j] = cnj
        if stj != OK:
            c = blk * L + j
            if c < n:
                _finish_lane(S, I, j, c, k, steps, up, min_log2x, min_step, final_log2x, sustained_log2x,
                             n_spikes, coupling_sum, coupling_n, status, fail_step)
            S[_X + j] = math.nan  # inert from now on
            S[_M + j] = 0.0
            S[_V + j] = 1.0
            S[_PEAK + j] = 0.0
            continue
        _store_units(S, I, j, X, M, V, cv, sfx, feps, RMIN, PEAK, exj, evj)  # _block_end: BMAX 0, BMIN inf
