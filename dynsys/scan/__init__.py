"""Scanners: phase diagrams over two hyperparameters and orbit (bifurcation) diagrams of any map.

* :func:`phase_diagram` -- an optimizer on ``c x^k/k`` over a grid of two hyperparameters:
  min/final loss, spikes, coupling ratio, observed and predicted regime (math.md D12, D13);
  chunked, parallel, resumable, optionally on a Dask cluster (:mod:`dynsys.scan.phase`).
* :func:`orbit_diagram` -- attractor, period, Lyapunov exponent and escape of any
  :class:`dynsys.systems.MapSystem` over one parameter (math.md D10; :mod:`dynsys.scan.orbit`).

Regime codes: :data:`dynsys.regimes.REGIME_CODES` (0 diverged, 1 I converging,
2 II spiking after convergence, 3 III oscillating).
"""
from dynsys.scan.orbit import orbit_diagram
from dynsys.scan.phase import phase_diagram

__all__ = ["phase_diagram", "orbit_diagram"]
