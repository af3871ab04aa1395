"""Curvature operators over the flat parameter vector (architecture idea 3).

* :class:`HessianOperator` -- ``H = d^2 L/d theta^2`` (plus ``l2 I`` for a coupled
  L2 weight decay), applied by Hessian-vector products (:mod:`dynsys.nn.hvp`).
* :class:`PreconditionedHessianOperator` -- Adam's preconditioned Hessian of
  Eq. 7 of the loss-spikes-in-Adam paper (math.md A3),

  .. math::

      \\hat H_t = \\frac{1}{1-\\beta_1^t}\\,\\frac{1-\\beta_1}{1+\\beta_1}\\,
      \\mathrm{diag}\\Big(\\frac{1}{\\sqrt{\\hat v_t}+\\epsilon}\\Big) H_t = D H_t,

  read from the live state of a ``torch.optim.Adam``/``AdamW``
  (``exp_avg_sq``, ``step``, ``betas``, ``eps``; ``vhat = exp_avg_sq / (1 - beta2^step)``,
  eps added to ``sqrt(vhat)`` as torch does).  ``D H`` is not symmetric; by
  Lemma B.1 (math.md A1) it is similar to ``S = D^{1/2} H D^{1/2}``, which is what
  this operator applies, so symmetric eigen-solvers are valid.  An eigenvector
  ``w`` of ``S`` maps to the right eigenvector ``D^{1/2} w`` of ``Hhat``
  (:meth:`PreconditionedHessianOperator.to_original`).
* :class:`BlockOperator` -- the diagonal block of any operator on one parameter
  block (layer): per-layer curvature.
* :class:`MatrixOperator` -- an explicit symmetric matrix (tests, quadratics).

Every operator maps a flat tensor ``v`` of shape ``(n,)`` to ``A v``
(:meth:`~CurvatureOperator.matvec`, also ``A @ v``), counts its products in
``n_matvec``, can be handed to scipy (:meth:`~CurvatureOperator.as_linear_operator`)
and built explicitly for small ``n`` (:meth:`~CurvatureOperator.to_dense`).
"""
from __future__ import annotations

import numpy as np
import torch

from dynsys._validate import check_choice, check_nonnegative
from dynsys.nn.hvp import loss_and_gradient, make_hvp
from dynsys.nn.params import parameter_layout

__all__ = ["CurvatureOperator", "HessianOperator", "PreconditionedHessianOperator", "BlockOperator",
           "MatrixOperator", "adam_preconditioner", "check_adam"]


class CurvatureOperator:
    """A symmetric linear operator on flat vectors of length ``size``."""

    size: int
    dtype: torch.dtype
    device: torch.device

    def __init__(self):
        self.n_matvec = 0

    def _matvec(self, v):  # pragma: no cover - abstract
        raise NotImplementedError

    def matvec(self, v):
        """``A v`` for a flat tensor ``v`` of shape ``(size,)``."""
        if not isinstance(v, torch.Tensor) or v.shape != (self.size,):
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"v has shape {shape}; allowed: a flat tensor of shape ({self.size},)")
        self.n_matvec += 1
        return self._matvec(v.to(dtype=self.dtype, device=self.device))

    def __matmul__(self, v):
        return self.matvec(v)

    @property
    def n_hvp(self) -> int:
        """Hessian-vector products spent so far (equals ``n_matvec`` unless overridden)."""
        return self.n_matvec

    def as_linear_operator(self):
        """This operator as a ``scipy.sparse.linalg.LinearOperator`` (float64 numpy in and out)."""
        from scipy.sparse.linalg import LinearOperator

        def mv(x):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1), dtype=self.dtype, device=self.device)
            return self.matvec(x).detach().cpu().to(torch.float64).numpy()

        return LinearOperator((self.size, self.size), matvec=mv, rmatvec=mv, dtype=np.float64)

    def to_dense(self):
        """The explicit ``size x size`` matrix, one product per column (small models only)."""
        eye = torch.eye(self.size, dtype=self.dtype, device=self.device)
        return torch.stack([self.matvec(eye[i]) for i in range(self.size)], dim=1)

    def new_vector(self, generator=None):
        """A random unit vector (standard normal, normalized) in this operator's dtype/device."""
        v = torch.randn(self.size, generator=generator, dtype=torch.float64).to(dtype=self.dtype, device=self.device)
        return v / torch.linalg.vector_norm(v)


