"""Flat parameter vectors of a torch model, split into named blocks (layers).

Every curvature operator in :mod:`dynsys.nn` acts on the *flat parameter
vector* ``theta``: the trainable parameters of a model, in
``model.named_parameters()`` order, each flattened and concatenated.  A
:class:`ParameterLayout` records where each parameter lives in that vector and
groups parameters into *blocks*: by default one block per layer (the module that
owns the parameter, e.g. ``"0"`` for ``"0.weight"`` and ``"0.bias"`` of an
``nn.Sequential``), which is the grouping the per-block predictors of the
loss-spikes-in-Adam paper (Fig. 5-6, per-layer ``||vhat||``) use.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ParameterLayout", "parameter_layout", "flatten", "unflatten", "check_model", "check_device"]


@dataclass(frozen=True)
class ParameterLayout:
    """Where each trainable parameter sits in the flat parameter vector.

    Attributes
    ----------
    names : tuple of str
        Parameter names (``model.named_parameters()`` order, trainable only).
    params : tuple of torch.nn.Parameter
        The live parameter tensors (same order).
    offsets : tuple of int
        Start index of each parameter in the flat vector.
    numels : tuple of int
        Number of entries of each parameter.
    blocks : dict
        Block name -> tuple of ``(start, stop)`` index ranges in the flat vector.
    """

    names: tuple
    params: tuple
    offsets: tuple
    numels: tuple
    blocks: dict

    @property
    def size(self) -> int:
        """Length of the flat parameter vector."""
        return int(sum(self.numels))

    @property
    def dtype(self):
        return self.params[0].dtype

    @property
    def device(self):
        return self.params[0].device

    def block_index(self, block: str):
        """Index tensor (long) of the entries of ``block`` in the flat vector."""
        if block not in self.blocks:
            raise ValueError(f"block = {block!r} is not a block of this model; allowed: one of {', '.join(self.blocks)}")
        idx = [torch.arange(a, b) for a, b in self.blocks[block]]
        return torch.cat(idx).to(self.device)

    def parameter_slice(self, name: str) -> slice:
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + self.numels[i])


def check_model(model):
    """Raise ValueError unless ``model`` is an ``nn.Module`` with trainable parameters."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model = {type(model).__name__} is not a torch.nn.Module; allowed: an nn.Module with trainable parameters")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(
            f"model = {type(model).__name__} has no trainable parameters (none with requires_grad=True); "
            "allowed: an nn.Module with at least one trainable parameter")
    return model


def _layer_name(param_name: str) -> str:
    return param_name.rsplit(".", 1)[0] if "." in param_name else param_name


def parameter_layout(model, *, blocks: str = "layer") -> ParameterLayout:
    """Layout of the trainable parameters of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Must have at least one parameter with ``requires_grad=True``.
    blocks : {"layer", "parameter", "all"}
        ``"layer"``: one block per owning module (``"0.weight"``, ``"0.bias"`` -> ``"0"``);
        ``"parameter"``: one block per parameter tensor; ``"all"``: a single block ``"all"``.
    """
    check_model(model)
    if blocks not in ("layer", "parameter", "all"):
        raise ValueError(f"blocks = {blocks!r} is not valid; allowed: one of layer, parameter, all")
    names, params, offsets, numels = [], [], [], []
    block_map: dict = {}
    off = 0
    seen = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        names.append(name)
        params.append(p)
        offsets.append(off)
        numels.append(p.numel())
        key = {"layer": _layer_name(name), "parameter": name, "all": "all"}[blocks]
        block_map.setdefault(key, []).append((off, off + p.numel()))
        off += p.numel()
    dtypes = {p.dtype for p in params}
    devices = {p.device for p in params}
    if len(dtypes) > 1 or len(devices) > 1:
        raise ValueError(
            f"model parameters have mixed dtypes/devices ({sorted(map(str, dtypes))}, {sorted(map(str, devices))}); "
            "allowed: one floating dtype on one device")
    if not params[0].dtype.is_floating_point:
        raise ValueError(f"model parameters have dtype {params[0].dtype}; allowed: a floating-point dtype")
    return ParameterLayout(tuple(names), tuple(params), tuple(offsets), tuple(numels),
                           {k: tuple(v) for k, v in block_map.items()})


def flatten(tensors) -> "torch.Tensor":
    """Concatenate tensors (in layout order) into one flat vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector, layout: ParameterLayout):
    """Split a flat vector into tensors shaped like the layout's parameters (views)."""
    return [vector[o:o + n].view_as(p) for o, n, p in zip(layout.offsets, layout.numels, layout.params)]


def check_device(device) -> "torch.device":
    """A ``torch.device`` that exists on this machine, or ValueError naming it.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a ``torch.device``.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device = {device!r} is not a device name; allowed: cpu, cuda, cuda:N, mps") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device = {device!r} does not exist: CUDA is not available on this machine; allowed: cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device = {device!r} does not exist: this machine has {n} CUDA device(s); "
                             f"allowed: cuda:0 .. cuda:{n - 1}")
        return dev
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device = {device!r} does not exist: MPS is not available on this machine; allowed: cpu")
        return dev
    raise ValueError(f"device = {device!r} is not supported; allowed: cpu, cuda, cuda:N, mps")
