"""Eigen-solvers (Lanczos, power/subspace iteration) on operators with known spectra."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn import MatrixOperator, lanczos, power_iteration, rayleigh_quotient  # noqa: E402


def matrix_with_spectrum(eigs, seed=0):
    n = len(eigs)
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.as_tensor(eigs, dtype=torch.float64)) @ q.T, q


def test_lanczos_top_k_matches_spectrum():
    eigs = np.concatenate([[10.0, 9.0, 7.5], np.linspace(-3, 5, 197)])
    A, _ = matrix_with_spectrum(eigs)
    op = MatrixOperator(A)
    res = lanczos(op, k=3, tol=1e-10)
    assert res.converged
    np.testing.assert_allclose(res.values, [10.0, 9.0, 7.5], rtol=1e-10)
    for i in range(3):
        y = res.vectors[:, i]
        true_res = float(torch.linalg.vector_norm(A @ y - res.values[i] * y))
        assert true_res <= 1e-8 * res.values[i]
        assert res.residuals[i] == pytest.approx(true_res, abs=1e-9)
    assert res.n_matvec == op.n_matvec == res.iterations


def test_lanczos_finds_lambda_max_when_negative_eigenvalue_dominates():
    # |lambda_min| = 20 > lambda_max = 4: power iteration finds -20, Lanczos the largest, 4
    eigs = np.concatenate([[4.0, -20.0], np.linspace(-2, 3, 60)])
    A, _ = matrix_with_spectrum(eigs, seed=1)
    lan = lanczos(MatrixOperator(A), tol=1e-10)
    assert lan.value == pytest.approx(4.0, rel=1e-10)
    pw = power_iteration(MatrixOperator(A), tol=1e-8, max_iter=2000)
    assert pw.value == pytest.approx(-20.0, rel=1e-7)
    mag = lanczos(MatrixOperator(A), tol=1e-10, which="magnitude")
    assert mag.value == pytest.approx(-20.0, rel=1e-10)


def test_power_iteration_rate_and_subspace_iteration():
    # ratio lambda2/lambda1 = 0.9: eigenvalue error after j steps ~ 0.81^j; residual tol 1e-6 -> ~130 steps
    eigs = np.concatenate([[10.0, 9.0], np.linspace(0.1, 5, 48)])
    A, _ = matrix_with_spectrum(eigs, seed=2)
    op = MatrixOperator(A)
    pw = power_iteration(op, tol=1e-6, max_iter=5000)
    assert pw.converged and pw.value == pytest.approx(10.0, rel=1e-10)
    assert 100 <= pw.n_matvec <= 250
    lan = lanczos(MatrixOperator(A), tol=1e-6)
    assert lan.n_matvec <= pw.n_matvec / 3
    sub = power_iteration(MatrixOperator(A), k=2, tol=1e-8, max_iter=5000)
    np.testing.assert_allclose(sub.values, [10.0, 9.0], rtol=1e-10)
    assert sub.n_matvec % 2 == 0


def test_warm_start_from_previous_eigenvector():
    eigs = np.concatenate([[6.0, 5.5], np.linspace(-1, 5, 98)])
    A, q = matrix_with_spectrum(eigs, seed=3)
    cold = lanczos(MatrixOperator(A), tol=1e-8)
    # a perturbed matrix (one training step later) warm-started from the old vector
    E = 1e-3 * torch.randn(100, 100, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    A2 = A + 0.5 * (E + E.T)
    warm = lanczos(MatrixOperator(A2), tol=1e-8, v0=cold.vector)
    fresh = lanczos(MatrixOperator(A2), tol=1e-8)
    assert warm.value == pytest.approx(fresh.value, rel=1e-10)
    assert warm.n_matvec < fresh.n_matvec
    # an exact eigenvector start is an invariant subspace: the solver restarts and still finds the top
    exact = lanczos(MatrixOperator(A), tol=1e-10, v0=q[:, 0])
    assert exact.value == pytest.approx(6.0, rel=1e-12)
    wrong = lanczos(MatrixOperator(A), tol=1e-10, v0=q[:, 1])  # start on the 2nd eigenvector
    assert wrong.value == pytest.approx(6.0, rel=1e-12) and wrong.converged
    pw_warm = power_iteration(MatrixOperator(A2), tol=1e-8, v0=cold.vector, max_iter=5000)
    pw_cold = power_iteration(MatrixOperator(A2), tol=1e-8, max_iter=5000)
    assert pw_warm.n_matvec < pw_cold.n_matvec


def test_seeded_and_deterministic():
    A, _ = matrix_with_spectrum(np.linspace(-1, 3, 80), seed=4)
    r1 = lanczos(MatrixOperator(A), k=2, seed=5)
    r2 = lanczos(MatrixOperator(A), k=2, seed=5)
    assert np.array_equal(r1.values, r2.values) and torch.equal(r1.vectors, r2.vectors)


def test_not_converged_is_reported():
    A, _ = matrix_with_spectrum(np.linspace(0, 1, 200), seed=6)
    res = lanczos(MatrixOperator(A), tol=1e-12, max_iter=5)
    assert not res.converged and res.iterations == 5 and res.residual > 1e-12 * res.value
    pw = power_iteration(MatrixOperator(A), tol=1e-12, max_iter=5)
    assert not pw.converged and pw.n_matvec == 5


def test_repeated_eigenvalues_and_small_operators():
    A = torch.diag(torch.tensor([3.0, 3.0, 1.0, 0.5], dtype=torch.float64))
    res = lanczos(MatrixOperator(A), k=2, tol=1e-10)
    np.testing.assert_allclose(res.values, [3.0, 3.0], rtol=1e-12)
    one = lanczos(MatrixOperator(torch.tensor([[2.5]], dtype=torch.float64)))
    assert one.value == 2.5 and one.converged


def test_rayleigh_quotient():
    A, q = matrix_with_spectrum([5.0, 1.0, -2.0], seed=7)
    op = MatrixOperator(A)
    v = q[:, 0] + q[:, 1]
    assert rayleigh_quotient(op, v) == pytest.approx(3.0, rel=1e-12)
    with pytest.raises(ValueError, match="zero vector"):
        rayleigh_quotient(op, torch.zeros(3, dtype=torch.float64))


def test_bad_arguments():
    op = MatrixOperator(torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="k = 4"):
        lanczos(op, k=4)
    with pytest.raises(ValueError, match="tol"):
        lanczos(op, tol=0)
    with pytest.raises(ValueError, match="which"):
        lanczos(op, which="smallest")
    with pytest.raises(ValueError, match="v0"):
        lanczos(op, v0=torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="not symmetric"):
        MatrixOperator(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
