"""Eigen-solvers for any symmetric :class:`~dynsys.nn.operators.CurvatureOperator`.

* :func:`lanczos` -- the Lanczos iteration with full reorthogonalization; top-k
  *algebraically largest* eigenpairs (``lambda_max`` even when the Hessian has
  negative eigenvalues of larger magnitude).  Converges in far fewer products
  than power iteration (see ``docs/performance.md``, Networks).
* :func:`power_iteration` -- power iteration (``k = 1``) or orthogonal subspace
  iteration with Rayleigh-Ritz (``k > 1``); finds the eigenvalues of largest
  *magnitude*, which are the largest ones only when those dominate.
* :func:`rayleigh_quotient` -- ``v^T A v / v^T v``.

Both solvers stop when every wanted Ritz pair has residual
``||A y - theta y|| <= tol * |theta|``, accept a warm start ``v0`` (the previous
eigenvector), are seeded, and report residuals, a converged flag and the number
of operator products.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import torch

from dynsys._validate import check_choice, check_int, check_nonnegative, check_positive

__all__ = ["EigenResult", "lanczos", "power_iteration", "rayleigh_quotient"]


@dataclass
class EigenResult:
    """Eigenpairs of a symmetric operator.

    Attributes
    ----------
    values : numpy.ndarray
        The ``k`` eigenvalue estimates, largest first.
    vectors : torch.Tensor
        Unit eigenvectors as columns, shape ``(n, k)``, in the coordinates of the
        operator that was solved (see ``coordinates``).
    residuals : numpy.ndarray
        ``||A y_i - theta_i y_i||`` for each pair (Lanczos: the Ritz estimate
        ``beta_m |s_{m,i}|``, equal to it in exact arithmetic with full reorthogonalization).
    converged : bool
        Every residual is within ``tol * |theta_i|``.
    n_matvec : int
        Operator products used by this solve (= Hessian-vector products for the
        curvature operators).
    iterations : int
    method : str
    coordinates : str
        ``"operator"``, or ``"original"`` when vectors were mapped back (``Hhat``).
    """

    values: np.ndarray
    vectors: torch.Tensor
    residuals: np.ndarray
    converged: bool
    n_matvec: int
    iterations: int
    method: str
    tol: float
    coordinates: str = "operator"
    extra: dict = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The top eigenvalue."""
        return float(self.values[0])

    @property
    def vector(self):
        """The top eigenvector (unit norm)."""
        return self.vectors[:, 0]

    @property
    def residual(self) -> float:
        return float(self.residuals[0])

    @property
    def n_hvp(self) -> int:
        return self.n_matvec


def rayleigh_quotient(operator, v) -> float:
    """``v^T A v / v^T v`` (one product); ValueError for a zero vector."""
    nv2 = float(torch.dot(v, v))
    if not nv2 > 0:
        raise ValueError("v is the zero vector; allowed: a nonzero vector")
    return float(torch.dot(v, operator.matvec(v))) / nv2


def _check_common(operator, k, tol, max_iter, seed):
    if not hasattr(operator, "matvec") or not hasattr(operator, "size"):
        raise ValueError(f"operator = {type(operator).__name__} is not a CurvatureOperator; allowed: an object with size and matvec")
    k = check_int("k", k, low=1, high=operator.size)
    tol = check_positive("tol", tol)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, low=1)
    seed = check_int("seed", seed, low=0)
    return k, tol, max_iter, seed


def _start_vector(operator, v0, seed, noise=0.0):
    gen = torch.Generator().manual_seed(seed)
    rnd = torch.randn(operator.size, generator=gen, dtype=torch.float64).to(dtype=operator.dtype, device=operator.device)
    rnd = rnd / torch.linalg.vector_norm(rnd)
    if v0 is None:
        return rnd, gen
    v0 = torch.as_tensor(v0).to(dtype=operator.dtype, device=operator.device)
    if v0.ndim == 2:
        v0 = v0.sum(dim=1)
    if v0.shape != (operator.size,):
        raise ValueError(f"v0 has shape {tuple(v0.shape)}; allowed: ({operator.size},) or ({operator.size}, j)")
    if not torch.isfinite(v0).all():
        raise ValueError("v0 contains non-finite entries; allowed: a finite nonzero vector")
    nv = torch.linalg.vector_norm(v0)
    if not nv > 0:
        return rnd, gen
    v = v0 / nv + noise * rnd
    return v / torch.linalg.vector_norm(v), gen


