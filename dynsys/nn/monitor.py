"""Record loss-spike predictors along a training run into an ``xarray.Dataset``.

:class:`Monitor` wraps any training loop that uses a stock ``torch.optim``
optimizer, either as a callback (call :meth:`Monitor.step` after each
``optimizer.step()``) or as a context manager that registers an optimizer
step post-hook::

    mon = Monitor(model, loss_fn, data, optimizer, every=10)
    with mon:                       # or: call mon.step(loss=...) yourself
        for t in range(steps):
            optimizer.zero_grad(); loss = loss_fn(model, data); loss.backward()
            optimizer.step()        # the hook records every 10th step
    ds = mon.to_dataset()

At a record step ``t`` (``t`` optimizer steps done, parameters ``theta_t``) the
monitor stores, from :func:`dynsys.nn.predictors.compute_predictors`:
``loss = L(theta_t)``, ``grad_norm``, the predictors (``lambda_max_H``,
``lambda_max_Hhat``, ``lambda_grad_H``, ``lambda_grad_Hhat``,
``lambda_update_Hhat``, ``critical_sharpness``, ...) and the stability
``threshold`` of the optimizer in use (``2/eta`` for GD and Adam, shifted by
weight decay, C3), with the Adam state after step ``t`` (the preconditioner of
the step just taken, Eq. 7 of the loss-spikes-in-Adam paper). Per parameter
block (layer): ``sqrt_vhat_norm = ||sqrt(vhat)||_2`` (Fig. 5c / 6d),
``grad_norm_block`` (Fig. 6c) and the predictors restricted to the block.

``lambda_grad_Hhat_sustained`` (Sec. 5.3 of the same paper) is computed in
:meth:`Monitor.to_dataset` as ``min`` over the records ``k-1, k, k+1`` of
``lambda_grad_Hhat``. On a record taken every ``N`` steps those are steps
``t-N, t, t+N``: with ``N = 1`` it is the paper's definition; with ``N > 1`` it is a
sparser (more permissive) version of it. At the first and last record the
missing neighbour is left out.

Monitoring does not change the trajectory: the predictors are computed with
forward/backward passes that never touch ``.grad``, the optimizer state, the
parameters or the random stream (a virtual step for the critical sharpness is
undone exactly); ``.grad`` is additionally saved and restored around each
record. A non-finite loss or gradient at a record is stored as NaN, flagged in
``nonfinite`` and listed in ``Monitor.problems`` (and the Dataset attrs), never
raised from inside torch.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from dynsys._validate import check_int, check_positive

__all__ = ["Monitor", "CONTRACT_VARIABLES"]

#: variables of the ``dynsys predict`` contract, in order
CONTRACT_VARIABLES = ("loss", "lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat",
                      "lambda_update_Hhat", "lambda_grad_Hhat_sustained", "critical_sharpness", "threshold")

_SCALARS = ("loss", "grad_norm", "threshold", "lambda_max_H", "lambda_max_Hhat", "lambda_grad_H",
            "lambda_grad_Hhat", "lambda_grad_Hhat_literal", "lambda_update_Hhat", "directional_sharpness",
            "critical_sharpness", "critical_lr", "n_hvp", "n_forward", "effective_weight_decay",
            "lambda_max_Hhat_decayed")


class Monitor:
    """Record predictors every ``every`` optimizer steps.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, data)`` returns the scalar loss tensor.
    data : object
        The (full-batch) data the predictors are measured on.
    optimizer : torch.optim.Optimizer
        The optimizer of the training loop (SGD, Adam or AdamW); read, never modified.
    every : int
        Record after every ``every``-th optimizer step (``>= 1``).
    predictors : sequence of str, optional
        Names understood by :func:`~dynsys.nn.predictors.compute_predictors`
        (default: all that apply to the optimizer). ``lambda_grad_Hhat_sustained``
        may be listed; it implies ``lambda_grad_Hhat``.
    lr : float, optional
        Learning rate of the thresholds (default: the optimizer's).
    per_block : bool
        Also record ``sqrt_vhat_norm`` (Adam) and ``grad_norm_block`` per block (cheap).
    block_predictors : bool
        Also compute every predictor restricted to each block (one eigen-solve
        per block and predictor: costly).
    tol : float
        Relative residual tolerance of the eigen-solves.
    seed : int
        Seed of the eigen-solver start vectors (warm-started afterwards).
    max_iter : int, optional
        Cap on the Lanczos iterations (Hessian-vector products) of each eigen-solve
        (default: the solver's own, ``max(300, 4k)`` bounded by the parameter count).
    attrs : dict, optional
        Extra attributes for the Dataset (experiment settings).
    """

    def __init__(self, model, loss_fn, data, optimizer, *, every: int = 1, predictors=None, lr=None,
                 per_block: bool = True, block_predictors: bool = False, tol: float = 1e-4, seed: int = 0,
                 attrs=None, max_iter=None):
        from dynsys.nn.params import check_model, parameter_layout
        from dynsys.nn.predictors import PREDICTORS

        check_model(model)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer = {type(optimizer).__name__} is not a torch.optim.Optimizer; "
                             "allowed: torch.optim.SGD, Adam or AdamW")
        self.model, self.loss_fn, self.data, self.optimizer = model, loss_fn, data, optimizer
        self.every = check_int("every", every, 1)
        self.tol = check_positive("tol", tol)
        self.seed = check_int("seed", seed, 0)
        self.max_iter = None if max_iter is None else check_int("max_iter", max_iter, 1)
        self.lr = None if lr is None else check_positive("lr", lr)
        self.per_block = bool(per_block)
        self.block_predictors = bool(block_predictors)
        is_adam = isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))
        allowed = PREDICTORS + ("critical_sharpness", "lambda_grad_Hhat_sustained")
        if predictors is None:
            names = [p for p in ("lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat",
                                 "lambda_update_Hhat", "critical_sharpness") if is_adam or "Hhat" not in p]
            self.sustained = is_adam
        else:
            if isinstance(predictors, str):
                predictors = [p.strip() for p in predictors.split(",") if p.strip()]
            names = []
            for p in predictors:
                if p not in allowed:
                    raise ValueError(f"predictors contains {p!r}; allowed: any of {', '.join(allowed)}")
                if "Hhat" in p and not is_adam:
                    raise ValueError(f"predictors contains {p!r}, which needs Adam's preconditioner, but optimizer = "
                                     f"{type(optimizer).__name__}; allowed: torch.optim.Adam or AdamW for the Hhat predictors")
                names.append(p)
            self.sustained = "lambda_grad_Hhat_sustained" in names
            names = [p for p in names if p != "lambda_grad_Hhat_sustained"]
            if self.sustained and "lambda_grad_Hhat" not in names:
                names.append("lambda_grad_Hhat")
        self.predictors = tuple(names)
        self.layout = parameter_layout(model)
        self.blocks = tuple(self.layout.blocks)
        self.attrs = dict(attrs or {})
        self.steps_done = 0
        self.records: list[dict] = []
        self.train_steps: list[int] = []
        self.train_losses: list[float] = []
        self.problems: list[str] = []
        self.diverged_step = -1
        self._warm = None
        self._hook = None

    # ------------------------------------------------------------------ hooks
    def attach(self):
        """Register an optimizer step post-hook that calls :meth:`step` (no loss)."""
        if self._hook is None:
            self._hook = self.optimizer.register_step_post_hook(lambda opt, args, kwargs: self.step())
        return self

    def detach(self):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc):
        self.detach()
        return False

    # ------------------------------------------------------------------ recording
    def step(self, loss=None):
        """Call after each ``optimizer.step()``.

        ``loss`` (optional) is the loss the loop computed before this step,
        ``L(theta_{t-1})``; it is kept at every step as ``train_loss`` (the fine
        record the spike detector prefers). Every ``every`` steps the predictors
        are recorded at the new parameters.
        """
        self.steps_done += 1
        if loss is not None:
            value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
            self.train_steps.append(self.steps_done - 1)
            self.train_losses.append(value)
        if self.steps_done % self.every == 0:
            self.record()

    def record_divergence(self, step: int, value: float):
        """Note that the loop stopped on a non-finite loss ``value = L(theta_t)``.

        ``t`` is the monitor's own step count (``steps_done``); ``step`` is the
        loop's index, kept in the message.
        """
        t = self.steps_done
        self.train_steps.append(t)
        self.train_losses.append(float(value))
        self.diverged_step = t
        self.problems.append(f"step {t}: training loss is not finite ({value}) at loop index {step}; training stopped")

    def record(self):
        """Record the predictors now (at ``steps_done``), whatever ``every`` says."""
        from dynsys.nn.predictors import compute_predictors

        grads = [None if p.grad is None else p.grad.detach().clone() for p in self.layout.params]
        rec = {"step": self.steps_done, "nonfinite": False}
        t0 = time.perf_counter()
        try:
            out = compute_predictors(self.model, self.loss_fn, self.data, self.optimizer,
                                     predictors=list(self.predictors), lr=self.lr, warm_start=self._warm,
                                     per_block=self.block_predictors, tol=self.tol, seed=self.seed,
                                     max_iter=self.max_iter)
            block_grads = self._block_grad_norms(out["gradient"]) if self.per_block else None
            block_vhat = self._block_sqrt_vhat_norms() if self.per_block else None
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            rec["nonfinite"] = True
            rec["loss"] = self._loss_or_nan()
            rec["problem"] = msg
            self.problems.append(f"step {self.steps_done}: {msg}")
            self._warm = None
        else:
            self._warm = out.get("warm_start")
            for k in _SCALARS:
                if k in out:
                    rec[k] = float(out[k])
            for k in ("threshold_H", "threshold_Hhat", "threshold_directional"):
                if k in out:
                    rec[k] = float(out[k])
            blocks = dict(out.get("per_block", {}))
            blocks.pop("sqrt_vhat_norm", None)
            blocks.pop("vhat_norm", None)
            if block_grads is not None:
                blocks["grad_norm_block"] = block_grads
            if block_vhat:
                blocks["sqrt_vhat_norm"] = block_vhat
            rec["blocks"] = blocks
            bad = [k for k in ("loss", "grad_norm") if k in rec and not math.isfinite(rec[k])]
            if bad:
                rec["nonfinite"] = True
                self.problems.append(f"step {self.steps_done}: non-finite values ({', '.join(bad)})")
        finally:
            for p, g in zip(self.layout.params, grads):
                p.grad = g
        rec["monitor_seconds"] = time.perf_counter() - t0
        self.records.append(rec)
        return rec

    def _loss_or_nan(self) -> float:
        from dynsys.nn.hvp import evaluate_loss

        try:
            return float(evaluate_loss(self.model, self.loss_fn, self.data))
        except (ValueError, RuntimeError):
            return math.nan

    def _block_grad_norms(self, g):
        return {b: float(torch.linalg.vector_norm(g[self.layout.block_index(b)])) for b in self.blocks}

    def _block_sqrt_vhat_norms(self):
        """``||sqrt(vhat)||_2`` per block, ``vhat = exp_avg_sq / (1 - beta2^t)`` (empty unless Adam)."""
        opt = self.optimizer
        if not isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
            return {}
        beta2 = {id(p): float(g["betas"][1]) for g in opt.param_groups for p in g["params"]}
        out = {}
        for b, ranges in self.layout.blocks.items():
            total = 0.0
            for off, p in zip(self.layout.offsets, self.layout.params):
                st = opt.state.get(p, {})
                if any(a == off for a, _ in ranges) and "exp_avg_sq" in st:
                    total += float(st["exp_avg_sq"].sum()) / (1.0 - beta2[id(p)] ** float(st["step"]))
            out[b] = math.sqrt(total)
        return out

    # ------------------------------------------------------------------ output
    def to_dataset(self):
        """The record as an ``xarray.Dataset`` (coordinate ``step``; ``block`` for per-block data)."""
        import xarray as xr

        import dynsys
        from dynsys.nn.predictors import sustained_predictor

        steps = np.array([r["step"] for r in self.records], dtype=np.int64)
        data_vars = {}
        names = ["loss", "grad_norm", "threshold", "threshold_H", "threshold_Hhat", "threshold_directional",
                 *self.predictors, "critical_lr", "effective_weight_decay", "lambda_max_Hhat_decayed", "n_hvp",
                 "n_forward", "monitor_seconds"]
        for k in dict.fromkeys(names):
            if any(k in r for r in self.records) or (k in ("loss", "threshold") and self.records):
                data_vars[k] = ("step", np.array([r.get(k, np.nan) for r in self.records], dtype=np.float64))
        data_vars["nonfinite"] = ("step", np.array([r["nonfinite"] for r in self.records], dtype=bool))
        if self.sustained and "lambda_grad_Hhat" in data_vars and steps.size:
            data_vars["lambda_grad_Hhat_sustained"] = ("step", sustained_predictor(data_vars["lambda_grad_Hhat"][1]))
        if "critical_sharpness" in data_vars and "threshold_directional" in data_vars:
            # the critical sharpness is compared with 2/eta (the step raises the loss iff it exceeds it)
            data_vars["threshold_critical_sharpness"] = data_vars["threshold_directional"]
        coords = {"step": steps}
        if self.per_block and self.records:
            coords["block"] = np.array(self.blocks, dtype=object).astype(str)
            keys = sorted({k for r in self.records for k in r.get("blocks", {})})
            for k in keys:
                arr = np.full((steps.size, len(self.blocks)), np.nan)
                for i, r in enumerate(self.records):
                    for j, b in enumerate(self.blocks):
                        arr[i, j] = r.get("blocks", {}).get(k, {}).get(b, np.nan)
                name = k if k in ("sqrt_vhat_norm", "grad_norm_block") else f"{k}_block"
                data_vars[name] = (("step", "block"), arr)
        if self.train_losses:
            coords["train_step"] = np.asarray(self.train_steps, dtype=np.int64)
            data_vars["train_loss"] = ("train_step", np.asarray(self.train_losses, dtype=np.float64))
        ds = xr.Dataset(data_vars, coords=coords)
        ds.attrs.update(self._attrs())
        return ds

    def _attrs(self):
        import dynsys

        opt = self.optimizer
        g0 = opt.param_groups[0]
        attrs = {"optimizer": type(opt).__name__, "lr": float(g0["lr"]), "every": self.every,
                 "predictors": ",".join(self.predictors + (("lambda_grad_Hhat_sustained",) if self.sustained else ())),
                 "per_block": int(self.per_block), "tol": self.tol, "seed_eigensolver": self.seed,
                 "steps_done": self.steps_done, "diverged_step": self.diverged_step,
                 "problems": "; ".join(self.problems), "n_params": self.layout.size,
                 "dynsys_version": getattr(dynsys, "__version__", "unknown"),
                 "torch_version": torch.__version__,
                 "sustained_definition": f"min of lambda_grad_Hhat over records k-1, k, k+1 (steps t-{self.every}, t, t+{self.every})"}
        for k in ("betas", "eps", "weight_decay", "momentum"):
            if k in g0:
                v = g0[k]
                attrs[k if k != "betas" else "beta1"] = float(v[0]) if k == "betas" else float(v)
                if k == "betas":
                    attrs["beta2"] = float(v[1])
        wds = [float(g.get("weight_decay", 0.0)) for g in opt.param_groups]
        if len(set(wds)) > 1:  # param groups with different decays: threshold = 2/lr - effective_weight_decay
            attrs["weight_decay_groups"] = ",".join(repr(w) for w in wds)
        for k, v in self.attrs.items():
            attrs[k] = v if isinstance(v, (int, float, str)) else str(v)
        return attrs
