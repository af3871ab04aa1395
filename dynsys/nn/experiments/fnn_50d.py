"""Two-layer network on a 50-dimensional quadratic target (loss-spikes-in-Adam Fig. 5, D5, D9).

Target ``f*(x) = w*^T x + x^T diag(v*) x`` with ``x ~ N(0, I_d)``, ``n = 200``
samples, output noise ``N(0, 0.1^2)``; network ``f(x) = a^T relu(W x + b)`` of
width 1000, every weight ``N(0, 1/m)``; full-batch Adam ``lr = 0.02``,
``beta = (0.9, 0.999)`` (App. E). The paper does not give the law of ``w*, v*``
nor the activation; we draw ``w*, v* ~ N(0, 1/d)`` (an O(1) target) and use ReLU.

The interventions of Fig. 5f / D9 are :class:`~._common.RaiseEpsilon` (``eps``
raised to 0.1 at the spike onset) and :class:`~._common.ClipSecondMoment`;
:func:`dynsys.nn.experiments.interventions.intervention_study` runs all of them.
"""
from __future__ import annotations

import torch

from dynsys._validate import check_choice, check_int, check_nonnegative, check_positive

from ._common import Experiment, normal_, resolve_device, resolve_dtype
from .fnn_sin import TwoLayerNet, half_mse

__all__ = ["fnn_50d"]


def fnn_50d(*, n: int = 200, dim: int = 50, width: int = 1000, noise: float = 0.1,
            activation: str = "relu", seed: int = 0, device="cpu", dtype="float64",
            optimizer: str = "adam") -> Experiment:
    """Fig. 5 experiment (defaults: the paper's sizes)."""
    n, dim, width = check_int("n", n, 1), check_int("dim", dim, 1), check_int("width", width, 1)
    noise = check_nonnegative("noise", noise)
    seed = check_int("seed", seed, 0)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(dim, generator=g, dtype=torch.float64) / dim ** 0.5
    v_star = torch.randn(dim, generator=g, dtype=torch.float64) / dim ** 0.5
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    y = x @ w_star + (x * x) @ v_star + noise * torch.randn(n, generator=g, dtype=torch.float64)
    model = TwoLayerNet(dim, width, activation)
    for p in model.parameters():
        normal_(p, width ** -0.5, g)
    model = model.to(device=dev, dtype=dt)
    defaults = dict(optimizer=optimizer, lr=0.02 if optimizer != "gd" else 0.05, steps=300, every=5,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    attrs = dict(experiment="fnn-50d", n=n, dim=dim, width=width, noise=noise, activation=activation,
                 seed=seed, init_std=width ** -0.5, dtype=str(dt).replace("torch.", ""), device=str(dev),
                 target="w*^T x + x^T diag(v*) x, w*, v* ~ N(0, 1/d)", loss="(1/2n) sum (f(x)-y)^2",
                 n_params=sum(p.numel() for p in model.parameters()), paper="loss-spikes-in-Adam Fig. 5")
    return Experiment("fnn-50d", model, half_mse, (x.to(dev, dt), y.to(dev, dt)), defaults, attrs)
