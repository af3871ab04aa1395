"""One cell of the phase scan as one scalar function: the scalar reference and the CUDA device code.

:func:`scan_cell` runs one cell (one optimizer run on ``c x^k/k``) for ``steps`` updates with
scalar locals and returns its nine outputs (:data:`dynsys.scan.lanes.OUTPUTS`, in that order),
from the shared inline functions of :mod:`~dynsys.scan.lanes.arithmetic` (:func:`_stats`, the
updates, :func:`_failure`) and :mod:`~dynsys.scan.lanes.span_ends` (:func:`_mid_window`,
:func:`_block_end`, :func:`finish_values`), so the arithmetic has one definition. It is

* the scalar reference: :func:`dynsys.scan.lanes.scan_cells_reference` calls it cell by cell;
* what the lane kernel runs for a cell that leaves one span's range (status 8), see below;
* the device code of the CUDA backend: numba-cuda compiles an ``@njit`` function called from a
  ``@cuda.jit`` kernel for the GPU, one thread per cell (:mod:`dynsys.scan.cuda_backend`); numba's
  CUDA simulator calls its CPU compilation from each simulated thread.

Cells beyond one span's range
-----------------------------
Inside a span the units are fixed; a giant spike after a long convergence can grow ``|x|`` by more
than about ``2^(1023/(2(k-1)))`` within it, and then ``v = O(g^2)`` (or ``x``) leaves float64 in those
units (status 8, ``SCAN_RANGE``, of the first run). Such a cell is run again from the start by
:func:`run_cell` with ``careful=True``: its units are renewed after *every* step
(:func:`_units_after_step`, exact powers of two, the exact minimum and sustained level flushed to
their (mantissa, exponent) pairs first), which follows any jump of less than about
``2^(1023/(2(k-1)))`` per step (``2^170`` for ``k = 4``). A step that leaves float64 even in those
units (``|x|`` growing by ``2^357`` or ``2^1074`` in one step, or ``g^2`` overtaking a ``v`` far below
it; the per-span factors ``CV``, ``SFX`` overflow) is redone by :func:`_wide_step`: the same update
with its powers of two kept as integers and the result put in fresh units, so a careful run follows
a jump of any size (since 2026-12-06). Renewing units changes no value that stays within float64's
range in both runs, and the wide step replaces only steps that left it, so the careful run is the
first run wherever that one was in range. Status 8 is left only to a step whose update
``lr mhat / (sqrt(vhat) + eps)`` itself overflows in fresh units (``lr`` near float64's maximum).

In a careful run ``m`` gets units of its own when it outgrows ``g`` (:func:`_momentum_units`; AdamW
converging by weight decay shrinks ``x`` faster than ``m`` decays).

An adaptive cell whose first run reports a state overflow (status 5) is run again carefully too
(:func:`rerun_due`): in a giant spike the first run also reports one when a per-span factor, not
``x``, overflows. The careful run is kept when it ends well (:func:`careful_kept`); otherwise the loss
really left float64 and the first run's exact failure step stands.
"""
from __future__ import annotations

import math

from numba import njit

from dynsys.kernels.status import OK, SCAN_RANGE, STATE_OVERFLOW
from dynsys.scan.lanes.arithmetic import (BLOCK, SPAN, _HUGE, _SE_INF, _factors, _failure, _frexp, _ldexp,
                                          _renorm, _stats, _update_adaptive, _update_adaptive_bc,
                                          _update_plain)
from dynsys.scan.lanes.span_ends import _block_end, _mid_window, _sustained, finish_values

__all__ = ["scan_cell", "run_cell", "rerun_due", "careful_kept"]


@njit(error_model="numpy", cache=True)
def scan_cell(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up, coupling_start):
    """One cell of the phase scan (scalars in, the nine outputs out): the scalar reference's cell.

    A cell that leaves one span's range (status 8, ``SCAN_RANGE``: a giant spike after a long
    convergence) is run again from the start with its units renewed after every step
    (:func:`run_cell` with ``careful``; a step that still leaves float64 is redone in fresh units by
    :func:`_wide_step`), which follows a jump of any size."""
    out = run_cell(False, k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up,
                   coupling_start)
    if rerun_due(adaptive, out[7]):
        again = run_cell(True, k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up,
                         coupling_start)
        if careful_kept(out[7], again[7]):
            out = again
    return out


