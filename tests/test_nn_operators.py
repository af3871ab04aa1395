"""Curvature operators on small torch models against dense references (issue 4, section 4)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsys.nn import (BlockOperator, DataChunks, HessianOperator, PreconditionedHessianOperator,  # noqa: E402
                       hessian_lambda_max, make_hvp, parameter_layout)
from dynsys.nn.operators import adam_preconditioner  # noqa: E402
from dynsys.nn.params import flatten, unflatten  # noqa: E402


def small_problem(seed=0, n=24, width=6, act=torch.nn.Tanh):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, width), act(), torch.nn.Linear(width, 1)).double()
    x = torch.randn(n, 2, dtype=torch.float64)
    y = torch.sin(3 * x[:, :1]) + x[:, 1:] ** 2
    return model, (x, y)


def mse(model, data):
    x, y = data
    return ((model(x) - y) ** 2).mean()


def reference_hessian(model, loss_fn, data):
    """Dense Hessian by torch.autograd.functional.hessian on the flat parameter vector."""
    layout = parameter_layout(model)
    theta = flatten([p.detach() for p in layout.params])
    names = list(layout.names)

    def f(flat):
        pd = dict(zip(names, unflatten(flat, layout)))
        return torch.func.functional_call(model, pd, (data[0],)).sub(data[1]).pow(2).mean()

    h = torch.autograd.functional.hessian(f, theta)
    return 0.5 * (h + h.T)


def adam_after_steps(model, data, steps=7, cls=torch.optim.Adam, **kw):
    opt = cls(model.parameters(), lr=0.02, **kw)
    for _ in range(steps):
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    opt.zero_grad()
    return opt


def eq7_by_hand(model, opt):
    """Eq. 7 of the loss-spikes-in-Adam paper from the optimizer's state, written out."""
    diag = []
    for group in opt.param_groups:
        b1, b2 = group["betas"]
        for p in group["params"]:
            st = opt.state[p]
            t = st["step"].item()
            vhat = st["exp_avg_sq"] / (1 - b2 ** t)
            diag.append((1 / (1 - b1 ** t)) * (1 - b1) / (1 + b1) / (vhat.sqrt() + group["eps"]))
    return torch.cat([d.reshape(-1) for d in diag])


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse", "finite_difference", "auto"])
def test_hvp_methods_match_dense_hessian(method):
    model, data = small_problem()
    ref = reference_hessian(model, mse, data)
    op = HessianOperator(model, mse, data, method=method)
    dense = op.to_dense()
    tol = 1e-7 if method == "finite_difference" else 1e-12
    assert torch.allclose(dense, ref, atol=tol * float(ref.abs().max()), rtol=0)
    assert op.n_hvp == op.size


def test_lambda_max_H_matches_eigvalsh():
    model, data = small_problem(seed=1)
    ref = torch.linalg.eigvalsh(reference_hessian(model, mse, data))
    res = hessian_lambda_max(model, mse, data, tol=1e-8)
    assert res.converged
    assert abs(res.value - ref[-1].item()) <= 1e-6 * abs(ref[-1].item())
    # eigenvector: unit norm and H v = lambda v
    H = reference_hessian(model, mse, data)
    assert abs(float(res.vector.norm()) - 1) < 1e-12
    assert float((H @ res.vector - res.value * res.vector).norm()) <= 1e-6 * abs(res.value)


def test_gradient_and_loss_recorded():
    model, data = small_problem()
    op = HessianOperator(model, mse, data)
    loss = mse(model, data)
    g = torch.autograd.grad(loss, list(model.parameters()))
    assert op.loss == pytest.approx(loss.item(), rel=1e-15)
    assert torch.allclose(op.gradient, flatten(g), rtol=0, atol=1e-15)


@pytest.mark.parametrize("cls,kw", [(torch.optim.Adam, {}), (torch.optim.AdamW, {"weight_decay": 0.1}),
                                    (torch.optim.Adam, {"amsgrad": True}), (torch.optim.Adam, {"betas": (0.5, 0.9)})])
