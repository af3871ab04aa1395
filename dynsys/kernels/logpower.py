"""The optimizer map on ``L(x) = x^k/k`` in extended-exponent ("log-scaled") coordinates.

Each of ``x``, ``m``, ``v`` is carried as a pair ``(a, e)`` meaning ``a * 2**e`` with a
plain float ``a`` kept inside a window (``2^-W <= |a| <= 2^W``, ``W = 256`` for ``m``, 512 for
``v`` and ``min(64, 256 // k)`` for ``x`` so that ``a^k`` stays a normal float) and an int64
exponent ``e``; ``a`` is rescaled by an exact power of two only when it leaves its window
(rarely: the common step is plain float arithmetic, sums of equal exponents need no alignment). The exponent never under- or overflows, so
``x`` may fall to ``1e-10000`` (Adam in its linear-convergence regime, math.md D5) and
``log10 L = (k log|a| + k e ln 2 - ln k) / ln 10`` stays exact.

The arithmetic is the update of :mod:`dynsys.kernels.raw` with every product and
quotient done on mantissas and every sum aligned with ``ldexp`` (exact scaling by
a power of two)::

    g     = x^{k-1}                                      (a^{k-1}, (k-1) e)
    m     = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
    den   = sqrt(v)/sqrt(bc2) + eps                      (1 for gd / momentum)
    x_t+1 = x_t (1 - eta_t wd) - (eta_t/bc1) (m/den)

Because scaling by ``2**n`` is exact, every step rounds exactly as the plain kernel
does wherever the plain values are normal floats: the two kernels agree bit for bit
there (tested). The run stops (status, see :mod:`dynsys.kernels.status`) when the
loss, ``g``, ``m``, ``v`` or the next ``x`` exceed float64's range, or the update is
``0/0`` / ``m/0`` (only possible with ``eps = 0`` and ``x = 0`` exactly).
"""
import math

import numpy as np
from numba import njit

from dynsys.kernels.raw import running_power
from dynsys.kernels.status import (
    DIVIDE_BY_ZERO,
    LOSS_OVERFLOW,
    MOMENT_OVERFLOW,
    OK,
    STATE_OVERFLOW,
    ZERO_BY_ZERO,
)

LOG_MAX = math.log(np.finfo(np.float64).max)  # 709.78...
LN2 = math.log(2.0)
NEG_INF = -math.inf


@njit(cache=True, error_model="numpy")
def normalize(a, e):
    """``(a', e')`` with ``a' 2^e' = a 2^e`` and ``0.5 <= |a'| < 1`` (0 stays ``(0, e)``)."""
    if a == 0.0:
        return 0.0, e
    f, d = math.frexp(a)
    return f, e + d


