"""theory.generic on maps with known answers."""
import numpy as np
import pytest
import sympy as sp

from theory.generic import (
    LAMBDA,
    analyze_flow,
    analyze_map,
    characteristic_polynomial,
    check_flow_solution,
    compose_map,
    equal_at_points,
    fixed_points,
    hurwitz_conditions,
    is_zero,
    jacobian,
    jury_conditions,
    jury_conditions_2x2,
    periodic_points,
    solve_flow,
    spectral_radius,
    stable_by_conditions,
)


def test_logistic_map_fixed_points_and_stability_window():
    """x -> r x (1 - x): fixed points 0 and 1 - 1/r; the second is stable iff 1 < r < 3."""
    x, r = sp.symbols("x r", positive=True)
    an = analyze_map([x], [r * x * (1 - x)], params=[r])
    pts = sorted(an.fixed_points, key=lambda p: sp.count_ops(p[x]))
    assert pts[0][x] == 0
    assert sp.simplify(pts[1][x] - (1 - 1 / r)) == 0
    i = an.fixed_points.index(pts[1])
    (eig,) = an.eigenvalues[i]
    assert sp.simplify(eig - (2 - r)) == 0
    for rv, stable in [(0.5, False), (1.2, True), (2.9, True), (3.1, False), (4.0, False)]:
        assert an.is_stable(i, {r: rv}) is stable
    # x = 0 is stable iff r < 1
    j = an.fixed_points.index(pts[0])
    assert an.is_stable(j, {r: sp.Rational(1, 2)}) and not an.is_stable(j, {r: 2})


def test_logistic_two_cycle_appears_at_r_3():
    x, r = sp.symbols("x r")
    cyc = periodic_points([x], [r * x * (1 - x)], 2)
    assert len(cyc) == 2
    for p in cyc:  # real only for r > 3: x = (r + 1 +- sqrt((r-3)(r+1)))/(2r)
        assert sp.im(sp.N(p[x].subs(r, sp.Rational(7, 2)))) == 0
        assert sp.im(sp.N(p[x].subs(r, sp.Rational(5, 2)))) != 0


@pytest.mark.parametrize("seed", range(6))
def test_linear_2d_map_eigenvalues_match_numpy(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, 2))
    Ar = sp.Matrix(2, 2, [sp.Rational(float(a)).limit_denominator(10**8) for a in A.ravel()])
    x, y = sp.symbols("x y")
    an = analyze_map([x, y], list(Ar * sp.Matrix([x, y])))
    assert an.fixed_points == [{x: 0, y: 0}]
    key = lambda c: (round(c.real, 9), c.imag)  # noqa: E731
    sym = sorted((complex(sp.N(e)) for e, mult in an.eigenvalues[0].items() for _ in range(mult)), key=key)
    num = sorted(np.linalg.eigvals(np.array(Ar.tolist(), dtype=float)).astype(complex), key=key)
    np.testing.assert_allclose(np.array(sym, dtype=complex), np.array(num), rtol=1e-12, atol=1e-12)
    rho = max(abs(np.array(num)))
    assert an.is_stable(0, {}) == (rho < 1)
    assert spectral_radius(an.jacobians[0]) == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_jury_conditions_agree_with_numpy_spectral_radius(n):
    """General Jury/Schur conditions (bilinear map + Hurwitz) decide |lambda| < 1 exactly like numpy."""
    rng = np.random.default_rng(100 + n)
    agree = 0
    stable_seen = unstable_seen = 0
    for _ in range(20):
        A = rng.normal(size=(n, n)) * rng.uniform(0.2, 0.8)
        Ar = sp.Matrix(n, n, [sp.Rational(float(a)).limit_denominator(1000) for a in A.ravel()])
        conds = jury_conditions(characteristic_polynomial(Ar))
        rho = np.max(np.abs(np.linalg.eigvals(np.array(Ar.tolist(), dtype=float))))
        if abs(rho - 1) < 1e-9:
            continue
        st = stable_by_conditions(conds)
        agree += st == (rho < 1)
        stable_seen += rho < 1
        unstable_seen += rho > 1
        assert st == (rho < 1)
    assert stable_seen and unstable_seen


def test_jury_2x2_is_the_classical_triple_and_matches_general():
    T, D = sp.symbols("T D")
    J = sp.Matrix([[T, -D], [1, 0]])  # companion: charpoly lambda^2 - T lambda + D
    assert jury_conditions_2x2(J) == [1 - D, 1 - T + D, 1 + T + D]
    gen = jury_conditions(LAMBDA**2 - T * LAMBDA + D)
    assert sorted(map(sp.expand, gen), key=str) == sorted(map(sp.expand, [1 + T + D, 2 * (1 - D), 1 - T + D]), key=str)


