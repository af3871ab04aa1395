"""Objectives: the compiled loss/gradient/Hessian against their sympy forms, and the facts of the papers.

* every objective: numba ``grad``/``hessian`` == sympy derivatives of ``symbolic()`` (1e-12 relative);
* LLAS toy (math.md F1): df/dx changes sign exactly on the level set f = 9; at y = 0 the
  Hessian eigenvalues are 100x + 400 and 0;
* quadratic: H = A, dense symmetric check; power: g = x^{k-1}, L'' = (k-1) x^{k-2};
* zipf data: seeded, reproducible, Zipf slope.
"""
import numpy as np
import pytest
import sympy as sp

from dynsys.objectives import OBJECTIVES, Objective, llas, make_objective, power, powerlaw_fit, quadratic, zipf_data


def _sym_derivs(obj):
    syms, L = obj.symbolic()
    g = [sp.diff(L, s) for s in syms]
    H = [[sp.diff(gi, s) for s in syms] for gi in g]
    fL = sp.lambdify(syms, L, "mpmath")
    fg = sp.lambdify(syms, g, "mpmath")
    fH = sp.lambdify(syms, H, "mpmath")
    return fL, fg, fH


OBJS = {
    "power4": lambda: power(4),
    "power2": lambda: power(2),
    "power8": lambda: power(8),
    "quad-diag": lambda: quadratic([3.0, 0.5, -1.0]),
    "quad-dense": lambda: quadratic(np.array([[2.0, 0.7], [0.7, -0.3]])),
    "llas": llas,
    "powerlaw": lambda: powerlaw_fit(n=32, seed=3),
}


@pytest.mark.parametrize("name", list(OBJS))
def test_compiled_derivatives_equal_sympy(name):
    import mpmath

    obj = OBJS[name]()
    fL, fg, fH = _sym_derivs(obj)
    rng = np.random.default_rng(0)
    for _ in range(10):
        x = rng.uniform(-2, 2, obj.dim)
        if obj.name == "powerlaw-fit":
            x = np.array([rng.uniform(0.01, 1.0), rng.uniform(-2.0, 0.0)])
        with mpmath.workdps(40):
            args = [mpmath.mpf(float(v)) for v in x]
            L = float(fL(*args))
            g = np.array([float(v) for v in fg(*args)], dtype=float)
            H = np.array([[float(v) for v in row] for row in fH(*args)], dtype=float)
        np.testing.assert_allclose(obj.loss(x), L, rtol=1e-12, atol=1e-12 * abs(L))
        np.testing.assert_allclose(obj.grad(x), g, rtol=1e-12, atol=1e-12 * np.abs(g).max())
        np.testing.assert_allclose(obj.hessian(x), H, rtol=1e-12, atol=1e-12 * np.abs(H).max())


def test_power_closed_forms():
    obj = power(6)
    assert obj.loss(1.5) == pytest.approx(1.5 ** 6 / 6, rel=1e-15)
    assert obj.grad(-1.5)[0] == pytest.approx(-(1.5 ** 5), rel=1e-15)
    assert obj.hessian(-1.5)[0, 0] == pytest.approx(5 * 1.5 ** 4, rel=1e-15)


def test_quadratic_hessian_is_A_and_diag_is_dense_diag():
    A = np.array([[2.0, 0.3], [0.3, 1.0]])
    q = quadratic(A)
    np.testing.assert_array_equal(q.hessian([0.4, -0.2]), A)
    x = np.array([0.4, -0.2])
    assert q.loss(x) == pytest.approx(0.5 * x @ A @ x, rel=1e-15)
    np.testing.assert_allclose(quadratic([2.0, 1.0]).A, np.diag([2.0, 1.0]))


def test_quadratic_rejects_asymmetric_and_bad_shapes():
    with pytest.raises(ValueError, match="A"):
        quadratic(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="A"):
        quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="A"):
        quadratic(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="A"):
        quadratic([1.0, np.nan])
    with pytest.raises(ValueError, match="A"):
        quadratic("abc")


