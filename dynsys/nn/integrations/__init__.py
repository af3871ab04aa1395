"""Callbacks that run the spike-predictor monitor inside the trainers people use.

``HFTrainerCallback``
    a ``transformers.TrainerCallback`` (extra ``dynsys[hf]``);
``LightningCallback``
    a ``lightning.pytorch.Callback`` (extra ``dynsys[lightning]``).

Both run :class:`dynsys.nn.monitor.Monitor` every ``every`` optimizer steps on the
trainer's own model and live optimizer state, on the trainer's current batch and/or a
fixed probe batch, leave parameters, gradients, optimizer state and the random
stream bit-identical, log to the trainer's loggers (TensorBoard...) and keep the
record as the monitor's ``xarray.Dataset`` (``callback.to_dataset()``).

This package imports without transformers or Lightning; a callback class is
imported on first use, and an ImportError names the extra to install.
"""
import importlib

_EXPORTS = {"HFTrainerCallback": "hf", "hf_loss": "hf", "LightningCallback": "lightning",
            "lightning_loss": "lightning"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        mod = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
