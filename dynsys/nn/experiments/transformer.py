"""Small Transformer on a synthetic compositional-rule task, next-token prediction
(loss-spikes-in-Adam Fig. 7 / D7-D8 setting, reduced; no download).

Task (an anchor-composition rule in the spirit of the paper's data set, Zhang
et al. 2025): tokens ``0..V-1`` are items, tokens ``V..V+A-1`` are anchors, anchor
``a`` meaning "add ``shift[a]`` mod V". A sequence of length ``seq_len`` holds random
items with one key item ``x`` followed by two anchors ``a1 a2`` somewhere in it;
the next token after the sequence is ``(x + shift[a1] + shift[a2]) mod V``. The
loss is the cross-entropy of that next token (full batch of ``n`` sequences).

Model: token + learned position embeddings, ``layers`` pre-LayerNorm blocks of
causal multi-head self-attention (written out explicitly, so Hessian-vector
products by double backward work on every device) and a GELU MLP, a final
LayerNorm and a linear read-out; PyTorch default initialization from ``seed``.
Paper: 8 layers, ~10M parameters, batches of 2048 from 900k sequences, Adam
``beta = (0.9, 0.999)`` with warm-up and cosine decay; here a constant learning
rate and full batch, so the curvature predictors are of one fixed loss.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dynsys._validate import check_int

from ._common import Experiment, resolve_device, resolve_dtype

__all__ = ["TinyTransformer", "transformer", "composition_data", "last_token_cross_entropy"]


class _Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = torch.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))


class TinyTransformer(nn.Module):
    """Decoder-only Transformer returning next-token logits at every position."""

    def __init__(self, vocab: int, seq_len: int, d: int = 32, layers: int = 2, heads: int = 4):
        super().__init__()
        if d % heads:
            raise ValueError(f"d = {d} is not a multiple of heads = {heads}; allowed: d divisible by heads")
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(seq_len, d))
        self.blocks = nn.ModuleList(_Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


LABEL_SMOOTHING = 0.1


def smoothed_entropy_floor(classes: int, smoothing: float = LABEL_SMOOTHING) -> float:
    """Smallest possible label-smoothed cross-entropy: the entropy of the smoothed target,
    ``-(1-s+s/K) log(1-s+s/K) - (K-1)(s/K) log(s/K)``."""
    p_true, p_other = 1.0 - smoothing + smoothing / classes, smoothing / classes
    return -p_true * math.log(p_true) - (classes - 1) * p_other * math.log(p_other) if smoothing else 0.0


def last_token_cross_entropy(model, data):
    """Excess label-smoothed cross-entropy of the next token after each sequence.

    ``CE_s(logits, target) - H_min`` with label smoothing ``s = 0.1`` and ``H_min``
    of :func:`smoothed_entropy_floor` (a constant: the gradient and Hessian are
    those of the cross-entropy). Label smoothing gives the loss a finite
    minimizer, so full-batch training converges, the gradient fades and Adam's
    second moment decays (Sec. 4.4, phase 2) as in the paper's long runs (plain
    cross-entropy on a separable set only decays like ``1/t``); subtracting the
    floor makes the loss tend to 0, so a spike is a rise by a factor.
    """
    tokens, target = data
    logits = model(tokens)[:, -1, :]
    ce = torch.nn.functional.cross_entropy(logits, target, label_smoothing=LABEL_SMOOTHING)
    return ce - smoothed_entropy_floor(logits.shape[-1])


def composition_data(n: int, items: int, anchors: int, seq_len: int, generator):
    """``(tokens (n, seq_len) long, target (n,) long, shifts (anchors,))``."""
    if seq_len < 3:
        raise ValueError(f"seq_len = {seq_len} is too short; allowed: seq_len >= 3 (key and two anchors)")
    shifts = torch.randperm(items - 1, generator=generator)[:anchors] + 1
    tokens = torch.randint(0, items, (n, seq_len), generator=generator)
    pos = torch.randint(0, seq_len - 2, (n,), generator=generator)
    a = torch.randint(0, anchors, (n, 2), generator=generator)
    rows = torch.arange(n)
    tokens[rows, pos + 1] = items + a[:, 0]
    tokens[rows, pos + 2] = items + a[:, 1]
    key = tokens[rows, pos]
    target = (key + shifts[a[:, 0]] + shifts[a[:, 1]]) % items
    return tokens, target, shifts


def transformer(*, n: int = 128, items: int = 16, anchors: int = 4, seq_len: int = 8, d: int = 32,
                layers: int = 2, heads: int = 4, seed: int = 0, device="cpu", dtype="float64",
                optimizer: str = "adam") -> Experiment:
    """Fig. 7 experiment, reduced (CPU: ~27k parameters; scale ``d``/``layers``/``n`` up on GPU)."""
    n, items, anchors = check_int("n", n, 1), check_int("items", items, 2), check_int("anchors", anchors, 1)
    if anchors > items - 1:
        raise ValueError(f"anchors = {anchors} exceeds items - 1 = {items - 1}; allowed: anchors < items")
    seq_len, d = check_int("seq_len", seq_len, 3), check_int("d", d, 1)
    layers, heads, seed = check_int("layers", layers, 1), check_int("heads", heads, 1), check_int("seed", seed, 0)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    tokens, target, shifts = composition_data(n, items, anchors, seq_len, g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyTransformer(items + anchors, seq_len, d, layers, heads).to(torch.float64)
    model = model.to(device=dev, dtype=dt)
    defaults = dict(optimizer=optimizer, lr=3e-3 if optimizer != "gd" else 0.1, steps=800, every=20,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    attrs = dict(experiment="transformer", n=n, items=items, anchors=anchors, seq_len=seq_len, d=d, layers=layers,
                 heads=heads, seed=seed, shifts=shifts.tolist(), dtype=str(dt).replace("torch.", ""), device=str(dev),
                 task="next token = (key + shift[a1] + shift[a2]) mod items",
                 loss="label-smoothed (0.1) cross-entropy of the next token minus its minimum",
                 n_params=sum(p.numel() for p in model.parameters()),
                 paper="loss-spikes-in-Adam Fig. 7 (reduced)")
    return Experiment("transformer", model, last_token_cross_entropy, (tokens.to(dev), target.to(dev)), defaults, attrs)
