"""The Adam v-decay onset forecast (dynsys.nn.onset; math.md A3-A5) where the theory is exact:
the A5 map on theta^2/2 (beta1 = 0, no bias correction) and torch's Adam on a one-parameter
quadratic (A4), against the detected onset; and its bad-input errors."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn import Monitor  # noqa: E402
from dynsys.nn.experiments import Experiment, build_optimizer, train  # noqa: E402
from dynsys.nn.onset import (format_onset_table, main, predict_onsets, steps_to_instability,  # noqa: E402
                             v_decay_onset_closed_form)
from dynsys.nn.spikes import detect_spikes  # noqa: E402


@pytest.mark.parametrize("lam0, thr, b2", [(1.0, 100.0, 0.9), (0.3, 666.6, 0.95), (5.0, 2000.0, 0.999)])
def test_pure_decay_matches_the_closed_form(lam0, thr, b2):
    """eps = 0, no bias correction, G = 0: lambda_s = lambda_0 b2^(-s/2), so the first step at or
    above the threshold is ceil(2 ln(lambda_0/T)/ln b2)."""
    s = steps_to_instability(lam0, thr, beta2=b2, t0=10, vhat0=1e-3, bias_correction=False)
    assert s == math.ceil(v_decay_onset_closed_form(lam0, thr, b2) - 1e-9)
    # a gradient floor can only delay it; one above the critical level prevents it
    crit = 1e-3 * (lam0 / thr) ** 2
    later = steps_to_instability(lam0, thr, beta2=b2, t0=10, vhat0=1e-3, grad_sq=0.5 * crit, bias_correction=False)
    assert later > s
    assert steps_to_instability(lam0, thr, beta2=b2, t0=10, vhat0=1e-3, grad_sq=2 * crit, bias_correction=False,
                                max_steps=100_000) is None
    assert steps_to_instability(thr, thr, beta2=b2, t0=1, vhat0=1.0) == 0


def _a5_map(eta, b2, theta0, steps):
    """math.md A5: theta_{t+1} = (1 - eta/sqrt(v_t)) theta_t, v_{t+1} = b2 v_t + (1-b2) theta_t^2, v_0 = theta_0^2."""
    theta, v = [theta0], [theta0 ** 2]
    for _ in range(steps):
        theta.append((1 - eta / math.sqrt(v[-1])) * theta[-1])
        v.append(b2 * v[-1] + (1 - b2) * theta[-2] ** 2)
    return np.array(theta), np.array(v)


def test_a5_map_onset_is_forecast_to_the_step():
    """On the A5 map the loss theta^2/2 starts to rise exactly when eta/sqrt(v_t) first exceeds 2
    (phase 3). From any phase-2 anchor (theta^2/v < 1e-2) the forecast with G = 0 is that step
    exactly and the one with the measured floor G = theta_t0^2 is an upper bound, at most one step
    late once theta^2/v < 1e-4; from every anchor,
    phase 1 included, the G = 0 forecast is a lower bound (v >= b2^s v_t0)."""
    eta, b2 = 1e-3, 0.9
    theta, v = _a5_map(eta, b2, 1.0, 1800)
    crossing = int(np.argmax(eta / np.sqrt(v) > 2))
    spikes = detect_spikes(0.5 * theta ** 2, rise=10)
    assert spikes[0].onset == crossing == 1105
    assert spikes[0].factor > 1e10
    phase2 = deep = 0
    for t0 in range(5, crossing, 5):
        kw = dict(beta2=b2, t0=t0, vhat0=v[t0], bias_correction=False)
        pure = t0 + steps_to_instability(1 / math.sqrt(v[t0]), 2 / eta, **kw)
        assert pure <= crossing
        if theta[t0] ** 2 < 1e-2 * v[t0]:
            phase2 += 1
            assert pure == crossing
            floor = t0 + steps_to_instability(1 / math.sqrt(v[t0]), 2 / eta, grad_sq=theta[t0] ** 2, **kw)
            assert floor >= crossing  # |theta| falls after t0, so v <= b2^s v_t0 + (1-b2^s) theta_t0^2
            if theta[t0] ** 2 < 1e-4 * v[t0]:
                deep += 1
                assert floor <= crossing + 1
    assert phase2 >= 5 and deep >= 3


class _Scalar(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))


def _half_square(model, data):
    return 0.5 * (model.theta ** 2).sum()


def test_torch_adam_on_a_quadratic_forecast_from_the_record():
    """torch.optim.Adam (b1 = 0.9, b2 = 0.95, eta = 0.01) on theta^2/2 under the Monitor: v decays
    like b2^t, lambda_max(Hhat) crosses 2/eta where eta/sqrt(vhat) = 2(1+b1)/(1-b1) = 38 (A4),
    and predict_onsets on the record forecasts that crossing to the step from an anchor 200+
    steps ahead (G = 0; H = 1 is frozen) and from the last record before the onset; the detected
    loss-spike onset lies within 4 steps of it."""
    eta, b1, b2 = 1e-2, 0.9, 0.95
    model = _Scalar()
    exp = Experiment("quadratic", model, _half_square, (), {})
    opt = build_optimizer(model, "adam", eta, beta1=b1, beta2=b2, eps=1e-12)
    mon = Monitor(model, _half_square, (), opt, every=1, predictors=["lambda_max_Hhat"], attrs={"experiment": "q"})
    train(exp, opt, 420, monitor=mon)
    ds = mon.to_dataset()
    step, lam, thr = ds["step"].values, ds["lambda_max_Hhat"].values, ds["threshold"].values
    late = step > 200
    crossing = int(step[late][np.argmax(lam[late] > thr[late])])
    sqrt_vhat = float(ds["sqrt_vhat_norm"].values[step == crossing, 0][0])
    assert eta / sqrt_vhat == pytest.approx(2 * (1 + b1) / (1 - b1), rel=0.03)  # A4
    spikes, preds = predict_onsets(ds)
    spike = [s for s in spikes if s.onset > 200][0]
    p = preds[spikes.index(spike)]
    assert crossing - p.anchor > 200
    assert p.predicted == crossing and p.last_predicted == crossing
    assert p.predicted_floor >= crossing
    assert abs(spike.onset - crossing) <= 4
    table = format_onset_table([("quadratic", p)])
    assert f"| quadratic | {spike.onset} | {p.anchor} | {crossing} / {p.predicted_floor} |" in table


def test_onset_bad_input_and_command_line(tmp_path, capsys):
    with pytest.raises(ValueError, match="beta2"):
        steps_to_instability(1.0, 2.0, beta2=1.0, t0=1, vhat0=1.0)
    with pytest.raises(ValueError, match="lambda0"):
        steps_to_instability(-1.0, 2.0, beta2=0.9, t0=1, vhat0=1.0)
    model = _Scalar()
    opt = build_optimizer(model, "gd", 0.1)
    mon = Monitor(model, _half_square, (), opt, every=1, predictors=["lambda_max_H"])
    train(Experiment("q", model, _half_square, (), {}), opt, 3, monitor=mon)
    with pytest.raises(ValueError, match="lambda_max_Hhat"):
        predict_onsets(mon.to_dataset())
    from dynsys.cli import main as dynsys_main

    out = tmp_path / "r.nc"
    assert dynsys_main(["predict", "--experiment", "fnn-sin", "--set", "width=8", "--steps", "6", "--every", "2",
                        "--predictors", "lambda_max_Hhat", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main([str(out)]) == 0
    assert "| fnn-sin | no spike detected |" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.nc")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "missing.nc" in err