def test_hhat_matches_eq7_by_hand(cls, kw):
    model, data = small_problem(seed=2)
    opt = adam_after_steps(model, data, cls=cls, **kw)
    layout = parameter_layout(model)
    d, info = adam_preconditioner(opt, layout)
    if kw.get("amsgrad"):
        # amsgrad: torch uses max_exp_avg_sq; check against it explicitly
        b1, b2 = opt.param_groups[0]["betas"]
        t = opt.state[layout.params[0]]["step"].item()
        vmax = flatten([opt.state[p]["max_exp_avg_sq"] for p in layout.params])
        hand = (1 - b1) / ((1 + b1) * (1 - b1 ** t)) / ((vmax / (1 - b2 ** t)).sqrt() + opt.param_groups[0]["eps"])
    else:
        hand = eq7_by_hand(model, opt)
    assert torch.allclose(d, hand, rtol=1e-14, atol=0)
    assert info["step"] == 7.0
    H = reference_hessian(model, mse, data)
    hhat = torch.diag(hand) @ H
    ref_max = torch.linalg.eigvals(hhat).real.max().item()
    sym = torch.diag(hand.sqrt()) @ H @ torch.diag(hand.sqrt())
    ref_sym = torch.linalg.eigvalsh(0.5 * (sym + sym.T))[-1].item()
    assert ref_sym == pytest.approx(ref_max, rel=1e-10)  # Lemma B.1
    res = hessian_lambda_max(model, mse, data, optimizer=opt, tol=1e-8)
    assert res.converged
    assert abs(res.value - ref_sym) <= 1e-6 * abs(ref_sym)
    # the returned vector is a right eigenvector of the non-symmetric Hhat, original coordinates
    x = res.vector
    assert res.coordinates == "original"
    assert float((hhat @ x - res.value * x).norm()) <= 1e-5 * res.value


def test_adam_coupled_weight_decay_adds_l2_to_hessian():
    model, data = small_problem(seed=3)
    wd = 0.3
    opt = adam_after_steps(model, data, weight_decay=wd)
    hand = eq7_by_hand(model, opt)
    H = reference_hessian(model, mse, data) + wd * torch.eye(parameter_layout(model).size, dtype=torch.float64)
    sym = torch.diag(hand.sqrt()) @ H @ torch.diag(hand.sqrt())
    ref = torch.linalg.eigvalsh(0.5 * (sym + sym.T))[-1].item()
    res = hessian_lambda_max(model, mse, data, optimizer=opt, tol=1e-8)
    assert abs(res.value - ref) <= 1e-6 * ref


def test_preconditioned_operator_is_symmetric_form():
    model, data = small_problem(seed=4)
    opt = adam_after_steps(model, data)
    hess = HessianOperator(model, mse, data)
    op = PreconditionedHessianOperator(hess, opt)
    S = op.to_dense()
    assert torch.allclose(S, S.T, atol=1e-12 * float(S.abs().max()), rtol=0)
    H = reference_hessian(model, mse, data)
    assert torch.allclose(S, torch.diag(op.sqrt_d) @ H @ torch.diag(op.sqrt_d), atol=1e-12, rtol=0)
    x = torch.randn(op.size, dtype=torch.float64)
    assert torch.allclose(op.apply_hhat(x), op.d * (H @ x), atol=1e-12, rtol=0)
    assert torch.allclose(op.to_original(op.from_original(x)), x / x.norm(), atol=1e-14, rtol=0)


def test_next_state_preconditioner_is_what_step_would_use():
    model, data = small_problem(seed=5)
    opt = adam_after_steps(model, data, steps=3)
    layout = parameter_layout(model)
    hess = HessianOperator(model, mse, data)
    d_next, info = adam_preconditioner(opt, layout, state="next", gradient=hess.gradient)
    assert info["step"] == 4.0
    opt.zero_grad()
    mse(model, data).backward()
    opt.step()  # the real next step
    assert torch.allclose(d_next, eq7_by_hand(model, opt), rtol=1e-13, atol=0)


