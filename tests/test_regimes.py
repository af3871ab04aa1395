"""Closed forms of math.md D3/D4/D10/D12 against direct numerical eigenvalues."""
import math

import numpy as np
import pytest

from dynsys import regimes as R


def adam_normalized_map(state, b1, b2, k):
    """The 3-D map of Eqs. 3-5 of the degenerate-polynomials paper (math.md D1), numpy."""
    u, w, z = state
    s = 1.0 - u * w
    return np.array([
        b1 * u / s ** (k - 1) + (1.0 - b1),
        w * s ** (k - 2) / np.sqrt(b2 + (1.0 - b2) * z * w * w * s ** (2 * k - 2)),
        z * s * s,
    ])


def numeric_jacobian(f, x, h=1e-7):
    n = len(x)
    J = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        J[:, j] = (f(x + e) - f(x - e)) / (2 * h)
    return J


@pytest.mark.parametrize("k", [4, 6, 8])
def test_fixed_point_is_fixed_and_block_jacobian_matches_numeric(k):
    rng = np.random.default_rng(k)
    checked = 0
    while checked < 40:
        b1, b2 = rng.uniform(0.0, 1.0, 2)
        if b1 >= R.existence_boundary_beta1(b2, k) * 0.98:
            continue
        rho, u, w = R.adam_fixed_point(b1, b2, k)
        x = np.array([u, w, 0.0])
        f = lambda st: adam_normalized_map(st, b1, b2, k)
        np.testing.assert_allclose(f(x), x, rtol=1e-12, atol=1e-12)
        J = numeric_jacobian(f, x)
        np.testing.assert_allclose(J[:2, :2], R.adam_fixed_point_jacobian(b1, b2, k), rtol=1e-5, atol=1e-6)
        assert abs(J[2, 2] - rho ** 2) < 1e-6 and abs(J[2, 0]) < 1e-9 and abs(J[2, 1]) < 1e-9
        assert np.isclose(np.linalg.det(J[:2, :2]), b1 / rho ** k, rtol=1e-5)  # det J = b1/rho^k
        checked += 1


@pytest.mark.parametrize("k", [4, 6, 10])
def test_predicted_regime_agrees_with_numeric_spectral_radius(k):
    """Regime I iff all eigenvalues of the full 3-D Jacobian lie inside the unit circle."""
    rng = np.random.default_rng(100 + k)
    n_stable = n_unstable = n_none = n_eq9 = n_p2_stable = 0
    for _ in range(600):
        # half the points in the lower-left corner where Eq. 9 binds
        if rng.uniform() < 0.5:
            b1, b2 = rng.uniform(0, 1, 2)
        else:
            b1, b2 = rng.uniform(0, 0.1), rng.uniform(0, 1.2 * R.period_doubling_beta2_max(k))
        if b2 <= 0:
            continue
        code = R.predicted_regime(b1, b2, k)
        if b1 >= R.existence_boundary_beta1(b2, k):
            assert code == R.OSCILLATING
            _, u, _ = R.adam_fixed_point(b1, b2, k)
            assert not (u > 0)  # no admissible fixed point (D3)
            n_none += 1
            continue
        rho, u, w = R.adam_fixed_point(b1, b2, k)
        J = numeric_jacobian(lambda st: adam_normalized_map(st, b1, b2, k), np.array([u, w, 0.0]))
        radius = np.max(np.abs(np.linalg.eigvals(J)))
        if abs(radius - 1) < 1e-4:
            continue  # too close to a boundary for finite differences
        if radius < 1:
            assert code == R.CONVERGING, (b1, b2, radius)
            n_stable += 1
        elif b1 < R.stability_boundary_beta1(b2, k):
            # unstable through Eq. 9 alone: the fixed point has period-doubled, and the cell is I iff the
            # period-2 orbit is stable (claim D19; finite differences of the 2-step map)
            _, _, u1, w1, _, _ = R.decoupled_period_two_orbit(b1, b2, k)
            J2 = numeric_jacobian(lambda st: adam_normalized_map(adam_normalized_map(st, b1, b2, k), b1, b2, k),
                                  np.array([u1, w1, 0.0]))
            radius2 = np.max(np.abs(np.linalg.eigvals(J2[:2, :2])))
            if abs(radius2 - 1) < 1e-4:
                continue
            assert code == (R.CONVERGING if radius2 < 1 else R.SPIKING), (b1, b2, radius2)
            n_eq9 += 1
            n_p2_stable += radius2 < 1
        else:
            assert code == R.SPIKING, (b1, b2, radius)
            n_unstable += 1
    assert n_stable > 30 and n_unstable > 30 and n_none > 30 and n_eq9 > 5 and 0 < n_p2_stable < n_eq9


