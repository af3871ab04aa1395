"""The trajectory runner: the numbers the theory predicts, and the divergence/underflow conventions.

* math.md D5: in Adam's linear-convergence regime on x^k/k (eps = 0, no bias correction) the
  slope of ln L per step is k ln(b2) / (2(k-2)); measured over 1e5 steps for k = 4, 6, 8 while
  the loss falls thousands of decades below 1e-308 (log coordinates).
* math.md D13: past float64 the log10 columns (log10_v, log10_eff_lr, log10_abs_grad, log10_abs_m) keep
  the fixed-point rates (v decays by b2 per step, eff_lr grows by b2^{-1/2}) while the plain columns
  read 0.0 / inf; Eq. 7 curvature settles on its D2 value.
* math.md E1: GD on S x^2/2 converges iff S eta < 2 (loss ratio (1 - S eta)^2 per step), and on
  x^T A x/2 iff eta < 2/lambda_max(A); math.md A2: heavy ball iff lambda < (2/eta)(1+b)/(1-b).
* precond_curvature (Eq. 7, A3) and directional curvature (Eq. 8, A6) against a dense numpy
  computation from an independent numpy Adam loop (lambda_max of the non-symmetric D H).
* divergence: truncated Dataset, flag on the last row, no NaN; eps = 0 guards (0/0 and m/0);
  underflow in plain coordinates is reported.
"""
import math

import numpy as np
import pytest

from dynsys.objectives import llas, power, powerlaw_fit, quadratic
from dynsys.optimizers import adam, adamw, gd, momentum, rmsprop
from dynsys.simulate import trajectory

LOG_DBL_MAX = math.log(np.finfo(float).max)


@pytest.mark.parametrize("k", [4, 6, 8])
def test_adam_loss_slope_matches_theory_over_1e5_steps(k):
    """math.md D5 / Thm 4.1 iii: d ln L / dt = k ln(b2) / (2(k-2)) (regime I: b1 < b2^{k/(2(k-2))})."""
    b1, b2 = 0.5, 0.9
    ds = trajectory(adam(1e-2, b1, b2, eps=0.0, bias_correction=False), power(k), 1.0, 100_000, record_every=100)
    assert ds.attrs["diverged"] == 0 and not ds.diverged.any()
    ln_loss = ds.log10_loss.values * math.log(10)
    steps = ds.step.values
    assert ln_loss[-1] / math.log(10) < -3000  # thousands of decades below the float64 range
    half = len(steps) // 2
    slope = np.polyfit(steps[half:], ln_loss[half:], 1)[0]
    predicted = k * math.log(b2) / (2 * (k - 2))
    assert slope == pytest.approx(predicted, rel=1e-8)
    # the loss itself is stored as 0 once it underflows, but log10_loss stays finite and exact
    assert np.all(np.isfinite(ds.log10_loss.values))


