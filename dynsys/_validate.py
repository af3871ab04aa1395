"""Argument checks shared by every public function.

Each check raises :class:`ValueError` with one line that names the argument,
the offending value and the allowed range, e.g.::

    ValueError: beta2 = 1.5 is out of range; allowed: 0 <= beta2 < 1

The CLI prints that line and exits with status 2.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_real",
    "check_in_range",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_even_k",
    "check_choice",
    "check_finite_array",
    "check_symmetric",
]


def _is_real_scalar(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(name: str, value) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if type(value) is float and math.isfinite(value):  # fast path (per-value checks in sweeps)
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not _is_real_scalar(value):
        raise ValueError(f"{name} = {value!r} is not a real number; allowed: a finite real number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} = {value!r} is not finite; allowed: a finite real number")
    return value


def check_in_range(name: str, value, low=None, high=None, *, low_open=False, high_open=False) -> float:
    """Check ``low <= value <= high`` (``<`` where the end is open); return it as float."""
    value = check_real(name, value)
    ok = True
    if low is not None:
        ok &= value > low if low_open else value >= low
    if high is not None:
        ok &= value < high if high_open else value <= high
    if not ok:
        parts = []
        if low is not None:
            parts.append(f"{low:g} {'<' if low_open else '<='} ")
        parts.append(name)
        if high is not None:
            parts.append(f" {'<' if high_open else '<='} {high:g}")
        raise ValueError(f"{name} = {value!r} is out of range; allowed: {''.join(parts)}")
    return value


def check_positive(name: str, value) -> float:
    """``value > 0`` and finite."""
    return check_in_range(name, value, 0.0, None, low_open=True)


def check_nonnegative(name: str, value) -> float:
    """``value >= 0`` and finite."""
    return check_in_range(name, value, 0.0, None)


def check_int(name: str, value, low=None, high=None) -> int:
    """An integer (bools refused) with ``low <= value <= high``."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            rng = _int_range(name, low, high)
            raise ValueError(f"{name} = {value!r} is not an integer; allowed: integer {rng}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} = {value!r} is out of range; allowed: integer {_int_range(name, low, high)}")
    return value


def _int_range(name, low, high) -> str:
    if low is not None and high is not None:
        return f"{low} <= {name} <= {high}"
    if low is not None:
        return f"{name} >= {low}"
    if high is not None:
        return f"{name} <= {high}"
    return name


def check_even_k(name: str, value, minimum: int = 2) -> int:
    """The exponent ``k`` of ``x^k/k``: an even integer ``>= minimum``."""
    k = check_int(name, value, low=minimum)
    if k % 2:
        raise ValueError(f"{name} = {k!r} is odd; allowed: even integer {name} >= {minimum}")
    return k


def check_choice(name: str, value, choices) -> str:
    """``value`` must be one of ``choices``; the error lists them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} = {value!r} is not valid; allowed: one of {', '.join(map(str, choices))}")
    return value


def check_finite_array(name: str, value, ndim=None) -> np.ndarray:
    """A float64 array with finite entries (and ``ndim`` dimensions if given)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} = {value!r} is not an array of real numbers; allowed: finite real array") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} has shape {arr.shape}; allowed: a {ndim}-dimensional array")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; allowed: a non-empty finite real array")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite entries; allowed: finite real array")
    return arr


def check_symmetric(name: str, value, rtol: float = 1e-12) -> np.ndarray:
    """A finite square symmetric matrix."""
    a = check_finite_array(name, value, ndim=2)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} has shape {a.shape}; allowed: a square symmetric matrix")
    scale = max(1.0, float(np.max(np.abs(a))))
    if not np.allclose(a, a.T, rtol=0.0, atol=rtol * scale):
        err = float(np.max(np.abs(a - a.T)))
        raise ValueError(f"{name} is not symmetric (max |A - A^T| = {err:.3g}); allowed: a symmetric matrix")
    # Within tolerance: return the exactly symmetric part so downstream code sees A == A^T bit for bit.
    return 0.5 * (a + a.T)
