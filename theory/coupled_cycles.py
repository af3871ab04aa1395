"""Claim D18: stable coupled cycles of Adam on ``x^k/k`` coexist with the fixed point's regimes.

Beyond math.md (issue 13). Thm 6.1 decides the regime from the non-trivial fixed point (``z = 0``). Adam
also has periodic orbits at the SignGD scale with ``v`` coupled to ``g^2`` (``z > 0``). The simplest is
exact (math.md D2): in units of ``lr``, with ``a = (1-b1)/(2(1+b1))``, the state
``(x, m, v) = (a, -(1-b1) a^{k-1}/(1+b1), a^{2(k-1)})`` is mapped by one Adam step (eps = 0, no bias
correction) to its mirror ``(-a, -m, v)`` (derived with sympy below, every even ``k``), so it is a 2-cycle
``x -> -x``; its Floquet multipliers are those of ``R DF`` (``R = diag(-1, -1, 1)``) squared. Where it is
unstable, stable period-4, 6, ... orbits appear around it (found numerically from it,
:func:`dynsys.coupled_cycles.stable_coupled_cycle`: the settled orbit closes on itself and the product of
the exact one-step Jacobians around it has spectral radius < 1).

Such a stable cycle is an attractor Thm 6.1 does not look at, and it changes what a run does:

* in a predicted-II cell (unstable fixed point) the regime is **bistable**: the run converges first and
  spikes (II), or the cycle captures it before it ever converges (III). On the 96 x 96 x 20000 grids of
  issue 13 the predicted-II cells observed III are almost all such cells (measured below), and the
  predicted-II cells without a stable coupled cycle agree with II far better than the rest;
* in a predicted-III cell the cycle holds the run: those cells are observed III (no phases), while the
  ghost-band phases past the existence line (D15, D16) happen in cells without one (a chaotic attractor).

This is a refinement of the theory's *attractors*, not a closed-form boundary: which basin the run from
``x0 = 1`` falls into is not predicted.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from theory.registry import Claim, Derivation, Measurement, register

PAPER = "adam-degenerate-polynomials"

b1, b2 = sp.symbols("beta1 beta2", positive=True)
X, M, V = sp.symbols("x m v", real=True)


def _step(kv):
    g = X ** (kv - 1)
    mn = b1 * M + (1 - b1) * g
    vn = b2 * V + (1 - b2) * g ** 2
    return sp.Matrix([X - mn / sp.sqrt(vn), mn, vn])


@lru_cache(maxsize=None)
def _derive_d18() -> Derivation:
    ok = True
    steps = []
    amp = (1 - b1) / (2 * (1 + b1))
    for kv in (4, 6, 8):
        F = _step(kv)
        point = {X: amp, M: -(1 - b1) * amp ** (kv - 1) / (1 + b1), V: amp ** (2 * (kv - 1))}
        image = sp.simplify(sp.simplify(F.subs(point)).subs(sp.Abs(b1 - 1), 1 - b1))  # 0 < beta1 < 1
        mirror = sp.Matrix([-point[X], -point[M], point[V]])
        ok &= sp.simplify(image - mirror) == sp.zeros(3, 1)
        if kv == 4:
            steps.append((r"one Adam step (units of $\eta$, $k = 4$) of $(a, -(1-\beta_1)a^3/(1+\beta_1), a^6)$", image))
    # Floquet matrix of the 2-cycle: (R DF)^2 at the point, R = diag(-1, -1, 1); k = 4, in closed form
    kv = 4
    F = _step(kv)
    point = {X: amp, M: -(1 - b1) * amp ** (kv - 1) / (1 + b1), V: amp ** (2 * (kv - 1))}
    DF = sp.simplify(F.jacobian([X, M, V]).subs(point))
    R = sp.diag(-1, -1, 1)
    half = sp.simplify(R * DF)
    steps.append((r"$R\,DF$ at the 2-cycle, $k = 4$ (its square is the Floquet matrix)", half))
    return Derivation(passed=bool(ok), steps=steps, values={"amplitude": amp, "half_floquet_k4": half})


def _two_cycle_radius_sympy(d, bb1, bb2):
    half = np.array(d.values["half_floquet_k4"].subs({b1: bb1, b2: bb2}).evalf(), dtype=float)
    return float(np.max(np.abs(np.linalg.eigvals(half @ half))))


def _returns(d, kv, bb1, bb2, lr=0.01):
    """Relative change of the derived 2-cycle point after two raw Adam steps at ``lr``, iterated here from the
    cycle's state (the rule as :mod:`dynsys.optimizers` documents it: PyTorch order, eps = 0, no bias
    correction; :mod:`dynsys.simulate` starts from ``m0 = v0 = 0`` only)."""
    a = float(d.values["amplitude"].subs(b1, bb1)) * lr
    g = a ** (kv - 1)
    x, m, v = a, -(1 - bb1) * g / (1 + bb1), g * g
    for _ in range(2):
        gg = x ** (kv - 1)
        m = bb1 * m + (1 - bb1) * gg
        v = bb2 * v + (1 - bb2) * gg * gg
        x = x - lr * m / math.sqrt(v)
    return abs(x / a - 1)


def _scan_k6(n=96, steps=20_000):
    from dynsys.scan import phase_diagram

    return phase_diagram("adam", "power", k=6, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=0.01,
                         steps=steps, eps=0.0, bias_correction=False, coupled_cycles=True, progress=False)


def _measure_d18(d: Derivation) -> Measurement:
    """(a) The derived 2-cycle returns to itself after two raw Adam steps at lr = 0.01 (1e-12, k = 4, 6, 8) and its
    Floquet radius from the sympy matrix equals :func:`stable_coupled_cycle`'s exact-Jacobian one where it is stable
    (1e-9); (b) a stable period-4 orbit (k = 6, b1 = 0.1094, b2 = 0.0365) is found and perturbations of it decay;
    (c) on the 96 x 96 x 20000 grid of k = 6: at least 80 % of the predicted-II cells observed III have a stable
    coupled cycle, the predicted-II cells without one agree with II at >= 0.95, and >= 95 % of the predicted-III
    cells with one are observed III."""
    from dynsys.coupled_cycles import stable_coupled_cycle

    ok = True
    notes = []
    worst = max(_returns(d, kv, bb1, bb2) for kv in (4, 6, 8) for bb1, bb2 in ((0.05, 0.5), (0.3, 0.9)))
    ok &= worst < 1e-12
    errs = []
    for bb1, bb2 in ((0.0469, 0.026), (0.0156, 0.0781), (0.026, 0.1198)):  # where the 2-cycle is stable (k = 4)
        p, r = stable_coupled_cycle(bb1, bb2, 4)
        want = _two_cycle_radius_sympy(d, bb1, bb2)
        good = p == 2 and abs(r - want) < 1e-9 * max(1.0, want)
        errs.append(abs(r - want) if p == 2 else math.inf)
        ok &= good
    notes.append(f"(a) 2-cycle: return error {worst:.1e}; Floquet radius vs sympy: max error {max(errs):.1e}")
    p4, r4 = stable_coupled_cycle(0.1094, 0.0365, 6)
    ok &= p4 == 4 and r4 < 1
    notes.append(f"(b) k=6 b1=0.1094 b2=0.0365: period {p4}, Floquet radius {r4:.4f}")
    ds = _scan_k6()
    pred, obs, cyc = ds.predicted_regime.values, ds.regime.values, ds.coupled_cycle.values
    miss = (pred == 2) & (obs == 3)
    frac_miss = float(np.mean(cyc[miss] > 0)) if miss.any() else float("nan")
    free2 = float(ds.attrs["agreement_cycle_free_regime2"])
    with3 = float(ds.attrs["agreement_with_cycle_regime3"])
    ok &= frac_miss >= 0.8 and free2 >= 0.95 and with3 >= 0.95
    notes.append(f"(c) k=6: {int(np.sum(cyc[miss] > 0))} of {int(miss.sum())} predicted-II cells observed III have a stable "
                 f"coupled cycle; predicted II without one: agreement {free2:.4f} ({int(np.sum((pred == 2) & (cyc == 0)))} cells), "
                 f"with one: {float(ds.attrs['agreement_with_cycle_regime2']):.4f} ({int(ds.attrs['cells_with_cycle_regime2'])}); "
                 f"predicted III with one observed III: {with3:.4f} ({int(ds.attrs['cells_with_cycle_regime3'])} cells)")
    return Measurement(predicted="2-cycle exact; II misses inside cycle cells >= 0.8; cycle-free II >= 0.95; III with cycle >= 0.95",
                       measured=f"{frac_miss:.3f}; {free2:.4f}; {with3:.4f}", passed=bool(ok), detail="; ".join(notes))


register(Claim(
    id="D18", paper=PAPER,
    statement=("(toolkit, beyond math.md; the attractors Thm 6.1 leaves out) Adam has coupled periodic orbits at the SignGD "
               "scale: the exact 2-cycle x -> -x, |x| = lr (1-b1)/(2(1+b1)), v = g^2 (D2), and stable period-4, 6, ... "
               "orbits around it. Where one is stable it is an attractor of its own: predicted-II cells are bistable "
               "(converge then spike, or captured and oscillating), and predicted-III cells with one show no phases. Pass "
               "criterion: the cycle is exact and its Floquet radius matches; on the k = 6 96-grid >= 80 % of the II->III "
               "misses have a stable cycle, cycle-free II cells agree >= 0.95, III cells with one >= 0.95"),
    derive=_derive_d18, measure=_measure_d18,
))
