"""The LLAS paper's GD experiment: a tanh network of width 20 fitting sin(x)+sin(4x)
(loss-spike-in-training-neural-networks, Sec. 3-5, App. A), with its analyses.

Setting: ``f(x) = sum_j a_j tanh(w_j x + b_j)``, every parameter ``N(0, 1/m)``
(``m = 20``), full-batch GD on ``(1/2n) sum (f(x_i) - y_i)^2`` over ``n`` inputs on an
even grid of ``[-pi, pi)``. The paper trains ``lr = 0.05`` for ``>10^5`` epochs
(spike at epoch 114320); the default here (``lr = 0.3``) reaches the edge of
stability and spikes within a few thousand steps on a CPU.

Analyses (functions of any run):

* :func:`pca_projection` - the trajectory ``theta_i - theta_t`` projected on its two
  leading principal directions (Sec. 3.1, Fig. 3.1c), with explained variance;
* :func:`output_difference_lfp` - the low-frequency proportion ``LFP(K)`` (Def. 3.1)
  of the output difference ``f_{theta_a} - f_{theta_b}`` on a uniform grid;
* :func:`neuron_condensation` - the condensed variance (Def. 5.1-5.2) of the
  hidden neurons' ``(w_i, b_i)``.

The LFP and condensed variance themselves are :mod:`dynsys.analysis` (F2).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dynsys._validate import check_int, check_positive

from ._common import Experiment, normal_, resolve_device, resolve_dtype
from .fnn_sin import TwoLayerNet, half_mse, sin_data

__all__ = ["llas_fnn", "pca_projection", "output_difference_lfp", "neuron_condensation", "llas_analysis",
           "random_perturbation_lfp"]


def llas_fnn(*, width: int = 20, n: int = 20, init_std: float | None = None, seed: int = 0, device="cpu",
             dtype="float64", optimizer: str = "gd") -> Experiment:
    """LLAS Fig. 3.1a-c / 3.3 setting (tanh, width 20, ``N(0, 1/m)``, GD)."""
    width, n, seed = check_int("width", width, 1), check_int("n", n, 2), check_int("seed", seed, 0)
    std = width ** -0.5 if init_std is None else check_positive("init_std", init_std)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    x, y = sin_data(n, g, grid=True)
    model = TwoLayerNet(1, width, "tanh")
    for p in model.parameters():
        normal_(p, std, g)
    model = model.to(device=dev, dtype=dt)
    defaults = dict(optimizer=optimizer, lr=0.3 if optimizer == "gd" else 0.01, steps=3000, every=10, rise=3.0,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    attrs = dict(experiment="llas-fnn", width=width, n=n, init_std=std, activation="tanh", seed=seed,
                 dtype=str(dt).replace("torch.", ""), device=str(dev), target="sin(x)+sin(4x)",
                 inputs="even grid on [-pi, pi)", loss="(1/2n) sum (f(x)-y)^2",
                 n_params=sum(p.numel() for p in model.parameters()), paper="LLAS Sec. 3 (Fig. 3.1a-c, 3.3)")
    return Experiment("llas-fnn", model, half_mse, (x.to(dev, dt), y.to(dev, dt)), defaults, attrs)


def pca_projection(thetas, reference: int = -1, k: int = 2):
    """Project a parameter trajectory on its leading principal directions (LLAS Sec. 3.1).

    ``M = [theta_1 - theta_ref, ..., theta_T - theta_ref]``; ``e_1..e_k`` are the leading
    right singular vectors of ``M`` (rows = steps); the projection of step ``i`` is
    ``(<theta_i - theta_ref, e_1>, ..., <theta_i - theta_ref, e_k>)``.

    Returns
    -------
    coords : (T, k) array, directions : (k, P) array, explained : (k,) array
        ``explained[j]`` = ``s_j^2 / sum s^2`` (the explained-variance ratio the paper quotes).
    """
    m = np.asarray(thetas, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(f"thetas has shape {m.shape}; allowed: (T, P) with T >= 2 recorded parameter vectors")
    if not np.all(np.isfinite(m)):
        raise ValueError("thetas contains non-finite entries; allowed: a finite trajectory")
    k = check_int("k", k, 1, min(m.shape))
    diff = m - m[reference]
    _, s, vt = np.linalg.svd(diff, full_matrices=False)
    total = float(np.sum(s ** 2))
    explained = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    return diff @ vt[:k].T, vt[:k], explained


def output_difference_lfp(model_a, model_b, K: int, *, grid: int = 256, low: float = -math.pi,
                          high: float = math.pi) -> float:
    """``LFP(K)`` (LLAS Def. 3.1) of ``f_a - f_b`` sampled on a uniform grid of ``[low, high)``."""
    from dynsys.analysis import low_frequency_proportion

    grid = check_int("grid", grid, 2)
    p = next(model_a.parameters())
    x = torch.linspace(low, high, grid + 1, dtype=p.dtype, device=p.device)[:-1].unsqueeze(-1)
    with torch.no_grad():
        diff = (model_a(x) - model_b(x)).detach().cpu().numpy()
    return low_frequency_proportion(diff, K)


def neuron_condensation(model) -> float:
    """Condensed variance (LLAS Def. 5.1-5.2) of the hidden neurons ``(w_i, b_i)`` of a :class:`TwoLayerNet` with 1-D input."""
    from dynsys.analysis import condensed_variance

    w = model.hidden.weight.detach().cpu().numpy()
    if w.shape[1] != 1:
        raise ValueError(f"model has input dimension {w.shape[1]}; allowed: a one-input TwoLayerNet")
    b = model.hidden.bias.detach().cpu().numpy()
    return condensed_variance(np.stack([w[:, 0], b], axis=1))


def llas_analysis(*, steps: int = 3000, lr: float = 0.3, every: int = 10, K: int = 2, rise: float = 3.0,
                  **experiment_kw):
    """Train the LLAS network with GD and return its analyses as an ``xarray.Dataset``.

    Variables: ``loss(train_step)``; ``pca(record, pc)`` (trajectory in the two leading PCA
    directions of the recorded parameters, relative to the last), ``condensed_variance(record)``
    and ``lfp(record)`` = LFP(K) of ``f_{theta_record} - f_{theta_end}``; attrs: explained-variance
    ratios, the spikes found (``rise``), and ``lfp_spike`` = LFP(K) of ``f_peak - f_end``
    for the first spike whose ``end`` is inside the run (paper Fig. 3.3: the
    ``theta_max`` / ``theta_end`` of the spike's descent), and ``lfp_random``, the same for
    random perturbations of the same size (:func:`random_perturbation_lfp`).
    """
    import copy

    import xarray as xr

    from dynsys.nn.spikes import detect_spikes

    from ._common import build_optimizer

    steps, every = check_int("steps", steps, 1), check_int("every", every, 1)
    exp = llas_fnn(**experiment_kw)
    opt = build_optimizer(exp.model, "gd", lr)
    params = [p for p in exp.model.parameters()]
    snaps, record_steps, losses, models = [], [], [], {}
    for t in range(steps + 1):
        if t % every == 0:
            snaps.append(torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy())
            record_steps.append(t)
            models[t] = copy.deepcopy(exp.model)
        if t == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss = exp.loss_fn(exp.model, exp.data)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
        loss.backward()
        opt.step()
    loss_arr = np.asarray(losses)
    spikes = detect_spikes(loss_arr, rise=rise)
    coords, _, explained = pca_projection(np.stack(snaps))
    end_model = models[record_steps[-1]]
    cv = [neuron_condensation(models[s]) for s in record_steps]
    lfp = []
    for s in record_steps:
        try:
            lfp.append(output_difference_lfp(models[s], end_model, K))
        except ValueError:  # identical outputs (the last record): LFP undefined
            lfp.append(np.nan)
    ds = xr.Dataset(
        {"loss": ("train_step", loss_arr), "pca": (("record", "pc"), coords),
         "condensed_variance": ("record", np.asarray(cv)), "lfp": ("record", np.asarray(lfp))},
        coords={"train_step": np.arange(loss_arr.size), "record": np.asarray(record_steps), "pc": [1, 2]})
    ds.attrs.update(exp.attrs)
    ds.attrs.update(lr=lr, steps=steps, every=every, K=K, rise=rise, explained_variance=explained.tolist(),
                    n_spikes=len(spikes), spike_onsets=[s.onset for s in spikes],
                    spike_peaks=[s.peak for s in spikes])
    done = [s for s in spikes if s.end >= 0]
    if done:
        s = done[0]
        peak_rec = min(record_steps, key=lambda r: abs(r - s.peak))
        end_rec = min(record_steps, key=lambda r: abs(r - s.end))
        if peak_rec != end_rec:
            ds.attrs["lfp_spike"] = output_difference_lfp(models[peak_rec], models[end_rec], K)
            ds.attrs["lfp_spike_steps"] = [peak_rec, end_rec]
            ds.attrs["lfp_random"] = random_perturbation_lfp(models[peak_rec], models[end_rec], K)
    return ds


def random_perturbation_lfp(model_max, model_end, K: int, *, samples: int = 20, seed: int = 0) -> float:
    """Mean ``LFP(K)`` of ``f_rnd - f_end`` for random ``theta_rnd`` (LLAS Sec. 3.3 control).

    ``theta_rnd = theta_end + (|theta_end - theta_max| / |e|) e`` with ``e ~ N(0, I)``: a random
    perturbation as large as the spike's parameter change.
    """
    import copy

    samples = check_int("samples", samples, 1)
    theta_end = torch.nn.utils.parameters_to_vector(model_end.parameters()).detach()
    theta_max = torch.nn.utils.parameters_to_vector(model_max.parameters()).detach()
    radius = float(torch.linalg.vector_norm(theta_end - theta_max))
    g = torch.Generator().manual_seed(check_int("seed", seed, 0))
    rnd = copy.deepcopy(model_end)
    vals = []
    for _ in range(samples):
        e = torch.randn(theta_end.shape, generator=g, dtype=torch.float64).to(theta_end)
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(theta_end + radius * e / torch.linalg.vector_norm(e), rnd.parameters())
        vals.append(output_difference_lfp(rnd, model_end, K))
    return float(np.mean(vals))
