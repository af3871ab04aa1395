"""The compiled maps and their sympy definitions are the same maps."""
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from dynsys.systems import SYSTEMS, MapSystem, get_system, map_system

RNG = np.random.default_rng(20261123)


def _random_point(name, rng):
    """A random state inside the domain and random valid parameters."""
    sys_ = get_system(name)
    if name == "sharpness":
        state = {"s": rng.uniform(0.01, 1.99)}
        params = {"gamma": rng.uniform(0.5, 8.0), "k": int(rng.integers(3, 9))}
    elif name == "adam-normalized":
        state = {"u": rng.uniform(0.2, 1.8), "w": rng.uniform(0.0, 0.9), "z": rng.uniform(0.0, 50.0)}
        params = {"beta1": rng.uniform(0, 0.99), "beta2": rng.uniform(0.01, 0.999), "k": int(2 * rng.integers(1, 5))}
    elif name == "gd-power":
        state = {"x": rng.uniform(-2, 2)}
        params = {"lr": rng.uniform(1e-3, 1.0), "k": int(2 * rng.integers(1, 5))}
    elif name == "gd-exp-power":
        state = {"x": rng.uniform(-2, 2), "eta": rng.uniform(1e-3, 1.0)}
        params = {"gamma": rng.uniform(0.5, 2.0), "k": int(2 * rng.integers(1, 5))}
    elif name == "rmsprop-power":
        state = {"x": rng.uniform(-2, 2), "v": rng.uniform(0, 3)}
        params = {"lr": rng.uniform(1e-4, 0.1), "beta2": rng.uniform(0, 0.999), "k": int(2 * rng.integers(1, 5))}
    elif name == "adam-power":
        state = {"x": rng.uniform(-2, 2), "m": rng.uniform(-1, 1), "v": rng.uniform(0, 3)}
        params = {"lr": rng.uniform(1e-4, 0.1), "beta1": rng.uniform(0, 0.99), "beta2": rng.uniform(0, 0.999),
                  "k": int(2 * rng.integers(1, 5))}
    elif name == "llas-gd":
        state = {"x": rng.uniform(-3.5, 3), "y": rng.uniform(-1, 1)}
        params = {"lr": rng.uniform(1e-4, 1e-2)}
    else:  # pragma: no cover - a new system needs a sampler here
        raise AssertionError(f"no sampler for {name}")
    return sys_.default_state(**state), sys_.params_array(**params)


@pytest.mark.parametrize("name", SYSTEMS)
def test_compiled_equals_symbolic_at_random_states(name):
    """Step and Jacobian kernels agree with the sympy definition (40-digit evaluation) to 1e-12 relative."""
    system = get_system(name)
    out = np.empty(system.dim)
    jac = np.empty((system.dim, system.dim))
    for _ in range(12):
        state, params = _random_point(name, RNG)
        system.step(state, params, out)
        system.jacobian(state, params, jac)
        ref_step, ref_jac = system.evaluate_symbolic(state, params)
        scale = max(np.max(np.abs(ref_step)), 1e-300)
        np.testing.assert_allclose(out, ref_step, rtol=1e-12, atol=1e-12 * scale)
        jscale = max(np.max(np.abs(ref_jac)), 1e-300)
        np.testing.assert_allclose(jac, ref_jac, rtol=1e-12, atol=1e-12 * jscale)


def test_jacobian_kernel_matches_finite_differences_of_step_kernel():
    """The generated Jacobian is the derivative of the generated step (central differences, adam-normalized)."""
    system = get_system("adam-normalized")
    state, params = system.default_state(u=0.9, w=0.2, z=3.0), system.params_array(beta1=0.5, beta2=0.8, k=6)
    jac = np.empty((3, 3))
    system.jacobian(state, params, jac)
    fd = np.empty((3, 3))
    a, b = np.empty(3), np.empty(3)
    for j in range(3):
        h = 1e-6 * max(1.0, abs(state[j]))
        sp_, sm = state.copy(), state.copy()
        sp_[j] += h
        sm[j] -= h
        system.step(sp_, params, a)
        system.step(sm, params, b)
        fd[:, j] = (a - b) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


def test_symbolic_definition_of_sharpness_map_and_k_substitution():
    system = get_system("sharpness")
    (s,), (gamma, k), (expr,) = system.symbolic()
    assert sp.simplify(expr - gamma * s * (1 - s) ** (k - 2)) == 0
    (s,), params, (expr3,) = system.symbolic(k=3)
    assert [p.name for p in params] == ["gamma"]
    assert sp.expand(expr3 - gamma * s * (1 - s)) == 0  # k = 3: the logistic map


def test_adam_raw_and_normalized_maps_agree_step_for_step():
    """D1: iterating the normalized (u, w, z) map reproduces raw Adam (eps = 0, no bias correction)."""
    raw = get_system("adam-power")
    nrm = get_system("adam-normalized")
    for k, b1, b2, lr, x0 in [(4, 0.9, 0.999, 1e-2, 1.0), (6, 0.5, 0.9, 3e-2, -0.7), (2, 0.3, 0.95, 1e-2, 0.4)]:
        steps = 200
        traj, n = raw.iterate(raw.default_state(x=x0), raw.params_array(lr=lr, beta1=b1, beta2=b2, k=k), steps)
        assert n == steps
        x, m_prev, v_prev = traj[:, 0], traj[:, 1], traj[:, 2]
        g = x ** (k - 1)
        m = b1 * m_prev + (1 - b1) * g  # moments including the current gradient
        v = b2 * v_prev + (1 - b2) * g**2
        u, w, z = m / g, lr * x ** (k - 2) / np.sqrt(v), x**2 / lr**2
        ntraj, nn = nrm.iterate(np.array([u[0], w[0], z[0]]), nrm.params_array(beta1=b1, beta2=b2, k=k), steps)
        assert nn == steps
        np.testing.assert_allclose(ntraj[:, 0], u, rtol=1e-9)
        np.testing.assert_allclose(ntraj[:, 1], w, rtol=1e-9)
        np.testing.assert_allclose(ntraj[:, 2], z, rtol=1e-9)
        # x_{t+1} = s_t x_t with s_t = 1 - u_t w_t (Eq. 4)
        np.testing.assert_allclose(x[1:], (1 - u[:-1] * w[:-1]) * x[:-1], rtol=1e-12)


