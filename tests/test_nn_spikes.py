"""Spike detection and predictor evaluation (dynsys.nn.spikes): numpy only, no torch."""
import math

import numpy as np
import pytest

from dynsys.nn.spikes import (Spike, detect_spikes, evaluate_predictor, format_spike_table, format_summary,
                              spikes_to_dataset, threshold_crossings)


def _decay_with_spike(onset=300, rise_steps=20, fall_steps=60, peak_factor=1e3, n=800):
    """Loss decaying like 0.99^t with one log-linear excursion up from `onset` and back."""
    t = np.arange(n)
    base = np.log10(0.99) * t
    bump = np.zeros(n)
    up = np.arange(1, rise_steps + 1)
    bump[onset + 1:onset + 1 + rise_steps] = np.log10(peak_factor) * up / rise_steps
    down = np.arange(1, fall_steps + 1)
    bump[onset + 1 + rise_steps:onset + 1 + rise_steps + fall_steps] = np.log10(peak_factor) * (1 - down / fall_steps)
    return 10.0 ** (base + bump)


def test_detects_injected_spike_onset_peak_end():
    loss = _decay_with_spike(onset=300, rise_steps=20, fall_steps=60, peak_factor=1e3)
    spikes = detect_spikes(loss, rise=10.0)
    assert len(spikes) == 1
    s = spikes[0]
    assert s.onset == 300  # the local minimum from which the climb starts
    assert s.peak == 320
    # first record above 10x the trailing minimum: log-rise 3 decades in 20 steps, baseline falls 0.0044/step
    assert 300 < s.first_above <= 308
    # back within sqrt(10) of the baseline on the descent
    assert 320 < s.end < 381
    # baseline: trailing minimum of the 3-record causal max-filter = loss 3 steps before the onset
    assert s.baseline_loss == pytest.approx(loss[297], rel=1e-12)
    assert s.onset_loss == loss[300]
    assert s.factor == pytest.approx(loss[320] / loss[297], rel=1e-12)
    assert not s.diverged


def test_two_spikes_and_merge():
    loss = _decay_with_spike(onset=200, n=900) * _decay_with_spike(onset=600, n=900) / (0.99 ** np.arange(900))
    spikes = detect_spikes(loss)
    assert [s.onset for s in spikes] == [200, 600]
    # a huge merge window joins them into one spike with the later end
    merged = detect_spikes(loss, merge=400)
    assert len(merged) == 1 and merged[0].onset == 200 and merged[0].end > 600


def test_divergence_is_a_spike_without_end():
    loss = 0.99 ** np.arange(300.0)
    loss[250:260] = np.geomspace(loss[249] * 2, 1e6, 10)
    loss[260:] = np.inf
    spikes = detect_spikes(loss)
    assert len(spikes) == 1
    assert spikes[0].diverged and spikes[0].end == -1 and math.isinf(spikes[0].peak_loss)
    assert spikes[0].onset == 249


def test_rounding_noise_at_the_floor_is_not_a_spike():
    rng = np.random.default_rng(0)
    loss = np.concatenate([0.9 ** np.arange(400.0), 1e-16 * 10 ** rng.uniform(0, 1.5, 400)])
    assert detect_spikes(loss) == []


def test_steps_coordinate_is_used():
    loss = _decay_with_spike(onset=300)
    step = np.arange(loss.size) * 5
    spikes = detect_spikes(loss, step, window=250)
    assert spikes[0].onset == 1500 and spikes[0].peak == 1600


@pytest.mark.parametrize("kw, match", [
    (dict(rise=1.0), "rise"),
    (dict(window=0), "window"),
    (dict(merge=-1), "merge"),
])
def test_bad_detection_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        detect_spikes(np.ones(10), **kw)


def test_bad_loss_and_step():
    with pytest.raises(ValueError, match="loss has shape"):
        detect_spikes(np.ones((3, 3)))
    with pytest.raises(ValueError, match="not strictly increasing"):
        detect_spikes(np.ones(3), [0, 2, 2])
    with pytest.raises(ValueError, match="negative"):
        detect_spikes(np.array([1.0, -1.0]))


