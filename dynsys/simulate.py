"""Trajectories of an optimizer on an objective, as labelled ``xarray.Dataset``.

:func:`trajectory` runs the compiled map (:mod:`dynsys.kernels`) and labels the
result. On ``x^k/k`` it uses log coordinates by default, so ``log10_loss`` stays
exact when the loss is far below 1e-308 (Adam's linear-convergence regime,
math.md D5: the loss falls like ``b2^{k t/(2(k-2))}``).

Divergence convention
---------------------
The run stops at the first step ``t`` where the loss, the gradient or a moment
at ``x_t`` is not finite in float64, or the update from ``x_t`` is undefined
(``0/0`` or ``m/0``: ``eps = 0`` and ``v`` underflowed to 0) or gives a non-finite
``x_{t+1}``. The Dataset is then **truncated**: its last row is step ``t``
(``attrs['diverged_step'] == t``), flagged ``diverged = True``; all earlier rows
have ``diverged = False``. Nothing after the divergence step is stored, and no
NaN is stored anywhere: a quantity that left float64 in the final row is
``+-inf`` (e.g. ``eff_lr = eta/0 = inf`` when ``v = 0``); ``attrs['reason']``
says what happened. ``log10_loss`` is ``-inf`` only when the loss is exactly 0.

Values outside float64 without a divergence
-------------------------------------------
In log coordinates (``x^k/k``) the state and its statistics are exact far outside
float64, but the plain columns ``loss``, ``grad``, ``m``, ``v``, ``eff_lr`` are float64:
a value below ~1e-308 is stored as (signed) 0 and one above ~1e308 as ``inf``. Each has
an exact logarithmic twin (``log10_loss``, ``log10_abs_grad``, ``log10_abs_m``,
``log10_v``, ``log10_eff_lr``); ``diverged`` stays False because nothing went wrong.
Example: Adam (eta = 0.01, b2 = 0.9, eps = 0, no bias correction) on x^4/4 after
1e5 steps has ``log10_v ~ -4576`` and ``log10_eff_lr ~ 2286`` (``eff_lr = eta/sqrt(v)``
grows by ``b2^{-1/2}`` per step, math.md D13), stored as ``v = 0.0``, ``eff_lr = inf``.
"""
from __future__ import annotations

import math

import numpy as np

from dynsys._validate import check_int
from dynsys.kernels import logpower as _logpower
from dynsys.kernels import raw as _raw
from dynsys.kernels.status import OK, STATUS_REASONS
from dynsys.objectives import Objective, real_array
from dynsys.optimizers import OptimizerSpec

__all__ = ["trajectory", "MAX_ROWS"]

#: largest number of recorded rows one call may allocate
MAX_ROWS = 20_000_000
#: largest number of steps
MAX_STEPS = 10**10

_LN10 = math.log(10.0)


def _state_vector(name, value, dim, *, allow_none=False):
    if value is None and allow_none:
        return np.zeros(dim)
    arr = np.atleast_1d(real_array(name, value))
    if arr.ndim != 1:
        raise ValueError(f"{name} has shape {arr.shape}; allowed: a vector of length {dim}")
    if arr.shape[0] != dim:
        raise ValueError(f"{name} has length {arr.shape[0]}; allowed: length {dim} (the objective's dimension)")
    return np.ascontiguousarray(arr, dtype=np.float64)


