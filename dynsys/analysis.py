"""Curvature and spectral diagnostics of the papers (dense numpy).

- :func:`gradient_directional_curvature` -- ``lambda_grad = g^T H g / |g|^2``
  (Eq. 8 of the loss-spikes-in-Adam paper, claim A6).
- :func:`preconditioned_hessian` -- Adam's preconditioned Hessian, Eq. 7 of the
  same paper (claim A3), and its symmetric form (Lemma B.1, claim A1);
  :func:`preconditioned_sharpness` its largest eigenvalue.
- :func:`directional_sharpness` -- ``d^T H d / d^T g`` (Definition 2.2 of the
  critical-sharpness paper, claim C2).
- :func:`low_frequency_proportion` -- ``LFP(K)`` (Definition 3.1 / Eq. 3.2 of the
  loss-spike (LLAS) paper, claim F2).
- :func:`condensed_variance` -- ``V_cond`` (Definitions 5.1-5.2 of the LLAS
  paper, claim F2).

Curvature arguments ``H`` may be dense matrices or linear operators: anything
with ``H @ v`` (a scipy ``LinearOperator``) or a callable ``v -> H v`` (a
Hessian-vector product).
"""
from __future__ import annotations

import math

import numpy as np

from dynsys._validate import check_finite_array, check_in_range, check_int, check_nonnegative, check_symmetric

__all__ = [
    "gradient_directional_curvature",
    "preconditioned_hessian",
    "preconditioned_sharpness",
    "directional_sharpness",
    "low_frequency_proportion",
    "condensed_variance",
]


def _vector(name: str, value) -> np.ndarray:
    return check_finite_array(name, value, ndim=1)


def _apply(name: str, H, v: np.ndarray) -> np.ndarray:
    """``H v`` for a dense matrix, a LinearOperator or a callable Hessian-vector product."""
    if callable(H) and not isinstance(H, np.ndarray) and not hasattr(H, "matvec"):
        out = np.asarray(H(v), dtype=np.float64).reshape(-1)
        if out.shape != v.shape:
            raise ValueError(f"{name}(v) has shape {out.shape}; allowed: the shape of v, {v.shape}")
    elif hasattr(H, "matvec"):
        if H.shape != (v.size, v.size):
            raise ValueError(f"{name} has shape {H.shape}; allowed: ({v.size}, {v.size})")
        out = np.asarray(H.matvec(v), dtype=np.float64).reshape(-1)
    else:
        m = check_finite_array(name, H, ndim=2)
        if m.shape != (v.size, v.size):
            raise ValueError(f"{name} has shape {m.shape}; allowed: ({v.size}, {v.size}) to match the vector")
        out = m @ v
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} applied to the vector gives non-finite entries; allowed: finite curvature")
    return out


def gradient_directional_curvature(H, g) -> float:
    """Curvature along the gradient, ``lambda_grad(H) = g^T H g / |g|^2``.

    Eq. 8 of the loss-spikes-in-Adam paper (claim A6). Under the quadratic model
    one GD step of size ``eta`` raises the loss iff ``lambda_grad > 2/eta``; for a
    symmetric ``H``, ``lambda_min <= lambda_grad <= lambda_max`` (Rayleigh quotient).
    For Adam pass the preconditioned Hessian of Eq. 7 (:func:`preconditioned_hessian`,
    not symmetric) to get ``lambda_grad(Hhat)``; with ``g`` the update
    ``u = mhat/(sqrt(vhat)+eps)`` the same quotient is ``lambda_update(Hhat)``.

    Parameters
    ----------
    H : (n, n) array, LinearOperator or callable ``v -> H v``
    g : (n,) array, not zero

    Raises
    ------
    ValueError
        Shapes that do not match, non-finite entries, ``g = 0``.
    """
    g = _vector("g", g)
    gg = float(g @ g)
    if gg == 0.0:
        raise ValueError("g is the zero vector; allowed: a non-zero gradient (lambda_grad is undefined at g = 0)")
    return float(g @ _apply("H", H, g)) / gg


