"""Property-based tests: random and hostile values into every public constructor and ``trajectory``.

The only exception allowed out is ``ValueError`` whose message names one of the arguments
passed; valid inputs must give valid objects (and a trajectory with no NaN in it).
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dynsys.objectives import (
    Objective,
    llas,
    make_objective,
    power,
    powerlaw_fit,
    quadratic,
    zipf_data,
)
from dynsys.optimizers import OptimizerSpec, adam, adamw, gd, make_optimizer, momentum, rmsprop
from dynsys.simulate import trajectory

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-3, max_value=10),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
    st.just(1 + 2j),
    st.just(float("nan")),
    st.just(np.float64("inf")),
    st.just(np.array([0.5, 0.5])),
    st.just(np.array(0.3)),
    st.lists(st.floats(-1, 1), max_size=3),
)

arrays = st.one_of(
    scalars,
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    hnp.arrays(np.float64, st.sampled_from([(2,), (3,), (2, 2), (3, 3)]), elements=st.floats(-3, 3)),
    st.lists(st.one_of(st.floats(-3, 3), st.booleans(), st.text(max_size=2)), max_size=4),
    st.lists(st.lists(st.floats(-3, 3), min_size=1, max_size=3), min_size=1, max_size=3),
    st.just(np.array([[1.0, 2.0], [0.0, 1.0]])),  # asymmetric
    st.just(np.array([True, False])),
    st.just(np.array([1 + 1j, 2.0])),
    st.just(np.array(["a", "b"])),
)


def _only_value_errors(fn, names, *args, **kw):
    """Call ``fn``; a ``ValueError`` must name one of ``names``; anything else fails."""
    try:
        return fn(*args, **kw)
    except ValueError as exc:
        msg = str(exc)
        assert "\n" not in msg, msg
        assert any(name in msg for name in names), f"{msg!r} names none of {names}"
        return None


@SETTINGS
@given(lr=scalars, lr_decay=scalars)
def test_gd_hostile(lr, lr_decay):
    out = _only_value_errors(gd, ["lr", "lr_decay"], lr, lr_decay)
    if out is not None:
        assert out.lr > 0 and math.isfinite(out.lr) and out.lr_decay > 0


@SETTINGS
@given(lr=scalars, beta=scalars)
def test_momentum_hostile(lr, beta):
    out = _only_value_errors(momentum, ["lr", "beta"], lr, beta)
    if out is not None:
        assert 0 <= out.beta1 < 1


@SETTINGS
@given(lr=scalars, beta2=scalars, eps=scalars, bc=scalars)
def test_rmsprop_hostile(lr, beta2, eps, bc):
    out = _only_value_errors(rmsprop, ["lr", "beta2", "eps", "bias_correction"], lr, beta2, eps, bc)
    if out is not None:
        assert 0 <= out.beta2 < 1 and out.eps >= 0 and isinstance(out.bias_correction, bool)


@SETTINGS
@given(lr=scalars, b1=scalars, b2=scalars, eps=scalars, bc=scalars, wd=scalars)
def test_adam_and_adamw_hostile(lr, b1, b2, eps, bc, wd):
    names = ["lr", "beta1", "beta2", "eps", "bias_correction", "weight_decay"]
    out = _only_value_errors(adam, names, lr, b1, b2, eps, bc)
    if out is not None:
        assert 0 <= out.beta1 < 1 and 0 <= out.beta2 < 1 and out.eps >= 0
    out = _only_value_errors(adamw, names, lr, b1, b2, eps, wd, bc)
    if out is not None:
        assert out.weight_decay >= 0


@SETTINGS
@given(name=st.one_of(st.sampled_from(["gd", "momentum", "rmsprop", "adam", "adamw"]), scalars),
       kw=st.dictionaries(st.sampled_from(["lr", "beta", "beta1", "beta2", "eps", "weight_decay", "bogus"]),
                          scalars, max_size=3))
def test_make_optimizer_hostile(name, kw):
    names = ["name", "lr", *kw]
    out = _only_value_errors(make_optimizer, names, name, **kw)
    if out is not None:
        assert isinstance(out, OptimizerSpec)


@SETTINGS
@given(k=scalars)
def test_power_hostile(k):
    out = _only_value_errors(power, ["k"], k)
    if out is not None:
        assert out.k % 2 == 0 and out.k >= 2


@SETTINGS
@given(A=arrays)
def test_quadratic_hostile(A):
    out = _only_value_errors(quadratic, ["A"], A)
    if out is not None:
        np.testing.assert_array_equal(out.A, out.A.T)
        assert np.all(np.isfinite(out.A))


@SETTINGS
@given(x=st.one_of(st.none(), arrays), y=st.one_of(st.none(), arrays), n=scalars, alpha=scalars, noise=scalars,
       seed=scalars)
def test_powerlaw_fit_and_zipf_hostile(x, y, n, alpha, noise, seed):
    if isinstance(n, int) and not isinstance(n, bool) and n > 10**4:
        n = 10**4 + 1  # keep valid sizes small; the range check is tested at 10**6 + 1 below
    out = _only_value_errors(powerlaw_fit, ["x", "y", "n", "alpha", "noise", "seed"], x, y, n=n, alpha=alpha,
                             noise=noise, seed=seed)
    if out is not None:
        assert np.all(out.data_x > 0) and out.data_x.shape == out.data_y.shape
    data = _only_value_errors(zipf_data, ["n", "alpha", "noise", "seed"], n, alpha, noise, seed)
    if data is not None:
        assert np.all(np.isfinite(data[1]))


def test_zipf_n_upper_bound():
    with pytest.raises(ValueError, match="n"):
        zipf_data(n=10**6 + 1)


@SETTINGS
@given(name=st.one_of(st.sampled_from(["power", "quadratic", "llas", "powerlaw-fit"]), scalars),
       kw=st.dictionaries(st.sampled_from(["k", "A", "n", "bogus"]), scalars, max_size=2))
def test_make_objective_hostile(name, kw):
    out = _only_value_errors(make_objective, ["name", "k", "A", "n", *kw], name, **kw)
    if out is not None:
        assert isinstance(out, Objective)


@SETTINGS
@given(x=arrays)
def test_objective_methods_hostile(x):
    for obj in (power(4), llas(), quadratic([1.0, 2.0, 3.0])):
        for method in (obj.loss, obj.grad, obj.hessian):
            _only_value_errors(method, ["x"], x)


OPTS = [gd(0.1), momentum(0.1, 0.9), rmsprop(0.01, 0.9, 0.0), adam(0.01, 0.9, 0.99, 0.0, False), adamw(0.01)]
OBJS = [power(4), power(2), quadratic([1.0, 2.0]), llas(), powerlaw_fit(n=8)]


small_steps = st.one_of(st.integers(1, 40), st.integers(-5, 0), st.integers(10**10 + 1, 10**12),
                        st.floats(allow_nan=True), st.booleans(), st.text(max_size=2), st.just(2.0), st.just(2.5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opt=st.one_of(st.sampled_from(OPTS), scalars), obj=st.one_of(st.sampled_from(OBJS), scalars),
       x0=st.one_of(arrays, st.floats(-1e6, 1e6), st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2)),
       steps=small_steps, record_every=st.one_of(st.integers(1, 5), small_steps),
       m0=st.one_of(st.none(), arrays), v0=st.one_of(st.none(), arrays),
       log_space=st.one_of(st.none(), st.booleans(), scalars))
def test_trajectory_hostile(opt, obj, x0, steps, record_every, m0, v0, log_space):
    names = ["optimizer", "objective", "x0", "steps", "record_every", "m0", "v0", "log_space"]
    ds = _only_value_errors(trajectory, names, opt, obj, x0, steps, record_every=record_every, m0=m0, v0=v0,
                            log_space=log_space)
    if ds is None:
        return
    for name, var in ds.data_vars.items():
        assert not np.isnan(np.asarray(var.values, dtype=float)).any(), name
    assert ds.attrs["diverged"] in (0, 1)
    if ds.attrs["diverged"]:
        assert ds.diverged.values[-1] and ds.step.values[-1] == ds.attrs["diverged_step"]
        assert ds.attrs["reason"]
    else:
        assert ds.step.values[-1] == ds.attrs["steps"] and not ds.diverged.any()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["gd", "momentum", "rmsprop", "adam", "adamw"]),
       lr=st.floats(1e-300, 1e300), b1=st.floats(0, 0.999999), b2=st.floats(0, 0.999999),
       eps=st.one_of(st.just(0.0), st.floats(0, 1e300)), bc=st.booleans(), wd=st.floats(0, 1e10),
       lr_decay=st.floats(1e-3, 1e3),
       obj=st.sampled_from(OBJS + [power(8), quadratic(np.array([[1.0, 3.0], [3.0, -2.0]]))]),
       x0=st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=2), steps=st.integers(1, 300),
       log_space=st.one_of(st.none(), st.just(False)))
def test_trajectory_random_valid_settings_never_store_nan(name, lr, b1, b2, eps, bc, wd, lr_decay, obj, x0, steps,
                                                          log_space):
    """Valid but extreme settings (huge/tiny lr, x0 up to 1e300, eps = 0): the run ends normally or with the
    divergence flag and a reason; no NaN is stored and the truncation convention holds."""
    kw = {"gd": dict(lr=lr, lr_decay=lr_decay), "momentum": dict(lr=lr, beta=b1, lr_decay=lr_decay),
          "rmsprop": dict(lr=lr, beta2=b2, eps=eps, bias_correction=bc, lr_decay=lr_decay),
          "adam": dict(lr=lr, beta1=b1, beta2=b2, eps=eps, bias_correction=bc, lr_decay=lr_decay),
          "adamw": dict(lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd, bias_correction=bc,
                        lr_decay=lr_decay)}[name]
    opt = make_optimizer(name, **kw)
    ds = trajectory(opt, obj, x0[: obj.dim], steps, log_space=log_space)
    for var_name, var in ds.data_vars.items():
        assert not np.isnan(np.asarray(var.values, dtype=float)).any(), var_name
    if ds.attrs["diverged"]:
        assert ds.diverged.values[-1] and ds.step.values[-1] == ds.attrs["diverged_step"] and ds.attrs["reason"]
        assert not ds.diverged.values[:-1].any()
    else:
        assert ds.step.values[-1] == steps and ds.sizes["step"] == steps + 1
        assert np.all(np.isfinite(ds.x.values))