@njit(inline="always")
def rerun_due(adaptive, status):
    """Is a cell's first run redone with ``careful`` units? After status 8 (it left one span's range),
    and for adaptive optimizers after a state overflow (5): the first run also reports one when a
    per-span factor (``SFX = 2^((k-2)ex - ev/2)``, large after a long convergence with a stale ``v``),
    not ``x``, overflowed during a giant spike whose loss stays far from 1e301."""
    return status == SCAN_RANGE or (adaptive and status == STATE_OVERFLOW)


@njit(inline="always")
def careful_kept(first, careful):
    """Does the careful run replace the first? Always after status 8; after a state overflow only
    when the careful run ends well (status 0): otherwise the loss really left float64 and the first
    run's failure step is the exact one (the careful run reports a loss overflow at a span end)."""
    return first == SCAN_RANGE or careful == OK


@njit(inline="always", error_model="numpy")
def _units_after_step(k, adaptive, b2, eps, X, M, V, GL, RMIN, MSTEP, PEAK, BMAX, BMIN, ex, dx, ev, gm, ge, sm,
                      se, tmin, t):
    """Renew a cell's units after step ``t`` (careful mode): first the exact statistics kept in the
    units are flushed to their exact (mantissa, exponent) pairs (a new running minimum since step
    ``tmin``; the finished windows' maxima ``BMIN`` into the sustained level), then ``X`` goes to
    ``[1/2, 1)`` and ``V`` to ``[1/4, 1)`` by exact powers of two and the values kept in the units
    (``M``, ``GL``, running min, peak, window max) follow. ``X``, ``M`` and ``GL`` may already be in
    units ``2^dx`` larger than the statistics' (a step of :func:`_wide_step`: ``x = X 2^(ex+dx)``;
    ``dx = 0`` otherwise). Returns the new values and the new ``tmin = t + 1`` (the start of the
    steps whose minimum is still only in the units)."""
    if MSTEP >= float(tmin) and (tmin > 0 or MSTEP > 0.0):
        fm, fe = _frexp(RMIN)
        gm = fm
        ge = fe + ex
    sm, se = _sustained(BMIN, ex, sm, se)
    e1 = 0
    e2 = 0
    if X != 0.0 and math.isfinite(X):
        _, e1 = _frexp(X)
    if V != 0.0 and math.isfinite(V):
        _, e2 = _frexp(V)
        e2 -= e2 & 1
    exo = ex
    X = _ldexp(X, -e1)
    M = _ldexp(M, -(k - 1) * e1)
    GL = _ldexp(GL, -(k - 1) * e1)
    ex += dx + e1
    V = _ldexp(V, -e2)
    ev += e2
    RMIN = _ldexp(gm, ge - ex)
    PEAK = _ldexp(PEAK, exo - ex)
    BMAX = _ldexp(BMAX, exo - ex)
    cv, sfx, feps = _factors(k, adaptive, b2, eps, ex, ev)
    return X, M, V, GL, RMIN, PEAK, BMAX, math.inf, ex, ev, gm, ge, sm, se, cv, sfx, feps, t + 1


#: careful runs: m gets its own units once its mantissa in the gradient's units leaves 2^(+-_RENORM_M)
_RENORM_M = 512


@njit(inline="always", error_model="numpy")
def _momentum_units(M, dm):
    """Careful runs: the units of ``m`` (``m = M 2^((k-1) ex + dm)``, ``dm >= 0``). ``m`` lives in the
    gradient's units (``dm = 0``) as long as it stays within ``2^_RENORM_M`` of them; when ``x``
    shrinks faster than ``m`` (weight decay with ``lr wd`` near 2, or ``m``'s memory outlasting
    ``g = x^(k-1)``) its mantissa would overflow there (status 8 before 2026-12-06), so it moves to
    units of its own by an exact power of two, and back (``dm`` to 0 at the least) when ``g``
    catches up. The update then uses ``(1-b1) 2^-dm`` and ``SFX 2^dm`` (:func:`_step_factor`, formed
    from the exponents: ``SFX`` itself may have underflowed): the same values whenever nothing under-
    or overflows. Returns ``(M, dm)``."""
    if M != 0.0 and math.isfinite(M):
        e3 = _frexp(M)[1]
        if e3 > _RENORM_M or (e3 < -_RENORM_M and dm > 0):
            e3 = max(e3, -dm)
            M = _ldexp(M, -e3)
            dm += e3
    return M, dm