def directional_sharpness(H, d, g) -> float:
    """Directional sharpness along the update ``d``: ``S_dir = d^T H d / d^T g``.

    Definition 2.2 of the critical-sharpness paper (claim C2). Under the quadratic
    model ``L(theta - eta d) = L - eta g.d + eta^2/2 d^T H d``, so one step raises
    the loss iff ``eta > 2 g.d / d^T H d``: the critical learning rate is
    ``eta_c = 2 / S_dir`` when ``S_dir > 0``. For GD (``d = g``) ``S_dir =
    lambda_grad(H) = sum c_i^2 lambda_i / sum c_i^2 <= lambda_max(H)`` (Result 2.1);
    for ``d = P^{-1} g`` it is the Rayleigh quotient of ``P^{-1/2} H P^{-1/2}`` at
    ``P^{-1/2} g``, bounded by ``lambda_max(P^{-1} H)`` (Result 2.2).

    Returns the signed ratio: ``S_dir <= 0`` with ``g.d > 0`` means the quadratic
    model never rises along ``d`` (no finite critical rate); ``g.d < 0`` means
    ``d`` is an ascent direction.

    Raises
    ------
    ValueError
        Mismatched shapes, non-finite entries, or ``d . g = 0`` (undefined).
    """
    d = _vector("d", d)
    g = _vector("g", g)
    if d.shape != g.shape:
        raise ValueError(f"d has shape {d.shape} and g {g.shape}; allowed: equal shapes")
    dg = float(d @ g)
    if dg == 0.0:
        raise ValueError("d . g = 0; allowed: an update direction with d . g != 0 (S_dir is undefined)")
    return float(d @ _apply("H", H, d)) / dg


def _precond_scale(vhat, b1, t, eps, n) -> tuple[np.ndarray, float]:
    vhat = _vector("vhat", vhat)
    if vhat.size != n:
        raise ValueError(f"vhat has {vhat.size} entries; allowed: {n} (one per parameter)")
    if np.any(vhat < 0):
        raise ValueError(f"vhat has a negative entry ({float(vhat.min())!r}); allowed: vhat >= 0")
    b1 = check_in_range("b1", b1, 0.0, 1.0, high_open=True)
    eps = check_nonnegative("eps", eps)
    if t is None:
        bias = 1.0
    else:
        t = check_int("t", t, low=1)
        bias = 1.0 / (1.0 - b1**t) if b1 > 0 else 1.0
    denom = np.sqrt(vhat) + eps
    if np.any(denom == 0.0):
        raise ValueError("sqrt(vhat) + eps = 0 for some entry; allowed: eps > 0 or vhat > 0 everywhere")
    return 1.0 / denom, bias * (1.0 - b1) / (1.0 + b1)


def preconditioned_hessian(H, vhat, b1, t, eps, *, symmetric=False) -> np.ndarray:
    """Adam's preconditioned Hessian, Eq. 7 of the loss-spikes-in-Adam paper (A3).

    ``Hhat_t = 1/(1 - b1^t) * (1 - b1)/(1 + b1) * diag(1/(sqrt(vhat_t) + eps)) H_t``.

    Stability of Adam under the quadratic model with a slowly changing
    preconditioner needs ``lambda_max(Hhat_t) < 2/eta``. ``Hhat`` is not symmetric;
    by Lemma B.1 (claim A1) it is similar to the symmetric
    ``c D^{1/2} H D^{1/2}`` (``D = diag(1/(sqrt(vhat)+eps))``, ``c`` the scalar
    factor), returned with ``symmetric=True``: same (real) eigenvalues, use
    ``numpy.linalg.eigvalsh`` on it.

    Parameters
    ----------
    H : (n, n) symmetric array
    vhat : (n,) array, ``>= 0`` -- bias-corrected second moment
    b1 : float in [0, 1)
    t : int >= 1, or None -- step for the bias correction ``1/(1-b1^t)``;
        None leaves it out (bias correction off, or ``t -> inf``)
    eps : float >= 0, with ``sqrt(vhat) + eps > 0``
    symmetric : bool -- return the symmetric similar form instead

    Raises
    ------
    ValueError
        On any argument outside the ranges above.
    """
    H = check_symmetric("H", H)
    dinv, c = _precond_scale(vhat, b1, t, eps, H.shape[0])
    if symmetric:
        s = np.sqrt(dinv)
        out = c * (s[:, None] * H * s[None, :])
        return 0.5 * (out + out.T)
    return c * (dinv[:, None] * H)


def preconditioned_sharpness(H, vhat, b1, t, eps) -> float:
    """``lambda_max(Hhat_t)`` of Eq. 7, computed through the symmetric form (A1)."""
    return float(np.linalg.eigvalsh(preconditioned_hessian(H, vhat, b1, t, eps, symmetric=True))[-1])


