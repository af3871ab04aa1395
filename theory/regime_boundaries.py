"""Claim D15: the II/III boundary of Thm 6.1 is a slow passage, not a sharp line.

Beyond math.md (issue 13). D12 says the II/III boundary ``beta1 = rho^{k-1}``
(``rho = beta2^{1/(2(k-2))}``, the existence line of D3) is "only approximate": exponential phases
appear past it. This module derives why and what that predicts, from the decoupled (``z = 0``)
normalized Adam map of :mod:`dynsys.systems` (D1):

* At the loss rate of the non-trivial fixed point, ``s = rho``, the map reads
  ``u' = q u + (1 - beta1)`` with ``q = beta1/rho^{k-1}`` and ``w' = w`` (``w`` is neutral because
  ``rho^{k-2} = sqrt(beta2)``). Below the line (``q < 1``) ``u`` settles at
  ``u* = (1-beta1)/(1-q)`` (the fixed point, D2); on the line ``q = 1`` and ``u`` grows by
  ``1 - beta1`` per step: the fixed point has gone to ``u = infinity``; past it ``u`` grows
  geometrically by ``q`` per step. Nothing pushes ``s`` away from ``rho`` until ``u w = 1 - s``
  has drifted, which takes ``~ 1/ln q`` steps: a **ghost** of the fixed point.
* So past the line an orbit that comes near ``s = rho`` (after a chance dip of the SignGD-like
  oscillation) converges at the fixed point's rate, ``k log10 rho`` decades of loss per step (D5),
  for a number of steps that diverges like ``1/ln(beta1/rho^{k-1})`` at the line.
* Consequence for a phase diagram: the band past the line where exponential phases of at least
  ``L`` steps occur has a width that shrinks as ``L`` grows (``~ 1/L``); the existence line is the
  ``L -> infinity`` boundary. A finite-time classifier therefore sees regime II a few hundredths
  past the line, more for larger ``k`` (where ``rho^{k-1}`` is flatter in ``beta1``).

Qualified by claim D16 (:mod:`theory.periodic_orbits`): the algebra above holds, and the measured
rate is the fixed point's, but the long phases of the band were found to sit near periodic orbits of
the decoupled map (period 3 at k = 4, period 5 at k = 6; every periodic orbit there converges at rate
``rho``), with ``u`` nearly constant over the phase, rather than on ``u`` escaping along ``s = rho``.
The slope test below cannot tell the two pictures apart.

Measured with :func:`dynsys.simulate.trajectory` (phase rate) and the phase scanner's
exponential-phase pass :func:`dynsys.scan.episodes.phase_statistics` (band width).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from theory.registry import Claim, Derivation, Measurement, register

PAPER = "adam-degenerate-polynomials"

b1, b2 = sp.symbols("beta1 beta2", positive=True)
rho = sp.Symbol("rho", positive=True)
u, w, z = sp.symbols("u w z")


def _decoupled_map(kv):
    from dynsys.systems import get_system

    states, params, exprs = get_system("adam-normalized").symbolic(k=kv)
    rep = dict(zip(states, (u, w, z)))
    names = {p.name: p for p in params}
    rep[names["beta1"]] = b1
    rep[names["beta2"]] = b2
    return [e.subs(rep, simultaneous=True).subs(z, 0) for e in exprs[:2]]


@lru_cache(maxsize=None)
def _derive_d15() -> Derivation:
    ok = True
    steps = []
    for kv in (4, 6, 8):
        un, wn = _decoupled_map(kv)
        # on s = 1 - u w = rho, with beta2 = rho^(2(k-2))
        at = {w: (1 - rho) / u, b2: rho ** (2 * (kv - 2))}
        u_next = sp.simplify(un.subs(at))
        w_ratio = sp.simplify((wn / w).subs(at))
        q = b1 / rho ** (kv - 1)
        ok &= sp.simplify(u_next - (q * u + 1 - b1)) == 0
        ok &= sp.simplify(w_ratio - 1) == 0
        # the fixed point of the u-recursion is u* of D2, finite iff q < 1
        ustar = sp.solve(sp.Eq(u, q * u + 1 - b1), u)[0]
        ok &= sp.simplify(ustar - (1 - b1) / (1 - b1 / rho ** (kv - 1))) == 0
        if kv == 6:
            steps += [
                (r"decoupled map ($z = 0$), $k = 6$, on $s = 1 - uw = \rho$: $u_{t+1}$", u_next),
                (r"$w_{t+1}/w_t$ on $s = \rho$ (neutral: $\rho^{k-2} = \sqrt{\beta_2}$)", w_ratio),
                (r"fixed point of $u \mapsto q u + 1 - \beta_1$, $q = \beta_1/\rho^{k-1}$", ustar),
            ]
    steps.append((r"$q = 1$ (the existence line of D3): $u$ grows by $1-\beta_1$ per step; $q > 1$: by $q$ per step "
                  r"(a ghost of the fixed point, phase length $\sim 1/\ln q$)", sp.Eq(sp.Symbol("q"), 1)))
    return Derivation(passed=bool(ok), steps=steps, values={"rate_exponent": sp.Rational(1, 1)})


def _phase_rate(kv, bb2, d, lr=1e-2, steps=20_000):
    """Slope (log10 loss per step) of the middle half of the longest phase of a cell d past the line."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    r = bb2 ** (1 / (2 * (kv - 2)))
    bb1 = r ** (kv - 1) + d
    ll = trajectory(adam(lr, beta1=bb1, beta2=bb2, eps=0.0, bias_correction=False), power(kv), 1.0,
                    steps).log10_loss.values
    below = ll < math.log10(lr**kv / kv) - 5.0
    best, start, run = 0, 0, 0
    for i, bb in enumerate(below):
        run = run + 1 if bb else 0
        if run > best:
            best, start = run, i - run + 1
    seg = ll[start + best // 4: start + 3 * best // 4 + 1]
    slope = float(np.polyfit(np.arange(seg.size), seg, 1)[0]) if seg.size >= 8 else float("nan")
    return bb1, best, slope, kv * math.log10(r), kv * math.log10(bb1 / r ** (kv - 2))


def _band_width(kv, phase_length, b2s, lr=1e-2, steps=20_000, n=40, span=0.15):
    """Mean beta1 width (over the rows b2s) of the cells past the line with a phase >= phase_length."""
    from dynsys.scan.episodes import phase_statistics

    widths = []
    for bb2 in b2s:
        r = bb2 ** (1 / (2 * (kv - 2)))
        c = r ** (kv - 1)
        bb1 = c + (np.arange(n) + 0.5) / n * min(span, 0.999 - c)
        out = phase_statistics(kv, 1.0, False, np.full(n, lr), bb1, bb2, 0.0, 1.0, steps, depth=5.0, spike_factor=100.0)
        widths.append(np.count_nonzero(out["phase_steps"] >= phase_length) * (bb1[1] - bb1[0]))
    return float(np.mean(widths))


def _measure_d15(d: Derivation) -> Measurement:
    """(i) phases past the line fall at the fixed point's rate k log10 rho (within 25 %), not at the rate
    k log10(beta1/rho^{k-2}) of the point at infinity; (ii) the band of phases >= L steps past the line
    narrows with L: width(L = 8) > 3 width(L = 64) for k = 6 and 8 (rows beta2 = 0.4 ... 0.9)."""
    ok = True
    notes, pred, meas = [], [], []
    expo = float(d.values["rate_exponent"])
    for kv, bb2, dd in ((4, 0.8, 0.01), (6, 0.9, 0.01), (6, 0.7, 0.02)):
        bb1, n, slope, fixed_rate, inf_rate = _phase_rate(kv, bb2, dd)
        want = expo * fixed_rate
        good = math.isfinite(slope) and abs(slope - want) < 0.25 * abs(want) and abs(slope - want) < abs(slope - inf_rate)
        ok &= good
        pred.append(f"k={kv} b2={bb2} b1={bb1:.4f}: {want:.4f}")
        meas.append(f"k={kv} b2={bb2} b1={bb1:.4f}: {slope:.4f}")
        notes.append(f"k={kv} b2={bb2} b1=line+{dd}: longest phase {n} steps, slope {slope:.4f} decades/step "
                     f"(fixed point's k log10 rho = {fixed_rate:.4f}; point at infinity {inf_rate:.4f}; "
                     f"1/ln q = {1 / math.log(bb1 / (bb2 ** (1 / (2 * (kv - 2)))) ** (kv - 1)):.0f})")
    b2s = (0.4, 0.55, 0.7, 0.85)
    for kv in (6, 8):
        w8, w64 = _band_width(kv, 8, b2s), _band_width(kv, 64, b2s)
        ok &= w8 > 3 * w64
        notes.append(f"k={kv}: width of the band past the line with phases >= 8 steps {w8:.4f}, >= 64 steps {w64:.4f} "
                     f"(ratio {w8 / max(w64, 1e-12):.1f}; mean over beta2 = {b2s})")
    return Measurement(predicted="; ".join(pred), measured="; ".join(meas), passed=bool(ok),
                       detail="Adam on x^k/k (eps=0, no bias correction, lr=1e-2, x0=1, 20000 steps): " + "; ".join(notes))


register(Claim(
    id="D15", paper=PAPER,
    statement=("(toolkit, beyond math.md; explains D12's 'II/III approximate') Past the existence line b1 = rho^(k-1) the "
               "decoupled map on s = rho is u' = (b1/rho^(k-1)) u + 1 - b1, w' = w: the fixed point has left through "
               "u* = infinity and its ghost keeps exponential phases at the rate rho for ~1/ln(b1/rho^(k-1)) steps. "
               "Pass criterion: phase slopes past the line equal k log10 rho within 25 %; the band of phases >= 8 steps "
               "past the line is > 3x wider than that of phases >= 64 steps (k = 6, 8): the line is the long-phase limit"),
    derive=_derive_d15, measure=_measure_d15,
))
