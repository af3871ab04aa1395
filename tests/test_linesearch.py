"""Critical learning rate line search (claim C1): exact on quadratics, economical."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynsys.linesearch import CriticalStep, critical_step_size


def _random_quadratic(rng, d):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = rng.uniform(0.1, 10.0, d)
    a = q @ np.diag(lam) @ q.T
    x = rng.normal(size=d)
    return a, x


def _gd_line(a, x):
    g = a @ x
    loss = lambda y: 0.5 * y @ a @ y  # noqa: E731
    return (lambda eta: loss(x - eta * g)), loss(x), 2.0 * (g @ g) / (g @ a @ g)


def test_quadratic_bracket_contains_exact_critical_rate():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a, x = _random_quadratic(rng, int(rng.integers(2, 8)))
        loss_at, loss0, eta_c = _gd_line(a, x)
        res = critical_step_size(loss_at, loss0, guess=float(rng.uniform(0.01, 100.0)))
        assert res.converged
        assert res.lower <= eta_c * (1 + 1e-9) and eta_c <= res.upper * (1 + 1e-9)
        assert res.upper / res.lower - 1 <= 0.01
        assert abs(res.estimate / eta_c - 1) <= 0.01
        assert res.sharpness == pytest.approx(2 / eta_c, rel=0.01)


def test_warm_start_within_2x_needs_few_evaluations():
    """Guess within 2x: at most 4 forward passes on quadratics (exact model), at most
    9 and typically <= 8 on a quartic; plain doubling + bisection needs 9."""
    rng = np.random.default_rng(2)
    quad, quart = [], []
    for _ in range(300):
        a, x = _random_quadratic(rng, int(rng.integers(2, 8)))
        loss_at, loss0, eta_c = _gd_line(a, x)
        res = critical_step_size(loss_at, loss0, guess=eta_c * 2 ** rng.uniform(-1, 1))
        quad.append(res.n_evals)

        c = rng.uniform(0.1, 3.0, x.size)
        loss = lambda y: np.sum(c * y**4) / 4 + 0.5 * np.sum(y**2)  # noqa: E731
        g = c * x**3 + x
        ref = critical_step_size(lambda e: loss(x - e * g), loss(x), rel_tol=1e-9, max_evals=200).estimate
        res = critical_step_size(lambda e: loss(x - e * g), loss(x), guess=ref * 2 ** rng.uniform(-1, 1))
        assert res.lower <= ref * (1 + 1e-9) and ref <= res.upper * (1 + 1e-9)
        quart.append(res.n_evals)
    assert max(quad) <= 4
    assert max(quart) <= 9 and np.median(quart) <= 8
    assert np.mean(quart) < 8


def test_cold_start_far_guess_still_brackets():
    a = np.diag([100.0, 1.0])
    x = np.array([1.0, 1.0])
    loss_at, loss0, eta_c = _gd_line(a, x)
    for guess in (1e-6, 1e6):
        res = critical_step_size(loss_at, loss0, guess=guess)
        assert res.converged and res.lower <= eta_c <= res.upper * (1 + 1e-12)
        # bracketing takes about log2(|log guess/eta_c|) doublings, then a few model steps
        assert res.n_evals <= abs(math.log2(guess / eta_c)) + 6


def test_non_finite_loss_counts_as_rise():
    def loss_at(eta):
        if eta > 3.0:
            return math.inf
        if eta > 2.0:
            return math.nan
        return -eta  # keeps falling until 2, then nan, then inf

    res = critical_step_size(loss_at, 0.0, guess=1.0)
    assert res.converged and res.lower <= 2.0 <= res.upper
    assert math.isfinite(res.estimate) and abs(res.estimate - 2.0) <= 0.02


def test_raised_overflow_counts_as_rise():
    # (e - 1)**2 - 1 on Python floats raises OverflowError past e ~ 1.3e154 (the
    # case hypothesis found); the rise at eta_c = 2 must still be bracketed from
    # a guess far above it (about 510 halvings), and a numpy loss under
    # errstate(over="raise") too.
    res = critical_step_size(lambda e: (e - 1.0) ** 2 - 1.0, 0.0, guess=1.3407807929942597e154, rel_tol=0.01, max_evals=600)
    assert res.converged and res.lower <= 2.0 <= res.upper

    def numpy_loss(e):
        with np.errstate(over="raise"):
            return float(np.float64(e) ** 8 - 2.0 * np.float64(e) ** 4)

    res = critical_step_size(numpy_loss, 0.0, guess=1e300, rel_tol=0.01, max_evals=1100)
    assert res.converged and res.lower <= 2.0 ** 0.25 <= res.upper


def test_no_rise_and_ascent_direction_are_reported():
    res = critical_step_size(lambda eta: -eta, 0.0, guess=1.0, max_evals=20)
    assert not res.converged and math.isinf(res.upper) and math.isinf(res.estimate)
    assert res.n_evals == 20 and res.sharpness == 0.0
    res = critical_step_size(lambda eta: eta, 0.0, guess=1.0, max_evals=10)
    assert not res.converged and res.lower == 0.0 and res.upper == pytest.approx(2.0**-9)
    assert res.n_evals == 10


def test_budget_is_respected():
    a, x = _random_quadratic(np.random.default_rng(3), 4)
    loss_at, loss0, eta_c = _gd_line(a, x)
    calls = []
    res = critical_step_size(lambda e: calls.append(e) or loss_at(e), loss0, guess=1e-3, rel_tol=1e-6, max_evals=5)
    assert res.n_evals == len(calls) == 5


def test_torch_scalar_losses_are_accepted():
    torch = pytest.importorskip("torch")
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    g = a @ x
    loss = lambda y: 0.5 * y @ a @ y  # noqa: E731
    res = critical_step_size(lambda e: loss(x - e * g), loss(x), guess=0.3)
    eta_c = float(2 * (g @ g) / (g @ a @ g))
    assert res.lower <= eta_c <= res.upper * (1 + 1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(guess=0.0),
        dict(guess=-1.0),
        dict(guess=math.nan),
        dict(guess=math.inf),
        dict(rel_tol=0.0),
        dict(rel_tol=1.5),
        dict(rel_tol=math.nan),
        dict(max_evals=1),
        dict(max_evals=2.5),
        dict(max_evals=True),
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        critical_step_size(lambda e: e * e - e, 0.0, **kwargs)


def test_bad_callable_and_loss0():
    with pytest.raises(ValueError, match="loss_at"):
        critical_step_size(3.0, 0.0)
    with pytest.raises(ValueError, match="loss0"):
        critical_step_size(lambda e: e, math.nan)
    with pytest.raises(ValueError, match="loss_at returned"):
        critical_step_size(lambda e: "abc", 0.0)


@settings(max_examples=60, deadline=None)
@given(
    lam=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=5),
    seed=st.integers(0, 10_000),
    log_guess=st.floats(-8, 8),
    rel_tol=st.floats(1e-4, 0.5),
)
def test_property_bracket_on_random_diagonal_quadratics(lam, seed, log_guess, rel_tol):
    lam = np.array(lam)
    x = np.random.default_rng(seed).normal(size=lam.size) + 0.1
    g = lam * x
    loss = lambda y: 0.5 * np.sum(lam * y * y)  # noqa: E731
    eta_c = 2 * (g @ g) / (g @ (lam * g))
    res = critical_step_size(lambda e: loss(x - e * g), loss(x), guess=10.0**log_guess, rel_tol=rel_tol)
    assert isinstance(res, CriticalStep)
    assert res.converged
    assert res.lower <= eta_c * (1 + 1e-9) and eta_c <= res.upper * (1 + 1e-9)
    assert res.upper / res.lower - 1 <= rel_tol


@settings(max_examples=100, deadline=None)
@given(
    loss0=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=2), st.none()),
    guess=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.none()),
    rel_tol=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 2)),
    max_evals=st.one_of(st.integers(-2, 30), st.floats(-1, 10), st.booleans()),
)
def test_hostile_arguments_raise_only_value_error(loss0, guess, rel_tol, max_evals):
    try:
        res = critical_step_size(lambda e: (e - 1.0) ** 2 - 1.0, loss0, guess=guess, rel_tol=rel_tol, max_evals=max_evals)
    except ValueError:
        return
    assert not math.isnan(res.estimate) and res.n_evals <= max_evals
