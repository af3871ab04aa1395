"""The finite-time II/III edge of Adam's phase diagram on ``x^k/k``: what a boundary curve could reach, and
what stricter definitions of an exponential phase do (issue 13; a measurement, not a registered claim).

Two questions about the 96 x 96 x 20000 maps of issue 13 (Adam, ``lr = 0.01``, eps = 0, no bias correction,
``x0 = 1``), whose regime-III agreement (0.927 / 0.868 / 0.856 for k = 4 / 6 / 8) misses the target because
of the ghost band past the existence line ``beta1 = beta2^{(k-1)/(2(k-2))}`` (docs/regime-agreement.md items 3, 5, 8):

1. **Is the observed II/III edge a curve at all?** :func:`best_row_cuts` puts, in every ``beta2`` row, one cut
   through the cells the theory calls II or III (II left of it, III right of it), placed to minimize
   ``misses_II + lam misses_III`` for the row; over a sweep of ``lam`` it keeps the cuts whose smaller
   agreement is largest. This is an *oracle*: 96 cut positions read off the observed map, an upper bound
   for any boundary ``beta1 = f(beta2)``, not a prediction. If it stays far below 0.95 the finite-time map
   cannot be described by any curve (the blur would be the obstacle); if it reaches 0.95, a curve exists
   and the obstacle is only that the theory does not give it. The cut's offset from the existence line is
   reported per ``beta2`` band.
2. **Does a stricter phase definition tell the ghost phases from regime II?** :func:`phase_rule_statistics`
   follows every cell with the scan's arithmetic (exact power-of-two units as in :mod:`dynsys.scan.episodes`;
   its plain longest run is checked to equal the scan's ``phase_steps`` cell by cell) and records the
   longest run of consecutive steps ``depth`` decades below ``c lr^k/k`` that, in addition,
   (a) never rises more than ``spike_factor`` above the run's own minimum (*spike-free*),
   (b) keeps the sign of ``x`` (*one sign*: the fixed point has ``s = rho > 0``), or
   (c) falls at every step (*monotone*), or (d) has ``v >= DECOUPLED g^2`` at every step (*decoupled*: the paper's
   mechanism of regimes I and II, Sec. 6.2, "the coupling ratio reaches high values"), and (e) the fraction of the
   steps after arrival spent in phases of at least ``phase_length`` steps (*duty*; rule: more than half). Each rule is decided from the trajectory
   alone; :func:`rule_agreements` relabels the cells with it (the classifier's ``still`` test unchanged).

3. **One orbit of the decoupled map as a predictor** (:func:`trivial_saddle_phase`). In the chart
   ``(s, w)``, ``s = 1 - u w``, the decoupled (``z = 0``) map of math.md D1 reads
   ``s' = 1 - (b1/rho^{k-2}) (1 - s)/s - (1 - b1) w s^{k-2}/rho^{k-2}``, ``w' = w s^{k-2}/rho^{k-2}``: the line
   ``w = 0`` is invariant and carries the Moebius map ``s' = 1 + s_g - s_g/s``, ``s_g = b1/rho^{k-2} = b1/sqrt(b2)``
   (every ``k``), with fixed points ``s = 1`` (the trivial point ``(u, w) = (1, 0)`` of D2; multiplier ``s_g`` along
   the line, ``1/sqrt(b2)`` across it) and ``s = s_g`` (``u = infinity``). A state that enters the decoupled regime
   far below the SignGD scale has ``w = lr x^{k-2}/sqrt(v) ~ (x/lr)^{k-2}`` small, i.e. lies near that line; if
   ``b1 < sqrt(b2)`` it is carried to ``s = 1`` (``x`` stalls) and leaves along the unstable manifold of the trivial
   point. So that manifold is a candidate for the path of chance phases. The function follows it from ``1e-12``
   off the point for ``steps`` steps and returns its longest run ``depth`` decades below its start; the prediction
   "II iff that run is at least ``phase_length``" (cells Thm 6.1 calls II or III) is measured against the scans. A
   hypothesis: where real entries land (``m`` must be small too, or ``s`` is huge and the orbit leaves the line at
   once) is not derived, so it is not adopted.

4. **Initial convergence** (:func:`onset_rule_agreements`, :func:`onsets_across_line`). The paper's regime II is
   "*initial* exponential convergence below the SignGD threshold, interrupted by a violent loss spike" (Sec. 6.2);
   a chance phase after a long oscillation is not that. Counting a scan's II cell as II only if its first phase
   starts within ``D`` steps of arrival (``phase_onset <= D``, from the trajectory alone) removes the chance
   phases; the question is whether the edge it leaves is the existence line for some ``D``. The best cut per row
   of the relabelled map is reported next to the agreement with Thm 6.1, and the onsets of one row across the
   line show how the edge moves.

``python -m theory.ii_iii_edge`` prints the tables (quoted in docs/regime-agreement.md item 11).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dynsys._validate import check_even_k, check_int
from dynsys.regimes import _check_betas
from dynsys.scan.episodes import _renewed_units, _unit_factors, _units_due

#: the rules of :func:`rule_agreements`, in the column order of :func:`phase_rule_statistics`
RULES = ("plain", "spike_free", "one_sign", "monotone", "decoupled", "duty")
#: the coupling ratio ``v/g^2`` a step of a *decoupled* phase needs (the scan's default ``spike_factor``)
DECOUPLED = 100.0


@njit(cache=True, error_model="numpy")
def _cell(k, lr, b1, b2, x0, steps, depth, spike_up, plen):
    """Longest plain / spike-free / one-sign / monotone / decoupled deep runs, steps in deep runs of ``>= plen``
    and the arrival step of one Adam run (eps = 0, no bias correction), in the units of :mod:`dynsys.scan.episodes`."""
    ex = math.frexp(abs(x0))[1]
    X = math.ldexp(x0, -ex)
    ev = 2 * (k - 1) * ex
    M = 0.0
    V = 0.0
    thr = lr * 10.0 ** (-depth / k)
    cv, es, _, ths, tas = _unit_factors(k, lr, b2, 0.0, thr, ex, ev)
    arrival = -1
    run = 0
    inph = 0
    best = np.zeros(5, np.int64)
    cur = np.zeros(5, np.int64)
    prev = math.inf
    psign = X > 0.0
    rmin = math.inf
    for t in range(steps + 1):
        a = abs(X)
        if not (a < math.inf) or a == 0.0:
            break
        if arrival < 0 and a <= tas:
            arrival = t
        absx = math.ldexp(a, ex)  # |x| itself: units change between steps (the runs compare across them)
        deep = a < ths
        G = X
        for _ in range(k - 2):
            G = G * X
        # g^2/v of this state, in the units: g^2 = G^2 2^{2(k-1)ex}, v = V 2^ev, cv = (1-b2) 2^{2(k-1)ex-ev}
        decoupled = (cv * (G * G)) * DECOUPLED < (1.0 - b2) * V
        if deep:
            run += 1
            if run == plen:
                inph += plen
            elif run > plen:
                inph += 1
            cur[0] = run
            if cur[1] > 0 and absx <= rmin * spike_up:
                cur[1] += 1
                rmin = min(rmin, absx)
            else:
                cur[1] = 1
                rmin = absx
            cur[2] = cur[2] + 1 if (cur[2] > 0 and (X > 0.0) == psign) else 1
            cur[3] = cur[3] + 1 if (cur[3] > 0 and absx < prev) else 1
            cur[4] = cur[4] + 1 if decoupled else 0
        else:
            run = 0
            cur[:] = 0
        for i in range(5):
            if cur[i] > best[i]:
                best[i] = cur[i]
        prev = absx
        psign = X > 0.0
        if t == steps:
            break
        m = b1 * M + (1.0 - b1) * G
        v = b2 * V + cv * (G * G)
        den = math.sqrt(v)
        if den == 0.0:
            break
        X = X - es * m / den
        M = m
        V = v
        if _units_due(X, V):
            X, M, V, ex, ev, _ = _renewed_units(k, X, M, V, ex, ev)
            cv, es, _, ths, tas = _unit_factors(k, lr, b2, 0.0, thr, ex, ev)
    return best[0], best[1], best[2], best[3], best[4], inph, arrival


@njit(parallel=True, cache=True)
def _cells(k, lr, b1, b2, x0, steps, depth, spike_up, plen, out):
    for i in prange(b1.shape[0]):
        r = _cell(k, lr, b1[i], b2[i], x0, steps, depth, spike_up, plen)
        for j in range(7):
            out[i, j] = r[j]


def _cell_betas(beta1, beta2):
    """Contiguous float64 copies of the cells' ``beta1`` and ``beta2`` (flattened; checked by the toolkit's
    :func:`dynsys.regimes._check_betas`, and of one length)."""
    b1, b2 = (np.ascontiguousarray(np.ravel(a), dtype=np.float64) for a in _check_betas(beta1, beta2))
    if b1.shape != b2.shape:
        raise ValueError(f"beta1 has {b1.size} cells and beta2 {b2.size}; allowed: the same number")
    return b1, b2


def phase_rule_statistics(beta1, beta2, k, *, lr=0.01, steps=20_000, x0=1.0, depth=5.0, spike_factor=100.0,
                          phase_length=8):
    """Per cell (rows of an int64 array ``(n, 7)``): the longest plain, spike-free, one-sign, monotone and decoupled deep runs,
    the steps spent in deep runs of at least ``phase_length`` steps, and the arrival step (``|x| <= 2 lr``; -1
    never). Adam, eps = 0, no bias correction, on ``x^k/k`` from ``x0`` (see the module docstring)."""
    k = check_even_k("k", k, minimum=4)
    steps = check_int("steps", steps, low=1)
    phase_length = check_int("phase_length", phase_length, low=1)
    b1, b2 = _cell_betas(beta1, beta2)
    if not (lr > 0 and math.isfinite(lr)) or not (x0 != 0 and math.isfinite(x0)):
        raise ValueError(f"lr = {lr!r}, x0 = {x0!r}; allowed: lr > 0 and x0 != 0, both finite")
    out = np.zeros((b1.size, 7), np.int64)
    _cells(k, float(lr), b1, b2, float(x0), steps, float(depth), float(spike_factor) ** (1.0 / k), phase_length, out)
    return out


def _duty(stats, steps):
    """Fraction of the steps after arrival spent in deep runs of at least ``phase_length`` (0 if never arrived)."""
    arrival = stats[:, 6]
    return stats[:, 5] / np.maximum(steps + 1 - np.where(arrival >= 0, arrival, steps + 1), 1)


def rule_agreements(ds, k, stats=None):
    """``{rule: (agreement I, II, III)}`` of the phase Dataset ``ds`` (an issue-13 scan of ``k``) when an exponential
    phase is defined by each rule of :data:`RULES` (a cell labelled I or II by the scan keeps its label if the rule
    still finds a phase, else becomes III; III stays III: every rule is stricter than the plain run). ``stats``:
    the output of :func:`phase_rule_statistics` for the cells of ``ds`` (computed if None)."""
    b2g, b1g = np.meshgrid(ds[ds.attrs["y_name"]].values, ds[ds.attrs["x_name"]].values, indexing="ij")
    if stats is None:
        stats = phase_rule_statistics(b1g, b2g, k, lr=float(ds.attrs["lr"]), steps=int(ds.attrs["steps"]),
                                      phase_length=int(ds.attrs["phase_length"]))
    obs = ds.regime.values.ravel()
    pred = ds.predicted_regime.values.ravel()
    plen = int(ds.attrs["phase_length"])
    steps = int(ds.attrs["steps"])
    duty = _duty(stats, steps)
    found = {"plain": stats[:, 0] >= plen, "spike_free": stats[:, 1] >= plen, "one_sign": stats[:, 2] >= plen,
             "monotone": stats[:, 3] >= plen, "decoupled": stats[:, 4] >= plen, "duty": duty > 0.5}
    out = {}
    for rule in RULES:
        lab = np.where(((obs == 1) | (obs == 2)) & ~found[rule], 3, obs)
        out[rule] = tuple(float(np.mean(lab[pred == c] == c)) if np.any(pred == c) else float("nan") for c in (1, 2, 3))
    return out


def best_row_cuts(obs, pred, lams=None):
    """The oracle of question 1 on one map (``obs``, ``pred``: regime codes, rows = ``beta2``, columns = ``beta1``).

    In each row, among the cells predicted II or III (columns ``lo .. hi-1``), the cut ``c`` (II in ``lo .. c-1``,
    III in ``c .. hi-1``) minimizing ``misses_II + lam misses_III``; over ``lams`` the sweep whose
    ``min(agreement II, agreement III)`` is largest. Returns ``(agreement II, agreement III, cut column per row
    (-1: no such cells), lam)``."""
    obs = np.asarray(obs)
    pred = np.asarray(pred)
    if obs.shape != pred.shape or obs.ndim != 2:
        raise ValueError(f"obs {obs.shape} and pred {pred.shape} must be equal 2-D shapes")
    lams = np.geomspace(0.05, 20.0, 61) if lams is None else np.asarray(lams, dtype=float)
    best = None
    for lam in lams:
        n2 = m2 = n3 = m3 = 0
        cuts = np.full(obs.shape[0], -1)
        for r in range(obs.shape[0]):
            cols = np.flatnonzero(pred[r] >= 2)
            if cols.size == 0:
                continue
            lo, hi = cols.min(), cols.max() + 1
            o = obs[r, lo:hi]
            miss2 = np.concatenate([[0], np.cumsum(o != 2)])  # II misses left of each cut
            miss3 = np.concatenate([np.cumsum((o != 3)[::-1])[::-1], [0]])  # III misses right of each cut
            c = int(np.argmin(miss2 + lam * miss3))
            cuts[r] = lo + c
            n2 += c
            m2 += int(miss2[c])
            n3 += hi - lo - c
            m3 += int(miss3[c])
        a2 = 1 - m2 / n2 if n2 else float("nan")
        a3 = 1 - m3 / n3 if n3 else float("nan")
        score = min(a2, a3)
        if best is None or score > best[0]:
            best = (score, a2, a3, cuts, float(lam))
    return best[1], best[2], best[3], best[4]


def initial_convergence_labels(ds, limit):
    """The regime map of ``ds`` with a II cell relabelled III unless ``phase_onset <= limit`` (``None``: the scan's
    own labels); see :func:`onset_rule_agreements`."""
    obs = np.asarray(ds.regime.values)
    return obs if limit is None else np.where((obs == 2) & (np.asarray(ds.phase_onset.values) > limit), 3, obs)


def onset_rule_agreements(ds, limits=(25, 50, 100, 200, 400, 1600)):
    """The paper's reading of regime II, *initial* exponential convergence (Sec. 6.2: "initial exponential
    convergence below the SignGD threshold, interrupted by a violent loss spike"), applied to a phase Dataset
    ``ds``: a cell the scan calls II counts as II only if its first exponential phase starts at most ``D`` steps
    after its arrival at the SignGD scale (``phase_onset <= D``), else III (decided from the trajectory alone).

    Returns ``{D: (II, III against Thm 6.1, II, III of the best cut per row)}`` (:func:`best_row_cuts` on the
    relabelled map) for every ``D`` of ``limits``, and ``None`` for the scanner's own rule (no limit)."""
    limits = tuple(check_int("limits", d, low=0) for d in limits)
    pred = np.asarray(ds.predicted_regime.values)
    out = {}
    for d in (None, *limits):
        lab = initial_convergence_labels(ds, d)
        c2, c3, _, _ = best_row_cuts(lab, pred)
        out[d] = (float(np.mean(lab[pred == 2] == 2)), float(np.mean(lab[pred == 3] == 3)), c2, c3)
    return out


