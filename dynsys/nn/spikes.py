"""Loss-spike detection on a training record and evaluation of spike predictors.

A *spike* is an excursion of the training loss far above its recent level that
later comes back down (the loss-spikes-in-Adam paper, Sec. 4-5; the LLAS paper,
Sec. 3, footnote to Fig. 5.3: "the current loss is significantly greater than the
loss from the previous epoch"). Working on ``log10(loss)``:

* the *baseline* at record ``i`` is the minimum of the loss over the trailing
  ``window`` steps before it (after a causal max-filter over ``dip`` records, so
  that a one-record dip, e.g. an oscillating coordinate passing through zero, does
  not count as the level the loss rose from);
* a spike starts at the first record whose loss exceeds ``rise`` times the
  baseline. Its *onset* is the last record before the loss began its climb: walk
  back from that record while the loss was still increasing; the onset is the
  local minimum reached (Fig. 3 of the loss-spikes-in-Adam paper marks the same
  point with a red line);
* the spike *ends* at the first record after its peak whose loss is back within
  ``sqrt(rise)`` of the baseline; excursions that start again within ``merge``
  steps of an end are the same spike (Adam's spikes ring for a while);
* a non-finite loss is a divergence: a spike with no end (``end = -1``).

A *predictor* is a curvature signal ``P_t`` with a stability threshold ``T_t``
(``2/eta`` for GD and for the Adam predictors built on the preconditioned
Hessian of Eq. 7). It is *on* while ``P_t > T_t``. For each spike:

* **hit**: the predictor is on at the onset, within ``tolerance`` steps (it may
  turn on up to ``tolerance`` steps after the onset, or have turned off at most
  ``tolerance`` steps before it);
* **lead**: ``onset - start`` of that on-episode, in steps (positive: the
  predictor crossed the threshold that many steps before the loss began to rise;
  0: at the onset; negative, down to ``-tolerance``: just after);
* an on-episode that overlaps no spike (from ``onset - tolerance`` to
  ``end + tolerance``) is a **false alarm**.

The sustained predictor ``min(P_{t-1}, P_t, P_{t+1})`` (Sec. 5.3) needs the next
record, so at a record it is known one record later; the lead reported for it
is counted from its own step label like the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import numpy as np

from dynsys._validate import check_in_range, check_nonnegative, check_positive

__all__ = [
    "Spike",
    "PredictorReport",
    "detect_spikes",
    "spikes_to_dataset",
    "evaluate_predictor",
    "evaluate_predictors",
    "format_summary",
    "format_spike_table",
    "threshold_crossings",
]


@dataclass(frozen=True)
class Spike:
    """One loss spike, in training steps.

    Attributes
    ----------
    onset : int
        Step of the local loss minimum from which the climb began.
    first_above : int
        First step whose loss exceeded ``rise`` times the baseline.
    peak : int
        Step of the largest loss in the spike.
    end : int
        First step back within ``sqrt(rise)`` of the baseline; ``-1`` if the loss
        never came back (the record ended, or the loss became non-finite).
    baseline_loss, onset_loss, peak_loss : float
        Trailing-window minimum before the spike, loss at the onset, largest loss
        (``inf`` for a divergence).
    diverged : bool
        The loss became non-finite during the spike.
    """

    onset: int
    first_above: int
    peak: int
    end: int
    baseline_loss: float
    onset_loss: float
    peak_loss: float
    diverged: bool = False

    @property
    def factor(self) -> float:
        """``peak_loss / baseline_loss``."""
        return self.peak_loss / self.baseline_loss if self.baseline_loss > 0 else math.inf


def _steps_and_loss(loss, step):
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"loss has shape {loss.shape}; allowed: a non-empty 1-D array of losses")
    if step is None:
        step = np.arange(loss.size)
    step = np.asarray(step)
    if step.shape != loss.shape:
        raise ValueError(f"step has shape {step.shape}; allowed: the shape of loss, {loss.shape}")
    if not np.issubdtype(step.dtype, np.number) or not np.all(np.isfinite(step)):
        raise ValueError("step contains non-numeric or non-finite entries; allowed: increasing integers")
    step = step.astype(np.int64)
    if step.size > 1 and np.any(np.diff(step) <= 0):
        raise ValueError("step is not strictly increasing; allowed: increasing integers")
    if np.any(np.isfinite(loss) & (loss < 0)):
        raise ValueError("loss contains negative values; allowed: losses >= 0 (non-finite marks divergence)")
    return step, loss


def _default_spacing(step) -> int:
    return int(np.median(np.diff(step))) if step.size > 1 else 1


def detect_spikes(loss, step=None, *, rise: float = 10.0, window: int | None = None,
                  merge: int | None = None, min_peak: float | None = None, dip: int = 3) -> list[Spike]:
    """Find loss spikes in a training record.

    Parameters
    ----------
    loss : array_like, shape (n,)
        Loss at each record; non-finite entries mark divergence.
    step : array_like of int, shape (n,), optional
        Training step of each record (strictly increasing); default ``0..n-1``.
    rise : float
        A spike is a loss more than ``rise`` times the trailing baseline
        (``rise > 1``; default 10, one decade).
    window : int, optional
        Trailing window of the baseline minimum, in steps (default: 50 records).
    merge : int, optional
        Excursions starting within ``merge`` steps after the end of the previous
        spike belong to it (default: ``window``).

    dip : int
        Dips narrower than ``dip`` records do not lower the baseline (the
        baseline is the trailing minimum of ``max(logL[j-dip..j])``); default 3.

    Returns
    -------
    list of Spike
        In order of onset. See the module docstring for the definitions.
    """
    step, loss = _steps_and_loss(loss, step)
    rise = check_in_range("rise", rise, 1.0, None, low_open=True)
    spacing = _default_spacing(step)
    window = int(check_positive("window", window)) if window is not None else 50 * spacing
    merge = int(check_nonnegative("merge", merge)) if merge is not None else window
    if min_peak is None:
        min_peak = 1e-9 * float(loss[0]) if math.isfinite(loss[0]) else 0.0
    min_peak = check_nonnegative("min_peak", min_peak)
    dip = int(check_nonnegative("dip", dip))
    with np.errstate(divide="ignore", invalid="ignore"):
        logl = np.where(np.isfinite(loss), np.log10(np.maximum(loss, 1e-300)), np.inf)
    # baseline from a causal max-filter of the log-loss: an isolated dip (the loss of an
    # oscillating coordinate passing through zero) must not set the baseline
    closed = logl.copy()
    for d in range(1, dip + 1):
        closed[d:] = np.maximum(closed[d:], logl[:-d])
    up = math.log10(rise)
    down = 0.5 * up
    n = loss.size
    raw = []  # (onset, first_above, peak, end, base, diverged) as record indices
    lo = 0  # first record of the trailing window
    i = 1
    while i < n:
        while step[lo] < step[i] - window:
            lo += 1
        base = float(np.min(closed[min(lo, i - 1):i]))
        if not math.isfinite(base):  # diverged earlier: nothing left to compare with
            break
        if logl[i] - base < up:
            i += 1
            continue
        onset = i  # walk back while the loss was climbing
        while onset > 0 and logl[onset - 1] < logl[onset]:
            onset -= 1
        peak, end, diverged = i, -1, False
        for k in range(i, n):
            if not math.isfinite(logl[k]):
                peak, diverged = k, True
                break
            if logl[k] > logl[peak]:
                peak = k
            elif logl[k] - base <= down:
                end = k
                break
        if diverged or loss[peak] >= min_peak:
            raw.append((onset, i, peak, end, base, diverged))
        if end < 0:
            break
        i = end + 1
    # merge excursions that restart within `merge` steps of the previous end
    merged = []
    for r in raw:
        if merged and merged[-1][3] >= 0 and step[r[0]] - step[merged[-1][3]] <= merge:
            o, f, p, _, b, _ = merged[-1]
            peak = r[2] if (r[5] or logl[r[2]] > logl[p]) else p
            merged[-1] = (o, f, peak, r[3], b, r[5])
        else:
            merged.append(r)
    return [Spike(onset=int(step[o]), first_above=int(step[f]), peak=int(step[p]),
                  end=int(step[e]) if e >= 0 else -1, baseline_loss=float(10.0 ** b),
                  onset_loss=float(loss[o]), peak_loss=math.inf if d else float(loss[p]),
                  diverged=bool(d))
            for o, f, p, e, b, d in merged]


def spikes_to_dataset(spikes):
    """The spikes as an ``xarray.Dataset`` with dimension ``spike``."""
    import xarray as xr

    cols = {f: [] for f in Spike.__dataclass_fields__}
    for s in spikes:
        for f, v in asdict(s).items():
            cols[f].append(v)
    data = {f: ("spike", np.asarray(v, dtype=np.float64 if "loss" in f else
                                    (bool if f == "diverged" else np.int64)))
            for f, v in cols.items()}
    return xr.Dataset(data, coords={"spike": np.arange(len(spikes))})


def threshold_crossings(step, values, threshold):
    """On-episodes of a predictor: ``[(start_step, end_step), ...]`` where ``values > threshold``.

    ``threshold`` is a scalar or an array like ``values``; NaN values count as off.
    ``end_step`` is the last record of the episode that is still on.
    """
    step = np.asarray(step, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), v.shape)
    with np.errstate(invalid="ignore"):
        on = np.isfinite(v) & (v > thr)
    episodes = []
    i = 0
    n = on.size
    while i < n:
        if on[i]:
            j = i
            while j + 1 < n and on[j + 1]:
                j += 1
            episodes.append((int(step[i]), int(step[j])))
            i = j + 1
        else:
            i += 1
    return episodes


@dataclass(frozen=True)
class PredictorReport:
    """How one predictor did against the spikes of one record.

    ``leads[i]`` is the lead (steps) for spike ``i``, or ``None`` when missed.
    """

    name: str
    n_spikes: int
    hits: int
    leads: tuple
    false_alarms: int
    n_episodes: int
    fraction_on: float

    @property
    def missed(self) -> int:
        return self.n_spikes - self.hits

    @property
    def median_lead(self) -> float:
        got = [x for x in self.leads if x is not None]
        return float(np.median(got)) if got else math.nan


def evaluate_predictor(step, values, threshold, spikes, *, name: str = "predictor",
                       tolerance: int | None = None, last_step: int | None = None) -> PredictorReport:
    """Evaluate one predictor against detected spikes (definitions in the module docstring).

    Parameters
    ----------
    step, values : array_like, shape (n,)
        Record steps and predictor values (NaN: not computed, counts as off).
    threshold : float or array_like
        Stability threshold at each record (e.g. ``2/eta``).
    spikes : list of Spike
    tolerance : int, optional
        Steps of slack around the onset (default: two record spacings).
    last_step : int, optional
        End of the record, for spikes that never ended (default: last step).
    """
    step = np.asarray(step, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if step.shape != values.shape or step.ndim != 1:
        raise ValueError(f"values has shape {values.shape}; allowed: the shape of step, {step.shape}")
    spacing = _default_spacing(step)
    tol = int(check_nonnegative("tolerance", tolerance)) if tolerance is not None else 2 * spacing
    last = int(step[-1]) if last_step is None else int(last_step)
    episodes = threshold_crossings(step, values, threshold)
    leads = []
    used = [False] * len(episodes)
    for s in spikes:
        end = s.end if s.end >= 0 else last
        lead = None
        for e, (a, b) in enumerate(episodes):
            if a <= end + tol and b >= s.onset - tol:
                used[e] = True  # overlaps the spike: not a false alarm
            if a <= s.onset + tol and b >= s.onset - tol:
                lead = s.onset - a  # the episode on at the onset (latest one wins)
        leads.append(lead)
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), values.shape)
        frac = float(np.mean(values[finite] > thr[finite])) if finite.any() else math.nan
    return PredictorReport(name=name, n_spikes=len(spikes), hits=sum(x is not None for x in leads),
                           leads=tuple(leads), false_alarms=used.count(False), n_episodes=len(episodes),
                           fraction_on=frac)


#: predictors evaluated when present in a record, in display order
PREDICTOR_NAMES = ("lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat",
                   "lambda_update_Hhat", "lambda_grad_Hhat_sustained", "critical_sharpness")


def evaluate_predictors(ds, spikes=None, *, loss_var: str = "loss", tolerance: int | None = None,
                        **detect_kw):
    """Evaluate every predictor present in a monitor record ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
        Coordinate ``step``; variables ``loss``, ``threshold`` and any of
        :data:`PREDICTOR_NAMES`. A variable ``threshold_<name>`` overrides
        ``threshold`` for that predictor. If ``ds`` has a finer loss record
        ``train_loss`` on coordinate ``train_step``, it is used for detection.
    spikes : list of Spike, optional
        Detected with :func:`detect_spikes` (``detect_kw``) when not given.

    Returns
    -------
    spikes, reports : list of Spike, list of PredictorReport
    """
    if "step" not in ds.coords or "threshold" not in ds:
        raise ValueError("ds needs a coordinate 'step' and a variable 'threshold'; allowed: a monitor record")
    if spikes is None:
        if "train_loss" in ds and "train_step" in ds.coords:
            spikes = detect_spikes(ds["train_loss"].values, ds["train_step"].values, **detect_kw)
        else:
            spikes = detect_spikes(ds[loss_var].values, ds["step"].values, **detect_kw)
    step = ds["step"].values
    reports = []
    for name in PREDICTOR_NAMES:
        if name not in ds:
            continue
        thr = ds[f"threshold_{name}"].values if f"threshold_{name}" in ds else ds["threshold"].values
        reports.append(evaluate_predictor(step, ds[name].values, thr, spikes, name=name,
                                          tolerance=tolerance, last_step=int(step[-1])))
    return spikes, reports


def format_summary(reports, spikes) -> str:
    """Summary table, one row per predictor (plain text)."""
    head = f"{'predictor':<28}{'spikes':>7}{'hit':>5}{'missed':>7}{'false alarms':>13}{'median lead':>13}{'time on':>9}"
    lines = [head, "-" * len(head)]
    for r in reports:
        lead = "-" if math.isnan(r.median_lead) else f"{r.median_lead:g}"
        frac = "-" if math.isnan(r.fraction_on) else f"{100 * r.fraction_on:.0f}%"
        lines.append(f"{r.name:<28}{r.n_spikes:>7}{r.hits:>5}{r.missed:>7}{r.false_alarms:>13}{lead:>13}{frac:>9}")
    return "\n".join(lines)


def format_spike_table(spikes, reports) -> str:
    """Per-spike table: onset, peak, factor and each predictor's lead (steps before onset)."""
    if not spikes:
        return "no loss spikes detected"
    names = [r.name for r in reports]
    head = f"{'#':>3}{'onset':>8}{'peak':>8}{'end':>8}{'factor':>9}" + "".join(f"{n[7:] if n.startswith('lambda_') else n:>22}" for n in names)
    lines = [head, "-" * len(head)]
    for i, s in enumerate(spikes):
        fac = "inf" if not math.isfinite(s.factor) else f"{s.factor:.3g}"
        row = f"{i:>3}{s.onset:>8}{s.peak:>8}{s.end:>8}{fac:>9}"
        for r in reports:
            lead = r.leads[i]
            row += f"{'miss' if lead is None else f'lead {lead}':>22}"
        lines.append(row)
    return "\n".join(lines)
