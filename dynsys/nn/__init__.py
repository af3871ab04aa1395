"""Spike predictors on torch networks (optional extra ``dynsys[torch]``).

Curvature is an operator (architecture idea 3): the Hessian ``H`` of a loss over
a model's flat parameter vector, and Adam's preconditioned Hessian ``Hhat``
(Eq. 7 of the loss-spikes-in-Adam paper) applied through its symmetric form
``D^{1/2} H D^{1/2}`` (Lemma B.1), are linear operators built from
Hessian-vector products.  Eigen-solvers (Lanczos, power iteration) and Rayleigh
quotients (``lambda_grad``, ``lambda_update``, directional sharpness) act on any
operator; the critical learning rate needs forward passes only.

Main entry points
-----------------
hessian_lambda_max(model, loss_fn, data, *, optimizer=None, tol=1e-6, seed=0)
critical_learning_rate(model, loss_fn, data, optimizer, *, rel_tol=0.01, guess=None)
compute_predictors(model, loss_fn, data, optimizer, *, predictors=..., lr=None,
                   warm_start=None, per_block=False)

``loss_fn(model, data)`` returns a scalar tensor.
"""
try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "dynsys.nn needs PyTorch, which is an optional extra: install it with "
        "`pip install 'dynsys[torch]'` (or `pip install torch`)") from exc

import importlib

# name -> submodule that defines it (lazy, so `import dynsys.nn` stays cheap)
_EXPORTS = {
    # params
    "ParameterLayout": "params", "parameter_layout": "params", "flatten": "params", "unflatten": "params",
    "check_device": "params", "check_model": "params",
    # hvp
    "DataChunks": "hvp", "make_hvp": "hvp", "HVP_METHODS": "hvp",
    # operators
    "CurvatureOperator": "operators", "HessianOperator": "operators",
    "PreconditionedHessianOperator": "operators", "BlockOperator": "operators",
    "MatrixOperator": "operators", "adam_preconditioner": "operators",
    # eigen
    "EigenResult": "eigen", "lanczos": "eigen", "power_iteration": "eigen", "rayleigh_quotient": "eigen",
    # predictors
    "hessian_lambda_max": "predictors", "compute_predictors": "predictors",
    "stability_threshold": "predictors", "update_direction": "updates",
    "directional_sharpness": "predictors", "sustained_predictor": "predictors",
    "PREDICTORS": "predictors",
    # critical sharpness
    "critical_learning_rate": "critical", "relative_critical_sharpness": "critical",
    "CriticalLearningRate": "critical",
    # NN-APPS: monitor, spike analysis, plots, experiments
    "Monitor": "monitor", "CONTRACT_VARIABLES": "monitor",
    "Spike": "spikes", "PredictorReport": "spikes", "detect_spikes": "spikes", "spikes_to_dataset": "spikes",
    "evaluate_predictor": "spikes", "evaluate_predictors": "spikes", "format_summary": "spikes",
    "format_spike_table": "spikes", "threshold_crossings": "spikes",
    "plot_record": "plot",
    "predict_onsets": "onset", "forecast_onsets": "onset", "steps_to_instability": "onset",
    "OnsetPrediction": "onset", "open_record": "onset",
    "EXPERIMENTS": "experiments", "get_experiment": "experiments", "run_experiment": "experiments",
    "Experiment": "experiments", "build_optimizer": "experiments",
}
# every submodule, loaded lazily as an attribute (dynsys.nn.monitor, ...)
_SUBMODULES = ("params", "hvp", "operators", "eigen", "updates", "predictors", "critical",
               "monitor", "spikes", "plot", "experiments", "integrations", "onset")

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        mod = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(mod, name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