def onsets_across_line(ds, beta2, cells=4):
    """``phase_onset`` of the ``cells`` predicted-II cells nearest the existence line in the row nearest ``beta2``,
    and of the cells past it up to the first one observed III: ``(beta1 values, q = beta1/rho^{k-1}, onsets)``
    (``q = 1`` is the line; onset -1: no phase)."""
    b2v = ds[ds.attrs["y_name"]].values
    b1v = ds[ds.attrs["x_name"]].values
    r = int(np.argmin(np.abs(b2v - beta2)))
    rho = b2v[r] ** (1.0 / (2 * (int(ds.attrs["k"]) - 2)))
    q = b1v / rho ** (int(ds.attrs["k"]) - 1)
    pred = ds.predicted_regime.values[r]
    obs = ds.regime.values[r]
    inside = np.flatnonzero(pred == 2)[-cells:]
    past = np.flatnonzero(pred == 3)
    stop = past[np.argmax(obs[past] == 3)] if np.any(obs[past] == 3) else past[-1]
    cols = np.concatenate([inside, past[past <= stop]])
    return b1v[cols], q[cols], ds.phase_onset.values[r, cols]


def loss_envelope_slope(k, beta1, beta2, start, stop, *, window=20, lr=0.01):
    """Slope (decades per step, least squares) of the envelope of ``log10`` loss, its maximum over consecutive windows
    of ``window`` steps, between steps ``start`` and ``stop`` of one Adam run (eps = 0, no bias correction,
    ``x0 = 1``; the log-space trajectory of :func:`dynsys.simulate.trajectory`), next to the fixed point's slope
    ``k log10 rho`` (math.md D5) and the mean ``log10 v/g^2`` over those steps."""
    from dynsys.objectives import power
    from dynsys.optimizers import adam
    from dynsys.simulate import trajectory

    k = check_even_k("k", k, minimum=4)
    b1, b2 = _cell_betas(beta1, beta2)
    start = check_int("start", start, low=0)
    stop = check_int("stop", stop, low=start + 2 * window)
    window = check_int("window", window, low=1)
    tr = trajectory(adam(lr=lr, beta1=float(b1[0]), beta2=float(b2[0]), eps=0.0, bias_correction=False), power(k),
                    1.0, stop)
    log_loss = tr.log10_loss.values[start:stop]
    n = log_loss.size // window
    env = log_loss[:n * window].reshape(n, window).max(axis=1)
    slope = np.polyfit(start + window * (np.arange(n) + 0.5), env, 1)[0]
    coupling = np.mean((tr.log10_v.values - 2 * tr.log10_abs_grad.values)[start:stop])
    return float(slope), k * math.log10(float(b2[0])) / (2 * (k - 2)), float(coupling)