def test_block_operator_is_diagonal_block():
    model, data = small_problem(seed=6)
    layout = parameter_layout(model)
    H = reference_hessian(model, mse, data)
    op = HessianOperator(model, mse, data)
    for name in layout.blocks:
        idx = layout.block_index(name)
        blk = BlockOperator(op, idx, name)
        assert torch.allclose(blk.to_dense(), H[idx][:, idx], atol=1e-12, rtol=0)
    assert set(layout.blocks) == {"0", "2"}


def test_chunked_data_equals_full_batch():
    model, data = small_problem(seed=7, n=30)
    x, y = data
    chunks = DataChunks([(x[:10], y[:10]), (x[10:20], y[10:20]), (x[20:], y[20:])])
    H = reference_hessian(model, mse, data)
    for method in ("double_backward", "forward_over_reverse"):
        for keep in (None, True):
            if method != "double_backward" and keep:
                continue
            op = HessianOperator(model, mse, chunks, method=method, keep_graph=keep)
            assert torch.allclose(op.to_dense(), H, atol=1e-12, rtol=0)
    op = HessianOperator(model, mse, chunks)
    assert op.loss == pytest.approx(mse(model, data).item(), rel=1e-14)


def test_scipy_linear_operator_eigsh():
    from scipy.sparse.linalg import eigsh
    model, data = small_problem(seed=8)
    op = HessianOperator(model, mse, data)
    val = eigsh(op.as_linear_operator(), k=1, which="LA", tol=1e-10)[0][0]
    ref = torch.linalg.eigvalsh(reference_hessian(model, mse, data))[-1].item()
    assert val == pytest.approx(ref, rel=1e-8)


def test_dropout_and_batchnorm_fixed_operator_without_side_effects():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Tanh(),
                                torch.nn.Dropout(0.3), torch.nn.Linear(8, 1)).double().train()
    x = torch.randn(16, 2, dtype=torch.float64)
    data = (x, x[:, :1] ** 2)
    buffers = [b.clone() for b in model.buffers()]
    params = [p.detach().clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    op = HessianOperator(model, mse, data)
    v = torch.randn(op.size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h1, h2 = op.matvec(v), op.matvec(v)
    assert torch.equal(h1, h2)  # same dropout mask every product: a fixed linear operator
    S = op.to_dense()
    assert torch.allclose(S, S.T, atol=1e-10, rtol=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random stream is untouched
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))  # running stats untouched
    assert all(torch.equal(a, b) for a, b in zip(params, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


def test_finite_difference_fallback_for_layer_without_double_backward():
    class NoDoubleBackward(torch.autograd.Function):
        """tanh whose backward has no derivative (like a fused attention kernel)."""

        @staticmethod
        def forward(ctx, x):
            y = torch.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            if torch.is_grad_enabled():  # create_graph=True: a double backward is being built
                raise RuntimeError("derivative for fused_tanh_backward is not implemented")
            (y,) = ctx.saved_tensors
            return gy * (1 - y * y)

    class Act(torch.nn.Module):
        def forward(self, x):
            return NoDoubleBackward.apply(x)

    model, data = small_problem(seed=9)
    model_nd = torch.nn.Sequential(model[0], Act(), model[2])
    with pytest.raises(RuntimeError, match="not implemented"):
        HessianOperator(model_nd, mse, data, method="double_backward")
    with pytest.warns(RuntimeWarning, match="finite-difference"):
        op = HessianOperator(model_nd, mse, data, method="auto")
        dense = op.to_dense()
    ref = reference_hessian(model, mse, data)
    assert torch.allclose(dense, ref, atol=1e-7 * float(ref.abs().max()), rtol=0)


# ----------------------------------------------------------------------------- bad input (section 6)

def test_model_without_trainable_parameters():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1)).double()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian_lambda_max(model, mse, (torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)))
    with pytest.raises(ValueError, match="not a torch.nn.Module"):
        hessian_lambda_max(lambda x: x, mse, None)


def test_optimizer_not_adam_like_for_hhat():
    model, data = small_problem()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not Adam-like"):
        hessian_lambda_max(model, mse, data, optimizer=sgd)


