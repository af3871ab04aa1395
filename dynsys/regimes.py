"""Closed-form theory of Adam's phase diagram on ``x^k/k`` and of the effective-sharpness map.

Adam (eps = 0, no bias correction) on ``L(x) = x^k/k`` (``k`` even, ``k >= 4``) is the 3-D
map of Eqs. 3-5 of the degenerate-polynomials paper ("Adam on highly degenerate
polynomials", math.md D1). Writing ``rho = b2^{1/(2(k-2))}``:

* **Existence** (Thm 4.1 i, math.md D3): the non-trivial fixed point
  ``u* = (1-b1)/(1 - b1/rho^{k-1})`` is positive iff ``b1 < rho^{k-1} = b2^{(k-1)/(2(k-2))}``.
* **Stability** (Thm 4.1 ii, Eq. 8, math.md D4): Jury's ``det J < 1`` on the ``(u, w)``
  block, ``det J = b1/rho^k``, gives ``b1 < b2^{k/(2(k-2))}`` (``b1 < b2`` for ``k = 4``).
* **Period doubling** (Eq. 9, math.md D4): ``1 + tr J + det J > 0`` is
  ``b1 (k - (k-2) rho) > rho^{k-1} (k - 2 - k rho)``; it binds only when
  ``rho < (k-2)/k``, i.e. ``b2 < ((k-2)/k)^{2(k-2)}`` (the lower-left corner).
* **The period-2 orbit** (claim D19, beyond math.md): where Eq. 9 fails the fixed point
  period-doubles into a period-2 orbit of the decoupled map with ``s = rho t, rho/t`` in closed form
  (:func:`decoupled_period_two_orbit`); the loss converges at rate ``rho`` on it, so where it is stable
  (:func:`period_two_spectral_radius` < 1) the regime is I, not II.
* **Regimes** (Thm 6.1, math.md D12): I = stable fixed point or stable period-2 orbit (converging),
  II = fixed point exists but unstable (linear convergence, then spikes),
  III = no fixed point (SignGD-like oscillation). Code 0 is used by the scanners for a
  diverged run; :data:`NO_PREDICTION` (-1) marks cells the theory does not cover.

The effective-sharpness map of GD with ``eta_t = eta_0 gamma^t`` (Eqs. 17-18,
Prop. 5.6, math.md D10) is ``s -> gamma s (1-s)^{k-2}``; its non-trivial fixed point
``s* = 1 - gamma^{-1/(k-2)}`` has multiplier ``f'(s*) = 1 - (k-2) s*/(1-s*)`` and is stable
iff ``1 < gamma < (k/(k-2))^{k-2}``.

Every function accepts scalars or numpy arrays (broadcast) and validates its arguments.
"""
from __future__ import annotations

import numpy as np

from dynsys._validate import check_even_k, check_int

__all__ = [
    "REGIME_CODES",
    "DIVERGED",
    "CONVERGING",
    "SPIKING",
    "OSCILLATING",
    "NO_PREDICTION",
    "fixed_point_rate",
    "stability_boundary_beta1",
    "existence_boundary_beta1",
    "period_doubling_residual",
    "period_doubling_boundary_beta1",
    "period_doubling_beta2_max",
    "adam_fixed_point",
    "adam_fixed_point_jacobian",
    "decoupled_period_two_orbit",
    "period_two_spectral_radius",
    "period_two_stability_boundary_beta1",
    "decoupled_attractor",
    "predicted_regime",
    "boundary_distance",
    "sharpness_critical_gamma",
    "sharpness_fixed_point",
    "sharpness_multiplier",
    "rmsprop_critical_beta2",
]

DIVERGED, CONVERGING, SPIKING, OSCILLATING = 0, 1, 2, 3
#: label of cells for which the theory makes no prediction (other optimizers, eps > 0, ...)
NO_PREDICTION = -1

#: Regime codes of the phase scanner (Thm 6.1 of the degenerate-polynomials paper, math.md D12).
REGIME_CODES = {
    DIVERGED: "diverged",
    CONVERGING: "I converging",
    SPIKING: "II spiking after convergence",
    OSCILLATING: "III oscillating",
}


