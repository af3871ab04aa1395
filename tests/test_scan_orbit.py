"""Orbit diagrams: period, Jacobian Lyapunov exponent and escape against the theory of math.md D10/D4."""
import numpy as np
import pytest

from dynsys import regimes as R
from dynsys.scan import orbit_diagram


@pytest.mark.parametrize("k", [4, 6])
def test_sharpness_map_period_one_below_gamma_star_and_two_above(k):
    g_star = R.sharpness_critical_gamma(k)  # (k/(k-2))^(k-2): 4 for k = 4
    below = np.linspace(1.2, 0.93 * g_star, 12)
    above = np.array([1.03, 1.06]) * g_star
    ds = orbit_diagram("sharpness", "gamma", np.concatenate([below, above]), fixed={"k": k},
                       discard=4000, keep=256)
    period = ds.period.values
    assert np.all(period[:12] == 1)
    assert np.all(period[12:] == 2)
    # the period-1 orbit sits on the fixed point s* = 1 - gamma^{-1/(k-2)}
    np.testing.assert_allclose(ds.orbit.values[:12, -1], R.sharpness_fixed_point(below, k), rtol=1e-9)
    # Lyapunov exponent of the fixed point: ln|f'(s*)|, f'(s*) = 1 - (k-2) s*/(1-s*)
    np.testing.assert_allclose(ds.lyapunov.values[:12], np.log(np.abs(R.sharpness_multiplier(below, k))),
                               rtol=1e-6, atol=1e-9)
    # the 2-cycle is stable (negative exponent) just above gamma*, and nothing escaped
    assert np.all(ds.lyapunov.values[12:] < 0)
    assert not ds.escaped.values.any()


def test_escape_when_the_orbit_leaves_the_domain():
    # k = 3 is the logistic map gamma s (1 - s); for gamma > 4 almost every orbit leaves (0, 2)
    gammas = np.array([3.2, 4.5, 5.0])
    ds = orbit_diagram("sharpness", "gamma", gammas, fixed={"k": 3}, discard=50, keep=50, state0={"s": 0.3})
    for i, g in enumerate(gammas):
        s, n = 0.3, 0
        while 0 < s < 2 and n < 100:
            s = g * s * (1 - s)
            n += 1
        escaped = not (0 < s < 2)
        assert bool(ds.escaped.values[i]) == escaped
        assert int(ds.escape_step.values[i]) == (n if escaped else -1)
        if escaped:
            assert np.isnan(ds.lyapunov.values[i]) and ds.period.values[i] == 0
            kept = n - 50  # orbit points after the escape are NaN, earlier ones finite
            row = ds.orbit.values[i]
            assert np.all(np.isnan(row[max(kept - 1, 0):]))
            assert np.all(np.isfinite(row[:max(kept - 1, 0)]))
    assert not ds.escaped.values[0] and ds.period.values[0] == 2  # logistic 3.2: stable 2-cycle


def test_lyapunov_of_3d_adam_map_is_log_spectral_radius_of_d4_jacobian():
    """n-D path (tangent vector + QR-free renormalization) at a stable fixed point (regime I)."""
    k, b2 = 4, 0.6
    b1s = np.array([0.1, 0.3, 0.5])
    ds = orbit_diagram("adam-normalized", "beta1", b1s, fixed={"beta2": b2, "k": k}, discard=3000, keep=3000,
                       state0={"u": 1.0, "w": 0.01, "z": 1.0})
    for i, b1 in enumerate(b1s):
        block = np.linalg.eigvals(R.adam_fixed_point_jacobian(b1, b2, k))
        radius = max(np.max(np.abs(block)), R.fixed_point_rate(b2, k) ** 2)
        assert ds.period.values[i] == 1
        assert ds.lyapunov.values[i] == pytest.approx(np.log(radius), abs=2e-3)
        rho, u, w = R.adam_fixed_point(b1, b2, k)
        np.testing.assert_allclose(ds.final_state.values[i, :2], [u, w], rtol=1e-6)


def test_continuation_follows_the_branch_and_histogram_is_a_density():
    gammas = np.linspace(2.0, 3.9, 20)
    ds = orbit_diagram("sharpness", "gamma", gammas, fixed={"k": 4}, discard=2000, keep=2000, continuation=True,
                       histogram_bins=50)
    assert np.all(ds.period.values == 1)
    np.testing.assert_allclose(ds.density.sum("bin").values, 1.0)
    assert ds.orbit.sizes["keep"] == 1000  # long keeps store a tail plus the density
    peak_bin = ds.bin.values[ds.density.argmax("bin").values]
    np.testing.assert_allclose(peak_bin, R.sharpness_fixed_point(gammas, 4), atol=2.0 / 50)


