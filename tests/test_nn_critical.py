"""Critical learning rate / critical sharpness (C1, C4) against the quadratic-model theory."""
import copy
import math

import pytest

torch = pytest.importorskip("torch")

from dynsys.nn import critical_learning_rate, relative_critical_sharpness, update_direction  # noqa: E402
from dynsys.nn.params import parameter_layout  # noqa: E402


class Quadratic(torch.nn.Module):
    """L(x) = x^T A x / 2 with the parameter x."""

    def __init__(self, A, x0):
        super().__init__()
        self.A = A
        self.x = torch.nn.Parameter(x0.clone())


def quad_loss(model, data):
    return 0.5 * model.x @ (model.A @ model.x)


def quadratic(seed=0, n=12):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eigs = torch.linspace(0.1, 10.0, n, dtype=torch.float64)
    A = q @ torch.diag(eigs) @ q.T
    return Quadratic(0.5 * (A + A.T), torch.randn(n, generator=g, dtype=torch.float64)), eigs


def mlp_problem(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.randn(32, 2, dtype=torch.float64)
    return model, (x, torch.sin(2 * x[:, :1]) * x[:, 1:])


def mse(model, data):
    return ((model(data[0]) - data[1]) ** 2).mean()


@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_gd_critical_sharpness_is_gradient_directional_curvature(optimizer):
    model, eigs = quadratic()
    opt = None if optimizer == "gd" else torch.optim.SGD(model.parameters(), lr=0.05)
    g = model.A @ model.x.detach()
    lam_grad = float(g @ model.A @ g / (g @ g))
    eta_c = 2.0 / lam_grad  # exact critical learning rate of GD on the quadratic
    res = critical_learning_rate(model, quad_loss, None, opt, rel_tol=0.01, guess=0.05)
    assert res.lower <= eta_c <= res.upper
    assert res.upper / res.lower - 1 <= 0.01 and res.converged
    assert res.critical_sharpness == pytest.approx(lam_grad, rel=0.01)
    assert res.critical_sharpness <= float(eigs.max())  # C2: <= lambda_max(A)


def test_adam_critical_sharpness_is_directional_sharpness_on_quadratic():
    model, _ = quadratic(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(4):
        opt.zero_grad()
        quad_loss(model, None).backward()
        opt.step()
    g = model.A @ model.x.detach()
    d, lr = update_direction(model, opt, g)
    s_dir = float(d @ model.A @ d / (d @ g))
    res = critical_learning_rate(model, quad_loss, None, opt, rel_tol=1e-3)
    assert res.lower <= 2.0 / s_dir <= res.upper
    assert res.critical_sharpness == pytest.approx(s_dir, rel=1e-3)
    assert lr == 0.01


@pytest.mark.parametrize("make", [
    lambda ps: torch.optim.Adam(ps, lr=0.01),
    lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
    lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.3),
])
@pytest.mark.parametrize("steps", [0, 3])
def test_update_direction_is_the_real_next_step(make, steps):
    model, data = mlp_problem()
    opt = make(model.parameters())
    for _ in range(steps):
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    layout = parameter_layout(model)
    opt.zero_grad()
    loss = mse(model, data)
    loss.backward()
    g = torch.cat([p.grad.reshape(-1) for p in layout.params])
    theta = torch.cat([p.detach().reshape(-1) for p in layout.params])
    d, lr = update_direction(model, opt, g)
    opt.step()
    theta_new = torch.cat([p.detach().reshape(-1) for p in layout.params])
    assert torch.allclose(theta_new, theta - lr * d, rtol=0, atol=1e-14)


def _snapshot(model, opt):
    params = [p.detach().clone() for p in model.parameters()]
    state = copy.deepcopy(opt.state_dict())
    return params, state


def _same_state(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD])
def test_parameters_and_optimizer_state_restored_exactly(cls):
    model, data = mlp_problem(seed=2)
    kw = {"momentum": 0.9} if cls is torch.optim.SGD else {}
    opt = cls(model.parameters(), lr=0.02, **kw)
    for _ in range(3):
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    grads = [p.grad.clone() for p in model.parameters()]
    params, state = _snapshot(model, opt)
    rng = torch.get_rng_state()
    res = critical_learning_rate(model, mse, data, opt)
    assert res.n_forward > 0
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters()))
    assert _same_state(state, opt.state_dict())
    assert all(torch.equal(a, p.grad) for a, p in zip(grads, model.parameters()))
    assert torch.equal(rng, torch.get_rng_state())


def test_warm_start_needs_at_most_8_forward_passes():
    model, data = mlp_problem(seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    guess = None
    counts, uphill = [], 0
    for step in range(12):
        res = critical_learning_rate(model, mse, data, opt, rel_tol=0.01, guess=guess)
        if not res.descent:  # momentum pointed the update uphill: eta_c = 0, no search
            assert res.critical_sharpness == math.inf and res.n_forward == 0
            uphill += 1
        else:
            if guess is not None:
                counts.append(res.n_forward)
            guess = res.estimate
            assert res.converged and res.upper / res.lower - 1 <= 0.01
        opt.zero_grad()
        mse(model, data).backward()
        opt.step()
    assert max(counts) <= 8 and len(counts) >= 8 and uphill >= 1


def test_relative_critical_sharpness_on_two_quadratics():
    """C4: L2 = (x - b)^T B (x - b)/2 along the GD update g = A x of L1 = x^T A x/2:
    L2(x - eta g) - L2(x) = -eta g2.g + eta^2/2 g^T B g, so eta_c = 2 g2.g / g^T B g when
    g2.g > 0, and the update raises L2 at every step (bracket lower = 0) when g2.g < 0."""
    model, _ = quadratic(seed=4)
    n = model.x.numel()
    B = torch.diag(torch.linspace(1.0, 3.0, n, dtype=torch.float64))
    x = model.x.detach()
    g = model.A @ x  # GD update of the first loss
    for sign in (+1, -1):
        b = x - sign * torch.linalg.solve(B, g)  # g2 = B (x - b) = sign * g

        def other(m, data, b=b):
            r = m.x - b
            return 0.5 * r @ (B @ r)

        res = relative_critical_sharpness(model, quad_loss, None, None, other, None, rel_tol=1e-3, guess=0.1)
        if sign > 0:
            expect = 2 * float(g @ g) / float(g @ B @ g)
            assert res.lower <= expect <= res.upper and res.converged
            assert res.critical_sharpness == pytest.approx(2 / expect, rel=1e-3)
            assert res.n_forward <= 20
        else:
            assert res.lower == res.upper == 0.0 and not res.descent and res.critical_sharpness == math.inf
            assert res.n_forward == 1
    assert torch.equal(model.x.detach(), x)


def test_bad_input():
    model, data = mlp_problem()
    with pytest.raises(ValueError, match="rel_tol"):
        critical_learning_rate(model, mse, data, None, rel_tol=0)
    with pytest.raises(ValueError, match="guess"):
        critical_learning_rate(model, mse, data, None, guess=-1.0)
    with pytest.raises(ValueError, match="not supported"):
        critical_learning_rate(model, mse, data, torch.optim.RMSprop(model.parameters()))
    with pytest.raises(ValueError, match="allowed: a scalar"):
        critical_learning_rate(model, lambda m, d: m(d[0]), data, None)
    x, y = data
    with pytest.raises(ValueError, match="loss is not finite"):
        critical_learning_rate(model, mse, (x, y * math.inf), None)
