"""Symbolic theory of the five source papers.

Every claim of ``shared/design/math.md`` (A1-A6, D1-D14, E1-E3, F1-F2, C1-C4)
is a registered :class:`~theory.registry.Claim`: a statement, a sympy
derivation and a numeric cross-check that runs the dynsys kernels. One module
per paper:

- :mod:`theory.adam_spikes`        A1-A6 (Adam preconditioners trigger loss spikes)
- :mod:`theory.degenerate`         D1-D14 (Adam on highly degenerate polynomials)
- :mod:`theory.eos_blog`           E1-E3 (loss spikes and the edge of stability)
- :mod:`theory.llas`               F1-F2 (loss spike in training neural networks)
- :mod:`theory.critical_sharpness` C1-C4 (critical sharpness in LLMs)

:mod:`theory.generic` analyses any map written in sympy (fixed points,
Jacobian, eigenvalues, Jury conditions); the claims are built on it.
"""
from theory.registry import Claim, ClaimResult, Derivation, Measurement, all_claims, get_claim, run_claim

__all__ = ["Claim", "ClaimResult", "Derivation", "Measurement", "all_claims", "get_claim", "run_claim"]
