"""Experiments of the loss-spike papers on torch networks (data generated in code).

Registry names (``dynsys predict --experiment NAME``):

========== ==================================================================
fnn-sin     two-layer tanh net on sin(x)+sin(4x) (loss-spikes-in-Adam Fig. 4)
fnn-50d     two-layer ReLU net, 50-d quadratic target (Fig. 5, D5, D9)
cnn         small CNN, synthetic images, MSE on one-hot labels (Fig. 6, reduced)
transformer small Transformer, compositional-rule next token (Fig. 7, reduced)
llas-fnn    tanh net of width 20 under GD, PCA/LFP/condensation (LLAS paper Sec. 3-5)
gpt2-text   transformers GPT-2 on the CPython help text, AdamW + warm-up (new; needs dynsys[hf])
========== ==================================================================

:func:`get_experiment` builds one; :func:`run_experiment` trains it with a stock
``torch.optim`` optimizer under a :class:`~dynsys.nn.monitor.Monitor` and returns
the record.
"""
from __future__ import annotations

from dynsys._validate import check_choice, check_int

from ._common import (OPTIMIZER_NAMES, ClipSecondMoment, Experiment, RaiseEpsilon, TrainResult,
                      build_optimizer, resolve_device, resolve_dtype, train)

__all__ = ["EXPERIMENTS", "get_experiment", "run_experiment", "intervention_study", "Experiment", "build_optimizer", "train",
           "TrainResult", "RaiseEpsilon", "ClipSecondMoment", "OPTIMIZER_NAMES", "resolve_device", "resolve_dtype"]


def intervention_study(*args, **kw):
    """See :func:`dynsys.nn.experiments.interventions.intervention_study` (Fig. 5f / D9)."""
    from .interventions import intervention_study as study

    return study(*args, **kw)


def _fnn_sin(**kw):
    from .fnn_sin import fnn_sin, fnn_sin_gd

    return fnn_sin_gd(**{k: v for k, v in kw.items() if k != "optimizer"}) if kw.get("optimizer") == "gd" \
        else fnn_sin(**kw)


def _fnn_50d(**kw):
    from .fnn_50d import fnn_50d

    return fnn_50d(**kw)


def _cnn(**kw):
    from .cnn import cnn

    return cnn(**kw)


def _transformer(**kw):
    from .transformer import transformer

    return transformer(**kw)


def _llas_fnn(**kw):
    from .llas_fnn import llas_fnn

    return llas_fnn(**kw)


def _gpt2_text(**kw):
    from .gpt2_text import gpt2_text  # imports transformers lazily (optional extra dynsys[hf])

    return gpt2_text(**kw)


#: name -> factory(**settings) -> Experiment
EXPERIMENTS = {"fnn-sin": _fnn_sin, "fnn-50d": _fnn_50d, "cnn": _cnn, "transformer": _transformer,
               "llas-fnn": _llas_fnn, "gpt2-text": _gpt2_text}


def get_experiment(name: str, **settings) -> Experiment:
    """Build experiment ``name`` (keywords: its factory's settings, e.g. ``width``, ``seed``, ``device``)."""
    check_choice("experiment", name, tuple(EXPERIMENTS))
    return EXPERIMENTS[name](**settings)


def run_experiment(name: str, *, optimizer: str | None = None, lr: float | None = None, beta1: float | None = None,
                   beta2: float | None = None, eps: float | None = None, weight_decay: float | None = None,
                   steps: int | None = None, every: int | None = None, predictors=None, per_block: bool = True,
                   block_predictors: bool = False, tol: float = 1e-4, interventions=(), progress: bool = False, **settings):
    """Train experiment ``name`` under a monitor; return ``(dataset, experiment)``.

    Unset hyperparameters take the experiment's defaults (the paper's). The
    Dataset is the :meth:`~dynsys.nn.monitor.Monitor.to_dataset` record, with the
    experiment's settings and the run's hyperparameters in ``attrs``.
    """
    from dynsys.nn.monitor import Monitor

    if optimizer is not None:
        check_choice("optimizer", optimizer, OPTIMIZER_NAMES)
    if optimizer is not None:  # else the experiment's own default (GD for llas-fnn, Adam elsewhere)
        settings = dict(settings, optimizer=optimizer)
    exp = get_experiment(name, **settings)
    d = dict(exp.defaults)
    given = dict(optimizer=optimizer, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 steps=steps, every=every)
    d.update({k: v for k, v in given.items() if v is not None})
    steps = check_int("steps", d["steps"], 1)
    every = check_int("every", d["every"], 1)
    opt = build_optimizer(exp.model, d["optimizer"], d["lr"], beta1=d["beta1"], beta2=d["beta2"], eps=d["eps"],
                          weight_decay=d["weight_decay"])
    attrs = dict(exp.attrs)
    attrs.update({k: d[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay", "steps")})
    attrs["optimizer_name"] = d["optimizer"]
    for iv in interventions:
        attrs.update(iv.attrs())
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=every, predictors=predictors, per_block=per_block,
                  block_predictors=block_predictors, tol=tol, attrs=attrs)
    result = train(exp, opt, steps, monitor=mon, interventions=interventions, progress=progress)
    ds = mon.to_dataset()
    ds.attrs["train_diverged_step"] = result.diverged_step
    ds.attrs["train_reason"] = result.reason
    return ds, exp
