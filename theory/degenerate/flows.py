"""Claim D7: gradient and heavy-ball flows on x^k/k, GD vs Adam step counts; the flow helpers of D9 and D14."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from theory.generic import solve_flow
from theory.registry import Claim, Derivation, Measurement, register
from theory.degenerate.common import PAPER, _slope, _zero, eta, t


# ============================================================================= D7

def _bernoulli_flow(rate, x0, kk):
    """Solve ``x' = -rate(t) x^(k-1)`` by the Bernoulli substitution ``Y = x^(-(k-2))``.

    Returns ``(Yprime, closed_form)``: ``Y' = (k-2) rate(t)`` (derived with sympy from the
    chain rule) and ``x(t) = (x0^(-(k-2)) + (k-2) int_0^t rate)^(-1/(k-2))``.
    """
    X = sp.Symbol("X", positive=True)
    Yp = sp.simplify(sp.diff(X ** (-(kk - 2)), X) * (-rate * X ** (kk - 1)))
    tau = sp.Dummy("tau", positive=True)
    Y = x0 ** (-(kk - 2)) + sp.integrate(Yp.subs(t, tau), (tau, 0, t))
    return Yp, Y ** (-1 / (kk - 2))


def _solves_flow(closed, rate, kk, params) -> bool:
    """``x' + rate x^(k-1) = 0`` at k = 3..6 and several exact parameter points (50 digits)."""
    resid = sp.diff(closed, t) + rate * closed ** (kk - 1)
    for kv in (3, 4, 5, 6):
        for tv in (sp.Rational(1, 3), sp.Integer(2), sp.Integer(7)):
            val = sp.N(resid.subs(kk, kv).subs(params).subs(t, tv), 50)
            scale = sp.N((rate * closed ** (kk - 1)).subs(kk, kv).subs(params).subs(t, tv), 50)
            if abs(val) > 1e-40 * max(1, abs(scale)):
                return False
    return True


@lru_cache(maxsize=None)
def _derive_d7() -> Derivation:
    x0 = sp.Symbol("x0", positive=True)
    kk = sp.Symbol("k", positive=True)
    steps = []
    Yp, closed = _bernoulli_flow(eta, x0, kk)
    ok = _zero(Yp - (kk - 2) * eta)
    steps.append((r"gradient flow $x' = -\eta x^{k-1}$; $Y = x^{-(k-2)}$ obeys $Y' =$", Yp))
    ok &= _solves_flow(closed, eta, kk, {x0: sp.Rational(3, 2), eta: sp.Rational(1, 10)})
    steps.append((r"solution (checked exactly at k = 3..6)", sp.Eq(sp.Function("x")(t), closed)))
    lim = sp.limit((closed / ((kk - 2) * eta * t) ** (-1 / (kk - 2))).subs(kk, 6), t, sp.oo)
    ok &= lim == 1
    steps.append((r"$x(t)/((k-2)\eta t)^{-1/(k-2)} \to$ ($k = 6$)", lim))
    # heavy-ball flow mu x'' + x' + eta x^{k-1} = 0: the power law balances x' and the gradient; inertia is o(x')
    mu = sp.Symbol("mu", positive=True)
    xa = ((kk - 2) * eta * t) ** (-1 / (kk - 2))
    resid = [sp.simplify((xa.diff(t) + eta * xa ** (kk - 1)).subs(kk, kv)) for kv in (4, 6, 8)]
    ratio = sp.simplify(sp.powsimp(mu * xa.diff(t, 2) / xa.diff(t), force=True))
    ok &= all(r == 0 for r in resid) and _zero(ratio - mu * (1 - kk) / ((kk - 2) * t))
    steps.append((r"heavy ball $\mu x'' + x' + \eta x^{k-1} = 0$: $x' + \eta x^{k-1}$ on the power law, $k = 4, 6, 8$", sp.Matrix(resid)))
    steps.append((r"inertia/friction $\mu x''/x'$ (vanishes as $t \to \infty$: same exponent)", ratio))
    # steps to reach loss eps: t(eps) ~ eps^{-(k-2)/k}
    ep = sp.Symbol("epsilon", positive=True)
    t_eps = sp.solve(sp.Eq(xa**kk / kk, ep), t)
    ok &= len(t_eps) == 1
    elas = sp.simplify(sp.powsimp(sp.diff(sp.expand_log(sp.log(t_eps[0]), force=True), ep) * ep, force=True))
    ok &= _zero(elas + (kk - 2) / kk)
    steps.append((r"time to reach $L = \epsilon$", t_eps[0]))
    steps.append((r"$d \ln t / d \ln \epsilon$ (GD: $O(\epsilon^{-(k-2)/k})$ steps; Adam: $O(\log 1/\epsilon)$ by D5)", elas))
    return Derivation(passed=bool(ok), steps=steps, values={"exponent": -1 / (kk - 2)})


def _measure_d7(d: Derivation) -> Measurement:
    from dynsys.objectives import power
    from dynsys.optimizers import gd, momentum
    from dynsys.simulate import trajectory

    preds, meas, notes = [], [], []
    ok = True
    n = 100_000
    for name, opt in (("gd", gd(0.1)), ("momentum", momentum(0.1, beta=0.9))):
        for kv in (4, 6):
            ds = trajectory(opt, power(kv), 1.0, n, record_every=100)
            st = ds.step.values.astype(float)
            lx = np.log(np.abs(ds.x.values[:, 0]))
            sel = st >= 20_000
            sl = _slope(lx[sel], np.log(st[sel]))
            pr = -1.0 / (kv - 2)
            pref = float(np.abs(ds.x.values[-1, 0]) * ((kv - 2) * 0.1 * st[-1]) ** (1 / (kv - 2)))
            preds.append(pr)
            meas.append(sl)
            ok &= abs(sl - pr) < 1e-2 and abs(pref - 1) < 0.01
            notes.append(f"{name} k={kv}: d ln|x|/d ln t = {sl:.5f}, |x_T| ((k-2) eta T)^(1/(k-2)) = {pref:.4f}")
    return Measurement(predicted="; ".join(f"{v:.4f}" for v in preds), measured="; ".join(f"{v:.4f}" for v in meas),
                       passed=bool(ok), detail="CORE gd(lr=0.1) and momentum(lr=0.1, beta=0.9), t in [2e4, 1e5]: " + "; ".join(notes))


register(Claim(
    id="D7", paper=PAPER,
    statement=("Gradient flow x' = -eta x^(k-1) decays as ((k-2) eta t)^(-1/(k-2)); heavy-ball flow has the same exponent; "
               "GD needs O(eps^(-(k-2)/k)) steps to loss eps, Adam O(log 1/eps) (Thms 5.1, 5.3)"),
    derive=_derive_d7, measure=_measure_d7,
))


# ----------------------------------------------------------------------------- shared by D9 and D14

@lru_cache(maxsize=None)
def _linear_schedule_flow():
    """dsolve of ``x' = -eta0 e^(ct) x`` (k = 2), shared by D9 and D14 (Lemma F.1)."""
    X = sp.Function("x")
    x0, c, eta0 = sp.symbols("x0 c eta0", positive=True)
    sol = solve_flow(-eta0 * sp.exp(c * t) * X(t), X(t), t, ics={X(0): x0})
    sol = sol[0] if isinstance(sol, list) else sol
    return sol, x0, c, eta0
