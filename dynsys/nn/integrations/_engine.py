"""The trainer-independent engine of the callbacks: one :class:`~dynsys.nn.monitor.Monitor` per batch source.

A callback owns a :class:`TrainerMonitor`. It validates every argument when the
callback is built, builds the monitors on the trainer's own model and optimizer
when training begins (:meth:`TrainerMonitor.setup`), and at a record step
(:meth:`TrainerMonitor.record`) runs :meth:`Monitor.record` on

``"current"``
    the batch the trainer just stepped on (the last micro-batch with gradient
    accumulation), and/or
``"probe"``
    a fixed batch the user passes (the same data at every record, so records
    are comparable over training).

The model's ``training`` flags are switched for the measurement (``mode="eval"``:
no dropout, the deterministic loss; ``mode="train"``: the train-mode forward, with
one dropout mask fixed per record by :class:`dynsys.nn.hvp.ForwardGuard`) and
restored flag by flag afterwards. Parameters, ``.grad``, the optimizer state and the
global random stream are left bit-identical (the guarantees of the monitor, tested
again through the real trainers in ``tests/test_nn_integrations.py``).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping

import torch

from dynsys._validate import check_choice, check_int, check_positive

__all__ = ["TrainerMonitor", "SOURCES", "MODES", "to_device", "torch_optimizer"]

SOURCES = ("current", "probe")
MODES = ("eval", "train")
#: record entries sent to the trainer's loggers (besides the predictors)
LOGGED = ("loss", "grad_norm", "threshold")
_THRESHOLDS = ("threshold", "threshold_H", "threshold_Hhat", "threshold_directional")


def _allowed_predictors():
    from dynsys.nn.predictors import PREDICTORS

    return PREDICTORS + ("critical_sharpness", "lambda_grad_Hhat_sustained")


def check_predictors(predictors):
    """``None`` (all that apply) or a non-empty list of known predictor names."""
    if predictors is None:
        return None
    allowed = _allowed_predictors()
    if isinstance(predictors, str):
        predictors = [p.strip() for p in predictors.split(",") if p.strip()]
    try:
        names = list(predictors)
    except TypeError:
        raise ValueError(f"predictors = {predictors!r} is not a sequence of names; allowed: None or names from "
                         f"{', '.join(allowed)}") from None
    if not names:
        raise ValueError(f"predictors = {predictors!r} is empty; allowed: None (all that apply) or at least one of "
                         f"{', '.join(allowed)}")
    for p in names:
        if not isinstance(p, str) or p not in allowed:
            raise ValueError(f"predictors contains {p!r}; allowed: any of {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))


def torch_optimizer(optimizer, owner):
    """The ``torch.optim`` optimizer inside a trainer's wrapper (accelerate's ``AcceleratedOptimizer``...)."""
    opt = optimizer
    for _ in range(8):
        if isinstance(opt, (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)):
            return opt
        inner = getattr(opt, "optimizer", None)
        if inner is None or inner is opt:
            break
        opt = inner
    raise ValueError(f"{owner}: the trainer's optimizer is {type(optimizer).__name__} "
                     f"(inner: {type(opt).__name__}); allowed: torch.optim.SGD, torch.optim.Adam or torch.optim.AdamW")


def to_device(batch, device):
    """``batch`` with every tensor moved to ``device`` (mappings become dicts; lists and tuples kept)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@contextlib.contextmanager
