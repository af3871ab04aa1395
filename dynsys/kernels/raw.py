"""The optimizer map in plain float64 coordinates (any dimension).

One update of the Adam family (see :mod:`dynsys.optimizers`), in PyTorch's order::

    g     = grad L(x_t)
    m     = b1 m + (1 - b1) g
    v     = b2 v + (1 - b2) g^2                  (adaptive optimizers only)
    bc1   = 1 - b1^(t+1),  bc2 = 1 - b2^(t+1)    (1 without bias correction)
    den   = sqrt(v) / sqrt(bc2) + eps            (1 for gd / momentum)
    x_t+1 = x_t (1 - eta_t wd) - (eta_t / bc1) m / den

``eta_t = lr * lr_decay^t`` and ``t`` counts updates from 0. Guards: ``den == 0``
(``eps = 0`` and ``v`` underflowed to 0) stops the run with status ZERO_BY_ZERO
(``m == 0``) or DIVIDE_BY_ZERO, before any division happens; non-finite values stop
it with an overflow status. ``error_model='numpy'`` keeps the kernel free of
Python exceptions; every division is guarded or has a non-zero divisor.
"""
import math

import numpy as np
from numba import njit

from dynsys.kernels import objective_fns as fns
from dynsys.kernels.status import (
    DIVIDE_BY_ZERO,
    LOSS_OVERFLOW,
    LR_INVALID,
    MOMENT_OVERFLOW,
    OK,
    STATE_OVERFLOW,
    UNDERFLOW,
    ZERO_BY_ZERO,
)


@njit(cache=True, error_model="numpy")
def running_power(n, base, prev):
    """``base**n`` given ``prev = base**(n-1)``: exact ``pow`` when ``n`` is a multiple of 64, else
    ``prev * base`` (at most 63 roundings from an exact value: relative error < 1e-14).

    ``pow`` costs ~50x a multiplication; the runners call this once per step.
    """
    if (n & 63) == 0:
        return base ** n
    return prev * base


@njit(cache=True, error_model="numpy")
def schedule(t, lr, lr_decay, b1, b2, bias_correction):
    """Exact per-update constants ``(eta_t, bc1, bc2)``: ``lr lr_decay^t``, ``1 - b1^{t+1}``, ``1 - b2^{t+1}``."""
    eta = lr * lr_decay ** t
    if bias_correction:
        return eta, 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1)
    return eta, 1.0, 1.0


@njit(cache=True, error_model="numpy")
def moments(m, v, g, b1, b2, adaptive):
    """``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g^2`` (v unchanged when not adaptive)."""
    m = b1 * m + (1.0 - b1) * g
    if adaptive:
        v = b2 * v + (1.0 - b2) * g * g
    return m, v


@njit(cache=True, error_model="numpy")
def coordinate_step(x, m, v, step, decay, sq_bc2, eps, adaptive):
    """``x' = x decay - step m/den``, ``den = sqrt(v)/sqrt(bc2) + eps`` (1 when not adaptive).

    Returns ``(status, x', den)``; a zero ``den`` gives ZERO_BY_ZERO (m = 0) or DIVIDE_BY_ZERO
    before any division, and ``x' = x``.
    """
    den = 1.0
    if adaptive:
        den = math.sqrt(v) / sq_bc2 + eps
        if den == 0.0:
            return (ZERO_BY_ZERO if m == 0.0 else DIVIDE_BY_ZERO), x, den
    xn = x * decay - step * (m / den)
    if not math.isfinite(xn):
        return STATE_OVERFLOW, xn, den
    return OK, xn, den


@njit(cache=True, error_model="numpy")
def update(x, m, v, g, t, lr, lr_decay, b1, b2, eps, wd, adaptive, bias_correction, den, x_next):
    """One optimizer update from ``x`` with gradient ``g`` at update count ``t`` (moments updated in place).

    Writes ``den`` (the per-coordinate divisor ``sqrt(vhat)+eps``, 1 when not
    adaptive) and ``x_next``. Returns ``(status, eta_t, bc1)``.
    """
    eta, bc1, bc2 = schedule(t, lr, lr_decay, b1, b2, bias_correction)
    return apply_update(x, m, v, g, eta, bc1, bc2, b1, b2, eps, wd, adaptive, den, x_next)


