"""dynsys: optimizers as dynamical systems.

Compiled (numba) optimizer maps on the objectives of five papers, their
symbolic theory (``theory/``), phase- and orbit-diagram scanners, and spike
predictors on torch networks (``dynsys.nn``, optional extra ``[torch]``).
"""
__version__ = "0.1.0"
