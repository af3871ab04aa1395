"""Claim D19: past Eq. 9 the fixed point period-doubles into a closed-form period-2 orbit on which Adam converges."""
import numpy as np
import pytest

from dynsys.regimes import (CONVERGING, SPIKING, decoupled_period_two_orbit, period_doubling_boundary_beta1,
                            period_doubling_residual, period_two_spectral_radius, period_two_stability_boundary_beta1,
                            predicted_regime, stability_boundary_beta1)
from tests._claims import assert_claim_holds


@pytest.mark.parametrize("k", [4, 6, 8])
def test_orbit_exists_exactly_where_eq9_fails_and_closes(k):
    from dynsys.systems import get_system

    rng = np.random.default_rng(k)
    top = ((k - 2) / k) ** (2 * (k - 2))
    b2 = rng.uniform(0.05, 0.999, 400) * top
    b1 = rng.uniform(0.0, 1.0, 400) * np.minimum(stability_boundary_beta1(b2, k), 2 * period_doubling_boundary_beta1(b2, k))
    s1, s2, u1, w1, u2, w2 = decoupled_period_two_orbit(b1, b2, k)
    fails = period_doubling_residual(b1, b2, k) < 0
    assert np.array_equal(np.isfinite(s1), fails)
    assert fails.sum() > 50 and (~fails).sum() > 50
    rho2 = b2 ** (1.0 / (k - 2))
    np.testing.assert_allclose((s1 * s2)[fails], rho2[fails], rtol=1e-13)
    system = get_system("adam-normalized")
    for i in np.flatnonzero(fails)[:20]:
        traj, _ = system.iterate(np.array([u1[i], w1[i], 0.0]), system.params_array(beta1=b1[i], beta2=b2[i], k=k), 2)
        np.testing.assert_allclose(traj[1, :2], [u2[i], w2[i]], rtol=1e-11)
        np.testing.assert_allclose(traj[2, :2], [u1[i], w1[i]], rtol=1e-11)


def test_wrong_root_does_not_close():
    """The check above can fail: a 2-cycle guessed with sigma off by 1e-6 does not close."""
    k, b1, b2 = 4, 0.006, 0.03
    rho = b2 ** 0.25
    q = b1 / rho ** 3
    sigma = (1 + rho * q) / (rho + q) * (1 + 1e-6)
    t = 0.5 * (sigma + np.sqrt(sigma ** 2 - 4))
    s1, s2 = rho * t, rho / t
    a1, a2 = b1 / s1 ** 3, b1 / s2 ** 3
    u1, u2 = (1 - b1) * (1 + a2) / (1 - a1 * a2), (1 - b1) * (1 + a1) / (1 - a1 * a2)
    w1 = (1 - s1) / u1
    w_next = w1 * (1 - u1 * w1) ** 2 / rho ** 2
    assert abs(w_next * u2 - (1 - s2)) > 1e-8
    sigma0 = sigma / (1 + 1e-6)  # k = 4: the exact root is sigma = (1 + rho q)/(rho + q)
    assert decoupled_period_two_orbit(b1, b2, k)[0] == pytest.approx(rho * 0.5 * (sigma0 + np.sqrt(sigma0 ** 2 - 4)), rel=1e-14)


@pytest.mark.parametrize("k", [4, 6, 8])
def test_rmsprop_limit_is_the_sharpness_map_two_cycle(k):
    """At beta1 = 0 the multiplier is that of the 2-cycle of s -> gamma s (1-s)^{k-2}, gamma = 1/sqrt(b2) (D10)."""
    for frac in (0.7, 0.9, 0.99):
        b2 = frac * ((k - 2) / k) ** (2 * (k - 2))
        gam = b2 ** -0.5
        f = lambda y: gam * y * (1 - y) ** (k - 2)  # noqa: E731
        df = lambda y: gam * ((1 - y) ** (k - 2) - (k - 2) * y * (1 - y) ** (k - 3))  # noqa: E731
        s1, s2, _, w1, _, w2 = decoupled_period_two_orbit(0.0, b2, k)
        assert f(w1) == pytest.approx(w2, rel=1e-12) and f(w2) == pytest.approx(w1, rel=1e-12)
        assert period_two_spectral_radius(0.0, b2, k) == pytest.approx(abs(df(w1) * df(w2)), rel=1e-10)


@pytest.mark.parametrize("k, b1, b2", [(4, 0.006, 0.03), (4, 0.001, 0.03), (6, 0.004, 0.02), (8, 0.002, 0.015)])
def test_multipliers_against_finite_differences(k, b1, b2):
    """Spectral radius vs the eigenvalues of a central-difference Jacobian of F(F(.)) of the toolkit's normalized
    system (z = 0); their product is (b1/rho^k)^2 (D16)."""
    from dynsys.systems import get_system

    system = get_system("adam-normalized")
    params = system.params_array(beta1=b1, beta2=b2, k=k)
    _, _, u1, w1, _, _ = decoupled_period_two_orbit(b1, b2, k)
    p0 = np.array([u1, w1])

    def f2(p):
        return system.iterate(np.array([p[0], p[1], 0.0]), params, 2)[0][2, :2]

    jac = np.empty((2, 2))
    for j in range(2):
        h = 1e-6 * p0[j]
        e = np.zeros(2)
        e[j] = h
        jac[:, j] = (f2(p0 + e) - f2(p0 - e)) / (2 * h)
    rho = b2 ** (1 / (2 * (k - 2)))
    assert np.linalg.det(jac) == pytest.approx((b1 / rho ** k) ** 2, rel=1e-5)
    assert period_two_spectral_radius(b1, b2, k) == pytest.approx(np.abs(np.linalg.eigvals(jac)).max(), rel=1e-5)