def low_frequency_proportion(values_on_grid, K) -> float:
    """Low-frequency proportion ``LFP(K)``, Definition 3.1 (Eq. 3.2) of the LLAS paper.

    ``LFP(K) = sum_{|k| <= K} |f^(k)|^2 / sum_k |f^(k)|^2``

    with ``f^`` the discrete Fourier transform (``numpy.fft.fft``) of the values.

    Conventions (the paper leaves them open):

    - ``values_on_grid`` are samples ``f(x_j)`` of a function of one input on a
      *uniform* grid ``x_j = a + j (b - a)/n``, ``j = 0..n-1``: in the paper, the
      output difference of two networks (e.g. ``f_peak - f_end``), or a residual.
      The window is treated as one period, so frequency ``k`` is ``k`` cycles per
      window. Sample on a uniform grid before calling (not at scattered data points).
    - The spectrum is two-sided: ``|k| <= K`` counts frequencies ``+k`` and ``-k``
      together, so by Parseval the ratio is the fraction of the signal's power
      (mean square) carried by frequencies up to ``K``. ``k = 0`` (the mean) is the
      lowest frequency and is included; subtract the mean first to leave it out.

    Properties: ``0 <= LFP <= 1``, non-decreasing in ``K``, ``LFP = 1`` for
    ``K >= n // 2``; ``sin(2 pi k0 x)`` has ``LFP(K) = 1`` for ``K >= k0`` and 0 below.

    Parameters
    ----------
    values_on_grid : (n,) or (n, 1) real array, n >= 2, not identically zero
    K : int >= 0, the low-frequency threshold

    Raises
    ------
    ValueError
        Non-finite or too few values, an all-zero signal (LFP undefined), bad ``K``.
    """
    f = check_finite_array("values_on_grid", values_on_grid)
    if f.ndim == 2 and f.shape[1] == 1:  # a column of network outputs, shape (n, 1)
        f = f[:, 0]
    if f.ndim != 1:
        raise ValueError(f"values_on_grid has shape {f.shape}; allowed: (n,) or (n, 1) samples on a uniform grid")
    if f.size < 2:
        raise ValueError(f"values_on_grid has {f.size} value; allowed: at least 2 samples")
    K = check_int("K", K, low=0)
    power = np.abs(np.fft.fft(f)) ** 2
    total = float(power.sum())
    if total == 0.0:
        raise ValueError("values_on_grid is identically zero; allowed: a non-zero signal (LFP is 0/0)")
    freq = np.abs(np.fft.fftfreq(f.size, d=1.0 / f.size))  # integer frequencies, |k|
    return float(min(1.0, power[freq <= K].sum() / total))


def condensed_variance(weights, magnitudes=None) -> float:
    """Condensed variance of a layer's neurons, Definitions 5.1-5.2 of the LLAS paper.

    Each neuron ``i`` with input weight and bias ``(w_i, b_i)`` has direction and
    magnitude (Definition 5.1)::

        theta_i = arctan(b_i / w_i),     r_i = sqrt(w_i^2 + b_i^2),

    the magnitude-weighted mean direction is
    ``theta_bar = arctan2(sum r_i sin theta_i / sum r_i, sum r_i cos theta_i / sum r_i)``
    and (Definition 5.2)::

        V_cond = sum r_i (theta_i - theta_bar)^2 / sum r_i.

    As in the paper, ``theta_i`` uses the one-argument arctan, so it lies in
    ``(-pi/2, pi/2]``: ``(w, b)`` and ``(-w, -b)`` have the same direction (an
    orientation, not a signed direction), all ``cos theta_i >= 0`` so
    ``theta_bar`` lies in the same interval, and differences are not wrapped.
    ``w_i = 0`` gives ``theta_i = pi/2`` (the vertical orientation, whatever the
    sign of ``b_i``, so that antiparallel neurons always share ``theta``).
    ``V_cond = 0`` iff all neurons with ``r_i > 0`` share one orientation.

    Parameters
    ----------
    weights : (n, 2) array of ``(w_i, b_i)``
    magnitudes : (n,) array >= 0, optional
        Weights ``r_i`` to use instead of ``sqrt(w^2 + b^2)``, e.g. the amplitude
        ``|a_i| |(w_i, b_i)|`` of the paper's Section 5.1.

    Raises
    ------
    ValueError
        Wrong shape, non-finite entries, negative magnitudes, or all ``r_i = 0``.
    """
    w = check_finite_array("weights", weights, ndim=2)
    if w.shape[1] != 2:
        raise ValueError(f"weights has shape {w.shape}; allowed: (n, 2), one (w_i, b_i) row per neuron")
    wi, bi = w[:, 0], w[:, 1]
    if magnitudes is None:
        r = np.hypot(wi, bi)
    else:
        r = _vector("magnitudes", magnitudes)
        if r.size != w.shape[0]:
            raise ValueError(f"magnitudes has {r.size} entries; allowed: {w.shape[0]} (one per neuron)")
        if np.any(r < 0):
            raise ValueError(f"magnitudes has a negative entry ({float(r.min())!r}); allowed: magnitudes >= 0")
    total = float(r.sum())
    if total == 0.0:
        raise ValueError("all magnitudes are 0; allowed: at least one neuron with r_i > 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(wi != 0.0, np.arctan(bi / np.where(wi != 0.0, wi, 1.0)), math.pi / 2)
    theta_bar = math.atan2(float(np.sum(r * np.sin(theta))) / total, float(np.sum(r * np.cos(theta))) / total)
    return float(np.sum(r * (theta - theta_bar) ** 2) / total)
