"""Claim D14: the quadratic case k = 2 (Appendix F): period-2 orbit, broken k -> 2 limit, momentum envelope."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from theory.generic import fixed_points
from theory.registry import Claim, Derivation, Measurement, register
from theory.degenerate.common import PAPER, _adam_map, _adam_run, _rel, _slope, _zero, b1, b2, t, u, w, z
from theory.degenerate.fixed_points import _rzero
from theory.degenerate.flows import _linear_schedule_flow


# ============================================================================= D14

@lru_cache(maxsize=None)
def _derive_d14() -> Derivation:
    steps = []
    F2, s = _adam_map(2)
    case_a = {u: (1 - b1) / (1 + b1), w: 2 * (1 + b1) / (1 - b1), z: (1 - b1) ** 2 / (4 * (1 + b1) ** 2)}
    ok = True
    for point in ({b1: sp.Rational(1, 3), b2: sp.Rational(1, 16)}, {b1: sp.Rational(9, 10), b2: sp.Rational(999, 1000)}):
        pts = fixed_points([u, w, z], [e.subs(point) for e in F2], real=True)
        fam = [p for p in pts if p[w] == 0]
        iso = [p for p in pts if p[w] != 0]
        ok &= len(fam) == 1 and fam[0][u] == 1 and len(iso) == 1
        ok &= len(iso) == 1 and all(_rzero(iso[0][x_] - case_a[x_].subs(point)) for x_ in (u, w, z))
        steps.append((rf"$k = 2$, $\beta_1 = {sp.latex(point[b1])}$, $\beta_2 = {sp.latex(point[b2])}$: every real fixed point",
                      sp.Matrix([[p[u], p[w], p[z]] for p in pts])))
    # symbolic: with k = 2 the z = 0 plane has w' = w/sqrt(b2) != w unless w = 0
    wz0 = sp.simplify(F2[1].subs(z, 0))
    ok &= _zero(wz0 - w / sp.sqrt(b2))
    steps.append((r"$z = 0$: $w_{t+1} = w_t/\sqrt{\beta_2}$, so no constant-rate fixed point exists", wz0))
    steps.append(("only the trivial family and Case A (s = -1: the period-2 orbit); no constant-rate (z* = 0) point", sp.Matrix([case_a[u], case_a[w]])))
    # Eq. 80: the k -> 2 limit of D10's bound is 1 < 1/sqrt(b2)
    kk = sp.Symbol("k", positive=True)
    lim = sp.limit((kk / (kk - 2)) ** (kk - 2), kk, 2, dir="+")
    ok &= lim == 1
    steps.append((r"$\lim_{k \to 2^+} (k/(k-2))^{k-2}$ (vs $\gamma = \beta_2^{-1/2} > 1$: a spike must come)", lim))
    # Lemma F.1
    X = sp.Function("x")
    sol, x0, c_, eta0 = _linear_schedule_flow()
    al, mu = sp.symbols("alpha mu", positive=True)  # the schedule rate is called alpha in Appendix F
    sol = sol.subs(c_, al)
    ok &= _zero(sol.rhs - x0 * sp.exp(-(eta0 / al) * (sp.exp(al * t) - 1)))
    steps.append(("Lemma F.1 (dsolve)", sol))
    # Lemma F.2: m' = mu (x - m), x' = -eta(t) m with eta = eta0 e^{alpha t}  =>  x'' + (mu - alpha) x' + mu eta x = 0
    M = sp.Function("m")
    et = eta0 * sp.exp(al * t)
    xdd = sp.diff(-et * M(t), t).subs(sp.Derivative(M(t), t), mu * (X(t) - M(t)))
    xdd = xdd.subs(M(t), -sp.Derivative(X(t), t) / et)
    ode = sp.simplify(xdd + (mu - al) * sp.Derivative(X(t), t) + mu * et * X(t))
    ok &= ode == 0
    steps.append((r"Lemma F.2: from $m' = \mu(x - m)$, $x' = -\eta(t) m$: $x'' + (\mu-\alpha)x' + \mu\eta_0 e^{\alpha t}x$ $-$ (the system)", ode))
    # WKB envelope: exp(-int p/2) q^{-1/4}
    env = sp.exp(-sp.integrate((mu - al) / 2, (t, 0, t))) * (mu * et) ** sp.Rational(-1, 4)
    rate = sp.simplify(sp.diff(sp.expand_log(sp.log(env), force=True), t))
    ok &= _zero(rate + (2 * mu - al) / 4)
    steps.append((r"Liouville-Green envelope $e^{-\int p/2} q^{-1/4}$: $\frac{d}{dt}\ln$ envelope", rate))
    return Derivation(passed=bool(ok), steps=steps, values={})


def _measure_d14(d: Derivation) -> Measurement:
    from scipy.integrate import solve_ivp

    notes = []
    # (a) Adam on x^2/2 converges linearly, then spikes
    ds = _adam_run(2, 0.9, 0.999, lr=1e-2, steps=6000)
    ll = ds.log10_loss.values
    i = int(np.argmin(ll))
    rise = float(np.max(ll[i:]) - ll[i])
    ok = rise > 3 and i > 100
    notes.append(f"(a) CORE Adam (b1=0.9, b2=0.999, lr=1e-2, eps=0) on x^2/2: min log10 L = {ll[i]:.1f} at step {i}, then up by {rise:.1f} decades")
    # (b) Lemma F.2 envelope, integrated numerically (mu = 1, alpha = 0.2, eta0 = 1)
    mu, al, eta0 = 1.0, 0.2, 1.0

    def rhs(tt, y):
        return [y[1], -(mu - al) * y[1] - mu * eta0 * math.exp(al * tt) * y[0]]

    sol = solve_ivp(rhs, (0, 40), [1.0, 0.0], rtol=1e-11, atol=1e-14, dense_output=True, max_step=0.01)
    tt = np.linspace(10, 40, 30001)
    xx = sol.sol(tt)[0]
    pk = [j for j in range(1, len(xx) - 1) if abs(xx[j]) >= abs(xx[j - 1]) and abs(xx[j]) >= abs(xx[j + 1])]
    rate = _slope(np.log(np.abs(xx[pk])), tt[pk])
    pred = -(2 * mu - al) / 4
    ok &= _rel(rate, pred) < 0.02
    notes.append(f"(b) x'' + (mu-alpha) x' + mu eta0 e^(alpha t) x = 0 (mu=1, alpha=0.2): peak envelope slope {rate:.5f} vs -(2mu-alpha)/4 = {pred:.5f}")
    return Measurement(predicted=f"spike > 0 decades; {pred:.5f}", measured=f"spike {rise:.1f} decades; {rate:.5f}",
                       passed=bool(ok), detail="; ".join(notes))


register(Claim(
    id="D14", paper=PAPER,
    statement=("k = 2: besides the trivial family only the period-2 orbit u=(1-b1)/(1+b1), w=2(1+b1)/(1-b1) (Case A): no "
               "constant-rate convergence, gamma = 1/sqrt(b2) > 1 breaks the k->2 limit of D10 (Eq. 80), so a spike must come; "
               "momentum bounds the speed-up (Lemma F.2 envelope e^(-(2mu-alpha)t/4)); without momentum the flow is double-exponential (F.1)"),
    derive=_derive_d14, measure=_measure_d14,
))