def test_adam_without_state():
    model, data = small_problem()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="has not stepped yet"):
        hessian_lambda_max(model, mse, data, optimizer=opt)


def test_loss_not_scalar():
    model, data = small_problem()
    with pytest.raises(ValueError, match="allowed: a scalar"):
        hessian_lambda_max(model, lambda m, d: (m(d[0]) - d[1]) ** 2, data)
    with pytest.raises(ValueError, match="allowed: a scalar torch.Tensor"):
        hessian_lambda_max(model, lambda m, d: 1.0, data)


def test_nonfinite_loss_and_gradient():
    model, data = small_problem()
    x, y = data
    bad = (x, y.clone())
    bad[1][0, 0] = float("nan")
    with pytest.raises(ValueError, match="loss is not finite"):
        hessian_lambda_max(model, mse, bad)
    # finite loss, infinite gradient: sqrt at 0
    with pytest.raises(ValueError, match="gradient is not finite"):
        hessian_lambda_max(model, lambda m, d: (m(d[0]) * 0).abs().sum().sqrt(), data)


def test_wrong_vector_shape_and_method():
    model, data = small_problem()
    op = HessianOperator(model, mse, data)
    with pytest.raises(ValueError, match="shape"):
        op.matvec(torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="method"):
        make_hvp(model, mse, data, method="magic")


def test_data_on_another_device():
    model, data = small_problem()
    meta = tuple(t.to("meta") for t in data)
    with pytest.raises(ValueError, match="different devices"):
        hessian_lambda_max(model, mse, meta)
    from dynsys.nn import check_device
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device = 'cuda' does not exist"):
            check_device("cuda")
    assert check_device("cpu") == torch.device("cpu")


# ----------------------------------------------------------------------------- GPU (run on a CUDA machine)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gpu_lambda_max_H_and_Hhat_match_cpu(dtype):
    model, data = small_problem(seed=11, n=64, width=16)
    opt = adam_after_steps(model, data, steps=5)
    ref_H = hessian_lambda_max(model, mse, data, tol=1e-8).value
    ref_Hhat = hessian_lambda_max(model, mse, data, optimizer=opt, tol=1e-8).value
    model_gpu = small_problem(seed=11, n=64, width=16)[0].to("cuda", dtype)
    model_gpu.load_state_dict(model.state_dict())
    opt_gpu = torch.optim.Adam(model_gpu.parameters(), lr=0.02)
    opt_gpu.load_state_dict(opt.state_dict())
    data_gpu = tuple(t.to("cuda", dtype) for t in data)
    rtol = 1e-6 if dtype == torch.float64 else 1e-3
    for method in ("double_backward", "forward_over_reverse"):
        res = hessian_lambda_max(model_gpu, mse, data_gpu, tol=1e-5, method=method)
        assert res.vector.device.type == "cuda"
        assert res.value == pytest.approx(ref_H, rel=rtol)
    res = hessian_lambda_max(model_gpu, mse, data_gpu, optimizer=opt_gpu, tol=1e-5)
    assert res.value == pytest.approx(ref_Hhat, rel=rtol)


@pytest.mark.gpu
@cuda
def test_gpu_predictors_and_critical_rate_leave_state_untouched():
    from dynsys.nn import compute_predictors, critical_learning_rate

    model, data = small_problem(seed=12, n=64, width=16)
    model = model.to("cuda")
    data = tuple(t.to("cuda") for t in data)
    opt = adam_after_steps(model, data, steps=4)
    params = [p.detach().clone() for p in model.parameters()]
    cuda_rng = torch.cuda.get_rng_state()
    out = compute_predictors(model, mse, data, opt, per_block=True)
    assert out["lambda_grad_Hhat"] <= out["lambda_max_Hhat"] * (1 + 1e-6)
    crit = critical_learning_rate(model, mse, data, opt)
    assert crit.converged or not crit.descent
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters()))
    assert torch.equal(cuda_rng, torch.cuda.get_rng_state())