@njit(cache=True, error_model="numpy")
def rewindow(a, e, w, lo, hi):
    """Keep ``lo = 2^-w <= |a| <= hi = 2^w``: rescale by ``2^-s`` (``s`` a multiple of ``max(w, 1)``)
    when outside. Exact (a power-of-two scaling of a normal float); 0 and non-finite values pass."""
    aa = abs(a)
    if (aa >= lo and aa <= hi) or a == 0.0 or not math.isfinite(a):
        return a, e
    f, d = math.frexp(a)
    b = w if w > 0 else 1
    shift = (d // b) * b
    return math.ldexp(a, -shift), e + shift


@njit(cache=True, error_model="numpy")
def add(a, ea, b, eb):
    """``a 2^ea + b 2^eb``, aligned on the larger exponent (a zero mantissa means 0)."""
    if ea == eb:
        return a + b, ea
    if a == 0.0:
        return b, eb
    if b == 0.0:
        return a, ea
    if ea > eb:
        diff = eb - ea
        if diff < -2200:
            return a, ea
        return a + math.ldexp(b, diff), ea
    diff = ea - eb
    if diff < -2200:
        return b, eb
    return math.ldexp(a, diff) + b, eb


@njit(cache=True, error_model="numpy")
def log_abs(a, e):
    """``ln |a 2^e|`` (``-inf`` for 0)."""
    if a == 0.0:
        return NEG_INF
    return math.log(abs(a)) + e * LN2


@njit(cache=True, error_model="numpy")
def too_big(a, e):
    """``|a 2^e| > DBL_MAX`` (``a`` finite)."""
    if a == 0.0 or e < 400:
        return False
    f, d = math.frexp(a)
    return e + d > 1024


@njit(cache=True, error_model="numpy")
def learning_rate(t, lr, decay_power, ln_lr, ln_decay):
    """``eta_t = lr * lr_decay**t`` as ``(a, e)`` given ``decay_power = lr_decay**t``: the plain
    product where it is a normal float, else ``exp`` of ``ln lr + t ln lr_decay``."""
    eta = lr * decay_power
    if eta > 2.3e-308 and eta < 1.7e308:
        return eta, 0
    ln_eta = ln_lr + t * ln_decay
    e = int(math.floor(ln_eta / LN2))
    return math.exp(ln_eta - e * LN2), e


@njit(cache=True, error_model="numpy")
def update(k, xa, xe, ma, me, va, ve, t, lr, lr_decay, b1, b2, eps, wd, adaptive, bias_correction):
    """One update at update count ``t`` with exact schedule constants (see :func:`apply_update`)."""
    eta_a, eta_e = learning_rate(t, lr, lr_decay ** t, math.log(lr), math.log(lr_decay))
    bc1 = 1.0
    bc2 = 1.0
    if bias_correction:
        bc1 = 1.0 - b1 ** (t + 1)
        bc2 = 1.0 - b2 ** (t + 1)
    xw = x_window(k)
    xlo, xhi = math.ldexp(1.0, -xw), math.ldexp(1.0, xw)
    xa, xe = rewindow(xa, xe, xw, xlo, xhi)
    return apply_update(k, xa, xe, ma, me, va, ve, eta_a, eta_e, bc1, bc2, b1, b2, eps, 0, wd, adaptive,
                        xw, xlo, xhi)


W_M = 256
W_V = 512
M_LO, M_HI = 2.0 ** -W_M, 2.0 ** W_M
V_LO, V_HI = 2.0 ** -W_V, 2.0 ** W_V


@njit(cache=True, error_model="numpy")
def x_window(k):
    """Window (bits) of the mantissa of ``x`` so that ``a^k`` stays within ``2^+-256``."""
    w = 256 // k
    return 64 if w > 64 else w


@njit(cache=True, error_model="numpy")
def apply_update(k, xa, xe, ma, me, va, ve, eta_a, eta_e, bc1, bc2, b1, b2, eps_a, eps_e, wd, adaptive,
                 xw, xlo, xhi):
    """One update in extended-exponent coordinates, schedule constants given.

    ``x`` must be inside its window ``xw`` bits (:func:`x_window`; ``xlo = 2^-xw``, ``xhi = 2^xw``); returns
    ``(status, xa', xe', ma', me', va', ve', den_a, den_e)``: the moments after folding in
    ``g(x_t)`` (row t), ``den = sqrt(vhat)+eps`` (1 when not adaptive) and the next iterate ``x'``
    (``x`` itself when the status is not OK).
    """
    ga = xa ** (k - 1)
    ge = (k - 1) * xe
    ma, me = rewindow(*add(b1 * ma, me, (1.0 - b1) * ga, ge), W_M, M_LO, M_HI)
    if adaptive:
        va, ve = rewindow(*add(b2 * va, ve, (1.0 - b2) * ga * ga, 2 * ge), W_V, V_LO, V_HI)
    if too_big(ma, me) or too_big(va, ve):
        return MOMENT_OVERFLOW, xa, xe, ma, me, va, ve, 1.0, 0
    da = 1.0
    de = 0
    if adaptive:
        if ve % 2 == 0:
            sa = math.sqrt(va)
            se = ve // 2
        else:
            sa = math.sqrt(2.0 * va)
            se = (ve - 1) // 2
        da, de = add(sa / math.sqrt(bc2), se, eps_a, eps_e)
        if da == 0.0:
            status = ZERO_BY_ZERO if ma == 0.0 else DIVIDE_BY_ZERO
            return status, xa, xe, ma, me, va, ve, da, de
    # step = (eta/bc1) * (m/den), as in the plain kernel
    step_a = (eta_a / bc1) * (ma / da)
    step_e = eta_e + me - de
    decay = 1.0
    if wd != 0.0:
        decay = 1.0 - math.ldexp(eta_a, eta_e) * wd
    na, ne = rewindow(*add(xa * decay, xe, -step_a, step_e), xw, xlo, xhi)
    if not math.isfinite(na) or too_big(na, ne):
        return STATE_OVERFLOW, na, ne, ma, me, va, ve, da, de
    return OK, na, ne, ma, me, va, ve, da, de


@njit(cache=True, error_model="numpy")
def run(k, x0, m0, v0, lr, lr_decay, b1, b2, eps, wd, adaptive, bias_correction,
        steps, record_every, rec_step, rec_mant, rec_exp, rec_leff, rec_lprec):
    """Iterate the map from ``(x0, m0, v0)``; row t holds ``x_t`` and the statistics of the update at ``x_t``.

    ``rec_mant[n, :]`` / ``rec_exp[n, :]`` hold mantissa and exponent of ``(x, L, g, m, v)``
    (``L = x^k/k``, ``g = x^{k-1}`` computed on the mantissa exactly as the plain kernel does);
    ``rec_leff`` holds ``ln eff_lr = ln eta_t - ln(sqrt(vhat)+eps)`` and ``rec_lprec``
    ``ln precond_curvature = ln[(1-b1)/(1+b1)/bc1 * (k-1) x^{k-2} / (sqrt(vhat)+eps)]`` (Eq. 7, A3).
    Returns ``(n_rows, status, fail_step)``.
    """
    ln_lr = math.log(lr)
    ln_decay = math.log(lr_decay)
    ln_c = math.log((1.0 - b1) / (1.0 + b1))
    ln_km1 = math.log(k - 1.0)
    ln_k = math.log(float(k))
    eps_a, eps_e = eps, 0
    xw = x_window(k)
    xlo = math.ldexp(1.0, -xw)
    xhi = math.ldexp(1.0, xw)
    xa, xe = rewindow(x0, 0, xw, xlo, xhi)
    ma, me = rewindow(m0, 0, W_M, M_LO, M_HI)
    va, ve = rewindow(v0, 0, W_V, V_LO, V_HI)
    n = 0
    status = OK
    fail = -1
    next_record = 0
    pg = 1.0
    p1 = 1.0
    p2 = 1.0
    for t in range(steps + 1):
        pg = 1.0 if lr_decay == 1.0 else running_power(t, lr_decay, pg)
        eta_a, eta_e = learning_rate(t, lr, pg, ln_lr, ln_decay)
        p1 = running_power(t + 1, b1, p1)
        p2 = running_power(t + 1, b2, p2)
        bc1 = 1.0 - p1 if bias_correction else 1.0
        bc2 = 1.0 - p2 if bias_correction else 1.0
        lx = NEG_INF
        big = k * (xe + xw) > 900
        if big:  # exact check only near the float64 limit
            lx = log_abs(xa, xe)
        if big and (k * lx - ln_k > LOG_MAX or (k - 1) * lx > LOG_MAX):
            status = LOSS_OVERFLOW
            da, de = 1.0, 0
            na, ne, ma_r, me_r, va_r, ve_r = xa, xe, ma, me, va, ve
        else:
            status, na, ne, ma_r, me_r, va_r, ve_r, da, de = apply_update(
                k, xa, xe, ma, me, va, ve, eta_a, eta_e, bc1, bc2, b1, b2, eps_a, eps_e, wd, adaptive, xw, xlo, xhi)
            if t == steps and status == STATE_OVERFLOW:
                status = OK  # x_{steps+1} is never used
        if t == next_record or t == steps or status != OK:
            if t == next_record:
                next_record += record_every
            lx = log_abs(xa, xe)
            rec_step[n] = t
            rec_mant[n, 0] = xa
            rec_exp[n, 0] = xe
            rec_mant[n, 1] = xa ** k / k
            rec_exp[n, 1] = k * xe
            rec_mant[n, 2] = xa ** (k - 1)
            rec_exp[n, 2] = (k - 1) * xe
            rec_mant[n, 3] = ma_r
            rec_exp[n, 3] = me_r
            rec_mant[n, 4] = va_r
            rec_exp[n, 4] = ve_r
            if da == 0.0:
                rec_leff[n] = math.inf
                rec_lprec[n] = math.inf
            else:
                ln_den = log_abs(da, de) if adaptive else 0.0
                rec_leff[n] = log_abs(eta_a, eta_e) - ln_den
                ln_h = 0.0 if k == 2 else ln_km1 + (k - 2) * lx
                rec_lprec[n] = ln_c - math.log(bc1) + ln_h - ln_den
            n += 1
        if status != OK:
            fail = t
            break
        xa, xe, ma, me, va, ve = na, ne, ma_r, me_r, va_r, ve_r
    return n, status, fail
