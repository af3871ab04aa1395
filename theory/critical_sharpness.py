"""Claims C1-C4: "Critical sharpness" of LLM training (critical-sharpness-llms.txt).

Paper: ``critical-sharpness-llms.txt`` (its formulas were lost in the text
conversion; math.md section 5 restores them and they are re-derived here).

C1 derives the critical learning rate of a quadratic along the GD direction and
measures it with :func:`dynsys.linesearch.critical_step_size` along a CORE GD
run (counting forward passes); C2 derives the directional sharpness (GD and
preconditioned) and checks it against the line search and the eigenvalue
bounds of :mod:`dynsys.analysis`; C3 derives the weight-decay shifted stability
thresholds with Jury conditions and bisects them on CORE's ``gd`` (with decoupled
weight decay) and ``adamw`` (frozen preconditioner) kernels; C4 derives the
relative critical learning rate of a second loss along the first loss's update.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import sympy as sp

from theory.adam_spikes import bisect_threshold, spd_matrix, trajectory_unstable
from theory.generic import analyze_map, is_zero, jury_conditions_2x2
from theory.registry import Claim, Derivation, Measurement, register

PAPER = "critical-sharpness-llms"


def _sym_quadratic(n=3):
    hs = sp.symbols(" ".join(f"h{i}{j}" for i in range(1, n + 1) for j in range(i, n + 1)), real=True)
    it = iter(hs)
    H = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = next(it)
    return H


# ----------------------------------------------------------------------------- C1

def _derive_c1() -> Derivation:
    eta = sp.Symbol("eta", positive=True)
    A = _sym_quadratic(3)
    x = sp.Matrix(sp.symbols("x1:4", real=True))
    L = lambda y: (y.T * A * y)[0] / 2  # noqa: E731
    g = A * x
    phi = sp.expand(L(x - eta * g) - L(x))
    gg, gAg = (g.T * g)[0], (g.T * A * g)[0]
    model = -eta * gg + eta**2 / 2 * gAg
    exact = is_zero(phi - sp.expand(model))
    G, Q = sp.symbols("G Q", positive=True)  # g^T g, g^T A g > 0
    roots = sp.solve(sp.Eq(-eta * G + eta**2 / 2 * Q, 0), eta)
    eta_c = [r for r in roots if r != 0][0]
    steps = [("phi(eta) = L(x - eta g) - L(x) on x^T A x/2, g = A x (general symmetric 3x3 A)",
              sp.Eq(sp.Symbol(r"\phi(\eta)"), -eta * sp.Symbol("g^T g") + eta**2 / 2 * sp.Symbol("g^T A g"))),
             ("identity checked symbolically", sp.true if exact else sp.false),
             ("phi is a convex parabola through 0 (g^T A g > 0): the loss rises iff eta > eta_c",
              sp.Eq(sp.Symbol(r"\eta_c"), eta_c))]
    ok = exact and is_zero(eta_c - 2 * G / Q)
    return Derivation(passed=bool(ok), steps=steps, values={"eta_c": eta_c, "G": G, "Q": Q})


def _exact_eta_c(der, g, Agg):
    v = der.values
    return float(v["eta_c"].subs({v["G"]: float(g @ g), v["Q"]: float(Agg)}))


def _measure_c1(der: Derivation) -> Measurement:
    from dynsys.linesearch import critical_step_size
    from dynsys.objectives import quadratic
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory

    A = spd_matrix([0.05, 0.3, 1.0, 4.0, 9.0], seed=31)
    obj = quadratic(A)
    x0 = np.array([1.0, -1.0, 0.5, 2.0, -0.3])
    ds = trajectory(gd(0.15), obj, x0, 40)  # 2/lambda_max = 0.22: a stable GD run
    guess, evals, worst, inside = None, [], 0.0, True
    first = None
    for x in ds["x"].values:
        g = obj.grad(x)
        exact = _exact_eta_c(der, g, g @ A @ g)
        res = critical_step_size(lambda e: obj.loss(x - e * g), obj.loss(x), guess=guess, rel_tol=0.01)
        inside &= res.lower <= exact * (1 + 1e-9) and exact <= res.upper * (1 + 1e-9)
        worst = max(worst, abs(res.estimate / exact - 1))
        evals.append(res.n_evals)
        guess = res.estimate
        if first is None:
            first = (exact, res.estimate)
    warm = float(np.mean(evals[1:]))
    passed = inside and worst <= 0.01 and warm <= 8
    return Measurement(
        predicted=first[0], measured=first[1], passed=passed,
        detail=(f"critical_step_size along g on a CORE gd run (41 points, 5-D quadratic): exact 2 g^T g / g^T A g "
                f"inside the bracket at every point: {inside}; max rel. error of the estimate {worst:.1e} "
                f"(rel_tol 0.01); forward passes: {evals[0]} cold (guess 1.0), {warm:.1f} on average warm-started "
                f"from the previous estimate (max {max(evals[1:])})"),
    )


register(Claim(
    id="C1", paper=PAPER,
    statement="Critical learning rate eta_c = smallest eta with L(theta - eta d) > L(theta), critical sharpness "
              "2/eta_c; on a quadratic with d = g it is exactly 2 g^T g / g^T A g; estimated by doubling/halving "
              "then bisection in a few forward passes",
    derive=_derive_c1, measure=_measure_c1,
))


# ----------------------------------------------------------------------------- C2

def _derive_c2() -> Derivation:
    eta = sp.Symbol("eta", positive=True)
    dg, dHd = sp.symbols("dg dHd", positive=True)
    roots = [r for r in sp.solve(sp.Eq(-eta * dg + eta**2 / 2 * dHd, 0), eta) if r != 0]
    S_dir = dHd / dg
    factor = sp.simplify(roots[0] * S_dir)
    steps = [("quadratic model along d: phi(eta) = -eta d^T g + (eta^2/2) d^T H d; rises beyond",
              sp.Eq(sp.Symbol(r"\eta_c"), roots[0])),
             ("so eta_c = 2/S_dir with S_dir = d^T H d / d^T g", sp.Eq(sp.Symbol("S_{dir}"), S_dir))]
    # GD: d = g, eigenbasis g = sum c_i u_i
    c = sp.symbols("c1:4", real=True)
    lam = sp.symbols("l1:4", real=True)
    S_gd = sum(ci**2 * li for ci, li in zip(c, lam)) / sum(ci**2 for ci in c)
    gap = sp.expand(lam[0] * sum(ci**2 for ci in c) - sum(ci**2 * li for ci, li in zip(c, lam)))
    ok = is_zero(factor - 2) and is_zero(gap - (c[1] ** 2 * (lam[0] - lam[1]) + c[2] ** 2 * (lam[0] - lam[2])))
    steps.append(("GD (d = g = sum c_i u_i): S_dir = sum c_i^2 lambda_i / sum c_i^2 <= lambda_max (l1 = max)", S_gd))
    # preconditioned: d = P^{-1} g; S_dir = gt^T Ht gt / |gt|^2 with gt = P^{-1/2} g, Ht = P^{-1/2} H P^{-1/2}
    H = _sym_quadratic(2)
    p1, p2 = sp.symbols("p1 p2", positive=True)
    g = sp.Matrix(sp.symbols("g1 g2", real=True))
    Pinv = sp.diag(1 / p1, 1 / p2)
    Ph = sp.diag(1 / sp.sqrt(p1), 1 / sp.sqrt(p2))
    d = Pinv * g
    lhs = (d.T * H * d)[0] / (d.T * g)[0]
    gt, Ht = Ph * g, Ph * H * Ph
    rhs = (gt.T * Ht * gt)[0] / (gt.T * gt)[0]
    same = is_zero(sp.simplify(lhs - rhs))
    steps.append(("d = P^{-1} g: S_dir = gt^T Ht gt / |gt|^2, gt = P^{-1/2} g, Ht = P^{-1/2} H P^{-1/2} "
                  "(so S_dir <= lambda_max(Ht) = lambda_max(P^{-1} H), A1)", sp.true if same else sp.false))
    ok = ok and same
    return Derivation(passed=bool(ok), steps=steps, values={"factor": factor})


def _measure_c2(der: Derivation) -> Measurement:
    from dynsys.analysis import directional_sharpness, gradient_directional_curvature, preconditioned_sharpness
    from dynsys.linesearch import critical_step_size
    from dynsys.objectives import quadratic

    factor = float(der.values["factor"])
    rng = np.random.default_rng(41)
    worst, bound_ok, gd_ok = 0.0, True, True
    for i in range(30):
        n = int(rng.integers(2, 7))
        H = spd_matrix(10.0 ** rng.uniform(-1, 1, n), seed=100 + i)
        obj = quadratic(H)
        x = rng.normal(size=n)
        g = obj.grad(x)
        vhat = 10.0 ** rng.uniform(-2, 1, n)
        P = np.sqrt(vhat)
        for d, lam_bound in ((g / P, preconditioned_sharpness(H, vhat, 0.0, None, 0.0)),
                             (g, float(np.linalg.eigvalsh(H)[-1]))):
            S = directional_sharpness(H, d, g)
            res = critical_step_size(lambda e: obj.loss(x - e * d), obj.loss(x), guess=1.0 / S, rel_tol=1e-3)
            worst = max(worst, abs(factor / S / res.estimate - 1))
            bound_ok &= S <= lam_bound * (1 + 1e-12)
        gd_ok &= abs(directional_sharpness(H, g, g) - gradient_directional_curvature(H, g)) < 1e-12 * abs(
            gradient_directional_curvature(H, g))
    passed = worst < 2e-3 and bound_ok and gd_ok
    return Measurement(
        predicted=0.0, measured=worst, passed=passed,
        detail=(f"30 random quadratics (n = 2..6), d = g and d = P^-1 g (P = sqrt(vhat) over 3 decades): max rel. "
                f"difference between the line-search critical rate (rel_tol 1e-3) and 2/S_dir = {worst:.1e}; "
                f"S_dir <= lambda_max(P^-1 H) resp. lambda_max(H) in every case: {bound_ok}; "
                f"S_dir(d = g) = lambda_grad: {gd_ok}"),
    )


register(Claim(
    id="C2", paper=PAPER,
    statement="Directional sharpness S_dir = d^T H d / d^T g gives eta_c = 2/S_dir under the quadratic model; for GD "
              "S_dir = sum c_i^2 lambda_i / sum c_i^2 <= lambda_max; for d = P^{-1} g the same with P^{-1/2} g and "
              "P^{-1/2} H P^{-1/2}",
    derive=_derive_c2, measure=_measure_c2,
))


# ----------------------------------------------------------------------------- C3

def _derive_c3() -> Derivation:
    x, m = sp.symbols("xi zeta", real=True)
    eta, lam, h, mu, b1 = sp.symbols("eta wd h mu beta1", positive=True)
    steps = []
    # GD with decoupled weight decay (CORE order: x <- (1 - eta lambda) x - eta g)
    gd_map = [(1 - eta * lam) * x - eta * h * x]
    an = analyze_map([x], gd_map, params=[eta, lam, h])
    mult = an.jacobians[0][0, 0]
    steps.append(("GD + weight decay on h x^2/2: multiplier", sp.factor(mult)))
    p = sp.Symbol("p", positive=True)  # p = eta (h + lambda)
    region = sp.solve_univariate_inequality(sp.Abs(1 - p) < 1, p, relational=False)
    gd_thr = 2 / eta - lam
    ok = is_zero(mult - (1 - eta * (h + lam))) and region == sp.Interval.open(0, 2)
    steps.append(("|1 - eta (h + lambda)| < 1 iff 0 < eta (h + lambda) < 2: h < 2/eta - lambda",
                  sp.StrictLessThan(h, gd_thr)))
    # AdamW with a frozen preconditioner, mode mu of P^{-1} H (CORE/PyTorch order, no bias correction)
    m_new = b1 * m + (1 - b1) * mu * x
    aw_map = [(1 - eta * lam) * x - eta * m_new, m_new]
    an2 = analyze_map([x, m], aw_map, params=[eta, lam, mu, b1])
    J = an2.jacobians[0]
    conds = jury_conditions_2x2(J)
    steps.append(("AdamW, frozen P, eigenmode mu of P^{-1} H: Jacobian", J))
    steps.append(("Jury conditions", [sp.factor(c) for c in conds]))
    aw_thr = (2 / eta - lam) * (1 + b1) / (1 - b1)
    ok &= is_zero(conds[0] - (1 - b1 * (1 - eta * lam)))
    ok &= is_zero(conds[1] - eta * (1 - b1) * (mu + lam))
    ok &= is_zero(conds[2] - eta * (1 - b1) * (aw_thr - mu))
    steps.append(("1 + tr + det = eta (1-b1) ((2/eta - lambda)(1+b1)/(1-b1) - mu) > 0",
                  sp.StrictLessThan(mu, aw_thr)))
    return Derivation(passed=bool(ok), steps=steps,
                      values={"gd": gd_thr, "adamw": aw_thr, "eta": eta, "lam": lam, "b1": b1})


def _measure_c3(der: Derivation) -> Measurement:
    from dynsys.analysis import preconditioned_sharpness
    from dynsys.objectives import quadratic
    from dynsys.optimizers import adamw, gd

    v = der.values
    eta_s = v["eta"]
    H = spd_matrix([0.2, 1.5, 10.0], seed=51)
    lmax = float(np.linalg.eigvalsh(H)[-1])
    obj = quadratic(H)
    wd = 0.5
    # GD: eta* solves lambda_max = gd_threshold(eta)
    pred_gd = float(sp.nsolve(v["gd"].subs(v["lam"], wd) - lmax, eta_s, 2.0 / lmax))
    x0 = np.array([1.0, -0.5, 0.8])
    un_gd = lambda e: trajectory_unstable(dataclasses.replace(gd(e), weight_decay=wd), obj, x0, 2000)  # noqa: E731
    lo, hi = bisect_threshold(un_gd, 0.8 * pred_gd, 1.2 * pred_gd, rel_tol=5e-4)
    m_gd = math.sqrt(lo * hi)
    # AdamW with a frozen preconditioner (b2 = 1 - 1e-12, v = v0, no bias correction)
    b1v, eps = 0.9, 1e-8
    v0 = np.array([0.04, 1.0, 9.0])
    mu = preconditioned_sharpness(H, v0, 0.0, None, eps)  # lambda_max(P^-1 H)
    wd_a = 0.3 * mu * (1 - b1v) / (1 + b1v)
    expr = v["adamw"].subs({v["lam"]: wd_a, v["b1"]: sp.Rational(9, 10)}) - mu
    pred_aw = float(sp.nsolve(expr, eta_s, 2.0 / (mu * (1 - b1v) / (1 + b1v))))
    no_wd = 2.0 / (mu * (1 - b1v) / (1 + b1v))
    x0a = x0 * 1e-60

    def un_aw(e):
        opt = adamw(e, b1v, 1.0 - 1e-12, eps, weight_decay=wd_a, bias_correction=False)
        return trajectory_unstable(opt, obj, x0a, 2000, v0=v0)

    lo, hi = bisect_threshold(un_aw, 0.8 * pred_aw, 1.2 * pred_aw, rel_tol=5e-4)
    m_aw = math.sqrt(lo * hi)
    e1, e2 = abs(m_gd / pred_gd - 1), abs(m_aw / pred_aw - 1)
    return Measurement(
        predicted=pred_aw, measured=m_aw, passed=max(e1, e2) < 3e-3,
        detail=(f"GD + decoupled weight decay 0.5 (CORE gd kernel), lambda_max = {lmax:g}: threshold {m_gd:.5g} vs "
                f"predicted (lambda_max = 2/eta - wd) {pred_gd:.5g} (rel. err {e1:.1e}; without wd 2/lambda_max = "
                f"{2 / lmax:.4g}). AdamW (b1 = 0.9, frozen v0 = {v0.tolist()}, wd = {wd_a:.3g}): threshold {m_aw:.5g} "
                f"vs predicted (lambda_max(P^-1 H) = (2/eta - wd)(1+b1)/(1-b1)) {pred_aw:.5g} (rel. err {e2:.1e}; "
                f"without wd {no_wd:.4g})"),
    )


register(Claim(
    id="C3", paper=PAPER,
    statement="Weight decay lambda shifts the thresholds: GD is stable iff lambda_max(H) < 2/eta - lambda; AdamW iff "
              "lambda_max(P^{-1} H) < (2/eta - lambda)(1+b1)/(1-b1) in the slow-preconditioner limit "
              "(P = diag(sqrt(vhat)+eps))",
    derive=_derive_c3, measure=_measure_c3,
))


# ----------------------------------------------------------------------------- C4

def _derive_c4() -> Derivation:
    eta = sp.Symbol("eta", positive=True)
    B = _sym_quadratic(2)
    th = sp.Matrix(sp.symbols("t1 t2", real=True))
    b = sp.Matrix(sp.symbols("b1 b2", real=True))
    d = sp.Matrix(sp.symbols("d1 d2", real=True))
    LB = lambda y: ((y - b).T * B * (y - b))[0] / 2  # noqa: E731
    gB = B * (th - b)
    phi = sp.expand(LB(th - eta * d) - LB(th))
    dg, dBd = (d.T * gB)[0], (d.T * B * d)[0]
    exact = is_zero(phi - sp.expand(-eta * dg + eta**2 / 2 * dBd))
    G, Q = sp.symbols("G Q", positive=True)
    eta_c = [r for r in sp.solve(sp.Eq(-eta * G + eta**2 / 2 * Q, 0), eta) if r != 0][0]
    steps = [("second loss L_B = (theta - b)^T B (theta - b)/2 along the first loss's update d: "
              "L_B(theta - eta d) - L_B(theta)", sp.Eq(sp.Symbol(r"\phi_B"),
                                                       -eta * sp.Symbol(r"d^T \nabla L_B") + eta**2 / 2 * sp.Symbol("d^T B d"))),
             ("identity checked symbolically", sp.true if exact else sp.false),
             ("relative critical rate for d^T grad L_B > 0 (if d^T grad L_B < 0 every step raises L_B: eta_c = 0)",
              sp.Eq(sp.Symbol(r"\eta_c^{rel}"), eta_c))]
    ok = exact and is_zero(eta_c - 2 * G / Q)
    return Derivation(passed=bool(ok), steps=steps, values={"eta_c": eta_c, "G": G, "Q": Q})


def _measure_c4(der: Derivation) -> Measurement:
    from dynsys.linesearch import critical_step_size
    from dynsys.objectives import quadratic

    v = der.values
    rng = np.random.default_rng(61)
    worst, n_pos, ascent_ok, first = 0.0, 0, True, None
    for i in range(20):
        n = 4
        objA = quadratic(spd_matrix(10.0 ** rng.uniform(-1, 1, n), seed=200 + i))
        Bm = spd_matrix(10.0 ** rng.uniform(-1, 1, n), seed=300 + i)
        objB = quadratic(Bm)
        b = rng.normal(size=n)
        th = rng.normal(size=n)
        d = objA.grad(th)  # the update of the first loss
        gB = objB.grad(th - b)
        res = critical_step_size(lambda e: objB.loss(th - e * d - b), objB.loss(th - b), guess=1.0)
        if d @ gB > 0:
            exact = float(v["eta_c"].subs({v["G"]: float(d @ gB), v["Q"]: float(d @ Bm @ d)}))
            worst = max(worst, abs(res.estimate / exact - 1))
            n_pos += 1
            if first is None:
                first = (exact, res.estimate)
        else:  # L_B rises for every step: the search ends at the float resolution of the loss,
            # eta ~ eps |L_B| / |d . grad L_B| (smaller rises round to L_B(theta)), or lower = 0
            ascent_ok &= res.estimate * abs(d @ gB) <= 1e-13 * max(1.0, abs(objB.loss(th - b)))
    passed = worst <= 0.01 and ascent_ok and n_pos >= 5
    return Measurement(
        predicted=first[0], measured=first[1], passed=passed,
        detail=(f"20 pairs of CORE quadratics (A: update d = grad L_A; B: shifted): in {n_pos} cases with "
                f"d^T grad L_B > 0 the line search on L_B matches 2 d^T grad L_B / d^T B d to {worst:.1e} "
                f"(rel_tol 0.01); in the other {20 - n_pos} every step raises L_B and the search ends at the float "
                f"resolution of the loss (eta_c * |d . grad L_B| <= 1e-13 |L_B|): {ascent_ok}"),
    )


register(Claim(
    id="C4", paper=PAPER,
    statement="Relative critical sharpness: the same line search on a second loss L_B along the update of the first "
              "loss; on quadratics eta_c^rel = 2 d^T grad L_B / d^T B d",
    derive=_derive_c4, measure=_measure_c4,
))
