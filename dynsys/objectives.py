"""Objectives (loss landscapes) as validated values, one definition two forms.

The numeric form (``loss``, ``grad``, ``hessian``) calls the numba functions of
:mod:`dynsys.kernels.objective_fns` -- the very code the trajectory kernels run;
the symbolic form (:meth:`Objective.symbolic`) is a sympy expression of the same
loss; ``tests/test_objectives.py`` proves they agree.

* :func:`power` -- ``L(x) = x^k/k``, ``k`` even ``>= 2`` (Eq. 2 of the
  degenerate-polynomials paper; ``k = 2`` is its Appendix F quadratic).
* :func:`quadratic` -- ``L(x) = x^T A x / 2`` with a diagonal or dense symmetric ``A``
  (math.md E1: GD converges iff ``eta < 2/lambda_max(A)``).
* :func:`llas` -- ``f(x, y) = (50x + 200) y^2 - x + 5`` (LLAS toy of the
  loss-spike-in-training-neural-networks paper, math.md F1).
* :func:`powerlaw_fit` -- ``(1/2N) sum_k (y_k - C x_k^alpha)^2`` over ``(C, alpha)``
  (the edge-of-stability blog's non-linear least squares, math.md E3), on data
  from :func:`zipf_data`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dynsys._validate import check_choice, check_even_k, check_finite_array, check_int, check_symmetric
from dynsys.kernels import objective_fns as _fns
from dynsys.optimizers import check_nonnegative, check_positive

__all__ = [
    "Objective",
    "power",
    "quadratic",
    "llas",
    "powerlaw_fit",
    "zipf_data",
    "make_objective",
    "OBJECTIVES",
]

OBJECTIVES = ("power", "quadratic", "llas", "powerlaw-fit")

def real_array(name: str, value, ndim=None) -> np.ndarray:
    """A finite float64 array; bools, strings, complex numbers and overflowing ints are refused.

    Raises ``ValueError`` naming ``name``, the value and the allowed range.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ValueError(f"{name} = {value!r} is not an array of real numbers; allowed: finite real array")
    if isinstance(value, (list, tuple)):
        flat = np.asarray(value, dtype=object).ravel() if _regular(value) else value
        if any(isinstance(v, (str, bytes, bool, np.bool_, complex)) or v is None for v in flat):
            raise ValueError(f"{name} = {value!r} contains non-real entries; allowed: finite real array")
    if isinstance(value, np.ndarray) and (value.dtype == bool or np.iscomplexobj(value) or value.dtype.kind in "OUSV"):
        if value.dtype.kind != "O":
            raise ValueError(f"{name} = {value!r} is not an array of real numbers; allowed: finite real array")
    return check_finite_array(name, value, ndim)


def _regular(value) -> bool:
    try:
        np.asarray(value, dtype=object)
        return True
    except ValueError:
        return False


_EMPTY1 = np.zeros(0)
_EMPTY2 = np.zeros((0, 0))