@njit(cache=True)
def _saddle_run(k, b1, b2, eps, steps, thr):
    lam = 1.0 / math.sqrt(b2)
    u = 1.0 + eps * b1 * (k - 1)  # along the unstable eigenvector (b1 (k-1), lam - b1) of the trivial point
    w = eps * (lam - b1)
    L = 0.0
    run = 0
    best = 0
    for _ in range(steps):
        s = 1.0 - u * w
        if not (abs(s) < 1e3) or not (w > 0.0) or not (w < 1e8):
            break
        L += math.log(abs(s))
        run = run + 1 if L < -thr else 0
        if run > best:
            best = run
        u = b1 * u / s ** (k - 1) + 1.0 - b1
        w = w * s ** (k - 2) * lam
    return best


@njit(parallel=True, cache=True)
def _saddle_runs(k, b1, b2, steps, thr, phase, out):
    for i in prange(b1.shape[0]):
        out[i] = _saddle_run(k, b1[i], b2[i], 1e-12 * (1.0 / math.sqrt(b2[i])) ** phase, steps, thr)


def trivial_saddle_phase(beta1, beta2, k, *, steps=20_000, depth=5.0, phase=0.0):
    """Longest run of steps (int64 per cell) during which the loss along the unstable manifold of the decoupled map's
    trivial point ``(u, w) = (1, 0)`` stays ``depth`` decades below its starting value (question 3 of the module
    docstring); the orbit starts ``1e-12`` off the point and is followed ``steps`` steps or until ``|s| >= 1e3`` or
    ``w`` leaves ``(0, 1e8)`` (an escape: the loss spikes). ``phase`` in ``[0, 1)``: start at
    ``1e-12 (1/sqrt(b2))^phase`` instead, another orbit of the same manifold (one step of it multiplies the offset by
    ``1/sqrt(b2)``, so the phases in ``[0, 1)`` sample all of its orbits)."""
    k = check_even_k("k", k, minimum=4)
    steps = check_int("steps", steps, low=1)
    b1, b2 = _cell_betas(beta1, beta2)
    if not 0.0 <= phase < 1.0:
        raise ValueError(f"phase = {phase!r}; allowed: 0 <= phase < 1")
    out = np.zeros(b1.size, np.int64)
    _saddle_runs(k, b1, b2, steps, float(depth) * math.log(10.0) / k, float(phase), out)
    return out


