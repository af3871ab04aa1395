"""Two-layer network fitting ``sin(x) + sin(4x)`` (loss-spikes-in-Adam paper, Fig. 4 / App. E).

``f(x) = sum_j a_j tanh(w_j x + b_j)`` (no output bias), all parameters drawn
from ``N(0, sigma^2)`` with ``sigma = width^(-init_power)``; loss
``L = (1/2n) sum_i (f(x_i) - y_i)^2`` over ``n`` inputs drawn uniformly from
``[-pi, pi]`` (seeded). Paper settings: GD, ``lr = 0.08``, width 20,
``sigma = m^-0.4`` (Fig. 4a-b); Adam, ``lr = 0.01``, ``beta = (0.9, 0.999)``,
width 100, ``sigma = m^-1`` (Fig. 4c-d), 20 data points, full batch. The paper
does not name the activation or the input interval; tanh on ``[-pi, pi]`` is our
choice (it reproduces the mechanism: Fig. 4c's Adam spikes).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dynsys._validate import check_choice, check_int, check_positive

from ._common import Experiment, normal_, resolve_device, resolve_dtype

__all__ = ["TwoLayerNet", "fnn_sin", "sin_data", "half_mse"]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class TwoLayerNet(nn.Module):
    """``f(x) = a^T act(W x + b)`` with a scalar output and no output bias."""

    def __init__(self, d_in: int, width: int, activation: str = "tanh"):
        super().__init__()
        check_choice("activation", activation, tuple(ACTIVATIONS))
        self.hidden = nn.Linear(d_in, width)
        self.out = nn.Linear(width, 1, bias=False)
        self.activation = activation

    def forward(self, x):
        return self.out(ACTIVATIONS[self.activation](self.hidden(x))).squeeze(-1)


def half_mse(model, data):
    """``(1/2n) sum_i (f(x_i) - y_i)^2``."""
    x, y = data
    return 0.5 * torch.mean((model(x) - y) ** 2)


def sin_data(n: int, generator, *, grid: bool = False, low: float = -math.pi, high: float = math.pi):
    """``x`` uniform on ``[low, high]`` (or an even grid), ``y = sin x + sin 4x``; shape (n, 1), (n,)."""
    if grid:
        x = torch.linspace(low, high, n + 1, dtype=torch.float64)[:-1]
    else:
        x = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    return x.unsqueeze(-1), torch.sin(x) + torch.sin(4 * x)


def fnn_sin(*, width: int = 100, n: int = 20, init_power: float = 1.0, activation: str = "tanh",
            seed: int = 0, device="cpu", dtype="float64", optimizer: str = "adam") -> Experiment:
    """Fig. 4 experiment. ``optimizer`` only picks the default hyperparameters.

    Defaults: Adam ``lr = 0.01`` for 1200 steps (the first spike of the default
    seed starts near step 1040). GD: pass ``width=20, init_power=0.4`` and
    ``lr = 0.08`` as in Fig. 4a-b (see :func:`fnn_sin_gd`).
    """
    width = check_int("width", width, 1)
    n = check_int("n", n, 1)
    init_power = check_positive("init_power", init_power)
    seed = check_int("seed", seed, 0)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    x, y = sin_data(n, g)
    model = TwoLayerNet(1, width, activation)
    std = width ** (-init_power)
    for p in model.parameters():
        normal_(p, std, g)
    model = model.to(device=dev, dtype=dt)
    data = (x.to(dev, dt), y.to(dev, dt))
    if optimizer == "gd":
        defaults = dict(optimizer="gd", lr=0.08, steps=3000, every=10)
    else:
        defaults = dict(optimizer=optimizer, lr=0.01, steps=1200, every=2)
    defaults.update(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    attrs = dict(experiment="fnn-sin", width=width, n=n, init_power=init_power, init_std=std,
                 activation=activation, seed=seed, dtype=str(dt).replace("torch.", ""), device=str(dev),
                 target="sin(x)+sin(4x)", inputs="uniform on [-pi, pi]", loss="(1/2n) sum (f(x)-y)^2",
                 n_params=sum(p.numel() for p in model.parameters()), paper="loss-spikes-in-Adam Fig. 4")
    return Experiment("fnn-sin", model, half_mse, data, defaults, attrs)


def fnn_sin_gd(**kw) -> Experiment:
    """Fig. 4a-b: width 20, ``sigma = m^-0.4``, GD ``lr = 0.08`` (keywords override)."""
    kw = {"width": 20, "init_power": 0.4, **kw, "optimizer": "gd"}
    return fnn_sin(**kw)
