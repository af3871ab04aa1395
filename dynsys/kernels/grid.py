"""Adam (PyTorch convention) on ``x^k/k`` over a grid of ``(beta1, beta2)`` cells, plain float64.

Each cell iterates the same scalar update as :func:`dynsys.kernels.raw.run`
(it calls its pieces ``running_power``, ``moments`` and ``coordinate_step``) and keeps
only the final state, so serial and parallel (``prange``) runs give bit-identical
results. Used by ``benchmarks/bench_core.py``; the phase-diagram scanner of
``dynsys.scan`` is the full-featured tool (log coordinates, regimes, chunks).
Plain coordinates: with ``eps = 0`` the loss can underflow; cells stop on
``0/0`` or overflow with the status codes of :mod:`dynsys.kernels.status`.
"""
import math

import numpy as np
from numba import njit, prange

from dynsys.kernels.raw import coordinate_step, moments, running_power
from dynsys.kernels.status import LOSS_OVERFLOW, OK


@njit(cache=True, error_model="numpy")
def adam_power_cell(k, lr, b1, b2, eps, bias_correction, steps, x0):
    """Final ``(x, status, stop_step)`` of ``steps`` Adam updates on ``x^k/k`` from ``x0`` (m0 = v0 = 0)."""
    x = x0
    m = 0.0
    v = 0.0
    p1 = 1.0
    p2 = 1.0
    for t in range(steps):
        g = x ** (k - 1)
        if not math.isfinite(g):
            return x, LOSS_OVERFLOW, t
        p1 = running_power(t + 1, b1, p1)
        p2 = running_power(t + 1, b2, p2)
        step = lr / (1.0 - p1) if bias_correction else lr
        sq_bc2 = math.sqrt(1.0 - p2) if bias_correction else 1.0
        decay = 1.0
        m, v = moments(m, v, g, b1, b2, True)
        status, xn, den = coordinate_step(x, m, v, step, decay, sq_bc2, eps, True)
        if status != OK:
            return x, status, t
        x = xn
    return x, OK, -1


@njit(cache=True, error_model="numpy")
def adam_power_grid_serial(k, lr, b1s, b2s, eps, bias_correction, steps, x0, out_x, out_status, out_step):
    """Fill ``out_*[i, j]`` with :func:`adam_power_cell` at ``(b1s[i], b2s[j])``, one thread."""
    for i in range(b1s.shape[0]):
        for j in range(b2s.shape[0]):
            out_x[i, j], out_status[i, j], out_step[i, j] = adam_power_cell(
                k, lr, b1s[i], b2s[j], eps, bias_correction, steps, x0)


@njit(cache=True, error_model="numpy", parallel=True)
def adam_power_grid_parallel(k, lr, b1s, b2s, eps, bias_correction, steps, x0, out_x, out_status, out_step):
    """As :func:`adam_power_grid_serial`, cells spread over threads with ``prange`` (same results)."""
    n2 = b2s.shape[0]
    for c in prange(b1s.shape[0] * n2):
        i = c // n2
        j = c - i * n2
        out_x[i, j], out_status[i, j], out_step[i, j] = adam_power_cell(
            k, lr, b1s[i], b2s[j], eps, bias_correction, steps, x0)


def adam_power_grid(k, lr, b1s, b2s, eps, bias_correction, steps, x0, *, parallel=False):
    """Python entry: returns ``(x_final, status, stop_step)`` arrays of shape ``(len(b1s), len(b2s))``.

    Arguments are trusted (benchmark helper); use :func:`dynsys.simulate.trajectory` or the
    scanners for validated runs.
    """
    b1s = np.ascontiguousarray(b1s, dtype=np.float64)
    b2s = np.ascontiguousarray(b2s, dtype=np.float64)
    shape = (b1s.shape[0], b2s.shape[0])
    out_x = np.empty(shape)
    out_status = np.empty(shape, dtype=np.int64)
    out_step = np.empty(shape, dtype=np.int64)
    fn = adam_power_grid_parallel if parallel else adam_power_grid_serial
    fn(int(k), float(lr), b1s, b2s, float(eps), bool(bias_correction), int(steps), float(x0), out_x, out_status,
       out_step)
    return out_x, out_status, out_step