@pytest.mark.parametrize("k, b1, b2", [(4, 0.006, 0.03), (6, 0.007, 0.01), (6, 0.004, 0.02)])
def test_adam_settles_on_the_predicted_two_cycle(k, b1, b2):
    """Adam itself (lr = 0.01, x0 = 1): x_{t+1}/x_t alternates between rho t and rho/t, the loss falls
    k/(2(k-2)) log10 b2 decades per step (D5's rate), and the cell is predicted I (it was II)."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    assert period_doubling_residual(b1, b2, k) < 0 < stability_boundary_beta1(b2, k) - b1
    assert period_two_spectral_radius(b1, b2, k) < 1
    assert predicted_regime(b1, b2, k) == CONVERGING
    ds = trajectory(adam(0.01, b1, b2, eps=0.0, bias_correction=False), power(k), [1.0], 1200)
    s = 10 ** np.diff(ds.log10_abs_x.values)
    s1, s2 = decoupled_period_two_orbit(b1, b2, k)[:2]
    pair = sorted(s[-2:])
    np.testing.assert_allclose(pair, sorted([s1, s2]), rtol=1e-6)
    slope = (ds.log10_loss.values[-1] - ds.log10_loss.values[-201]) / 200
    assert slope == pytest.approx(k * np.log10(b2) / (2 * (k - 2)), rel=1e-6)


@pytest.mark.parametrize("k", [4, 6, 8])
def test_second_flip_boundary(k):
    """Below period_two_stability_boundary_beta1 the orbit is unstable (II), above it stable (I); radius 1 on it."""
    top = ((k - 2) / k) ** (2 * (k - 2))
    b2 = np.linspace(0.1, 0.6, 6) * top
    edge = period_two_stability_boundary_beta1(b2, k)
    assert np.isfinite(edge).sum() >= 3
    for bb2, e in zip(b2, edge):
        if not np.isfinite(e):
            continue
        assert period_two_spectral_radius(e, bb2, k) == pytest.approx(1.0, abs=1e-9)
        assert period_two_spectral_radius(e * 0.98, bb2, k) > 1 and predicted_regime(e * 0.98, bb2, k) == SPIKING
        assert period_two_spectral_radius(e * 1.02, bb2, k) < 1 and predicted_regime(e * 1.02, bb2, k) == CONVERGING


def test_right_of_eq8_the_orbit_is_never_stable():
    k = 4
    b2 = np.linspace(0.0002, 0.004, 20)
    b1 = np.minimum(1.5 * b2, 0.999 * period_doubling_boundary_beta1(b2, k))
    sel = b1 > b2
    assert sel.any()
    assert np.all(period_two_spectral_radius(b1[sel], b2[sel], k) > 1)
    assert np.all(predicted_regime(b1[sel], b2[sel], k) == SPIKING)


def test_bad_arguments():
    with pytest.raises(ValueError, match="beta2"):
        decoupled_period_two_orbit(0.1, 1.0, 4)
    with pytest.raises(ValueError, match="beta1"):
        period_two_spectral_radius(-0.1, 0.5, 4)
    with pytest.raises(ValueError, match="k"):
        period_two_stability_boundary_beta1(0.01, 5)
    with pytest.raises(ValueError, match="samples"):
        period_two_stability_boundary_beta1(0.01, 4, samples=2)


def test_claim_d19():
    assert_claim_holds("D19")


@pytest.mark.parametrize("k, b1, b2, code", [(4, 0.006, 0.03, 2), (4, 0.003, 0.03, 4), (4, 0.001, 0.03, 0),
                                             (6, 0.002, 0.01, 0), (4, 0.0045, 0.0118, -1)])
def test_decoupled_attractor_and_what_adam_does_there(k, b1, b2, code):
    """Past Eq. 9: where the decoupled map keeps an attractor (period 2, 4, or chaotic) Adam from x0 = 1 converges at
    D5's rate k/(2(k-2)) log10 b2 decades per step; where it escapes the loss comes back to the SignGD scale."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.regimes import decoupled_attractor
    from dynsys.simulate import trajectory

    assert decoupled_attractor(b1, b2, k) == code
    ds = trajectory(adam(0.01, b1, b2, eps=0.0, bias_correction=False), power(k), [1.0], 2000)
    loss = ds.log10_loss.values
    slope = (loss[-1] - loss[-401]) / 400
    if code >= 0:
        # on a periodic orbit exactly; on a chaotic one up to ln(w_n/w_0)/((k-2) 400) over a 400-step window
        assert slope == pytest.approx(k * np.log10(b2) / (2 * (k - 2)), rel=1e-9 if code > 0 else 5e-3)
        assert loss[300:].max() < -300
    else:
        assert loss[-400:].max() > -20  # back near lr^k/k = 1e-8.6: a spike
        assert period_two_spectral_radius(b1, b2, k) > 1


def test_decoupled_attractor_vectorized_and_bad_arguments():
    from dynsys.regimes import NO_PERIOD_TWO_ORBIT, decoupled_attractor

    b1 = np.array([[0.006, 0.003], [0.3, 0.0045]])
    b2 = np.array([[0.03, 0.03], [0.5, 0.0118]])
    np.testing.assert_array_equal(decoupled_attractor(b1, b2, 4), [[2, 4], [NO_PERIOD_TWO_ORBIT, -1]])
    with pytest.raises(ValueError, match="max_period"):
        decoupled_attractor(0.006, 0.03, 4, max_period=3)
    with pytest.raises(ValueError, match="steps"):
        decoupled_attractor(0.006, 0.03, 4, steps=0)
    with pytest.raises(ValueError, match="beta2"):
        decoupled_attractor(0.006, 0.0, 4)
