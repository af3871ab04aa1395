"""Monitor (dynsys.nn.monitor): trajectory-neutral, values against dense references, bad input."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn.experiments import build_optimizer, train  # noqa: E402
from dynsys.nn.experiments.fnn_sin import fnn_sin  # noqa: E402
from dynsys.nn.monitor import Monitor  # noqa: E402

ALL_ADAM = ["lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat", "lambda_update_Hhat",
            "lambda_grad_Hhat_sustained", "critical_sharpness"]


def small(seed=0):
    return fnn_sin(width=8, n=10, seed=seed)


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def dense_hessian(exp):
    """Explicit Hessian of the loss over the flat parameter vector (torch.func)."""
    names = [n for n, _ in exp.model.named_parameters()]
    shapes = [p.shape for p in exp.model.parameters()]
    sizes = [p.numel() for p in exp.model.parameters()]

    def loss_of(theta):
        parts = dict(zip(names, (t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes))))
        return exp.loss_fn(lambda x: torch.func.functional_call(exp.model, parts, (x,)), exp.data)

    theta = flat_params(exp.model)
    return torch.autograd.functional.hessian(loss_of, theta), torch.func.grad(loss_of)(theta)


@pytest.mark.parametrize("opt_name, only", [("adam", None), ("gd", None), ("adam", ["critical_sharpness"])])
def test_monitor_leaves_trajectory_bitwise_unchanged(opt_name, only):
    runs = []
    for monitored in (False, True):
        exp = small()
        opt = build_optimizer(exp.model, opt_name, 0.01 if opt_name == "adam" else 0.05)
        mon = None
        if monitored:
            preds = ALL_ADAM if opt_name == "adam" else ["lambda_max_H", "lambda_grad_H", "critical_sharpness"]
            preds = only or preds  # critical sharpness alone: no gradient graph is kept
            mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=3, predictors=preds)
        torch.manual_seed(123)
        train(exp, opt, 25, monitor=mon)
        runs.append((flat_params(exp.model), opt.state_dict(), torch.rand(3), mon))
    (p0, s0, r0, _), (p1, s1, r1, mon) = runs
    assert torch.equal(p0, p1)
    assert torch.equal(r0, r1)  # the random stream is untouched too
    for k in s0["state"]:
        for name, val in s0["state"][k].items():
            assert torch.equal(torch.as_tensor(val), torch.as_tensor(s1["state"][k][name]))
    ds = mon.to_dataset()
    assert list(ds["step"].values) == [3, 6, 9, 12, 15, 18, 21, 24]
    assert ds.sizes["train_step"] == 25


def test_monitor_as_context_manager_records_through_hook():
    exp = small()
    opt = build_optimizer(exp.model, "adam", 0.01)
    ref = small()
    ref_opt = build_optimizer(ref.model, "adam", 0.01)
    train(ref, ref_opt, 12)
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=4, predictors=["lambda_max_Hhat"])
    with mon:
        for _ in range(12):
            opt.zero_grad()
            exp.loss_fn(exp.model, exp.data).backward()
            opt.step()
    opt.step()  # after the block the hook is gone
    assert mon.steps_done == 12
    ds = mon.to_dataset()
    assert list(ds["step"].values) == [4, 8, 12]
    assert "train_loss" not in ds


def test_recorded_values_match_dense_references():
    exp = small()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = build_optimizer(exp.model, "adam", lr)
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=5, predictors=ALL_ADAM, tol=1e-10)
    train(exp, opt, 10, monitor=mon)
    ds = mon.to_dataset()
    # the last record is at step 10 = now: rebuild everything by hand from the live state
    H, g = dense_hessian(exp)
    H = 0.5 * (H + H.T)
    t = 10
    v = torch.cat([opt.state[p]["exp_avg_sq"].reshape(-1) for p in exp.model.parameters()])
    m = torch.cat([opt.state[p]["exp_avg"].reshape(-1) for p in exp.model.parameters()])
    vhat, mhat = v / (1 - b2 ** t), m / (1 - b1 ** t)
    d = (1 - b1) / ((1 + b1) * (1 - b1 ** t)) / (vhat.sqrt() + eps)  # Eq. 7
    S = d.sqrt()[:, None] * H * d.sqrt()[None, :]
    rec = ds.sel(step=10)
    assert float(rec["lambda_max_H"]) == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-6)
    assert float(rec["lambda_max_Hhat"]) == pytest.approx(float(torch.linalg.eigvalsh(S)[-1]), rel=1e-6)
    assert float(rec["lambda_grad_H"]) == pytest.approx(float(g @ H @ g / (g @ g)), rel=1e-8)
    dg = d * g  # symmetric-form Rayleigh quotient of S at D^{1/2} g
    assert float(rec["lambda_grad_Hhat"]) == pytest.approx(float(dg @ H @ dg / (g @ dg)), rel=1e-8)
    u = mhat / (vhat.sqrt() + eps)
    assert float(rec["lambda_update_Hhat"]) == pytest.approx(float(u @ H @ u / (u @ (u / d))), rel=1e-8)
    assert float(rec["loss"]) == pytest.approx(exp.loss(), rel=1e-12)
    assert float(rec["grad_norm"]) == pytest.approx(float(g.norm()), rel=1e-10)
    assert float(rec["threshold"]) == 2 / lr
    # per-block ||sqrt(vhat)||_2 (Fig. 5c)
    hidden = torch.cat([opt.state[p]["exp_avg_sq"].reshape(-1) for p in exp.model.hidden.parameters()])
    want = float((hidden / (1 - b2 ** t)).sum().sqrt())
    assert float(rec["sqrt_vhat_norm"].sel(block="hidden")) == pytest.approx(want, rel=1e-12)
    gb = g[: exp.model.hidden.weight.numel() + exp.model.hidden.bias.numel()]
    assert float(rec["grad_norm_block"].sel(block="hidden")) == pytest.approx(float(gb.norm()), rel=1e-10)
    # sustained predictor: min over neighbouring records (two records: both are min of the pair)
    lg = ds["lambda_grad_Hhat"].values
    assert np.allclose(ds["lambda_grad_Hhat_sustained"].values, [min(lg), min(lg)])
    # critical sharpness is bounded by the line-search bracket: 2/upper <= cs <= 2/lower
    assert float(rec["critical_sharpness"]) > 0


def test_sustained_is_min_over_previous_current_next_record():
    exp = small()
    opt = build_optimizer(exp.model, "adam", 0.01)
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=2, predictors=["lambda_grad_Hhat_sustained"])
    train(exp, opt, 20, monitor=mon)
    ds = mon.to_dataset()
    x = ds["lambda_grad_Hhat"].values
    s = ds["lambda_grad_Hhat_sustained"].values
    for k in range(1, len(x) - 1):
        assert s[k] == min(x[k - 1], x[k], x[k + 1])
    assert "sustained_definition" in ds.attrs


def test_gd_monitor_threshold_and_lambda_max():
    exp = small()
    opt = build_optimizer(exp.model, "gd", 0.05)
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=4, predictors=["lambda_max_H"], tol=1e-10)
    train(exp, opt, 8, monitor=mon)
    ds = mon.to_dataset()
    H, _ = dense_hessian(exp)
    assert float(ds["lambda_max_H"][-1]) == pytest.approx(float(torch.linalg.eigvalsh(0.5 * (H + H.T))[-1]), rel=1e-6)
    assert np.all(ds["threshold"].values == 2 / 0.05)
    assert "sqrt_vhat_norm" not in ds  # no second moment under GD


def test_nonfinite_is_recorded_not_raised():
    exp = small()
    opt = build_optimizer(exp.model, "adam", 0.01)
    mon = Monitor(exp.model, exp.loss_fn, exp.data, opt, every=1, predictors=["lambda_max_Hhat"])
    train(exp, opt, 3, monitor=mon)
    with torch.no_grad():
        exp.model.out.weight[0, 0] = float("nan")
    rec = mon.record()  # must not raise
    assert rec["nonfinite"]
    ds = mon.to_dataset()
    assert bool(ds["nonfinite"].values[-1]) and not ds["nonfinite"].values[:-1].any()
    assert math.isnan(float(ds["lambda_max_Hhat"].values[-1]))
    assert "step 3" in ds.attrs["problems"] and "finite" in ds.attrs["problems"]
    # and the training loop reports a divergence instead of raising
    res = train(exp, opt, 5, monitor=mon)
    assert res.diverged_step == 0 and "not finite" in res.reason
    assert mon.diverged_step == 3 and "training stopped" in mon.to_dataset().attrs["problems"]


@pytest.mark.parametrize("kw, match", [
    (dict(every=0), "every"),
    (dict(predictors=["lambda_max_X"]), "allowed: any of"),
    (dict(tol=0.0), "tol"),
])
def test_bad_arguments(kw, match):
    exp = small()
    opt = build_optimizer(exp.model, "adam", 0.01)
    with pytest.raises(ValueError, match=match):
        Monitor(exp.model, exp.loss_fn, exp.data, opt, **kw)


def test_hhat_predictor_needs_adam_and_model_needs_parameters():
    exp = small()
    opt = build_optimizer(exp.model, "gd", 0.1)
    with pytest.raises(ValueError, match="needs Adam"):
        Monitor(exp.model, exp.loss_fn, exp.data, opt, predictors=["lambda_max_Hhat"])
    frozen = torch.nn.Linear(2, 1)
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        Monitor(frozen, exp.loss_fn, exp.data, opt)
    with pytest.raises(ValueError, match="not a torch.optim.Optimizer"):
        Monitor(exp.model, exp.loss_fn, exp.data, object())
