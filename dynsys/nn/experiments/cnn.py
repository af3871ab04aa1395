"""Small CNN on a synthetic image classification set, MSE on one-hot labels
(loss-spikes-in-Adam Fig. 6 / D6 setting, reduced; no download).

Images: ``classes`` smooth random prototypes (3 x size x size, a sum of a few
random 2-D sinusoids), each sample its class prototype plus Gaussian pixel noise
(``noise``), ``n`` samples in total (the paper uses 50 CIFAR-10 images).
Network: conv3x3(3->c1) - ReLU - maxpool2 - conv3x3(c1->c2) - ReLU - maxpool2 -
linear(->classes), PyTorch's default initialization drawn from ``seed``. Loss:
``(1/2n) sum_i ||f(x_i) - e_{y_i}||^2`` (MSE on one-hot labels, as in App. E).
Full-batch Adam, ``lr = 1e-3``, ``beta = (0.9, 0.999)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dynsys._validate import check_int, check_nonnegative

from ._common import Experiment, resolve_device, resolve_dtype

__all__ = ["SmallCNN", "cnn", "synthetic_images", "onehot_mse"]


class SmallCNN(nn.Module):
    def __init__(self, size: int = 16, channels=(8, 16), classes: int = 10):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(3, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * (size // 4) ** 2, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def onehot_mse(model, data):
    """``(1/2n) sum_i ||f(x_i) - onehot(y_i)||^2``."""
    x, target = data
    return 0.5 * torch.sum((model(x) - target) ** 2) / x.shape[0]


def synthetic_images(n: int, classes: int, size: int, noise: float, generator):
    """``(images (n, 3, size, size), labels (n,))``: class prototypes plus pixel noise."""
    coords = torch.linspace(0, 2 * math.pi, size, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    protos = torch.zeros(classes, 3, size, size, dtype=torch.float64)
    for c in range(classes):
        for ch in range(3):
            for _ in range(3):
                kx, ky = torch.randint(0, 3, (2,), generator=generator).tolist()
                phase = 2 * math.pi * torch.rand(1, generator=generator, dtype=torch.float64).item()
                amp = torch.randn(1, generator=generator, dtype=torch.float64).item()
                protos[c, ch] += amp * torch.cos(kx * xx + ky * yy + phase)
    labels = torch.arange(n) % classes
    labels = labels[torch.randperm(n, generator=generator)]
    images = protos[labels] + noise * torch.randn(n, 3, size, size, generator=generator, dtype=torch.float64)
    return images, labels


def cnn(*, n: int = 50, classes: int = 10, size: int = 16, channels=(8, 16), noise: float = 0.5,
        seed: int = 0, device="cpu", dtype="float64", optimizer: str = "adam") -> Experiment:
    """Fig. 6 experiment, reduced (a few thousand parameters)."""
    n, classes = check_int("n", n, 1), check_int("classes", classes, 2)
    size = check_int("size", size, 4)
    if size % 4:
        raise ValueError(f"size = {size} is not a multiple of 4; allowed: a multiple of 4 (two 2x2 poolings)")
    noise = check_nonnegative("noise", noise)
    seed = check_int("seed", seed, 0)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    images, labels = synthetic_images(n, classes, size, noise, g)
    target = torch.nn.functional.one_hot(labels, classes).to(torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(size, tuple(channels), classes).to(torch.float64)
    model = model.to(device=dev, dtype=dt)
    defaults = dict(optimizer=optimizer, lr=1e-3 if optimizer != "gd" else 0.05, steps=1200, every=10,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    attrs = dict(experiment="cnn", n=n, classes=classes, size=size, channels=list(channels), noise=noise,
                 seed=seed, dtype=str(dt).replace("torch.", ""), device=str(dev),
                 data="class prototypes (random 2-D sinusoids) + N(0, noise^2) pixels",
                 loss="(1/2n) sum ||f(x) - onehot(y)||^2",
                 n_params=sum(p.numel() for p in model.parameters()), paper="loss-spikes-in-Adam Fig. 6 (reduced)")
    return Experiment("cnn", model, onehot_mse, (images.to(dev, dt), target.to(dev, dt)), defaults, attrs)
