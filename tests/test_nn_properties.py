"""Property-based tests (hypothesis): argument validation and invariants of dynsys.nn."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dynsys.nn import (MatrixOperator, check_device, compute_predictors, critical_learning_rate,  # noqa: E402
                       hessian_lambda_max, lanczos, make_hvp, power_iteration, rayleigh_quotient)
from dynsys.nn.predictors import PREDICTORS  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tiny():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    x = torch.randn(8, 2, dtype=torch.float64)
    return model, (x, x[:, :1] * x[:, 1:])


def mse(model, data):
    return ((model(data[0]) - data[1]) ** 2).mean()


MODEL, DATA = tiny()

bad_positive = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                         st.text(max_size=3), st.none())


@SETTINGS
@given(tol=bad_positive)
def test_bad_tol_is_named(tol):
    assume(tol is not None)
    with pytest.raises(ValueError, match="tol"):
        hessian_lambda_max(MODEL, mse, DATA, tol=tol)
    with pytest.raises(ValueError, match="tol"):
        compute_predictors(MODEL, mse, DATA, None, lr=0.1, tol=tol)


@SETTINGS
@given(rel_tol=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True), st.just(math.nan)))
def test_bad_rel_tol_is_named(rel_tol):
    with pytest.raises(ValueError, match="rel_tol"):
        critical_learning_rate(MODEL, mse, DATA, None, rel_tol=rel_tol)


@SETTINGS
@given(name=st.text(min_size=1, max_size=12))
def test_unknown_predictor_is_named(name):
    assume(name not in PREDICTORS and name != "critical_sharpness" and "," not in name and name.strip() == name)
    with pytest.raises(ValueError, match="predictors"):
        compute_predictors(MODEL, mse, DATA, None, lr=0.1, predictors=[name])


@SETTINGS
@given(method=st.text(max_size=20))
def test_unknown_hvp_method_is_named(method):
    assume(method not in ("double_backward", "forward_over_reverse", "finite_difference", "auto"))
    with pytest.raises(ValueError, match="method"):
        make_hvp(MODEL, mse, DATA, method=method)


@SETTINGS
@given(k=st.one_of(st.integers(max_value=0), st.integers(min_value=6, max_value=10**6), st.floats(0.1, 3.9)),
       seed=st.integers(max_value=-1))
def test_bad_k_and_seed_are_named(k, seed):
    op = MatrixOperator(torch.eye(5, dtype=torch.float64))
    assume(not (isinstance(k, float) and k.is_integer()))
    with pytest.raises(ValueError, match="k = "):
        lanczos(op, k=k)
    with pytest.raises(ValueError, match="seed"):
        power_iteration(op, seed=seed)


@SETTINGS
@given(device=st.sampled_from(["cuda:7", "cuda:99", "tpu", "gpu", "xla:0", "nope", "cuda:-1"]))
def test_device_that_does_not_exist(device):
    if device.startswith("cuda") and torch.cuda.is_available() and device != "cuda:-1":
        assume(int(device.split(":")[1]) >= torch.cuda.device_count())
    with pytest.raises(ValueError, match="device"):
        check_device(device)


@SETTINGS
@given(n=st.integers(2, 30), seed=st.integers(0, 10**6), k=st.integers(1, 3))
def test_lanczos_matches_eigvalsh_on_random_symmetric(n, seed, k):
    k = min(k, n)
    g = np.random.default_rng(seed)
    a = g.standard_normal((n, n))
    A = torch.as_tensor(0.5 * (a + a.T))
    ref = torch.linalg.eigvalsh(A).flip(0)[:k].numpy()
    res = lanczos(MatrixOperator(A), k=k, tol=1e-10)
    scale = float(torch.linalg.matrix_norm(A, ord=2))
    np.testing.assert_allclose(res.values, ref, atol=1e-8 * scale, rtol=0)
    v = torch.as_tensor(g.standard_normal(n))
    q = rayleigh_quotient(MatrixOperator(A), v)
    ev = torch.linalg.eigvalsh(A)
    assert ev[0] - 1e-12 * scale <= q <= ev[-1] + 1e-12 * scale


class Quadratic(torch.nn.Module):
    def __init__(self, A, x0):
        super().__init__()
        self.A = A
        self.x = torch.nn.Parameter(x0)


def quad(m, _):
    return 0.5 * m.x @ (m.A @ m.x)


@SETTINGS
@given(n=st.integers(2, 12), seed=st.integers(0, 10**6), guess=st.floats(1e-3, 1e3))
def test_gd_critical_sharpness_is_lambda_grad_on_random_quadratics(n, seed, guess):
    g = np.random.default_rng(seed)
    q, _ = np.linalg.qr(g.standard_normal((n, n)))
    eigs = g.uniform(0.05, 5.0, n)
    A = torch.as_tensor(q @ np.diag(eigs) @ q.T)
    A = 0.5 * (A + A.T)
    model = Quadratic(A, torch.as_tensor(g.standard_normal(n)))
    grad = A @ model.x.detach()
    lam_grad = float(grad @ A @ grad / (grad @ grad))
    res = critical_learning_rate(model, quad, None, None, rel_tol=0.01, guess=guess)
    assert res.converged
    assert res.lower <= 2 / lam_grad * (1 + 1e-9) and 2 / lam_grad <= res.upper * (1 + 1e-9)
    assert res.critical_sharpness == pytest.approx(lam_grad, rel=0.011)
    assert res.critical_sharpness <= eigs.max() * 1.011


def test_clear_import_error_without_torch_and_rest_imports_without_it():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import dynsys, dynsys.linesearch\n"
            "try:\n    import dynsys.nn\nexcept ImportError as e:\n    print('IMPORTERROR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORTERROR dynsys.nn needs PyTorch" in out.stdout and "dynsys[torch]" in out.stdout
