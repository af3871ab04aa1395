"""dynsys: optimizers as dynamical systems.

Compiled (numba) optimizer maps on the objectives of five papers, their
symbolic theory (``theory/``), phase- and orbit-diagram scanners, and spike
predictors on torch networks (``dynsys.nn``, optional extra ``[torch]``).

The public API is re-exported here and imported lazily (``import dynsys`` is
cheap; numba compiles a kernel the first time it runs, then caches it on disk)::

    import dynsys
    ds = dynsys.trajectory(dynsys.adam(1e-2, beta1=0.5, beta2=0.9, eps=0.0, bias_correction=False),
                           dynsys.power(4), x0=1.0, steps=100_000)
    ds.log10_loss[-1]                    # -4573.58: slope k ln(b2)/(2(k-2)) per step (math.md D5)

See ``docs/api.md`` for the full list.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # optimizers (dynsys.optimizers)
    **{n: "dynsys.optimizers" for n in ("OptimizerSpec", "gd", "momentum", "rmsprop", "adam", "adamw",
                                        "make_optimizer")},
    # objectives (dynsys.objectives)
    **{n: "dynsys.objectives" for n in ("Objective", "power", "quadratic", "llas", "powerlaw_fit", "zipf_data",
                                        "make_objective")},
    # trajectories
    "trajectory": "dynsys.simulate",
    # maps of the theory, compiled from sympy
    **{n: "dynsys.systems" for n in ("MapSystem", "map_system", "get_system", "SYSTEMS")},
    # regime boundaries of the degenerate-polynomials paper
    **{n: "dynsys.regimes" for n in ("REGIME_CODES", "predicted_regime", "stability_boundary_beta1",
                                     "existence_boundary_beta1", "period_doubling_boundary_beta1",
                                     "adam_fixed_point", "fixed_point_rate", "sharpness_critical_gamma",
                                     "rmsprop_critical_beta2")},
    # curvature of a given Hessian
    **{n: "dynsys.analysis" for n in ("gradient_directional_curvature", "preconditioned_hessian",
                                      "preconditioned_sharpness", "directional_sharpness",
                                      "low_frequency_proportion", "condensed_variance")},
    **{n: "dynsys.linesearch" for n in ("CriticalStep", "critical_step_size")},
    # scanners
    **{n: "dynsys.scan" for n in ("phase_diagram", "orbit_diagram")},
    # figures
    **{n: "dynsys.figures" for n in ("make_figures",)},
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynsys' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
