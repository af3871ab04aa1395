"""Hessian-vector products of a loss over a model's flat parameter vector.

``H v`` for ``H = d^2 L / d theta^2`` and the loss ``L(theta) = sum_i w_i
loss_fn(model, chunk_i)`` (one chunk unless ``data`` is a :class:`DataChunks`),
by one of three methods:

``"double_backward"`` (default)
    ``g = autograd.grad(L, theta, create_graph=True)`` once, then each product is
    one backward pass through the kept gradient graph: ``H v = d(g . v)/d theta``
    (Pearlmutter's trick).  With several chunks the graph of each chunk is rebuilt
    per product unless ``keep_graph=True`` (memory for speed).
``"forward_over_reverse"``
    ``torch.func.jvp(torch.func.grad(L), (theta,), (v,))`` through
    ``torch.func.functional_call``; nothing kept between products.
``"finite_difference"``
    central difference of gradients ``(g(theta + h u) - g(theta - h u)) / (2 h) |v|``
    with ``u = v/|v|`` and ``h = eps^{1/3} max(1, |theta|_inf)``: first derivatives
    only, for layers that have no double backward; error ``O(h^2)``.
``"auto"``
    double backward, falling back to finite differences (with a warning) if the
    model has no double backward.

Which is faster is measured in ``benchmarks/bench_nn.py`` (see
``docs/performance.md``, section Networks).  Every forward pass runs with the
random-number state the product object captured when it was built and restores
the model's buffers afterwards, so dropout masks are the same for every product
(a fixed linear operator), batch-norm running statistics are untouched, and the
caller's random stream is not advanced: measuring never changes training.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import torch

from dynsys.nn.params import ParameterLayout, flatten, parameter_layout, unflatten

__all__ = ["DataChunks", "make_hvp", "HVP_METHODS", "loss_and_gradient", "evaluate_loss", "ForwardGuard"]

HVP_METHODS = ("double_backward", "forward_over_reverse", "finite_difference", "auto")


class DataChunks:
    """A data set given in chunks, so that full-batch products fit in memory.

    The loss is ``L = sum_i w_i loss_fn(model, chunks[i])``; by default
    ``w_i = 1/len(chunks)`` (the mean of per-chunk mean losses; pass weights
    proportional to chunk sizes for the exact mean over unequal chunks).
    """

    def __init__(self, chunks, weights=None):
        chunks = list(chunks)
        if not chunks:
            raise ValueError("chunks is empty; allowed: a non-empty sequence of batches")
        if weights is None:
            weights = [1.0 / len(chunks)] * len(chunks)
        weights = [float(w) for w in weights]
        if len(weights) != len(chunks):
            raise ValueError(f"weights has {len(weights)} entries for {len(chunks)} chunks; allowed: one weight per chunk")
        if not all(math.isfinite(w) and w > 0 for w in weights):
            raise ValueError(f"weights = {weights!r} has a non-positive or non-finite entry; allowed: finite weights > 0")
        self.chunks = chunks
        self.weights = weights

    def __len__(self):
        return len(self.chunks)

    def items(self):
        return list(zip(self.chunks, self.weights))


def _items(data):
    return data.items() if isinstance(data, DataChunks) else [(data, 1.0)]


def check_loss(loss, where="loss_fn(model, data)"):
    """Return ``loss`` as a 0-dim tensor, or raise ValueError if not a finite scalar tensor."""
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"{where} returned {type(loss).__name__}; allowed: a scalar torch.Tensor")
    if loss.numel() != 1:
        raise ValueError(f"{where} returned a tensor of shape {tuple(loss.shape)}; allowed: a scalar (one-element) tensor")
    if not loss.dtype.is_floating_point:
        raise ValueError(f"{where} returned dtype {loss.dtype}; allowed: a floating-point scalar tensor")
    return loss.reshape(())


def call_loss(loss_fn, model, chunk):
    """``loss_fn(model, chunk)`` checked to be a scalar tensor; a device mismatch becomes a ValueError."""
    try:
        loss = loss_fn(model, chunk)
    except RuntimeError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "device" in msg.lower():
            dev = next(iter(model.parameters())).device
            raise ValueError(f"loss_fn(model, data) failed: tensors on different devices (model parameters on {dev}): "
                             f"{msg}; allowed: data on the model's device") from None
        raise
    return check_loss(loss)


class ForwardGuard:
    """Run forward passes without side effects on the model or the random stream.

    Captures the CPU (and the model's CUDA device) random state at construction;
    each ``with guard():`` block runs with that random state (same dropout masks
    every time) inside :func:`torch.random.fork_rng` (the caller's stream is
    restored), and with every buffer of the model temporarily replaced by a
    copy, so in-place updates (batch-norm running statistics) hit the copy and the
    model's own buffers are never modified (nor is a kept autograd graph that
    saved them invalidated).
    """

    def __init__(self, model):
        self.model = model
        dev = next(iter(model.parameters())).device
        self.cuda_devices = [dev] if dev.type == "cuda" else []
        self.cpu_state = torch.get_rng_state()
        self.cuda_states = [torch.cuda.get_rng_state(d) for d in self.cuda_devices]
        self.slots = [(mod, name) for mod in model.modules() for name, b in mod._buffers.items() if b is not None]

    @contextlib.contextmanager
    def __call__(self):
        originals = [mod._buffers[name] for mod, name in self.slots]
        with torch.random.fork_rng(devices=self.cuda_devices):
            torch.set_rng_state(self.cpu_state)
            for d, s in zip(self.cuda_devices, self.cuda_states):
                torch.cuda.set_rng_state(s, d)
            try:
                for (mod, name), b in zip(self.slots, originals):
                    mod._buffers[name] = b.detach().clone()
                yield
            finally:
                for (mod, name), b in zip(self.slots, originals):
                    mod._buffers[name] = b


def _raise_nonfinite(what, value=None):
    extra = f" ({value})" if value is not None else ""
    raise ValueError(f"{what} is not finite{extra} at the current parameters; "
                     "allowed: finite loss and gradients (the model has diverged or the data contain nan/inf)")


def evaluate_loss(model, loss_fn, data, guard: ForwardGuard | None = None) -> float:
    """``L(theta)`` by forward passes only (no graph), as a Python float (may be inf/nan)."""
    guard = guard or ForwardGuard(model)
    total = 0.0
    with torch.no_grad(), guard():
        for chunk, w in _items(data):
            total += w * float(call_loss(loss_fn, model, chunk))
    return total


def loss_and_gradient(model, loss_fn, data, layout: ParameterLayout | None = None,
                      guard: ForwardGuard | None = None):
    """``(L(theta), grad L(theta))`` as (float, flat tensor); ValueError if not finite."""
    layout = layout or parameter_layout(model)
    guard = guard or ForwardGuard(model)
    total = 0.0
    g = torch.zeros(layout.size, dtype=layout.dtype, device=layout.device)
    with torch.enable_grad(), guard():
        for chunk, w in _items(data):
            loss = call_loss(loss_fn, model, chunk)
            if not torch.isfinite(loss):
                _raise_nonfinite("loss", float(loss.detach()))
            if loss.requires_grad:
                gs = torch.autograd.grad(loss, layout.params, allow_unused=True)
                g += w * flatten([torch.zeros_like(p) if gi is None else gi for gi, p in zip(gs, layout.params)])
            total += w * float(loss.detach())
    if not torch.isfinite(g).all():
        _raise_nonfinite("gradient")
    return total, g.detach()


class _LossModule(torch.nn.Module):
    """``forward(data) = loss_fn(model, data)``, so ``functional_call`` can swap parameters."""

    def __init__(self, model, loss_fn):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, data):
        return call_loss(self.loss_fn, self.model, data)


class _HVPBase:
    method = ""

    def __init__(self, model, loss_fn, data, layout):
        self.model, self.loss_fn, self.data = model, loss_fn, data
        self.layout = layout
        self.guard = ForwardGuard(model)
        self.n_calls = 0

    def _check_v(self, v):
        if not isinstance(v, torch.Tensor) or v.shape != (self.layout.size,):
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"v has shape {shape}; allowed: a flat tensor of shape ({self.layout.size},)")
        return v.to(dtype=self.layout.dtype, device=self.layout.device)

    def __call__(self, v):
        v = self._check_v(v)
        self.n_calls += 1
        out = self._hvp(v)
        if not torch.isfinite(out).all():
            _raise_nonfinite("Hessian-vector product")
        return out


class _DoubleBackwardHVP(_HVPBase):
    method = "double_backward"

    def __init__(self, model, loss_fn, data, layout, keep_graph=None):
        super().__init__(model, loss_fn, data, layout)
        items = _items(data)
        self.keep_graph = (len(items) == 1) if keep_graph is None else bool(keep_graph)
        self._graphs = None
        self.loss_value = self.gradient = None
        if self.keep_graph:
            # the kept graphs also give L(theta) and grad L(theta) for free
            self.loss_value = 0.0
            self.gradient = torch.zeros(layout.size, dtype=layout.dtype, device=layout.device)
            self._graphs = [self._grad_graph(chunk, w, record=True) for chunk, w in items]
            if not torch.isfinite(self.gradient).all():
                _raise_nonfinite("gradient")

    def _grad_graph(self, chunk, w, record=False):
        with torch.enable_grad(), self.guard():
            loss = call_loss(self.loss_fn, self.model, chunk)
            if not torch.isfinite(loss):
                _raise_nonfinite("loss", float(loss.detach()))
            if record:
                self.loss_value += w * float(loss.detach())
            if not loss.requires_grad:
                return []
            gs = torch.autograd.grad(w * loss, self.layout.params, create_graph=True, allow_unused=True)
        if record:
            self.gradient += flatten([torch.zeros_like(p) if gi is None else gi.detach()
                                      for gi, p in zip(gs, self.layout.params)])
        # keep only gradient pieces that still depend on the parameters
        return [(i, gi) for i, gi in enumerate(gs) if gi is not None and gi.requires_grad]

    def _apply(self, graph, vs, out_parts, retain):
        if not graph:
            return
        grads = [gi for _, gi in graph]
        outs = [vs[i] for i, _ in graph]
        hv = torch.autograd.grad(grads, self.layout.params, grad_outputs=outs, retain_graph=retain, allow_unused=True)
        for k, h in enumerate(hv):
            if h is not None:
                out_parts[k] += h

    def _hvp(self, v):
        vs = unflatten(v, self.layout)
        out = [torch.zeros_like(p) for p in self.layout.params]
        if self.keep_graph:
            for graph in self._graphs:
                self._apply(graph, vs, out, retain=True)
        else:
            for chunk, w in _items(self.data):
                self._apply(self._grad_graph(chunk, w), vs, out, retain=False)
        return flatten(out).detach()


class _FuncHVPBase(_HVPBase):
    def __init__(self, model, loss_fn, data, layout):
        super().__init__(model, loss_fn, data, layout)
        self.wrapper = _LossModule(model, loss_fn)
        self.keys = ["model." + n for n in layout.names]
        self.theta = flatten([p.detach() for p in layout.params])

    def _loss_of(self, flat, chunk):
        pd = dict(zip(self.keys, unflatten(flat, self.layout)))
        return torch.func.functional_call(self.wrapper, pd, (chunk,), strict=False)

    def _grad_at(self, flat):
        """Gradient at ``flat`` by one plain (first-order) backward per chunk."""
        g = torch.zeros_like(flat)
        with torch.enable_grad(), self.guard():
            for chunk, w in _items(self.data):
                x = flat.detach().requires_grad_(True)
                loss = self._loss_of(x, chunk)
                if loss.requires_grad:
                    g += w * torch.autograd.grad(loss, x, allow_unused=True, materialize_grads=True)[0]
        return g


class _ForwardOverReverseHVP(_FuncHVPBase):
    method = "forward_over_reverse"

    def _hvp(self, v):
        out = torch.zeros_like(v)
        with torch.enable_grad(), self.guard():
            for chunk, w in _items(self.data):
                def grad_fn(x, chunk=chunk):
                    return torch.func.grad(lambda y: self._loss_of(y, chunk))(x)
                out += w * torch.func.jvp(grad_fn, (self.theta,), (v,))[1]
        return out.detach()


class _FiniteDifferenceHVP(_FuncHVPBase):
    method = "finite_difference"

    def __init__(self, model, loss_fn, data, layout, step=None):
        super().__init__(model, loss_fn, data, layout)
        eps = torch.finfo(layout.dtype).eps
        scale = max(1.0, float(self.theta.abs().max()))
        self.step = float(step) if step is not None else eps ** (1.0 / 3.0) * scale

    def _hvp(self, v):
        nv = torch.linalg.vector_norm(v)
        if nv == 0:
            return torch.zeros_like(v)
        u = v / nv
        h = self.step
        gp = self._grad_at(self.theta + h * u)
        gm = self._grad_at(self.theta - h * u)
        return ((gp - gm) * (nv / (2.0 * h))).detach()


class _AutoHVP:
    """Double backward; on a RuntimeError from autograd, switch to finite differences."""

    method = "auto"

    def __init__(self, model, loss_fn, data, layout, keep_graph=None, fd_step=None):
        self._args = (model, loss_fn, data, layout)
        self._fd_step = fd_step
        self.layout = layout
        try:
            self.impl = _DoubleBackwardHVP(model, loss_fn, data, layout, keep_graph)
        except RuntimeError as exc:
            self._fallback(exc)
        self._probed = False

    def _fallback(self, exc):
        warnings.warn(f"double backward unavailable ({str(exc).splitlines()[0]}); "
                      "using finite-difference Hessian-vector products", RuntimeWarning, stacklevel=3)
        self.impl = _FiniteDifferenceHVP(*self._args, step=self._fd_step)

    @property
    def n_calls(self):
        return self.impl.n_calls

    @property
    def guard(self):
        return self.impl.guard

    def __call__(self, v):
        if not self._probed:
            self._probed = True
            try:
                return self.impl(v)
            except RuntimeError as exc:
                if isinstance(self.impl, _FiniteDifferenceHVP):
                    raise
                self._fallback(exc)
        return self.impl(v)


def make_hvp(model, loss_fn, data, *, method="double_backward", layout=None, keep_graph=None, fd_step=None):
    """A Hessian-vector product ``v -> H v`` over the flat parameter vector.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, data)`` returns a scalar tensor.
    data : object or DataChunks
        What ``loss_fn`` takes; a :class:`DataChunks` sums the weighted per-chunk losses.
    method : {"double_backward", "forward_over_reverse", "finite_difference", "auto"}
    layout : ParameterLayout, optional
        Defaults to ``parameter_layout(model)``.
    keep_graph : bool, optional
        Double backward only: keep every chunk's gradient graph between products
        (default: only when there is a single chunk).
    fd_step : float, optional
        Finite differences only: the step ``h`` (default ``eps^{1/3} max(1, |theta|_inf)``).

    Returns
    -------
    callable
        ``hvp(v)`` maps a flat tensor of shape ``(n,)`` (parameter dtype/device) to
        ``H v``; ``hvp.n_calls`` counts products, ``hvp.method`` names the method.
        A non-finite product raises ValueError.
    """
    if method not in HVP_METHODS:
        raise ValueError(f"method = {method!r} is not valid; allowed: one of {', '.join(HVP_METHODS)}")
    if not callable(loss_fn):
        raise ValueError(f"loss_fn = {loss_fn!r} is not callable; allowed: a function loss_fn(model, data) -> scalar tensor")
    layout = layout or parameter_layout(model)
    if fd_step is not None and not (isinstance(fd_step, (int, float)) and math.isfinite(fd_step) and fd_step > 0):
        raise ValueError(f"fd_step = {fd_step!r} is out of range; allowed: fd_step > 0")
    if method == "double_backward":
        return _DoubleBackwardHVP(model, loss_fn, data, layout, keep_graph)
    if method == "forward_over_reverse":
        return _ForwardOverReverseHVP(model, loss_fn, data, layout)
    if method == "finite_difference":
        return _FiniteDifferenceHVP(model, loss_fn, data, layout, step=fd_step)
    return _AutoHVP(model, loss_fn, data, layout, keep_graph, fd_step)