@dataclass(frozen=True, eq=False)
class Objective:
    """A loss landscape: name, dimension, numeric and symbolic forms.

    Attributes
    ----------
    name : str
        One of :data:`OBJECTIVES`.
    dim : int
        Number of parameters.
    kind : int
        Kernel dispatch code (:mod:`dynsys.kernels.objective_fns`).
    k : int
        Exponent of ``x^k/k`` (0 for the other objectives).
    A : ndarray (dim, dim)
        Matrix of the quadratic (empty otherwise).
    data_x, data_y : ndarray
        Data of the power-law fit (empty otherwise).
    settings : dict
        The constructor's arguments, for :meth:`attrs`.
    """

    name: str
    dim: int
    kind: int
    k: int = 0
    A: np.ndarray = field(default_factory=lambda: _EMPTY2)
    data_x: np.ndarray = field(default_factory=lambda: _EMPTY1)
    data_y: np.ndarray = field(default_factory=lambda: _EMPTY1)
    settings: dict = field(default_factory=dict)

    # -- numeric form --------------------------------------------------------
    def _point(self, x) -> np.ndarray:
        arr = np.atleast_1d(real_array("x", x))
        if arr.ndim != 1:
            raise ValueError(f"x has shape {arr.shape}; allowed: a vector of length {self.dim}")
        if arr.shape[0] != self.dim:
            raise ValueError(f"x has length {arr.shape[0]}; allowed: length {self.dim} (the objective's dimension)")
        return np.ascontiguousarray(arr)

    def kernel_args(self):
        """``(kind, k, A, data_x, data_y)`` for the numba kernels."""
        return self.kind, self.k, self.A, self.data_x, self.data_y

    def loss(self, x) -> float:
        """Loss at ``x`` (a length-``dim`` vector or, for ``dim == 1``, a scalar)."""
        return float(_fns.loss(*self.kernel_args(), self._point(x)))

    def grad(self, x) -> np.ndarray:
        """Gradient at ``x`` as a length-``dim`` array."""
        out = np.empty(self.dim)
        _fns.grad(*self.kernel_args(), self._point(x), out)
        return out

    def hessian(self, x) -> np.ndarray:
        """Hessian at ``x`` as a ``(dim, dim)`` array."""
        out = np.empty((self.dim, self.dim))
        _fns.hessian(*self.kernel_args(), self._point(x), out)
        return out

    # -- symbolic form -------------------------------------------------------
    def symbolic(self):
        """``(symbols, loss_expr)``: the same loss as a sympy expression.

        Floats (matrix entries, data) enter as ``sympy.Float`` with 17 digits.
        """
        import sympy as sp

        def F(val):
            return sp.Float(repr(float(val)), 20)

        if self.name == "power":
            x = sp.Symbol("x", real=True)
            return [x], x ** self.k / self.k
        if self.name == "quadratic":
            xs = sp.symbols(f"x0:{self.dim}", real=True)
            expr = sum(F(self.A[i, j]) * xs[i] * xs[j] for i in range(self.dim) for j in range(self.dim)
                       if self.A[i, j] != 0.0) / 2
            return list(xs), sp.sympify(expr)
        if self.name == "llas":
            x, y = sp.symbols("x y", real=True)
            return [x, y], (50 * x + 200) * y ** 2 - x + 5
        C, a = sp.symbols("C alpha", real=True)
        n = self.data_x.shape[0]
        expr = sum((F(yi) - C * F(xi) ** a) ** 2 for xi, yi in zip(self.data_x, self.data_y)) / (2 * n)
        return [C, a], expr

    def attrs(self) -> dict:
        """Plain values for ``xarray`` attrs (netCDF-storable: numbers, strings, 1-D arrays)."""
        out = {"objective": self.name, "dim": int(self.dim)}
        for key, val in self.settings.items():
            if isinstance(val, np.ndarray):
                if val.ndim == 2:
                    out[f"{key}_shape"] = np.asarray(val.shape, dtype=np.int64)
                    val = val.ravel()
                out[key] = np.asarray(val, dtype=np.float64)
            else:
                out[key] = val
        return out

    def __repr__(self) -> str:
        return f"Objective(name={self.name!r}, dim={self.dim})"


def power(k) -> Objective:
    """``L(x) = x^k / k`` on the real line, ``k`` even ``>= 2``.

    ``g = x^{k-1}``, ``L'' = (k-1) x^{k-2}`` (Eq. 2 of the degenerate-polynomials paper).

    Raises
    ------
    ValueError
        If ``k`` is not an even integer ``>= 2`` (or above 1000).
    """
    k = check_even_k("k", k, minimum=2)
    if k > 1000:
        raise ValueError(f"k = {k!r} is out of range; allowed: even integer 2 <= k <= 1000")
    return Objective(name="power", dim=1, kind=_fns.POWER, k=k, settings={"k": k})


def quadratic(A) -> Objective:
    """``L(x) = x^T A x / 2`` with ``A`` a 1-D array (the diagonal) or a dense symmetric matrix.

    ``g = A x``, ``H = A``; GD converges iff ``0 < eta lambda_max(A) < 2`` for
    positive definite ``A`` (math.md E1).
    """
    arr = real_array("A", A)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        mat = np.diag(arr)
    elif arr.ndim == 2:
        mat = check_symmetric("A", arr)
    else:
        raise ValueError(f"A has shape {arr.shape}; allowed: a 1-D diagonal or a 2-D symmetric matrix")
    if mat.shape[0] > 4096:
        raise ValueError(f"A has shape {mat.shape}; allowed: dimension <= 4096")
    mat = np.ascontiguousarray(mat, dtype=np.float64)
    return Objective(name="quadratic", dim=mat.shape[0], kind=_fns.QUADRATIC, A=mat, settings={"A": mat.copy()})