@pytest.mark.parametrize("k", [4, 6])
def test_log10_columns_follow_decoupled_rates_D13(k):
    """Past float64 the plain v, eff_lr columns read 0.0 / inf; the log10 columns keep the theory's rates.

    math.md D13 at the D2 fixed point: g_{t+1}/g_t -> b2^{(k-1)/(2(k-2))}, C = v/g^2 grows by
    b2^{-1/(k-2)}, so v_{t+1}/v_t -> b2 (v decays freely, decoupled from g^2) and eff_lr = eta/sqrt(v)
    grows by b2^{-1/2} per step; m tracks g (u -> u*). The preconditioned curvature (Eq. 7) settles on
    eta Hhat* = (k-1)(1-rho)(1-b1/rho^{k-1})/(1+b1), rho = b2^{1/(2(k-2))} (D2: u* w* = 1 - rho).
    """
    eta, b1, b2 = 1e-2, 0.5, 0.9
    ds = trajectory(adam(eta, b1, b2, eps=0.0, bias_correction=False), power(k), 1.0, 100_000, record_every=100)
    assert ds.attrs["diverged"] == 0
    t = ds.step.values
    half = len(t) // 2
    lb = math.log10(b2)
    predicted = {"log10_v": lb, "log10_eff_lr": -lb / 2, "log10_abs_grad": (k - 1) / (2 * (k - 2)) * lb,
                 "log10_abs_m": (k - 1) / (2 * (k - 2)) * lb, "log10_loss": k / (2 * (k - 2)) * lb}
    for name, slope in predicted.items():
        col = ds[name].values
        assert np.all(np.isfinite(col)), name
        assert np.polyfit(t[half:], col[half:], 1)[0] == pytest.approx(slope, rel=1e-9), name
    last = ds.isel(step=-1)
    # the values are far outside float64: the plain columns cannot hold them, the logs do
    assert float(last.log10_v) < -4000 and float(last.v) == 0.0
    assert float(last.log10_eff_lr) > 2000 and float(last.eff_lr) == np.inf
    # where the plain columns are representable they agree with the logs
    ok = (ds.v.values > np.finfo(float).tiny) & np.isfinite(ds.eff_lr.values)  # normal floats
    assert ok.sum() > 10
    np.testing.assert_allclose(ds.log10_v.values[ok], np.log10(ds.v.values[ok]), rtol=1e-12)
    np.testing.assert_allclose(ds.log10_eff_lr.values[ok], np.log10(ds.eff_lr.values[ok]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.log10_abs_m.values[ok], np.log10(np.abs(ds.m.values[ok])), rtol=1e-12)
    rho = b2 ** (1 / (2 * (k - 2)))
    prec_star = (k - 1) * (1 - rho) * (1 - b1 / rho ** (k - 1)) / (1 + b1) / eta
    assert float(last.precond_curvature) == pytest.approx(prec_star, rel=1e-9)


@pytest.mark.parametrize("opt", [adam(1e-2, 0.9, 0.99, eps=1e-12), adamw(1e-2, 0.9, 0.99, 1e-10, weight_decay=0.3,
                                                                       lr_decay=0.999),
                                 rmsprop(1e-3, 0.9, 1e-8), momentum(0.1, 0.9), gd(0.1, lr_decay=1.0001),
                                 adam(1e-2, 0.5, 0.9, 0.0, bias_correction=False)],
                         ids=["adam", "adamw", "rmsprop", "momentum", "gd-schedule", "adam-paper"])
@pytest.mark.parametrize("k", [2, 4, 8])
def test_log_and_plain_coordinates_agree_bit_for_bit_while_representable(opt, k):
    """Mantissa/exponent coordinates round exactly as plain float64 (scaling by 2^n is exact)."""
    a = trajectory(opt, power(k), 0.8, 1500, log_space=True)
    b = trajectory(opt, power(k), 0.8, 1500, log_space=False)
    assert a.attrs["log_space"] == 1 and b.attrs["log_space"] == 0
    assert a.attrs["diverged"] == b.attrs["diverged"] == 0
    for name in ("x", "loss", "grad", "m", "v"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in ("eff_lr", "precond_curvature", "directional_curvature"):  # these pass through logs
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-12, err_msg=name)


def test_plain_coordinates_report_underflow_log_coordinates_do_not():
    """Adam on x^4/4 with b2 = 0.1, eps = 0: the loss falls by b2 per step and underflows within a few hundred steps."""
    opt = adam(1e-2, 0.0, 0.1, eps=0.0, bias_correction=False)
    plain = trajectory(opt, power(4), 1.0, 5000, log_space=False)
    assert plain.attrs["diverged"] == 1 and "underflow" in plain.attrs["reason"]
    assert plain.attrs["diverged_step"] < 500
    logs = trajectory(opt, power(4), 1.0, 5000)
    assert logs.attrs["diverged"] == 0
    assert logs.log10_loss.values[-1] < -4000


def test_two_cycle_below_period_doubling_boundary_D2():
    """math.md D2/D4: with b1 = 0, b2 = 0.01 < ((k-2)/k)^{2(k-2)} = 1/16 (k = 4) the converging point is
    unstable by Eq. 9 and the orbit settles on the exact 2-cycle x -> -x, |x| = eta (1-b1)/(2(1+b1))."""
    eta = 1e-2
    ds = trajectory(adam(eta, 0.0, 0.01, eps=0.0, bias_correction=False), power(4), 1.0, 5000, record_every=1)
    x = ds.x.values[-100:, 0]
    np.testing.assert_allclose(np.abs(x), eta / 2, rtol=1e-9)
    assert np.all(np.sign(x[1:]) == -np.sign(x[:-1]))


def test_eps_zero_zero_by_zero_is_reported():
    """A coordinate with g = 0 forever has m = v = 0: with eps = 0 the update is 0/0 (PyTorch gives NaN)."""
    ds = trajectory(adam(1e-2, eps=0.0), quadratic([1.0, 0.0]), [1.0, 1.0], 100)
    assert ds.attrs["diverged"] == 1 and ds.attrs["diverged_step"] == 0
    assert "0/0" in ds.attrs["reason"]
    assert ds.diverged.values.tolist() == [True]
    assert not np.isnan(ds.to_array().values.astype(float)).any()


def test_eps_zero_v_underflow_with_nonzero_m_is_reported():
    """g^2 underflows to 0 while g does not (|g| ~ 1e-200): v = 0, m != 0, eps = 0 -> m/0."""
    ds = trajectory(adam(1e-2, 0.9, 0.5, eps=0.0), quadratic([1.0]), 1e-200, 100)
    assert ds.attrs["diverged"] == 1 and "division by zero" in ds.attrs["reason"]
    assert ds.eff_lr.values[-1] == np.inf


@pytest.mark.parametrize("S", [0.5, 3.0, 40.0])
def test_gd_quadratic_threshold_E1(S):
    """GD on S x^2/2: x_{t+1} = (1 - S eta) x_t; converges iff S eta < 2, diverges beyond."""
    for factor, converges in ((0.99, True), (1.01, False)):
        eta = factor * 2 / S
        ds = trajectory(gd(eta), quadratic([S]), 1.0, 200_000, record_every=1)
        r = abs(1 - S * eta)
        if converges:
            assert ds.attrs["diverged"] == 0
            ratio = ds.loss.values[1:50] / ds.loss.values[:49]
            np.testing.assert_allclose(ratio, r ** 2, rtol=1e-12)
        else:
            assert ds.attrs["diverged"] == 1 and "overflow" in ds.attrs["reason"]
            # first t with S x_t^2 = S r^{2t} above DBL_MAX (the loss is x (S x) / 2)
            t_pred = math.ceil((LOG_DBL_MAX - math.log(S)) / (2 * math.log(r)))
            assert abs(ds.attrs["diverged_step"] - t_pred) <= 1
        np.testing.assert_allclose(ds.precond_curvature.values, S)  # GD: lambda_max(H)


def test_gd_dense_quadratic_threshold_E1():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    A = Q @ np.diag([5.0, 2.0, 1.0, 0.1]) @ Q.T
    A = (A + A.T) / 2
    lmax = np.linalg.eigvalsh(A)[-1]
    ok = trajectory(gd(0.98 * 2 / lmax), quadratic(A), np.ones(4), 20_000, record_every=100)
    bad = trajectory(gd(1.02 * 2 / lmax), quadratic(A), np.ones(4), 20_000, record_every=100)
    assert ok.attrs["diverged"] == 0 and ok.log10_loss.values[-1] < -20
    assert bad.attrs["diverged"] == 1
    np.testing.assert_allclose(ok.precond_curvature.values, lmax, rtol=1e-12)


def test_momentum_threshold_A2():
    """Heavy ball (EMA form) on lambda x^2/2 converges iff lambda < (2/eta)(1+b)/(1-b)."""
    eta, b = 0.1, 0.8
    lam_c = (2 / eta) * (1 + b) / (1 - b)
    ok = trajectory(momentum(eta, b), quadratic([0.98 * lam_c]), 1.0, 50_000, record_every=50)
    bad = trajectory(momentum(eta, b), quadratic([1.02 * lam_c]), 1.0, 50_000, record_every=50)
    assert ok.attrs["diverged"] == 0 and ok.log10_loss.values[-1] < ok.log10_loss.values[0] - 10
    assert bad.attrs["diverged"] == 1
    # precond_curvature = (1-b)/(1+b) lambda is compared with 2/eta: the threshold is the same
    assert ok.precond_curvature.values[0] < 2 / eta < bad.precond_curvature.values[0]


@pytest.mark.parametrize("opt", [adam(0.05, 0.9, 0.99, 1e-8), adamw(0.05, 0.8, 0.95, 1e-6, weight_decay=0.1),
                                 rmsprop(0.02, 0.9, 1e-8), adam(0.05, 0.9, 0.99, 0.0, bias_correction=False)],
                         ids=["adam", "adamw", "rmsprop", "adam-nobc"])
def test_precond_and_directional_curvature_against_dense_numpy(opt):
    rng = np.random.default_rng(11)
    B = rng.normal(size=(3, 3))
    A = B @ B.T + 0.5 * np.eye(3)
    x0 = np.array([1.0, -0.5, 0.25])
    steps = 60
    ds = trajectory(opt, quadratic(A), x0, steps)
    x, m, v = x0.copy(), np.zeros(3), np.zeros(3)
    b1, b2 = opt.beta1, opt.beta2
    for t in range(steps + 1):
        g = A @ x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1 = 1 - b1 ** (t + 1) if opt.bias_correction else 1.0
        bc2 = 1 - b2 ** (t + 1) if opt.bias_correction else 1.0
        den = np.sqrt(v / bc2) + opt.eps
        Hhat = (1 / bc1) * (1 - b1) / (1 + b1) * np.diag(1 / den) @ A  # Eq. 7, non-symmetric
        lam = np.max(np.linalg.eigvals(Hhat).real)
        row = ds.isel(step=t)
        np.testing.assert_allclose(row.x.values, x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(row.precond_curvature.values, lam, rtol=1e-9)
        np.testing.assert_allclose(row.directional_curvature.values, g @ A @ g / (g @ g), rtol=1e-12)
        np.testing.assert_allclose(row.eff_lr.values, np.max(opt.lr / den), rtol=1e-12)
        np.testing.assert_allclose(row.grad.values, np.linalg.norm(g), rtol=1e-12)
        np.testing.assert_allclose(row.v.values, np.linalg.norm(v), rtol=1e-12)
        x = x * (1 - opt.lr * opt.weight_decay) - opt.lr * (m / bc1) / den


def test_adam_scalar_precond_curvature_is_eq7():
    """d = 1: precond = 1/(1-b1^{t+1}) (1-b1)/(1+b1) L''(x)/(sqrt(vhat)+eps), with L'' = (k-1) x^{k-2}."""
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-3
    ds = trajectory(adam(lr, b1, b2, eps), power(4), 1.2, 50)
    t = ds.step.values
    x = ds.x.values[:, 0]
    den = np.sqrt(ds.v.values / (1 - b2 ** (t + 1))) + eps
    expected = (1 - b1) / (1 + b1) / (1 - b1 ** (t + 1)) * 3 * x ** 2 / den
    np.testing.assert_allclose(ds.precond_curvature.values, expected, rtol=1e-12)
    np.testing.assert_allclose(ds.eff_lr.values, lr / den, rtol=1e-12)


@pytest.mark.parametrize("case", [
    (gd(5e-3), llas(), [0.5, 1e-5]),                       # second LLAS spike throws x below -4
    (gd(1.0), power(4), 3.0),                              # x - x^3: |x| explodes (log space)
    (momentum(1.0, 0.5), quadratic([9.0]), 1.0),           # beyond A2's threshold
    (adam(1e-2, lr_decay=1.5), quadratic([1.0, 2.0]), [1.0, 1.0]),  # eta_t overflows
], ids=["llas-gd", "power-gd", "momentum", "adam-lr-decay"])
def test_divergence_truncates_and_stores_no_nan(case):
    opt, obj, x0 = case
    ds = trajectory(opt, obj, x0, 10_000)
    assert ds.attrs["diverged"] == 1
    n = ds.sizes["step"]
    assert ds.step.values[-1] == ds.attrs["diverged_step"] < 10_000
    assert ds.diverged.values[-1] and not ds.diverged.values[:-1].any()
    assert n == ds.attrs["diverged_step"] + 1
    for name, var in ds.data_vars.items():
        assert not np.isnan(var.values.astype(float)).any(), name
        before = var.values[:-1]
        if name.startswith("log10_"):  # -inf is log10 of an exact 0 (v of gd/momentum)
            assert not np.any(before == np.inf), name
        elif name != "diverged":
            assert np.all(np.isfinite(before)), name


def test_record_every_keeps_rows_and_last_step():
    opt = adam(1e-2, 0.9, 0.99, 1e-8)
    full = trajectory(opt, power(4), 1.0, 1003)
    sub = trajectory(opt, power(4), 1.0, 1003, record_every=10)
    assert sub.step.values.tolist() == list(range(0, 1001, 10)) + [1003]
    np.testing.assert_array_equal(sub.log10_loss.values, full.log10_loss.sel(step=sub.step).values)


def test_attrs_hold_every_setting():
    ds = trajectory(adamw(1e-3, 0.8, 0.95, 1e-7, weight_decay=0.2, lr_decay=0.999), quadratic([1.0, 2.0]),
                    [1.0, 2.0], 10)
    a = ds.attrs
    assert (a["optimizer"], a["lr"], a["beta1"], a["beta2"], a["eps"], a["weight_decay"], a["lr_decay"]) == (
        "adamw", 1e-3, 0.8, 0.95, 1e-7, 0.2, 0.999)
    assert a["bias_correction"] == 1 and a["objective"] == "quadratic" and a["steps"] == 10
    np.testing.assert_array_equal(a["x0"], [1.0, 2.0])
    assert a["diverged"] == 0 and a["diverged_step"] == -1 and a["reason"] == ""
    assert "dynsys_version" in a
    assert ds.x.dims == ("step", "dim") and ds.sizes["dim"] == 2


def test_llas_gd_spike_when_sharpness_exceeds_2_over_eta():
    """math.md F1: GD eta = 5e-3 from (0.5, 1e-5): sharpness 100x + 400 = 450 > 2/eta = 400, so y grows by
    |1 - eta (100x + 400)| per step until the loss spikes; the spike throws x back to where the sharpness
    is below 2/eta and the loss falls again."""
    eta = 5e-3
    ds = trajectory(gd(eta), llas(), [0.5, 1e-5], 120)
    L, S, y = ds.loss.values, ds.precond_curvature.values, ds.x.values[:, 1]
    assert S[0] == pytest.approx(450.0, rel=1e-9) and S[0] > 2 / eta
    growth = np.abs(y[1:6] / y[:5])
    np.testing.assert_allclose(growth, np.abs(1 - eta * (100 * ds.x.values[:5, 0] + 400)), rtol=1e-6)
    peak = int(np.argmax(L))
    assert L[peak] > 2 * L[0]
    assert S[-1] < 2 / eta and L[-1] < L[peak] / 2


def test_powerlaw_fit_runs_with_gd_and_converges_below_edge():
    obj = powerlaw_fit()
    ds = trajectory(gd(10.0), obj, [0.0, -0.8], 2000, record_every=10)
    assert ds.attrs["diverged"] == 0
    assert ds.loss.values[-1] < ds.loss.values[0] / 100
    assert np.all(ds.precond_curvature.values < 2 / 10.0)