def model_mode(model, mode):
    """Set every submodule's ``training`` flag for ``mode`` and restore each flag exactly afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        if mode == "eval":
            for m, _ in flags:
                m.training = False
        yield
    finally:
        for m, f in flags:
            m.training = f


class TrainerMonitor:
    """Validated settings and the per-source monitors of a trainer callback.

    Parameters are those of the callbacks (:class:`~dynsys.nn.integrations.HFTrainerCallback`,
    :class:`~dynsys.nn.integrations.LightningCallback`); ``owner`` names the callback in
    error messages and ``default_loss_fn`` is the trainer's own loss.
    """

    def __init__(self, *, owner, default_loss_fn, every, probe_batch, current_batch, predictors, loss_fn, mode,
                 lr, tol, seed, max_iter, per_block, block_predictors, prefix, log):
        self.owner = owner
        self.every = check_int("every", every, 1)
        if current_batch is not None and not isinstance(current_batch, bool):
            raise ValueError(f"current_batch = {current_batch!r} is not a bool; allowed: True, False or None "
                             "(None: True unless probe_batch is given)")
        if current_batch is None:
            current_batch = probe_batch is None
        if not current_batch and probe_batch is None:
            raise ValueError("current_batch = False and probe_batch = None leave nothing to measure; allowed: "
                             "current_batch=True and/or a probe_batch")
        self.sources = tuple(s for s, on in zip(SOURCES, (current_batch, probe_batch is not None)) if on)
        self.probe_batch = probe_batch
        self.predictors = check_predictors(predictors)
        if loss_fn is not None and not callable(loss_fn):
            raise ValueError(f"loss_fn = {loss_fn!r} is not callable; allowed: None (the trainer's loss) or "
                             "loss_fn(model, batch) -> scalar tensor")
        self.loss_fn = loss_fn if loss_fn is not None else default_loss_fn
        self.mode = check_choice("mode", mode, MODES)
        self.lr = None if lr is None else check_positive("lr", lr)
        self.tol = check_positive("tol", tol)
        if not self.tol < 1:
            raise ValueError(f"tol = {tol!r} is out of range; allowed: 0 < tol < 1")
        self.seed = check_int("seed", seed, 0)
        self.max_iter = None if max_iter is None else check_int("max_iter", max_iter, 2)
        for name, v in (("per_block", per_block), ("block_predictors", block_predictors), ("log", log)):
            if not isinstance(v, bool):
                raise ValueError(f"{name} = {v!r} is not a bool; allowed: True or False")
        self.per_block, self.block_predictors, self.log = per_block, block_predictors, log
        if not isinstance(prefix, str) or not prefix.strip("/"):
            raise ValueError(f"prefix = {prefix!r} is not a non-empty string; allowed: a tag prefix such as 'dynsys'")
        self.prefix = prefix.strip("/")
        self.monitors = {}
        self.model = self.optimizer = None
        self._checked = set()
        self._train = []
        self.recording = False

    # ------------------------------------------------------------------ setup
    def setup(self, model, optimizer, attrs=None):
        """Build one :class:`Monitor` per source on the trainer's model and (unwrapped) optimizer."""
        from dynsys.nn.monitor import Monitor
        from dynsys.nn.params import check_model
        from dynsys.nn.predictors import stability_threshold

        check_model(model)
        opt = torch_optimizer(optimizer, self.owner)
        lrs = {float(g["lr"]) for g in opt.param_groups}
        try:  # thresholds need one lr (or lr=); SGD one weight decay: say so before any step is spent
            stability_threshold(opt, self.lr if self.lr is not None else (1.0 if lrs == {0.0} else None))
        except ValueError as exc:
            raise ValueError(f"{self.owner}: {exc}. Pass lr= for several learning rates; for SGD with several "
                             "weight decays build the optimizer with one weight_decay for all parameters "
                             "(Adam/AdamW groups may differ)") from None
        self.model, self.optimizer = model, opt
        device = next(p for p in model.parameters() if p.requires_grad).device
        base = {"integration": self.owner, "mode": self.mode, **(attrs or {})}
        self.monitors = {}
        for source in self.sources:
            data = to_device(self.probe_batch, device) if source == "probe" else None
            self.monitors[source] = Monitor(
                model, self.loss_fn, data, opt, every=self.every, predictors=self.predictors, lr=self.lr,
                per_block=self.per_block, block_predictors=self.block_predictors, tol=self.tol, seed=self.seed,
                max_iter=self.max_iter, attrs={**base, "batch_source": source})
        self._checked = set()
        self._train = []
        if "probe" in self.monitors:
            self._check_loss("probe", self.monitors["probe"].data)
        return self

    def _check_loss(self, source, batch):
        """One guarded forward on the first batch of a source: a loss_fn that does not fit fails loudly here."""
        from dynsys.nn.hvp import evaluate_loss

        if source in self._checked:
            return
        what = "probe_batch" if source == "probe" else "the trainer's current batch"
        try:
            with self.measuring():
                evaluate_loss(self.model, self.loss_fn, batch)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's loss is re-raised with context
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"{self.owner}: loss_fn(model, batch) failed on {what}: {msg}; allowed: a batch the "
                             "model's loss accepts (pass loss_fn=... for a custom loss)") from exc
        self._checked.add(source)

    @contextlib.contextmanager
    def measuring(self):
        """The model in the measuring mode; ``recording`` is set (the trainers' hooks ignore these forwards)."""
        self.recording = True
        try:
            with model_mode(self.model, self.mode), torch.enable_grad():
                yield
        finally:
            self.recording = False

    # ------------------------------------------------------------------ records
    def due(self, step: int) -> bool:
        return step > 0 and step % self.every == 0

    def record(self, step: int, current_batch=None, step_lrs=None) -> dict:
        """Record every source at optimizer step ``step``; return the scalars to log (tag -> float).

        ``step_lrs``: the param groups' learning rates of the step just taken, where the
        trainer's scheduler has already moved the optimizer's (Lightning); default: the
        optimizer's current ones. The thresholds ``2/eta`` use that ``eta`` (``inf`` at 0)
        unless the callback was given ``lr``.
        """
        if not self.monitors:
            raise RuntimeError(f"{self.owner}: record() before setup(); the callback is set up when training begins")
        metrics = {}
        for source, mon in self.monitors.items():
            if source == "current":
                if current_batch is None:
                    mon.problems.append(f"step {step}: no current batch was seen; record skipped")
                    continue
                mon.data = current_batch
                self._check_loss(source, current_batch)
            mon.steps_done = step
            lrs = {float(v) for v in (step_lrs if step_lrs is not None else
                                      [g["lr"] for g in self.optimizer.param_groups])}
            lr_zero = self.lr is None and lrs == {0.0}
            if lr_zero:
                mon.lr = 1.0  # thresholds per unit lr, replaced below: 2/lr - wd is +inf at lr = 0
            elif self.lr is None and step_lrs is not None and len(lrs) == 1:
                mon.lr = lrs.pop()
            try:
                with self.measuring():
                    rec = mon.record()
            finally:
                mon.data = mon.data if source == "probe" else None  # do not keep the batch alive
                mon.lr = self.lr
            if lr_zero:
                for k in _THRESHOLDS:
                    if k in rec:
                        rec[k] = math.inf
            names = LOGGED + mon.predictors + ("critical_lr", "monitor_seconds")
            for k in dict.fromkeys(names):
                if k in rec:
                    metrics[f"{self.prefix}/{source}/{k}"] = float(rec[k])
        return metrics

    def add_train_loss(self, step: int, value):
        """The trainer's loss ``L(theta_{step-1})`` on the batch of step ``step`` (kept as ``train_loss``).

        ``value`` may be a 0-dim tensor: it is converted when the Dataset is built, so
        no device synchronisation happens per step.
        """
        self._train.append((step - 1, value.detach() if isinstance(value, torch.Tensor) else float(value)))

    def _flush_train(self):
        for step, value in self._train:
            for mon in self.monitors.values():
                mon.train_steps.append(step)
                mon.train_losses.append(float(value))
        self._train = []

    def to_dataset(self, source=None):
        """The record of one source as the monitor's ``xarray.Dataset`` (same layout as :meth:`Monitor.to_dataset`)."""
        if source is None:
            if len(self.sources) > 1:
                raise ValueError(f"source = None is ambiguous with both batches measured; allowed: one of "
                                 f"{', '.join(self.sources)}")
            source = self.sources[0]
        check_choice("source", source, self.sources)
        if source not in self.monitors:
            raise ValueError(f"{self.owner}: nothing recorded yet (training has not begun); allowed: call "
                             "to_dataset after trainer.train()/fit()")
        self._flush_train()
        return self.monitors[source].to_dataset()