def trajectory(optimizer: OptimizerSpec, objective: Objective, x0, steps: int, *, record_every: int = 1,
               m0=None, v0=None, log_space=None):
    """Run ``optimizer`` on ``objective`` from ``x0`` for ``steps`` updates.

    Parameters
    ----------
    optimizer : OptimizerSpec
        From :mod:`dynsys.optimizers` (its update rule is in that module's docstring).
    objective : Objective
        From :mod:`dynsys.objectives`.
    x0 : float or array of length ``objective.dim``
        Finite initial point.
    steps : int
        Number of updates, ``1 <= steps <= 1e10``.
    record_every : int, optional
        Keep every ``record_every``-th row (the last step, and a divergence step, are always kept).
    m0, v0 : float or array, optional
        Initial moments (default 0, as in PyTorch); ``v0 >= 0``.
    log_space : bool or None, optional
        Carry ``x^k/k`` in log coordinates (default: True for ``power``; only ``power`` allows True).

    Returns
    -------
    xarray.Dataset
        Coordinates ``step`` and ``dim``. Row ``t`` describes ``x_t`` and the update
        from it (moments include ``g(x_t)``, bias-correction count ``t+1``):

        ``x`` (step, dim); ``loss``; ``log10_loss`` (``log10 |L|``: LLAS and indefinite
        quadratics can be negative); ``grad`` (``g`` for d = 1, ``|g|`` for d > 1);
        ``m``, ``v`` (value for d = 1, Euclidean norm for d > 1);
        ``eff_lr = max_i eta_t/(sqrt(vhat_i)+eps)`` (``eta_t`` for gd/momentum);
        ``precond_curvature = lambda_max(Hhat)``, ``Hhat = 1/(1-b1^{t+1}) (1-b1)/(1+b1)
        diag(1/(sqrt(vhat)+eps)) H`` (Eq. 7 of the Adam-preconditioners paper, math.md A3;
        without bias correction the first factor is 1; for gd ``lambda_max(H)``, for
        momentum ``(1-b)/(1+b) lambda_max(H)``): the update is locally stable while it
        is below ``2/eta_t`` (math.md A2, A3, E1); ``directional_curvature = g^T H g/|g|^2``
        (Eq. 8, math.md A6; ``L''`` for d = 1); ``log10_abs_x``, ``log10_abs_grad``,
        ``log10_abs_m``, ``log10_v``, ``log10_eff_lr`` (exact in log space, where the plain
        values under/overflow: e.g. Adam on x^4/4 after 1e5 steps at b2 = 0.9 has
        ``v ~ 10^-4576``, stored as ``v = 0.0``, and ``eff_lr ~ 10^2288``, stored as
        ``inf``, while these columns hold the exact logarithms); ``diverged`` (bool).

        ``attrs``: every optimizer and objective setting, ``x0``, ``steps``,
        ``record_every``, ``log_space``, ``diverged`` (0/1), ``diverged_step`` (-1 if none),
        ``reason`` ('' if none), ``dynsys_version``. See the module docstring for what
        is stored after a divergence (the Dataset is truncated there).

    Raises
    ------
    ValueError
        For any invalid argument (naming it, its value and the allowed range).
    """
    if not isinstance(optimizer, OptimizerSpec):
        raise ValueError(f"optimizer = {optimizer!r} is not an OptimizerSpec; allowed: dynsys.optimizers.gd/momentum/rmsprop/adam/adamw(...)")
    if not isinstance(objective, Objective):
        raise ValueError(f"objective = {objective!r} is not an Objective; allowed: dynsys.objectives.power/quadratic/llas/powerlaw_fit(...)")
    dim = objective.dim
    x0 = _state_vector("x0", x0, dim)
    m0 = _state_vector("m0", m0, dim, allow_none=True)
    v0 = _state_vector("v0", v0, dim, allow_none=True)
    if np.any(v0 < 0):
        raise ValueError(f"v0 has negative entries (min {v0.min()!r}); allowed: v0 >= 0")
    steps = check_int("steps", steps, low=1, high=MAX_STEPS)
    record_every = check_int("record_every", record_every, low=1, high=MAX_STEPS)
    rows = steps // record_every + 2
    if rows > MAX_ROWS:
        raise ValueError(f"record_every = {record_every!r} keeps {rows} rows of {steps} steps; "
                         f"allowed: record_every >= {steps // (MAX_ROWS - 2) + 1} (at most {MAX_ROWS} rows)")
    if log_space is None:
        log_space = objective.name == "power"
    elif not isinstance(log_space, (bool, np.bool_)):
        raise ValueError(f"log_space = {log_space!r} is not a bool or None; allowed: True, False or None")
    elif log_space and objective.name != "power":
        raise ValueError(f"log_space = True is not available for objective {objective.name!r}; allowed: only for 'power'")
    log_space = bool(log_space)

    opt = optimizer
    adaptive = opt.adaptive
    if log_space:
        data, status, fail = _run_log(opt, objective, x0, m0, v0, steps, record_every, rows)
    else:
        data, status, fail = _run_raw(opt, objective, x0, m0, v0, steps, record_every, rows)
    del adaptive
    return _to_dataset(data, opt, objective, x0, steps, record_every, log_space, status, fail)


def _run_raw(opt, objective, x0, m0, v0, steps, record_every, rows):
    d = objective.dim
    rec = {
        "step": np.zeros(rows, dtype=np.int64),
        "x": np.zeros((rows, d)),
        "loss": np.zeros(rows),
        "grad": np.zeros(rows),
        "m": np.zeros(rows),
        "v": np.zeros(rows),
        "eff_lr": np.zeros(rows),
        "precond_curvature": np.zeros(rows),
        "directional_curvature": np.zeros(rows),
    }
    n, status, fail = _raw.run(
        *objective.kernel_args(), x0, m0, v0, opt.lr, opt.lr_decay, opt.beta1, opt.beta2, opt.eps,
        opt.weight_decay, opt.adaptive, opt.bias_correction, steps, record_every,
        rec["step"], rec["x"], rec["loss"], rec["grad"], rec["m"], rec["v"], rec["eff_lr"],
        rec["precond_curvature"], rec["directional_curvature"])
    out = {key: val[:n] for key, val in rec.items()}
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out["log10_loss"] = np.log10(np.abs(out["loss"]))
        xa = np.abs(out["x"])
        scale = xa.max(axis=1, initial=0.0)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        xn = np.where(np.isfinite(scale), safe * np.sqrt(np.sum((xa / safe[:, None]) ** 2, axis=1)), np.inf)
        xn = np.where(scale > 0, xn, 0.0)
        out["log10_abs_x"] = np.log10(xn)
        out["log10_abs_grad"] = np.log10(np.abs(out["grad"]))
        out["log10_abs_m"] = np.log10(np.abs(out["m"]))
        out["log10_v"] = np.log10(np.abs(out["v"]))
        out["log10_eff_lr"] = np.log10(out["eff_lr"])
    return out, int(status), int(fail)


