"""Spike predictors (A3, A6, C2, C3) against dense computations and simulated thresholds."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn import (compute_predictors, hessian_lambda_max, stability_threshold,  # noqa: E402
                       sustained_predictor, update_direction)
from dynsys.nn.params import flatten, parameter_layout, unflatten  # noqa: E402


def problem(seed=0, width=6):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.Tanh(), torch.nn.Linear(width, 1)).double()
    x = torch.randn(24, 2, dtype=torch.float64)
    return model, (x, torch.sin(3 * x[:, :1]) + x[:, 1:] ** 2)


def mse(model, data):
    return ((model(data[0]) - data[1]) ** 2).mean()


def dense(model, data):
    layout = parameter_layout(model)
    theta = flatten([p.detach() for p in layout.params])

    def f(flat):
        out = torch.func.functional_call(model, dict(zip(layout.names, unflatten(flat, layout))), (data[0],))
        return ((out - data[1]) ** 2).mean()

    H = torch.autograd.functional.hessian(f, theta)
    t = theta.clone().requires_grad_()
    g = torch.autograd.grad(f(t), t)[0]
    return 0.5 * (H + H.T), g


def train(model, data, opt, steps):
    for _ in range(steps):
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    opt.zero_grad()


def eq7_diag(opt, layout):
    parts = []
    for p in layout.params:
        group = next(gr for gr in opt.param_groups if any(q is p for q in gr["params"]))
        b1, b2 = group["betas"]
        st = opt.state[p]
        t = st["step"].item()
        parts.append((1 - b1) / ((1 + b1) * (1 - b1 ** t)) / ((st["exp_avg_sq"] / (1 - b2 ** t)).sqrt() + group["eps"]))
    return flatten(parts)


def test_predictors_match_dense_formulas_adam():
    model, data = problem(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    train(model, data, opt, 6)
    layout = parameter_layout(model)
    H, g = dense(model, data)
    D = eq7_diag(opt, layout)
    S = torch.diag(D.sqrt()) @ H @ torch.diag(D.sqrt())
    evS = torch.linalg.eigvalsh(0.5 * (S + S.T))
    out = compute_predictors(model, mse, data, opt, tol=1e-8)
    evH = torch.linalg.eigvalsh(H)
    assert out["lambda_max_H"] == pytest.approx(evH[-1].item(), rel=1e-6)
    assert out["lambda_max_Hhat"] == pytest.approx(evS[-1].item(), rel=1e-6)
    assert out["lambda_grad_H"] == pytest.approx(float(g @ H @ g / (g @ g)), rel=1e-10)
    # symmetric-form lambda_grad(Hhat): Rayleigh quotient of S at D^{1/2} g
    w = D.sqrt() * g
    lam_grad_hat = float(w @ S @ w / (w @ w))
    assert out["lambda_grad_Hhat"] == pytest.approx(lam_grad_hat, rel=1e-10)
    assert evS[0].item() - 1e-12 <= out["lambda_grad_Hhat"] <= evS[-1].item() + 1e-12
    assert out["lambda_grad_Hhat_literal"] == pytest.approx(float(g @ (D[:, None] * H) @ g / (g @ g)), rel=1e-10)
    # lambda_update(Hhat) at u = mhat/(sqrt(vhat)+eps) of the live state
    b1, b2 = opt.param_groups[0]["betas"]
    t = opt.state[layout.params[0]]["step"].item()
    m = flatten([opt.state[p]["exp_avg"] for p in layout.params]) / (1 - b1 ** t)
    v = flatten([opt.state[p]["exp_avg_sq"] for p in layout.params]) / (1 - b2 ** t)
    u = m / (v.sqrt() + opt.param_groups[0]["eps"])
    wu = u / D.sqrt()
    assert out["lambda_update_Hhat"] == pytest.approx(float(wu @ S @ wu / (wu @ wu)), rel=1e-10)
    # directional sharpness along the real next update
    d, _ = update_direction(model, opt, g)
    assert out["directional_sharpness"] == pytest.approx(float(d @ H @ d / (d @ g)), rel=1e-10)
    lo, hi = out["critical_lr_bracket"]
    assert lo < 2 / out["critical_sharpness"] < hi
    assert out["threshold"] == pytest.approx(2 / 0.02)
    assert out["converged"]["lambda_max_H"] and out["converged"]["lambda_max_Hhat"]


def test_lambda_grad_hhat_predicts_loss_rise_of_preconditioned_step():
    """Quadratic loss, step -eta D g: the loss rises iff lambda_grad(Hhat) > 2/eta (Eq. 8, adaptive form)."""
    model, data = problem(seed=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.02, betas=(0.0, 0.99))
    train(model, data, opt, 5)
    layout = parameter_layout(model)
    H, g = dense(model, data)
    D = eq7_diag(opt, layout)
    lam = compute_predictors(model, mse, data, opt, predictors=["lambda_grad_Hhat"])["lambda_grad_Hhat"]

    def quad_change(eta):  # quadratic model of L(theta - eta D g) - L(theta)
        step = -eta * D * g
        return float(g @ step + 0.5 * step @ H @ step)

    eta_c = 2 / lam
    assert quad_change(0.99 * eta_c) < 0 < quad_change(1.01 * eta_c)


def test_gd_predictors_and_per_block():
    model, data = problem(seed=3)
    H, g = dense(model, data)
    out = compute_predictors(model, mse, data, None, lr=0.1, per_block=True, tol=1e-8)
    assert "lambda_max_Hhat" not in out
    assert out["threshold"] == pytest.approx(20.0)
    assert out["directional_sharpness"] == pytest.approx(out["lambda_grad_H"], rel=1e-12)  # GD: d = g
    layout = parameter_layout(model)
    for b in layout.blocks:
        idx = layout.block_index(b)
        Hb = H[idx][:, idx]
        assert out["per_block"]["lambda_max_H"][b] == pytest.approx(torch.linalg.eigvalsh(Hb)[-1].item(), rel=1e-6)
        gb = g[idx]
        assert out["per_block"]["lambda_grad_H"][b] == pytest.approx(float(gb @ Hb @ gb / (gb @ gb)), rel=1e-10)


def test_per_block_hhat_and_vhat_norms():
    model, data = problem(seed=4)
    opt = torch.optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.05)
    train(model, data, opt, 4)
    layout = parameter_layout(model)
    H, g = dense(model, data)
    D = eq7_diag(opt, layout)
    out = compute_predictors(model, mse, data, opt, per_block=True, tol=1e-8)
    assert out["threshold"] == pytest.approx(2 / 0.02 - 0.05)  # C3, decoupled decay
    b1, b2 = opt.param_groups[0]["betas"]
    mh = flatten([opt.state[p]["exp_avg"] for p in layout.params]) / (1 - b1 ** 4)
    vh = flatten([opt.state[p]["exp_avg_sq"] for p in layout.params]) / (1 - b2 ** 4)
    u = mh / (vh.sqrt() + opt.param_groups[0]["eps"])
    for b in layout.blocks:
        idx = layout.block_index(b)
        Sb = torch.diag(D[idx].sqrt()) @ H[idx][:, idx] @ torch.diag(D[idx].sqrt())
        assert out["per_block"]["lambda_max_Hhat"][b] == pytest.approx(torch.linalg.eigvalsh(Sb)[-1].item(), rel=1e-6)
        b2 = opt.param_groups[0]["betas"][1]
        vhat = flatten([opt.state[p]["exp_avg_sq"] for p in layout.params]) / (1 - b2 ** 4)
        assert out["per_block"]["sqrt_vhat_norm"][b] == pytest.approx(float(vhat[idx].sum().sqrt()), rel=1e-12)
        # block Rayleigh quotients of S_bb at D_b^{1/2} g_b and at D_b^{-1/2} u_b (u = mhat/(sqrt(vhat)+eps))
        gb, Hb, Db = g[idx], H[idx][:, idx], D[idx]
        assert out["per_block"]["lambda_grad_Hhat"][b] == pytest.approx(
            float((Db * gb) @ Hb @ (Db * gb) / (gb @ (Db * gb))), rel=1e-10)
        ub = u[idx]
        assert out["per_block"]["lambda_update_Hhat"][b] == pytest.approx(
            float(ub @ Hb @ ub / (ub @ (ub / Db))), rel=1e-10)
        assert out["per_block"]["lambda_grad_Hhat"][b] <= out["per_block"]["lambda_max_Hhat"][b] * (1 + 1e-9)


def test_warm_start_reduces_products_and_keeps_values():
    model, data = problem(seed=5)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    train(model, data, opt, 3)
    first = compute_predictors(model, mse, data, opt, tol=1e-6)
    train(model, data, opt, 1)
    cold = compute_predictors(model, mse, data, opt, tol=1e-6)
    warm = compute_predictors(model, mse, data, opt, tol=1e-6, warm_start=first["warm_start"])
    for key in ("lambda_max_H", "lambda_max_Hhat"):
        assert warm[key] == pytest.approx(cold[key], rel=1e-6)
    assert warm["n_hvp"] < cold["n_hvp"]
    assert warm["n_forward"] <= 8


@pytest.mark.parametrize("kw", [
    {"momentum": 0.0}, {"momentum": 0.0, "weight_decay": 0.5}, {"momentum": 0.9}, {"momentum": 0.9, "weight_decay": 0.3},
    {"momentum": 0.5, "dampening": 0.5}, {"momentum": 0.8, "nesterov": True},
])
def test_sgd_threshold_separates_convergence_from_divergence(kw):
    """Run torch SGD on L = h x^2/2 with h at 0.98x and 1.02x the predicted threshold."""
    lr = 0.1
    model = torch.nn.Linear(1, 1, bias=False).double()
    opt = torch.optim.SGD(model.parameters(), lr=lr, **kw)
    thr = stability_threshold(opt)["threshold"]
    for factor, diverges in ((0.95, False), (1.05, True)):
        h = factor * thr
        x = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
        o = torch.optim.SGD([x], lr=lr, **kw)
        for _ in range(800):
            o.zero_grad()
            (0.5 * h * x * x).sum().backward()
            o.step()
        assert (not abs(x.item()) <= 1.0) == diverges


def test_adam_threshold_with_frozen_preconditioner():
    """Linearized Adam with a frozen preconditioner (A2/A3): lambda_max(Hhat) vs 2/lr decides stability."""
    lr, b1, wd = 0.1, 0.9, 0.0
    for decoupled, wd in ((False, 0.0), (True, 0.4)):
        for factor, diverges in ((0.97, False), (1.03, True)):
            model = torch.nn.Linear(1, 1, bias=False).double()
            cls = torch.optim.AdamW if decoupled else torch.optim.Adam
            opt = cls(model.parameters(), lr=lr, betas=(b1, 0.999), weight_decay=wd)
            thr = stability_threshold(opt)["threshold"]
            # Eq. 7 with t -> inf: Hhat = (1-b1)/(1+b1) h/P with P = sqrt(vhat)+eps held fixed
            P = 1.0
            h = factor * thr * P * (1 + b1) / (1 - b1)
            x, m = 1.0, 0.0
            for _ in range(4000):
                m = b1 * m + (1 - b1) * h * x
                x = (1 - lr * wd) * x - lr * m / P if decoupled else x - lr * m / P
            assert (not abs(x) <= 1.0) == diverges  # nan/inf count as diverged


def test_sustained_predictor():
    x = [1.0, 3.0, 2.0, 5.0, 4.0]
    np.testing.assert_array_equal(sustained_predictor(x), [1.0, 1.0, 2.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="1-D"):
        sustained_predictor([])


def test_bad_input():
    model, data = problem()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not Adam-like"):
        compute_predictors(model, mse, data, sgd, predictors=["lambda_max_Hhat"])
    with pytest.raises(ValueError, match="predictors = 'lambda_spike'"):
        compute_predictors(model, mse, data, sgd, predictors=["lambda_spike"])
    adam = torch.optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="has not stepped yet"):
        compute_predictors(model, mse, data, adam)
    with pytest.raises(ValueError, match="lr is None"):
        compute_predictors(model, mse, data, None)
    groups = torch.optim.Adam([{"params": [model[0].weight], "lr": 0.1}, {"params": [model[0].bias, model[2].weight,
                                                                                     model[2].bias], "lr": 0.2}])
    with pytest.raises(ValueError, match="different learning rates"):
        stability_threshold(groups)
    with pytest.raises(ValueError, match="tol"):
        hessian_lambda_max(model, mse, data, tol=-1)
    assert math.isfinite(stability_threshold(groups, lr=0.1)["threshold"])


def _contract_prefix(fn, stated):
    """The stated parameters come first, in order, with the stated kind and default; any
    further parameter is keyword-only with a default (so every contract call still works)."""
    import inspect

    params = list(inspect.signature(fn).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params[:len(stated)]] == stated
    for p in params[len(stated):]:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty, p


def test_api_contract_entry_points():
    """Issue 4, API contract: the two entry points' signatures and result fields, called exactly as stated."""
    import inspect

    from dynsys.nn import critical_learning_rate

    P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
    _contract_prefix(hessian_lambda_max, [("model", P, E), ("loss_fn", P, E), ("data", P, E),
                                          ("optimizer", K, None), ("tol", K, 1e-6), ("seed", K, 0)])
    _contract_prefix(critical_learning_rate, [("model", P, E), ("loss_fn", P, E), ("data", P, E),
                                              ("optimizer", P, E), ("rel_tol", K, 0.01), ("guess", K, None)])
    model, data = problem(seed=7)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    train(model, data, opt, 3)
    H, g = dense(model, data)
    r = hessian_lambda_max(model, mse, data, optimizer=None, tol=1e-6, seed=0)
    assert r.value == pytest.approx(torch.linalg.eigvalsh(H)[-1].item(), rel=1e-6)
    assert r.vector.shape == (H.shape[0],) and r.n_hvp > 0 and r.converged and r.residual <= 1e-6 * r.value
    state = {k: v.clone() for k, v in opt.state[next(iter(model.parameters()))].items()}
    theta = flatten([p.detach().clone() for p in model.parameters()])
    c = critical_learning_rate(model, mse, data, opt, rel_tol=0.01, guess=None)
    assert 0 < c.lower < c.upper <= 1.01 * c.lower and c.n_forward > 0
    assert torch.equal(flatten([p.detach() for p in model.parameters()]), theta)
    for k, v in opt.state[next(iter(model.parameters()))].items():
        assert torch.equal(v, state[k])


