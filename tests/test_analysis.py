"""dynsys.analysis: each diagnostic against its definition and its known properties."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import aslinearoperator

from dynsys.analysis import (
    condensed_variance,
    directional_sharpness,
    gradient_directional_curvature,
    low_frequency_proportion,
    preconditioned_hessian,
    preconditioned_sharpness,
)


def _sym(rng, n, spd=False):
    a = rng.normal(size=(n, n))
    h = a @ a.T if spd else 0.5 * (a + a.T)
    return h


# ---- lambda_grad (A6) -------------------------------------------------------------
def test_lambda_grad_is_rayleigh_quotient_between_extreme_eigenvalues():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 8))
        h = _sym(rng, n)
        g = rng.normal(size=n)
        lam = np.linalg.eigvalsh(h)
        lg = gradient_directional_curvature(h, g)
        assert lam[0] - 1e-12 <= lg <= lam[-1] + 1e-12
    # along an eigenvector it equals the eigenvalue
    h = np.diag([5.0, 2.0, -1.0])
    assert gradient_directional_curvature(h, [0.0, 3.0, 0.0]) == pytest.approx(2.0)
    assert gradient_directional_curvature(h, [1.0, 1.0, 1.0]) == pytest.approx(2.0)


def test_lambda_grad_accepts_operators():
    rng = np.random.default_rng(1)
    h = _sym(rng, 5)
    g = rng.normal(size=5)
    ref = gradient_directional_curvature(h, g)
    assert gradient_directional_curvature(lambda v: h @ v, g) == pytest.approx(ref, rel=1e-14)
    assert gradient_directional_curvature(aslinearoperator(h), g) == pytest.approx(ref, rel=1e-14)


def test_lambda_grad_one_gd_step_rises_iff_above_two_over_eta():
    """Exact for a quadratic: L(x - eta g) - L(x) = eta |g|^2 (eta lambda_grad / 2 - 1)."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        h = _sym(rng, 4, spd=True)
        x = rng.normal(size=4)
        g = h @ x
        lg = gradient_directional_curvature(h, g)
        for eta in (0.9 * 2 / lg, 1.1 * 2 / lg):
            y = x - eta * g
            rises = 0.5 * y @ h @ y > 0.5 * x @ h @ x
            assert rises == (lg > 2 / eta)


# ---- Eq. 7 and Lemma B.1 (A3, A1) ------------------------------------------------
def test_preconditioned_hessian_matches_eq7_and_symmetric_form_has_same_spectrum():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 7))
        h = _sym(rng, n)  # indefinite allowed
        vhat = rng.uniform(1e-4, 2.0, n)
        b1, t, eps = 0.9, int(rng.integers(1, 50)), 1e-8
        hh = preconditioned_hessian(h, vhat, b1, t, eps)
        c = 1 / (1 - b1**t) * (1 - b1) / (1 + b1)
        np.testing.assert_allclose(hh, c * np.diag(1 / (np.sqrt(vhat) + eps)) @ h, rtol=1e-13, atol=1e-13)
        hs = preconditioned_hessian(h, vhat, b1, t, eps, symmetric=True)
        assert np.array_equal(hs, hs.T)
        ev_general = np.sort(np.linalg.eigvals(hh).real)
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(hs)), ev_general, rtol=1e-9, atol=1e-9 * np.abs(ev_general).max())
        assert np.max(np.abs(np.linalg.eigvals(hh).imag)) < 1e-8 * max(1.0, np.abs(ev_general).max())
        assert preconditioned_sharpness(h, vhat, b1, t, eps) == pytest.approx(ev_general[-1], rel=1e-9, abs=1e-12)


def test_preconditioned_hessian_bias_correction_and_limits():
    h = np.array([[2.0]])
    # b1 = 0, eps = 0: plain diag(1/sqrt(v)) H
    assert preconditioned_hessian(h, [4.0], 0.0, 1, 0.0)[0, 0] == pytest.approx(1.0)
    # t = 1 with b1 = 0.9: 1/(1-0.9) * 0.1/1.9 = 1/1.9
    assert preconditioned_hessian(h, [1.0], 0.9, 1, 0.0)[0, 0] == pytest.approx(2 / 1.9)
    # t = None: no bias correction, (1-b1)/(1+b1)
    assert preconditioned_hessian(h, [1.0], 0.9, None, 0.0)[0, 0] == pytest.approx(2 * 0.1 / 1.9)


