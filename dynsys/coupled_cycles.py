"""Stable *coupled* periodic orbits of Adam on ``x^k/k``: the attractors Thm 6.1 does not look at.

Thm 6.1 of the degenerate-polynomials paper (math.md D12) decides the regime from the non-trivial fixed
point of the normalized map, which lives in the decoupled plane ``z = x^2/lr^2 = 0``. Adam also has
periodic orbits at the SignGD-like scale ``|x| ~ lr`` with ``v`` coupled to ``g^2`` (``z > 0``): the exact
2-cycle ``x -> -x``, ``|x| = lr (1-b1)/(2(1+b1))``, ``v = g^2`` of math.md D2, and, where it has lost
stability, period-4, 6, ... orbits around it. Where such an orbit is **stable** it is an attractor of its
own: in a predicted-II cell (fixed point unstable) the run may be captured by it before it ever converges
and then oscillates for ever (observed III); in a predicted-III cell (no fixed point) it holds the run
away from the exponential phases of the ghost band (claims D15/D16). Claim D18
(``theory/coupled_cycles.py``) measures both on the 96 x 96 grids of issue 13.

:func:`stable_coupled_cycle` looks for one: from the exact 2-cycle and five small perturbations of it,
the raw Adam map (eps = 0, no bias correction; in units of ``lr``, so ``lr`` and ``x0`` do not matter:
the map is covariant under ``x -> c x``, ``lr -> c lr``) is iterated ``settle`` steps; if the orbit then
returns within 1 % of itself after ``p <= max_period`` steps, Newton's method on ``F^p(s) = s`` (with the
exact product of the one-step Jacobians, in relative coordinates) refines the cycle to 1e-10 and its
Floquet multipliers (the eigenvalues of that product) decide whether it is stable; the reported period
is the cycle's minimal one. It reports the period of the first stable cycle found (0: none found; an orbit
that converges, diverges, is chaotic, or closes only after more than ``max_period`` steps) and its
spectral radius. This finds the stable cycles *reachable from near the 2-cycle*; a stable cycle elsewhere
in state space, or one that settles slower than ``settle`` steps, is missed (reported 0). The search runs in
float64 in units of ``lr``: for ``k`` above about 500, ``g^2 = x^{2(k-1)}`` underflows at the SignGD scale
and it reports 0.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dynsys._validate import check_even_k, check_int
from dynsys.regimes import _check_betas

__all__ = ["stable_coupled_cycle", "two_cycle"]

_SEEDS = ((1.0, 1.0, 1.0), (1.01, 1.0, 1.0), (0.99, 1.0, 1.0), (1.0, 1.02, 1.0), (1.0, 1.0, 0.97), (1.1, 0.9, 1.05))
_TOL = 1e-10
#: a settled orbit that returns within this relative distance after p steps is refined by Newton on F^p(s) = s
_LOOSE = 1e-2


def _two_cycle_state(b1, k):
    """The 2-cycle's state at ``x = +a`` in units of lr (scalars or arrays; compiled as :func:`_two_cycle_jit`)."""
    a = (1.0 - b1) / (2.0 * (1.0 + b1))
    g = a ** (k - 1)
    return a, -(1.0 - b1) * g / (1.0 + b1), g * g


_two_cycle_jit = njit(inline="always")(_two_cycle_state)


@njit(inline="always")
def _step(x, m, v, b1, b2, k):
    """One Adam step in units of lr (PyTorch order, eps = 0, no bias correction)."""
    g = x ** (k - 1)
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * g * g
    if not (v > 0.0):
        return math.nan, m, v
    return x - m / math.sqrt(v), m, v


@njit(cache=True)
def _cycle_map(x, m, v, b1, b2, k, p):
    """``F^p`` of the state and its Jacobian in relative coordinates (``dx/x0``, ``dm/m0``, ``dv/v0`` in,
    relative to the start state's magnitudes out): a similarity of the exact Jacobian product."""
    x0, m0, v0 = x, m, v
    J = np.eye(3)
    A = np.empty((3, 3))
    before = np.empty(3)
    after = np.empty(3)
    for _ in range(p):
        g = x ** (k - 1)
        gx = (k - 1) * x ** (k - 2)
        mn = b1 * m + (1.0 - b1) * g
        vn = b2 * v + (1.0 - b2) * g * g
        if not (vn > 0.0):
            return math.nan, m, v, J
        r = math.sqrt(vn)
        dmx = (1.0 - b1) * gx
        dvx = 2.0 * (1.0 - b2) * g * gx
        A[0, 0] = 1.0 - dmx / r + mn * dvx / (2.0 * vn * r)
        A[0, 1] = -b1 / r
        A[0, 2] = mn * b2 / (2.0 * vn * r)
        A[1, 0] = dmx
        A[1, 1] = b1
        A[1, 2] = 0.0
        A[2, 0] = dvx
        A[2, 1] = 0.0
        A[2, 2] = b2
        xn = x - mn / r
        before[0], before[1], before[2] = abs(x), abs(m), abs(v)
        after[0], after[1], after[2] = abs(xn), abs(mn), abs(vn)
        for i in range(3):
            for j in range(3):
                A[i, j] = A[i, j] * before[j] / after[i]
        J = A @ J
        x, m, v = xn, mn, vn
    # back to the start state's scale (the state returns near it on a cycle)
    fin = np.array([abs(x), abs(m), abs(v)])
    st = np.array([abs(x0), abs(m0), abs(v0)])
    for i in range(3):
        for j in range(3):
            J[i, j] = J[i, j] * fin[i] / st[i]
    return x, m, v, J


