"""Loss-spike predictors on a torch model (math.md A3, A6, C2, C3).

Notation: ``g`` the gradient, ``H`` the Hessian at the current parameters,
``D = c diag(1/(sqrt(vhat)+eps))`` with ``c = (1-b1)/((1+b1)(1-b1^t))`` read from
the live Adam state (Eq. 7 of the loss-spikes-in-Adam paper), ``Hhat = D H`` and
its symmetric form ``S = D^{1/2} H D^{1/2}`` (Lemma B.1; same eigenvalues).

``lambda_max_H``
    largest eigenvalue of ``H`` (Lanczos).  GD is stable iff ``< 2/eta`` (Eq. 4).
``lambda_max_Hhat``
    largest eigenvalue of ``Hhat`` (= of ``S``).  Adam is stable iff ``< 2/eta`` (Eq. 7).
``lambda_grad_H``
    ``g^T H g / |g|^2`` (Eq. 8): one GD step raises the quadratic model iff ``> 2/eta``.
``lambda_grad_Hhat``
    the paper writes ``g^T Hhat g / |g|^2``, which for the non-symmetric ``Hhat``
    is neither bounded by ``lambda_max(Hhat)`` nor tied to the loss change.  We use the
    symmetric form: the Rayleigh quotient of ``S`` at the preconditioned gradient
    ``w = D^{1/2} g``,

    .. math:: \\lambda_{grad}(\\hat H) = \\frac{w^T S w}{w^T w} = \\frac{(Dg)^T H (Dg)}{g^T D g},

    which lies in ``[lambda_min(Hhat), lambda_max(Hhat)]`` and, for the
    preconditioned step ``-eta D g``, is ``> 2/eta`` iff that step raises the
    quadratic model (the adaptive case of Eq. 8; Result 2.2 of the
    critical-sharpness paper).  The paper's literal quotient is also available as
    ``lambda_grad_Hhat_literal = g^T D H g / |g|^2``.
``lambda_update_Hhat``
    the same Rayleigh quotient at the update actually taken,
    ``u = mhat/(sqrt(vhat)+eps)`` from the live state (``exp_avg``, ``exp_avg_sq``):
    ``w = D^{-1/2} u``, ``lambda_update = u^T H u / (u^T D^{-1} u)`` (math.md A6).
``directional_sharpness``
    ``d^T H d / d^T g`` along the update ``d`` the optimizer will take next (per
    unit learning rate; C2): under the quadratic model the critical learning
    rate is ``2 / directional_sharpness``.
``lambda_grad_Hhat_sustained``
    ``min`` of ``lambda_grad_Hhat`` over steps ``t-1, t, t+1`` (A6), a function of a
    recorded series (:func:`sustained_predictor`).
``threshold``
    the stability threshold of the optimizer in use (:func:`stability_threshold`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dynsys._validate import check_choice, check_int, check_positive
from dynsys.nn.critical import critical_learning_rate
from dynsys.nn.eigen import lanczos, power_iteration
from dynsys.nn.hvp import HVP_METHODS
from dynsys.nn.operators import (BlockOperator, CurvatureOperator, HessianOperator, PreconditionedHessianOperator,
                                 check_adam, weight_decay_diagonals)
from dynsys.nn.params import check_model, parameter_layout
from dynsys.nn.updates import last_adam_update, update_direction

__all__ = ["hessian_lambda_max", "compute_predictors", "stability_threshold",
           "directional_sharpness", "sustained_predictor", "PREDICTORS", "coupled_l2"]

PREDICTORS = ("lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat", "lambda_grad_Hhat_literal",
              "lambda_update_Hhat", "directional_sharpness")


def coupled_l2(optimizer) -> float:
    """The coupled L2 coefficient an optimizer adds to the gradient (0 for AdamW / none).

    torch ``SGD`` and ``Adam`` (without ``decoupled_weight_decay``) add
    ``weight_decay * theta`` to the gradient, so they minimize ``L + wd |theta|^2/2``
    whose Hessian is ``H + wd I``.
    """
    if optimizer is None:
        return 0.0
    wds = set()
    for group in optimizer.param_groups:
        wd = float(group.get("weight_decay", 0.0))
        decoupled = isinstance(optimizer, torch.optim.AdamW) or bool(group.get("decoupled_weight_decay", False))
        wds.add(0.0 if decoupled else wd)
    if len(wds) > 1:
        raise ValueError(f"optimizer param groups have different coupled weight_decay values {sorted(wds)}; "
                         "allowed: one weight_decay for all groups")
    return wds.pop()


def _check_solver_args(tol, seed, method, solver, k):
    tol = check_positive("tol", tol)
    seed = check_int("seed", seed, low=0)
    check_choice("method", method, HVP_METHODS)
    check_choice("solver", solver, ("lanczos", "power"))
    k = check_int("k", k, low=1)
    return tol, seed, k


def _solve(op, k, tol, seed, v0, solver, max_iter):
    if solver == "lanczos":
        return lanczos(op, k=k, tol=tol, seed=seed, v0=v0, max_iter=max_iter)
    return power_iteration(op, k=k, tol=tol, seed=seed, v0=v0, max_iter=max_iter or 1000)


def hessian_lambda_max(model, loss_fn, data, *, optimizer=None, tol=1e-6, seed=0, k=1, v0=None,
                       method="double_backward", solver="lanczos", max_iter=None, state="current"):
    """``lambda_max(H)``, or ``lambda_max(Hhat)`` of Eq. 7 when ``optimizer`` is a stepped Adam/AdamW.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, data)`` returns a scalar tensor.
    data : object or DataChunks
    optimizer : torch.optim.Adam or AdamW, optional
        If given, the preconditioned Hessian ``Hhat = D H`` (Eq. 7 of the
        loss-spikes-in-Adam paper) from its live state, solved through
        ``S = D^{1/2} H D^{1/2}`` (Lemma B.1).  With Adam's coupled
        ``weight_decay`` the Hessian includes ``+ weight_decay * I`` (``+ W_c``, the
        diagonal of each parameter's group decay, when groups differ).
    tol : float
        Relative residual tolerance ``||A y - lambda y|| <= tol |lambda|``.
    seed : int
        Seed of the random start vector.
    k : int
        Number of top eigenpairs.
    v0 : torch.Tensor, optional
        Warm start in original parameter coordinates (the previous ``vector``).
    method : str
        Hessian-vector product method (:data:`dynsys.nn.hvp.HVP_METHODS`).
    solver : {"lanczos", "power"}
    max_iter : int, optional
    state : {"current", "next"}
        Which Adam state defines ``D`` (:func:`dynsys.nn.operators.adam_preconditioner`).

    Returns
    -------
    EigenResult
        ``value``, ``vector`` (unit norm, *original parameter coordinates*: for
        ``Hhat`` the right eigenvector ``D^{1/2} w`` of ``Hhat``, ``Hhat x = lambda x``),
        ``n_hvp``, ``converged``, ``residual`` (of the symmetric operator solved:
        ``H``, or ``S`` for ``Hhat``).
    """
    check_model(model)
    tol, seed, k = _check_solver_args(tol, seed, method, solver, k)
    layout = parameter_layout(model)
    if optimizer is not None:
        check_adam(optimizer)
    l2 = 0.0 if optimizer is None else weight_decay_diagonals(optimizer, layout)[0]
    hess = HessianOperator(model, loss_fn, data, method=method, l2=l2 if isinstance(l2, float) else 0.0, layout=layout)
    if not isinstance(l2, float):  # param groups with different coupled decays: H + W_c
        hess = _Shift(hess, l2)
    if optimizer is None:
        res = _solve(hess, k, tol, seed, v0, solver, max_iter)
        res.coordinates = "original"
        return res
    op = PreconditionedHessianOperator(hess, optimizer, state=state)
    w0 = None if v0 is None else op.from_original(torch.as_tensor(v0).to(dtype=op.dtype, device=op.device).reshape(op.size, -1).sum(1))
    res = _solve(op, k, tol, seed, w0, solver, max_iter)
    res.extra["operator_vectors"] = res.vectors
    res.vectors = op.to_original(res.vectors)
    res.coordinates = "original"
    return res


# ----------------------------------------------------------------------------- learning rate

def _common_lr(optimizer, lr=None):
    if lr is not None:
        return check_positive("lr", lr)
    lrs = {float(g["lr"]) for g in optimizer.param_groups}
    if len(lrs) > 1:
        raise ValueError(f"optimizer param groups have different learning rates {sorted(lrs)}; allowed: pass lr= "
                         "explicitly (updates are then expressed per unit of that lr)")
    return lrs.pop()


# ----------------------------------------------------------------------------- thresholds

def stability_threshold(optimizer, lr=None):
    """Stability thresholds of the optimizer in use (math.md A2, A3, C3).

    Returns a dict with ``threshold`` (the one to compare the optimizer's own
    curvature with: ``lambda_max_H`` for GD/SGD, ``lambda_max_Hhat`` for Adam),
    ``threshold_H`` and/or ``threshold_Hhat``, ``threshold_directional``
    (``= 2/lr``: the next step raises the loss iff ``directional_sharpness`` or
    ``critical_sharpness`` exceeds it), ``lr`` and ``kind``.

    * GD / SGD with coupled weight decay ``wd``, heavy-ball momentum ``mu`` and dampening
      ``tau`` (torch ``b <- mu b + (1-tau) g``): the linearized recursion
      ``x_{t+1} = (1 + mu - lr (1-tau) a) x_t - mu x_{t-1}`` with ``a = lambda + wd`` is stable iff
      ``lambda < 2 (1+mu) / (lr (1-tau)) - wd``; Nesterov (``tau = 0``):
      ``lambda < 2 (1+mu) / (lr (1+2 mu)) - wd``; plain GD: ``2/lr - wd`` (C3).
    * Adam (coupled ``wd``): ``lambda_max(Hhat) < 2/lr`` with ``Hhat`` built on ``H + wd I``
      (Eq. 7 and Lemma 1: the factor ``(1-b1)/((1+b1)(1-b1^t))`` is inside ``Hhat``).
    * AdamW / decoupled decay ``wd``: ``lambda_max(Hhat) < 2/lr - wd``.  Derivation (slow
      preconditioner, as Result 10.4 of the critical-sharpness paper): along an
      eigenvector of ``P^{-1} H`` with eigenvalue ``a``, ``x_{t+1} = (1 - lr wd + b1 -
      (1-b1) lr' a) x_t - b1 (1 - lr wd) x_{t-1}`` with ``lr' = lr/(1-b1^t)``; the Jury
      condition ``1 + A + B > 0`` gives ``a (1-b1)/((1+b1)(1-b1^t)) < 2/lr - wd``, i.e.
      math.md C3 ``lambda_max(P^{-1}H) < (2/lr - wd)(1+b1)/(1-b1)`` written for Eq. 7's ``Hhat``.
    * Param groups with different decays (``W_d``, ``W_c``: the per-parameter decoupled and
      coupled decays, :func:`dynsys.nn.operators.weight_decay_diagonals`): the same recursion
      with ``wd`` replaced by the diagonal ``W_d`` has the eigenvalue ``-1`` iff
      ``lr (Hhat + W_d) x = 2 x`` (put ``x_{t+1} = -x_t = x_{t-1}``), with ``Hhat`` on
      ``H + W_c``; ``Hhat + W_d`` is similar to the symmetric ``S + W_d`` (``D`` and ``W_d``
      are diagonal), so the boundary is ``lambda_max(S + W_d) = 2/lr``. Written in the form
      above: ``lambda_max(Hhat) < 2/lr - wd_eff`` with the *effective weight decay*
      ``wd_eff = lambda_max(S + W_d) - lambda_max(S)``, ``min W_d <= wd_eff <= max W_d``
      (Weyl). Here ``threshold = 2/lr - max W_d`` (sufficient; ``threshold_exact: False``);
      :func:`compute_predictors` reports the exact one. Tested against the spectral radius
      of the dense linearized AdamW map.
    """
    if optimizer is None:
        if lr is None:
            raise ValueError("lr is None with optimizer=None; allowed: lr > 0 (the GD learning rate)")
        lr = check_positive("lr", lr)
        t = 2.0 / lr
        return {"kind": "gd", "lr": lr, "threshold": t, "threshold_H": t, "threshold_directional": t}
    lr = _common_lr(optimizer, lr)
    two = 2.0 / lr
    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        check_adam(optimizer)
        from dynsys.nn.operators import _is_decoupled
        pairs = [(float(g.get("weight_decay", 0.0)), _is_decoupled(optimizer, g)) for g in optimizer.param_groups]
        if len(set(pairs)) == 1:
            wd, decoupled = pairs[0]
            t = two - wd if decoupled else two
            return {"kind": "adamw" if decoupled else "adam", "lr": lr, "threshold": t, "threshold_Hhat": t,
                    "threshold_directional": two, "weight_decay": wd, "decoupled": decoupled}
        # groups with different decays (Hugging Face's default AdamW: wd on weights, 0 on biases
        # and LayerNorm): stable iff lambda_max(S_c + W_d) < 2/lr (see the docstring). Before
        # the operator is known, Weyl's inequality gives the sufficient bound 2/lr - max(W_d);
        # compute_predictors replaces it by the exact 2/lr - effective_weight_decay.
        wd_d = max(wd if dec else 0.0 for wd, dec in pairs)
        decs = {dec for _, dec in pairs}
        t = two - wd_d
        return {"kind": ("adamw" if decs == {True} else "adam") + "-mixed-decay", "lr": lr, "threshold": t,
                "threshold_Hhat": t, "threshold_directional": two, "weight_decay": wd_d,
                "decoupled": decs == {True}, "weight_decay_groups": tuple(wd for wd, _ in pairs),
                "threshold_exact": False}
    if type(optimizer) is torch.optim.SGD:
        vals = {(float(g.get("momentum", 0.0)), float(g.get("dampening", 0.0)), bool(g.get("nesterov", False)),
                 float(g.get("weight_decay", 0.0))) for g in optimizer.param_groups}
        if len(vals) > 1:
            raise ValueError("optimizer param groups have different momentum/weight decay; allowed: one setting")
        mu, tau, nesterov, wd = vals.pop()
        if nesterov:
            t = 2.0 * (1.0 + mu) / (lr * (1.0 + 2.0 * mu)) - wd
        else:
            t = 2.0 * (1.0 + mu) / (lr * (1.0 - tau)) - wd if tau < 1 else math.inf
        return {"kind": "sgd" if not mu else "momentum", "lr": lr, "threshold": t, "threshold_H": t,
                "threshold_directional": two, "momentum": mu, "weight_decay": wd, "nesterov": nesterov}
    raise ValueError(f"optimizer = {type(optimizer).__name__} is not supported; allowed: torch.optim.SGD, "
                     "torch.optim.Adam, torch.optim.AdamW or None (plain GD)")


def sustained_predictor(values):
    """``s_t = min(x_{t-1}, x_t, x_{t+1})`` over a recorded series (math.md A6).

    At the two ends the missing neighbour is left out (``s_0 = min(x_0, x_1)``); NaN
    entries propagate to the windows that contain them.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values has shape {x.shape}; allowed: a non-empty 1-D series")
    prev = np.concatenate([x[:1], x[:-1]])
    nxt = np.concatenate([x[1:], x[-1:]])
    return np.minimum(np.minimum(prev, x), nxt)


def directional_sharpness(hessian, d, g):
    """``d^T H d / d^T g`` (C2): under the quadratic model ``eta_c = 2 / directional_sharpness``."""
    dg = float(torch.dot(d, g))
    if dg == 0.0:
        raise ValueError("d^T g = 0: the update is orthogonal to the gradient; allowed: a direction with d^T g != 0")
    return float(torch.dot(d, hessian.matvec(d))) / dg


# ----------------------------------------------------------------------------- compute_predictors

def _nonzero(diag) -> bool:
    """Whether a decay (a float, or a per-parameter tensor) is not all zero."""
    return bool(diag) if isinstance(diag, float) else bool((diag != 0).any())


class _Shift(CurvatureOperator):
    """``A + diag(l2)`` on top of an operator, sharing its products.

    ``l2`` is a float (``H + l2 I``: Adam's coupled L2) or a flat tensor (per-parameter decays of
    param groups that differ: ``H + W_c``, or ``S + W_d`` for AdamW's decoupled decay).
    """

    def __init__(self, hessian, l2):
        super().__init__()
        self.hessian = hessian
        self.l2 = float(l2) if isinstance(l2, (int, float)) else l2.to(dtype=hessian.dtype, device=hessian.device)
        self.layout, self.gradient = getattr(hessian, "layout", None), getattr(hessian, "gradient", None)
        self.loss = getattr(hessian, "loss", None)
        self.size, self.dtype, self.device = hessian.size, hessian.dtype, hessian.device

    @property
    def n_hvp(self):
        return self.hessian.n_hvp

    def _matvec(self, v):
        return self.hessian.matvec(v) + self.l2 * v


def _rq(hv, v):
    vv = float(torch.dot(v, v))
    return float("nan") if vv == 0 else float(torch.dot(v, hv)) / vv


def compute_predictors(model, loss_fn, data, optimizer, *, predictors=None, lr=None, warm_start=None,
                       per_block=False, tol=1e-4, seed=0, method="double_backward", rel_tol=0.01,
                       max_iter=None):
    """All requested spike predictors at the current parameters, for a monitor called every N steps.

    Parameters
    ----------
    model, loss_fn, data
        ``loss_fn(model, data)`` returns a scalar tensor.
    optimizer : torch.optim.SGD, Adam, AdamW or None
        The optimizer in use (``None``: plain GD with ``lr``).  Read, never modified.
    predictors : sequence of str, optional
        Names from :data:`PREDICTORS` plus ``"critical_sharpness"``.  Default: all that
        apply (the ``Hhat`` ones only for Adam/AdamW).
    lr : float, optional
        Learning rate for the thresholds (default: the optimizer's).
    warm_start : dict, optional
        The ``"warm_start"`` entry of the previous call's result (eigenvectors,
        critical learning rate): warm-started solves need fewer products.
    per_block : bool
        Also compute each predictor on every parameter block (layer): ``lambda_max``
        of the block's diagonal Hessian block (``H_bb``, or ``D_b^{1/2} H_bb D_b^{1/2}``),
        and the Rayleigh quotients restricted to the block.
    tol : float
        Relative residual tolerance of the eigen-solves (eigenvalue error is far smaller).
    seed : int
    method : str
        Hessian-vector product method.
    rel_tol : float
        Relative precision of the critical learning rate.

    Returns
    -------
    dict
        ``loss``, ``grad_norm``, ``gradient`` (the flat gradient tensor), the threshold
        entries of :func:`stability_threshold`,
        one float per requested predictor, ``critical_lr`` and ``critical_lr_bracket``
        with ``critical_sharpness``, ``converged`` (name -> bool), ``n_hvp``,
        ``n_forward``, ``per_block`` (name -> {block -> float}, when asked, plus
        ``sqrt_vhat_norm`` for Adam) and ``warm_start`` (pass it to the next call).
    """
    check_model(model)
    tol, seed, _ = _check_solver_args(tol, seed, method, "lanczos", 1)
    is_adam = isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))
    allowed = PREDICTORS + ("critical_sharpness",)
    if predictors is None:
        predictors = [p for p in allowed if is_adam or "Hhat" not in p]
    elif isinstance(predictors, str):
        predictors = [p.strip() for p in predictors.split(",") if p.strip()]
    predictors = list(predictors)
    for name in predictors:
        check_choice("predictors", name, allowed)
    need_hhat = any("Hhat" in p for p in predictors)
    if need_hhat:
        check_adam(optimizer)
    thr = stability_threshold(optimizer, lr)
    warm = dict(warm_start or {})
    layout = parameter_layout(model)
    # the critical sharpness alone needs no Hessian-vector product: then skip the kept
    # gradient graph (a plain gradient is cheaper than one with create_graph=True)
    needs_hvp = any(p != "critical_sharpness" for p in predictors)
    hess = HessianOperator(model, loss_fn, data, method=method, layout=layout,
                           keep_graph=None if needs_hvp else False)
    g = hess.gradient
    out = {"loss": hess.loss, "grad_norm": float(torch.linalg.vector_norm(g)), "gradient": g}
    out.update(thr)
    converged, new_warm = {}, {}
    blocks = {}
    if per_block:
        blocks = {name: layout.block_index(name) for name in layout.blocks}
        out["per_block"] = {}
    hv_cache = {}

    def H_times(key, v):
        if key not in hv_cache:
            hv_cache[key] = hess.matvec(v)
        return hv_cache[key]

    if "lambda_max_H" in predictors:
        res = lanczos(hess, tol=tol, seed=seed, v0=warm.get("H"), max_iter=max_iter)
        out["lambda_max_H"], converged["lambda_max_H"] = res.value, res.converged
        new_warm["H"] = res.vector
        if per_block:
            vals = {}
            for b, idx in blocks.items():
                bres = lanczos(BlockOperator(hess, idx, b), tol=tol, seed=seed,
                               v0=warm.get("blocks_H", {}).get(b), max_iter=max_iter)
                vals[b] = bres.value
                new_warm.setdefault("blocks_H", {})[b] = bres.vector
            out["per_block"]["lambda_max_H"] = vals
    if "lambda_grad_H" in predictors or "lambda_grad_Hhat_literal" in predictors:
        if "lambda_grad_H" in predictors:
            out["lambda_grad_H"] = _rq(H_times("g", g), g)
            if per_block:
                out["per_block"]["lambda_grad_H"] = {
                    b: _rq(hess.matvec(_embed(g, idx))[idx], g[idx]) for b, idx in blocks.items()}
    if "directional_sharpness" in predictors or "critical_sharpness" in predictors:
        d, _ = update_direction(model, optimizer, g, layout=layout)
        if "directional_sharpness" in predictors:
            dg = float(torch.dot(d, g))
            out["directional_sharpness"] = float(torch.dot(d, H_times("d", d))) / dg if dg else float("nan")
    if need_hhat:
        l2, wd_d = weight_decay_diagonals(optimizer, layout)
        hop = _Shift(hess, l2) if _nonzero(l2) else hess
        pre = PreconditionedHessianOperator(hop, optimizer)
        D, sqrtD = pre.d, pre.sqrt_d
        if "lambda_max_Hhat" in predictors:
            w0 = warm.get("Hhat")
            w0 = None if w0 is None else pre.from_original(w0)
            res = lanczos(pre, tol=tol, seed=seed, v0=w0, max_iter=max_iter)
            out["lambda_max_Hhat"], converged["lambda_max_Hhat"] = res.value, res.converged
            new_warm["Hhat"] = pre.to_original(res.vector)
            if per_block:
                vals = {}
                for b, idx in blocks.items():
                    w0 = warm.get("blocks_Hhat", {}).get(b)
                    w0 = None if w0 is None else w0 / sqrtD[idx]
                    bres = lanczos(BlockOperator(pre, idx, b), tol=tol, seed=seed, v0=w0, max_iter=max_iter)
                    vals[b] = bres.value
                    x = sqrtD[idx] * bres.vector
                    new_warm.setdefault("blocks_Hhat", {})[b] = x / torch.linalg.vector_norm(x)
                out["per_block"]["lambda_max_Hhat"] = vals
            if not isinstance(wd_d, float):
                # groups with different decoupled decays: the exact threshold 2/lr - wd_eff,
                # wd_eff = lambda_max(S + W_d) - lambda_max(S) (see stability_threshold)
                dres = lanczos(_Shift(pre, wd_d), tol=tol, seed=seed, v0=res.vector, max_iter=max_iter)
                # wd_eff is a small difference of two large eigenvalues: combine the two solves' lower
                # bounds (Ritz values are Rayleigh quotients, below lambda_max), so that solver error in
                # one does not land in wd_eff: lambda(S) >= theta_2 - q_2, lambda(S+W) >= theta_1 + q_1
                # with q_i = v_i^T W_d v_i; then min W_d <= min(q_1, q_2) <= wd_eff <= max(q_1, q_2) <= max W_d
                q1, q2 = (float(torch.dot(v, wd_d * v)) / float(torch.dot(v, v)) for v in (res.vector, dres.vector))
                lam_s, lam_sw = max(res.value, dres.value - q2), max(dres.value, res.value + q1)
                eff = lam_sw - lam_s
                out["lambda_max_Hhat"] = lam_s
                out["lambda_max_Hhat_decayed"], converged["lambda_max_Hhat_decayed"] = lam_sw, dres.converged
                out["effective_weight_decay"] = eff
                out["threshold"] = out["threshold_Hhat"] = 2.0 / thr["lr"] - eff
                out["threshold_exact"] = True

        def hop_times(key, v):
            hv = H_times(key, v)
            return hv + l2 * v if _nonzero(l2) else hv

        def l2_of(idx, v):
            return (l2 if isinstance(l2, float) else l2[idx]) * v if _nonzero(l2) else 0.0

        if "lambda_grad_Hhat" in predictors:
            Dg = D * g  # w = D^{1/2} g; w^T S w / w^T w = (Dg)^T H (Dg) / g^T D g
            out["lambda_grad_Hhat"] = float(torch.dot(Dg, hop_times("Dg", Dg))) / float(torch.dot(g, Dg))
            if per_block:
                vals = {}
                for b, idx in blocks.items():
                    e = _embed(Dg, idx)
                    hv = hess.matvec(e)[idx] + l2_of(idx, Dg[idx])
                    vals[b] = float(torch.dot(Dg[idx], hv)) / float(torch.dot(g[idx], Dg[idx]))
                out["per_block"]["lambda_grad_Hhat"] = vals
        if "lambda_grad_Hhat_literal" in predictors:
            out["lambda_grad_Hhat_literal"] = float(torch.dot(D * g, hop_times("g", g))) / float(torch.dot(g, g))
        if "lambda_update_Hhat" in predictors:
            u = last_adam_update(optimizer, layout)  # w = D^{-1/2} u; w^T S w / w^T w = u^T H u / u^T D^{-1} u
            out["lambda_update_Hhat"] = float(torch.dot(u, hop_times("u", u))) / float(torch.dot(u, u / D))
            if per_block:
                vals = {}
                for b, idx in blocks.items():
                    hv = hess.matvec(_embed(u, idx))[idx] + l2_of(idx, u[idx])
                    vals[b] = float(torch.dot(u[idx], hv)) / float(torch.dot(u[idx], u[idx] / D[idx]))
                out["per_block"]["lambda_update_Hhat"] = vals
    if per_block and is_adam and all("exp_avg_sq" in optimizer.state.get(p, {}) for p in layout.params):
        from dynsys.nn.operators import _group_of
        vhat = torch.cat([optimizer.state[p]["exp_avg_sq"].detach().reshape(-1)
                          / (1.0 - float(gr["betas"][1]) ** float(optimizer.state[p]["step"]))
                          for p, gr in zip(layout.params, _group_of(optimizer, layout))])
        out["per_block"]["sqrt_vhat_norm"] = {b: math.sqrt(float(vhat[idx].sum())) for b, idx in blocks.items()}
        out["per_block"]["vhat_norm"] = {b: float(torch.linalg.vector_norm(vhat[idx])) for b, idx in blocks.items()}
    out["n_hvp"] = hess.n_hvp
    out["n_forward"] = 0
    if "critical_sharpness" in predictors:
        crit = critical_learning_rate(model, loss_fn, data, optimizer, rel_tol=rel_tol, guess=warm.get("critical_lr"),
                                      gradient=g, loss0=hess.loss)
        out["critical_sharpness"] = crit.critical_sharpness
        out["critical_lr"] = crit.estimate
        out["critical_lr_bracket"] = (crit.lower, crit.upper)
        converged["critical_sharpness"] = crit.converged
        out["n_forward"] = crit.n_forward
        if math.isfinite(crit.estimate) and crit.estimate > 0:
            new_warm["critical_lr"] = crit.estimate
    out["converged"] = converged
    out["warm_start"] = new_warm
    return out


def _embed(v, idx):
    e = torch.zeros_like(v)
    e[idx] = v[idx]
    return e
