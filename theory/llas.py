"""Claims F1-F2: "Loss spike in training neural networks" (Li, Xu, Zhang; the LLAS paper).

Paper: ``loss-spike-in-training-neural-networks.txt``; math.md section 4.

F1 derives the lower-loss-as-sharper toy (Eq. 3.1, Appendix A.1) with sympy and
measures its spike with the MAPS team's ``llas-gd`` system and CORE's ``gd``
trajectory; F2 checks the low-frequency proportion (Definition 3.1) and the
condensed variance (Definitions 5.1-5.2) against their defining properties with
:mod:`dynsys.analysis`.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from theory.generic import analyze_map, is_zero
from theory.registry import Claim, Derivation, Measurement, register

PAPER = "loss-spike-in-training-neural-networks"


# ----------------------------------------------------------------------------- F1

def _derive_f1() -> Derivation:
    from dynsys.systems import get_system

    x, y = sp.symbols("x y", real=True)
    f = (50 * x + 200) * y**2 - x + 5
    steps = [("LLAS toy (Eq. 3.1) on x > -4", f)]
    fx = sp.diff(f, x)
    fac = sp.factor(f - 9)
    steps.append(("df/dx", fx))
    steps.append(("f - 9 factors as (x + 4)(50 y^2 - 1) = (x + 4) df/dx, so on x > -4 df/dx has the sign of "
                  "f - 9: x moves towards the sharp side below the level set f = 9 and back above it", fac))
    ok = is_zero(fac - (x + 4) * fx)
    H = sp.hessian(f, (x, y))
    ev = H.subs(y, 0).eigenvals()
    steps.append(("Hessian (Appendix A.1)", H))
    steps.append(("eigenvalues at y = 0", ev))
    ok &= {sp.expand(e) for e in ev} == {sp.Integer(0), 100 * x + 400}
    sysm = get_system("llas-gd")
    states, params, exprs = sysm.symbolic()
    lr = params[0]
    an = analyze_map(states, exprs, params=params, eigenvalues=False)
    xs, ys = states
    steps.append(("GD map (dynsys.systems 'llas-gd')", sp.Matrix(exprs)))
    steps.append(("fixed points: all on the excluded boundary x = -4, so GD cannot settle", an.fixed_points))
    ok &= all(sp.simplify(p[xs] + 4) == 0 for p in an.fixed_points)
    J0 = an.jacobian.subs(ys, 0)
    steps.append(("Jacobian on the valley floor y = 0", J0))
    mult = J0[1, 1]
    ok &= is_zero(J0[0, 0] - 1) and J0[0, 1] == 0 and J0[1, 0] == 0
    sharp = 100 * xs + 400
    ok &= is_zero(mult - (1 - lr * sharp))
    steps.append(("y-multiplier 1 - lr (100 x + 400): |.| < 1 iff the sharpness 100 x + 400 < 2/lr "
                  "(= 400 at lr = 5e-3, i.e. x < 0); x grows by lr per step while y ~ 0 (df/dx = -1): "
                  "lower loss, sharper valley, until |y| grows -- the spike", sp.StrictLessThan(sharp, 2 / lr)))
    return Derivation(passed=bool(ok), steps=steps, values={"threshold": 2 / lr, "lr": lr})


def _measure_f1(der: Derivation) -> Measurement:
    from dynsys.objectives import llas
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory
    from dynsys.systems import get_system

    lr = 5e-3
    steps = 450
    sysm = get_system("llas-gd")
    traj, n = sysm.iterate(sysm.default_state(x=0.5, y=1e-5), sysm.params_array(lr=lr), steps)
    ds = trajectory(gd(lr), llas(), [0.5, 1e-5], steps)
    X = ds["x"].values
    m = min(n + 1, X.shape[0])
    agree = float(np.max(np.abs(traj[:m] - X[:m]) / (np.abs(X[:m]) + 1e-300)))
    xs, ys = X[:, 0], X[:, 1]
    f = ds["loss"].values
    # (1) sign of the x-velocity vs the level set f = 9 (exact)
    vx = np.sign(xs[1:] - xs[:-1])
    sign_mismatch = int(np.sum(vx != np.sign(9.0 - f[:-1])))
    # (2) |y| grows iff the sharpness 100 x + 400 exceeds the derived threshold 2/lr
    threshold = float(der.values["threshold"].subs(der.values["lr"], sp.Float(lr)))
    sharp = 100 * xs[:-1] + 400
    grows = np.abs(ys[1:]) > np.abs(ys[:-1])
    lo, hi = float(np.max(sharp[~grows])), float(np.min(sharp[grows]))
    # (3) the spike: a descent, then a rise by a large factor, then a descent
    peak = int(np.argmax(f[:120]))
    pre_min = float(np.min(f[:peak]))
    ratio = float(f[peak] / pre_min)
    post = float(np.min(f[peak:120]))
    passed = (lo < threshold < hi and hi - lo < 1.0 and sign_mismatch == 0 and ratio > 10
              and post < 2 * pre_min and agree < 1e-9)
    return Measurement(
        predicted=threshold, measured=0.5 * (lo + hi), passed=passed,
        detail=(f"GD lr = 5e-3 from (0.5, 1e-5), {steps} steps (dynsys.systems 'llas-gd' and CORE gd on llas agree to "
                f"{agree:.1e}): the loss falls to {pre_min:.3g}, spikes to {f[peak]:.3g} at step {peak} "
                f"({ratio:.0f}x), then falls back to {post:.3g}; |y| shrinks up to sharpness {lo:.2f} and grows from "
                f"{hi:.2f} (threshold 2/lr = {threshold:g}); x moves right exactly when f < 9 "
                f"({sign_mismatch} mismatches)"),
    )


register(Claim(
    id="F1", paper=PAPER,
    statement="LLAS toy f = (50x+200) y^2 - x + 5 on x > -4: df/dx = 50 y^2 - 1 changes sign exactly on the level set "
              "f = 9; at y = 0 the Hessian eigenvalues are 100x + 400 and 0; GD with eta = 5e-3 from (0.5, 1e-5) "
              "spikes: |y| grows while 100x + 400 > 2/eta",
    derive=_derive_f1, measure=_measure_f1,
))


# ----------------------------------------------------------------------------- F2

def _derive_f2() -> Derivation:
    steps = []
    N = 4
    fs = sp.symbols(f"f0:{N}", real=True)
    F = [sum(fs[j] * sp.exp(-2 * sp.pi * sp.I * j * k / N) for j in range(N)) for k in range(N)]
    power = [sp.expand(Fk * sp.conjugate(Fk)) for Fk in F]
    parseval = is_zero(sp.expand(sum(power) - N * sum(v**2 for v in fs)))
    steps.append(("Parseval for the DFT (N = 4): sum_k |f^(k)|^2 = N sum_j f_j^2, so LFP(K) is the share of "
                  "the signal's power at |k| <= K", sp.true if parseval else sp.false))
    n8 = 8
    sine = [sp.sin(2 * sp.pi * j / n8) for j in range(n8)]
    dft = [sp.nsimplify(sp.simplify(sum(sine[j] * sp.exp(-2 * sp.pi * sp.I * j * k / n8) for j in range(n8))))
           for k in range(n8)]
    support = [k for k in range(n8) if dft[k] != 0]
    steps.append(("DFT of sin(2 pi j/8): non-zero only at k = 1 and k = 7 = -1, so LFP(K) = 1 for K >= 1 and 0 "
                  "for K = 0", sp.Matrix(dft)))
    a, r = sp.symbols("alpha r", positive=True)
    thetas = [a, -a]
    cpos = sp.Symbol("c", positive=True)  # cos(alpha) > 0: |alpha| < pi/2 as for arctan(b/w)
    tbar = sp.atan2(r * sp.sin(a) + r * sp.sin(-a), r * sp.cos(a) + r * sp.cos(-a)).subs(sp.cos(a), cpos)
    V = sp.simplify(sum(r * (t - tbar) ** 2 for t in thetas) / (2 * r))
    steps.append(("two neurons at +-alpha with equal r: theta_bar = atan2(0, 2 r cos alpha) = 0, V_cond", V))
    th = sp.symbols("theta1:4", real=True)
    rs = sp.symbols("r1:4", positive=True)
    tb = sp.Symbol(r"\bar\theta")
    Vg = sum(ri * (ti - tb) ** 2 for ri, ti in zip(rs, th)) / sum(rs)
    steps.append(("V_cond is a weighted mean of squares: >= 0, = 0 iff every theta_i = theta_bar (aligned)",
                  Vg))
    ok = parseval and support == [1, 7] and is_zero(tbar) and is_zero(V - a**2)
    return Derivation(passed=bool(ok), steps=steps, values={"pair_variance": a**2, "alpha": a})


def _measure_f2(der: Derivation) -> Measurement:
    from dynsys.analysis import condensed_variance, low_frequency_proportion

    errors = {}
    grid = np.arange(256) / 256
    errors["LFP(2) of sin(2 pi x)"] = abs(low_frequency_proportion(np.sin(2 * np.pi * grid), 2) - 1.0)
    errors["LFP(2) of sin(40 pi x)"] = abs(low_frequency_proportion(np.sin(40 * np.pi * grid), 2) - 0.0)
    rng = np.random.default_rng(4)
    amps = rng.uniform(0.1, 2.0, 6)
    freqs = np.array([0, 1, 2, 5, 9, 30])
    sig = sum(A * np.cos(2 * np.pi * k * grid + rng.uniform(0, 2 * np.pi)) for A, k in zip(amps, freqs))
    # power of a cosine of amplitude A: A^2/2 (k > 0), A^2 cos^2(phase) for k = 0
    pw = np.array([(A * np.cos(0)) ** 2 if k == 0 else A**2 / 2 for A, k in zip(amps, freqs)])
    dc = sig.mean()
    pw[0] = dc**2
    for K in (0, 2, 9):
        pred = pw[freqs <= K].sum() / pw.sum()
        errors[f"LFP({K}) of a 6-tone mixture"] = abs(low_frequency_proportion(sig, K) - pred)
    # condensed variance
    direction = np.array([math.cos(0.4), math.sin(0.4)])
    aligned = rng.uniform(0.1, 3, 50)[:, None] * direction * rng.choice([-1.0, 1.0], 50)[:, None]
    errors["V_cond of aligned neurons"] = abs(condensed_variance(aligned))
    alpha = 0.35
    pair = np.array([[math.cos(alpha), math.sin(alpha)], [math.cos(-alpha), math.sin(-alpha)]]) * 2.5
    pred_pair = float(der.values["pair_variance"].subs(der.values["alpha"], alpha))
    errors["V_cond of a +-alpha pair"] = abs(condensed_variance(pair) - pred_pair)
    W = rng.normal(size=(40, 2))
    th = np.arctan(W[:, 1] / W[:, 0])
    r = np.hypot(W[:, 0], W[:, 1])
    tb = math.atan2(np.sum(r * np.sin(th)), np.sum(r * np.cos(th)))
    errors["V_cond of 40 random neurons vs Def. 5.2"] = abs(condensed_variance(W) - np.sum(r * (th - tb) ** 2) / r.sum())
    worst = max(errors.values())
    return Measurement(
        predicted=0.0, measured=float(worst), passed=worst < 1e-10,
        detail="dynsys.analysis vs the definitions: " + "; ".join(f"{k}: err {v:.1e}" for k, v in errors.items()),
    )


register(Claim(
    id="F2", paper=PAPER,
    statement="Low-frequency proportion LFP(K) = sum_{k<=K} |f^(k)|^2 / sum_k |f^(k)|^2 (Def. 3.1) and condensed "
              "variance V = sum r_i (theta_i - theta_bar)^2 / sum r_i with the magnitude-weighted mean direction "
              "theta_bar (Def. 5.1-5.2)",
    derive=_derive_f2, measure=_measure_f2,
))
