"""Exponential phases of a phase-diagram cell: the statistic that tells regime II from regime III.

Regime II of Thm 6.1 (degenerate-polynomials paper, math.md D12) is "an exponential phase, then a
spike"; regime III is "no exponential phase, the loss oscillates about the SignGD level
``c lr^k/k``". For small ``beta2`` the exponential phases of regime II are short: the loss falls
by ``k/(2(k-2)) |log10 beta2|`` decades per step (D5), so a phase 30 decades deep lasts 20-50 steps
and the fixed point's instability ends it; the main kernel's ``sustained_loss`` (the lowest level the
loss stays below for a whole aligned 32-step window) misses most of them. A regime-III oscillation,
on the other hand, dips far below the plateau by chance whenever ``x`` lands near 0, but such a dip
lasts one step: the next SignGD-like step of size ``~ lr`` carries ``x`` out of the band again.

The statistic is therefore the **length of the longest run of consecutive steps** ``t`` whose loss
is at least ``depth`` decades below the plateau, i.e. ``|x_t| < lr 10^(-depth/k)`` (since
``c x^k/k < 10^(-depth) c lr^k/k``): ``phase_steps``. On the 96 x 96 ``(beta1, beta2)`` scans at
20000 steps (k = 4, 6, 8) 99.8-99.9 % of the cells more than 0.1 past the existence line have
``phase_steps <= 7`` (at most 11-19), and the cells well inside the predicted-II band have at least 5
(k = 4) to 15 (k = 6): ``phase_length = 8`` separates the two populations (docs/regime-agreement.md item 2).

The run is the cell's own trajectory, bit for bit: :func:`cell_phases` repeats the arithmetic of
:mod:`dynsys.scan.lanes` (same operations in the same order, in scaled units renewed by exact
powers of two, so the units do not change a single bit), which is tested by comparing its minimum
with the kernel's. It also records the statistics at ``steps // 2`` (minimum, last value, spikes,
longest phase so far) so the driver can tell whether a cell's label has *settled*: the label it
would get from the first half of the run equals the label of the whole run.

**Onset of the first phase.** Regime II of the paper is "*initial* exponential convergence below the
SignGD threshold, interrupted by a violent loss spike". The pass also records ``arrival_step``, the first
step with ``|x| <= ARRIVAL lr`` (the run has come down from ``x0`` to the SignGD-like scale), and
``phase_start``, the first step of the first phase of at least ``phase_length`` steps; the phase Dataset
carries their difference, ``phase_onset``. On the 96 x 96 x 20000 scans of k = 4, 6, 8, the observed-II
cells at least 0.03 inside the existence line start their first phase a median 15 / 16 / 21 steps after
arrival (90 % within 38 / 38 / 35), while those at least 0.02 past the line (the ghost band of claims
D15/D16) do so a median 1124 / 2522 / 1892 steps after it: their phases are chance passages after a long
oscillation, not the initial convergence (docs/regime-agreement.md item 8; ``figures/degenerate_phase_onset.py``).

**Speed.** :func:`phase_statistics` runs :func:`cell_phases`' arithmetic for 32 cells at a time in vectorized
lane loops, in fast spans of 32 steps checked at their end (:func:`_vector_phases`), at about the main kernel's
speed (docs/performance.md); ``device="cuda"`` runs :func:`cell_phases` itself, one GPU thread per cell. Both give
:func:`cell_phases`' outputs bit for bit (tested).

Covered: adaptive optimizers (RMSProp, Adam, AdamW with weight decay 0) with ``lr_decay = 1``, any
``eps`` and bias correction, on ``c x^k/k``. Other cells get ``phase_steps = -1`` and are classified
by the sustained level alone.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dynsys.scan.lanes.arithmetic import _log2_scaled, _stats

__all__ = ["phase_statistics", "covered", "PHASE_OUTPUTS"]

#: outputs of :func:`phase_statistics`: name -> dtype
PHASE_OUTPUTS = {
    "phase_steps": np.int64, "phase_steps_half": np.int64, "min_log2x_half": np.float64,
    "final_log2x_half": np.float64, "n_spikes_half": np.int64, "arrival_step": np.int64, "phase_start": np.int64,
}

#: ``|x| <= ARRIVAL lr``: the run has come down to the SignGD-like scale (the loss within
#: ``k log10 2`` decades of ``c lr^k/k``); :func:`cell_phases` records the first such step
ARRIVAL = 2.0

_BAND = 2.0 ** 16  # |X| kept within [2^-16, 2^16] of the units
_VBAND = 2.0 ** 96


@njit(inline="always")
def _units_due(X, V):
    """Whether a cell's units are due for renewal: ``|X|`` outside ``[2^-16, 2^16]`` or ``V`` outside
    ``[2^-96, 2^96]`` (zero and non-finite values do not count). Branch-free (lane loops call it)."""
    ax = abs(X)
    return (ax > _BAND) | ((ax < 1.0 / _BAND) & (ax > 0.0)) | (V > _VBAND) | ((V < 1.0 / _VBAND) & (V > 0.0))


@njit(inline="always")
def _renewed_units(k, X, M, V, ex, ev):
    """New units ``x = X 2^ex``, ``m = M 2^((k-1) ex)``, ``v = V 2^ev`` (``ev`` even), by exact powers of two:
    returns ``(X, M, V, ex, ev, e1)``, ``e1`` the shift of ``x``'s exponent (statistics kept in ``x``'s units
    are divided by ``2^e1``)."""
    ax = abs(X)
    e1 = math.frexp(X)[1] if (ax > 0.0 and ax < math.inf) else 0
    e2 = 0
    if V > 0.0 and V < math.inf:
        e2 = math.frexp(V)[1]
        e2 -= e2 & 1
    X = math.ldexp(X, -e1)
    M = math.ldexp(M, -(k - 1) * e1)
    ex += e1
    V = math.ldexp(V, -e2)
    ev += e2
    if 2 * (k - 1) * ex - ev > 960:
        # a giant jump of |x| in one step (the scan kernel stops such a cell: status 8): g^2 would
        # overflow in v's units; express v in the units of g^2 (its old part is below 2^-960 of it)
        e3 = 2 * (k - 1) * ex
        V = math.ldexp(V, ev - e3)
        ev = e3
    return X, M, V, ex, ev, e1


@njit(inline="always")
def _unit_factors(k, lr, b2, eps, thr, ex, ev):
    """The per-cell constants in the units ``(ex, ev)``: ``(1-b2) 2^(2(k-1)ex - ev)``, the step factor
    ``lr 2^((k-2)ex - ev/2)``, ``eps 2^(-ev/2)``, and the phase and arrival thresholds ``thr``, ``ARRIVAL lr``
    in ``x``'s units."""
    cv = math.ldexp(1.0 - b2, 2 * (k - 1) * ex - ev)
    es = lr * math.ldexp(1.0, (k - 2) * ex - ev // 2)
    feps = math.ldexp(eps, -(ev // 2))
    return cv, es, feps, math.ldexp(thr, -ex), math.ldexp(ARRIVAL * lr, -ex)


@njit(cache=True, error_model="numpy")
def cell_phases(k, curv, bc, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen):
    """Longest run below the band (whole run and up to step ``half``), the half-run statistics, the
    arrival step and the start of the first phase.

    Returns ``(longest, longest_half, min_log2x_half, log2x_half, n_spikes_half, arrival, start)``:
    ``arrival`` is the first step with ``|x| <= ARRIVAL lr`` and ``start`` the first step of the first
    run of at least ``plen`` steps below the band (-1: none). The run stops early (statistics so far)
    if ``x`` becomes 0, non-finite or the update 0/0.
    """
    # units: x = X 2^ex, m = M 2^((k-1) ex), v = V 2^ev (ev even), as in dynsys.scan.lanes
    if x0 == 0.0 or not math.isfinite(x0):
        return 0, 0, -math.inf if x0 == 0.0 else math.inf, -math.inf if x0 == 0.0 else math.inf, 0, 0 if x0 == 0.0 else -1, -1
    ex = math.frexp(abs(x0))[1]
    X = math.ldexp(x0, -ex)
    ev = 2 * (k - 1) * ex
    M = 0.0
    V = 0.0
    ob1 = 1.0 - b1
    p1 = 1.0
    p2 = 1.0
    thr = lr * 10.0 ** (-depth / k)  # |x| below it: the loss is >= depth decades below c lr^k/k
    cv, es, feps, ths, tas = _unit_factors(k, lr, b2, eps, thr, ex, ev)
    arrival = -1
    pstart = -1
    rmin = abs(X)
    peak = 0.0
    nsp = 0
    cur = 0
    longest = 0
    lh = 0
    mh = math.inf
    fh = math.inf
    nh = 0
    t = 0
    for t in range(steps + 1):
        a = abs(X)
        if not (a < math.inf):
            break
        # running minimum and spike state machine: dynsys.scan.lanes.arithmetic._stats, in the same units
        if a < rmin:
            rmin = a
        insb = peak > 0.0
        start = a > rmin * spike_up
        pk2 = a if a > peak else peak
        end = insb and (a * spike_up < pk2)
        peak = pk2 if ((insb or start) and not end) else 0.0
        if end:
            nsp += 1
        if arrival < 0 and a <= tas:
            arrival = t
        if a < ths:
            cur += 1
            if cur > longest:
                longest = cur
            if cur == plen and pstart < 0:
                pstart = t - plen + 1
        else:
            cur = 0
        if t == half:
            lh = longest
            mh = _log2_scaled(rmin, ex) if rmin > 0.0 else -math.inf
            fh = _log2_scaled(a, ex) if a > 0.0 else -math.inf
            nh = nsp
        if t == steps or a == 0.0:
            break
        G = X
        for _ in range(k - 2):
            G = G * X
        G = G * curv
        m = b1 * M + ob1 * G
        v = b2 * V + cv * (G * G)
        if bc:
            p1 = p1 * b1
            p2 = p2 * b2
            den = math.sqrt(v / (1.0 - p2)) + feps
            if den == 0.0:
                break
            X = X - es * (m / (1.0 - p1)) / den
        else:
            den = math.sqrt(v) + feps
            if den == 0.0:
                break
            X = X - es * m / den
        M = m
        V = v
        if _units_due(X, V):
            X, M, V, ex, ev, e1 = _renewed_units(k, X, M, V, ex, ev)
            rmin = math.ldexp(rmin, -e1)
            peak = math.ldexp(peak, -e1)
            cv, es, feps, ths, tas = _unit_factors(k, lr, b2, eps, thr, ex, ev)
    if t < half:  # stopped early (x = 0 or not finite): the half-run statistics are those so far
        lh = longest
        mh = _log2_scaled(rmin, ex) if rmin > 0.0 else -math.inf
        fh = mh if abs(X) == 0.0 else math.inf
        nh = nsp
    return longest, lh, mh, fh, nh, arrival, pstart


#: cells followed together by :func:`_vector_phases` (the lane loop is branch-free, so LLVM vectorizes it)
VLANES = 32
# offsets of the per-lane values in the flat state of :func:`_vector_phases` (one float64 array, so that
# the lane loops see one base pointer: no aliasing question stops their vectorization)
(_X, _M, _V, _B1, _OB1, _B2, _CV, _ES, _FEPS, _THS, _TAS, _P1, _P2, _RMIN, _PEAK, _NSP, _CUR, _LONG, _ARR,
 _FST, _LIVE, _STOP, _GP, _DUE, _XHI, _XLO, _VHI, _VLO) = [i * VLANES for i in range(28)]
_NS = 28 * VLANES
#: the values a fast span changes (saved at its start, restored for a careful rerun), in save order
_SPAN_STATE = (_X, _M, _V, _P1, _P2, _RMIN, _PEAK, _NSP, _ARR, _CUR, _LONG, _FST)
#: steps of a fast span (no per-step stop or unit checks; checked at its end)
SPAN_STEPS = 32
#: a fast span is kept only if ``|X|`` stayed within ``2^(+-_XBAND // (k-1))`` and ``V`` within ``2^(+-_VBAND_SPAN)``
#: of the units: then ``G^2 = X^(2(k-1))`` and every other intermediate stays far from under/overflow, and the
#: span's values are those of steps with the units renewed at every step (scaling by powers of two is exact)
_XBAND = 400
_VBAND_SPAN = 600


@njit(inline="always")
def _phase_counters(t, a, r0, peak0, ns0, arr0, cur0, lng0, fst0, ths, tas, spike_up, plen):
    """The statistics of :func:`cell_phases` at ``x_t`` (``a = |X_t|``) from their values before: running minimum,
    spike state and count (the scan kernel's :func:`~dynsys.scan.lanes.arithmetic._stats`), arrival step, current
    and longest run below the band, first step of the first run of ``plen``. Selects only (lane loops)."""
    r, _, peak, ns, _ = _stats(t, a, r0, 0.0, peak0, ns0, 0.0, spike_up)
    arr = t if ((arr0 < 0.0) & (a <= tas)) else arr0
    cur = cur0 + 1.0 if a < ths else 0.0
    lng = cur if cur > lng0 else lng0
    fst = t - plen + 1.0 if ((cur == plen) & (fst0 < 0.0)) else fst0
    return r, peak, ns, arr, cur, lng, fst


@njit(inline="always")
def _phase_stats_lane(S, j, t, spike_up, plen):
    """The statistics of :func:`cell_phases` at ``x_t`` for lane ``j`` (selects only, no effect on a lane
    that has stopped). Every value is loaded before any select (a load inside one arm of a select is a
    branch, and stops the loop's vectorization)."""
    a = abs(S[_X + j])
    was = S[_LIVE + j] != 0.0
    r0 = S[_RMIN + j]
    peak0 = S[_PEAK + j]
    ns0 = S[_NSP + j]
    arr0 = S[_ARR + j]
    cur0 = S[_CUR + j]
    lng0 = S[_LONG + j]
    fst0 = S[_FST + j]
    stop0 = S[_STOP + j]
    ths = S[_THS + j]
    tas = S[_TAS + j]
    live = was & (a < math.inf)
    r, peak, ns, arr, cur, lng, fst = _phase_counters(t, a, r0, peak0, ns0, arr0, cur0, lng0, fst0, ths, tas,
                                                      spike_up, plen)
    S[_RMIN + j] = r if live else r0
    S[_PEAK + j] = peak if live else peak0
    S[_NSP + j] = ns if live else ns0
    S[_ARR + j] = arr if live else arr0
    S[_CUR + j] = cur if live else cur0
    S[_LONG + j] = lng if live else lng0
    S[_FST + j] = fst if live else fst0
    # a non-finite x stops the lane before its statistics (tstop = t), as in cell_phases
    S[_STOP + j] = t if (was & (live ^ True)) else stop0
    S[_LIVE + j] = 1.0 if live else 0.0


@njit(inline="always")
def _phase_update_lane(S, j, t, bc):
    """One step of lane ``j`` (``G`` in ``S[_GP + j]``), as in :func:`cell_phases`: a zero denominator
    stops the lane (``tstop = t``, state unchanged); so does ``x = 0``, after its statistics. Marks in
    ``S[_DUE + j]`` whether the lane's units are due for renewal (loads first, as in :func:`_phase_stats_lane`)."""
    x = S[_X + j]
    live = S[_LIVE + j] != 0.0
    G = S[_GP + j]
    b1 = S[_B1 + j]
    b2 = S[_B2 + j]
    mo = S[_M + j]
    vo = S[_V + j]
    stop0 = S[_STOP + j]
    zero = live & (x == 0.0)
    m = b1 * mo + S[_OB1 + j] * G
    v = b2 * vo + S[_CV + j] * (G * G)
    if bc:
        p10 = S[_P1 + j]
        p20 = S[_P2 + j]
        p1 = p10 * b1
        p2 = p20 * b2
        den = math.sqrt(v / (1.0 - p2)) + S[_FEPS + j]
        xn = x - S[_ES + j] * (m / (1.0 - p1)) / den
    else:
        den = math.sqrt(v) + S[_FEPS + j]
        xn = x - S[_ES + j] * m / den
    stop = zero | (live & (den == 0.0))
    go = live & (stop ^ True)
    if bc:
        S[_P1 + j] = p1 if go else p10
        S[_P2 + j] = p2 if go else p20
    S[_X + j] = xn if go else x
    S[_M + j] = m if go else mo
    S[_V + j] = v if go else vo
    S[_STOP + j] = t if stop else stop0
    S[_LIVE + j] = 1.0 if go else 0.0
    due = go & _units_due(xn, v)
    S[_DUE + j] = 1.0 if due else 0.0
    return (1 if due else 0), (1 if go else 0)


@njit(inline="always")
def _fast_lane(S, j, t, spike_up, plen, bc, G):
    """One step of lane ``j`` on a fast span: the statistics of :func:`_phase_stats_lane` and the update of
    :func:`_phase_update_lane` for a lane that is followed (every lane is, on a fast span), without the stop
    and unit checks; the extremes of ``|X|`` and ``V`` it reaches are kept (NaN propagates into them)."""
    x = S[_X + j]
    a = abs(x)
    r0 = S[_RMIN + j]
    peak0 = S[_PEAK + j]
    ns0 = S[_NSP + j]
    arr0 = S[_ARR + j]
    cur0 = S[_CUR + j]
    lng0 = S[_LONG + j]
    fst0 = S[_FST + j]
    ths = S[_THS + j]
    tas = S[_TAS + j]
    b1 = S[_B1 + j]
    b2 = S[_B2 + j]
    mo = S[_M + j]
    vo = S[_V + j]
    xhi = S[_XHI + j]
    xlo = S[_XLO + j]
    vhi = S[_VHI + j]
    vlo = S[_VLO + j]
    r, peak, ns, arr, cur, lng, fst = _phase_counters(t, a, r0, peak0, ns0, arr0, cur0, lng0, fst0, ths, tas,
                                                      spike_up, plen)
    S[_RMIN + j] = r
    S[_PEAK + j] = peak
    S[_NSP + j] = ns
    S[_ARR + j] = arr
    S[_CUR + j] = cur
    S[_LONG + j] = lng
    S[_FST + j] = fst
    m = b1 * mo + S[_OB1 + j] * G
    v = b2 * vo + S[_CV + j] * (G * G)
    if bc:
        p1 = S[_P1 + j] * b1
        p2 = S[_P2 + j] * b2
        den = math.sqrt(v / (1.0 - p2)) + S[_FEPS + j]
        xn = x - S[_ES + j] * (m / (1.0 - p1)) / den
        S[_P1 + j] = p1
        S[_P2 + j] = p2
    else:
        den = math.sqrt(v) + S[_FEPS + j]
        xn = x - S[_ES + j] * m / den
    S[_X + j] = xn
    S[_M + j] = m
    S[_V + j] = v
    ax = abs(xn)
    S[_XHI + j] = xhi if ax <= xhi else ax
    S[_XLO + j] = xlo if ax >= xlo else ax
    S[_VHI + j] = vhi if v <= vhi else v
    S[_VLO + j] = vlo if v >= vlo else v


@njit(inline="always")
def _fast_steps(S, t0, t1, k, curv, spike_up, plen, bc):
    """The steps of :func:`_fast_span` (``bc`` a literal at the call site)."""
    L = VLANES
    for t in range(t0, t1):
        tf = float(t)
        if k == 4:
            for j in range(L):
                x = S[_X + j]
                _fast_lane(S, j, tf, spike_up, plen, bc, ((x * x) * x) * curv)
        elif k == 6:
            for j in range(L):
                x = S[_X + j]
                _fast_lane(S, j, tf, spike_up, plen, bc, ((((x * x) * x) * x) * x) * curv)
        else:
            for j in range(L):
                x = S[_X + j]
                _fast_lane(S, j, tf, spike_up, plen, bc, ((((((x * x) * x) * x) * x) * x) * x) * curv)


@njit(inline="always")
def _fast_span(S, t0, t1, k, curv, bc, spike_up, plen, xband):
    """Steps ``t0 .. t1-1`` of a block whose lanes are all followed, in fused lane loops (``k`` = 4, 6 or 8: the
    gradient power written out as :func:`cell_phases`' products). Returns whether the span may be kept: no lane
    left the bands of :data:`_XBAND` / :data:`_VBAND_SPAN`, met ``x = 0``, a zero denominator or a non-finite
    value (any of these: the caller restores the span's start and reruns it step by step)."""
    L = VLANES
    for j in range(L):
        S[_XHI + j] = abs(S[_X + j])
        S[_XLO + j] = abs(S[_X + j])
        S[_VHI + j] = S[_V + j]
        S[_VLO + j] = S[_V + j]
    # bias correction as a literal at each call site, so that the lane loop holds one update, not both
    if bc:
        _fast_steps(S, t0, t1, k, curv, spike_up, plen, True)
    else:
        _fast_steps(S, t0, t1, k, curv, spike_up, plen, False)
    xb = 2.0 ** (xband // (k - 1))
    vb = 2.0 ** _VBAND_SPAN
    bad = 0
    for j in range(L):
        ok = (S[_XHI + j] <= xb) & (S[_XLO + j] >= 1.0 / xb) & (S[_VHI + j] <= vb) & (S[_VLO + j] >= 1.0 / vb)
        bad += 0 if ok else 1
    return bad == 0


@njit(inline="always")
def _careful_step(S, t, k, curv, bc, spike_up, fplen, half, steps, ex, ev, thr, lh, mh, fh, nh, lr, b2, eps, cell):
    """Step ``t`` of every followed lane with the stop and unit checks of :func:`cell_phases` at every step (the
    half-run record at ``t = half``; every lane stops at ``t = steps``). Returns the number of lanes still
    followed."""
    L = VLANES
    tf = float(t)
    for j in range(L):
        _phase_stats_lane(S, j, tf, spike_up, fplen)
    if t == half:
        for j in range(L):
            if S[_LIVE + j] != 0.0:
                a = abs(S[_X + j])
                r = S[_RMIN + j]
                lh[j] = int(S[_LONG + j])
                mh[j] = _log2_scaled(r, ex[j]) if r > 0.0 else -math.inf
                fh[j] = _log2_scaled(a, ex[j]) if a > 0.0 else -math.inf
                nh[j] = int(S[_NSP + j])
    if t == steps:
        for j in range(L):
            S[_STOP + j] = tf if S[_LIVE + j] != 0.0 else S[_STOP + j]
            S[_LIVE + j] = 0.0
        return 0
    for j in range(L):
        S[_GP + j] = S[_X + j]
    for _ in range(k - 2):
        for j in range(L):
            S[_GP + j] = S[_GP + j] * S[_X + j]
    for j in range(L):
        S[_GP + j] = S[_GP + j] * curv
    due = 0
    live_n = 0
    if bc:  # a literal at each call site: one update in the lane loop
        for j in range(L):
            d, g = _phase_update_lane(S, j, tf, True)
            due += d
            live_n += g
    else:
        for j in range(L):
            d, g = _phase_update_lane(S, j, tf, False)
            due += d
            live_n += g
    if due:
        for j in range(L):
            if S[_DUE + j] != 0.0:
                _renew_units(S, j, k, ex, ev, thr, lr[cell[j]], b2[cell[j]], eps[cell[j]])
    return live_n


@njit(cache=True, error_model="numpy")
def _vector_phases(k, curv, bc, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen, xband, c0, c1,
                   phase_steps, phase_steps_half, min_log2x_half, final_log2x_half, n_spikes_half,
                   arrival_step, phase_start):
    """:func:`cell_phases` for cells ``c0 .. c1-1`` (at most :data:`VLANES`), advanced step by step together in
    branch-free lane loops that LLVM vectorizes (4 cells per AVX2 instruction), with the same operations per cell in
    the same order as :func:`cell_phases`, so the same bits.

    While every lane is followed, the steps go in fast spans of :data:`SPAN_STEPS` (:func:`_fast_span`: statistics,
    gradient and update fused in one loop, bias correction a literal, no per-step stop or unit checks), cut at
    ``half`` and ``steps``; a span after which some lane has left the band of ``xband`` (or met ``x = 0``, a zero
    denominator, a non-finite value) is restored and rerun by :func:`_careful_step`, which has the checks at every
    step (a stopped lane keeps its state by selects), as do the steps ``half`` (the half-run record) and ``steps``,
    and every step once a lane has stopped. Units are renewed after a span where the step-by-step run would have
    renewed them by then: scaling by powers of two is exact while nothing under- or overflows, which the band
    guarantees, so the time of the renewal changes no bit. The half-run logarithms are formed as
    ``log2 m + (n + ex)`` (:func:`dynsys.scan.lanes.arithmetic._log2_scaled`), the same whatever the units.
    Padding lanes, and lanes of the cells the scalar function takes, follow a copy of a followed cell."""
    L = VLANES
    S = np.zeros(_NS)
    ex = np.zeros(L, np.int64)
    ev = np.zeros(L, np.int64)
    thr = np.zeros(L)
    lh = np.zeros(L, np.int64)
    mh = np.full(L, math.inf)
    fh = np.full(L, math.inf)
    nh = np.zeros(L, np.int64)
    scalar = np.zeros(L, np.bool_)
    n = c1 - c0
    # every lane follows a cell: its own, or (padding, and the cells the scalar function takes: x0 = 0 or not
    # finite) a copy of the block's first followed cell, whose outputs are not written; so a block whose cells are
    # all followed can take the fast spans
    cell = np.full(L, -1, np.int64)
    first = -1
    for j in range(n):
        c = c0 + j
        if x0[c] == 0.0 or not math.isfinite(x0[c]):
            scalar[j] = True  # handled by the scalar function
        else:
            cell[j] = c
            if first < 0:
                first = c
    for j in range(L):
        if cell[j] < 0:
            cell[j] = first
    live_n = 0
    for j in range(L):
        S[_STOP + j] = -1.0
        S[_ARR + j] = -1.0
        S[_FST + j] = -1.0
        S[_P1 + j] = 1.0
        S[_P2 + j] = 1.0
        c = cell[j]
        if c < 0:
            continue  # no cell of the block is followed
        e = math.frexp(abs(x0[c]))[1]
        S[_X + j] = math.ldexp(x0[c], -e)
        ex[j] = e
        ev[j] = 2 * (k - 1) * e
        S[_B1 + j] = b1[c]
        S[_OB1 + j] = 1.0 - b1[c]
        S[_B2 + j] = b2[c]
        thr[j] = lr[c] * 10.0 ** (-depth / k)
        S[_CV + j], S[_ES + j], S[_FEPS + j], S[_THS + j], S[_TAS + j] = _unit_factors(k, lr[c], b2[c], eps[c], thr[j],
                                                                                       ex[j], ev[j])
        S[_RMIN + j] = abs(S[_X + j])
        S[_LIVE + j] = 1.0
        live_n += 1
    fplen = float(plen)
    fusable = k == 4 or k == 6 or k == 8
    S0 = np.empty(len(_SPAN_STATE) * L)
    t = 0
    while t <= steps and live_n > 0:
        if fusable and live_n == L and t != half and t != steps:
            t1 = min(t + SPAN_STEPS, half if t < half else steps)
            for q in range(len(_SPAN_STATE)):
                for j in range(L):
                    S0[q * L + j] = S[_SPAN_STATE[q] + j]
            if _fast_span(S, t, t1, k, curv, bc, spike_up, fplen, xband):
                for j in range(L):  # renew the units where the step-by-step run would have by now
                    if _units_due(S[_X + j], S[_V + j]):
                        _renew_units(S, j, k, ex, ev, thr, lr[cell[j]], b2[cell[j]], eps[cell[j]])
                t = t1
                continue
            for q in range(len(_SPAN_STATE)):  # rare: rerun the span step by step
                for j in range(L):
                    S[_SPAN_STATE[q] + j] = S0[q * L + j]
            while t < t1 and live_n > 0:
                live_n = _careful_step(S, t, k, curv, bc, spike_up, fplen, half, steps, ex, ev, thr, lh, mh, fh, nh,
                                       lr, b2, eps, cell)
                t += 1
            continue
        live_n = _careful_step(S, t, k, curv, bc, spike_up, fplen, half, steps, ex, ev, thr, lh, mh, fh, nh, lr, b2,
                               eps, cell)
        t += 1
    for j in range(n):
        c = c0 + j
        if scalar[j]:
            a_, b_, c_, d_, e_, f_, g_ = cell_phases(k, curv, bc, lr[c], b1[c], b2[c], eps[c], x0[c], steps, depth,
                                                     spike_up, half, plen)
            phase_steps[c], phase_steps_half[c], min_log2x_half[c], final_log2x_half[c], n_spikes_half[c] = a_, b_, c_, d_, e_
            arrival_step[c], phase_start[c] = f_, g_
            continue
        if S[_STOP + j] < half:  # stopped early: the half-run statistics are those so far
            lh[j] = int(S[_LONG + j])
            r = S[_RMIN + j]
            mh[j] = _log2_scaled(r, ex[j]) if r > 0.0 else -math.inf
            fh[j] = mh[j] if abs(S[_X + j]) == 0.0 else math.inf
            nh[j] = int(S[_NSP + j])
        phase_steps[c] = int(S[_LONG + j])
        phase_steps_half[c] = lh[j]
        min_log2x_half[c] = mh[j]
        final_log2x_half[c] = fh[j]
        n_spikes_half[c] = nh[j]
        arrival_step[c] = int(S[_ARR + j])
        phase_start[c] = int(S[_FST + j])


@njit(inline="always")
def _renew_units(S, j, k, ex, ev, thr, lr, b2, eps):
    """Renew lane ``j``'s units by exact powers of two (:func:`_renewed_units`, as :func:`cell_phases` does)."""
    X, M, V, exj, evj, e1 = _renewed_units(k, S[_X + j], S[_M + j], S[_V + j], ex[j], ev[j])
    S[_X + j] = X
    S[_M + j] = M
    S[_V + j] = V
    ex[j] = exj
    ev[j] = evj
    S[_RMIN + j] = math.ldexp(S[_RMIN + j], -e1)
    S[_PEAK + j] = math.ldexp(S[_PEAK + j], -e1)
    S[_CV + j], S[_ES + j], S[_FEPS + j], S[_THS + j], S[_TAS + j] = _unit_factors(k, lr, b2, eps, thr[j], exj, evj)


@njit(parallel=True, cache=True)
def _phase_cells(k, curv, bc, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen, xband,
                 phase_steps, phase_steps_half, min_log2x_half, final_log2x_half, n_spikes_half, arrival_step, phase_start):
    n = lr.shape[0]
    nb = (n + VLANES - 1) // VLANES
    for blk in prange(nb):
        c0 = blk * VLANES
        _vector_phases(k, curv, bc, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen, xband, c0,
                       min(c0 + VLANES, n), phase_steps, phase_steps_half, min_log2x_half, final_log2x_half,
                       n_spikes_half, arrival_step, phase_start)


def covered(optimizer: str, params: dict) -> np.ndarray:
    """Boolean mask of the cells :func:`phase_statistics` follows (see the module docstring)."""
    n = params["lr"].shape[0]
    if optimizer not in ("rmsprop", "adam", "adamw"):
        return np.zeros(n, bool)
    ok = params["lr_decay"] == 1.0
    if optimizer == "adamw":
        ok &= params["weight_decay"] == 0.0
    return ok


def phase_statistics(k, curv, bias_correction, lr, beta1, beta2, eps, x0, steps, *, depth, spike_factor,
                     phase_length=8, device="cpu", _span_band=_XBAND):
    """Per-cell :data:`PHASE_OUTPUTS` for cells of one ``k`` and curvature (1-D arrays).

    ``depth``: decades below ``c lr^k/k`` that count as an exponential phase (the scan's
    ``plateau_depth``); ``spike_factor``: the scan's spike threshold (for the half-run spike count);
    ``phase_length``: the phase length whose first occurrence ``phase_start`` records (the scan's
    ``phase_length``). ``device``: ``"cpu"`` (the vectorized lanes) or ``"cuda"`` (one GPU thread per cell running
    :func:`cell_phases`, :func:`dynsys.scan.cuda_backend.phase_statistics_cuda`: the same outputs).
    ``_span_band`` (tests only): the :data:`_XBAND` a fast span must keep to (a small one makes spans fail and
    rerun step by step often; the outputs are the same).
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device = {device!r}; allowed: 'cpu' or 'cuda'")
    lr = np.ascontiguousarray(lr, dtype=np.float64)
    n = lr.shape[0]
    out = {key: np.empty(n, dt) for key, dt in PHASE_OUTPUTS.items()}
    arrays = [np.ascontiguousarray(np.broadcast_to(a, (n,)), dtype=np.float64) for a in (beta1, beta2, eps, x0)]
    args = (int(k), float(curv), bool(bias_correction), lr, *arrays, int(steps), float(depth),
            float(spike_factor) ** (1.0 / k), int(steps) // 2, int(phase_length))
    if device == "cuda":
        from dynsys.scan.cuda_backend import phase_statistics_cuda

        phase_statistics_cuda(*args, [out[key] for key in PHASE_OUTPUTS])
    else:
        _phase_cells(*args, int(_span_band), *[out[key] for key in PHASE_OUTPUTS])
    return out
