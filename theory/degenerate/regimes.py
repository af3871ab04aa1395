"""Claims D12-D13: the three regimes of Adam, their boundaries (Thm 6.1), the coupling ratio v/g^2 (App. E)."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from theory.registry import Claim, Derivation, Measurement, register
from theory.degenerate.common import PAPER, _adam_run, _rel, _zero, b2, k
from theory.degenerate.fixed_points import _jury_stable_numeric


# ============================================================================= D12

@lru_cache(maxsize=None)
def _derive_d12() -> Derivation:
    kk = sp.Symbol("k", positive=True)
    e_stab = kk / (2 * (kk - 2))
    e_exist = (kk - 1) / (2 * (kk - 2))
    gap = sp.simplify(e_stab - e_exist)
    ok = _zero(gap - 1 / (2 * (kk - 2)))
    steps = [
        (r"I/II boundary (Eq. 8): $\beta_1 = \beta_2^{e_1}$, $e_1$", e_stab),
        (r"II/III boundary (existence, D3): $\beta_1 = \beta_2^{e_2}$, $e_2$", e_exist),
        (r"$e_1 - e_2 > 0$ and $\beta_2 < 1$: band II is non-empty", gap),
    ]
    # cross-check with the SCAN team's closed forms (dynsys.regimes.predicted_regime)
    try:
        from dynsys.regimes import predicted_regime

        agree = True
        for kv in (4, 6):
            for bb1 in np.linspace(0.01, 0.99, 15):
                for bb2v in np.linspace(0.02, 0.99, 15):
                    r = bb2v ** (1 / (2 * (kv - 2)))
                    mine = 3 if bb1 >= r ** (kv - 1) else (1 if _jury_stable_numeric(bb1, bb2v, kv) else 2)
                    agree &= int(predicted_regime(float(bb1), float(bb2v), kv)) == mine
        ok &= agree
        steps.append(("dynsys.regimes.predicted_regime agrees with this derivation on a 15x15 grid (k = 4, 6)", sp.true if agree else sp.false))
    except ImportError:  # pragma: no cover - SCAN module missing
        pass
    return Derivation(passed=bool(ok), steps=steps, values={})


def _classify(kv, bb1, bb2, lr=1e-2, steps=30_000):
    """Regime of a CORE Adam run (eps = 0, no bias correction) on x^k/k from x0 = 1.

    Returns ``(regime, min log10 L, final log10 L, median log10 C)`` with the coupling ratio
    ``C = v/g^2`` (Appendix E): III when ``v`` stays coupled to ``g^2`` (median
    ``log10 C < 1``, the paper's Fig. 7c-d criterion); otherwise I when the loss falls
    6 decades below the SignGD level ``lr^k`` and never rises 6 decades above its minimum,
    II when it does (a spike, or divergence).
    """
    ds = _adam_run(kv, bb1, bb2, lr=lr, steps=steps, record_every=10)
    ll = ds.log10_loss.values
    lmin, lfin = float(np.min(ll)), float(ll[-1])
    lc = ds.log10_v.values - 2 * ds.log10_abs_grad.values
    medc = float(np.median(lc[np.isfinite(lc)]))
    expo = lmin < kv * math.log10(lr) - 6
    spike = bool(ds.attrs["diverged"]) or lfin - lmin > 6
    if medc < 1:
        reg = 3
    elif expo and not spike:
        reg = 1
    else:
        reg = 2
    return reg, lmin, lfin, medc


def _best_split(b1s, regs):
    """Threshold on a sorted b1 grid that best separates II (below) from III (above).

    Returns ``(threshold, misclassified)``: the midpoint between grid neighbours that minimizes
    the number of runs on the wrong side (II above or III below); robust to isolated outliers.
    """
    best = (len(regs) + 1, b1s[0])
    for i in range(len(b1s) + 1):
        wrong = sum(r == 3 for r in regs[:i]) + sum(r != 3 for r in regs[i:])
        thr = b1s[0] - 1e-3 if i == 0 else (b1s[-1] + 1e-3 if i == len(b1s) else 0.5 * (b1s[i - 1] + b1s[i]))
        if wrong < best[0]:
            best = (wrong, thr)
    return best[1], best[0]


def _measure_d12(d: Derivation) -> Measurement:
    """Regimes of real Adam runs on either side of each boundary, and both boundaries measured.

    Classifier :func:`_classify` (30000 steps, lr = 1e-2, x0 = 1). I/II: bisection on the measured
    regime (8 halvings of a 0.04 bracket). II/III: a 30-point b1 grid from just above I/II to 0.995,
    split where the fewest runs fall on the wrong side (the measured regime is not monotone in b1
    near this boundary). Pass criterion (stated in the claim): the three side points fall in their
    predicted regimes for every case, I/II within 0.005 of Eq. 8 for every case, II/III within 0.05
    of the existence boundary for k = 4 (math.md: "a few hundredths"); the k = 6 II/III offsets
    are measured and reported, not asserted.
    """
    notes = []
    ok = True
    meas_txt, pred_txt = [], []
    offsets = {}
    for kv, bb2 in ((4, 0.9), (4, 0.5), (6, 0.9), (6, 0.5)):
        c12 = bb2 ** (kv / (2 * (kv - 2)))
        c23 = bb2 ** ((kv - 1) / (2 * (kv - 2)))
        pts = [(c12 - 0.01, 1), (c12 + 0.006, 2), (0.995, 3)]
        got_pts = []
        for bb1, want in pts:
            got, lmin, lfin, medc = _classify(kv, bb1, bb2)
            ok &= got == want
            got_pts.append(f"b1={bb1:.4f}: {got} (predicted {want}; min/final log10 L {lmin:.0f}/{lfin:.0f}, median log10 C {medc:.2f})")
        lo, hi = c12 - 0.02, c12 + 0.02
        for _ in range(8):
            mid = 0.5 * (lo + hi)
            if _classify(kv, mid, bb2)[0] == 1:
                lo = mid
            else:
                hi = mid
        m12 = 0.5 * (lo + hi)
        grid = np.linspace(c12 + 0.004, 0.995, 30)
        regs = [_classify(kv, b, bb2)[0] for b in grid]
        m23, wrong = _best_split(list(grid), regs)
        in_band = [r for b, r in zip(grid, regs) if b < c23]
        ok &= abs(m12 - c12) < 0.005
        if kv == 4:
            ok &= abs(m23 - c23) < 0.05
        offsets[(kv, bb2)] = (m12 - c12, m23 - c23)
        pred_txt.append(f"k={kv} b2={bb2}: I/II {c12:.4f}, II/III {c23:.4f}")
        meas_txt.append(f"k={kv} b2={bb2}: I/II {m12:.4f}, II/III {m23:.4f}")
        notes.append(f"k={kv} b2={bb2}: " + "; ".join(got_pts) + f"; measured I/II at b1 = {m12:.4f} (offset {m12 - c12:+.4f}); "
                     f"II/III split at b1 = {m23:.4f} (offset {m23 - c23:+.4f}, {wrong} of 30 grid runs on the wrong side; "
                     f"{sum(r == 3 for r in in_band)} of {len(in_band)} runs in the predicted-II band already look like III)")
    bb2s = 0.3
    c12s, c23s = bb2s, bb2s**0.75
    band = np.linspace(c12s + 0.01, c23s - 0.01, 5)
    got = [_classify(4, bb1, bb2s)[0] for bb1 in band]
    notes.append(f"k=4 b2=0.3, predicted-II band ({c12s:.3f}, {c23s:.3f}): measured regimes {got} at b1 = {np.round(band, 3).tolist()}")
    notes.append("the I/II boundary is sharp (a 30000-step horizon only misses instabilities slower than ~1e-3/step); "
                 "the II/III boundary is approximate: deep transient dips (min log10 L ~ -20 to -40) persist past it, so it "
                 "is located with the coupling ratio C = v/g^2 (III: median log10 C < 1, v coupled to g^2 as in SignGD). "
                 f"For k = 6 the measured II/III boundary lies {offsets[(6, 0.9)][1]:+.3f} (b2=0.9) and "
                 f"{offsets[(6, 0.5)][1]:+.3f} (b2=0.5) from the prediction: more than math.md's 'a few hundredths'")
    return Measurement(predicted="; ".join(pred_txt), measured="; ".join(meas_txt), passed=bool(ok),
                       detail="CORE Adam on x^k/k (eps=0, no bias correction, lr=1e-2, x0=1, 30000 steps): " + "; ".join(notes))


register(Claim(
    id="D12", paper=PAPER,
    statement=("Three regimes: I stable convergence (fixed point stable, D4); II b2^(k/(2(k-2))) <= b1 < b2^((k-1)/(2(k-2))): "
               "linear convergence then a spike; III b1 >= b2^((k-1)/(2(k-2))): SignGD-like oscillation at loss ~ eta^k. "
               "I/II is sharp in simulation, II/III approximate (Thm 6.1). Pass criterion (k = 4, 6; b2 = 0.9, 0.5): runs on either "
               "side of each boundary fall in the predicted regime and the measured I/II boundary is within 0.005 of Eq. 8; "
               "the II/III boundary is within 0.05 of the prediction for k = 4 (for k = 6 its offset is measured and reported: "
               "up to +0.18 at b2 = 0.5)"),
    derive=_derive_d12, measure=_measure_d12,
))


# ============================================================================= D13

@lru_cache(maxsize=None)
def _derive_d13() -> Derivation:
    v_, g_, g1 = sp.symbols("v_t g_t g_t1", positive=True)
    C = v_ / g_**2
    v1 = b2 * v_ + (1 - b2) * g1**2
    q = g1**2 / g_**2
    ok = _zero(v1 / g1**2 - (b2 * C / q + (1 - b2)))
    steps = [(r"$C_{t+1} = v_{t+1}/g_{t+1}^2 = \beta_2 C_t/q_t + (1 - \beta_2)$, $q_t = g_{t+1}^2/g_t^2$", sp.simplify(b2 * C / q + 1 - b2))]
    # at the fixed point g_{t+1}/g_t = rho^{k-1}
    r = b2 ** (1 / (2 * (k - 2)))
    gr = sp.powsimp(r ** (k - 1), force=True)
    Cr = sp.powsimp(b2 / gr**2, force=True)
    ok &= _zero(sp.powsimp(Cr - b2 ** (-1 / (k - 2)), force=True))
    ok &= _zero(sp.powsimp(gr - b2 ** ((k - 1) / (2 * (k - 2))), force=True))
    steps += [(r"$g_{t+1}/g_t \to \rho^{k-1}$", gr), (r"$C_{t+1}/C_t \to \beta_2/q$", sp.simplify(Cr))]
    # decoupled (C grows) iff q < b2; persistence b1 < rho^{k-1} = D3's condition
    steps.append((r"persistence of $m$: $\beta_1 < g_{t+1}/g_t = \rho^{k-1}$ (Eq. 75, same as D3)", gr))
    return Derivation(passed=bool(ok), steps=steps, values={})


def _measure_d13(d: Derivation) -> Measurement:
    preds, meas = [], []
    ok = True
    notes = []
    for kv in (4, 6):
        bb1, bb2 = 0.5, 0.9
        ds = _adam_run(kv, bb1, bb2, lr=1e-2, steps=3000)
        lv = ds.log10_v.values * math.log(10)
        lg = ds.log10_abs_grad.values * math.log(10)
        lnC = lv - 2 * lg
        cr = float(np.exp(np.mean(np.diff(lnC[-500:]))))
        gr = float(np.exp(np.mean(np.diff(lg[-500:]))))
        q = np.exp(2 * np.diff(lg[-500:]))
        pc, pg = bb2 ** (-1 / (kv - 2)), bb2 ** ((kv - 1) / (2 * (kv - 2)))
        preds += [pc, pg]
        meas += [cr, gr]
        ok &= _rel(cr, pc) < 1e-6 and _rel(gr, pg) < 1e-6 and bool(np.all(q < bb2))
        notes.append(f"k={kv}: C ratio {cr:.10f} (pred {pc:.10f}, rel. error {_rel(cr, pc):.1e}), g ratio {gr:.10f} "
                     f"(pred {pg:.10f}, rel. error {_rel(gr, pg):.1e}), max q_t = {q.max():.6f} < b2 (decoupled)")
    return Measurement(predicted="; ".join(f"{v:.10f}" for v in preds), measured="; ".join(f"{v:.10f}" for v in meas),
                       passed=bool(ok), detail="CORE Adam (eps=0, no bias correction, lr=1e-2, b1=0.5, b2=0.9), geometric-mean ratios of v/g^2 and |g| from log10_v and "
                              "log10_abs_grad over the last 500 of 3000 steps (tolerance 1e-6 relative): " + "; ".join(notes))


register(Claim(
    id="D13", paper=PAPER,
    statement=("Coupling ratio C = v/g^2 obeys C' = b2 C/q + (1-b2), q = g'^2/g^2; decoupled when q < b2; at the fixed point "
               "C'/C -> b2^(-1/(k-2)), g'/g -> b2^((k-1)/(2(k-2))); persistence of m needs b1 < rho^(k-1) (Appendix E)"),
    derive=_derive_d13, measure=_measure_d13,
))