def test_llas_gradient_sign_changes_on_level_set_9():
    """math.md F1: df/dx = 50 y^2 - 1 vanishes where y^2 = 1/50; there f = (50x+200)/50 - x + 5 = 9 for every x."""
    obj = llas()
    y0 = np.sqrt(1 / 50)
    for x in np.linspace(-3.5, 3, 9):
        assert obj.loss([x, y0]) == pytest.approx(9.0, rel=1e-13)
        assert obj.grad([x, y0 * 0.999])[0] < 0 < obj.grad([x, y0 * 1.001])[0]


def test_llas_hessian_eigenvalues_at_y0():
    obj = llas()
    for x in (-2.0, 0.5, 3.0):
        ev = np.sort(np.linalg.eigvalsh(obj.hessian([x, 0.0])))
        np.testing.assert_allclose(ev, [0.0, 100 * x + 400], atol=1e-12)


def test_zipf_data_is_seeded_and_has_zipf_slope():
    x1, y1 = zipf_data(n=200, alpha=1.2, noise=0.0, seed=5)
    x2, y2 = zipf_data(n=200, alpha=1.2, noise=0.0, seed=5)
    np.testing.assert_array_equal(y1, y2)
    slope = np.polyfit(np.log(x1), np.log(y1), 1)[0]
    assert slope == pytest.approx(-1.2, rel=1e-12)
    assert y1.sum() == pytest.approx(1.0, rel=1e-12)
    _, y3 = zipf_data(n=200, alpha=1.2, noise=0.1, seed=6)
    _, y4 = zipf_data(n=200, alpha=1.2, noise=0.1, seed=7)
    assert not np.array_equal(y3, y4)


def test_powerlaw_fit_minimum_is_the_generating_law_without_noise():
    """With noise = 0 the data are exactly C x^-alpha: the loss and gradient vanish at (1/H, -alpha)."""
    x, y = zipf_data(n=50, alpha=0.9, noise=0.0)
    obj = powerlaw_fit(x, y)
    C = y[0]  # x_1 = 1
    assert obj.loss([C, -0.9]) < 1e-30
    np.testing.assert_allclose(obj.grad([C, -0.9]), 0.0, atol=1e-16)
    assert np.all(np.linalg.eigvalsh(obj.hessian([C, -0.9])) > 0)


def test_powerlaw_fit_validation():
    with pytest.raises(ValueError, match="x"):
        powerlaw_fit([1.0, -2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="y"):
        powerlaw_fit([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="x and y"):
        powerlaw_fit([1.0, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        powerlaw_fit(alpha=-1.0)
    with pytest.raises(ValueError, match="seed"):
        zipf_data(seed=-1)


def test_make_objective_and_attrs():
    for name in OBJECTIVES:
        kw = {"power": {"k": 4}, "quadratic": {"A": [1.0, 2.0]}, "llas": {}, "powerlaw-fit": {"n": 8}}[name]
        obj = make_objective(name, **kw)
        assert isinstance(obj, Objective) and obj.name == name
        attrs = obj.attrs()
        assert attrs["objective"] == name
        for v in attrs.values():
            assert isinstance(v, (int, float, str, np.ndarray)) and not isinstance(v, bool)
            if isinstance(v, np.ndarray):
                assert v.ndim == 1
    with pytest.raises(ValueError, match="k"):
        make_objective("power", k=3)
    with pytest.raises(ValueError, match="name"):
        make_objective("rosenbrock")
    with pytest.raises(ValueError, match="q"):
        make_objective("llas", q=1)


@pytest.mark.parametrize("bad", [1, 3, 0, -2, 2.5, True, "4", None, float("nan")])
def test_power_rejects_bad_k(bad):
    with pytest.raises(ValueError, match="k"):
        power(bad)


def test_point_validation_names_x():
    with pytest.raises(ValueError, match="x"):
        llas().loss([1.0])
    with pytest.raises(ValueError, match="x"):
        power(4).grad(np.inf)
    with pytest.raises(ValueError, match="x"):
        power(4).hessian("a")