class MatrixOperator(CurvatureOperator):
    """An explicit symmetric matrix ``A`` as an operator (tests and quadratic models)."""

    def __init__(self, matrix):
        super().__init__()
        a = torch.as_tensor(matrix)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
            raise ValueError(f"matrix has shape {tuple(a.shape)}; allowed: a non-empty square matrix")
        if not a.dtype.is_floating_point:
            a = a.to(torch.float64)
        if not torch.isfinite(a).all():
            raise ValueError("matrix contains non-finite entries; allowed: a finite symmetric matrix")
        scale = max(1.0, float(a.abs().max()))
        if float((a - a.T).abs().max()) > 1e-10 * scale:
            raise ValueError("matrix is not symmetric; allowed: a symmetric matrix (symmetrize (A + A^T)/2 first)")
        self.matrix = a
        self.size, self.dtype, self.device = a.shape[0], a.dtype, a.device

    def _matvec(self, v):
        return self.matrix @ v


class HessianOperator(CurvatureOperator):
    """The Hessian of ``loss_fn(model, data)`` over the model's flat trainable parameters.

    ``A v = H v + l2 v``.  ``l2`` is a coupled L2 weight decay (the loss
    ``L + l2 |theta|^2 / 2``, i.e. torch ``SGD``/``Adam`` ``weight_decay``); leave it 0
    for decoupled decay (``AdamW``), whose effect is a shifted threshold instead (C3).

    Building it evaluates the loss and the gradient once (``loss``, ``gradient``)
    and raises ValueError if either is not finite or the loss is not a scalar.

    Parameters
    ----------
    model, loss_fn, data
        As in :func:`dynsys.nn.hvp.make_hvp`.
    method : str
        Hessian-vector product method (see :data:`dynsys.nn.hvp.HVP_METHODS`).
    l2 : float
        Coupled L2 coefficient added to the Hessian.
    layout : ParameterLayout, optional
    keep_graph : bool, optional
        Passed to :func:`~dynsys.nn.hvp.make_hvp`.
    """

    def __init__(self, model, loss_fn, data, *, method="double_backward", l2=0.0, layout=None, keep_graph=None):
        super().__init__()
        self.layout = layout or parameter_layout(model)
        self.l2 = check_nonnegative("l2", l2)
        self.model, self.loss_fn, self.data = model, loss_fn, data
        self.hvp = make_hvp(model, loss_fn, data, method=method, layout=self.layout, keep_graph=keep_graph)
        impl = getattr(self.hvp, "impl", self.hvp)
        if getattr(impl, "gradient", None) is not None:  # from the kept double-backward graph
            self.loss, self.gradient = impl.loss_value, impl.gradient
        else:
            self.loss, self.gradient = loss_and_gradient(model, loss_fn, data, self.layout, guard=self.hvp.guard)
        self.size, self.dtype, self.device = self.layout.size, self.layout.dtype, self.layout.device

    @property
    def method(self):
        return self.hvp.method if not hasattr(self.hvp, "impl") else self.hvp.impl.method

    @property
    def n_hvp(self) -> int:
        return self.hvp.n_calls

    def _matvec(self, v):
        out = self.hvp(v)
        return out + self.l2 * v if self.l2 else out


def check_adam(optimizer):
    """Raise ValueError unless ``optimizer`` is a ``torch.optim.Adam`` or ``AdamW``."""
    if not isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        raise ValueError(
            f"optimizer = {type(optimizer).__name__} is not Adam-like; allowed: torch.optim.Adam or torch.optim.AdamW "
            "(Adam's preconditioned Hessian needs exp_avg_sq, betas and eps)")
    for group in optimizer.param_groups:
        if group.get("maximize", False):
            raise ValueError("optimizer has maximize=True; allowed: maximize=False (a minimizing Adam)")
    return optimizer


def _is_decoupled(optimizer, group) -> bool:
    return isinstance(optimizer, torch.optim.AdamW) or bool(group.get("decoupled_weight_decay", False))


def _group_of(optimizer, layout):
    by_id = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            by_id[id(p)] = group
    groups = []
    for name, p in zip(layout.names, layout.params):
        if id(p) not in by_id:
            raise ValueError(f"parameter {name!r} is not in the optimizer's param_groups; "
                             "allowed: an optimizer built over the model's trainable parameters")
        groups.append(by_id[id(p)])
    return groups


