"""Spike predictors inside a Lightning ``Trainer`` run (extra ``dynsys[lightning]``)."""
from __future__ import annotations

import contextlib
from collections.abc import Mapping

try:
    from lightning.pytorch import Callback
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test through sys.modules
    raise ImportError(
        "dynsys.nn.integrations.LightningCallback needs Lightning, an optional extra: install it with "
        "`pip install 'dynsys[lightning]'`") from exc

import torch

from dynsys.nn.integrations._engine import TrainerMonitor

__all__ = ["LightningCallback", "lightning_loss"]


def _no_log(*args, **kwargs):
    return None


@contextlib.contextmanager
def _muted(module):
    """``module.log`` / ``log_dict`` as no-ops: the monitor's calls of ``training_step`` log nothing."""
    saved = {k: module.__dict__[k] for k in ("log", "log_dict") if k in module.__dict__}
    module.log = module.log_dict = _no_log
    try:
        yield
    finally:
        for k in ("log", "log_dict"):
            if k in saved:
                setattr(module, k, saved[k])
            else:
                delattr(module, k)


def lightning_loss(module, batch):
    """The module's own loss: ``module.training_step(batch, 0)`` (a tensor, or a dict's ``"loss"``), logging muted."""
    with _muted(module):
        out = module.training_step(batch, 0)
    if isinstance(out, Mapping):
        out = out.get("loss")
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"training_step returned {type(out).__name__}; allowed: a loss tensor or a dict with 'loss' "
                         "(or pass loss_fn=)")
    return out


class LightningCallback(Callback):
    """Record the loss-spike predictors every ``every`` optimizer steps of a Lightning ``Trainer``.

    After optimizer step ``t`` (``trainer.global_step == t``, in ``on_train_batch_end``)
    the monitor (:class:`dynsys.nn.monitor.Monitor`) measures, on the LightningModule and
    the live ``trainer.optimizers[0]`` (``torch.optim`` SGD, Adam or AdamW), ``loss``,
    ``grad_norm``, ``lambda_max(H)``, ``lambda_max(Hhat)`` (``Hhat = D H`` with ``D`` from
    ``exp_avg_sq``, Eq. 7 of the loss-spikes-in-Adam paper), ``lambda_grad``,
    ``lambda_update`` and the critical sharpness, against the threshold ``2/eta``
    (math.md A3, C1, C3), ``eta`` the learning rate of the step just taken (kept in
    ``on_before_optimizer_step``: Lightning's step schedulers move it before
    ``on_train_batch_end``). Parameters, ``.grad``, the optimizer state and the random
    stream are left bit-identical. The values go to every logger of the trainer
    (``trainer.loggers``: TensorBoardLogger, CSVLogger, ...) as
    ``<prefix>/<source>/<name>`` at step ``t``; the record is :meth:`to_dataset`.

    Parameters are those of :class:`~dynsys.nn.integrations.HFTrainerCallback`, except:
    ``probe_batch`` is any batch the module's ``training_step`` takes (moved to the
    module's device), and ``loss_fn(module, batch)`` defaults to :func:`lightning_loss`
    (``training_step`` with ``self.log`` muted). The ``train_loss`` record is the
    ``"loss"`` the training step returned.
    """

    def __init__(self, every=10, *, probe_batch=None, current_batch=None, predictors=None, loss_fn=None,
                 mode="eval", lr=None, tol=1e-4, seed=0, max_iter=None, per_block=True, block_predictors=False,
                 prefix="dynsys", log=True):
        self.engine = TrainerMonitor(
            owner="LightningCallback", default_loss_fn=lightning_loss, every=every, probe_batch=probe_batch,
            current_batch=current_batch, predictors=predictors, loss_fn=loss_fn, mode=mode, lr=lr, tol=tol,
            seed=seed, max_iter=max_iter, per_block=per_block, block_predictors=block_predictors, prefix=prefix,
            log=log)
        self._last_step = None
        self._step_lrs = None

    def on_train_start(self, trainer, pl_module):
        if len(trainer.optimizers) != 1:
            raise ValueError(f"LightningCallback: the trainer has {len(trainer.optimizers)} optimizers; allowed: "
                             "exactly one (trainer.optimizers[0] is measured)")
        self.engine.setup(pl_module, trainer.optimizers[0], attrs={"trainer": "lightning.pytorch.Trainer"})
        self._last_step = trainer.global_step
        self._step_lrs = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        # Lightning steps "step"-interval schedulers before on_train_batch_end: keep the lr of this step
        self._step_lrs = [float(g["lr"]) for g in optimizer.param_groups]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step == self._last_step:  # no optimizer step on this batch (gradient accumulation)
            return
        self._last_step = step
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            self.engine.add_train_loss(step, loss.detach().reshape(()))
        if not self.engine.due(step):
            return
        metrics = self.engine.record(step, current_batch=batch, step_lrs=self._step_lrs)
        if self.engine.log and metrics:
            for logger in trainer.loggers:
                logger.log_metrics(dict(metrics), step=step)

    # ------------------------------------------------------------------ results
    @property
    def monitors(self):
        """``{source: Monitor}`` of this run."""
        return dict(self.engine.monitors)

    def to_dataset(self, source=None):
        """The record as the monitor's ``xarray.Dataset``; ``source`` ("current"/"probe") when both are measured."""
        return self.engine.to_dataset(source)
