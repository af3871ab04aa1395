"""Fig. 5f / D9 of the loss-spikes-in-Adam paper: suppressing Adam's spikes by
controlling the preconditioner (``eps`` raised at the spike onset or from the
start; a floor on the second moment)."""
from __future__ import annotations

import numpy as np

from dynsys._validate import check_int, check_positive

from ._common import ClipSecondMoment, RaiseEpsilon, build_optimizer, train

__all__ = ["intervention_study"]


def intervention_study(experiment: str = "fnn-50d", *, steps: int | None = None, lr: float | None = None,
                       eps_raised: float = 0.1, floor: float = 0.01, onset: int | None = None,
                       rise: float = 10.0, runs=("eps_at_onset", "eps_from_start", "clip_from_start"),
                       **experiment_kw):
    """The loss with and without Adam interventions, from the same initialization.

    Runs: ``baseline`` (Adam, the experiment's defaults); ``eps_at_onset`` (``eps``
    raised to ``eps_raised`` at the first spike onset of the baseline, found by
    :func:`dynsys.nn.spikes.detect_spikes`, or at ``onset``; Fig. 5f / D9a);
    ``eps_from_start`` and ``clip_from_start`` (``vhat >= floor``; Fig. D9b).
    ``runs`` selects which of the three interventions to run.

    Returns
    -------
    xarray.Dataset
        ``loss(run, step)`` (``L(theta_t)`` before step ``t``; NaN after a divergence),
        attrs: the experiment's settings, ``onset`` (-1 when the baseline did not spike),
        ``peak_after_onset`` per run (largest loss from the onset on).
    """
    import xarray as xr

    from dynsys.nn.spikes import detect_spikes

    from . import get_experiment

    allowed = ("eps_at_onset", "eps_from_start", "clip_from_start")
    for r in runs:
        if r not in allowed:
            raise ValueError(f"runs contains {r!r}; allowed: any of {', '.join(allowed)}")
    probe = get_experiment(experiment, **experiment_kw)
    steps = check_int("steps", steps if steps is not None else probe.defaults["steps"], 1)
    lr = check_positive("lr", lr if lr is not None else probe.defaults["lr"])
    eps_raised = check_positive("eps_raised", eps_raised)

    def run(interventions=(), eps=1e-8):
        exp = get_experiment(experiment, **experiment_kw)
        opt = build_optimizer(exp.model, "adam", lr, eps=eps)
        res = train(exp, opt, steps, interventions=interventions)
        out = np.full(steps, np.nan)
        out[:len(res.loss)] = res.loss
        return out

    base = run()
    if onset is None:
        spikes = detect_spikes(base[np.isfinite(base)] if np.isfinite(base).all() else base, rise=rise)
        onset_step = spikes[0].onset if spikes else -1
    else:
        onset_step = check_int("onset", onset, 0)
    wanted = runs
    runs = {"baseline": base}
    if onset_step >= 0 and "eps_at_onset" in wanted:
        runs["eps_at_onset"] = run([RaiseEpsilon(onset_step, eps_raised)])
    if "eps_from_start" in wanted:
        runs["eps_from_start"] = run(eps=eps_raised)
    if "clip_from_start" in wanted:
        runs["clip_from_start"] = run([ClipSecondMoment(floor)])
    names = list(runs)
    ds = xr.Dataset({"loss": (("run", "step"), np.stack([runs[k] for k in names]))},
                    coords={"run": names, "step": np.arange(steps)})
    ds.attrs.update(probe.attrs)
    ds.attrs.update(lr=lr, steps=steps, eps_raised=eps_raised, floor=floor, onset=onset_step,
                    paper="loss-spikes-in-Adam Fig. 5f / D9")
    if onset_step >= 0:
        ds.attrs["peak_after_onset"] = [float(np.nanmax(runs[k][onset_step:])) for k in names]
    return ds
