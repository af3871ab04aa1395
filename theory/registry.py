"""Registry of the papers' claims.

A claim is a statement, a symbolic derivation and a numeric measurement::

    register(Claim(
        id="A2", paper=PAPER, statement="heavy-ball recursion converges iff ...",
        derive=_derive_a2,          # () -> Derivation
        measure=_measure_a2,        # (Derivation) -> Measurement
    ))

``derive`` does the sympy work (map -> fixed points -> Jacobian -> eigenvalues
and Jury conditions, or ``dsolve`` for flows) and says whether the derived
result equals the paper's (``passed``). ``measure`` receives that derivation,
runs the dynsys kernels, and compares the measured figure with the predicted
one. :func:`run_claim` times both and catches errors, so one broken claim
never hides the others.
"""
from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

PAPER_MODULES = (
    "theory.adam_spikes",
    "theory.degenerate",
    "theory.eos_blog",
    "theory.llas",
    "theory.critical_sharpness",
    "theory.regime_boundaries",
    "theory.periodic_orbits",
    "theory.conservative_line",
    "theory.coupled_cycles",
    "theory.period_two_orbit",
)

ORDER = ("A", "D", "E", "F", "C")


@dataclass
class Derivation:
    """Result of a claim's symbolic derivation.

    passed : the derived result equals the paper's statement.
    steps  : (description, object) pairs; object is a sympy expression/matrix/
             relation (rendered with ``sympy.latex``) or a LaTeX string.
    values : named results (sympy expressions or numbers) the measurement uses.
    """

    passed: bool
    steps: list[tuple[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurement:
    """A numeric cross-check: the figure the theory predicts and the one measured."""

    predicted: float | str
    measured: float | str
    passed: bool
    detail: str = ""


@dataclass
class Claim:
    id: str
    paper: str
    statement: str
    derive: Callable[[], Derivation]
    measure: Callable[[Derivation], Measurement]


@dataclass
class ClaimResult:
    id: str
    paper: str
    statement: str
    symbolic: bool
    numeric: bool
    predicted: float | str | None
    measured: float | str | None
    seconds: float
    derivation: Derivation | None = None
    measurement: Measurement | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.symbolic and self.numeric

    def as_json(self) -> dict:
        def plain(v):
            if v is None or isinstance(v, (str, bool, int)):
                return v
            try:
                return float(v)
            except (TypeError, ValueError):
                return str(v)

        return {
            "id": self.id,
            "paper": self.paper,
            "statement": self.statement,
            "symbolic": self.symbolic,
            "numeric": self.numeric,
            "predicted": plain(self.predicted),
            "measured": plain(self.measured),
            "passed": self.passed,
        }


_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    if claim.id in _REGISTRY:
        raise ValueError(f"claim id {claim.id!r} registered twice")
    _REGISTRY[claim.id] = claim
    return claim


def _load() -> None:
    for name in PAPER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an unwritten module
                raise


def _sort_key(cid: str):
    letter, num = cid[0], cid[1:]
    return (ORDER.index(letter) if letter in ORDER else len(ORDER), int(num) if num.isdigit() else 0, cid)


def all_claims() -> list[Claim]:
    """Every registered claim, ordered A, D, E, F, C and by number."""
    _load()
    return [_REGISTRY[c] for c in sorted(_REGISTRY, key=_sort_key)]


def get_claim(cid: str) -> Claim:
    _load()
    if cid not in _REGISTRY:
        raise ValueError(f"claim = {cid!r} is not known; allowed: one of {', '.join(sorted(_REGISTRY, key=_sort_key))}")
    return _REGISTRY[cid]


def run_claim(claim: Claim) -> ClaimResult:
    """Derive, then measure; time both; an exception fails the claim with its message."""
    t0 = time.perf_counter()
    deriv = meas = None
    error = None
    try:
        deriv = claim.derive()
        meas = claim.measure(deriv)
    except Exception as exc:  # a broken claim is reported, not raised
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    return ClaimResult(
        id=claim.id,
        paper=claim.paper,
        statement=claim.statement,
        symbolic=bool(deriv and deriv.passed),
        numeric=bool(meas and meas.passed),
        predicted=meas.predicted if meas else None,
        measured=meas.measured if meas else None,
        seconds=time.perf_counter() - t0,
        derivation=deriv,
        measurement=meas,
        error=error,
    )