@pytest.mark.parametrize(
    "args",
    [
        (np.array([[1.0, 2.0], [0.0, 1.0]]), [1.0, 1.0], 0.9, 1, 1e-8),  # not symmetric
        (np.eye(2), [1.0], 0.9, 1, 1e-8),  # wrong vhat size
        (np.eye(2), [1.0, -1.0], 0.9, 1, 1e-8),  # negative vhat
        (np.eye(2), [1.0, 1.0], 1.0, 1, 1e-8),  # b1 = 1
        (np.eye(2), [1.0, 1.0], -0.1, 1, 1e-8),
        (np.eye(2), [1.0, 1.0], 0.9, 0, 1e-8),  # t = 0
        (np.eye(2), [1.0, 1.0], 0.9, 1.5, 1e-8),
        (np.eye(2), [1.0, 1.0], 0.9, 1, -1e-8),  # eps < 0
        (np.eye(2), [0.0, 1.0], 0.9, 1, 0.0),  # 0/0
        (np.eye(2), [math.nan, 1.0], 0.9, 1, 0.0),
    ],
)
def test_preconditioned_hessian_rejects_bad_input(args):
    with pytest.raises(ValueError):
        preconditioned_hessian(*args)


# ---- directional sharpness (C2) --------------------------------------------------
def test_directional_sharpness_gives_exact_critical_rate_on_quadratics():
    rng = np.random.default_rng(4)
    for _ in range(50):
        h = _sym(rng, 5, spd=True)
        x = rng.normal(size=5)
        g = h @ x
        p = rng.uniform(0.1, 3.0, 5)
        for d in (g, g / p):
            s = directional_sharpness(h, d, g)
            eta_c = 2 / s
            loss = lambda y: 0.5 * y @ h @ y  # noqa: E731
            assert loss(x - 0.999 * eta_c * d) <= loss(x) < loss(x - 1.001 * eta_c * d)
        # GD: S_dir = lambda_grad <= lambda_max; preconditioned: <= lambda_max(P^-1 H)
        assert directional_sharpness(h, g, g) == pytest.approx(gradient_directional_curvature(h, g))
        assert directional_sharpness(h, g, g) <= np.linalg.eigvalsh(h)[-1] + 1e-12
        assert directional_sharpness(h, g / p, g) <= np.linalg.eigvals(np.diag(1 / p) @ h).real.max() + 1e-9


