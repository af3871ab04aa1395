"""Optimizer specs: validation, and the update rules against independent implementations.

* Adam (bias correction on) step by step against ``torch.optim.Adam`` on the same
  1-D problem (PyTorch convention of math.md: eps added to sqrt(vhat)).
* AdamW's decoupled weight decay against a hand-written numpy loop and against
  ``torch.optim.AdamW``.
* RMSProp against ``torch.optim.RMSprop``; heavy ball in EMA form against a numpy loop.
"""
import math

import numpy as np
import pytest

from dynsys.objectives import power, quadratic
from dynsys.optimizers import OPTIMIZERS, OptimizerSpec, adam, adamw, gd, make_optimizer, momentum, rmsprop
from dynsys.simulate import trajectory


# -- construction and validation ---------------------------------------------------------------

def test_constructors_store_fields_and_attrs():
    o = adam(1e-3, 0.8, 0.95, 1e-10, bias_correction=False)
    assert (o.name, o.lr, o.beta1, o.beta2, o.eps, o.bias_correction) == ("adam", 1e-3, 0.8, 0.95, 1e-10, False)
    a = o.attrs()
    assert a["optimizer"] == "adam" and a["bias_correction"] == 0 and a["lr"] == 1e-3
    assert all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in a.values())
    assert momentum(0.1, beta=0.5).beta1 == 0.5
    assert gd(0.1, lr_decay=1.01).eta(2) == pytest.approx(0.1 * 1.01 ** 2, rel=1e-15)
    assert adamw(1e-3).weight_decay == 1e-2
    assert rmsprop(1e-2).bias_correction is False


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: adam(0.0), "lr"),
        (lambda: adam(-1.0), "lr"),
        (lambda: adam(float("nan")), "lr"),
        (lambda: adam(1e-3, beta1=1.0), "beta1"),
        (lambda: adam(1e-3, beta1=-0.1), "beta1"),
        (lambda: adam(1e-3, beta2=1.0), "beta2"),
        (lambda: adam(1e-3, eps=-1e-8), "eps"),
        (lambda: adam(1e-3, bias_correction=1), "bias_correction"),
        (lambda: adamw(1e-3, weight_decay=-0.1), "weight_decay"),
        (lambda: gd(1.0, lr_decay=0.0), "lr_decay"),
        (lambda: momentum(1.0, beta=1.5), "beta"),
        (lambda: rmsprop(1.0, beta2=float("inf")), "beta2"),
        (lambda: make_optimizer("sgd", lr=1.0), "name"),
        (lambda: make_optimizer("adam", lr=1.0, beta3=0.1), "beta3"),
        (lambda: make_optimizer("adam"), "lr"),
    ],
)
def test_bad_hyperparameters_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_make_optimizer_covers_every_name():
    for name in OPTIMIZERS:
        spec = make_optimizer(name, lr=0.1)
        assert isinstance(spec, OptimizerSpec) and spec.name == name


# -- against torch -------------------------------------------------------------------------------

def _torch_run(make_opt, x0, grad_fn, steps):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    p = torch.nn.Parameter(torch.tensor([x0], dtype=torch.float64))
    opt = make_opt(torch, [p])
    xs = [float(p.item())]
    for _ in range(steps):
        opt.zero_grad()
        p.grad = torch.tensor([grad_fn(float(p.item()))], dtype=torch.float64)
        opt.step()
        xs.append(float(p.item()))
    return np.array(xs)


@pytest.mark.parametrize("k", [2, 4])
def test_adam_bias_corrected_matches_torch_step_by_step(k):
    lr, b1, b2, eps, steps = 0.05, 0.9, 0.99, 1e-8, 300
    ref = _torch_run(lambda torch, ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps),
                     1.3, lambda x: x ** (k - 1), steps)
    for log_space in (False, True):
        ds = trajectory(adam(lr, b1, b2, eps), power(k), 1.3, steps, log_space=log_space)
        ours = ds.x.values[:, 0]
        # relative 1e-12 of the trajectory's scale (pointwise relative error is ill-conditioned
        # at the sign changes, where x passes near 0 and the update is a cancellation)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_adamw_matches_torch_and_numpy_loop():
    lr, b1, b2, eps, wd, steps = 0.02, 0.9, 0.999, 1e-8, 0.3, 200
    A = np.array([2.0])
    ref = _torch_run(lambda torch, ps: torch.optim.AdamW(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd),
                     -0.7, lambda x: 2.0 * x, steps)
    # hand-written numpy loop (PyTorch order: decay first, gradient at the old x)
    x, m, v = -0.7, 0.0, 0.0
    xs = [x]
    for t in range(1, steps + 1):
        g = 2.0 * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        x = x * (1 - lr * wd) - lr * mhat / (math.sqrt(vhat) + eps)
        xs.append(x)
    ds = trajectory(adamw(lr, b1, b2, eps, weight_decay=wd), quadratic(A), -0.7, steps)
    np.testing.assert_allclose(ds.x.values[:, 0], xs, rtol=1e-12, atol=1e-12 * 0.7)
    np.testing.assert_allclose(ds.x.values[:, 0], ref, rtol=1e-12, atol=1e-12 * 0.7)