# ----------------------------------------------------------------------------- param groups with different decays

def mixed_decay_adamw(model, wd=0.3, lr=0.05, coupled=False):
    """Hugging Face's default grouping: decay on the weight matrices, none on the biases."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    cls = torch.optim.Adam if coupled else torch.optim.AdamW
    return cls([{"params": weights, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}],
               lr=lr, betas=(0.9, 0.99))


def dense_adam(model, data, opt):
    """Dense H (float64), Eq. 7's D and the per-parameter decay W (in the layout's order)."""
    H, _ = dense(model, data)
    layout = parameter_layout(model)
    groups = {id(p): g for g in opt.param_groups for p in g["params"]}
    d, w = [], []
    for p in layout.params:
        g, st = groups[id(p)], opt.state[p]
        b1, b2 = g["betas"]
        t = float(st["step"])
        vhat = st["exp_avg_sq"].reshape(-1) / (1 - b2 ** t)
        d.append((1 - b1) / ((1 + b1) * (1 - b1 ** t)) / (vhat.sqrt() + g["eps"]))
        w.append(torch.full((p.numel(),), float(g["weight_decay"]), dtype=torch.float64))
    return H, torch.cat(d), torch.cat(w)


def test_mixed_decoupled_decay_threshold_is_the_period_doubling_of_the_linearized_adamw_map():
    """Groups with different AdamW decays W: stable iff lambda_max(S + W) < 2/lr (stability_threshold).

    The linearized AdamW map with a frozen preconditioner, theta_{t+1} = (Lam + b1 - lr (1+b1) D H) theta_t
    - b1 Lam theta_{t-1}, Lam = I - lr W, is built densely; its spectral radius crosses 1 exactly where
    lr = 2 / lambda_max(S + W): the threshold compute_predictors reports, 2/lr - wd_eff."""
    # a convex problem (linear least squares: H = 2 X^T X / n >= 0), so that the linearized map is
    # stable for small lr; inputs with a non-zero mean couple the weights (decayed) to the biases (not)
    torch.manual_seed(3)
    model = torch.nn.Linear(4, 2).double()
    x = torch.randn(32, 4, dtype=torch.float64) + 1.0
    data = (x, torch.randn(32, 2, dtype=torch.float64))
    opt = mixed_decay_adamw(model, wd=0.3)
    train(model, data, opt, 5)
    out = compute_predictors(model, mse, data, opt, predictors=["lambda_max_Hhat"], tol=1e-12)
    H, d, w = dense_adam(model, data, opt)
    S = d.sqrt()[:, None] * H * d.sqrt()[None, :]
    lam_s, lam_sw = float(torch.linalg.eigvalsh(S)[-1]), float(torch.linalg.eigvalsh(S + torch.diag(w))[-1])
    assert out["lambda_max_Hhat"] == pytest.approx(lam_s, rel=1e-9)
    assert out["lambda_max_Hhat_decayed"] == pytest.approx(lam_sw, rel=1e-9)
    eff = out["effective_weight_decay"]
    assert eff == pytest.approx(lam_sw - lam_s, abs=1e-8) and 0.0 - 1e-9 <= eff <= 0.3 + 1e-9  # Weyl
    assert 0.01 < eff < 0.29  # neither group's decay alone: the groups really mix in the top eigenvector
    assert out["threshold"] == pytest.approx(2 / 0.05 - eff, rel=1e-12) and out["threshold_exact"]
    # loose solves (few Lanczos steps): wd_eff, a difference of two large eigenvalues, still stays
    # within Weyl's [min W_d, max W_d] (the two solves' Rayleigh bounds are combined)
    for max_iter in (2, 3, 4):
        loose = compute_predictors(model, mse, data, opt, predictors=["lambda_max_Hhat"], tol=1e-2, max_iter=max_iter)
        assert 0.0 <= loose["effective_weight_decay"] <= 0.3
        assert loose["lambda_max_Hhat"] <= lam_s * (1 + 1e-12) and loose["lambda_max_Hhat_decayed"] <= lam_sw * (1 + 1e-12)
    bound = stability_threshold(opt)
    assert bound["threshold"] == pytest.approx(2 / 0.05 - 0.3) and not bound["threshold_exact"]
    assert bound["kind"] == "adamw-mixed-decay" and bound["weight_decay_groups"] == (0.3, 0.0)

    b1, n = 0.9, H.shape[0]

    def spectral_radius(lr):
        lam = torch.eye(n, dtype=torch.float64) - lr * torch.diag(w)
        A = lam + b1 * torch.eye(n, dtype=torch.float64) - lr * (1 + b1) * d[:, None] * H
        M = torch.cat([torch.cat([A, -b1 * lam], 1), torch.cat([torch.eye(n, dtype=torch.float64),
                                                                 torch.zeros(n, n, dtype=torch.float64)], 1)])
        return float(torch.linalg.eigvals(M).abs().max())

    lr_c = 2.0 / lam_sw
    assert spectral_radius(0.995 * lr_c) < 1.0 < spectral_radius(1.005 * lr_c)
    # the uniform-decay formula with either group's decay misplaces the boundary
    for wd in (0.0, 0.3):
        lr_wrong = 2.0 / (lam_s + wd)
        assert abs(lr_wrong / lr_c - 1) > 0.005
    # eigenvalue -1 exactly at lr_c: the period-doubling boundary
    lam = torch.eye(n, dtype=torch.float64) - lr_c * torch.diag(w)
    A = lam + b1 * torch.eye(n, dtype=torch.float64) - lr_c * (1 + b1) * d[:, None] * H
    M = torch.cat([torch.cat([A, -b1 * lam], 1), torch.cat([torch.eye(n, dtype=torch.float64),
                                                             torch.zeros(n, n, dtype=torch.float64)], 1)])
    assert float((torch.linalg.eigvals(M) + 1).abs().min()) < 1e-8


def test_mixed_coupled_decay_shifts_the_hessian_by_each_groups_decay():
    """Adam with coupled decays that differ by group minimizes L + sum_i wd_i theta_i^2/2: Hhat on H + W."""
    model, data = problem(width=5)
    opt = mixed_decay_adamw(model, wd=0.5, coupled=True)
    train(model, data, opt, 4)
    out = compute_predictors(model, mse, data, opt, predictors=["lambda_max_Hhat", "lambda_grad_Hhat"], tol=1e-12,
                             per_block=True)
    H, d, w = dense_adam(model, data, opt)
    S = d.sqrt()[:, None] * (H + torch.diag(w)) * d.sqrt()[None, :]
    assert out["lambda_max_Hhat"] == pytest.approx(float(torch.linalg.eigvalsh(S)[-1]), rel=1e-9)
    _, g = dense(model, data)
    g = g + w * parameter_layout_flat(model)  # the gradient Adam sees
    Dg = d * out["gradient"]
    assert out["lambda_grad_Hhat"] == pytest.approx(float(Dg @ (H + torch.diag(w)) @ Dg) / float(out["gradient"] @ Dg),
                                                    rel=1e-9)
    assert out["threshold"] == pytest.approx(2 / 0.05)  # coupled: the decay is inside Hhat
    res = hessian_lambda_max(model, mse, data, optimizer=opt, tol=1e-12)
    assert res.value == pytest.approx(out["lambda_max_Hhat"], rel=1e-9)
    assert "effective_weight_decay" not in out


def parameter_layout_flat(model):
    return flatten([p.detach() for p in parameter_layout(model).params])