def test_directional_sharpness_rejects_orthogonal_direction():
    with pytest.raises(ValueError, match="d . g = 0"):
        directional_sharpness(np.eye(2), [1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        directional_sharpness(np.eye(2), [1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        gradient_directional_curvature(np.eye(2), [0.0, 0.0])
    with pytest.raises(ValueError):
        gradient_directional_curvature(np.eye(3), [1.0, 0.0])


# ---- LFP (F2) ---------------------------------------------------------------------
def test_lfp_of_pure_sines_and_of_a_mixture():
    x = np.arange(128) / 128
    low, high = np.sin(2 * np.pi * 1 * x), np.sin(2 * np.pi * 20 * x)
    assert low_frequency_proportion(low, 2) == pytest.approx(1.0, abs=1e-12)
    assert low_frequency_proportion(high, 2) == pytest.approx(0.0, abs=1e-12)
    assert low_frequency_proportion(low, 0) == pytest.approx(0.0, abs=1e-12)
    # power fractions: amplitudes a, b -> a^2/(a^2+b^2)
    mix = 3.0 * low + 1.0 * np.cos(2 * np.pi * 10 * x)
    assert low_frequency_proportion(mix, 2) == pytest.approx(9 / 10, rel=1e-12)
    assert low_frequency_proportion(mix, 10) == pytest.approx(1.0, rel=1e-12)
    # a column of outputs (n, 1) is accepted; other 2-D shapes are not
    assert low_frequency_proportion(mix[:, None], 2) == pytest.approx(9 / 10, rel=1e-12)
    with pytest.raises(ValueError):
        low_frequency_proportion(np.stack([mix, mix], axis=1), 2)
    # a constant is all k = 0
    assert low_frequency_proportion(np.full(16, 2.0), 0) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=64).filter(lambda v: any(abs(a) > 1e-6 for a in v)))
def test_lfp_is_a_monotone_proportion(values):
    lf = [low_frequency_proportion(values, k) for k in range(len(values) // 2 + 2)]
    assert all(0.0 <= a <= 1.0 for a in lf)
    assert all(b >= a - 1e-12 for a, b in zip(lf, lf[1:]))
    assert lf[-1] == pytest.approx(1.0)


def test_lfp_rejects_bad_input():
    for bad in ([1.0], [0.0, 0.0], [1.0, math.inf], [[1.0, 2.0]]):
        with pytest.raises(ValueError):
            low_frequency_proportion(bad, 1)
    for k in (-1, 1.5, "2"):
        with pytest.raises(ValueError):
            low_frequency_proportion([1.0, 2.0], k)


# ---- condensed variance (F2) -----------------------------------------------------
def test_condensed_variance_zero_for_aligned_neurons():
    rng = np.random.default_rng(5)
    direction = np.array([np.cos(0.7), np.sin(0.7)])
    scales = rng.uniform(0.1, 5, 20) * rng.choice([-1.0, 1.0], 20)  # antiparallel: same orientation
    assert condensed_variance(scales[:, None] * direction) == pytest.approx(0.0, abs=1e-24)


def test_condensed_variance_by_hand():
    # two neurons at +-alpha with equal magnitude: theta_bar = 0, V = alpha^2
    a = 0.3
    w = np.array([[np.cos(a), np.sin(a)], [np.cos(-a), np.sin(-a)]])
    assert condensed_variance(w) == pytest.approx(a**2)
    # weighted: angles 0 and pi/4, magnitudes 3 and 1
    w = np.array([[3.0, 0.0], [1 / np.sqrt(2), 1 / np.sqrt(2)]])
    tb = math.atan2(np.sin(np.pi / 4) / 4, 3 / 4 + np.cos(np.pi / 4) / 4)
    assert condensed_variance(w) == pytest.approx((3 * tb**2 + (np.pi / 4 - tb) ** 2) / 4)
    # magnitudes override r_i; scaling all magnitudes leaves V unchanged
    assert condensed_variance(w, magnitudes=[1.0, 1.0]) == pytest.approx((np.pi / 8) ** 2)
    assert condensed_variance(w, magnitudes=[7.0, 7.0]) == pytest.approx((np.pi / 8) ** 2)
    # w = 0: vertical orientation
    assert condensed_variance([[0.0, 2.0], [0.0, -1.0]]) == pytest.approx(0.0)


def test_condensed_variance_rejects_bad_input():
    for bad in ([[1.0, 2.0, 3.0]], [1.0, 2.0], [[0.0, 0.0]], [[math.nan, 1.0]]):
        with pytest.raises(ValueError):
            condensed_variance(bad)
    with pytest.raises(ValueError):
        condensed_variance([[1.0, 0.0]], magnitudes=[-1.0])
    with pytest.raises(ValueError):
        condensed_variance([[1.0, 0.0]], magnitudes=[1.0, 2.0])


# ---- hostile input: only ValueError comes out ------------------------------------
_hostile = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4),
    st.lists(st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=3), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(a=_hostile, b=_hostile, c=_hostile)
def test_hostile_arguments_raise_only_value_error(a, b, c):
    calls = [
        lambda: gradient_directional_curvature(a, b),
        lambda: directional_sharpness(a, b, c),
        lambda: preconditioned_hessian(a, b, c, 1, 0.0),
        lambda: preconditioned_hessian(np.eye(2), [1.0, 1.0], a, b, c),
        lambda: low_frequency_proportion(a, b),
        lambda: condensed_variance(a, b),
    ]
    for call in calls:
        try:
            out = call()
        except ValueError:
            continue
        assert np.all(np.isfinite(out))