def _check_betas(b1, b2, *, need_b1=True, need_b2=True):
    """Arrays of beta1 in [0, 1) and beta2 in (0, 1) (beta2 = 0 makes rho = 0); ``need_b1``/``need_b2``
    False: that one is not checked nor returned."""
    out = []
    if need_b1:
        a1 = np.asarray(b1, dtype=np.float64)
        if not np.all(np.isfinite(a1)) or np.any(a1 < 0) or np.any(a1 >= 1):
            bad = a1[~((a1 >= 0) & (a1 < 1))].ravel()
            raise ValueError(f"beta1 = {bad[0] if bad.size else b1!r} is out of range; allowed: 0 <= beta1 < 1")
        out.append(a1)
    if not need_b2:
        return out
    a2 = np.asarray(b2, dtype=np.float64)
    if not np.all(np.isfinite(a2)) or np.any(a2 <= 0) or np.any(a2 >= 1):
        bad = a2[~((a2 > 0) & (a2 < 1))].ravel()
        raise ValueError(f"beta2 = {bad[0] if bad.size else b2!r} is out of range; allowed: 0 < beta2 < 1")
    out.append(a2)
    return out


def _scalar_or_array(x):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


def fixed_point_rate(beta2, k):
    """``rho = beta2^{1/(2(k-2))}``: the contraction ``x_{t+1}/x_t`` at the non-trivial fixed point.

    math.md D2 (``s* = rho``); Thm 4.1 iii of the degenerate-polynomials paper.
    """
    k = check_even_k("k", k, minimum=4)
    (b2,) = _check_betas(None, beta2, need_b1=False)
    return _scalar_or_array(b2 ** (1.0 / (2.0 * (k - 2))))


def stability_boundary_beta1(beta2, k):
    """I/II boundary ``beta1 = beta2^{k/(2(k-2))}`` (Eq. 8, Thm 4.1 ii; math.md D4).

    The non-trivial fixed point is stable for ``beta1`` below it (unless Eq. 9 binds).
    """
    k = check_even_k("k", k, minimum=4)
    (b2,) = _check_betas(None, beta2, need_b1=False)
    return _scalar_or_array(b2 ** (k / (2.0 * (k - 2))))


def existence_boundary_beta1(beta2, k):
    """II/III boundary ``beta1 = beta2^{(k-1)/(2(k-2))}`` (Thm 4.1 i; math.md D3).

    The non-trivial fixed point exists (``u* > 0``) for ``beta1`` below it.
    """
    k = check_even_k("k", k, minimum=4)
    (b2,) = _check_betas(None, beta2, need_b1=False)
    return _scalar_or_array(b2 ** ((k - 1) / (2.0 * (k - 2))))