def test_bad_arguments():
    with pytest.raises(ValueError, match="gamma, k"):
        orbit_diagram("sharpness", "beta", [1.0])
    with pytest.raises(ValueError, match="keep"):
        orbit_diagram("sharpness", "gamma", [2.0], keep=0)
    with pytest.raises(ValueError, match="sharpness"):
        orbit_diagram("nope", "gamma", [2.0])
    with pytest.raises(ValueError, match="gamma"):
        orbit_diagram("sharpness", "gamma", [-1.0])
    # a sweep is checked as a whole: the first value outside the domain is named with the range
    with pytest.raises(ValueError, match=r"gamma = 0\.0 is out of range; allowed: 0 < gamma"):
        orbit_diagram("sharpness", "gamma", [2.0, 3.0, 0.0, -1.0])
    with pytest.raises(ValueError, match=r"beta1 = 1\.0 is out of range; allowed: 0 <= beta1 < 1"):
        orbit_diagram("adam-normalized", "beta1", [0.5, 1.0], fixed={"beta2": 0.9, "k": 4})
    with pytest.raises(ValueError, match="k = 5"):  # not an interval domain: checked value by value
        orbit_diagram("adam-normalized", "k", [4, 5], fixed={"beta1": 0.5, "beta2": 0.9})


def test_sharpness_fast_path_equals_the_generated_kernels():
    """The inlined effective-sharpness kernel iterates the same map as the sympy-generated one:
    bit-identical orbits for k = 3 (the logistic map), equal periods, escapes and Lyapunov
    exponents (derivative f'(s) = gamma (1-s)^{k-2} (1 + (k-2) s/(s-1))) elsewhere."""
    from numba import njit

    @njit
    def same_state(state, params, index):  # a custom observable forces the generic path
        return state[index]

    for k, gammas in ((3, np.linspace(2.5, 4.3, 60)), (4, np.linspace(1.5, 4.8, 40))):
        kw = dict(fixed={"k": k}, discard=400, keep=300)
        fast = orbit_diagram("sharpness", "gamma", gammas, **kw)
        slow = orbit_diagram("sharpness", "gamma", gammas, observe=same_state, **kw)
        np.testing.assert_array_equal(fast.escaped.values, slow.escaped.values)
        np.testing.assert_array_equal(fast.escape_step.values, slow.escape_step.values)
        ok = ~fast.escaped.values
        if k == 3:
            np.testing.assert_array_equal(fast.orbit.values, slow.orbit.values)
            np.testing.assert_array_equal(fast.period.values, slow.period.values)
        else:  # below the chaotic band (gamma < 4.8 for k = 4) the attractors agree to rounding
            np.testing.assert_allclose(fast.orbit.values[ok], slow.orbit.values[ok], rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(fast.period.values, slow.period.values)
        np.testing.assert_allclose(fast.lyapunov.values[ok], slow.lyapunov.values[ok], rtol=1e-9, atol=1e-12)
    assert not fast.escaped.values.any() and set(fast.period.values) == {1, 2}  # k = 4: doubling at gamma* = 4


def test_sharpness_lane_kernel_equals_the_one_value_kernel():
    """The lane kernel (32 values iterated side by side) gives the same bits as the one-value
    kernel, which a density histogram still uses: orbits, escape steps, Lyapunov exponents and
    periods, with escapes (at the start and during the run), partial blocks and k = 3, 4, 5."""
    for k, gammas in ((3, np.linspace(2.5, 4.3, 70)), (4, np.linspace(1.5, 9.6, 45)), (5, np.linspace(1.2, 6.0, 33))):
        kw = dict(fixed={"k": k}, discard=300, keep=200)
        lanes = orbit_diagram("sharpness", "gamma", gammas, **kw)
        one = orbit_diagram("sharpness", "gamma", gammas, histogram_bins=8, store_points=200, **kw)
        if k < 5:  # escapes beyond gamma = 4 (k = 3) and 9 (k = 4)
            assert lanes.escaped.values.any() and not lanes.escaped.values.all()
        for v in ("orbit", "escape_step", "lyapunov", "period", "final_state"):
            np.testing.assert_array_equal(lanes[v].values, one[v].values, err_msg=f"k={k} {v}")
    # a value outside the domain from the start escapes at step 0 in both
    s0 = orbit_diagram("sharpness", "gamma", [2.0, 3.0], fixed={"k": 3}, state0={"s": 2.5}, discard=10, keep=10)
    assert list(s0.escape_step.values) == [0, 0] and np.isnan(s0.orbit.values).all()


def test_generated_orbit_kernels_are_cached_on_disk(tmp_path):
    """Orbit kernels of a sympy map are generated as a module and compiled with cache=True,
    so a new process loads them instead of recompiling (the figures relied on this)."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from dynsys.scan import orbit_diagram\n"
            "from dynsys.systems import get_system\n"
            "orbit_diagram(get_system('adam-normalized'), 'beta1', np.linspace(0.1, 0.3, 3),\n"
            "              fixed={'k': 4, 'beta2': 0.9}, discard=50, keep=20)\n")
    env = dict(os.environ, DYNSYS_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    cached = [p.name for p in (tmp_path / "maps" / "__pycache__").glob("*orbit*.nbc")]
    assert cached, sorted(p.name for p in (tmp_path / "maps").rglob("*"))