def weight_decay_diagonals(optimizer, layout):
    """Each parameter's coupled and decoupled weight decay, ``(W_c, W_d)``.

    Coupled decay (torch ``SGD``, ``Adam``) adds ``wd theta`` to the gradient, so the
    minimized loss is ``L + sum_i wd_i theta_i^2 / 2`` with Hessian ``H + W_c``; decoupled
    decay (``AdamW``, ``decoupled_weight_decay=True``) shrinks ``theta <- (1 - lr wd) theta``
    outside the preconditioner. Each is a Python float when every parameter has the same
    value (the common case, cheap), else a flat tensor in ``layout``'s dtype and device (e.g.
    Hugging Face's default AdamW groups: ``wd`` on weights, 0 on biases and LayerNorm).
    """
    groups = _group_of(optimizer, layout)
    coupled, decoupled = [], []
    for group in groups:
        wd = float(group.get("weight_decay", 0.0))
        dec = not isinstance(optimizer, torch.optim.SGD) and _is_decoupled(optimizer, group)
        coupled.append(0.0 if dec else wd)
        decoupled.append(wd if dec else 0.0)

    def diagonal(values):
        if all(v == values[0] for v in values):
            return values[0]
        return torch.cat([torch.full((n,), v, dtype=layout.dtype, device=layout.device)
                          for v, n in zip(values, layout.numels)])

    return diagonal(coupled), diagonal(decoupled)


def adam_preconditioner(optimizer, layout, *, state="current", gradient=None):
    """The diagonal ``D`` of Eq. 7 (loss-spikes-in-Adam paper) as a flat tensor.

    ``D_i = 1/(1-beta1^t) * (1-beta1)/(1+beta1) / (sqrt(vhat_i) + eps)`` with
    ``vhat = exp_avg_sq / (1 - beta2^t)`` (``max_exp_avg_sq`` with ``amsgrad``),
    ``t`` = the parameter's ``state["step"]``, and ``betas``, ``eps`` of its param group.

    Parameters
    ----------
    optimizer : torch.optim.Adam or torch.optim.AdamW
        Must have stepped at least once.
    layout : ParameterLayout
    state : {"current", "next"}
        ``"current"``: the live state as stored (the preconditioner of the step just
        taken).  ``"next"``: the state the next ``optimizer.step()`` would use,
        ``v <- beta2 v + (1-beta2) g'^2`` and ``t <- t+1`` with ``g' = gradient``
        (+ ``weight_decay * theta`` for Adam's coupled decay); needs ``gradient``.
    gradient : torch.Tensor, optional
        Flat gradient at the current parameters (for ``state="next"``).

    Returns
    -------
    d : torch.Tensor
        Flat diagonal of ``D`` (parameter dtype/device).
    info : dict
        ``beta1, beta2, eps, step, lr, weight_decay, decoupled, amsgrad`` (per-group
        values; a list when groups differ).
    """
    check_adam(optimizer)
    check_choice("state", state, ("current", "next"))
    if state == "next" and gradient is None:
        raise ValueError("gradient is None; allowed: the flat gradient tensor when state='next'")
    groups = _group_of(optimizer, layout)
    parts = []
    info = {k: [] for k in ("beta1", "beta2", "eps", "step", "lr", "weight_decay", "decoupled", "amsgrad")}
    for i, (name, p, group) in enumerate(zip(layout.names, layout.params, groups)):
        st = optimizer.state.get(p, {})
        if "exp_avg_sq" not in st or "step" not in st:
            raise ValueError(
                f"optimizer has not stepped yet (no exp_avg_sq state for parameter {name!r}); allowed: an "
                "optimizer after at least one optimizer.step() (Hhat needs its second-moment estimate)")
        b1, b2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        t = float(st["step"])
        amsgrad = bool(group.get("amsgrad", False))
        v = st["exp_avg_sq"].detach().reshape(-1).to(layout.dtype)
        wd = float(group.get("weight_decay", 0.0))
        decoupled = _is_decoupled(optimizer, group)
        if state == "next":
            sl = slice(layout.offsets[i], layout.offsets[i] + layout.numels[i])
            g = gradient[sl]
            if wd and not decoupled:
                g = g + wd * p.detach().reshape(-1)
            v = b2 * v + (1.0 - b2) * g * g
            t = t + 1.0
            if amsgrad:
                v = torch.maximum(st["max_exp_avg_sq"].detach().reshape(-1).to(layout.dtype), v)
        elif amsgrad:
            v = st["max_exp_avg_sq"].detach().reshape(-1).to(layout.dtype)
        vhat = v / (1.0 - b2 ** t)
        c = (1.0 - b1) / ((1.0 + b1) * (1.0 - b1 ** t))
        parts.append(c / (torch.sqrt(vhat) + eps))
        for k, val in zip(info, (b1, b2, eps, t, float(group["lr"]), wd, decoupled, amsgrad)):
            info[k].append(val)
    info = {k: (vals[0] if all(x == vals[0] for x in vals) else vals) for k, vals in info.items()}
    d = torch.cat(parts)
    if not torch.isfinite(d).all() or not (d > 0).all():
        raise ValueError("Adam's preconditioner 1/(sqrt(vhat)+eps) is not finite and positive "
                         "(exp_avg_sq has nan/inf, or eps = 0 with vhat = 0); allowed: finite state and eps > 0")
    return d, info