def test_threshold_crossings_episodes():
    step = np.arange(10) * 2
    v = np.array([0, 3, 3, 0, np.nan, 5, 5, 5, 0, 4.0])
    assert threshold_crossings(step, v, 1.0) == [(2, 4), (10, 14), (18, 18)]


def test_evaluate_predictor_hits_leads_false_alarms():
    spike = Spike(onset=100, first_above=104, peak=110, end=130, baseline_loss=1e-4, onset_loss=1e-4,
                  peak_loss=1e-2)
    step = np.arange(0, 200, 2)
    thr = 200.0
    early = np.where((step >= 60) & (step <= 120), 250.0, 100.0)     # on from 60: lead 40
    at_onset = np.where((step >= 98) & (step <= 116), 250.0, 100.0)  # on from 98: lead 2
    late = np.where((step >= 110) & (step <= 120), 250.0, 100.0)     # on after onset + tol: miss
    alarm = np.where(((step >= 20) & (step <= 24)) | ((step >= 100) & (step <= 104)), 250.0, 100.0)
    r = evaluate_predictor(step, early, thr, [spike], name="early")
    assert (r.hits, r.leads, r.false_alarms) == (1, (40,), 0)
    r = evaluate_predictor(step, at_onset, thr, [spike], name="at_onset")
    assert (r.hits, r.leads, r.false_alarms) == (1, (2,), 0)
    r = evaluate_predictor(step, late, thr, [spike], name="late")
    assert r.hits == 0 and r.leads == (None,) and r.false_alarms == 0  # overlaps the spike: no false alarm
    r = evaluate_predictor(step, alarm, thr, [spike], name="alarm")
    assert r.hits == 1 and r.leads == (0,) and r.false_alarms == 1 and r.n_episodes == 2
    assert r.fraction_on == pytest.approx(6 / 100)
    table = format_summary([r], [spike])
    assert "alarm" in table and "false alarms" in table
    assert "lead 0" in format_spike_table([spike], [r])


def test_rmsprop_on_quadratic_spike_starts_where_lambda_max_hhat_crosses_2_over_eta():
    """Sec. 4.2 / Thm B.1 of the loss-spikes-in-Adam paper (b1 = 0): on L = theta^2/2,
    theta_{t+1} = (1 - eta/(sqrt(vhat_t)+eps)) theta_t, so |theta| (and the loss) grows exactly
    when lambda_max(Hhat_t) = 1/(sqrt(vhat_t)+eps) exceeds 2/eta: the detected onset is the
    crossing step, and vhat has decayed like beta2^t before it (phase 2)."""
    eta, b1, b2, eps = 0.01, 0.0, 0.9, 1e-8
    theta, v = 1.0, 0.0
    loss, hhat = [], []
    for t in range(1, 601):
        loss.append(0.5 * theta * theta)
        g = theta
        v = b2 * v + (1 - b2) * g * g
        vhat = v / (1 - b2 ** t)
        hhat.append((1 - b1) / ((1 + b1) * (1 - b1 ** t)) / (math.sqrt(vhat) + eps))
        theta -= eta * g / (math.sqrt(vhat) + eps)
    loss, hhat = np.array(loss), np.array(hhat)
    # record i: L(theta_i) and the preconditioner of the step taken from theta_i
    spikes = detect_spikes(loss, rise=10.0)
    assert spikes, "RMSProp on theta^2/2 with a small learning rate must spike (paper Fig. 2)"
    crossing = int(np.argmax(hhat > 2 / eta))
    # the loss stops falling at the first step whose multiplier |1 - eta hhat| exceeds 1:
    # L(theta_{c+1}) > L(theta_c), so the onset (last minimum) is the crossing record c
    assert spikes[0].onset == crossing
    assert np.all(np.diff(loss[:crossing + 1]) < 0)
    r = evaluate_predictor(np.arange(loss.size), hhat, 2 / eta, spikes, name="lambda_max_Hhat", tolerance=1)
    assert r.hits == len(spikes) and r.leads[0] == 0


def test_spikes_to_dataset():
    loss = _decay_with_spike(onset=300)
    ds = spikes_to_dataset(detect_spikes(loss))
    assert ds.sizes["spike"] == 1 and int(ds["onset"][0]) == 300 and ds["peak_loss"].dtype == np.float64