def period_doubling_residual(beta1, beta2, k):
    """Residual of Eq. 9: ``beta1 (k - (k-2) rho) - rho^{k-1} (k - 2 - k rho)``.

    Positive iff Jury's condition ``1 + tr J + det J > 0`` holds (no eigenvalue at -1),
    math.md D4; ``(k - (k-2) rho) > 0`` always, so the sign is exact.
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = _check_betas(beta1, beta2)
    rho = b2 ** (1.0 / (2.0 * (k - 2)))
    return _scalar_or_array(b1 * (k - (k - 2) * rho) - rho ** (k - 1) * (k - 2 - k * rho))


def period_doubling_boundary_beta1(beta2, k):
    """Eq. 9 solved for beta1: ``rho^{k-1} (k-2-k rho) / (k - (k-2) rho)``.

    The fixed point period-doubles for ``beta1`` *below* this value; it is positive only when
    ``beta2 < ((k-2)/k)^{2(k-2)}`` (:func:`period_doubling_beta2_max`); elsewhere the
    returned value is <= 0 and the condition never binds.
    """
    k = check_even_k("k", k, minimum=4)
    (b2,) = _check_betas(None, beta2, need_b1=False)
    rho = b2 ** (1.0 / (2.0 * (k - 2)))
    return _scalar_or_array(rho ** (k - 1) * (k - 2 - k * rho) / (k - (k - 2) * rho))


def period_doubling_beta2_max(k):
    """``((k-2)/k)^{2(k-2)}``: Eq. 9 binds only for ``beta2`` below it (1/16 for ``k = 4``)."""
    k = check_even_k("k", k, minimum=4)
    return ((k - 2) / k) ** (2 * (k - 2))


def rmsprop_critical_beta2(k):
    """RMSProp (beta1 = 0) is stable iff ``beta2 > ((k-2)/k)^{2(k-2)}`` (math.md D10, Prop. 5.6)."""
    return period_doubling_beta2_max(k)


def adam_fixed_point(beta1, beta2, k):
    """Non-trivial fixed point ``(s*, u*, w*)`` of the normalized Adam map (math.md D2).

    ``s* = rho``, ``u* = (1-b1)/(1 - b1/rho^{k-1})``, ``w* = (1 - rho)/u*`` (``z* = 0``).
    Meaningful (``u* > 0``) only below :func:`existence_boundary_beta1`.
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = _check_betas(beta1, beta2)
    rho = b2 ** (1.0 / (2.0 * (k - 2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (1.0 - b1) / (1.0 - b1 / rho ** (k - 1))
        w = (1.0 - rho) / u
    return _scalar_or_array(rho), _scalar_or_array(u), _scalar_or_array(w)


def adam_fixed_point_jacobian(beta1, beta2, k):
    """The ``(u, w)`` block of the Jacobian at the non-trivial fixed point (math.md D4).

    With ``a = b1/rho^{k-1}``, ``c = 1 - rho``::

        J = [[a (1 + (k-1) c/rho),   a (k-1) u*^2/rho],
             [-(k-2) w*^2/rho,       1 - (k-2) c/rho ]]

    (the ``z`` direction decouples with eigenvalue ``rho^2``). Scalars only; returns a 2x2 array.
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = (float(a) for a in _check_betas(beta1, beta2))
    rho, u, w = adam_fixed_point(b1, b2, k)
    a = b1 / rho ** (k - 1)
    c = 1.0 - rho
    return np.array([[a * (1 + (k - 1) * c / rho), a * (k - 1) * u * u / rho],
                     [-(k - 2) * w * w / rho, 1 - (k - 2) * c / rho]])


def _chebyshev_u(m, x):
    """Chebyshev polynomial of the second kind ``U_m(x)`` (``U_0 = 1``, ``U_1 = 2x``), by its recurrence."""
    prev, cur = np.ones_like(x), 2.0 * x
    if m == 0:
        return prev
    for _ in range(m - 1):
        prev, cur = cur, 2.0 * x * cur - prev
    return cur


def _period_two(b1, b2, k):
    """Core of :func:`decoupled_period_two_orbit` on validated float arrays (no checks)."""
    m = (k - 2) // 2
    rho = b2 ** (1.0 / (2.0 * (k - 2)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = b1 / rho ** (k - 1)
        target = (1.0 + rho * q) / (rho + q)
        # h(sigma) = U_m(sigma/2)/U_{m-1}(sigma/2) rises from (m+1)/m at sigma = 2 to infinity, and
        # h(sigma) >= sigma - 1: the root lies in [2, target + 1]; bisection to the last bit
        exists = (m + 1) < target * m
        lo = np.full(target.shape, 2.0)
        hi = np.where(exists, target + 1.0, 2.0)
        for _ in range(110):
            mid = 0.5 * (lo + hi)
            below = _chebyshev_u(m, 0.5 * mid) < target * _chebyshev_u(m - 1, 0.5 * mid)
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        sigma = 0.5 * (lo + hi)
        t = 0.5 * (sigma + np.sqrt(sigma * sigma - 4.0))
        s1, s2 = rho * t, rho / t
        a1, a2 = b1 / s1 ** (k - 1), b1 / s2 ** (k - 1)
        u1 = (1.0 - b1) * (1.0 + a2) / (1.0 - a1 * a2)
        u2 = (1.0 - b1) * (1.0 + a1) / (1.0 - a1 * a2)
        w1, w2 = (1.0 - s1) / u1, (1.0 - s2) / u2
    ok = exists & (q < 1.0) & (w1 > 0) & (w2 > 0) & np.isfinite(u1) & np.isfinite(u2)
    return tuple(np.where(ok, a, np.nan) for a in (s1, s2, u1, w1, u2, w2)) + (rho,)


def decoupled_period_two_orbit(beta1, beta2, k):
    """The period-2 orbit of the decoupled (``z = 0``) normalized Adam map born where Eq. 9 fails (claim D19).

    The decoupled map of math.md D1 is ``s = 1 - u w``, ``u' = b1 u/s^{k-1} + 1 - b1``,
    ``w' = w s^{k-2}/rho^{k-2}``. On a 2-cycle ``(u1, w1) -> (u2, w2) -> (u1, w1)`` the ``w`` equation gives
    ``(s1 s2)^{k-2} = rho^{2(k-2)}``; on the branch born from the fixed point ``s1 = rho t``, ``s2 = rho/t``,
    the ``u`` equations are linear (``u2 = a1 u1 + 1 - b1``, ``u1 = a2 u2 + 1 - b1``, ``a_i = b1/s_i^{k-1}``)
    and the remaining condition ``w2 = w1 (s1/rho)^{k-2}`` is, with ``q = b1/rho^{k-1}``, ``m = (k-2)/2``
    and ``sigma = t + 1/t`` (``theory/period_two_orbit.py``)::

        (rho + q) U_m(sigma/2) = (1 + rho q) U_{m-1}(sigma/2)        (U: Chebyshev, second kind)

    (``k = 4``: ``sigma = (1 + rho q)/(rho + q)``). ``U_m/U_{m-1}`` rises from ``(m+1)/m`` at ``sigma = 2``
    (``t = 1``, the fixed point), so a real orbit (``t > 1``) exists exactly where Eq. 9 fails. It is
    reported where it is admissible (``w1, w2 > 0``, ``q < 1``), NaN elsewhere.

    Returns ``(s1, s2, u1, w1, u2, w2)``, scalars or arrays (broadcast). On the orbit ``|s1 s2| = rho^2``:
    ``x`` converges at the fixed point's rate ``rho`` per step (D16).
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = _check_betas(beta1, beta2)
    b1, b2 = np.broadcast_arrays(np.asarray(b1, dtype=np.float64), np.asarray(b2, dtype=np.float64))
    return tuple(_scalar_or_array(a) for a in _period_two(b1, b2, k)[:6])


def _period_two_radius(b1, b2, k):
    """Spectral radius of the 2-step Jacobian on the period-2 orbit (validated float arrays; NaN: no orbit)."""
    s1, s2, u1, w1, u2, w2, rho = _period_two(b1, b2, k)
    r = rho ** (k - 2)

    def jac(u, w, s):  # d(u', w')/d(u, w) of the decoupled map (math.md D1 at z = 0)
        return (b1 / s ** (k - 1) + b1 * (k - 1) * u * w / s ** k, b1 * (k - 1) * u * u / s ** k,
                -(k - 2) * w * w * s ** (k - 3) / r, (s ** (k - 2) - (k - 2) * u * w * s ** (k - 3)) / r)

    with np.errstate(invalid="ignore", over="ignore"):
        a, b = jac(u1, w1, s1), jac(u2, w2, s2)
        tr = b[0] * a[0] + b[1] * a[2] + b[2] * a[1] + b[3] * a[3]
        det = (a[0] * a[3] - a[1] * a[2]) * (b[0] * b[3] - b[1] * b[2])
        disc = tr * tr - 4.0 * det
        return np.where(disc >= 0, 0.5 * (np.abs(tr) + np.sqrt(np.abs(disc))), np.sqrt(np.abs(det)))


def period_two_spectral_radius(beta1, beta2, k):
    """Largest modulus of the multipliers of :func:`decoupled_period_two_orbit` (claim D19); NaN where it does not exist.

    The orbit is stable for a value below 1. The product of the two multipliers is ``(b1/rho^k)^2`` (D16), so it
    can be stable only left of Eq. 8; it is born at Eq. 9 with multipliers ``1`` and ``lambda^2`` (``lambda`` the
    fixed point's other eigenvalue) and is stable just past it, down to :func:`period_two_stability_boundary_beta1`.
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = _check_betas(beta1, beta2)
    b1, b2 = np.broadcast_arrays(np.asarray(b1, dtype=np.float64), np.asarray(b2, dtype=np.float64))
    return _scalar_or_array(_period_two_radius(b1, b2, k))


def period_two_stability_boundary_beta1(beta2, k, *, samples=400):
    """``beta1`` below which the period-2 orbit of claim D19 is unstable (it period-doubles again), per ``beta2``.

    Where Eq. 9 binds (``beta2 < ((k-2)/k)^{2(k-2)}``) the orbit exists for ``beta1`` below the Eq. 9 curve
    (:func:`period_doubling_boundary_beta1`); it is stable on an interval that ends at that curve (or at Eq. 8,
    whichever is smaller) and starts at the returned value. NaN where it is stable down to ``beta1 = 0`` (the
    RMSProp limit) or nowhere. The root is bracketed on ``samples`` points and refined by bisection (64 halvings).
    """
    k = check_even_k("k", k, minimum=4)
    samples = check_int("samples", samples, low=8)
    (b2,) = _check_betas(None, beta2, need_b1=False)
    flat = np.atleast_1d(np.asarray(b2, dtype=np.float64)).ravel()
    out = np.full(flat.shape, np.nan)
    top = np.minimum(np.asarray(period_doubling_boundary_beta1(flat, k)), np.asarray(stability_boundary_beta1(flat, k)))
    rows = np.flatnonzero(top > 0)
    if rows.size:
        frac = np.arange(samples) / samples
        grid = top[rows, None] * frac[None, :]
        bb2 = np.broadcast_to(flat[rows, None], grid.shape)
        stable = _period_two_radius(grid, bb2, k) < 1.0
        # the stable interval ends at the top; its lower end lies after the last unstable sample
        has = stable[:, -1] & ~stable.all(axis=1)
        last = samples - 1 - np.argmax(~stable[:, ::-1], axis=1)
        lo = np.where(has, grid[np.arange(rows.size), last], np.nan)
        hi = np.where(has, grid[np.arange(rows.size), np.minimum(last + 1, samples - 1)], np.nan)
        b2r = flat[rows]
        for _ in range(64):  # bisection to the last bit of the bracket
            mid = 0.5 * (lo + hi)
            ok = _period_two_radius(mid, b2r, k) < 1.0
            lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
        out[rows] = np.where(has, hi, np.nan)
    return _scalar_or_array(out.reshape(np.shape(b2)))


#: codes of :func:`decoupled_attractor` besides a period ``p >= 1``
CHAOTIC_ATTRACTOR, ESCAPED, NO_PERIOD_TWO_ORBIT = 0, -1, -2


def decoupled_attractor(beta1, beta2, k, *, steps=20_000, max_period=64):
    """What the decoupled (``z = 0``) map does past Eq. 9, started ``1e-6`` (relative, in ``u``) off the
    period-2 orbit of :func:`decoupled_period_two_orbit` (claim D19): a measurement, not a closed form.

    Iterates ``u' = b1 u/s^{k-1} + 1 - b1``, ``w' = w s^{k-2}/rho^{k-2}`` (math.md D1) ``steps`` times, all
    cells at once, and returns per cell (int16) the smallest period ``p <= max_period`` (a power of two) with
    which the last ``4 max_period`` states repeat to 1e-7, :data:`CHAOTIC_ATTRACTOR` (0) when they stay bounded
    without repeating, :data:`ESCAPED` (-1) when ``|s| > 1e3`` or ``w`` leaves ``(0, 1e6)``, and
    :data:`NO_PERIOD_TWO_ORBIT` (-2) where Eq. 9 holds (no orbit to start from). On every attractor that is kept
    ``x`` converges at rate ``rho`` (``ln|x_n/x_0| = n ln rho + ln(w_n/w_0)/(k-2)``); on the 64 x 64 corner grids
    of ``python -m theory.period_two_orbit`` the cells past the second flip whose decoupled map keeps an attractor
    are mostly observed I and those whose map escapes never are (docs/regime-agreement.md item 10).
    """
    k = check_even_k("k", k, minimum=4)
    steps = check_int("steps", steps, low=1)
    max_period = check_int("max_period", max_period, low=1)
    if max_period & (max_period - 1):
        raise ValueError(f"max_period = {max_period!r} is not a power of two; allowed: 1, 2, 4, ...")
    b1, b2 = _check_betas(beta1, beta2)
    b1, b2 = np.broadcast_arrays(np.asarray(b1, dtype=np.float64), np.asarray(b2, dtype=np.float64))
    shape = b1.shape
    b1, b2 = b1.ravel(), b2.ravel()
    _, _, u, w, _, _, rho = _period_two(b1, b2, k)
    out = np.full(b1.shape, NO_PERIOD_TWO_ORBIT, dtype=np.int16)
    live = np.isfinite(u)
    u, w = u * (1 + 1e-6), w.copy()
    r = rho ** (k - 2)
    tail = np.empty((min(4 * max_period, steps), b1.size, 2))
    escaped = ~live
    with np.errstate(all="ignore"):
        for n in range(steps):
            s = 1.0 - u * w
            bad = ~((np.abs(s) < 1e3) & (w > 0) & (w < 1e6))
            escaped |= bad
            u = np.where(escaped, 1.0, b1 * u / s ** (k - 1) + 1.0 - b1)
            w = np.where(escaped, 0.5, w * s ** (k - 2) / r)
            j = n - (steps - tail.shape[0])
            if j >= 0:
                tail[j, :, 0], tail[j, :, 1] = u, w
    out[live & escaped] = ESCAPED
    bounded = live & ~escaped
    found = np.zeros(b1.shape, dtype=bool)
    out[bounded] = CHAOTIC_ATTRACTOR
    p = 1
    while p <= max_period and p < tail.shape[0]:
        same = np.all(np.abs(tail[p:] - tail[:-p]) <= 1e-7 * np.abs(tail[:-p]), axis=(0, 2))
        new = bounded & same & ~found
        out[new] = p
        found |= new
        p *= 2
    return _scalar_or_array(out.reshape(shape))


def predicted_regime(beta1, beta2, k):
    """Regime code predicted by Thm 6.1 of the degenerate-polynomials paper (math.md D12).

    * 3 (III, oscillating) if ``beta1 >= beta2^{(k-1)/(2(k-2))}`` (no fixed point, D3);
    * 1 (I, converging) if the fixed point is stable: ``beta1 < beta2^{k/(2(k-2))}`` (Eq. 8)
      and the Eq. 9 residual is positive; also **on** the line ``beta1 = beta2^{k/(2(k-2))}``
      (exactly, as :func:`stability_boundary_beta1` computes it) where Eq. 9 holds: there
      ``|det J| = 1`` and the linear theory is inconclusive, but the decoupled map is
      area-preserving with an elliptic fixed point, which is Lyapunov stable (claim D17,
      ``theory/conservative_line.py``; ``beta1 = beta2`` for ``k = 4``);
      and, where Eq. 9 fails (left of Eq. 8), if the period-2 orbit into which the fixed point has
      period-doubled is stable (:func:`period_two_spectral_radius` < 1, claim D19,
      ``theory/period_two_orbit.py``): on it ``x`` still converges at rate ``rho``;
    * 2 (II, spiking) otherwise (the fixed point exists but is unstable, and so is that orbit).

    ``k = 2`` (quadratic, Appendix F / math.md D14): no non-trivial fixed point exists and
    Adam cannot converge at a constant rate, so a spike must come: every cell is 2.
    ``beta2 = 0`` gives ``rho = 0``: the fixed point degenerates; such cells are 3 when
    ``beta1 > 0`` and 2 (SignGD, ``beta1 = beta2 = 0``) is reported as 3 as well.

    Returns an int8 array (or a Python int for scalar input).
    """
    k = check_int("k", k, low=2)
    if k % 2:
        raise ValueError(f"k = {k!r} is odd; allowed: even integer k >= 2")
    b1 = np.asarray(beta1, dtype=np.float64)
    b2 = np.asarray(beta2, dtype=np.float64)
    if not np.all(np.isfinite(b1)) or np.any(b1 < 0) or np.any(b1 >= 1):
        raise ValueError(f"beta1 = {beta1!r} is out of range; allowed: 0 <= beta1 < 1")
    if not np.all(np.isfinite(b2)) or np.any(b2 < 0) or np.any(b2 >= 1):
        raise ValueError(f"beta2 = {beta2!r} is out of range; allowed: 0 <= beta2 < 1")
    b1, b2 = np.broadcast_arrays(b1, b2)
    if k == 2:
        out = np.full(b1.shape, SPIKING, dtype=np.int8)
        return out if out.ndim else int(out)
    rho = b2 ** (1.0 / (2.0 * (k - 2)))
    exists = b1 < rho ** (k - 1)
    on_line = b1 == b2 ** (k / (2.0 * (k - 2)))  # Eq. 8 with equality: elliptic, Lyapunov stable (D17)
    eq9 = b1 * (k - (k - 2) * rho) - rho ** (k - 1) * (k - 2 - k * rho) > 0
    stable = ((b1 < rho ** k) | on_line) & eq9
    # past Eq. 9 (left of Eq. 8): a stable period-2 orbit of the decoupled map, on which x converges at rate rho (D19)
    flip = exists & ~eq9 & (b1 < rho ** k) & ~on_line & (b2 > 0)
    if flip.any():
        p2 = np.zeros(b1.shape, dtype=bool)
        p2[flip] = _period_two_radius(b1[flip], b2[flip], k) < 1.0
        stable = stable | p2
    out = np.where(~exists, OSCILLATING, np.where(stable, CONVERGING, SPIKING)).astype(np.int8)
    return out if out.ndim else int(out)


def boundary_distance(beta1, beta2, k):
    """``|beta1 - B(beta2)|`` minimized over the regime boundaries ``B`` of Thm 6.1 (math.md D12).

    The boundaries, as functions ``beta1 = B(beta2)``: Eq. 8 ``beta2^{k/(2(k-2))}`` (I/II), the
    existence line ``beta2^{(k-1)/(2(k-2))}`` (II/III) and, where Eq. 9 binds (``beta2 <
    ((k-2)/k)^{2(k-2)}``), the I/II boundary there: the second flip, below which the period-2 orbit
    of claim D19 is unstable (:func:`period_two_stability_boundary_beta1`). (The Eq. 9 curve itself is
    no regime boundary: the fixed point hands its stability to that orbit, I on both sides.) The
    distance is measured along ``beta1`` at the cell's ``beta2``: a confidence of a phase-diagram cell
    (0 on a boundary).
    """
    k = check_even_k("k", k, minimum=4)
    b1, b2 = _check_betas(beta1, beta2)
    b1, b2 = np.broadcast_arrays(b1, b2)
    d = np.array(np.minimum(np.abs(b1 - stability_boundary_beta1(b2, k)), np.abs(b1 - existence_boundary_beta1(b2, k))),
                 dtype=np.float64)
    corner = b2 < period_doubling_beta2_max(k)
    if np.any(corner):
        rows, inverse = np.unique(b2[corner], return_inverse=True)
        flip = np.asarray(period_two_stability_boundary_beta1(rows, k))[inverse.ravel()]
        dc = np.where(np.isfinite(flip), np.minimum(d[corner], np.abs(b1[corner] - flip)), d[corner])
        d[corner] = dc
    return _scalar_or_array(d)


def sharpness_critical_gamma(k):
    """``gamma* = (k/(k-2))^{k-2}``: the effective-sharpness map's fixed point loses stability
    (period doubling) at ``gamma = gamma*`` (Prop. 5.6; math.md D10). 4 for ``k = 4``.
    """
    k = check_int("k", k, low=3)
    return (k / (k - 2)) ** (k - 2)


def sharpness_fixed_point(gamma, k):
    """Non-trivial fixed point ``s* = 1 - gamma^{-1/(k-2)}`` of ``s -> gamma s (1-s)^{k-2}`` (D10)."""
    k = check_int("k", k, low=3)
    g = np.asarray(gamma, dtype=np.float64)
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma = {gamma!r} is out of range; allowed: gamma > 0")
    return _scalar_or_array(1.0 - g ** (-1.0 / (k - 2)))


def sharpness_multiplier(gamma, k):
    """Multiplier ``f'(s*) = 1 - (k-2) s*/(1-s*)`` at the fixed point (D10).

    Equal to ``1 - (k-2)(gamma^{1/(k-2)} - 1)``; ``|f'(s*)| < 1`` iff ``1 < gamma < gamma*``.
    """
    s = np.asarray(sharpness_fixed_point(gamma, k))
    return _scalar_or_array(1.0 - (k - 2) * s / (1.0 - s))
