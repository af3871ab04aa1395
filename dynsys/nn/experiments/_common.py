"""Shared pieces of the experiments: the :class:`Experiment` value, optimizers,
the full-batch training loop, and the Adam interventions of Fig. 5f / D9.

An experiment is a value (architecture idea 1): a model, a loss closure
``loss_fn(model, data) -> scalar tensor``, the full-batch data (generated in code
from a seed, nothing downloaded) and the paper's default hyperparameters. The
training loop, the monitor and the spike analysis are functions of any
experiment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from dynsys._validate import check_choice, check_in_range, check_int, check_nonnegative, check_positive

__all__ = ["Experiment", "OPTIMIZER_NAMES", "build_optimizer", "train", "TrainResult",
           "RaiseEpsilon", "ClipSecondMoment", "resolve_device", "resolve_dtype", "normal_"]

#: optimizer names understood by :func:`build_optimizer`
OPTIMIZER_NAMES = ("gd", "adam", "adamw")


@dataclass
class Experiment:
    """A model, its loss and its data, with the paper's default settings.

    Attributes
    ----------
    name : str
        Registry name (``"fnn-sin"``, ...).
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, data)`` -> scalar loss tensor (full batch).
    data : tuple of torch.Tensor
        Full-batch training data.
    defaults : dict
        Default ``optimizer, lr, beta1, beta2, eps, weight_decay, steps, every``.
    attrs : dict
        Every setting that made the experiment (plain values, for Dataset attrs).
    lr_schedule : callable, optional
        ``lr_schedule(t, steps) -> factor``: :func:`train` (``steps`` steps) sets each param
        group's learning rate to ``factor * lr`` (``lr`` the group's rate when training
        began) before step ``t`` (warm-up, cosine decay). ``None``: constant learning rate.
    grad_clip : float, optional
        :func:`train` clips the gradient norm to this value before each step
        (``torch.nn.utils.clip_grad_norm_``). ``None``: no clipping.
    """

    name: str
    model: torch.nn.Module
    loss_fn: object
    data: tuple
    defaults: dict
    attrs: dict = field(default_factory=dict)
    lr_schedule: object = None
    grad_clip: float | None = None

    def loss(self) -> float:
        """The current full-batch loss (no gradient)."""
        with torch.no_grad():
            return float(self.loss_fn(self.model, self.data))


def resolve_device(device) -> torch.device:
    """``"cpu"``, ``"cuda"`` or a torch.device; ValueError if CUDA is asked for and missing."""
    if isinstance(device, torch.device):
        dev = device
    else:
        check_choice("device", str(device).split(":")[0], ("cpu", "cuda"))
        dev = torch.device(str(device))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device = {str(device)!r} does not exist here (torch.cuda.is_available() is False); "
                         "allowed: cpu, or cuda on a machine with a CUDA GPU")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    """``"float64"``/``"float32"`` or a torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ValueError(f"dtype = {dtype} is not floating point; allowed: float32 or float64")
        return dtype
    check_choice("dtype", dtype, ("float32", "float64"))
    return getattr(torch, dtype)


def normal_(tensor, std, generator):
    """Fill ``tensor`` with ``N(0, std^2)`` samples drawn on the CPU from ``generator``
    (so the same seed gives the same network on every device)."""
    with torch.no_grad():
        tensor.copy_(torch.randn(tensor.shape, generator=generator, dtype=torch.float64) * std)
    return tensor


