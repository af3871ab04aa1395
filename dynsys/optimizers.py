"""Optimizer hyperparameters as validated values.

An :class:`OptimizerSpec` says *which* update rule runs and with which
hyperparameters; the compiled update itself lives in :mod:`dynsys.kernels` and
is run by :func:`dynsys.simulate.trajectory`. Every optimizer here is one member
of a single family (math.md, "Adam (PyTorch convention)"), with the gradient
``g_t = grad L(x_t)`` and the step size ``eta_t = lr * lr_decay**t``:

.. math::

    m_t &= \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
    v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\\\
    \\hat m_t &= m_t / (1-\\beta_1^{t}), \\qquad \\hat v_t = v_t/(1-\\beta_2^{t})
    \\quad(\\text{bias correction; } t \\text{ counts updates from 1}), \\\\
    x_{t+1} &= (1 - \\eta_t \\lambda) x_t - \\eta_t \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon).

* ``gd``: ``beta1 = 0`` and no ``v`` (``x -= eta_t g``); with ``lr_decay != 1``
  it is GD with the exponential schedule of Eq. 17 of the degenerate-polynomials
  paper (math.md D10).
* ``momentum``: heavy ball in EMA form, ``m_t = beta m_{t-1} + (1-beta) g_t``,
  ``x -= eta_t m_t`` (Lemma 1 / Eq. B.2 of the Adam-preconditioners paper, math.md A2).
* ``rmsprop``: ``beta1 = 0`` with ``v`` (PyTorch ``RMSprop(alpha=beta2)``; no bias
  correction by default).
* ``adam``: PyTorch ``Adam``: eps is added to ``sqrt(vhat)``.
* ``adamw``: PyTorch ``AdamW``: decoupled weight decay ``x *= (1 - eta_t wd)``
  first, then the Adam step with the gradient taken at the old ``x``.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

from dynsys import _validate
from dynsys._validate import check_choice

__all__ = [
    "OptimizerSpec",
    "gd",
    "momentum",
    "rmsprop",
    "adam",
    "adamw",
    "make_optimizer",
    "OPTIMIZERS",
]

OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam", "adamw")

#: optimizers that divide by ``sqrt(vhat) + eps``
ADAPTIVE = ("rmsprop", "adam", "adamw")


def _checked(check, name: str, value, *args, **kw):
    """Run a ``dynsys._validate`` check, turning ``OverflowError`` (e.g. ``float(10**400)``) into ``ValueError``."""
    try:
        return check(name, value, *args, **kw)
    except OverflowError:
        raise ValueError(f"{name} = {value!r} is too large for float64; allowed: a finite real number") from None


def check_positive(name, value):  # noqa: F811 - overflow-safe wrapper of the shared check
    """``value > 0`` and finite (``ValueError`` naming ``name`` otherwise)."""
    return _checked(_validate.check_positive, name, value)


def check_nonnegative(name, value):  # noqa: F811
    """``value >= 0`` and finite."""
    return _checked(_validate.check_nonnegative, name, value)


def check_in_range(name, value, *args, **kw):  # noqa: F811
    """``low <= value <= high`` (open ends as asked)."""
    return _checked(_validate.check_in_range, name, value, *args, **kw)


def _check_bool(name: str, value) -> bool:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} = {value!r} is not a bool; allowed: True or False")


def _check_beta(name: str, value) -> float:
    return check_in_range(name, value, 0.0, 1.0, high_open=True)


@dataclass(frozen=True)
class OptimizerSpec:
    """Hyperparameters of one optimizer of the Adam family (see module docstring).

    Build it with :func:`gd`, :func:`momentum`, :func:`rmsprop`, :func:`adam`,
    :func:`adamw` or :func:`make_optimizer`; they validate every field.

    Attributes
    ----------
    name : str
        One of :data:`OPTIMIZERS`.
    lr : float
        Base learning rate ``eta_0 > 0``.
    beta1 : float
        First-moment EMA factor in ``[0, 1)`` (the heavy-ball ``beta`` for
        ``momentum``; 0 for ``gd`` and ``rmsprop``).
    beta2 : float
        Second-moment EMA factor in ``[0, 1)`` (unused, 0, for ``gd``/``momentum``).
    eps : float
        ``>= 0``, added to ``sqrt(vhat)`` (PyTorch convention).
    bias_correction : bool
        Divide ``m`` by ``1 - beta1^t`` and ``v`` by ``1 - beta2^t``.
    weight_decay : float
        Decoupled weight decay ``lambda >= 0`` (``x *= 1 - eta_t lambda``).
    lr_decay : float
        ``gamma > 0``: ``eta_t = lr * gamma**t``.
    """

    name: str
    lr: float
    beta1: float = 0.0
    beta2: float = 0.0
    eps: float = 0.0
    bias_correction: bool = False
    weight_decay: float = 0.0
    lr_decay: float = 1.0

    @property
    def adaptive(self) -> bool:
        """True when the update divides by ``sqrt(vhat) + eps``."""
        return self.name in ADAPTIVE

    def eta(self, t):
        """Learning rate of update ``t`` (0-based): ``lr * lr_decay**t``."""
        return self.lr * self.lr_decay ** t

    def attrs(self) -> dict:
        """Plain values for ``xarray`` attrs (bools as 0/1 so netCDF can store them)."""
        out = {}
        for key, val in asdict(self).items():
            out[key if key != "name" else "optimizer"] = int(val) if isinstance(val, bool) else val
        return out


def gd(lr, lr_decay=1.0) -> OptimizerSpec:
    """Gradient descent ``x_{t+1} = x_t - lr * lr_decay**t * g_t``.

    With ``lr_decay = gamma != 1`` this is the exponential schedule of Eq. 17 of
    the degenerate-polynomials paper (math.md D10): on ``x^k/k`` the effective
    sharpness ``s_t = eta_t x_t^{k-2}`` follows ``s -> gamma s (1-s)^{k-2}``.

    Raises
    ------
    ValueError
        If ``lr <= 0`` or ``lr_decay <= 0`` or either is not a finite real.
    """
    return OptimizerSpec(
        name="gd", lr=check_positive("lr", lr), lr_decay=check_positive("lr_decay", lr_decay)
    )


def momentum(lr, beta=0.9, lr_decay=1.0) -> OptimizerSpec:
    """Heavy-ball momentum in EMA form (math.md A2, Lemma 1 of the Adam-preconditioners paper).

    ``m_t = beta m_{t-1} + (1-beta) g_t``, ``x_{t+1} = x_t - eta_t m_t``.
    On a quadratic with Hessian ``H`` it converges iff
    ``lambda_max(H) < (2/eta) (1+beta)/(1-beta)``.
    ``beta`` is stored as ``beta1``.
    """
    return OptimizerSpec(
        name="momentum",
        lr=check_positive("lr", lr),
        beta1=_check_beta("beta", beta),
        lr_decay=check_positive("lr_decay", lr_decay),
    )


def rmsprop(lr, beta2=0.99, eps=0.0, bias_correction=False, lr_decay=1.0) -> OptimizerSpec:
    """RMSProp: Adam with ``beta1 = 0`` (math.md notation), PyTorch ``RMSprop(alpha=beta2)``.

    ``v_t = beta2 v_{t-1} + (1-beta2) g_t^2``, ``x_{t+1} = x_t - eta_t g_t/(sqrt(vhat_t)+eps)``.
    On ``x^k/k`` it acts like GD with schedule ``gamma = 1/sqrt(beta2)`` (math.md D10).
    """
    return OptimizerSpec(
        name="rmsprop",
        lr=check_positive("lr", lr),
        beta2=_check_beta("beta2", beta2),
        eps=check_nonnegative("eps", eps),
        bias_correction=_check_bool("bias_correction", bias_correction),
        lr_decay=check_positive("lr_decay", lr_decay),
    )


def adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True, lr_decay=1.0) -> OptimizerSpec:
    """Adam in the PyTorch convention (math.md header; Eq. 1-3 of the Adam-preconditioners paper).

    ``x_{t+1} = x_t - eta_t mhat_t/(sqrt(vhat_t) + eps)`` with bias-corrected moments
    (``bias_correction=False`` uses ``m_t, v_t`` as they are, as the
    degenerate-polynomials paper does).
    """
    return OptimizerSpec(
        name="adam",
        lr=check_positive("lr", lr),
        beta1=_check_beta("beta1", beta1),
        beta2=_check_beta("beta2", beta2),
        eps=check_nonnegative("eps", eps),
        bias_correction=_check_bool("bias_correction", bias_correction),
        lr_decay=check_positive("lr_decay", lr_decay),
    )


def adamw(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, bias_correction=True, lr_decay=1.0) -> OptimizerSpec:
    """AdamW (decoupled weight decay, PyTorch order).

    ``x <- x (1 - eta_t wd)``, then the Adam step with ``g_t = grad L(x_t)`` of the
    old ``x``: ``x_{t+1} = (1 - eta_t wd) x_t - eta_t mhat_t/(sqrt(vhat_t)+eps)``
    (math.md C3 for its stability threshold).
    """
    return OptimizerSpec(
        name="adamw",
        lr=check_positive("lr", lr),
        beta1=_check_beta("beta1", beta1),
        beta2=_check_beta("beta2", beta2),
        eps=check_nonnegative("eps", eps),
        bias_correction=_check_bool("bias_correction", bias_correction),
        weight_decay=check_nonnegative("weight_decay", weight_decay),
        lr_decay=check_positive("lr_decay", lr_decay),
    )


_CONSTRUCTORS = {"gd": gd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}


def make_optimizer(name, **kw) -> OptimizerSpec:
    """Build optimizer ``name`` (one of :data:`OPTIMIZERS`) from keyword hyperparameters.

    Unknown keywords raise ``ValueError`` naming them and the allowed ones.
    """
    if not isinstance(name, str):
        raise ValueError(f"name = {name!r} is not valid; allowed: one of {', '.join(OPTIMIZERS)}")
    check_choice("name", name, OPTIMIZERS)
    import inspect

    ctor = _CONSTRUCTORS[name]
    allowed = list(inspect.signature(ctor).parameters)
    for key in kw:
        if key not in allowed:
            raise ValueError(f"{key} = {kw[key]!r} is not a hyperparameter of {name}; allowed: {', '.join(allowed)}")
    if "lr" not in kw:
        raise ValueError(f"lr is missing; allowed: a real number lr > 0")
    return ctor(**kw)