class PreconditionedHessianOperator(CurvatureOperator):
    """Adam's preconditioned Hessian (Eq. 7) in its symmetric form ``S = D^{1/2} H D^{1/2}``.

    ``Hhat = D H`` (``D`` from :func:`adam_preconditioner`) and ``S`` are similar
    (Lemma B.1 of the loss-spikes-in-Adam paper), so they have the same real
    eigenvalues; ``matvec`` applies ``S``.  Coordinates: a vector ``w`` in *S
    coordinates* corresponds to ``x = D^{1/2} w`` in the original parameter
    coordinates; eigenvectors of ``S`` map by :meth:`to_original` to right
    eigenvectors of ``Hhat`` (``Hhat x = lambda x``), and a step direction ``x``
    maps to S coordinates by :meth:`from_original` (``w = D^{-1/2} x``).

    Parameters
    ----------
    hessian : HessianOperator or CurvatureOperator
        ``H`` (with ``l2`` set for Adam's coupled weight decay, see
        :func:`dynsys.nn.predictors.hessian_lambda_max`).
    optimizer : torch.optim.Adam or AdamW
        Stepped at least once; its live state is read, not copied forward.
    state : {"current", "next"}
        See :func:`adam_preconditioner`.
    """

    def __init__(self, hessian, optimizer, *, state="current"):
        super().__init__()
        if not isinstance(hessian, CurvatureOperator):
            raise ValueError(f"hessian = {type(hessian).__name__} is not a CurvatureOperator; allowed: a HessianOperator")
        self.hessian = hessian
        layout = getattr(hessian, "layout", None)
        if layout is None:
            raise ValueError("hessian has no parameter layout; allowed: a HessianOperator built from the model")
        self.layout = layout
        self.d, self.info = adam_preconditioner(optimizer, layout, state=state,
                                                gradient=getattr(hessian, "gradient", None))
        self.sqrt_d = torch.sqrt(self.d)
        self.size, self.dtype, self.device = hessian.size, hessian.dtype, hessian.device

    @property
    def n_hvp(self) -> int:
        return self.hessian.n_hvp

    def _matvec(self, w):
        return self.sqrt_d * self.hessian.matvec(self.sqrt_d * w)

    def apply_hhat(self, x):
        """The non-symmetric ``Hhat x = D H x`` in original coordinates (checks only)."""
        return self.d * self.hessian.matvec(x)

    def to_original(self, w):
        """``D^{1/2} w`` normalized to unit length: a right eigenvector of ``Hhat`` if ``w`` is one of ``S``."""
        x = self.sqrt_d.unsqueeze(-1) * w if w.ndim == 2 else self.sqrt_d * w
        return x / torch.linalg.vector_norm(x, dim=0, keepdim=w.ndim == 2)

    def from_original(self, x):
        """``D^{-1/2} x``: a direction in original coordinates expressed in S coordinates."""
        return x / self.sqrt_d


class BlockOperator(CurvatureOperator):
    """The diagonal block ``A[idx, idx]`` of an operator on one parameter block.

    ``matvec(v_b)`` embeds ``v_b`` by zeros, applies the full operator and keeps the
    block's entries, so each product costs one full product of ``operator``.  For
    :class:`PreconditionedHessianOperator` the block is ``D_b^{1/2} H_bb D_b^{1/2}``,
    the symmetric form of the block's own preconditioned Hessian.
    """

    def __init__(self, operator, index, name=""):
        super().__init__()
        self.operator = operator
        self.index = torch.as_tensor(index, dtype=torch.long, device=operator.device)
        if self.index.ndim != 1 or self.index.numel() == 0:
            raise ValueError("index is empty; allowed: a non-empty 1-D index of the block's entries")
        self.name = name
        self.size, self.dtype, self.device = int(self.index.numel()), operator.dtype, operator.device

    @property
    def n_hvp(self) -> int:
        return self.operator.n_hvp

    def embed(self, vb):
        v = torch.zeros(self.operator.size, dtype=self.dtype, device=self.device)
        v[self.index] = vb
        return v

    def _matvec(self, vb):
        return self.operator.matvec(self.embed(vb))[self.index]

