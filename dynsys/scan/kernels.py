"""Compiled per-cell kernels of the phase scanner (optimizer on ``c x^k / k``).

One cell = one optimizer run on the scalar objective ``L(x) = c x^k / k`` (``c = 1`` for
``power``, ``c`` the curvature for ``quadratic`` with ``k = 2``), gradient ``g = c x^{k-1}``,
in the update order of :mod:`dynsys.optimizers` (PyTorch convention)::

    m   = b1 m + (1-b1) g                 v = b2 v + (1-b2) g^2      (adaptive only)
    x  <- x (1 - eta_t wd) - eta_t mhat / (sqrt(vhat) + eps)          (rmsprop, adam, adamw)
    x  <- x (1 - eta_t wd) - eta_t m                                  (gd: b1 = 0; momentum)

with ``eta_t = lr * lr_decay^t``, ``m_0 = v_0 = 0`` and ``mhat = m/(1-b1^{t+1})``,
``vhat = v/(1-b2^{t+1})`` under bias correction (``t`` counts updates from 0).

Scaled coordinates (no underflow)
---------------------------------
With ``eps = 0`` Adam converges linearly on ``x^k`` (math.md D5), so after 10^4-10^5 steps
``x``, ``g`` and ``v`` are far below 1e-308. Each cell therefore carries
``x = X 2^ex``, ``m = M 2^{(k-1) ex}``, ``v = V 2^ev`` with integer exponents ``ex, ev``
(``ev`` even) and mantissas ``X, M, V`` renormalized by exact power-of-two scaling
(``frexp``/``ldexp``: ``X`` to [1/2, 1), ``V`` to [1/4, 1)) at the end of a :data:`SPAN`-step
span (two :data:`BLOCK`-step windows) whenever they have drifted far from 1: ``|G| = |X|^{k-1}`` beyond ``2^(+-48)`` or ``V``
beyond ``2^(+-96)`` (:func:`_renorm_due`; the rule is per cell, so both kernels renew the same
cell's units at the same steps). In those units one step reads::

    G = c X^{k-1}
    M = b1 M + (1-b1) G
    V = b2 V + [(1-b2) 2^{2(k-1)ex - ev}] G^2
    X = X (1 - eta_t wd) - (eta_t [2^{(k-2)ex - ev/2}]) Mhat / (sqrt(Vhat) + [eps 2^{-ev/2}])

(bracketed factors are per-cell constants between renormalizations). Scaling by powers of
two is exact, so this is plain float64 arithmetic wherever plain float64 does not underflow,
and ``log10 loss = log10(c/k) + k log10|x|`` stays exact far below 1e-308. For the same
reason the statistics do not depend on *when* the units are renewed (as long as nothing
underflows or overflows in between); logarithms are formed from normalized parts
(:func:`_log2_scaled`) so that they do not either. Renewing the units only when needed (instead
of at every window end, as before 2026-11-23) leaves most span ends with nothing to do but the
exact minimum and the sustained level (:func:`_window_end_cheap`): the whole scan is about 12 %
faster, with the same outputs bit for bit except ``coupling_sum`` in the last bit. Checking the
units every second window (a :data:`SPAN` of 64 steps instead of 32, also from 2026-11-23; the
window statistics are still taken at every window end, :func:`_mid_window`) made it another 6 %
faster with the same outputs, except where a cell fails or leaves the range of a span (status and
``fail_step`` of such cells, see below).

Lanes (speed)
-------------
:func:`scan_cells` advances :data:`LANES` cells together: the lane state lives in one flat
array at compile-time-constant offsets, every value is loaded unconditionally and combined with
selects, so LLVM vectorizes the lane loop (AVX2: 4 doubles per instruction); blocks of lanes
run in parallel with ``prange``. No fastmath. The per-step arithmetic (:func:`_stats`,
:func:`_update_adaptive`, ...) and the per-block bookkeeping (:func:`_block_end`) are shared,
inlined functions, and :func:`scan_cells_reference` calls the same ones one cell at a time,
so the two kernels are bit-identical by construction (and tested), whatever the thread count.
The gradient power ``X^{k-1}`` is formed in its own passes over the lanes (a runtime trip count
inside the lane loop would stop vectorization), except for ``k = 4`` where ``(X X) X`` is
computed in the lane loop (the same products, about 1.2x faster).

The span's end (exact minimum, sustained level, renormalization, new per-span constants) is
done for all lanes at once: by :func:`_window_end_cheap` when no lane renews its units, else by
:func:`_window_end_fast`: branch-free loops, ``frexp`` / ``ldexp``
on the exponent bits, no per-lane condition on a stored value (LLVM turns ``S[i] = new if c else
S[i]`` into masked loads and stores, which are slow on AMD processors). A lane with anything
unusual (a zero, subnormal or non-finite value, an exponent out of range, a failure) sends the
block through :func:`_window_end_general`, i.e. :func:`_block_end` lane by lane, which is also what
the scalar reference uses; the fast version gives the same bits whenever it applies.

Exact shortcuts (each gives the same floating-point values as the plain form):

* *fast path* (:func:`_lane_fast`): for adaptive optimizers with ``lr_decay = 1`` and
  ``wd = 0`` in every lane of a block, ``eta_t = lr`` and ``x (1 - eta wd) = x`` exactly, so the
  step uses the per-span constant ``eta sfx`` and skips the per-step failure bookkeeping; a
  failure (some ``|x_{t+1}| >= 2^500``, inf or NaN, which a zero denominator always produces in
  the same step) is seen at the window's end (``BMAX`` or ``X``) and the window is then rerun
  from a copy of its start with the tracking lane functions, which find the exact step;
* ``G`` is stored only at a window's last step (only the coupling sample reads it);
* :func:`_frexp` / :func:`_ldexp` read and build the exponent bits of normal numbers instead
  of calling the C library (``x * 2^n`` with an exact power is one IEEE rounding, the same as
  ``ldexp``); zero, subnormal, inf, NaN and out-of-range exponents take the library call;
* compiled variants of the fast window (:func:`_steps_fast_variant`) for curvature 1 and for
  ``eps = 0`` in a whole block skip ``G * 1.0`` and ``sqrt(v) + 0.0`` (``v >= +0``, never -0).

Per-cell statistics (outputs)
-----------------------------
* ``min_log2x``, ``min_step``: ``log2 min_t |x_t|`` over ``t = 0..steps`` and the first step
  where it is reached (the loss is monotone in ``|x|`` for even ``k``);
* ``final_log2x``: ``log2 |x_steps|`` (``+inf`` after an overflow, ``-inf`` for ``x = 0``);
* ``sustained_log2x``: ``min`` over the consecutive :data:`BLOCK`-step windows of
  ``log2 max_{t in window} |x_t|``: the lowest level the loss *stays* below for a whole window
  (an oscillation that touches 0 by chance does not lower it); the minimum is taken exactly on
  (mantissa, exponent) pairs and its ``log2`` formed once at the end;
* ``n_spikes``: completed spikes. A spike starts when the loss exceeds ``spike_factor`` times
  its running minimum and is counted when the loss has fallen back by ``spike_factor`` from
  the spike's peak (in ``|x|`` the factor is ``spike_factor^{1/k}``); the state is the peak
  itself (``> 0`` inside a spike, ``0`` outside);
* ``coupling_sum``, ``coupling_n``: sum and count of ``log2 C_t``, ``C_t = v_t / g_t^2`` (the
  coupling ratio of Appendix E, math.md D13), sampled at the last step of every window that
  ends at or after step ``coupling_start``;
* ``status`` (codes of :mod:`dynsys.kernels.status`), ``fail_step`` (-1 if none).

Range of one span
-----------------
Within a span the units are fixed, so ``|x|`` may grow by at least about
``2^((1023-96)/(2(k-1)))`` (``2^154`` for ``k = 4``; up to ``2^(1023/(2(k-1)))`` when the
units were just renewed) before ``v = O(g^2)`` overflows in those units. Regime II cells do
exactly that: after converging to, say, a loss of 1e-478 the loss jumps back to about
``eta^k`` within a few steps. With ``v = inf`` the update would be 0 and ``x`` would freeze (the
kernels before 2026-11-23 did that silently); now the cell stops with status 8 (``SCAN_RANGE``,
at the span's last step), keeps its minimum, and the classifier labels it II (or III without
an exponential phase before). A larger jump (``|x| >= 2^500`` or ``g`` overflowing in the span's
units) used to be reported as a state overflow (diverged) even when the loss itself was far
below 1e301; it is now status 8 too, and a state overflow only when the loss at ``|x| = 2^500``
would exceed ``2^MAX_LOG2_LOSS``. ``dynsys trajectory`` (log-space coordinates) follows such a cell.
"""
from __future__ import annotations