def llas() -> Objective:
    """The LLAS toy ``f(x, y) = (50x + 200) y^2 - x + 5`` (math.md F1).

    ``df/dx = 50 y^2 - 1``, ``df/dy = 2(50x + 200) y``; at ``y = 0`` the Hessian
    eigenvalues are ``100x + 400`` and 0.
    """
    return Objective(name="llas", dim=2, kind=_fns.LLAS, settings={})


def zipf_data(n=64, alpha=1.0, noise=0.1, seed=0):
    """Seeded Zipf-like word-frequency data ``(x, y)`` (no download).

    ``x_k = k`` (rank, ``k = 1..n``), ``y_k = x_k^{-alpha} / H_n(alpha) * exp(noise * xi_k)``
    with ``H_n(alpha) = sum_k k^{-alpha}`` (frequencies summing to about 1, as for
    the word-frequency data of the edge-of-stability blog) and ``xi_k ~ N(0, 1)``
    from ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    n : int, 2 <= n <= 10**6
    alpha : float, 0 < alpha <= 10 -- the Zipf exponent (the fitted power is ``-alpha``)
    noise : float, 0 <= noise <= 10 -- log-normal noise level
    seed : int, >= 0
    """
    n = check_int("n", n, low=2, high=10**6)
    alpha = check_positive("alpha", alpha)
    if alpha > 10:
        raise ValueError(f"alpha = {alpha!r} is out of range; allowed: 0 < alpha <= 10")
    noise = check_nonnegative("noise", noise)
    if noise > 10:
        raise ValueError(f"noise = {noise!r} is out of range; allowed: 0 <= noise <= 10")
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=np.float64)
    w = x ** (-alpha)
    y = w / w.sum() * np.exp(noise * rng.standard_normal(n))
    return x, y


def powerlaw_fit(x=None, y=None, *, n=64, alpha=1.0, noise=0.1, seed=0) -> Objective:
    """Power-law least squares ``L(C, a) = (1/2N) sum_k (y_k - C x_k^a)^2`` (math.md E3).

    The parameters are ``(C, a)``; the data ``(x, y)`` (``x > 0``) default to
    :func:`zipf_data` ``(n, alpha, noise, seed)``.
    """
    if (x is None) != (y is None):
        raise ValueError("x and y must be given together; allowed: both None (Zipf data) or two equal-length arrays")
    if x is None:
        x, y = zipf_data(n=n, alpha=alpha, noise=noise, seed=seed)
        settings = {"n": int(len(x)), "alpha": float(alpha), "noise": float(noise), "seed": int(seed)}
    else:
        x = real_array("x", x, ndim=1)
        y = real_array("y", y, ndim=1)
        if x.shape != y.shape:
            raise ValueError(f"y has shape {y.shape}; allowed: the shape of x, {x.shape}")
        if np.any(x <= 0):
            raise ValueError(f"x has entries <= 0 (min {x.min()!r}); allowed: x > 0 (x^alpha must be real)")
        settings = {}
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    settings.update({"data_x": x.copy(), "data_y": y.copy()})
    return Objective(name="powerlaw-fit", dim=2, kind=_fns.POWERLAW, data_x=x, data_y=y, settings=settings)


def make_objective(name, **kw) -> Objective:
    """Build objective ``name`` (one of :data:`OBJECTIVES`) from keywords.

    ``power``: ``k``; ``quadratic``: ``A``; ``llas``: none; ``powerlaw-fit``:
    ``x, y, n, alpha, noise, seed``.
    """
    if not isinstance(name, str):
        raise ValueError(f"name = {name!r} is not valid; allowed: one of {', '.join(OBJECTIVES)}")
    check_choice("name", name, OBJECTIVES)
    allowed = {"power": ("k",), "quadratic": ("A",), "llas": (), "powerlaw-fit": ("x", "y", "n", "alpha", "noise", "seed")}[name]
    for key in kw:
        if key not in allowed:
            raise ValueError(f"{key} = {kw[key]!r} is not a setting of {name}; allowed: {', '.join(allowed) or 'none'}")
    if name == "power":
        if "k" not in kw:
            raise ValueError("k is missing; allowed: even integer k >= 2")
        return power(kw["k"])
    if name == "quadratic":
        if "A" not in kw:
            raise ValueError("A is missing; allowed: 1-D diagonal or symmetric matrix")
        return quadratic(kw["A"])
    if name == "llas":
        return llas()
    return powerlaw_fit(**kw)
