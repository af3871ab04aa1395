"""Experiments (dynsys.nn.experiments): seeded data, the paper's mechanism reproduced, interventions."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn.experiments import (EXPERIMENTS, ClipSecondMoment, RaiseEpsilon, build_optimizer,  # noqa: E402
                                   get_experiment, intervention_study, run_experiment, train)
from dynsys.nn.spikes import evaluate_predictors  # noqa: E402

SMALL = {
    "fnn-sin": dict(width=8, n=10),
    "fnn-50d": dict(width=16, n=20, dim=5),
    "cnn": dict(n=10, size=8, channels=(2, 3)),
    "transformer": dict(n=8, d=8, layers=1, heads=2, items=6, anchors=2, seq_len=5),
    "llas-fnn": dict(width=6, n=8),
    "gpt2-text": dict(model_size="tiny", n_embd=4, n_head=1, seq_len=6, n=2),
}


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_factories_are_seeded_and_finite(name):
    a = get_experiment(name, **SMALL[name], seed=3)
    b = get_experiment(name, **SMALL[name], seed=3)
    c = get_experiment(name, **SMALL[name], seed=4)
    assert torch.equal(flat(a.model), flat(b.model))
    for x, y in zip(a.data, b.data):
        assert torch.equal(x, y)
    assert not torch.equal(flat(a.model), flat(c.model))
    assert math.isfinite(a.loss()) and a.loss() >= 0
    assert a.attrs["n_params"] == flat(a.model).numel()
    for key in ("optimizer", "lr", "steps", "every", "beta1", "beta2", "eps"):
        assert key in a.defaults


def dense_hessian(exp):
    names = [n for n, _ in exp.model.named_parameters()]
    shapes = [p.shape for p in exp.model.parameters()]
    sizes = [p.numel() for p in exp.model.parameters()]

    def loss_of(theta):
        parts = dict(zip(names, (t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes))))
        return exp.loss_fn(lambda x: torch.func.functional_call(exp.model, parts, (x,)), exp.data)

    # torch.autograd.functional.hessian (plain double backward). In torch 2.13,
    # torch.func.hessian gets the LayerNorm-weight rows wrong (the result is not
    # even symmetric), so it cannot serve as the dense reference here.
    return torch.autograd.functional.hessian(loss_of, flat(exp.model))


@pytest.mark.parametrize("name", ["transformer", "cnn"])
def test_hvp_lambda_max_through_attention_and_pooling_matches_dense(name):
    """The explicit attention (and max-pooling) support double-backward Hessian-vector products:
    Lanczos lambda_max(H) equals eigvalsh of the dense Hessian."""
    from dynsys.nn import hessian_lambda_max

    kw = dict(SMALL[name])
    if name == "transformer":
        kw.update(d=4, items=4, anchors=2, seq_len=4)
    exp = get_experiment(name, **kw)
    H = dense_hessian(exp)
    want = float(torch.linalg.eigvalsh(0.5 * (H + H.T))[-1])
    got = hessian_lambda_max(exp.model, exp.loss_fn, exp.data, tol=1e-10)
    assert got.value == pytest.approx(want, rel=1e-6)


def test_transformer_task_and_loss_floor():
    from dynsys.nn.experiments.transformer import composition_data, last_token_cross_entropy, smoothed_entropy_floor

    g = torch.Generator().manual_seed(0)
    items, anchors = 10, 3
    tokens, target, shifts = composition_data(200, items, anchors, 7, g)
    for row, y in zip(tokens.tolist(), target.tolist()):
        pos = [i for i, tok in enumerate(row) if tok >= items]
        assert len(pos) == 2 and pos[1] == pos[0] + 1  # one anchor pair
        key = row[pos[0] - 1]
        assert y == (key + int(shifts[row[pos[0]] - items]) + int(shifts[row[pos[1]] - items])) % items
    # the excess label-smoothed cross-entropy is 0 exactly at the smoothed target distribution
    K, s = items + anchors, 0.1
    probs = torch.full((200, K), s / K, dtype=torch.float64)
    probs[torch.arange(200), target] += 1 - s
    logits = torch.log(probs)

    class Fixed(torch.nn.Module):
        def forward(self, tok):
            return logits.unsqueeze(1).expand(-1, tok.shape[1], -1)

    assert float(last_token_cross_entropy(Fixed(), (tokens, target))) == pytest.approx(0.0, abs=1e-12)
    assert smoothed_entropy_floor(K) > 0


def test_cnn_mse_on_one_hot_at_zero_output_is_one_half():
    from dynsys.nn.experiments.cnn import onehot_mse

    exp = get_experiment("cnn", **SMALL["cnn"])
    with torch.no_grad():
        for p in exp.model.parameters():
            p.zero_()
    assert exp.loss() == pytest.approx(0.5, abs=1e-15)  # (1/2n) sum ||0 - e_y||^2 = 1/2
    assert onehot_mse is exp.loss_fn


def test_clip_second_moment_floors_vhat_exactly():
    """Fig. D9b clipping equals Adam written by hand with v_t = max(b2 v + (1-b2) g^2, floor (1-b2^t))."""
    exp = get_experiment("fnn-sin", **SMALL["fnn-sin"])
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
    opt = build_optimizer(exp.model, "adam", lr, beta2=b2)
    floor = 0.01
    ref = get_experiment("fnn-sin", **SMALL["fnn-sin"])
    params = [p.detach().clone() for p in ref.model.parameters()]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    steps = 6
    train(exp, opt, steps, interventions=[ClipSecondMoment(floor)])
    for t in range(1, steps + 1):
        with torch.no_grad():
            for q, p in zip(ref.model.parameters(), params):
                q.copy_(p)
        for q in ref.model.parameters():
            q.grad = None
        ref.loss_fn(ref.model, ref.data).backward()
        for i, q in enumerate(ref.model.parameters()):
            g = q.grad
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            if t > 1:  # the first step, before Adam has state, is left alone
                v[i] = torch.maximum(v[i], torch.full_like(v[i], floor * (1 - b2 ** t)))
            params[i] = params[i] - lr * (m[i] / (1 - b1 ** t)) / ((v[i] / (1 - b2 ** t)).sqrt() + eps)
    for i, p in enumerate(exp.model.parameters()):
        vt = opt.state[p]["exp_avg_sq"]
        assert float((vt / (1 - b2 ** steps)).min()) >= floor * (1 - 1e-12)
        assert torch.allclose(vt, v[i], rtol=1e-10, atol=0)
        assert torch.allclose(p.detach(), params[i], rtol=1e-10, atol=1e-14)
    # the floor was active: plain Adam's vhat is below it somewhere
    assert any(float((vi / (1 - b2 ** steps)).min()) <= floor * (1 + 1e-12) for vi in v)


class _Shift:
    """Pass a step index offset to an intervention (train() restarts its index at 0)."""

    def __init__(self, iv, offset):
        self.iv, self.offset = iv, offset

    def before_step(self, step, optimizer):
        self.iv.before_step(step + self.offset, optimizer)


def test_raise_epsilon_changes_eps_at_its_step():
    exp = get_experiment("fnn-sin", **SMALL["fnn-sin"])
    opt = build_optimizer(exp.model, "adam", 0.01)
    iv = RaiseEpsilon(3, 0.1)
    train(exp, opt, 3, interventions=[iv])
    assert opt.param_groups[0]["eps"] == 1e-8
    train(exp, opt, 1, interventions=[_Shift(iv, 3)])
    assert opt.param_groups[0]["eps"] == 0.1


def test_fnn_sin_adam_spike_lambda_grad_hhat_at_onset_lambda_max_hhat_earlier():
    """Done-means of issue 4 (Fig. 4c-d): the default fnn-sin Adam run spikes; lambda_max(Hhat)
    crossed 2/eta well before the onset, lambda_grad(Hhat) crosses at the onset."""
    ds, _ = run_experiment("fnn-sin", optimizer="adam", lr=0.01, steps=1064, every=2, per_block=False,
                           predictors=["lambda_max_Hhat", "lambda_grad_Hhat", "lambda_grad_Hhat_sustained"])
    spikes, reports = evaluate_predictors(ds)
    assert len(spikes) == 1
    s = spikes[0]
    assert 1000 <= s.onset <= 1060 and s.factor > 10
    rep = {r.name: r for r in reports}
    lead_max, lead_grad = rep["lambda_max_Hhat"].leads[0], rep["lambda_grad_Hhat"].leads[0]
    assert lead_max is not None and lead_grad is not None
    assert lead_max >= 20 > lead_grad  # lambda_max(Hhat) crossed tens of steps earlier
    assert abs(lead_grad) <= 4  # lambda_grad(Hhat) crossed at the onset (two records)
    assert rep["lambda_grad_Hhat_sustained"].hits == 1
    # the threshold is 2/eta and lambda_max(Hhat) keeps rising before the spike (v decays: phase 2)
    assert np.all(ds["threshold"].values == 200.0)
    pre = ds["lambda_max_Hhat"].sel(step=slice(900, s.onset)).values
    assert np.all(np.diff(pre) > 0)


def test_interventions_suppress_the_spike_fig_d9():
    """Fig. 5f / D9: raising eps to 0.1 at the onset removes the spike; eps = 0.1 from the
    start never spikes but converges far more slowly."""
    ds = intervention_study("fnn-sin", steps=1080, runs=("eps_at_onset", "eps_from_start"))
    onset = ds.attrs["onset"]
    assert 1000 <= onset <= 1060
    base = ds["loss"].sel(run="baseline").values
    at = ds["loss"].sel(run="eps_at_onset").values
    start = ds["loss"].sel(run="eps_from_start").values
    assert np.array_equal(base[:onset + 1], at[:onset + 1])  # same run up to the intervention
    assert base[onset:].max() > 10 * base[onset]
    assert at[onset:].max() <= 1.01 * at[onset]  # no rise after eps is raised
    assert start[-1] > 100 * base[onset]  # much slower


def test_llas_gd_spike_at_the_edge_of_stability_and_pca():
    """LLAS Sec. 3: the GD run spikes while lambda_max(H) > 2/eta; the trajectory is nearly
    planar in its two leading PCA directions (paper: 0.9895 explained)."""
    from dynsys.nn.experiments.llas_fnn import llas_analysis, pca_projection

    ds, _ = run_experiment("llas-fnn", steps=2480, every=10, predictors=["lambda_max_H"], per_block=False)
    spikes, reports = evaluate_predictors(ds, rise=3.0)
    assert spikes and reports[0].hits == len(spikes)
    an = llas_analysis(steps=600, every=20)
    assert sum(an.attrs["explained_variance"]) > 0.95
    # PCA of an exactly planar trajectory explains everything
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(30, 2)))[0].T
    traj = rng.normal(size=(50, 2)) @ basis
    coords, dirs, explained = pca_projection(traj)
    assert explained.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(coords @ dirs, traj - traj[-1])


def test_bad_experiment_arguments():
    with pytest.raises(ValueError, match="experiment"):
        get_experiment("resnet")
    with pytest.raises(ValueError, match="optimizer"):
        run_experiment("fnn-sin", optimizer="sgdm")
    with pytest.raises(ValueError, match="device"):
        get_experiment("fnn-sin", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="does not exist"):
            get_experiment("fnn-sin", device="cuda")
    with pytest.raises(ValueError, match="lr"):
        build_optimizer(torch.nn.Linear(1, 1), "adam", -1.0)
    with pytest.raises(ValueError, match="beta2"):
        build_optimizer(torch.nn.Linear(1, 1), "adam", 0.1, beta2=1.0)


def test_llas_lfp_and_condensed_variance_on_known_networks():
    """F2 on the network wrappers: the output difference sin(x) + 0.5 sin(5x) sampled over
    [-pi, pi) carries power 1/2 and 1/8, so LFP(2) = 0.8, LFP(5) = 1, LFP(0) = 0; neurons
    (w, b) all on one orientation have condensed variance 0, two equal-magnitude groups at
    +-pi/4 have (pi/4)^2."""
    from dynsys.nn.experiments.fnn_sin import TwoLayerNet
    from dynsys.nn.experiments.llas_fnn import neuron_condensation, output_difference_lfp

    class Fn(torch.nn.Module):
        def __init__(self, f):
            super().__init__()
            self.f = f
            self.p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, x):
            return self.f(x)

    a = Fn(lambda x: torch.sin(x) + 0.5 * torch.sin(5 * x) + 1.0)
    b = Fn(lambda x: torch.ones_like(x))
    assert output_difference_lfp(a, b, 2) == pytest.approx(0.8, rel=1e-12)
    assert output_difference_lfp(a, b, 5) == pytest.approx(1.0, rel=1e-12)
    assert output_difference_lfp(a, b, 0) == pytest.approx(0.0, abs=1e-12)

    net = TwoLayerNet(1, 4, "tanh").double()
    with torch.no_grad():
        w = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
        net.hidden.weight.copy_(w[:, None])
        net.hidden.bias.copy_(2 * w)
        assert neuron_condensation(net) == pytest.approx(0.0, abs=1e-15)
        net.hidden.weight.fill_(1.0)
        net.hidden.bias.copy_(torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64))
        assert neuron_condensation(net) == pytest.approx((math.pi / 4) ** 2, rel=1e-12)