import math

import numpy as np
from numba import literally, njit, prange

from dynsys.kernels.status import DIVIDE_BY_ZERO, LOSS_OVERFLOW, OK, SCAN_RANGE, STATE_OVERFLOW, ZERO_BY_ZERO

__all__ = ["LANES", "BLOCK", "SPAN", "scan_cells", "scan_cells_reference", "MAX_LOG2_LOSS", "OUTPUTS"]

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


@njit(cache=True, error_model="numpy")
def _finish(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se, c,
            min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status, fail_step):
    """Statistics of the final iterate ``x_steps`` (of a cell still running), then the cell's outputs."""
    if st == OK:
        a = abs(X)
        if a < RMIN:
            fm, fe = _frexp(a)
            gm = fm
            ge = fe + ex
            MSTEP = float(steps)
        if PEAK > 0.0 and a * up < max(PEAK, a):
            NSPK += 1.0
        final_log2x[c] = _log2_scaled(a, ex) if a != 0.0 else -math.inf
    elif st == ZERO_BY_ZERO:
        final_log2x[c] = -math.inf
    elif st == SCAN_RANGE:  # not followed to the end
        final_log2x[c] = math.nan
    else:
        final_log2x[c] = math.inf
    min_log2x[c] = math.log2(gm) + ge if gm != 0.0 else -math.inf
    if se == _SE_INF:
        sustained_log2x[c] = math.inf
    elif se == _SE_ZERO:
        sustained_log2x[c] = -math.inf
    else:
        sustained_log2x[c] = math.log2(sm) + se
    min_step[c] = int(MSTEP)
    n_spikes[c] = int(NSPK)
    coupling_sum[c] = csum
    coupling_n[c] = cn
    status[c] = st
    fail_step[c] = int(FSTEP) if st != OK else -1


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


