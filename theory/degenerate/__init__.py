"""Claims D1-D14: Adam on highly degenerate polynomials ``L(x) = x^k/k``.

Source: *Towards Understanding Adam Convergence on Highly Degenerate
Polynomials* (``shared/papers/adam-degenerate-polynomials.txt``; its formulas
are restored in ``shared/design/math.md`` section 2). Every claim derives its
statement with sympy from the maps of :mod:`dynsys.systems` (the normalized
Adam map of Eqs. 3-5 and the effective-sharpness map of Eq. 18 are THE
definitions used here and by the compiled kernels), then measures the predicted
figure with the dynsys kernels (:func:`dynsys.simulate.trajectory` of the CORE
team and the generated kernels of :mod:`dynsys.systems`).

Corrections to the paper found by the derivations (reported in the claims):

* D2: besides the trivial family and the non-trivial point, the normalized map
  has a fixed point with ``s* = -rho`` (always a saddle: ``1 - tr + det < 0``
  on its ``(u, w)`` block) and a fixed point with ``s* = -1``, ``z w^2 = 1``,
  which is the exact 2-cycle ``x -> -x`` of raw Adam at
  ``|x| = eta (1-b1)/(2(1+b1))``, ``v = g^2``; for ``k >= 4`` it is stable only
  in a small corner of small ``(b1, b2)``.
* D6: Remark 4.2 ("stable for k = 4 implies stable for every k >= 4") is false
  once Eq. 9 is included: e.g. ``(b1, b2) = (0.0085, 0.015)`` is stable for
  ``k = 4`` and unstable for ``k = 6`` (a real Adam run shows it: ``(u, w)``
  settles with period 1 for ``k = 4`` and period 2 for ``k = 6``, while the
  loss converges in both). The set where this happens is a thin sliver,
  ``b1`` about 0.005-0.0094 and ``b2`` about 0.005-0.019, so math.md's "near
  b1 ~ 0.01, b2 ~ 0.015" holds (at exactly (0.01, 0.015) both k are stable).

Measurements never evaluate the closed forms they test: fixed points are found
by Newton on the compiled step and Jacobian kernels (generic starting guesses,
continuation), boundaries by bisection on the compiled Jacobian's spectral
radius or on the growth of a perturbation iterated with the compiled map, and
rates by fitting slopes of real ``dynsys.simulate.trajectory`` runs. Where a
measured figure agrees with the prediction to ten digits (D5, D11, D13) it is
because the run has reached the fixed point; each claim's detail prints the
error (and D5 the transient slope for contrast).

Modules (one topic each; importing this package registers every claim):

* :mod:`theory.degenerate.common`: the paper id, sympy symbols, the normalized Adam map and
  the effective-sharpness map, numeric helpers (Newton on the compiled kernels, slopes);
* :mod:`theory.degenerate.fixed_points`: D1-D6, fixed points and Jacobians (the normalized map,
  its fixed points, existence, Jury stability, the rate inside the basin, the dependence on k);
* :mod:`theory.degenerate.flows`: D7, gradient and heavy-ball flows (and the flow helpers);
* :mod:`theory.degenerate.sharpness_map`: D8-D11, RMSProp as GD with a growing step and the
  effective-sharpness map;
* :mod:`theory.degenerate.regimes`: D12-D13, the three regimes and their boundaries, the
  coupling ratio;
* :mod:`theory.degenerate.quadratic`: D14, the quadratic case ``k = 2``.
"""
from theory.degenerate import fixed_points, flows, quadratic, regimes, sharpness_map  # noqa: F401  (registers D1-D14)
from theory.degenerate.common import PAPER

__all__ = ["PAPER"]
