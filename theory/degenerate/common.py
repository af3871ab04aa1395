"""Shared by the D claims: paper id, sympy symbols, the normalized Adam and sharpness maps, numeric helpers."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp


PAPER = "adam-degenerate-polynomials"

# ----------------------------------------------------------------------------- symbols

b1, b2 = sp.symbols("beta1 beta2", positive=True)
rho = sp.Symbol("rho", positive=True)
k = sp.Symbol("k", positive=True, integer=True)
u, w, z = sp.symbols("u w z")
eta = sp.Symbol("eta", positive=True)
t = sp.Symbol("t", positive=True)
s_ = sp.Symbol("s")
gamma = sp.Symbol("gamma", positive=True)


def _adam_map(kv=None):
    """The normalized Adam map of :mod:`dynsys.systems` with positive parameter symbols.

    Returns ``(exprs, s)`` with ``exprs`` the next ``(u, w, z)`` and ``s = 1 - u w``.
    """
    from dynsys.systems import get_system

    states, params, exprs = get_system("adam-normalized").symbolic(k=kv)
    rep = dict(zip(states, (u, w, z)))
    names = {p.name: p for p in params}
    rep[names["beta1"]] = b1
    rep[names["beta2"]] = b2
    if "k" in names:
        rep[names["k"]] = k
    return [e.subs(rep, simultaneous=True) for e in exprs], 1 - u * w


def _sharpness_map(kv=None):
    from dynsys.systems import get_system

    (s,), params, (expr,) = get_system("sharpness").symbolic(k=kv)
    names = {p.name: p for p in params}
    rep = {s: s_, names["gamma"]: gamma}
    if "k" in names:
        rep[names["k"]] = k
    return expr.subs(rep, simultaneous=True)


def _zero(expr) -> bool:
    return sp.simplify(expr) == 0


def _fmt(v, digits=6) -> str:
    return f"{v:.{digits}g}"


def _rel(a, b) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# ----------------------------------------------------------------------------- numeric helpers

def _adam_run(kv, beta1, beta2, lr=1e-2, steps=3000, x0=1.0, **kw):
    """CORE trajectory of Adam with eps = 0 and no bias correction (the paper's setting)."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    return trajectory(adam(lr, beta1=beta1, beta2=beta2, eps=0.0, bias_correction=False), power(kv), x0, steps, **kw)


def _slope(y, x=None) -> float:
    y = np.asarray(y, dtype=float)
    x = np.arange(len(y), dtype=float) if x is None else np.asarray(x, dtype=float)
    return float(np.polyfit(x, y, 1)[0])


def _ln_loss(ds) -> np.ndarray:
    return np.asarray(ds.log10_loss.values, dtype=float) * math.log(10.0)


def _newton_uw(system, params, start, iters=60, tol=1e-14):
    """Newton on ``F(u, w, 0) = (u, w)`` with the compiled step and Jacobian kernels."""
    p = np.array([start[0], start[1], 0.0])
    out = np.empty(3)
    jac = np.empty((3, 3))
    for _ in range(iters):
        system.step(p, params, out)
        g = out[:2] - p[:2]
        if not np.all(np.isfinite(g)):
            return None
        if np.max(np.abs(g)) < tol * max(1.0, np.max(np.abs(p[:2]))):
            return p[:2].copy()
        system.jacobian(p, params, jac)
        A = jac[:2, :2] - np.eye(2)
        try:
            d = np.linalg.solve(A, -g)
        except np.linalg.LinAlgError:
            return None
        p[:2] += d
    system.step(p, params, out)
    return p[:2].copy() if np.max(np.abs(out[:2] - p[:2])) < 1e-10 * max(1.0, np.max(np.abs(p[:2]))) else None


def _spectral_radius_kernel(system, state, params) -> float:
    jac = np.empty((system.dim, system.dim))
    system.jacobian(np.asarray(state, dtype=float), params, jac)
    return float(np.max(np.abs(np.linalg.eigvals(jac))))


def _fixed_point_numeric(beta1, beta2, kv):
    r = beta2 ** (1.0 / (2 * (kv - 2)))
    us = (1 - beta1) / (1 - beta1 / r ** (kv - 1))
    return r, us, (1 - r) / us