# ----------------------------------------------------------------------------- scalar reference

@njit(cache=True, error_model="numpy")
def scan_cells_reference(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
                         coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
                         coupling_n, status, fail_step):
    """Scalar reference of :func:`scan_cells`: one cell at a time, scalar locals, the same
    shared arithmetic (:func:`_stats`, the updates, :func:`_block_end`, :func:`_finish`). Exists to
    prove the lane kernel bit-identical (tests, benchmarks)."""
    n = lr.shape[0]
    up = spike_up
    for c in range(n):
        X, M, V, ex, ev, _ = _renorm(k, x0[c], 0.0, 0.0, 0, 0)
        ev = 2 * (k - 1) * ex
        P1 = 1.0
        P2 = 1.0
        e = lr[c]
        RMIN = abs(X)
        MSTEP = 0.0
        PEAK = 0.0
        NSPK = 0.0
        BMAX = 0.0
        FSTEP = -1.0
        ZF = 0.0
        GL = 0.0
        B1 = b1[c]
        OB1 = 1.0 - b1[c]
        B2 = b2[c]
        CV, SFX, FEPS = _factors(k, adaptive, b2[c], eps[c], ex, ev)
        WD = wd[c]
        LRD = lrd[c]
        gm, ge = _frexp(abs(x0[c]))
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
             se, smx) = _block_end(k, adaptive, t0, t1, coupling_start, B2, eps[c], X, M, V, GL, RMIN, MSTEP, PEAK,
                                   BMAX, BMIN, FSTEP, ZF, ex, ev, gm, ge, st, csum, cn, sm, se, smx)
            if st != OK:
                break
            CV = cv
            SFX = sfx
            FEPS = feps
            t0 = t1
        _finish(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se, c,
                min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                fail_step)