def _run_log(opt, objective, x0, m0, v0, steps, record_every, rows):
    k = objective.k
    mant = np.zeros((rows, 5))
    expo = np.zeros((rows, 5), dtype=np.int64)
    leff = np.zeros(rows)
    lprec = np.zeros(rows)
    rec_step = np.zeros(rows, dtype=np.int64)
    n, status, fail = _logpower.run(
        k, float(x0[0]), float(m0[0]), float(v0[0]), opt.lr, opt.lr_decay, opt.beta1, opt.beta2, opt.eps,
        opt.weight_decay, opt.adaptive, opt.bias_correction, steps, record_every,
        rec_step, mant, expo, leff, lprec)
    mant, expo, leff, lprec = mant[:n], expo[:n], leff[:n], lprec[:n]
    # values: exact scaling by 2**e (0 or +-inf outside float64, where the log10 columns stay exact)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = np.ldexp(mant, np.clip(expo, -2**31 + 1, 2**31 - 1).astype(np.int32))
        logs10 = (np.log(np.abs(mant)) + expo * math.log(2.0)) / _LN10
        ln_h = np.zeros(n) if k == 2 else math.log(k - 1.0) + (k - 2) * logs10[:, 0] * _LN10
        out = {
            "step": rec_step[:n],
            "x": values[:, 0:1],
            "loss": values[:, 1],
            "grad": values[:, 2],
            "m": values[:, 3],
            "v": values[:, 4] if opt.adaptive else np.zeros(n),
            "eff_lr": np.exp(leff),
            "precond_curvature": np.exp(lprec),
            "directional_curvature": np.exp(ln_h),
            "log10_loss": logs10[:, 1],
            "log10_abs_x": logs10[:, 0],
            "log10_abs_grad": logs10[:, 2],
            "log10_abs_m": logs10[:, 3],
            "log10_v": logs10[:, 4] if opt.adaptive else np.full(n, -np.inf),
            "log10_eff_lr": leff / _LN10,
        }
    return out, int(status), int(fail)


_DESCRIPTIONS = {
    "x": "iterate x_t",
    "loss": "L(x_t)",
    "log10_loss": "log10 |L(x_t)| (exact in log space)",
    "grad": "gradient g_t (d = 1) or its norm |g_t| (d > 1); outside float64 see log10_abs_grad",
    "m": "first moment after folding in g_t (d > 1: norm); outside float64 see log10_abs_m",
    "v": "second moment after folding in g_t (d > 1: norm); below 1e-308 stored as 0, see log10_v",
    "eff_lr": "effective learning rate max_i eta_t/(sqrt(vhat_i)+eps); eta_t for gd/momentum; "
              "above 1e308 stored as inf, see log10_eff_lr (exact)",
    "precond_curvature": "lambda_max of the preconditioned Hessian, Eq. 7 (A3); stable below 2/eta_t",
    "directional_curvature": "g^T H g/|g|^2 (Eq. 8, A6)",
    "log10_abs_x": "log10 |x_t| (norm for d > 1)",
    "log10_abs_grad": "log10 |g_t| (norm for d > 1)",
    "log10_abs_m": "log10 |m| (norm for d > 1)",
    "log10_v": "log10 v (norm for d > 1)",
    "log10_eff_lr": "log10 eff_lr",
    "diverged": "True on the last row when the run stopped there (see attrs reason)",
}


def _to_dataset(data, opt, objective, x0, steps, record_every, log_space, status, fail):
    import xarray as xr

    from dynsys import __version__

    n = len(data["step"])
    diverged = np.zeros(n, dtype=bool)
    if status != OK:
        diverged[-1] = True
    variables = {}
    for name, val in data.items():
        if name == "step":
            continue
        val = np.asarray(val, dtype=np.float64)
        if np.isnan(val).any():  # only possible in a failing last row: see module docstring
            val = np.where(np.isnan(val), np.inf, val)
        dims = ("step", "dim") if val.ndim == 2 else ("step",)
        variables[name] = (dims, val, {"description": _DESCRIPTIONS[name]})
    variables["diverged"] = (("step",), diverged, {"description": _DESCRIPTIONS["diverged"]})
    attrs = {}
    attrs.update(opt.attrs())
    attrs.update(objective.attrs())
    attrs.update({
        "x0": np.asarray(x0, dtype=np.float64),
        "steps": int(steps),
        "record_every": int(record_every),
        "log_space": int(log_space),
        "diverged": int(status != OK),
        "diverged_step": int(fail) if status != OK else -1,
        "reason": STATUS_REASONS[status],
        "dynsys_version": __version__,
    })
    coords = {"step": np.asarray(data["step"], dtype=np.int64), "dim": np.arange(objective.dim)}
    return xr.Dataset(variables, coords=coords, attrs=attrs)