def build_optimizer(model, name: str, lr: float, *, beta1: float = 0.9, beta2: float = 0.999,
                    eps: float = 1e-8, weight_decay: float = 0.0):
    """A stock ``torch.optim`` optimizer over the model's trainable parameters.

    ``gd``: ``torch.optim.SGD`` without momentum (full-batch gradient descent;
    ``weight_decay`` adds ``lambda theta`` to the gradient). ``adam``:
    ``torch.optim.Adam`` (coupled L2 weight decay). ``adamw``: ``torch.optim.AdamW``
    (decoupled weight decay, ``theta -= lr * lambda * theta``).
    """
    check_choice("optimizer", name, OPTIMIZER_NAMES)
    lr = check_positive("lr", lr)
    beta1 = check_in_range("beta1", beta1, 0.0, 1.0, high_open=True)
    beta2 = check_in_range("beta2", beta2, 0.0, 1.0, high_open=True)
    eps = check_nonnegative("eps", eps)
    weight_decay = check_nonnegative("weight_decay", weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model = {type(model).__name__} has no trainable parameters; allowed: a model with some")
    if name == "gd":
        return torch.optim.SGD(params, lr=lr, momentum=0.0, weight_decay=weight_decay)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    # foreach=False: the single-tensor path, bit-reproducible and the same on every device
    return cls(params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, foreach=False)


class RaiseEpsilon:
    """Intervention of Fig. 5f / D9a: set Adam's ``eps`` to ``eps`` from step ``at_step`` on.

    Applied before ``optimizer.step()`` number ``at_step + 1`` (the step that
    starts from ``theta_{at_step}``), so the update out of ``theta_{at_step}``
    already uses the new ``eps``.
    """

    def __init__(self, at_step: int, eps: float = 0.1):
        self.at_step = check_int("at_step", at_step, 0)
        self.eps = check_positive("eps", eps)

    def before_step(self, step: int, optimizer):
        if step == self.at_step:
            for g in optimizer.param_groups:
                g["eps"] = self.eps

    def attrs(self):
        return {"intervention": "raise_eps", "intervention_step": self.at_step, "intervention_eps": self.eps}


class ClipSecondMoment:
    """Intervention of Fig. D9b: component-wise floor on Adam's second moment.

    Every update uses ``vhat_t >= floor`` component-wise: before the step, the
    stored ``v_{t-1}`` is raised to ``(floor (1 - beta2^t) - (1 - beta2) g_t^2) / beta2``
    where it is below, so that ``v_t = beta2 v_{t-1} + (1-beta2) g_t^2`` lands
    exactly on ``floor (1-beta2^t)`` (i.e. ``vhat_t = floor``) and is unchanged
    elsewhere. (The paper clips "v_t to 0.01"; we floor the bias-corrected
    ``vhat``, the quantity in the preconditioner, so that ``sqrt(floor) = 0.1``
    plays the role of ``eps = 0.1``.) The first step, before Adam has state, is
    left alone.
    """

    def __init__(self, floor: float = 0.01):
        self.floor = check_positive("floor", floor)

    def before_step(self, step: int, optimizer):
        for group in optimizer.param_groups:
            b2 = float(group["betas"][1])
            for p in group["params"]:
                st = optimizer.state.get(p, {})
                if "exp_avg_sq" not in st or p.grad is None:
                    continue
                t = float(st["step"]) + 1.0
                g = p.grad
                if group.get("weight_decay", 0.0) and not isinstance(optimizer, torch.optim.AdamW):
                    g = g + group["weight_decay"] * p.detach()
                lower = (self.floor * (1.0 - b2 ** t) - (1.0 - b2) * g * g) / b2
                with torch.no_grad():
                    torch.maximum(st["exp_avg_sq"], lower, out=st["exp_avg_sq"])

    def attrs(self):
        return {"intervention": "clip_vhat", "intervention_floor": self.floor}


@dataclass
class TrainResult:
    """Losses ``loss[t] = L(theta_t)`` before each step; ``diverged_step`` (-1 if none)."""

    loss: list
    steps_done: int
    diverged_step: int = -1
    reason: str = ""


def train(experiment: Experiment, optimizer, steps: int, *, monitor=None, interventions=(),
          progress: bool = False) -> TrainResult:
    """Full-batch training: ``steps`` optimizer steps on ``experiment``.

    At step ``t`` (0-based) the loop computes ``L(theta_t)`` and its gradient,
    clips its norm to ``experiment.grad_clip`` (if set), sets the learning rate to
    ``experiment.lr_schedule(t, steps)`` times the initial one (if set),
    applies the interventions' ``before_step(t, optimizer)``, calls
    ``optimizer.step()`` (giving ``theta_{t+1}``) and then, if given,
    ``monitor.step(loss=L(theta_t))``. A non-finite loss stops the run (reported
    in the result, not raised).
    """
    steps = check_int("steps", steps, 1)
    model = experiment.model
    losses = []
    it = range(steps)
    schedule, clip = experiment.lr_schedule, experiment.grad_clip
    base_lrs = [float(g["lr"]) for g in optimizer.param_groups] if schedule is not None else None
    clip_params = [p for p in model.parameters() if p.requires_grad] if clip is not None else None
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=experiment.name, leave=False)
    for t in it:
        optimizer.zero_grad(set_to_none=True)
        loss = experiment.loss_fn(model, experiment.data)
        value = float(loss.detach())
        losses.append(value)
        if not math.isfinite(value):
            if monitor is not None:
                monitor.record_divergence(t, value)
            return TrainResult(losses, t, t, f"loss is not finite ({value}) at step {t}")
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(clip_params, clip, foreach=False)
        if schedule is not None:
            factor = float(schedule(t, steps))
            for g, base in zip(optimizer.param_groups, base_lrs):
                g["lr"] = base * factor
        for iv in interventions:
            iv.before_step(t, optimizer)
        optimizer.step()
        if monitor is not None:
            monitor.step(loss=value)
    return TrainResult(losses, steps)