@njit(cache=True, error_model="numpy")
def apply_update(x, m, v, g, eta, bc1, bc2, b1, b2, eps, wd, adaptive, den, x_next):
    """:func:`update` with the schedule constants ``eta_t, bc1, bc2`` given."""
    d = x.shape[0]
    if not (eta > 0.0 and eta < math.inf):
        for i in range(d):
            den[i] = 1.0
            x_next[i] = x[i]
        return LR_INVALID, eta, 1.0
    step = eta / bc1
    decay = 1.0 - eta * wd
    sq_bc2 = math.sqrt(bc2)
    status = OK
    for i in range(d):
        m[i], v[i] = moments(m[i], v[i], g[i], b1, b2, adaptive)
        if not (math.isfinite(m[i]) and math.isfinite(v[i])):
            status = MOMENT_OVERFLOW
    if status != OK:
        for i in range(d):
            den[i] = 1.0
            x_next[i] = x[i]
        return status, eta, bc1
    for i in range(d):
        st, x_next[i], den[i] = coordinate_step(x[i], m[i], v[i], step, decay, sq_bc2, eps, adaptive)
        # 0/0 outranks m/0 outranks overflow, whatever the coordinate order
        if st != OK and (status == OK or st == ZERO_BY_ZERO or (st == DIVIDE_BY_ZERO and status == STATE_OVERFLOW)):
            status = st
    return status, eta, bc1


@njit(cache=True, error_model="numpy")
def _lambda_max_sym(S):
    d = S.shape[0]
    for i in range(d):
        for j in range(d):
            if not math.isfinite(S[i, j]):
                return math.inf
    if d == 1:
        return S[0, 0]
    if d == 2:
        a = S[0, 0]
        b = S[0, 1]
        c = S[1, 1]
        mean = 0.5 * (a + c)
        rad = math.hypot(0.5 * (a - c), b)
        return mean + rad
    return np.linalg.eigvalsh(S)[-1]


@njit(cache=True, error_model="numpy")
def row_statistics(kind, k, A, dx, dy, x, g, m, v, den, eta, bc1, b1, adaptive, H, S):
    """Statistics of the update at ``x_t`` (see :func:`dynsys.simulate.trajectory`).

    Returns ``(|g|, m, v, eff_lr, precond_curvature, directional_curvature)`` where for
    d = 1 ``g, m, v`` are signed values and for d > 1 Euclidean norms;
    ``eff_lr = max_i eta/den_i``; ``precond_curvature = lambda_max(Hhat)`` with
    ``Hhat = 1/bc1 (1-b1)/(1+b1) diag(1/den) H`` computed through the symmetric form
    ``D^{1/2} H D^{1/2}`` (Eq. 7 and Lemma B.1 of the Adam-preconditioners paper, math.md A1/A3);
    ``directional_curvature = g^T H g / |g|^2`` (Eq. 8, math.md A6; 0 when g = 0).
    """
    d = x.shape[0]
    fns.hessian(kind, k, A, dx, dy, x, H)
    c = (1.0 - b1) / (1.0 + b1) / bc1
    zero_den = False
    for i in range(d):
        if den[i] == 0.0:
            zero_den = True
    if zero_den:
        eff = math.inf
        prec = math.inf
    else:
        eff = 0.0
        for i in range(d):
            e = eta / den[i]
            if e > eff:
                eff = e
        for i in range(d):
            for j in range(d):
                S[i, j] = c * H[i, j] / math.sqrt(den[i] * den[j])
        prec = _lambda_max_sym(S)
    if d == 1:
        return g[0], m[0], v[0], eff, prec, H[0, 0]
    gmax = _max_abs(g)
    direc = 0.0
    if gmax > 0.0:
        gg = 0.0
        gHg = 0.0
        for i in range(d):
            gi = g[i] / gmax
            gg += gi * gi
            row = 0.0
            for j in range(d):
                row += H[i, j] * (g[j] / gmax)
            gHg += gi * row
        direc = gHg / gg
        if not math.isfinite(direc):
            direc = math.inf if direc != direc else direc
    return _norm(g), _norm(m), _norm(v), eff, prec, direc


