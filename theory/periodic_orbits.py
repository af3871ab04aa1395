"""Claim D16: the decoupled normalized Adam map expands area by ``beta1/(sqrt(beta2) s^2)`` per step.

(Generalized by claim D17, :mod:`theory.conservative_line`: with the density ``w^{2/(k-2)}`` the
Jacobian is the constant ``beta1/rho^k`` at every state, not only over periodic orbits.)

Beyond math.md (issue 13). The decoupled (``z = 0``) normalized map of D1,
``u' = b1 u/s^{k-1} + 1 - b1``, ``w' = w s^{k-2}/sqrt(b2)`` with ``s = 1 - u w``, has the Jacobian
determinant (derived with sympy below, for every even ``k``)::

    det D F(u, w) = b1 / (sqrt(b2) s^2).

Consequences, for **every** periodic orbit of period ``n`` of the decoupled map (not only the fixed
point of D2):

* ``w`` returns to itself, so ``prod_t s_t^{k-2} = sqrt(b2)^n``: the geometric mean of ``|s|`` over
  the orbit is ``rho = b2^{1/(2(k-2))}``, and an orbit near it converges at the fixed point's rate
  ``k log10 rho`` decades of loss per step (D5), whatever ``n`` is;
* the product of its two multipliers is ``prod_t det = (b1/(sqrt(b2) rho^2))^n = (b1/rho^k)^n``, the
  ``n``-th power of the fixed point's ``det J`` (D4). So the spectral radius per step is at least
  ``sqrt(b1/rho^k)``, with equality when the multipliers are complex: for ``b1 > rho^k`` (regimes II
  and III, Eq. 8) the decoupled map has **no stable periodic orbit of any period**, and Eq. 8 is the
  only place where one can appear.

What this says about the phase diagram (measured below): the exponential phases a few hundredths past
the existence line (D15's band) are passages near such weakly unstable periodic orbits: at ``k = 4``,
``beta2 = 0.8385``, ``beta1 = 0.9115`` (a 96-grid cell, ``q = beta1/rho^3 = 1.04``) the longest phase
(~240 steps) sits on a period-3 orbit with ``s = (0.80, -0.051, 21.5)``, complex multipliers of modulus
``sqrt(b1/rho^4)`` per step, and ``u ~ 0.0155`` constant over the phase: it is not the slow escape of
``u`` to infinity along ``s = rho`` that D15 describes (both give the same loss slope, which is why
D15's slope test cannot tell them apart). This claim does **not** give a closed-form edge of the band:
the area expansion bounds how fast a set of states spreads, not where the regime-III oscillation
injects the orbit (the coupled, ``z > 0``, steps before a phase decide that), see docs/regime-agreement.md item 5.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from theory.registry import Claim, Derivation, Measurement, register

PAPER = "adam-degenerate-polynomials"

b1, b2 = sp.symbols("beta1 beta2", positive=True)
u, w = sp.symbols("u w")
kk = sp.Symbol("k", positive=True, integer=True)


def _decoupled(kv):
    s = 1 - u * w
    return sp.Matrix([b1 * u / s ** (kv - 1) + 1 - b1, w * s ** (kv - 2) / sp.sqrt(b2)])


@lru_cache(maxsize=None)
def _derive_d16() -> Derivation:
    from theory.regime_boundaries import _decoupled_map

    ok = True
    steps = []
    for kv in (4, 6, 8):
        # the toolkit's own normalized system (dynsys.systems "adam-normalized") at z = 0
        un, wn = _decoupled_map(kv)
        ok &= sp.simplify(sp.Matrix([un, wn]) - _decoupled(kv)) == sp.zeros(2, 1)
        det = sp.factor(sp.simplify(sp.Matrix([un, wn]).jacobian([u, w]).det()))
        ok &= sp.simplify(det - b1 / (sp.sqrt(b2) * (1 - u * w) ** 2)) == 0
        if kv == 6:
            steps.append((r"$\det DF$ of the decoupled map ($z = 0$), $k = 6$", det))
    # general even k: same determinant (the k-dependence cancels)
    s = 1 - u * w
    F = sp.Matrix([b1 * u * s ** (1 - kk) + 1 - b1, w * s ** (kk - 2) / sp.sqrt(b2)])
    det_k = sp.simplify(F.jacobian([u, w]).det())
    ok &= sp.simplify(det_k - b1 / (sp.sqrt(b2) * s ** 2)) == 0
    steps.append((r"$\det DF$ for symbolic $k$", det_k))
    # on a period-n orbit prod s^(k-2) = sqrt(b2)^n, so prod s^2 = rho^(2n) and prod det = (b1/rho^k)^n
    rho = sp.Symbol("rho", positive=True)
    per_step = sp.simplify((b1 / (sp.sqrt(b2) * rho ** 2)).subs(b2, rho ** (2 * (kk - 2))))
    ok &= sp.simplify(per_step - b1 / rho ** kk) == 0
    steps.append((r"per-step product of the multipliers on any periodic orbit ($|s|$ has geometric mean $\rho$)", per_step))
    return Derivation(passed=bool(ok), steps=steps,
                      values={"det_s_power": sp.Integer(-2), "radius_exponent": sp.Rational(1, 2)})


def _map(st, k, bb1, bb2):
    uu, ww = st
    s = 1.0 - uu * ww
    return np.array([bb1 * uu / s ** (k - 1) + 1.0 - bb1, ww * s ** (k - 2) / math.sqrt(bb2)])


def _jac(st, k, bb1, bb2):
    uu, ww = st
    s = 1.0 - uu * ww
    sb = math.sqrt(bb2)
    return np.array([[bb1 / s ** (k - 1) + bb1 * uu * (k - 1) * ww / s ** k, bb1 * uu * uu * (k - 1) / s ** k],
                     [-(k - 2) * ww * ww * s ** (k - 3) / sb, (s ** (k - 2) - (k - 2) * uu * ww * s ** (k - 3)) / sb]])


def _orbit(st, n, k, bb1, bb2):
    pts, mono = [np.asarray(st, float)], np.eye(2)
    for _ in range(n):
        mono = _jac(pts[-1], k, bb1, bb2) @ mono
        pts.append(_map(pts[-1], k, bb1, bb2))
    return pts, mono


def periodic_orbit(seed, n, k, bb1, bb2, iters=80):
    """Newton on ``F^n(p) = p`` of the decoupled map from ``seed``; ``None`` if it does not converge
    to an orbit of minimal period ``n``. Returns ``(points, monodromy)``."""
    st = np.asarray(seed, float)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            pts, mono = _orbit(st, n, k, bb1, bb2)
            r = pts[-1] - st
            if not np.all(np.isfinite(r)) or not np.all(np.isfinite(mono)):
                return None
            if np.max(np.abs(r) / (1.0 + np.abs(st))) < 1e-13:
                if any(np.allclose(pts[d], pts[0], rtol=1e-8, atol=0) for d in range(1, n)):
                    return None
                return pts[:-1], mono
            try:
                st = st + np.linalg.solve(mono - np.eye(2), -r)
            except np.linalg.LinAlgError:
                return None
    return None


def _phase_on_orbit(kv, bb2, bb1, lr=1e-2, steps=20_000, nmax=6):
    """The longest exponential phase of the cell, the periodic orbit its middle sits on, and checks."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    tr = trajectory(adam(lr, beta1=bb1, beta2=bb2, eps=0.0, bias_correction=False), power(kv), 1.0, steps)
    x, m, v = (tr[n].values.ravel() for n in ("x", "m", "v"))
    uu = m / x ** (kv - 1)
    ww = lr * np.abs(x) ** (kv - 2) / np.sqrt(v)
    below = tr.log10_loss.values < math.log10(lr ** kv / kv) - 5.0
    best, start, run = 0, 0, 0
    for i, b in enumerate(below):
        run = run + 1 if b else 0
        if run > best:
            best, start = run, i - run + 1
    mid = start + best // 2
    seg = range(start + best // 4, start + 3 * best // 4)

    def distance(pts):  # median over the middle half of the phase, nearest orbit point, relative in u and w
        return float(np.median([min(max(abs(uu[t] / p[0] - 1), abs(ww[t] / p[1] - 1)) for p in pts) for t in seg]))

    got, dist = None, math.inf
    for n in range(1, nmax + 1):
        for t0 in range(mid, mid + nmax):  # Newton seeds: states of the phase itself
            cand = periodic_orbit((uu[t0], ww[t0]), n, kv, bb1, bb2)
            if cand is not None and all(p[1] > 0 for p in cand[0]):
                dd = distance(cand[0])
                if dd < dist:
                    got, dist = (n, *cand), dd
    if got is None:
        return best, None
    n, pts, mono = got
    s = np.array([1 - p[0] * p[1] for p in pts])
    ev = np.linalg.eigvals(mono)
    useg = uu[start + best // 4: start + 3 * best // 4: n]  # the same point of the cycle, every n steps
    return best, dict(n=n, s=s, ev=ev, dist=float(dist), w_pos=bool(all(p[1] > 0 for p in pts)),
                      u_spread=float(np.max(np.abs(useg)) / np.min(np.abs(useg))))


CASES = ((4, 80.5 / 96, 87.5 / 96), (6, 80.5 / 96, 86.5 / 96))


def _measure_d16(d: Derivation) -> Measurement:
    """For a 96-grid cell past the existence line (k = 4 and 6): the middle of the longest phase lies
    on a periodic orbit of the decoupled map (median distance < 10 %, u at one point
    of the cycle within a factor 3); its |s| has geometric mean rho
    (1e-9); the product of its multipliers is (b1/rho^k)^n (1e-6); its spectral radius per step is
    >= (b1/rho^k)^(1/2) and equal to it (1e-6) when the multipliers are complex."""
    ok = True
    pred, meas, notes = [], [], []
    e = float(d.values["radius_exponent"])
    for kv, bb2, bb1 in CASES:
        rho = bb2 ** (1 / (2 * (kv - 2)))
        dj = bb1 / rho ** kv
        best, orb = _phase_on_orbit(kv, bb2, bb1)
        if orb is None:
            ok = False
            notes.append(f"k={kv}: no periodic orbit at the middle of the longest phase ({best} steps)")
            continue
        n, ev = orb["n"], orb["ev"]
        geo = float(np.prod(np.abs(orb["s"])) ** (1 / n))
        prod = float(abs(np.prod(ev)) ** (1 / n))
        radius = float(np.max(np.abs(ev)) ** (1 / n))
        complex_pair = bool(abs(ev[0].imag) > 0)
        want_r = dj ** e
        good = (orb["w_pos"] and orb["dist"] < 0.1 and orb["u_spread"] < 3 and abs(geo / rho - 1) < 1e-9 and abs(prod / dj - 1) < 1e-6
                and radius >= want_r * (1 - 1e-9) and (not complex_pair or abs(radius / want_r - 1) < 1e-6))
        ok &= good
        pred.append(f"k={kv}: radius/step {'=' if complex_pair else '>='} {want_r:.6f}, geo|s| {rho:.6f}")
        meas.append(f"k={kv}: radius/step {radius:.6f}, geo|s| {geo:.6f}")
        notes.append(f"k={kv} b2={bb2:.4f} b1={bb1:.4f} (q={bb1 / rho ** (kv - 1):.4f}): longest phase {best} steps "
                     f"on a period-{n} orbit, s = {np.array2string(orb['s'], precision=4)}, multipliers "
                     f"{np.array2string(ev, precision=4)}, median distance {orb['dist']:.2e}, u at one point of the cycle varies by x{orb['u_spread']:.2f} "
                     f"over the middle half (D15's escape would give q^{best // 2} = {(bb1 / rho ** (kv - 1)) ** (best // 2):.3g})")
    return Measurement(predicted="; ".join(pred), measured="; ".join(meas), passed=bool(ok),
                       detail="Adam on x^k/k (eps=0, no bias correction, lr=1e-2, x0=1, 20000 steps): " + "; ".join(notes))


register(Claim(
    id="D16", paper=PAPER,
    statement=("(toolkit, beyond math.md; what the phases past the existence line are) The decoupled (z = 0) normalized "
               "map has det DF = b1/(sqrt(b2) s^2) for every even k; on every periodic orbit |s| has geometric mean rho and "
               "the multipliers multiply to (b1/rho^k)^n, so none is stable where b1 > rho^k (Eq. 8). Pass criterion: the "
               "longest phase of a cell past the line (k = 4, 6) sits on such an orbit, with geo-mean |s| = rho and spectral "
               "radius per step >= sqrt(b1/rho^k), equal for complex multipliers"),
    derive=_derive_d16, measure=_measure_d16,
))
