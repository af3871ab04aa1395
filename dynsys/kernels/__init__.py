"""Numba kernels of the optimizer maps (``@njit(cache=True)``, no fastmath, deterministic).

* :mod:`dynsys.kernels.objective_fns` -- loss, gradient and Hessian of every objective,
  dispatched on an integer kind (the numpy methods of :class:`dynsys.objectives.Objective`
  call these same functions: one definition).
* :mod:`dynsys.kernels.raw` -- the optimizer map in plain float64 coordinates, any dimension.
* :mod:`dynsys.kernels.logpower` -- the optimizer map on ``x^k/k`` carried in
  extended-exponent ("log-scaled") coordinates (each of ``x``, ``m``, ``v`` as a float mantissa
  times ``2**e`` with an int64 exponent), so the loss can fall far below 1e-308 without
  underflow; it rounds exactly as the plain kernel wherever the plain values are normal floats.
* :mod:`dynsys.kernels.grid` -- Adam on ``x^k/k`` over a (beta1, beta2) grid, serial and
  ``prange``-parallel (the benchmark's kernel).

Kernels never raise: a run that leaves float64 (overflow, NaN) or meets ``0/0``
(``eps = 0`` and ``v = 0``) stops and returns a status code (see :data:`STATUS_REASONS`).
"""
from dynsys.kernels.status import STATUS_REASONS, OK

__all__ = ["STATUS_REASONS", "OK"]