def test_adamw_weight_decay_alone_shrinks_geometrically():
    """On a flat direction (A = 0, g = 0, m = 0) with eps > 0 only the decay acts: x_t = (1 - lr wd)^t x_0."""
    lr, wd = 0.1, 0.5
    ds = trajectory(adamw(lr, eps=1e-8, weight_decay=wd), quadratic([0.0]), 3.0, 50)
    np.testing.assert_allclose(ds.x.values[:, 0], 3.0 * (1 - lr * wd) ** np.arange(51), rtol=1e-13)


def test_rmsprop_matches_torch():
    lr, b2, eps, steps = 0.01, 0.9, 1e-8, 300
    ref = _torch_run(lambda torch, ps: torch.optim.RMSprop(ps, lr=lr, alpha=b2, eps=eps),
                     0.9, lambda x: x ** 3, steps)
    ds = trajectory(rmsprop(lr, b2, eps), power(4), 0.9, steps)
    np.testing.assert_allclose(ds.x.values[:, 0], ref, rtol=1e-12, atol=1e-12 * 0.9)


def test_momentum_ema_form_against_numpy_loop():
    lr, beta, steps = 0.3, 0.7, 100
    x, m = 2.0, 0.0
    xs = [x]
    for _ in range(steps):
        g = 1.5 * x
        m = beta * m + (1 - beta) * g
        x = x - lr * m
        xs.append(x)
    ds = trajectory(momentum(lr, beta), quadratic([1.5]), 2.0, steps)
    np.testing.assert_allclose(ds.x.values[:, 0], xs, rtol=1e-13, atol=1e-13 * 2.0)


def test_gd_exponential_schedule():
    """GD with eta_t = eta0 gamma^t on x^2/2: x_{t+1} = (1 - eta0 gamma^t) x_t exactly."""
    eta0, gamma = 0.1, 1.05
    ds = trajectory(gd(eta0, lr_decay=gamma), quadratic([1.0]), 1.0, 30)
    expected = np.cumprod(np.r_[1.0, 1 - eta0 * gamma ** np.arange(30)])
    np.testing.assert_allclose(ds.x.values[:, 0], expected, rtol=1e-13)
    np.testing.assert_allclose(ds.eff_lr.values, eta0 * gamma ** np.arange(31), rtol=1e-13)


# -- d-dimensional quadratics against torch; eps placement and bias correction ---------------------

def _torch_run_vec(make_opt, x0, A, steps):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    At = torch.tensor(A, dtype=torch.float64)
    opt = make_opt(torch, [p])
    xs = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * p @ (At @ p)
        loss.backward()
        opt.step()
        xs.append(p.detach().numpy().copy())
    return np.array(xs)


def _numpy_adam(A, x0, steps, lr, b1, b2, eps, wd=0.0, bias_correction=True, eps_inside=False):
    """Independent numpy Adam/AdamW; ``eps_inside=True`` is the wrong placement sqrt(vhat + eps)."""
    x, m, v = np.array(x0, float), np.zeros(len(x0)), np.zeros(len(x0))
    xs = [x.copy()]
    for t in range(1, steps + 1):
        g = A @ x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
        den = np.sqrt(v / bc2 + eps) if eps_inside else np.sqrt(v / bc2) + eps
        x = x * (1 - lr * wd) - lr * (m / bc1) / den
        xs.append(x.copy())
    return np.array(xs)