def issue13_scan(k, n=96, steps=20_000):
    """The issue-13 map of ``k``: Adam, lr = 0.01, eps = 0, no bias correction, x0 = 1, ``n x n`` cell-centred
    ``(beta1, beta2)`` cells on ``[0, 1]^2`` (the settings of ``figures/_common.regime_scan``)."""
    from dynsys.scan import phase_diagram

    return phase_diagram("adam", "power", k=k, x=("beta1", 0.0, 1.0, n), y=("beta2", 0.0, 1.0, n), lr=0.01,
                         steps=steps, x0=1.0, eps=0.0, bias_correction=False, progress=False)


def main(n=96, steps=20_000):
    from dynsys.regimes import existence_boundary_beta1, stability_boundary_beta1

    print("| k | II (theory) | III (theory) | II (best cut per row) | III (best cut per row) | cut - existence line, "
          "median by beta2 band [0, .25) / [.25, .5) / [.5, .75) / [.75, 1) |")
    print("|---|---:|---:|---:|---:|---|")
    rules, ratios, medians, dropped, saddle, onset, across, small_b2 = {}, {}, {}, {}, {}, {}, {}, {}
    for k in (4, 6, 8):
        ds = issue13_scan(k, n, steps)
        onset[k] = onset_rule_agreements(ds)
        cut = best_row_cuts(initial_convergence_labels(ds, 100), ds.predicted_regime.values)[2]
        r = int(np.argmin(np.abs(ds.beta2.values - 0.06)))
        b1v = ds.beta1.values
        small_b2[k] = (ds.beta2.values[r], (b1v[min(max(cut[r], 0), b1v.size - 1)] - (b1v[1] - b1v[0]) / 2) / ds.beta2.values[r] ** ((k - 1) / (2 * (k - 2))))
        across[k] = onsets_across_line(ds, 0.8385)
        obs, pred = ds.regime.values, ds.predicted_regime.values
        a2, a3, cuts, _ = best_row_cuts(obs, pred)
        b1v, b2v = ds.beta1.values, ds.beta2.values
        step = b1v[1] - b1v[0]
        ok = cuts >= 0
        off = np.where(cuts < b1v.size, b1v[np.minimum(cuts, b1v.size - 1)] - step / 2, 1.0)[ok] - \
            existence_boundary_beta1(b2v[ok], k)
        bands = [np.median(off[(b2v[ok] >= lo) & (b2v[ok] < lo + 0.25)]) for lo in (0, 0.25, 0.5, 0.75)]
        cut_b1 = off + existence_boundary_beta1(b2v[ok], k)
        upper = b2v[ok] >= 0.4
        q = cut_b1[upper] / b2v[ok][upper] ** ((k - 1) / (2 * (k - 2)))
        r = cut_b1[upper] / np.sqrt(b2v[ok][upper])
        ratios[k] = (q.min(), q.max(), r.min(), r.max())
        print(f"| {k} | {ds.attrs['agreement_regime2']:.4f} | {ds.attrs['agreement_regime3']:.4f} | {a2:.4f} | {a3:.4f} | "
              + " / ".join(f"{b:+.3f}" for b in bands) + " |")
        b2g, b1g = np.meshgrid(b2v, b1v, indexing="ij")
        stats = phase_rule_statistics(b1g, b2g, k, steps=steps)
        same = int(np.sum(stats[:, 0] == ds.phase_steps.values.ravel()))
        rules[k] = (rule_agreements(ds, k, stats), same, stats.shape[0])
        obs, pred = obs.ravel(), pred.ravel()
        duty = _duty(stats, steps)
        medians[k] = [(float(np.median(stats[sel, 0])), float(np.median(stats[sel, 2])), float(np.median(duty[sel])))
                      for sel in ((pred == 2) & (obs == 2), (pred == 3) & (obs == 2))]
        agr = []
        for ph in np.arange(8) / 8:  # orbits across the manifold's fundamental domain
            run = trivial_saddle_phase(b1g, b2g, k, steps=steps, phase=ph)
            alt = np.where(pred >= 2, np.where(run >= int(ds.attrs["phase_length"]), 2, 3), pred)
            agr.append((float(np.mean(obs[alt == 2] == 2)), float(np.mean(obs[alt == 3] == 3))))
        agr = np.array(agr)
        saddle[k] = (ds.attrs["agreement_regime2"], ds.attrs["agreement_regime3"], *agr[0], agr[:, 0].min(),
                     agr[:, 0].max(), agr[:, 1].min(), agr[:, 1].max())
        lost = (pred == 2) & (obs == 2) & (stats[:, 4] < int(ds.attrs["phase_length"]))
        b1c, b2c = b1g.ravel()[lost], b2g.ravel()[lost]
        i2 = stability_boundary_beta1(b2c, k)
        dropped[k] = (int(lost.sum()), float(np.median((b1c - i2) / (existence_boundary_beta1(b2c, k) - i2))))
    print("\nat the cut, rows with beta2 >= 0.4: " + "; ".join(
        f"k = {k}: beta1/rho^(k-1) {a:.3f}-{b:.3f}, beta1/sqrt(beta2) {c:.3f}-{d:.3f}" for k, (a, b, c, d) in ratios.items()))
    print("\nmedian plain run / one-sign run / duty of the observed-II cells, predicted II vs predicted III (ghost band): "
          + "; ".join(f"k = {k}: " + " vs ".join(f"{a:.0f} / {b:.0f} / {c:.3f}" for a, b, c in m) for k, m in medians.items()))
    print("\nobserved-II cells predicted II that the decoupled rule drops, and their median place in the II band "
          "(0: Eq. 8, 1: existence line): " + "; ".join(f"k = {k}: {n}, {f:.2f}" for k, (n, f) in dropped.items()))
    print("\nquestion 3: II/III agreement, Thm 6.1 vs II iff the trivial saddle's unstable manifold has a phase "
          "(phase 0; over 8 phases of its fundamental domain): "
          + "; ".join(f"k = {k}: {a:.4f} / {b:.4f} vs {c:.4f} / {d:.4f} (II {e:.4f}-{f:.4f}, III {g:.4f}-{h:.4f})"
                      for k, (a, b, c, d, e, f, g, h) in saddle.items()))
    print("\nquestion 4, initial convergence (II only if phase_onset <= D): II / III against Thm 6.1, and of the best cut "
          "per row\n\n| D | " + " | ".join(f"k = {k}" for k in onset) + " |\n|---|" + "---|" * len(onset))
    for d in next(iter(onset.values())):
        print(f"| {'none' if d is None else d} | " + " | ".join(
            "{:.3f} / {:.3f}, cut {:.3f} / {:.3f}".format(*o[d]) for o in onset.values()) + " |")
    print("\nphase_onset across the existence line, row beta2 = 0.8385 (q = beta1/rho^(k-1); | marks the line): " + "; ".join(
        f"k = {k}: " + " ".join(("| " if i and q[i - 1] < 1 <= q[i] else "") + f"{o}" for i, o in enumerate(ons))
        for k, (_, q, ons) in across.items()))
    print("\nD = 100: beta1/rho^(k-1) at the best cut of the row nearest beta2 = 0.06: " + "; ".join(
        f"k = {k}: {q:.3f} (beta2 = {b2:.4f})" for k, (b2, q) in small_b2.items()))
    slope, fixed, coupling = loss_envelope_slope(6, 0.9219, 0.8385, 300, 660)
    print(f"\nk = 6, beta1 = 0.9219, beta2 = 0.8385 (past the line), steps 300-660: loss envelope {slope:.4f} decades/step "
          f"(fixed point {fixed:.4f}), mean log10 v/g^2 {coupling:.2f}")
    print("\n| k | rule | agreement I | II | III |\n|---|---|---:|---:|---:|")
    for k, (agr, same, n) in rules.items():
        for rule, (a1, a2, a3) in agr.items():
            note = f" (plain run = scan's phase_steps in {same}/{n} cells)" if rule == "plain" else ""
            print(f"| {k} | {rule}{note} | {a1:.4f} | {a2:.4f} | {a3:.4f} |")


if __name__ == "__main__":  # python -m theory.ii_iii_edge
    main()