def test_heavy_ball_threshold_from_jury():
    """A2-style check: r^2 - a r + b converges iff |b| < 1 and |a| < 1 + b; at b = b1, a = 1 + b1 - eta(1-b1)h."""
    b1, eta, h = sp.symbols("beta1 eta h", positive=True)
    a = 1 + b1 - eta * (1 - b1) * h
    conds = jury_conditions(LAMBDA**2 - a * LAMBDA + b1)
    # the binding condition p(-1) > 0 vanishes exactly at h = 2(1+b1)/(eta(1-b1))
    crit = sp.solve(sp.Eq(conds[0], 0), h)
    assert len(crit) == 1 and sp.simplify(crit[0] - 2 * (1 + b1) / (eta * (1 - b1))) == 0


def test_fixed_points_finds_every_branch_of_normalized_adam_map():
    """Branching solver: k = 4, b1 = 1/3, b2 = 1/16 has the trivial family, s = +-rho (rho = 1/2) and the s = -1 point."""
    u, w, z = sp.symbols("u w z")
    b1, b2 = sp.Rational(1, 3), sp.Rational(1, 16)
    s = 1 - u * w
    F = [b1 * u / s**3 + (1 - b1), w * s**2 / sp.sqrt(b2 + (1 - b2) * z * w**2 * s**6), z * s**2]
    pts = fixed_points([u, w, z], F)
    assert {u: 1, w: 0, z: z} in pts  # the family (1, 0, c)
    assert {u: sp.Rational(-2, 5), w: sp.Rational(-5, 4), z: 0} in pts  # s = +1/2 (u < 0: b1 > rho^3)
    assert {u: sp.Rational(2, 11), w: sp.Rational(33, 4), z: 0} in pts  # s = -1/2
    assert {u: sp.Rational(1, 2), w: 4, z: sp.Rational(1, 16)} in pts  # s = -1: the 2-cycle x -> -x
    assert len(pts) == 4
    for p in pts:
        assert all(sp.simplify(f.subs(p) - p[x]) == 0 for f, x in zip(F, [u, w, z]))


def test_flow_helpers_gradient_flow_power_law():
    """x' = -eta x^3 (k = 4): dsolve gives x = 1/sqrt(x0^-2 + 2 eta t), and checkodesol confirms it."""
    t = sp.Symbol("t", positive=True)
    eta, x0 = sp.symbols("eta x0", positive=True)
    X = sp.Function("x")
    sols = solve_flow(-eta * X(t) ** 3, X(t), t)
    sols = sols if isinstance(sols, list) else [sols]
    ode = sp.Eq(X(t).diff(t), -eta * X(t) ** 3)
    assert all(check_flow_solution(ode, s) for s in sols)
    expected = sp.Eq(X(t), 1 / sp.sqrt(x0**-2 + 2 * eta * t))
    assert check_flow_solution(ode, expected)


def test_analyze_flow_damped_oscillator():
    x, v = sp.symbols("x v")
    c, w2 = sp.symbols("c omega2", positive=True)
    an = analyze_flow([x, v], [v, -w2 * x - c * v])
    assert an.equilibria == [{x: 0, v: 0}]
    assert stable_by_conditions(an.hurwitz_conditions[0], {c: 1, w2: 2})
    assert not stable_by_conditions(an.hurwitz_conditions[0], {c: -1, w2: 2})


def test_helpers():
    x, a = sp.symbols("x a")
    assert jacobian([x], [a * x**2]) == sp.Matrix([[2 * a * x]])
    assert compose_map([x], [a * x], 3) == [a**3 * x]
    assert fixed_points([x], [x**2]) == [{x: 0}, {x: 1}]
    assert is_zero((x + 1) ** 2 - x**2 - 2 * x - 1)
    assert equal_at_points(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1, [{x: sp.Rational(1, 3)}, {x: 2}], tol=1e-40)
    assert hurwitz_conditions(LAMBDA**2 + 3 * LAMBDA + 2, LAMBDA) == [1, 3, 2]


@pytest.mark.parametrize(
    "call",
    [
        lambda: analyze_map(["x"], [1]),
        lambda: analyze_map([sp.Symbol("x")], [1, 2]),
        lambda: analyze_map([], []),
        lambda: jury_conditions_2x2(sp.eye(3)),
        lambda: jury_conditions(sp.Integer(3)),
        lambda: compose_map([sp.Symbol("x")], [sp.Symbol("x")], 0),
        lambda: periodic_points([sp.Symbol("x")], [sp.Symbol("x")], -1),
        lambda: stable_by_conditions([sp.Symbol("q")], {}),
        lambda: solve_flow(sp.Symbol("x"), sp.Symbol("x"), sp.Symbol("t")),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