@njit(inline="always", error_model="numpy")
def _step_factor(k, adaptive, ex, ev, dm):
    """``SFX 2^dm`` from the exponents: ``2^((k-2) ex - ev/2 + dm)`` (adaptive) or ``2^((k-2) ex + dm)``,
    the factor of ``M`` in the update when ``m`` has its own units (:func:`_momentum_units`)."""
    if adaptive:
        return _ldexp(1.0, (k - 2) * ex - ev // 2 + dm)
    return _ldexp(1.0, (k - 2) * ex + dm)


@njit(inline="always", error_model="numpy")
def _wide_step(k, adaptive, bias_correction, X, G, Mo, Vo, e, b1, ob1, b2, eps, wd, p1, p2, ex, ev, dm):
    """One step in fresh units, for a careful run whose ordinary step left float64
    (``v``, the per-span factors ``CV = (1-b2) 2^(2(k-1)ex - ev)``, ``SFX = 2^((k-2)ex - ev/2)`` or
    ``x`` itself): ``|x|`` may grow by any factor in one step (e.g. ``2^1074``, from ``|x| ~ 1e-360``
    to ``lr m/sqrt(v) ~ 1e-37``), and ``v`` by any factor when ``g^2`` overtakes its stale memory.

    The same update (:func:`~dynsys.scan.lanes.arithmetic._update_adaptive`, PyTorch order), with
    the powers of two kept as integers instead of the factors ``CV``, ``SFX``, ``FEPS``::

        v' = b2 v + (1-b2) 2^c G^2          (units 2^(ev+dv); dv even, the larger term's exponent)
        w  = eta mhat' / (sqrt(vhat') + eps 2^(-(ev+dv)/2))
        x' = X (1 - eta wd) - w 2^s,   s = (k-2) ex - (ev+dv)/2,   c = 2(k-1) ex - ev

    (gd and momentum: ``w = eta m'``, ``s = (k-2) ex``, ``v`` unused; both ``s`` plus ``dm`` when ``m``
    has its own units, :func:`_momentum_units`, and then ``ob1`` is ``(1-b1) 2^-dm``) and ``x'`` in units ``2^dx``
    larger, ``dx = max(0, s + e_w)`` (``e_w`` the binary exponent of
    ``w``), so that ``|X'| < 2``; ``m'`` and ``G`` follow in units ``2^((k-1)dx)``. Terms that fall
    below the new units saturate to 0 (they are far below one ulp of the other term). Powers of two
    are exact, so wherever the plain step stays in range it gives the same values. Returns
    ``(x', m', v', den, G', p1', p2', dx, dv)``."""
    m = b1 * Mo + ob1 * G
    if not adaptive:
        w = e * m
        s = (k - 2) * ex + dm
        v = Vo
        den = 1.0
        dv = 0
    else:
        w, s, v, den, p1, p2, dv = _wide_moments(k, bias_correction, G, m, Vo, e, b1, b2, eps, p1, p2, ex, ev)
        s += dm
    a = X * (1.0 - e * wd)
    dx = 0
    if w != 0.0 and math.isfinite(w):
        dx = max(0, s + _frexp(w)[1])
    xn = _ldexp(a, -dx) - _ldexp(w, s - dx)
    return xn, _ldexp(m, -(k - 1) * dx), v, den, _ldexp(G, -(k - 1) * dx), p1, p2, dx, dv


@njit(inline="always", error_model="numpy")
def _wide_moments(k, bias_correction, G, m, Vo, e, b1, b2, eps, p1, p2, ex, ev):
    """The adaptive part of :func:`_wide_step`: ``v'`` in units ``2^(ev+dv)`` and the update
    ``w 2^s``; returns ``(w, s, v', den, p1', p2', dv)``."""
    c = 2 * (k - 1) * ex - ev
    ta = b2 * Vo
    tb = (1.0 - b2) * (G * G)
    ea = _frexp(ta)[1] if ta != 0.0 else -(1 << 40)
    eb = _frexp(tb)[1] + c if tb != 0.0 else -(1 << 40)
    dv = max(ea, eb) if (ta != 0.0 or tb != 0.0) else 0
    dv -= dv & 1
    v = _ldexp(ta, -dv) + _ldexp(tb, c - dv)
    evn = ev + dv
    if bias_correction:
        p1 = p1 * b1
        p2 = p2 * b2
        den = math.sqrt(v / (1.0 - p2)) + _ldexp(eps, -(evn // 2))
        w = (e * (m / (1.0 - p1))) / den
    else:
        den = math.sqrt(v) + _ldexp(eps, -(evn // 2))
        w = (e * m) / den
    return w, (k - 2) * ex - evn // 2, v, den, p1, p2, dv


@njit(error_model="numpy", cache=True)
def run_cell(careful, k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up, coupling_start):
    """One cell's run: the per-cell body of :func:`dynsys.scan.lanes.scan_cells_reference`; with
    ``careful`` its units are renewed after every step (:func:`_units_after_step`) and a step that
    leaves float64 in them is redone in fresh units (:func:`_wide_step`), which changes no value
    that stays in float64's range in both (powers of two are exact) but follows jumps of ``|x|``
    and ``v`` of any size."""
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
    dm = 0  # careful runs: m = M 2^((k-1) ex + dm) (dm > 0 when m outgrows g, _momentum_units)
    OB1E = OB1
    SFXE = SFX
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
        tmin = t0  # first step whose running minimum is kept only in the units (see _block_end)
        for t in range(t0, t1):
            tf = float(t)
            G = X
            for _ in range(k - 2):
                G = G * X
            G = G * curv
            RMIN, MSTEP, PEAK, NSPK, BMAX = _stats(tf, X, RMIN, MSTEP, PEAK, NSPK, BMAX, up)
            Mo, Vo, P1o, P2o = M, V, P1, P2  # the step's inputs, for _wide_step
            if adaptive and bias_correction:
                xn, M, V, den, P1, P2 = _update_adaptive_bc(X, G, M, V, e, B1, OB1E, B2, CV, FEPS, WD, SFXE, P1, P2)
            elif adaptive:
                xn, M, V, den = _update_adaptive(X, G, M, V, e, B1, OB1E, B2, CV, FEPS, WD, SFXE)
            else:
                xn, M = _update_plain(X, G, M, e, B1, OB1E, WD, SFXE)
                den = 1.0
            GL = G
            dx = 0
            if careful and den != 0.0 and not (abs(xn) < _HUGE and math.isfinite(V)):
                # the step left float64 in these units: redo it in fresh ones (_wide_step)
                xn, M, V, den, GL, P1, P2, dx, dv = _wide_step(k, adaptive, bias_correction, X, G, Mo, Vo, e, B1,
                                                               OB1E, B2, eps, WD, P1o, P2o, ex, ev, dm)
                ev += dv
            ZF, FSTEP = _failure(tf, xn, den, M, ZF, FSTEP)
            X = xn
            e = e * LRD
            if careful and FSTEP < 0.0 and math.isfinite(M) and math.isfinite(V):
                (X, M, V, GL, RMIN, PEAK, BMAX, BMIN, ex, ev, gm, ge, sm, se, CV, SFX, FEPS,
                 tmin) = _units_after_step(k, adaptive, B2, eps, X, M, V, GL, RMIN, MSTEP, PEAK, BMAX, BMIN, ex, dx,
                                           ev, gm, ge, sm, se, tmin, t)
                M, dm = _momentum_units(M, dm)
                OB1E = OB1 if dm == 0 else _ldexp(OB1, -dm)
                SFXE = SFX if dm == 0 else _step_factor(k, adaptive, ex, ev, dm)
            if (t + 1 - t0) % BLOCK == 0 and t + 1 < t1:  # a window ends inside the span
                BMIN, csum, cn = _mid_window(k, adaptive, t + 1, coupling_start, M, V, GL, BMAX, BMIN, FSTEP,
                                             ex, ev, csum, cn)
                BMAX = 0.0
        (X, M, V, cv, sfx, feps, RMIN, PEAK, BMAX, BMIN, FSTEP, ex, ev, gm, ge, st, csum, cn, sm,
         se, smx) = _block_end(k, adaptive, tmin, t1, coupling_start, B2, eps, X, M, V, GL, RMIN, MSTEP, PEAK,
                               BMAX, BMIN, FSTEP, ZF, ex, ev, gm, ge, st, csum, cn, sm, se, smx)
        if st != OK:
            break
        CV = cv
        SFX = sfx
        SFXE = SFX if dm == 0 else _step_factor(k, adaptive, ex, ev, dm)  # m in its own units (careful runs)
        FEPS = feps
        t0 = t1
    return finish_values(k, steps, up, X, RMIN, MSTEP, PEAK, NSPK, FSTEP, ex, gm, ge, st, csum, cn, sm, se)