@njit(cache=True)
def _closes(x, m, v, xp, mp, vp, tol):
    return (abs(xp - x) <= tol * abs(x) and abs(mp - m) <= tol * abs(m) and abs(vp - v) <= tol * abs(v))


@njit(cache=True)
def _refine(x, m, v, b1, b2, k, p):
    """Newton on ``F^p(s) = s`` from ``s`` (relative coordinates); returns ``(ok, x, m, v, radius)`` with the
    Floquet spectral radius of the converged cycle."""
    for _ in range(30):
        xp, mp, vp, J = _cycle_map(x, m, v, b1, b2, k, p)
        if not (math.isfinite(xp) and math.isfinite(mp) and math.isfinite(vp)):
            return False, x, m, v, math.nan
        if _closes(x, m, v, xp, mp, vp, _TOL):
            ev = np.linalg.eigvals(J.astype(np.complex128))
            return True, x, m, v, np.max(np.abs(ev))
        res = np.array([(xp - x) / abs(x), (mp - m) / abs(m), (vp - v) / abs(v)])
        try:
            d = np.linalg.solve(J - np.eye(3), -res)
        except Exception:  # singular: no isolated cycle here
            return False, x, m, v, math.nan
        x = x * (1.0 + d[0])
        m = m * (1.0 + d[1])
        v = v * (1.0 + d[2])
        if not (v > 0.0) or x == 0.0 or m == 0.0:
            return False, x, m, v, math.nan
    return False, x, m, v, math.nan


@njit(cache=True)
def _search(b1, b2, k, settle, pmax):
    a, m0, v0 = _two_cycle_jit(b1, k)
    seeds = np.array(_SEEDS)
    xs = np.empty(pmax + 1)
    ms = np.empty(pmax + 1)
    vs = np.empty(pmax + 1)
    for s in range(seeds.shape[0]):
        x, m, v = a * seeds[s, 0], m0 * seeds[s, 1], v0 * seeds[s, 2]
        ok = True
        for _ in range(settle):
            x, m, v = _step(x, m, v, b1, b2, k)
            if not (abs(x) < 1e10) or abs(x) < 1e-30 or not (v > 0.0):
                ok = False
                break
        if not ok:
            continue
        xs[0], ms[0], vs[0] = x, m, v
        for i in range(1, pmax + 1):
            x, m, v = _step(x, m, v, b1, b2, k)
            xs[i], ms[i], vs[i] = x, m, v
        for p in range(1, pmax + 1):
            if not _closes(xs[0], ms[0], vs[0], xs[p], ms[p], vs[p], _LOOSE):
                continue
            good, x, m, v, r = _refine(xs[0], ms[0], vs[0], b1, b2, k, p)
            if not good or not (r < 1.0):
                continue
            # the minimal period of the cycle Newton converged to
            q = p
            xq, mq, vq = x, m, v
            for i in range(1, p):
                xq, mq, vq = _step(xq, mq, vq, b1, b2, k)
                if p % i == 0 and _closes(x, m, v, xq, mq, vq, 1e-8):
                    q = i
                    break
            if q != p:
                _, _, _, J = _cycle_map(x, m, v, b1, b2, k, q)
                r = np.max(np.abs(np.linalg.eigvals(J.astype(np.complex128))))
            return q, r
    return 0, math.nan


@njit(parallel=True, cache=True)
def _search_cells(b1, b2, k, settle, pmax, period, radius):
    for i in prange(b1.shape[0]):
        p, r = _search(b1[i], b2[i], k, settle, pmax)
        period[i] = p
        radius[i] = r


def two_cycle(beta1, k):
    """The exact 2-cycle of math.md D2 in units of ``lr``: ``x = +-a``, ``a = (1-b1)/(2(1+b1))``,
    ``m = -+(1-b1) a^{k-1}/(1+b1)`` (the state after a step from ``-+a``), ``v = a^{2(k-1)}``.
    Returns ``(a, m, v)`` for the point ``x = +a``."""
    k = check_even_k("k", k, minimum=4)
    (b1,) = _check_betas(beta1, None, need_b2=False)
    return _two_cycle_state(b1, k)


def stable_coupled_cycle(beta1, beta2, k, *, max_period=32, settle=4000):
    """Period and Floquet spectral radius of a stable coupled cycle of Adam on ``x^k/k`` (eps = 0, no bias
    correction), searched from the exact 2-cycle (module docstring); period 0 (radius NaN) where none is
    found. ``beta1``, ``beta2``: scalars or arrays (broadcast). Returns ``(period, radius)`` (int8 and
    float64 arrays, or Python scalars for scalar input)."""
    k = check_even_k("k", k, minimum=4)
    max_period = check_int("max_period", max_period, low=1, high=64)
    settle = check_int("settle", settle, low=1)
    b1, b2 = np.broadcast_arrays(*_check_betas(beta1, beta2))
    shape = b1.shape
    f1 = np.ascontiguousarray(b1.ravel())
    f2 = np.ascontiguousarray(b2.ravel())
    period = np.zeros(f1.size, np.int64)
    radius = np.full(f1.size, np.nan)
    _search_cells(f1, f2, k, settle, max_period, period, radius)
    period = period.astype(np.int8).reshape(shape)
    radius = radius.reshape(shape)
    if period.ndim == 0:
        return int(period), float(radius)
    return period, radius