def test_sharpness_map_converges_below_and_period_doubles_above_threshold():
    """D10: fixed point 1 - s* = gamma^(-1/(k-2)) attracts iff gamma < (k/(k-2))^(k-2) (4 for k = 4)."""
    system = get_system("sharpness")
    gamma = 3.9
    traj, n = system.iterate(system.default_state(s=0.3), system.params_array(gamma=gamma, k=4), 4000)
    assert n == 4000
    assert traj[-1, 0] == pytest.approx(1 - gamma ** -0.5, rel=1e-9)
    traj, n = system.iterate(system.default_state(s=0.3), system.params_array(gamma=4.1, k=4), 4000)
    assert n == 4000
    tail = traj[-200:, 0]
    assert abs(tail[-1] - tail[-2]) > 1e-3 and tail[-1] == pytest.approx(tail[-3], rel=1e-8)  # a 2-cycle


def test_escape_is_reported_and_rows_after_it_are_nan():
    system = get_system("sharpness")
    traj, n = system.iterate(system.default_state(s=0.5), system.params_array(gamma=20.0, k=4), 100)
    assert 0 < n < 100
    assert not system.in_domain(traj[n], system.params_array(gamma=20.0, k=4))
    assert np.all(np.isnan(traj[n + 1:]))


def test_in_domain_rejects_nan_and_out_of_range():
    system = get_system("sharpness")
    p = system.params_array()
    assert system.in_domain(np.array([1.0]), p)
    assert not system.in_domain(np.array([2.5]), p)
    assert not system.in_domain(np.array([0.0]), p)
    assert not system.in_domain(np.array([math.nan]), p)
    llas = get_system("llas-gd")
    assert not llas.in_domain(np.array([-4.5, 0.0]), llas.params_array())


def test_division_by_zero_in_kernel_gives_escape_not_exception():
    """Raw RMSProp from v = 0 at x = 0: 0/0 inside the kernel is reported through in_domain."""
    system = get_system("rmsprop-power")
    traj, n = system.iterate(system.default_state(x=0.0, v=0.0), system.params_array(), 10)
    assert n == 1


def test_gd_exp_power_effective_sharpness_obeys_sharpness_map():
    """D10: s_t = eta_t x_t^(k-2) of the raw (x, eta) map follows s -> gamma s (1 - s)^(k-2)."""
    raw = get_system("gd-exp-power")
    sh = get_system("sharpness")
    k, gamma = 6, 1.05
    traj, n = raw.iterate(raw.default_state(x=0.9, eta=0.05), raw.params_array(gamma=gamma, k=k), 300)
    s = traj[:, 1] * traj[:, 0] ** (k - 2)
    straj, _ = sh.iterate(np.array([s[0]]), sh.params_array(gamma=gamma, k=k), 300)
    np.testing.assert_allclose(straj[:, 0], s, rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [{"beta1": 1.0}, {"beta2": -0.1}, {"k": 3}, {"k": 2.5}, {"beta1": float("nan")}, {"lr": 1.0}],
)
def test_params_array_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match=list(kwargs)[0]):
        get_system("adam-normalized").params_array(**kwargs)


def test_get_system_lists_valid_names():
    with pytest.raises(ValueError, match="adam-normalized"):
        get_system("nope")


def test_default_state_rejects_unknown_and_non_finite():
    system = get_system("llas-gd")
    with pytest.raises(ValueError, match="y"):
        system.default_state(y=float("inf"))
    with pytest.raises(ValueError, match="allowed: x, y"):
        system.default_state(q=1.0)


def test_user_supplied_map_logistic():
    """map_system on a user map: the logistic map at r = 2.5 converges to 1 - 1/r."""
    x, r = sp.symbols("x r")
    logistic = map_system("logistic-test", [x], [r], [r * x * (1 - x)], defaults={"r": 2.5}, domain=[x >= 0, x <= 1])
    assert isinstance(logistic, MapSystem)
    traj, n = logistic.iterate(logistic.default_state(x=0.1), logistic.params_array(), 500)
    assert n == 500 and traj[-1, 0] == pytest.approx(1 - 1 / 2.5, rel=1e-12)
    with pytest.raises(ValueError, match="neither states nor params"):
        map_system("bad", [x], [], [r * x], defaults={})


def test_kernels_are_cached_in_a_real_file_subprocess():
    """A second process imports the same generated module (content-addressed file, numba cache=True)."""
    code = (
        "import numpy as np; from dynsys.systems import get_system; s = get_system('gd-power');"
        "o = np.empty(1); s.step(np.array([0.5]), s.params_array(lr=0.5, k=4), o); print(float(o[0]))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout) == pytest.approx(0.5 - 0.5 * 0.125, rel=1e-15)
