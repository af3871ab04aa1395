"""The optimizer's update from its live state: the next step (update_direction) and the last one (last_adam_update).

Shared by :mod:`dynsys.nn.critical` (the line search along the next update, math.md C1, C4) and
:mod:`dynsys.nn.predictors` (directional sharpness C2, ``lambda_update_Hhat`` A6); both import it,
it imports neither.
"""
from __future__ import annotations

import torch

from dynsys.nn.operators import _group_of, _is_decoupled, check_adam
from dynsys.nn.params import parameter_layout

__all__ = ["update_direction", "last_adam_update"]


def update_direction(model, optimizer, gradient, *, layout=None):
    """The update the next ``optimizer.step()`` would take, per unit learning rate.

    Returns ``(d, lr)`` with the next step being ``theta <- theta - lr d`` (for
    param groups with different learning rates, ``d`` carries the ratio
    ``lr_group/lr`` with ``lr`` the first group's).  Computed from the live state,
    which is read and never modified:

    * ``None`` (plain GD): ``d = g``.
    * ``torch.optim.SGD`` (weight decay ``wd``, momentum ``mu``, dampening ``tau``):
      ``g' = g + wd theta``; ``b' = mu b + (1-tau) g'`` (``b' = g'`` before the first
      step); ``d = b'``, or ``d = g' + mu b'`` with Nesterov.
    * ``torch.optim.Adam``/``AdamW``: ``g' = g`` (+ ``wd theta`` for Adam's coupled
      decay); ``m' = b1 m + (1-b1) g'``, ``v' = b2 v + (1-b2) g'^2``, ``t' = t+1``
      (``m = v = t = 0`` before the first step; ``v' = max(v_max, v')`` with amsgrad);
      ``d = [m'/(1-b1^t')] / (sqrt(v'/(1-b2^t')) + eps)``, plus ``wd theta`` for the
      decoupled decay of AdamW (``theta <- (1 - lr wd) theta - lr d``).
    """
    layout = layout or parameter_layout(model)
    if optimizer is None:
        return gradient.clone(), float("nan")
    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        check_adam(optimizer)
        kind = "adam"
    elif type(optimizer) is torch.optim.SGD:
        kind = "sgd"
        for group in optimizer.param_groups:
            if group.get("maximize", False):
                raise ValueError("optimizer has maximize=True; allowed: maximize=False")
    else:
        raise ValueError(f"optimizer = {type(optimizer).__name__} is not supported; allowed: torch.optim.SGD, "
                         "torch.optim.Adam, torch.optim.AdamW or None (plain GD)")
    groups = _group_of(optimizer, layout)
    lr0 = float(optimizer.param_groups[0]["lr"])
    parts = []
    for i, (p, group) in enumerate(zip(layout.params, groups)):
        sl = slice(layout.offsets[i], layout.offsets[i] + layout.numels[i])
        g = gradient[sl]
        theta = p.detach().reshape(-1)
        st = optimizer.state.get(p, {})
        wd = float(group.get("weight_decay", 0.0))
        if kind == "sgd":
            gp = g + wd * theta if wd else g
            mu, tau = float(group.get("momentum", 0.0)), float(group.get("dampening", 0.0))
            if mu:
                buf = st.get("momentum_buffer")
                b = gp.clone() if buf is None else mu * buf.detach().reshape(-1) + (1.0 - tau) * gp
                d = gp + mu * b if group.get("nesterov", False) else b
            else:
                d = gp
        else:
            b1, b2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            decoupled = _is_decoupled(optimizer, group)
            gp = g + wd * theta if (wd and not decoupled) else g
            m = st["exp_avg"].detach().reshape(-1) if "exp_avg" in st else torch.zeros_like(gp)
            v = st["exp_avg_sq"].detach().reshape(-1) if "exp_avg_sq" in st else torch.zeros_like(gp)
            t = float(st["step"]) + 1.0 if "step" in st else 1.0
            m = b1 * m + (1.0 - b1) * gp
            v = b2 * v + (1.0 - b2) * gp * gp
            if group.get("amsgrad", False) and "max_exp_avg_sq" in st:
                v = torch.maximum(st["max_exp_avg_sq"].detach().reshape(-1), v)
            d = (m / (1.0 - b1 ** t)) / (torch.sqrt(v / (1.0 - b2 ** t)) + eps)
            if wd and decoupled:
                d = d + wd * theta
        parts.append(d * (float(group["lr"]) / lr0) if float(group["lr"]) != lr0 else d)
    d = torch.cat(parts).to(layout.dtype)
    if not torch.isfinite(d).all():
        raise ValueError("the optimizer's update direction is not finite (its state has nan/inf); allowed: finite state")
    return d, lr0


def last_adam_update(optimizer, layout):
    """``u = mhat_t/(sqrt(vhat_t)+eps)`` from the live state (the update just taken, per unit lr)."""
    check_adam(optimizer)
    parts = []
    for name, p, group in zip(layout.names, layout.params, _group_of(optimizer, layout)):
        st = optimizer.state.get(p, {})
        if "exp_avg" not in st:
            raise ValueError(f"optimizer has not stepped yet (no exp_avg state for parameter {name!r}); allowed: an "
                             "optimizer after at least one optimizer.step()")
        b1, b2 = (float(b) for b in group["betas"])
        t = float(st["step"])
        v = st["max_exp_avg_sq"] if group.get("amsgrad", False) else st["exp_avg_sq"]
        m = st["exp_avg"].detach().reshape(-1) / (1.0 - b1 ** t)
        parts.append(m / (torch.sqrt(v.detach().reshape(-1) / (1.0 - b2 ** t)) + float(group["eps"])))
    return torch.cat(parts).to(layout.dtype)
