"""Critical learning rate by a line search that needs only loss evaluations.

The critical learning rate along an update direction ``d`` is the smallest step
``eta > 0`` for which one step raises the loss (Definition 2.1 of the
critical-sharpness paper, ``critical-sharpness-llms.txt``; claim C1 of math.md)::

    eta_c = min { eta > 0 : L(theta - eta d) > L(theta) },     S_c = 2 / eta_c.

For a quadratic loss ``L = x^T A x / 2`` and ``d = g = A x`` the answer is exact:
``eta_c = 2 g^T g / g^T A g`` (``theory.critical_sharpness``, claim C1).

:func:`critical_step_size` only calls ``loss_at(eta)`` (one forward pass each) and
counts the calls. It works in two phases, as in Section 7 of the paper:

1. **Bracketing.** Evaluate the guess; if the loss rises there, halve until it
   does not, otherwise double until it does. With a warm start (the previous
   estimate as the guess) this is one or two evaluations.
2. **Refinement** of the bracket ``[lower, upper]`` (``loss(lower) <= loss0 <
   loss(upper)``) until ``upper / lower - 1 <= rel_tol``. Each step evaluates
   either the geometric midpoint (bisection in ``log eta``) or a model root:
   the root of ``h(eta) = (loss(eta) - loss0) / eta`` interpolated through the
   bracket ends (linear ``h``: the parabola through the origin, exact for a loss
   that is quadratic along ``d``) or, with a third evaluated point, by inverse
   quadratic interpolation (Brent). The model point is nudged by a factor
   ``(1 + rel_tol)^0.45`` towards the wider side so that two good model steps
   close the bracket. A model step that does not at least halve the bracket's
   log-width is followed by a plain bisection, so the worst case stays within
   twice plain bisection.

Measured counts at ``rel_tol = 0.01`` with a guess within 2x of ``eta_c``
(``tests/test_linesearch.py``): 3-4 evaluations on quadratics, 5-9 on smooth
non-quadratic losses (quartic, cosh), against 9 for doubling plus plain
bisection.

A non-finite loss (overflow, NaN), or a ``loss_at`` that raises ``OverflowError``
or ``FloatingPointError``, counts as a rise: it is reported through the bracket,
never passed on as NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from dynsys._validate import check_int, check_positive, check_real

__all__ = ["CriticalStep", "critical_step_size"]


@dataclass(frozen=True)
class CriticalStep:
    """Result of :func:`critical_step_size`.

    lower     : largest evaluated step whose loss did not rise (``loss <= loss0``);
                0.0 when every evaluated step raised the loss.
    upper     : smallest evaluated step whose loss rose (``loss > loss0`` or not
                finite); ``inf`` when no evaluated step raised the loss.
    n_evals   : number of ``loss_at`` calls (forward passes).
    estimate  : the critical learning rate, the mean of the final bracket
                ``(lower + upper) / 2`` (as the paper); ``inf`` when no rise was found.
    converged : the bracket was found and refined to ``upper/lower - 1 <= rel_tol``.
    """

    lower: float
    upper: float
    n_evals: int
    estimate: float
    converged: bool = True

    @property
    def sharpness(self) -> float:
        """Critical sharpness ``2 / eta_c`` (0.0 when no rise was found)."""
        if math.isinf(self.estimate):
            return 0.0
        return 2.0 / self.estimate


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"loss_at returned {value!r}; allowed: a real number (or a 1-element tensor/array)"
        ) from None


def _model_root(points: list[tuple[float, float]], lo: float, hi: float) -> float | None:
    """Root in ``(lo, hi)`` of the interpolated ``h(eta) = f(eta)/eta``.

    ``points`` are finite ``(eta, f)`` pairs, the bracket ends first. For a loss
    that is quadratic along the direction, ``h`` is linear and two points give
    the root exactly (the parabola through the origin); with a third point the
    root comes from inverse quadratic interpolation of ``h``, as in Brent's
    method. Returns None when no usable root lies inside the bracket.
    """
    if len(points) < 2 or lo <= 0.0:
        return None
    (e0, f0), (e1, f1) = points[0], points[1]
    h0, h1 = f0 / e0, f1 / e1
    root = None
    if len(points) >= 3:
        e2, f2 = points[2]
        h2 = f2 / e2
        if h0 != h1 and h0 != h2 and h1 != h2:
            root = (e0 * h1 * h2 / ((h0 - h1) * (h0 - h2))
                    + e1 * h0 * h2 / ((h1 - h0) * (h1 - h2))
                    + e2 * h0 * h1 / ((h2 - h0) * (h2 - h1)))
            if not (math.isfinite(root) and lo < root < hi):
                root = None
    if root is None and h1 != h0:
        root = e0 - h0 * (e1 - e0) / (h1 - h0)
        if not (math.isfinite(root) and lo < root < hi):
            root = None
    return root


def critical_step_size(
    loss_at: Callable[[float], float],
    loss0,
    *,
    guess=None,
    rel_tol=0.01,
    max_evals=60,
) -> CriticalStep:
    """Smallest step ``eta > 0`` with ``loss_at(eta) > loss0`` (claim C1).

    Definition 2.1 and Section 7 (Algorithms 1-2) of the critical-sharpness
    paper: ``eta_c = min{eta > 0 : L(theta - eta d) > L(theta)}``, critical
    sharpness ``2/eta_c``. See the module docstring for the search.

    Parameters
    ----------
    loss_at : callable
        ``loss_at(eta) -> float``: the loss after a step of size ``eta`` along the
        fixed update direction, e.g. ``lambda eta: L(theta - eta * d)``. For the
        relative critical sharpness (C4) pass the second loss along the first
        loss's update. Torch scalars are accepted (converted with ``float``).
    loss0 : float
        The reference loss ``L(theta)`` (finite; a 1-element tensor is accepted).
    guess : float, optional
        Starting step (default 1.0). Pass the previous estimate for a warm start:
        with a guess within 2x of ``eta_c`` a quadratic loss needs 3-4
        evaluations at ``rel_tol = 0.01``, smooth non-quadratic ones 5-9.
    rel_tol : float
        Stop when ``upper / lower - 1 <= rel_tol``; ``0 < rel_tol <= 1``.
    max_evals : int
        Cap on the number of evaluations, ``>= 2``.

    Returns
    -------
    CriticalStep
        ``converged`` is False when the budget ran out, when no evaluated step
        raised the loss (``upper = inf``, ``estimate = inf``), or when every
        evaluated step raised it (``lower = 0``). Along an ascent direction the
        halving usually stops earlier, at the float resolution of the loss:
        ``eta ~ eps |loss0| / |slope|``, where the rise rounds to ``loss0`` (a
        loss equal to ``loss0`` is not a rise); such an ``estimate`` is that tiny.

    Raises
    ------
    ValueError
        For a non-callable ``loss_at``, non-finite ``loss0``, ``guess <= 0``,
        ``rel_tol`` outside ``(0, 1]``, ``max_evals < 2`` or a ``loss_at`` result
        that is not a number. A non-finite loss is not an error: it counts as a rise.
    """
    if not callable(loss_at):
        raise ValueError(f"loss_at = {loss_at!r} is not callable; allowed: a function eta -> loss")
    if hasattr(loss0, "item") and not isinstance(loss0, (bool, int, float)):
        try:  # a 1-element torch tensor / numpy array
            loss0 = loss0.item()
        except (ValueError, RuntimeError):
            pass
    loss0 = check_real("loss0", loss0)
    guess = 1.0 if guess is None else check_positive("guess", guess)
    rel_tol = check_real("rel_tol", rel_tol)
    if not (0.0 < rel_tol <= 1.0):
        raise ValueError(f"rel_tol = {rel_tol!r} is out of range; allowed: 0 < rel_tol <= 1")
    max_evals = check_int("max_evals", max_evals, low=2)

    n = 0
    history: list[tuple[float, float]] = []  # finite (eta, loss - loss0), in order

    def excess(eta: float) -> float:
        """loss - loss0 (inf for a non-finite loss: counts as a rise).

        A loss that overflows by raising (Python ``float ** 2`` raises
        ``OverflowError``; numpy under ``errstate(over="raise")`` raises
        ``FloatingPointError``) is a non-finite loss too.
        """
        nonlocal n
        n += 1
        try:
            raw = loss_at(eta)
        except (OverflowError, FloatingPointError):
            return math.inf
        value = _as_float(raw)
        if not math.isfinite(value):
            return math.inf
        history.append((eta, value - loss0))
        return value - loss0

    def result(lo, hi, done):
        est = math.inf if math.isinf(hi) else 0.5 * (lo + hi)
        return CriticalStep(lower=lo, upper=hi, n_evals=n, estimate=est, converged=done)

    # Phase 1: bracket by halving / doubling from the guess.
    f = excess(guess)
    if f > 0.0:
        hi, f_hi = guess, f
        lo, f_lo = 0.0, 0.0
        eta = guess
        while n < max_evals:
            eta *= 0.5
            if eta <= 0.0:  # underflow: every positive step raises the loss
                break
            f = excess(eta)
            if f > 0.0:
                hi, f_hi = eta, f
            else:
                lo, f_lo = eta, f
                break
        if lo == 0.0:
            return result(0.0, hi, False)
    else:
        lo, f_lo = guess, f
        hi, f_hi = math.inf, math.inf
        eta = guess
        while n < max_evals:
            eta *= 2.0
            if math.isinf(eta):
                break
            f = excess(eta)
            if f > 0.0:
                hi, f_hi = eta, f
                break
            lo, f_lo = eta, f
        if math.isinf(hi):
            return result(lo, math.inf, False)

    # Phase 2: refine [lo, hi] by model-guided geometric bisection.
    nudge = (1.0 + rel_tol) ** 0.45
    model_ok = True
    while hi / lo - 1.0 > rel_tol and n < max_evals:
        width = math.log(hi / lo)
        candidate = None
        used_model = False
        if model_ok and math.isfinite(f_hi):
            points = [(lo, f_lo), (hi, f_hi)] + [p for p in reversed(history) if p[0] not in (lo, hi)][:1]
            root = _model_root(points, lo, hi)
            if root is not None:
                up, down = root * nudge, root / nudge
                first, second = (up, down) if math.log(hi / root) >= math.log(root / lo) else (down, up)
                for c in (first, second):
                    if lo < c < hi:
                        candidate, used_model = c, True
                        break
        if candidate is None:
            candidate = math.sqrt(lo * hi)
        f = excess(candidate)
        if f > 0.0:
            hi, f_hi = candidate, f
        else:
            lo, f_lo = candidate, f
        # a model step must at least halve the log-width (up to the nudge), else bisect next
        model_ok = (not used_model) or math.log(hi / lo) <= 0.5 * width + math.log(nudge)
    return result(lo, hi, hi / lo - 1.0 <= rel_tol)