@pytest.mark.parametrize("k", [4, 6])
def test_boundaries_are_where_jury_conditions_turn(k):
    b2 = np.linspace(0.001, 0.999, 200)
    b1s = R.stability_boundary_beta1(b2, k)
    # on the Eq. 8 boundary det J = b1/rho^k = 1
    rho = R.fixed_point_rate(b2, k)
    np.testing.assert_allclose(b1s / rho ** k, 1.0, rtol=1e-12)
    # on the Eq. 9 curve (where positive) the block Jacobian has an eigenvalue -1
    pd = R.period_doubling_boundary_beta1(b2, k)
    for b1, bb2 in zip(pd, b2):
        if b1 > 1e-6:
            ev = np.linalg.eigvals(R.adam_fixed_point_jacobian(b1, bb2, k))
            assert np.min(np.abs(ev + 1)) < 1e-8
            assert abs(R.period_doubling_residual(b1, bb2, k)) < 1e-12
    assert np.all((pd > 0) == (b2 < R.period_doubling_beta2_max(k)))
    # k = 4: Eq. 8 is b1 < b2, Eq. 9 binds below b2 = 1/16
    if k == 4:
        np.testing.assert_allclose(b1s, b2)
        assert R.period_doubling_beta2_max(4) == pytest.approx(1 / 16)


def test_regime_ordering_and_cells_either_side_of_boundaries():
    k = 4
    for b2 in [0.2, 0.5, 0.9, 0.99]:
        lo, hi = R.stability_boundary_beta1(b2, k), R.existence_boundary_beta1(b2, k)
        assert lo < hi
        assert R.predicted_regime(lo - 1e-9, b2, k) == 1
        assert R.predicted_regime(lo + 1e-9, b2, k) == 2
        assert R.predicted_regime(hi - 1e-9, b2, k) == 2
        assert R.predicted_regime(hi + 1e-9, b2, k) == 3
    grid = R.predicted_regime(np.linspace(0, 0.99, 5)[:, None], np.linspace(0.01, 0.99, 7)[None, :], 4)
    assert grid.shape == (5, 7) and grid.dtype == np.int8
    assert np.all(R.predicted_regime(np.linspace(0, 0.9, 4), 0.5, 2) == 2)  # k = 2: D14


@pytest.mark.parametrize("k", [4, 6, 8])
def test_on_the_stability_line_the_fixed_point_is_elliptic_and_predicted_stable(k):
    """Claim D17: on b1 = b2^{k/(2(k-2))} (Eq. 8 with equality) det J = 1 and, where Eq. 9 holds, the
    multipliers are a complex pair on the unit circle (an elliptic point of an area-preserving map):
    predicted I; a hair right of the line II. Below Eq. 9's root on the line (k = 4: beta2 <
    (2 - sqrt 3)^4) they are real, one below -1: a flip saddle, II."""
    for b2 in (0.2, 0.5, 0.9, 0.99):
        b1 = R.stability_boundary_beta1(b2, k)
        ev = np.linalg.eigvals(R.adam_fixed_point_jacobian(b1, b2, k))
        assert np.allclose(np.abs(ev), 1.0, atol=1e-9) and np.all(np.abs(ev.imag) > 1e-3), ev
        assert R.predicted_regime(b1, b2, k) == R.CONVERGING
        assert R.predicted_regime(b1 * (1 + 1e-12), b2, k) == R.SPIKING
    root = ((k - 2 * math.sqrt(k - 1)) / (k - 2)) ** (2 * (k - 2))  # rho = (k - 2 sqrt(k-1))/(k-2): tr J = -2
    if k == 4:
        assert root == pytest.approx((2 - math.sqrt(3)) ** 4)
    for b2, want in ((root * 0.8, R.SPIKING), (root * 1.25, R.CONVERGING)):
        b1 = R.stability_boundary_beta1(b2, k)
        ev = np.linalg.eigvals(R.adam_fixed_point_jacobian(b1, b2, k))
        assert np.prod(np.abs(ev)) == pytest.approx(1.0, abs=1e-6)
        assert (np.min(ev.real) < -1 and np.all(ev.imag == 0)) == (want == R.SPIKING), ev
        assert R.predicted_regime(b1, b2, k) == want


@pytest.mark.parametrize("k", [3, 4, 6, 12])
def test_sharpness_map_fixed_point_and_threshold(k):
    g_star = R.sharpness_critical_gamma(k)
    assert g_star == pytest.approx((k / (k - 2)) ** (k - 2))
    for gamma in np.linspace(1.05, g_star * 1.3, 25):
        s = R.sharpness_fixed_point(gamma, k)
        assert gamma * s * (1 - s) ** (k - 2) == pytest.approx(s, rel=1e-12)
        f = lambda x: gamma * x * (1 - x) ** (k - 2)
        numeric = (f(s + 1e-7) - f(s - 1e-7)) / 2e-7
        assert R.sharpness_multiplier(gamma, k) == pytest.approx(numeric, rel=1e-5, abs=1e-7)
        assert (abs(R.sharpness_multiplier(gamma, k)) < 1) == (gamma < g_star)
    assert R.sharpness_multiplier(g_star, k) == pytest.approx(-1.0)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="beta1"):
        R.predicted_regime(1.2, 0.5, 4)
    with pytest.raises(ValueError, match="beta2"):
        R.stability_boundary_beta1(1.0, 4)
    with pytest.raises(ValueError, match="k"):
        R.stability_boundary_beta1(0.5, 5)
    with pytest.raises(ValueError, match="gamma"):
        R.sharpness_fixed_point(-1.0, 4)
