"""Predict the onset of an Adam loss spike from the v-decay theory and compare it with the
detected onset (math.md A3-A5; loss-spikes-in-Adam paper Sec. 4.4, Thm B.1, Fig. 2c).

Theory. Once the loss has converged the gradient fades and Adam's second moment decays
(phase 2 of Thm B.1): ``v_{t+1} = beta2 v_t + (1 - beta2) g_t^2``. With the curvature frozen,
the preconditioned Hessian of Eq. 7, ``Hhat_t = c_t diag(1/(sqrt(vhat_t) + eps)) H`` with
``c_t = (1-beta1)/((1+beta1)(1-beta1^t))`` and ``vhat_t = v_t/(1-beta2^t)``, then grows like
``1/sqrt(vhat_t)``, and the spike starts when ``lambda_max(Hhat_t)`` reaches the stability
threshold ``2/eta`` (A3; on ``theta^2/2`` this is A4's ``eta/sqrt(vhat) = 2(1+beta1)/(1-beta1)``,
and with ``beta1 = 0`` and no bias correction A5's ``eta/sqrt(v_t) > 2``, the start of phase 3).

From one *anchor* record ``t0`` of a run, the forecast takes the measured
``lambda_0 = lambda_max(Hhat_{t0})``, the threshold ``T`` (``2/eta``, ``2/eta - wd`` for AdamW),
``beta1``, ``beta2``, ``eps``, the scale of the second moment ``q_0 = sqrt(mean vhat_{t0})``
(the record's ``||sqrt(vhat)||_2`` over all blocks, divided by ``sqrt(n_params)``) and the
gradient scale ``G^2 = |g_{t0}|^2 / n_params`` (held constant: the floor ``delta^2`` towards which
``v`` decays in phase 2), and evolves the scalar state

.. math:: v_{t0+s} = \\beta_2^s v_{t0} + (1 - \\beta_2^s) G^2,\\qquad
          \\lambda_{t0+s} = \\lambda_0 \\frac{c_{t0+s}}{c_{t0}} \\frac{q_0 + \\epsilon}{\\sqrt{v_{t0+s}/(1-\\beta_2^{t0+s})} + \\epsilon},

(:func:`steps_to_instability`); the predicted onset is the first ``t0 + s`` with
``lambda_{t0+s} >= T``. ``G = 0`` (the gradient keeps fading, as in A5's phase 2 where
``theta -> 0``) gives the earliest onset a frozen ``H`` allows, ``G`` held at its anchor value
the latest; both are reported. With ``eps = 0``, no bias correction and ``G = 0`` this is
``s = 2 ln(lambda_0/T) / ln(beta2)`` (:func:`v_decay_onset_closed_form`). Every ``v_i`` decays by
the same factor when the gradient is zero, so then ``Hhat`` scales uniformly and the forecast is
exact for a frozen ``H``; what the theory leaves out on a network is the change of ``H`` itself
(a flattening ``lambda_max(H)`` delays the spike) and the gradient's own decay.

Anchor (:func:`predict_onsets`): for each detected spike, the first record after the previous
spike's end (or the run's start) in phase 2: the run is stable there
(``lambda_max(Hhat) < T``), the second moment is falling (``sum vhat`` below the previous
record's), the threshold is the one at the onset (warm-up over), and the gradient floor is
below the critical level (``G^2 < v (lambda_0/T)^2`` roughly: the model foresees a crossing at
all). The forecast from the last such record before the onset (the shortest-range one) is
reported as well.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynsys._validate import check_in_range, check_int, check_nonnegative, check_positive

__all__ = ["steps_to_instability", "v_decay_onset_closed_form", "OnsetPrediction", "predict_onsets",
           "forecast_onsets", "open_record", "format_onset_table"]


def steps_to_instability(lambda0, threshold, *, beta2, t0, vhat0, grad_sq=0.0, eps=0.0, beta1=0.0,
                         bias_correction=True, max_steps: int = 1_000_000):
    """Steps ``s >= 0`` until the v-decay model's ``lambda_max(Hhat)`` reaches ``threshold``.

    Parameters
    ----------
    lambda0 : float
        ``lambda_max(Hhat)`` at the anchor step ``t0`` (``> 0``).
    threshold : float
        Stability threshold (``2/eta``, or ``2/eta - wd`` for AdamW; ``> 0``).
    beta2 : float
        Adam's ``beta2`` in ``(0, 1)``.
    t0 : int
        Optimizer steps done at the anchor (``>= 1`` with bias correction).
    vhat0 : float
        Second-moment scale at the anchor, ``mean(vhat_{t0})`` (``> 0``).
    grad_sq : float
        Gradient scale ``G^2`` (mean squared gradient component) held constant (``>= 0``).
    eps, beta1 : float
        Adam's ``eps`` and ``beta1`` (``c_t`` of Eq. 7).
    bias_correction : bool
        Use ``vhat = v/(1-beta2^t)`` and ``c_t`` with ``1-beta1^t`` (torch's Adam); False: the
        raw moments of math.md A5.
    max_steps : int
        Horizon of the search.

    Returns
    -------
    int or None
        The first ``s`` with ``lambda_{t0+s} >= threshold`` (0 if already there), or ``None``
        if the model never gets there within ``max_steps`` (the gradient floor ``G^2`` keeps
        ``v`` above the critical level).
    """
    lambda0 = check_positive("lambda0", lambda0)
    threshold = check_positive("threshold", threshold)
    beta2 = check_in_range("beta2", beta2, 0.0, 1.0, low_open=True, high_open=True)
    beta1 = check_in_range("beta1", beta1, 0.0, 1.0, high_open=True)
    t0 = check_int("t0", t0, 1 if bias_correction else 0)
    vhat0 = check_positive("vhat0", vhat0)
    grad_sq = check_nonnegative("grad_sq", grad_sq)
    eps = check_nonnegative("eps", eps)
    max_steps = check_int("max_steps", max_steps, 1)
    if lambda0 >= threshold:
        return 0
    q0 = math.sqrt(vhat0)
    if bias_correction:
        v0 = vhat0 * -math.expm1(t0 * math.log(beta2))
    else:
        v0 = vhat0
    chunk = 4096
    start = 1
    while start <= max_steps:
        s = np.arange(start, min(start + chunk, max_steps + 1), dtype=np.float64)
        decay = np.exp(s * math.log(beta2))
        v = decay * v0 + (1.0 - decay) * grad_sq
        if bias_correction:
            t = t0 + s
            vh = v / -np.expm1(t * math.log(beta2))
            cratio = -math.expm1(t0 * math.log(beta1)) / -np.expm1(t * math.log(beta1)) if beta1 > 0 else 1.0
        else:
            vh, cratio = v, 1.0
        lam = lambda0 * cratio * (q0 + eps) / (np.sqrt(vh) + eps)
        hit = np.nonzero(lam >= threshold)[0]
        if hit.size:
            return int(s[hit[0]])
        if grad_sq > 0 and decay[-1] < 1e-300:
            return None
        start += chunk
    return None


def v_decay_onset_closed_form(lambda0, threshold, beta2) -> float:
    """``s* = 2 ln(lambda0/threshold) / ln(beta2)``: the real-valued crossing of
    ``lambda0 beta2^(-s/2) = threshold`` (``eps = 0``, no bias correction, ``G = 0``; A5 phase 2)."""
    lambda0 = check_positive("lambda0", lambda0)
    threshold = check_positive("threshold", threshold)
    beta2 = check_in_range("beta2", beta2, 0.0, 1.0, low_open=True, high_open=True)
    return max(0.0, 2.0 * math.log(lambda0 / threshold) / math.log(beta2))


@dataclass(frozen=True)
class OnsetPrediction:
    """Theory's onset against the detected one for one spike (steps).

    ``predicted`` is the forecast with the gradient floor ``G = 0`` (pure ``beta2^t`` decay of
    ``v``: the earliest onset a frozen ``H`` allows), ``predicted_floor`` the one with ``G`` the
    gradient scale measured at the anchor (``v`` can fall no lower: the latest). Both are
    ``None`` when there is no phase-2 anchor before the spike (``reason``). ``error = predicted -
    detected`` (negative: the theory expects the spike earlier than it came). ``last_*``: the
    same from the last phase-2 record before the onset.
    """

    detected: int
    anchor: int
    predicted: int | None
    predicted_floor: int | None
    lambda0: float
    threshold: float
    vhat_rms: float
    grad_rms: float
    last_anchor: int = -1
    last_predicted: int | None = None
    last_predicted_floor: int | None = None
    reason: str = ""

    @property
    def error(self):
        return None if self.predicted is None else self.predicted - self.detected

    @property
    def error_floor(self):
        return None if self.predicted_floor is None else self.predicted_floor - self.detected

    @property
    def last_error(self):
        return None if self.last_predicted is None else self.last_predicted - self.detected

    @property
    def last_error_floor(self):
        return None if self.last_predicted_floor is None else self.last_predicted_floor - self.detected


def open_record(path):
    """A ``dynsys predict`` netCDF file as one Dataset (main group merged with ``diagnostics``)."""
    import xarray as xr

    with xr.open_dataset(path) as main:
        main = main.load()
    try:
        with xr.open_dataset(path, group="diagnostics") as diag:
            diag = diag.load()
    except OSError:
        return main
    out = xr.merge([main, diag], compat="override", combine_attrs="override")
    out.attrs = dict(main.attrs)
    return out


def _series(ds):
    """Per-record arrays the forecast needs, or a ValueError naming what is missing."""
    need = [v for v in ("lambda_max_Hhat", "grad_norm", "sqrt_vhat_norm") if v not in ds]
    if need:
        raise ValueError(f"ds lacks {', '.join(need)}; allowed: an Adam/AdamW monitor record with lambda_max_Hhat "
                         "and per_block=True (the default of dynsys predict)")
    for k in ("beta2", "n_params"):
        if k not in ds.attrs:
            raise ValueError(f"ds.attrs lacks {k!r}; allowed: a record written by Monitor.to_dataset or dynsys predict")
    step = np.asarray(ds["step"].values, dtype=np.int64)
    thr_name = "threshold_lambda_max_Hhat" if "threshold_lambda_max_Hhat" in ds else (
        "threshold_Hhat" if "threshold_Hhat" in ds else "threshold")
    sq = np.asarray(ds["sqrt_vhat_norm"].values, dtype=np.float64)
    vsum = np.nansum(sq ** 2, axis=-1) if sq.ndim == 2 else sq ** 2
    return dict(step=step, lam=np.asarray(ds["lambda_max_Hhat"].values, dtype=np.float64),
                thr=np.asarray(ds[thr_name].values, dtype=np.float64), vsum=vsum,
                g=np.asarray(ds["grad_norm"].values, dtype=np.float64), n=int(ds.attrs["n_params"]),
                beta1=float(ds.attrs.get("beta1", 0.0)), beta2=float(ds.attrs["beta2"]),
                eps=float(ds.attrs.get("eps", 0.0)))


def _forecast_at(s, i, max_steps, floor=True):
    """Predicted onset step from record ``i`` (or None); ``floor``: hold ``G^2 = |g_i|^2/n`` (else 0)."""
    lam, thr, vs, g = s["lam"][i], s["thr"][i], s["vsum"][i], s["g"][i]
    if not (np.isfinite(lam) and np.isfinite(thr) and np.isfinite(vs) and np.isfinite(g)) or lam <= 0 or vs <= 0:
        return None
    ds_ = steps_to_instability(lam, thr, beta2=s["beta2"], t0=max(1, int(s["step"][i])), vhat0=vs / s["n"],
                               grad_sq=g * g / s["n"] if floor else 0.0, eps=s["eps"], beta1=s["beta1"], max_steps=max_steps)
    return None if ds_ is None else int(s["step"][i]) + ds_


def forecast_onsets(ds, *, floor: bool = True, max_steps: int = 1_000_000):
    """The forecast from every record: ``predicted[i]`` = onset step the theory expects from record
    ``i`` (``-1``: no crossing predicted or values missing); ``floor``: with the measured gradient
    floor (else ``G = 0``). ``ds``: a monitor record."""
    s = _series(ds)
    out = np.full(s["step"].size, -1, dtype=np.int64)
    for i in range(s["step"].size):
        p = _forecast_at(s, i, max_steps, floor)
        out[i] = -1 if p is None else p
    return out


def _phase2(s, i, thr_onset):
    if i == 0:
        return False
    lam, thr = s["lam"][i], s["thr"][i]
    return (np.isfinite(lam) and lam < thr and s["vsum"][i] < s["vsum"][i - 1]
            and abs(thr - thr_onset) <= 1e-6 * abs(thr_onset))


def predict_onsets(ds, spikes=None, *, rise: float | None = None, max_steps: int = 1_000_000):
    """Forecast each detected spike's onset from the v-decay theory (module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A monitor record of an Adam/AdamW run (:meth:`Monitor.to_dataset`, or
        :func:`open_record` of a ``dynsys predict`` file) with ``lambda_max_Hhat``,
        ``grad_norm``, ``sqrt_vhat_norm`` and the attrs ``beta1, beta2, eps, n_params``.
    spikes : list of Spike, optional
        Detected with :func:`dynsys.nn.spikes.detect_spikes` on ``train_loss`` (``rise``:
        ``ds.attrs["spike_rise"]`` if present, else 10) when not given.

    Returns
    -------
    spikes, predictions : list of Spike, list of OnsetPrediction
    """
    from dynsys.nn.spikes import detect_spikes

    max_steps = check_int("max_steps", max_steps, 1)
    s = _series(ds)
    if spikes is None:
        rise = float(ds.attrs.get("spike_rise", 10.0)) if rise is None else rise
        if "train_loss" in ds and "train_step" in ds.coords:
            spikes = detect_spikes(ds["train_loss"].values, ds["train_step"].values, rise=rise)
        else:
            spikes = detect_spikes(ds["loss"].values, ds["step"].values, rise=rise)
    step = s["step"]
    out = []
    seg_start = 0
    for sp in spikes:
        before = np.nonzero((step > seg_start) & (step < sp.onset))[0]
        thr_onset = s["thr"][before[-1]] if before.size else math.nan
        cand = [(i, f) for i in before if _phase2(s, i, thr_onset)
                for f in [_forecast_at(s, i, max_steps)] if f is not None]
        if not cand:
            out.append(OnsetPrediction(sp.onset, -1, None, None, math.nan, math.nan, math.nan, math.nan,
                                       reason="no phase-2 record (stable, v decaying below the gradient floor's "
                                              "critical level) before the onset"))
        else:
            (i, pf), (j, plf) = cand[0], cand[-1]
            out.append(OnsetPrediction(
                detected=sp.onset, anchor=int(step[i]), predicted=_forecast_at(s, i, max_steps, False),
                predicted_floor=pf, lambda0=float(s["lam"][i]), threshold=float(s["thr"][i]),
                vhat_rms=math.sqrt(s["vsum"][i] / s["n"]), grad_rms=float(s["g"][i]) / math.sqrt(s["n"]),
                last_anchor=int(step[j]), last_predicted=_forecast_at(s, j, max_steps, False),
                last_predicted_floor=plf))
        if sp.end < 0:
            break
        seg_start = sp.end
    return spikes, out


def format_onset_table(rows) -> str:
    """Markdown table; ``rows`` = ``[(experiment, OnsetPrediction or str), ...]`` (a str: why none).

    Predictions and errors are written ``G=0 / G=g0`` (the two gradient floors)."""
    head = ("| experiment | detected onset | anchor | predicted | error | last anchor | predicted | error |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]

    def pair(a, b, signed=False):
        f = (lambda x: "-" if x is None else f"{x:+d}") if signed else (lambda x: "-" if x is None else str(x))
        return f"{f(a)} / {f(b)}"

    for name, p in rows:
        if isinstance(p, str):
            lines.append(f"| {name} | {p} | | | | | | |")
            continue
        if p.anchor < 0:
            lines.append(f"| {name} | {p.detected} | none ({p.reason}) | | | | | |")
            continue
        lines.append(f"| {name} | {p.detected} | {p.anchor} | {pair(p.predicted, p.predicted_floor)} "
                     f"| {pair(p.error, p.error_floor, True)} | {p.last_anchor} "
                     f"| {pair(p.last_predicted, p.last_predicted_floor)} "
                     f"| {pair(p.last_error, p.last_error_floor, True)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m dynsys.nn.onset FILE.nc ...``: the onset table of ``dynsys predict`` records."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m dynsys.nn.onset",
                                 description="Adam v-decay onset forecast vs detected spike onset, per record")
    ap.add_argument("files", nargs="+", help="netCDF files written by dynsys predict")
    args = ap.parse_args(argv)
    rows = []
    for path in args.files:
        try:
            ds = open_record(path)
        except (OSError, ValueError) as exc:
            print(f"python -m dynsys.nn.onset: error: {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        name = str(ds.attrs.get("experiment", path))
        if "lambda_max_Hhat" not in ds:
            rows.append((name, f"n/a ({ds.attrs.get('optimizer', '?')}: no second moment)"))
            continue
        spikes, preds = predict_onsets(ds)
        if not spikes:
            rows.append((name, "no spike detected"))
        rows += [(name, p) for p in preds]
    print(format_onset_table(rows))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