def lanczos(operator, k=1, *, tol=1e-6, max_iter=None, v0=None, seed=0, which="largest", warm_start_noise=0.1):
    """Top-k eigenpairs of a symmetric operator by Lanczos with full reorthogonalization.

    Builds the Krylov basis ``Q_m`` of ``A`` from ``v0`` with the three-term
    recurrence ``A q_j = beta_{j-1} q_{j-1} + alpha_j q_j + beta_j q_{j+1}``,
    reorthogonalizing every new vector against all previous ones twice
    (classical Gram-Schmidt), and takes the Ritz pairs of the tridiagonal
    ``T_m = Q_m^T A Q_m``.  The residual of the Ritz pair ``(theta_i, Q_m s_i)`` is
    ``beta_m |s_{m,i}|``; the iteration stops when it is ``<= tol * |theta_i|``
    for every wanted pair.  On breakdown (an invariant subspace, e.g. when
    ``v0`` is already an eigenvector) it continues from a random vector
    orthogonal to the basis (convergence is not declared at a breakdown, since an
    invariant subspace hides the eigenvalues outside it, e.g. repeated ones).

    Parameters
    ----------
    operator : CurvatureOperator
    k : int
        Number of eigenpairs (1 <= k <= n).
    tol : float
        Relative residual tolerance (> 0).
    max_iter : int, optional
        Maximum Krylov dimension (default ``min(n, max(300, 4 k))``).
    v0 : torch.Tensor, optional
        Warm start, e.g. the previous top eigenvector (shape ``(n,)``; an
        ``(n, j)`` block is summed).  A random start otherwise.
    seed : int
        Seed of the random start / restart vectors.
    which : {"largest", "magnitude"}
        Algebraically largest (default) or largest-magnitude eigenvalues.
    warm_start_noise : float
        A warm start is mixed with a random unit vector of this weight
        (``v0/|v0| + noise r``).  The stopping rule only certifies that the wanted
        Ritz pairs are eigenpairs; started almost exactly on the previous top
        eigenvector, the iteration could stop on it before amplifying a new, larger
        eigenvalue that is barely present in ``v0``.  The random part keeps every
        direction present (0 disables it).

    Returns
    -------
    EigenResult
    """
    k, tol, max_iter, seed = _check_common(operator, k, tol, max_iter, seed)
    check_choice("which", which, ("largest", "magnitude"))
    warm_start_noise = check_nonnegative("warm_start_noise", warm_start_noise)
    n = operator.size
    m_max = min(n, max_iter if max_iter is not None else max(300, 4 * k))
    q, gen = _start_vector(operator, v0, seed, warm_start_noise)
    # the Krylov basis grows in blocks (a full m_max x n buffer would cost more to allocate than a few products)
    Q = torch.empty((min(m_max, 32), n), dtype=operator.dtype, device=operator.device)
    alphas, betas = [], []
    start = getattr(operator, "n_matvec", 0)
    converged = False
    theta = sel = S = None
    res = np.full(k, np.inf)
    beta = 0.0
    m = 0
    block_start = 0
    for j in range(m_max):
        if j == Q.shape[0]:
            Q = torch.cat([Q, torch.empty((min(m_max, 2 * j) - j, n), dtype=Q.dtype, device=Q.device)])
        Q[j] = q
        w = operator.matvec(q)
        alpha = float(torch.dot(q, w))
        w = w - alpha * q
        if j > 0:
            w = w - betas[-1] * Q[j - 1]
        for _ in range(2):  # full reorthogonalization, twice is enough
            w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        beta = float(torch.linalg.vector_norm(w))
        alphas.append(alpha)
        m = j + 1
        breakdown = beta <= 1e-10 * max(abs(alpha), 1e-300) or beta == 0.0
        if m >= k and (not breakdown or m == n):
            if m == 1:
                theta, S = np.array([alpha]), np.ones((1, 1))
            else:
                theta, S = scipy.linalg.eigh_tridiagonal(np.array(alphas), np.array(betas))
            order = np.argsort(-np.abs(theta) if which == "magnitude" else -theta, kind="stable")
            sel = order[:k]
            scale = float(np.max(np.abs(theta)))
            res = beta * np.abs(S[-1, sel])
            # after a restart, T is block diagonal: the block built since the restart must
            # have converged too (its top Ritz values may still grow past the earlier ones)
            check = sel
            if block_start > 0:
                in_block = np.linalg.norm(S[block_start:, order], axis=0) > 0.5
                check = np.union1d(sel, order[in_block][:k])
            if np.all(beta * np.abs(S[-1, check]) <= tol * np.maximum(np.abs(theta[check]), 1e-12 * scale)):
                converged = True
                break
        if m == m_max:
            break
        if breakdown:
            # invariant subspace (the residual estimates would read 0 although eigenvalues
            # outside it -- a larger one, or a repeated one -- are missed): restart with a
            # random vector orthogonal to the basis and keep going
            r = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype=operator.dtype, device=operator.device)
            for _ in range(2):
                r = r - Q[:m].T @ (Q[:m] @ r)
            nr = float(torch.linalg.vector_norm(r))
            if nr == 0.0:
                break
            betas.append(0.0)
            block_start = m
            q = r / nr
        else:
            betas.append(beta)
            q = w / beta
    vectors = Q[:m].T @ torch.as_tensor(S[:, sel], dtype=operator.dtype, device=operator.device)
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=0, keepdim=True)
    values = theta[sel]
    order = np.argsort(-values, kind="stable")
    return EigenResult(values=values[order].astype(np.float64), vectors=vectors[:, torch.as_tensor(order.copy())],
                       residuals=res[order], converged=bool(converged),
                       n_matvec=getattr(operator, "n_matvec", 0) - start, iterations=m,
                       method="lanczos", tol=tol)


