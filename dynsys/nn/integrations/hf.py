"""Spike predictors inside a Hugging Face ``transformers.Trainer`` run (extra ``dynsys[hf]``)."""
from __future__ import annotations

import warnings
from collections.abc import Mapping

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test through sys.modules
    raise ImportError(
        "dynsys.nn.integrations.HFTrainerCallback needs Hugging Face transformers (with accelerate), an optional "
        "extra: install it with `pip install 'dynsys[hf]'`") from exc

import torch

from dynsys.nn.integrations._engine import TrainerMonitor

__all__ = ["HFTrainerCallback", "hf_loss"]


def hf_loss(model, batch):
    """The Trainer's loss: ``model(**batch)["loss"]`` (the model computes it from the batch's ``labels``)."""
    out = model(**batch)
    if isinstance(out, Mapping):
        if out.get("loss") is None:
            raise ValueError("the model returned no 'loss' for the batch (are 'labels' in the batch?)")
        return out["loss"]
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise ValueError(f"the model returned {type(out).__name__}; allowed: a dict/ModelOutput with 'loss' "
                     "or pass loss_fn=")


class HFTrainerCallback(TrainerCallback):
    """Record the loss-spike predictors every ``every`` optimizer steps of a ``transformers.Trainer``.

    At optimizer step ``t`` (``state.global_step`` after the step) the monitor
    (:class:`dynsys.nn.monitor.Monitor`) measures, on the Trainer's own model and its
    live ``torch.optim`` optimizer (unwrapped from accelerate), ``loss``, ``grad_norm``,
    ``lambda_max(H)``, ``lambda_max(Hhat)`` with ``Hhat = D H`` and ``D`` from the
    optimizer's ``exp_avg_sq`` after step ``t`` (Eq. 7 of the loss-spikes-in-Adam
    paper), ``lambda_grad``, ``lambda_update`` and the critical sharpness (Definition
    2.1 of the critical-sharpness paper) with the stability threshold ``2/eta`` of the
    step just taken (math.md A3, C1, C3). The measurement runs in ``on_optimizer_step``
    (right after ``optimizer.step()``, before the scheduler moves the learning rate) and
    leaves parameters, ``.grad``, the optimizer state and the random stream bit-identical.

    The values go to the Trainer's loggers (``report_to``: TensorBoard, ...) through
    ``Trainer.log`` as ``<prefix>/<source>/<name>`` at step ``t``, which also appends
    them to ``state.log_history``; for that the callback needs the Trainer: build it
    with ``trainer=`` or call :meth:`attach`. Without it the values only reach
    ``state.log_history`` (a warning says so). The full record is
    :meth:`to_dataset`, the monitor's ``xarray.Dataset``.

    Parameters
    ----------
    every : int
        Record every ``every`` optimizer steps (``>= 1``).
    probe_batch : dict, optional
        A fixed batch (``model(**probe_batch)`` returns the loss), measured at every record.
    current_batch : bool, optional
        Also measure on the batch of the step (the last micro-batch with gradient
        accumulation; ``num_items_in_batch`` dropped, so the loss is its mean).
        Default: ``True`` unless ``probe_batch`` is given. Both may be on.
    predictors : sequence of str, optional
        As :class:`~dynsys.nn.monitor.Monitor` (default: all that apply).
    loss_fn : callable, optional
        ``loss_fn(model, batch)``; default :func:`hf_loss`.
    mode : {"eval", "train"}
        Model mode for the measurement: ``"eval"`` (no dropout; default) or ``"train"``
        (one dropout mask per record, fixed over the eigen-solve).
    lr : float, optional
        Learning rate of the thresholds (default: the optimizer's at that step; ``inf``
        thresholds where it is 0).
    tol, seed, max_iter, per_block, block_predictors
        As :class:`~dynsys.nn.monitor.Monitor`.
    prefix : str
        Tag prefix of the logged scalars.
    log : bool
        Send the values to the Trainer's loggers.
    trainer : transformers.Trainer, optional
        The Trainer to log through (same as :meth:`attach`).
    """

    def __init__(self, every=10, *, probe_batch=None, current_batch=None, predictors=None, loss_fn=None,
                 mode="eval", lr=None, tol=1e-4, seed=0, max_iter=None, per_block=True, block_predictors=False,
                 prefix="dynsys", log=True, trainer=None):
        if probe_batch is not None and not (isinstance(probe_batch, Mapping) and probe_batch):
            raise ValueError(f"probe_batch = {type(probe_batch).__name__} is not a non-empty mapping; allowed: a dict "
                             "of tensors the model takes as model(**probe_batch), with 'labels'")
        self.engine = TrainerMonitor(
            owner="HFTrainerCallback", default_loss_fn=hf_loss, every=every, probe_batch=probe_batch,
            current_batch=current_batch, predictors=predictors, loss_fn=loss_fn, mode=mode, lr=lr, tol=tol,
            seed=seed, max_iter=max_iter, per_block=per_block, block_predictors=block_predictors, prefix=prefix,
            log=log)
        self.trainer = None
        self._pending = None
        self._hooks = []
        self._batch = None
        self._losses = []
        self._loss_is_sum = False
        if trainer is not None:
            self.attach(trainer)

    def attach(self, trainer):
        """Log through ``trainer`` (and add this callback to it unless it already has it); returns ``self``."""
        if not hasattr(trainer, "callback_handler") or not hasattr(trainer, "log"):
            raise ValueError(f"trainer = {type(trainer).__name__} is not a transformers.Trainer; allowed: a Trainer")
        self.trainer = trainer
        if not any(cb is self for cb in trainer.callback_handler.callbacks):
            trainer.add_callback(self)
        return self

    # ------------------------------------------------------------------ events
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self.engine.setup(model, optimizer, attrs={"trainer": "transformers.Trainer"})
        self._remove_hooks()
        # the batch of each step (for the "current" source) and its training loss (kept as train_loss)
        self._hooks = [model.register_forward_pre_hook(self._capture_batch, with_kwargs=True),
                       model.register_forward_hook(self._capture_loss, with_kwargs=True)]
        if self.engine.log and self.trainer is None:
            warnings.warn("HFTrainerCallback has no Trainer to log through, so its values reach state.log_history "
                          "but not the report_to loggers; pass trainer= or call callback.attach(trainer)",
                          RuntimeWarning, stacklevel=2)

    def _capture_batch(self, module, args, kwargs):
        if module.training and not self.engine.recording:
            batch = dict(kwargs)
            self._loss_is_sum = batch.pop("num_items_in_batch", None) is not None
            # Trainer calls model(**inputs); a positional call is not a batch we can replay (record skipped)
            self._batch = None if args else batch

    def _capture_loss(self, module, args, kwargs, output):
        if module.training and not self.engine.recording and isinstance(output, Mapping):
            loss = output.get("loss")
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                self._losses.append(loss.detach().reshape(()))

    def on_optimizer_step(self, args, state, control, **kwargs):
        step = state.global_step + 1  # global_step is incremented after this event
        if self._losses:
            total = torch.stack(self._losses).sum()
            self.engine.add_train_loss(step, total if self._loss_is_sum else total / len(self._losses))
            self._losses = []
        if self.engine.due(step):
            metrics = self.engine.record(step, current_batch=self._batch)
            self._pending = (step, metrics)
        self._batch = None

    def on_step_end(self, args, state, control, **kwargs):
        if self._pending is None:
            return
        step, metrics = self._pending
        self._pending = None
        if not (self.engine.log and metrics):
            return
        if self.trainer is not None and self.trainer.state is state:
            # -> state.log_history and every report_to logger at global_step. Trainer.log's on_log clears
            # control.should_log: keep the Trainer's own decision to log its loss at this step
            should_log = control.should_log
            self.trainer.log(dict(metrics))
            self.trainer.control.should_log = control.should_log = should_log
        else:
            state.log_history.append({**metrics, "step": step})

    def on_train_end(self, args, state, control, **kwargs):
        self._remove_hooks()

    def _remove_hooks(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []

    # ------------------------------------------------------------------ results
    @property
    def monitors(self):
        """``{source: Monitor}`` of this run."""
        return dict(self.engine.monitors)

    def to_dataset(self, source=None):
        """The record as the monitor's ``xarray.Dataset``; ``source`` ("current"/"probe") when both are measured."""
        return self.engine.to_dataset(source)
