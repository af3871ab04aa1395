"""Axes of a phase diagram: which hyperparameter, over which range, how many cells.

An axis is ``(name, start, stop, num)`` or ``(name, start, stop, num, "log")``, or the
string ``"name:start:stop:num[:log]"`` of the CLI. The grid is **cell-centred**: the ``num``
cells tile ``[start, stop]`` and each is represented by its centre,
``start + (i + 1/2)(stop - start)/num`` (geometric centres on a log axis), so
``beta1:0:1:N`` never evaluates the excluded endpoint ``beta1 = 1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynsys._validate import check_int, check_real

__all__ = ["Axis", "parse_axis", "SWEEPABLE"]

#: hyperparameters a phase diagram can sweep, with their domain (low, high, low_open, high_open)
SWEEPABLE = {
    "lr": (0.0, None, True, False),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "eps": (0.0, None, False, False),
    "weight_decay": (0.0, None, False, False),
    "lr_decay": (0.0, None, True, False),
    "x0": (None, None, False, False),
    "k": (2, None, False, False),
    "curvature": (0.0, None, True, False),
}


def _domain_text(name):
    lo, hi, lo_open, hi_open = SWEEPABLE[name]
    if name == "k":
        return "even integers k >= 2 (k >= 4 for --objective power)"
    parts = []
    if lo is not None:
        parts.append(f"{lo:g} {'<' if lo_open else '<='} ")
    parts.append(name)
    if hi is not None:
        parts.append(f" {'<' if hi_open else '<='} {hi:g}")
    return "".join(parts) if (lo is not None or hi is not None) else f"any finite {name}"


def check_value(name, value):
    """Raise ValueError if ``value`` is outside the domain of hyperparameter ``name``."""
    lo, hi, lo_open, hi_open = SWEEPABLE[name]
    ok = math.isfinite(value)
    if lo is not None:
        ok &= value > lo if lo_open else value >= lo
    if hi is not None:
        ok &= value < hi if hi_open else value <= hi
    if not ok:
        raise ValueError(f"{name} = {value!r} is out of range; allowed: {_domain_text(name)}")


@dataclass(frozen=True)
class Axis:
    """One swept hyperparameter: ``num`` cells over ``[start, stop]`` (see module docstring)."""

    name: str
    start: float
    stop: float
    num: int
    log: bool = False

    def values(self) -> np.ndarray:
        """Cell centres (float64; integers for ``k``)."""
        if self.name == "k":
            return np.arange(int(self.start), int(self.stop) + 1, 2, dtype=np.float64)
        i = (np.arange(self.num) + 0.5) / self.num
        if self.log:
            return np.exp(math.log(self.start) + i * (math.log(self.stop) - math.log(self.start)))
        return self.start + i * (self.stop - self.start)

    def spec(self) -> str:
        return f"{self.name}:{self.start!r}:{self.stop!r}:{self.num}" + (":log" if self.log else "")


def parse_axis(label, value) -> Axis:
    """Validate an axis given as a tuple or a ``"name:start:stop:num[:log]"`` string.

    ``label`` names the argument in errors (``"x"``, ``"--y"``). For ``k`` the axis is the even
    integers from ``start`` to ``stop`` (``num`` must equal their count, or be given as 0).
    """
    if isinstance(value, Axis):
        parts = [value.name, value.start, value.stop, value.num] + (["log"] if value.log else [])
    elif isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        raise ValueError(f"{label} = {value!r} is not an axis; allowed: NAME:START:STOP:NUM[:log] or (name, start, stop, num[, 'log'])")
    if len(parts) not in (4, 5) or (len(parts) == 5 and parts[4] not in ("log", "lin")):
        raise ValueError(f"{label} = {value!r} is not an axis; allowed: NAME:START:STOP:NUM[:log]")
    name = parts[0]
    if name == "beta":  # momentum's beta is beta1
        name = "beta1"
    if name not in SWEEPABLE:
        raise ValueError(f"{label} parameter {name!r} is unknown; allowed: {', '.join(SWEEPABLE)}")
    try:
        start = float(parts[1])
        stop = float(parts[2])
    except (TypeError, ValueError):
        raise ValueError(f"{label} = {value!r} has a non-numeric range; allowed: NAME:START:STOP:NUM with real START < STOP") from None
    start = check_real(f"{label} start", start)
    stop = check_real(f"{label} stop", stop)
    try:
        num = int(parts[3]) if not isinstance(parts[3], float) else parts[3]
    except (TypeError, ValueError):
        raise ValueError(f"{label} NUM = {parts[3]!r} is not an integer; allowed: integer NUM >= 1") from None
    log = len(parts) == 5 and parts[4] == "log"
    if not start < stop:
        what = "empty" if start == stop else "reversed"
        raise ValueError(f"{label} range {start!r}:{stop!r} is {what}; allowed: START < STOP")
    if name == "k":
        ks = [kk for kk in range(math.ceil(start), math.floor(stop) + 1) if kk % 2 == 0 and kk >= 2]
        if float(start) != int(start) or float(stop) != int(stop) or not ks:
            raise ValueError(f"{label} range k:{start!r}:{stop!r} holds no even integer >= 2; allowed: integer START < STOP with even k >= 2 between them")
        num = check_int(f"{label} NUM", num, low=0)
        if num not in (0, len(ks)):
            raise ValueError(f"{label} NUM = {num} for k:{start:g}:{stop:g}; allowed: {len(ks)} (the even integers in range) or 0")
        return Axis("k", float(ks[0]), float(ks[-1]), len(ks), False)
    num = check_int(f"{label} NUM", num, low=1)
    if log and start <= 0:
        raise ValueError(f"{label} start = {start!r} on a log axis; allowed: START > 0")
    lo, hi, lo_open, hi_open = SWEEPABLE[name]
    # the cell centres must lie in the domain; the edges may touch an open end (beta1:0:1)
    if lo is not None and start < lo:
        raise ValueError(f"{label} start {name} = {start!r} is out of range; allowed: {_domain_text(name)}")
    if hi is not None and stop > hi:
        raise ValueError(f"{label} stop {name} = {stop!r} is out of range; allowed: {_domain_text(name)}")
    ax = Axis(name, start, stop, num, log)
    vals = ax.values()
    for v in (vals[0], vals[-1]):
        check_value(name, float(v))
    return ax