def power_iteration(operator, k=1, *, tol=1e-6, max_iter=1000, v0=None, seed=0):
    """Dominant eigenpairs by power iteration (k = 1) or subspace iteration (k > 1).

    ``V <- orth(A V)`` with a Rayleigh-Ritz step on ``span(V)`` each iteration
    (``k`` products per iteration); stops when every Ritz pair has residual
    ``||A y - theta y|| <= tol * |theta|``.  Converges to the eigenvalues of largest
    magnitude at the rate ``|lambda_{k+1} / lambda_k|`` per iteration.

    Parameters
    ----------
    operator : CurvatureOperator
    k : int
    tol : float
    max_iter : int
        Maximum number of iterations (each costs ``k`` products).
    v0 : torch.Tensor, optional
        Warm start, shape ``(n,)`` or ``(n, j)`` (columns used first, random fill).
    seed : int

    Returns
    -------
    EigenResult
        Values sorted largest first.
    """
    k, tol, max_iter, seed = _check_common(operator, k, tol, max_iter, seed)
    n = operator.size
    gen = torch.Generator().manual_seed(seed)
    V = torch.randn((n, k), generator=gen, dtype=torch.float64).to(dtype=operator.dtype, device=operator.device)
    if v0 is not None:
        v0 = torch.as_tensor(v0).to(dtype=operator.dtype, device=operator.device)
        v0 = v0.reshape(n, -1) if v0.numel() % n == 0 and v0.shape[0] == n else None
        if v0 is None:
            raise ValueError(f"v0 has the wrong shape; allowed: ({n},) or ({n}, j)")
        j = min(k, v0.shape[1])
        V[:, :j] = v0[:, :j]
    V, _ = torch.linalg.qr(V)
    start = getattr(operator, "n_matvec", 0)
    converged = False
    values = np.zeros(k)
    res = np.full(k, np.inf)
    Y = V
    it = 0
    for it in range(1, max_iter + 1):
        W = torch.stack([operator.matvec(V[:, i]) for i in range(k)], dim=1)
        T = V.T @ W
        T = 0.5 * (T + T.T)
        th, S = torch.linalg.eigh(T)
        order = torch.argsort(-th.abs())
        th, S = th[order], S[:, order]
        Y = V @ S
        AY = W @ S
        R = AY - Y * th
        values = th.detach().cpu().double().numpy()
        res = torch.linalg.vector_norm(R, dim=0).detach().cpu().double().numpy()
        if np.all(res <= tol * np.maximum(np.abs(values), 1e-300)):
            converged = True
            break
        V, _ = torch.linalg.qr(AY)
    order = np.argsort(-values, kind="stable")
    Y = Y / torch.linalg.vector_norm(Y, dim=0, keepdim=True)
    return EigenResult(values=values[order], vectors=Y[:, torch.as_tensor(order.copy())], residuals=res[order],
                       converged=bool(converged), n_matvec=getattr(operator, "n_matvec", 0) - start,
                       iterations=it, method="power_iteration", tol=tol)

