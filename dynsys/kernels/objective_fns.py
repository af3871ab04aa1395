"""Loss, gradient and Hessian of the objectives, compiled with numba.

Objectives are selected by an integer ``kind`` and described by the arrays
``(k, A, data_x, data_y)`` (unused ones are empty):

* ``POWER``      ``L(x) = x^k/k`` (``k`` even), ``g = x^{k-1}``, ``L'' = (k-1) x^{k-2}``
  (Eq. 2 of the degenerate-polynomials paper, math.md section 2).
* ``QUADRATIC``  ``L(x) = x^T A x / 2``, ``g = A x``, ``H = A`` (math.md E1).
* ``LLAS``       ``f(x, y) = (50x + 200) y^2 - x + 5`` (LLAS toy, math.md F1).
* ``POWERLAW``   ``L(C, a) = (1/2N) sum_i (y_i - C x_i^a)^2`` (power-law fit of the
  edge-of-stability blog, math.md E3).
"""
import math

import numpy as np
from numba import njit

POWER, QUADRATIC, LLAS, POWERLAW = 0, 1, 2, 3


@njit(cache=True)
def loss(kind, k, A, dx, dy, x):
    """Objective value at ``x``."""
    if kind == POWER:
        return x[0] ** k / k
    if kind == QUADRATIC:
        d = x.shape[0]
        s = 0.0
        for i in range(d):
            row = 0.0
            for j in range(d):
                row += A[i, j] * x[j]
            s += x[i] * row
        return 0.5 * s
    if kind == LLAS:
        return (50.0 * x[0] + 200.0) * x[1] * x[1] - x[0] + 5.0
    # POWERLAW
    n = dx.shape[0]
    s = 0.0
    for i in range(n):
        r = dy[i] - x[0] * math.exp(x[1] * math.log(dx[i]))
        s += r * r
    return 0.5 * s / n


@njit(cache=True)
def grad(kind, k, A, dx, dy, x, out):
    """Gradient at ``x`` written into ``out``."""
    if kind == POWER:
        out[0] = x[0] ** (k - 1)
    elif kind == QUADRATIC:
        d = x.shape[0]
        for i in range(d):
            row = 0.0
            for j in range(d):
                row += A[i, j] * x[j]
            out[i] = row
    elif kind == LLAS:
        out[0] = 50.0 * x[1] * x[1] - 1.0
        out[1] = 2.0 * (50.0 * x[0] + 200.0) * x[1]
    else:
        n = dx.shape[0]
        gc = 0.0
        ga = 0.0
        for i in range(n):
            lx = math.log(dx[i])
            xa = math.exp(x[1] * lx)
            r = dy[i] - x[0] * xa
            gc -= r * xa
            ga -= r * x[0] * xa * lx
        out[0] = gc / n
        out[1] = ga / n


@njit(cache=True)
def hessian(kind, k, A, dx, dy, x, out):
    """Hessian at ``x`` written into ``out`` (d x d)."""
    if kind == POWER:
        if k == 2:
            out[0, 0] = 1.0
        else:
            out[0, 0] = (k - 1) * x[0] ** (k - 2)
    elif kind == QUADRATIC:
        d = x.shape[0]
        for i in range(d):
            for j in range(d):
                out[i, j] = A[i, j]
    elif kind == LLAS:
        out[0, 0] = 0.0
        out[0, 1] = 100.0 * x[1]
        out[1, 0] = 100.0 * x[1]
        out[1, 1] = 2.0 * (50.0 * x[0] + 200.0)
    else:
        n = dx.shape[0]
        hcc = 0.0
        hca = 0.0
        haa = 0.0
        for i in range(n):
            lx = math.log(dx[i])
            xa = math.exp(x[1] * lx)
            f = x[0] * xa
            r = dy[i] - f
            hcc += xa * xa
            hca += xa * lx * (f - r)
            haa += f * lx * lx * (f - r)
        out[0, 0] = hcc / n
        out[0, 1] = hca / n
        out[1, 0] = hca / n
        out[1, 1] = haa / n