_A3 = np.array([[3.0, 1.0, 0.2], [1.0, 2.0, -0.5], [0.2, -0.5, 0.7]])
_X3 = np.array([1.0, -0.6, 0.4])


@pytest.mark.parametrize("eps", [1e-8, 0.05])
@pytest.mark.parametrize("wd", [0.0, 0.2])
def test_adam_adamw_match_torch_on_dense_quadratic(eps, wd):
    """torch.optim.Adam (wd = 0) / AdamW on x^T A x/2 with dense symmetric A, 200 steps, step for step.

    eps = 0.05 is large enough that the placement matters: adding eps to sqrt(vhat) (PyTorch, ours)
    and adding it to vhat under the root differ by far more than the tolerance.
    """
    lr, b1, b2, steps = 0.03, 0.9, 0.99, 200
    if wd == 0.0:
        make = lambda torch, ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps)  # noqa: E731
        opt = adam(lr, b1, b2, eps)
    else:
        make = lambda torch, ps: torch.optim.AdamW(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)  # noqa: E731
        opt = adamw(lr, b1, b2, eps, weight_decay=wd)
    ref = _torch_run_vec(make, _X3, _A3, steps)
    ours = trajectory(opt, quadratic(_A3), _X3, steps).x.values
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, _numpy_adam(_A3, _X3, steps, lr, b1, b2, eps, wd), rtol=0, atol=1e-12)
    if eps == 0.05:
        wrong = _numpy_adam(_A3, _X3, steps, lr, b1, b2, eps, wd, eps_inside=True)
        assert np.max(np.abs(wrong - ref)) > 1e-3


@pytest.mark.parametrize("log_space", [False, True])
def test_bias_correction_off_is_the_raw_moments(log_space):
    """Without bias correction x' = x - eta m/(sqrt(v)+eps) (the degenerate-polynomials paper's Adam, math.md
    section 2); with it the first steps are ~1/(1-b1) larger. Both against a numpy loop on x^2/2."""
    lr, b1, b2, eps, steps = 0.02, 0.9, 0.999, 1e-8, 100
    A = np.array([[1.0]])
    for bc in (False, True):
        ds = trajectory(adam(lr, b1, b2, eps, bias_correction=bc), power(2), 1.0, steps, log_space=log_space)
        ref = _numpy_adam(A, [1.0], steps, lr, b1, b2, eps, bias_correction=bc)[:, 0]
        np.testing.assert_allclose(ds.x.values[:, 0], ref, rtol=1e-13, atol=1e-15)
    # step 0: |dx| = eta (1-b1)|g|/(sqrt(1-b2)|g|) without correction, = eta with it
    off = trajectory(adam(lr, b1, b2, eps, bias_correction=False), power(2), 1.0, 1).x.values[:, 0]
    on = trajectory(adam(lr, b1, b2, eps, bias_correction=True), power(2), 1.0, 1).x.values[:, 0]
    assert 1 - off[1] == pytest.approx(lr * (1 - b1) / math.sqrt(1 - b2), rel=1e-6)
    assert 1 - on[1] == pytest.approx(lr, rel=1e-6)


def test_momentum_matches_torch_sgd_after_rescaling():
    """torch SGD(momentum=b) keeps buf = b buf + g, x -= lr buf; the EMA form is buf (1-b), so it equals ours
    with lr_ours = lr_torch/(1-b) (math.md A2 states thresholds for the EMA form)."""
    lr, b, steps = 0.05, 0.8, 150
    ref = _torch_run_vec(lambda torch, ps: torch.optim.SGD(ps, lr=lr, momentum=b), _X3, _A3, steps)
    ours = trajectory(momentum(lr / (1 - b), b), quadratic(_A3), _X3, steps).x.values
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("log_space", [False, True])
def test_eps_zero_at_exact_minimum_is_reported_not_raised(log_space):
    """x0 = 0 on x^k/k with eps = 0: g = m = v = 0 and the update is 0/0; reported, no ZeroDivisionError."""
    ds = trajectory(adam(1e-2, 0.9, 0.9, eps=0.0, bias_correction=False), power(4), 0.0, 10, log_space=log_space)
    assert ds.attrs["diverged"] == 1 and ds.attrs["diverged_step"] == 0 and "0/0" in ds.attrs["reason"]
    assert ds.eff_lr.values[-1] == np.inf and ds.log10_eff_lr.values[-1] == np.inf