@njit(cache=True, error_model="numpy")
def _max_abs(a):
    out = 0.0
    for i in range(a.shape[0]):
        if abs(a[i]) > out:
            out = abs(a[i])
    return out


@njit(cache=True, error_model="numpy")
def _norm(a):
    """Euclidean norm without intermediate overflow (scaled by max |a_i|)."""
    s = _max_abs(a)
    if s == 0.0 or not math.isfinite(s):
        return s
    acc = 0.0
    for i in range(a.shape[0]):
        acc += (a[i] / s) ** 2
    return s * math.sqrt(acc)


@njit(cache=True, error_model="numpy")
def run(kind, k, A, dx, dy, x0, m0, v0, lr, lr_decay, b1, b2, eps, wd, adaptive, bias_correction,
        steps, record_every, rec_step, rec_x, rec_loss, rec_grad, rec_m, rec_v, rec_eff, rec_prec, rec_dir):
    """Iterate the map ``steps`` times from ``(x0, m0, v0)``; record every ``record_every`` steps.

    Row ``t`` holds ``x_t``, ``L(x_t)`` and the statistics of the update from ``x_t``
    (moments including ``g(x_t)``). The last step and a failing step are always
    recorded. Returns ``(n_rows, status, fail_step)`` (``fail_step = -1`` when OK).
    """
    d = x0.shape[0]
    x = x0.copy()
    m = m0.copy()
    v = v0.copy()
    g = np.empty(d)
    den = np.ones(d)
    xn = np.empty(d)
    H = np.empty((d, d))
    S = np.empty((d, d))
    n = 0
    status = OK
    fail = -1
    pg = 1.0
    p1 = 1.0
    p2 = 1.0
    next_record = 0
    for t in range(steps + 1):
        L = fns.loss(kind, k, A, dx, dy, x)
        fns.grad(kind, k, A, dx, dy, x, g)
        ok = math.isfinite(L)
        for i in range(d):
            if not math.isfinite(g[i]):
                ok = False
        pg = 1.0 if lr_decay == 1.0 else running_power(t, lr_decay, pg)
        p1 = running_power(t + 1, b1, p1)
        p2 = running_power(t + 1, b2, p2)
        eta = lr * pg
        bc1 = 1.0 - p1 if bias_correction else 1.0
        bc2 = 1.0 - p2 if bias_correction else 1.0
        underflow = kind == fns.POWER and x[0] != 0.0 and (L == 0.0 or g[0] == 0.0)
        if not ok or underflow:
            status = LOSS_OVERFLOW if not ok else UNDERFLOW
            for i in range(d):
                den[i] = 1.0
        else:
            status, eta, bc1 = apply_update(x, m, v, g, eta, bc1, bc2, b1, b2, eps, wd, adaptive, den, xn)
            if t == steps and status == STATE_OVERFLOW:
                status = OK  # x_{steps+1} is never used
        if t == next_record or t == steps or status != OK:
            if t == next_record:
                next_record += record_every
            rec_step[n] = t
            rec_loss[n] = L
            for i in range(d):
                rec_x[n, i] = x[i]
            gs, ms, vs, eff, prec, direc = row_statistics(kind, k, A, dx, dy, x, g, m, v, den, eta, bc1, b1,
                                                          adaptive, H, S)
            rec_grad[n] = gs
            rec_m[n] = ms
            rec_v[n] = vs
            rec_eff[n] = eff
            rec_prec[n] = prec
            rec_dir[n] = direc
            n += 1
        if status != OK:
            fail = t
            break
        for i in range(d):
            x[i] = xn[i]
    return n, status, fail
