"""Critical learning rate and critical sharpness of a torch optimizer's next update (math.md C1, C4).

The critical learning rate along the update ``d`` the optimizer would take now
(per unit learning rate, so that the real step is ``theta <- theta - lr d``) is
(Definition 2.1 of the critical-sharpness paper)

.. math:: \\eta_c = \\min\\{\\eta > 0 : L(\\theta - \\eta d) > L(\\theta)\\}, \\qquad S_c = 2/\\eta_c .

``d`` is derived from the optimizer's live state *without stepping it*
(:func:`dynsys.nn.updates.update_direction`): for Adam
``d = mhat_{t+1}/(sqrt(vhat_{t+1}) + eps)`` with the moments updated as the next
``step()`` would update them (plus ``weight_decay * theta`` for AdamW's decoupled
decay), for SGD the (heavy-ball/Nesterov) momentum buffer as the next step would
form it.  The loss along ``d`` is evaluated by forward passes with the
parameters substituted through ``torch.func.functional_call``: the model's
parameters, buffers, the optimizer state and the caller's random stream are never
modified.  The line search is :func:`dynsys.linesearch.critical_step_size`
(doubling/halving from a guess, then model-guided bisection to ``rel_tol``).

Under the quadratic model ``eta_c = 2 g^T d / d^T H d``, i.e. ``S_c`` equals the
directional sharpness ``d^T H d / g^T d`` (C2); for GD (``d = g``) it is
``g^T H g / g^T g = lambda_grad(H) <= lambda_max(H)``.

Relative critical sharpness (C4): the same line search on a second loss (another
data set or objective) along the update of the first
(:func:`relative_critical_sharpness`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dynsys._validate import check_int, check_positive
from dynsys.linesearch import critical_step_size
from dynsys.nn.hvp import ForwardGuard, _LossModule, _items, loss_and_gradient
from dynsys.nn.params import check_model, parameter_layout, unflatten
from dynsys.nn.updates import update_direction

__all__ = ["CriticalLearningRate", "critical_learning_rate", "relative_critical_sharpness", "loss_along"]


@dataclass(frozen=True)
class CriticalLearningRate:
    """Bracket around the critical learning rate of the optimizer's next update.

    Attributes
    ----------
    lower, upper : float
        ``L(theta - lower d) <= L(theta) < L(theta - upper d)`` (``lower = 0`` when
        every tried step raised the loss, ``upper = inf`` when none did).
    n_forward : int
        Forward passes of the line search (the gradient for ``d`` and ``L(theta)``
        cost one extra forward+backward unless ``gradient`` and ``loss0`` were passed).
    estimate : float
        ``(lower + upper)/2`` (the paper's choice), ``inf`` when no rise was found.
    critical_sharpness : float
        ``2 / estimate`` (0.0 when no rise was found).
    converged : bool
        The bracket exists and ``upper/lower - 1 <= rel_tol``.
    loss0 : float
        ``L(theta)`` of the loss searched.
    lr : float
        The optimizer's current learning rate (``2/lr`` is the threshold to compare
        ``critical_sharpness`` with: the next real step raises the loss iff
        ``lr > estimate``).
    direction_norm : float
        ``|d|``.
    descent : bool
        ``g^T d > 0``.  When False (momentum can make Adam's or SGD's update point
        uphill) the loss rises for every small step: ``lower = upper = estimate = 0``,
        ``critical_sharpness = inf``, no forward pass spent.
    """

    lower: float
    upper: float
    n_forward: int
    estimate: float
    critical_sharpness: float
    converged: bool
    loss0: float
    lr: float
    direction_norm: float
    descent: bool = True


def loss_along(model, loss_fn, data, theta, direction, guard=None):
    """``eta -> L(theta - eta * direction)`` by forward passes, parameters substituted, not modified."""
    layout = parameter_layout(model)
    wrapper = _LossModule(model, loss_fn)
    keys = ["model." + n for n in layout.names]
    guard = guard or ForwardGuard(model)

    def loss_at(eta):
        flat = theta - float(eta) * direction
        pd = dict(zip(keys, unflatten(flat, layout)))
        total = 0.0
        with torch.no_grad(), guard():
            for chunk, w in _items(data):
                total += w * float(torch.func.functional_call(wrapper, pd, (chunk,), strict=False))
        return total

    return loss_at


def _search(model, loss_fn, data, optimizer, *, rel_tol, guess, max_evals, gradient, loss0,
            eval_loss_fn=None, eval_data=None):
    check_model(model)
    if not callable(loss_fn):
        raise ValueError(f"loss_fn = {loss_fn!r} is not callable; allowed: a function loss_fn(model, data) -> scalar tensor")
    rel_tol = check_positive("rel_tol", rel_tol)
    if rel_tol > 1:
        raise ValueError(f"rel_tol = {rel_tol!r} is out of range; allowed: 0 < rel_tol <= 1")
    if guess is not None:
        guess = check_positive("guess", guess)
        if math.isinf(guess):
            guess = None
    max_evals = check_int("max_evals", max_evals, low=2)
    layout = parameter_layout(model)
    guard = ForwardGuard(model)
    if gradient is None or loss0 is None:
        l0, g = loss_and_gradient(model, loss_fn, data, layout, guard=guard)
        gradient = g if gradient is None else gradient
        loss0 = l0 if loss0 is None else loss0
    d, lr = update_direction(model, optimizer, gradient, layout=layout)
    theta = torch.cat([p.detach().reshape(-1) for p in layout.params])
    if eval_loss_fn is not None:
        # value and slope of the second loss at theta (one forward + backward): if the first
        # loss's update is an ascent direction of L_2, eta_c = 0 at once (no halving down to
        # rounding level)
        try:
            loss0, slope_grad = loss_and_gradient(model, eval_loss_fn, eval_data, layout, guard=guard)
        except ValueError as exc:
            raise ValueError(f"the second loss: {exc}") from None
        loss_at = loss_along(model, eval_loss_fn, eval_data, theta, d, guard)
        n_extra = 1
    else:
        loss_at = loss_along(model, loss_fn, data, theta, d, guard)
        slope_grad = gradient
        n_extra = 0
    dn = float(torch.linalg.vector_norm(d))
    if dn == 0.0:
        return CriticalLearningRate(0.0, math.inf, n_extra, math.inf, 0.0, False, float(loss0), lr, 0.0)
    slope = float(torch.dot(d, slope_grad))
    if slope <= 0.0:
        # d is not a descent direction (Adam's momentum can point uphill; or, for C4, the update
        # of the first loss raises the second): the loss rises for every small step, eta_c = 0
        # and S_c = inf; no line search needed
        return CriticalLearningRate(0.0, 0.0, n_extra, 0.0, math.inf, True, float(loss0), lr, dn, descent=False)
    if guess is None:
        guess = lr if lr > 0 else 1.0
    res = critical_step_size(loss_at, loss0, guess=guess, rel_tol=rel_tol, max_evals=max_evals)
    return CriticalLearningRate(lower=res.lower, upper=res.upper, n_forward=res.n_evals + n_extra,
                                estimate=res.estimate, critical_sharpness=res.sharpness, converged=res.converged,
                                loss0=float(loss0), lr=lr, direction_norm=dn)


def critical_learning_rate(model, loss_fn, data, optimizer, *, rel_tol=0.01, guess=None, max_evals=60,
                           gradient=None, loss0=None):
    """Interval around the critical learning rate of the update ``optimizer`` would take now (C1).

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, data)`` returns a scalar tensor.
    data : object or DataChunks
    optimizer : torch.optim.SGD, Adam, AdamW, or None
        Defines the update direction ``d`` (``None``: plain GD, ``d = g``).  Its
        state is read, never modified; Adam need not have stepped yet (the next
        step is then its first).
    rel_tol : float
        Stop when ``upper/lower - 1 <= rel_tol`` (``0 < rel_tol <= 1``).
    guess : float, optional
        Starting learning rate; pass the previous ``estimate`` to warm-start (a
        guess within 2x costs at most 8 forward passes at ``rel_tol = 0.01``,
        ``benchmarks/bench_nn.py``).  Default: the optimizer's ``lr``.
    max_evals : int
        Cap on line-search forward passes.
    gradient : torch.Tensor, optional
        Flat gradient at the current parameters, if already computed.
    loss0 : float, optional
        ``L(theta)``, if already computed.

    Returns
    -------
    CriticalLearningRate
        ``lower``, ``upper``, ``n_forward``, ``estimate``, ``critical_sharpness = 2/estimate``.
    """
    return _search(model, loss_fn, data, optimizer, rel_tol=rel_tol, guess=guess, max_evals=max_evals,
                   gradient=gradient, loss0=loss0)


def relative_critical_sharpness(model, loss_fn, data, optimizer, other_loss_fn, other_data, *, rel_tol=0.01,
                                guess=None, max_evals=60, gradient=None):
    """Critical learning rate of a second loss along the first loss's update (C4).

    ``eta_c = min{eta > 0 : L_2(theta - eta d_1) > L_2(theta)}`` with ``d_1`` the update
    ``optimizer`` would take for ``loss_fn`` on ``data``; ``L_2`` is
    ``other_loss_fn(model, other_data)`` (e.g. the pre-training loss while fine-tuning,
    Sec. 4 of the critical-sharpness paper).  ``n_forward`` includes the one
    forward (+ backward) pass for ``L_2(theta)`` and its slope ``grad L_2 . d``.  When
    that slope is ``<= 0`` the update is an ascent direction of ``L_2``: the result has
    ``lower = upper = estimate = 0``, ``critical_sharpness = inf``, ``descent = False``
    and no line search is run.
    """
    if not callable(other_loss_fn):
        raise ValueError(f"other_loss_fn = {other_loss_fn!r} is not callable; allowed: a function loss_fn(model, data)")
    return _search(model, loss_fn, data, optimizer, rel_tol=rel_tol, guess=guess, max_evals=max_evals,
                   gradient=gradient, loss0=None, eval_loss_fn=other_loss_fn, eval_data=other_data)
