"""Phase diagrams (dynsys.scan.phase_diagram) against the theory of math.md D4, D12, D13 and
against direct trajectories (dynsys.simulate.trajectory) of the same cells."""
import math
import tracemalloc

import numpy as np
import pytest

from dynsys import objectives as J
from dynsys import optimizers as O
from dynsys import regimes as R
from dynsys import simulate
from dynsys.scan import phase_diagram
from dynsys.scan.lanes import BLOCK, SPAN

VARS = ("min_loss", "final_loss", "n_spikes", "coupling_ratio", "diverged", "regime", "predicted_regime")
LR = 0.01


@pytest.fixture(scope="module")
def k4():
    # 48 x 40 cells: no cell centre lies exactly on b1 = b2 (the marginal I/II line for k = 4)
    return phase_diagram("adam", "power", k=4, x="beta1:0:1:48", y="beta2:0:1:40", lr=LR, steps=3000,
                         progress=False, chunk=500)


def _boundary_checks(ds, k, *, iii_margin):
    b1 = ds.beta1.values[None, :]
    b2 = ds.beta2.values[:, None]
    reg = ds.regime.values
    width = b1[0, 1] - b1[0, 0]
    i_ii = R.stability_boundary_beta1(b2, k)  # Eq. 8: b1 = b2^{k/(2(k-2))}
    ii_iii = R.existence_boundary_beta1(b2, k)  # b1 = b2^{(k-1)/(2(k-2))}
    rows = b2 > R.period_doubling_beta2_max(k)  # Eq. 9 cannot bind there (D4)
    below = rows & (b1 < i_ii)
    above = rows & (b1 > i_ii + width)
    # the I/II boundary is sharp: converging on one side, never converging one cell beyond
    assert below.sum() > 100 and np.all(reg[below] == R.CONVERGING)
    assert above.sum() > 100 and np.all(reg[above] != R.CONVERGING)
    # well beyond the II/III (existence) boundary: SignGD-like oscillation, regime III
    far = rows & (b1 > ii_iii + iii_margin)
    assert far.sum() > 50 and np.all(reg[far] == R.OSCILLATING)
    return below, above


def test_k4_regimes_match_thm61_on_either_side_of_the_boundaries(k4):
    ds = k4
    _boundary_checks(ds, 4, iii_margin=0.1)
    # predicted labels are those of Thm 6.1 for every cell
    b1, b2 = np.meshgrid(ds.beta1.values, ds.beta2.values)
    np.testing.assert_array_equal(ds.predicted_regime.values, R.predicted_regime(b1, b2, 4))
    # agreement attr: fraction of cells whose observed label equals the prediction (measured 0.93)
    agree = float(np.mean(ds.regime.values == ds.predicted_regime.values))
    assert ds.attrs["agreement"] == pytest.approx(agree, abs=0)
    assert ds.attrs["agreement"] >= 0.90
    assert ds.attrs["agreement_regime1"] >= 0.99  # a stable fixed point always converges
    assert not ds.diverged.values.any()


def _sample_times(steps, window):
    """Steps at which the kernel samples C = v/g^2: the last step t1 - 1 of every BLOCK-step window
    with t1 >= steps - ceil(window steps) (dynsys.scan.lanes)."""
    start = steps - max(1, math.ceil(window * steps))
    ends = [min(t1, steps) for t1 in range(BLOCK, steps + BLOCK, BLOCK)]
    return np.array([t1 - 1 for t1 in ends if t1 >= start], dtype=float)


@pytest.mark.parametrize("k", [4, 6])
def test_regime_one_rates_of_d5_and_d13(k):
    """Inside regime I (stable fixed point, math.md D4): the loss falls like b2^{k t/(2(k-2))} (D5)
    and the coupling ratio C = v/g^2 grows like b2^{-t/(k-2)} (D13), measured as the change of
    final_loss and coupling_ratio between runs of 2048 and 4096 steps."""
    kw = dict(k=k, x="beta1:0.0:0.3:3", y="beta2:0.6:0.95:4", lr=LR, progress=False, coupling_window=0.1)
    a = phase_diagram("adam", steps=2048, **kw)
    b = phase_diagram("adam", steps=4096, **kw)
    assert np.all(a.regime.values == 1) and np.all(b.regime.values == 1)
    lb2 = np.broadcast_to(np.log10(a.beta2.values)[:, None], (4, 3))
    np.testing.assert_allclose((b.final_loss - a.final_loss).values, 2048 * k / (2 * (k - 2)) * lb2, rtol=1e-3)
    dt = _sample_times(4096, 0.1).mean() - _sample_times(2048, 0.1).mean()
    np.testing.assert_allclose((b.coupling_ratio - a.coupling_ratio).values, -dt * lb2 / (k - 2), rtol=1e-3)


# ----------------------------------------------------------------------------- direct runs

def _direct(opt, steps, *, k=4, x0=1.0, spike_factor=100.0, window=0.1):
    """The per-cell statistics recomputed from a recorded trajectory of the same cell."""
    tr = simulate.trajectory(opt, J.power(k), x0, steps)
    ll = tr.log10_loss.values
    diverged = bool(tr.attrs["diverged"])
    out = {"diverged": diverged}
    if diverged:
        return out, tr
    lx = tr.log10_abs_x.values
    up = math.log10(spike_factor) / k
    rmin, inside, peak, n = lx[0], False, -np.inf, 0
    for a in lx:
        rmin = min(rmin, a)
        if inside:
            peak = max(peak, a)
            if a + up < peak:
                n, inside = n + 1, False
        elif a > rmin + up:
            inside, peak = True, a
    samples = _sample_times(steps, window).astype(int)
    coupling = np.mean(tr.log10_v.values[samples] - 2 * tr.log10_abs_grad.values[samples]) if opt.adaptive else np.nan
    out.update(min_loss=ll.min(), final_loss=ll[-1], min_step=int(np.argmin(ll)), n_spikes=n, coupling_ratio=coupling)
    return out, tr


@pytest.mark.parametrize("b1, b2, steps, regime", [
    (0.05, 0.3, 3000, 1), (0.4, 0.8, 3000, 1), (0.85, 0.95, 2000, 1),  # regime I
    (0.91, 0.9, 1200, 2),  # regime II: linear convergence to 1e-50, then spikes (before chaos sets in)
])
def test_cell_statistics_equal_a_direct_trajectory(b1, b2, steps, regime):
    ds = phase_diagram("adam", k=4, x=("beta1", b1 - 1e-3, b1 + 1e-3, 1), y=("beta2", b2 - 1e-3, b2 + 1e-3, 1), lr=LR,
                       steps=steps, progress=False)
    cell = ds.isel(beta1=0, beta2=0)
    d, _ = _direct(O.adam(LR, float(ds.beta1[0]), float(ds.beta2[0]), eps=0.0, bias_correction=False), steps)
    assert int(cell.regime) == regime
    assert int(cell.min_step) == d["min_step"]
    assert int(cell.n_spikes) == d["n_spikes"]
    assert (int(cell.n_spikes) > 0) == (regime == 2)
    assert not bool(cell.diverged)
    for key in ("min_loss", "final_loss", "coupling_ratio"):
        assert float(cell[key]) == pytest.approx(d[key], rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("b, steps, beyond, same_transient", [
    (6.5 / 256, 1000, False, True), (0.0225, 1500, True, True), (8.5 / 256, 2000, True, False)])
def test_giant_spike_beyond_the_span_range_is_followed(b, steps, beyond, same_transient):
    """b1 = b2 = 6.5/256 (k = 4): Adam converges to a loss near 1e-486, then jumps within a few
    steps to the period-2 orbit |x| = lr (1 - b1) / (2 (1 + b1)) (loss near 1e-10): |x| grows by
    2^150+ inside one span, so v = O(g^2) leaves float64 in the span's units. Such a cell is run
    again with its units renewed after every step (status 8 of the first run), and a step that still
    leaves float64 in those units (``beyond``: |x| grows by more than 2^(1023 / (2 (k - 1))) = 2^170.5
    in one step, measured on the independent log-space trajectory) is redone in fresh units with the
    powers of two as integers (``_wide_step``). b1 = b2 = 0.0225 jumps from a loss near 1e-2079 by
    2^357 and then 2^1074 in single steps (status 8 before 2026-12-06); b1 = b2 = 8.5/256 from 1e-779
    (reported as a state overflow, i.e. diverged, before). Every one is followed to the end:
    status 0, its final loss the 2-cycle's (theory, and the log-space trajectory, to 1e-12), its
    minimum the trajectory's, regime II (a spike after convergence), and where the chaotic
    transient between the jump and the 2-cycle is the same in both float64 computations
    (``same_transient``; on the marginal line b1 = b2 it need not be) its spikes and coupling ratio.
    Scalar reference and lane kernel agree bit for bit."""
    from dynsys.kernels.status import OK

    d = 2.0 ** -10
    kw = dict(k=4, x=("beta1", b - d, b + d, 1), y=("beta2", b - d, b + d, 1), lr=LR, steps=steps, progress=False)
    ds = phase_diagram("adam", **kw)
    ref = phase_diagram("adam", reference=True, **kw)
    for v in ds.data_vars:
        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=v)
    cell = ds.isel(beta1=0, beta2=0)
    b1, b2 = float(cell.beta1), float(cell.beta2)
    assert abs(b1 - b) < 1e-15 and abs(b2 - b) < 1e-15
    direct, tr = _direct(O.adam(LR, b1, b2, eps=0.0, bias_correction=False), steps)
    ll = tr.log10_loss.values
    rise = np.diff(ll)
    jump = int(np.argmax(np.isfinite(rise) & (rise > 100)))  # the giant spike: > 100 decades in one step
    assert rise[jump] > 100 and not tr.attrs["diverged"]
    growth = np.where(np.isfinite(rise), rise / (4 * np.log10(2.0)), 0.0)  # log2 |x_{t+1} / x_t|
    limit = 1023 / (2 * (4 - 1))
    assert (growth.max() > limit) == beyond
    assert int(cell.status) == OK and int(cell.fail_step) == -1 and not bool(cell.diverged)
    assert int(cell.regime) == R.SPIKING
    assert int(cell.min_step) == int(np.argmin(np.where(np.isfinite(ll[: jump + 1]), ll[: jump + 1], np.inf)))
    # on b1 = b2 the fixed point is marginal (|det J| = 1): rounding differences between the scan's
    # scaled coordinates and the trajectory's log space do not decay during the convergence (after
    # 400 steps they are below 1e-9, after 600+ steps a few percent in |x| at the deepest point before
    # the jump); on the stable 2-cycle they do
    tol = dict(rel=1e-9) if steps <= 1000 else dict(abs=4 * np.log10(1.1))  # |x| within 10 %
    assert float(cell.min_loss) == pytest.approx(np.nanmin(ll[: jump + 1]), **tol)
    two_cycle = np.log10((LR * (1 - b) / (2 * (1 + b))) ** 4 / 4)
    assert ll[-1] == pytest.approx(two_cycle, abs=1e-12)
    assert float(cell.final_loss) == pytest.approx(two_cycle, abs=1e-12)
    assert int(cell.n_spikes) > 0
    if same_transient:
        assert int(cell.n_spikes) == direct["n_spikes"]
        assert float(cell.coupling_ratio) == pytest.approx(direct["coupling_ratio"], abs=1e-9)


def _adam_log10_losses_mpmath(k, b1, b2, lr, x0, steps, digits):
    """log10 of c x_t^k / k (c = 1) for t = 0..steps of Adam (eps = 0, no bias correction, PyTorch
    order) on x^k/k in ``digits``-digit mpmath arithmetic (no exponent range limit)."""
    import mpmath as mp

    with mp.workdps(digits):
        x, m, v = mp.mpf(x0), mp.mpf(0), mp.mpf(0)
        B1, B2, eta = mp.mpf(b1), mp.mpf(b2), mp.mpf(lr)
        logs = []
        for _ in range(steps + 1):
            logs.append(float(mp.log10(x ** k / k)) if x != 0 else -math.inf)
            g = x ** (k - 1)
            m = B1 * m + (1 - B1) * g
            v = B2 * v + (1 - B2) * g * g
            x = x - eta * m / mp.sqrt(v)
    return logs


@pytest.mark.parametrize("lr", [10 ** 58.5, 10 ** 69.68])
def test_cells_whose_gradient_square_leaves_float64_follow_a_high_precision_run(lr):
    """Adam (b1 = 0.9, b2 = 0.999, eps = 0) at lr 3e58 and 5e69 on x^4/4: |x| settles near lr, so
    g^2 = x^6 ~ 1e350 and 1e418 leave float64 while the loss ~ lr^4 (1e228, 1e273) does not. The
    scan follows such a cell (units renewed every step, a step that still leaves float64 redone in
    fresh units: status 8 before 2026-12-06) and gets the loss of a 100-digit mpmath run of the same
    500 steps to 1e-12; at lr 7e80 the loss passes 1e301 and the cell is diverged."""
    from dynsys.kernels.status import OK

    steps, x0 = 500, -0.8
    kw = dict(k=4, x=("lr", lr * 0.999, lr * 1.001, 1), y=("x0", x0 - 0.01, x0 + 0.01, 1), eps=0.0, steps=steps,
              progress=False)
    ds = phase_diagram("adam", **kw)
    ref = phase_diagram("adam", reference=True, **kw)
    for v in ds.data_vars:
        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=v)
    cell = ds.isel(lr=0, x0=0)
    # 100 digits: one x_t returns to x0 = -0.8 between terms ~ lr = 1e69 (40 digits would give x_t = 0)
    logs = _adam_log10_losses_mpmath(4, 0.9, 0.999, float(cell.lr), float(cell.x0), steps, digits=100)
    final = logs.pop()
    assert 2 * 6 * np.log10(lr) > 308 > final  # g^2 beyond float64, the loss within it
    assert int(cell.status) == OK and not bool(cell.diverged)
    assert float(cell.final_loss) == pytest.approx(final, rel=1e-12)
    assert float(cell.min_loss) == pytest.approx(min(logs), rel=1e-12)
    big = phase_diagram("adam", **{**kw, "x": ("lr", 7.3e80 * 0.999, 7.3e80 * 1.001, 1)}).isel(lr=0, x0=0)
    assert bool(big.diverged)


def test_a_state_overflow_of_the_first_run_that_is_a_giant_spike_is_followed():
    """Adam, k = 6, b1 = 32.5/96, b2 = 22.5/96 (a cell of the issue-13 grid): after converging to a
    loss of 1e-496 the loss jumps to 1e-13.5 at step 1125 (|x| from 1e-79 to lr (1-b1)/sqrt(1-b2)
    in two steps). The first run reports a state overflow there (diverged: the per-span factor
    2^((k-2)ex - ev/2) overflows, not x), although Adam at lr = 0.01 cannot diverge (|x_t| <= 1 + t lr
    (1-b1)/sqrt(1-b2)). Such a cell is run again carefully and the careful run kept when it ends
    well: status 0, the final loss of a 60-digit mpmath run of the same 1140 steps to 1e-12 relative
    (x lands exactly on 0 at step 1126, a float64 cancellation the log-space trajectory shares: the
    true |x| is 1.7e-31 there, so the minimum is -inf from then on)."""
    from dynsys.kernels.status import OK, STATE_OVERFLOW
    from dynsys.scan.lanes.cell import run_cell

    k, b1, b2, lr, steps = 6, 32.5 / 96, 22.5 / 96, 0.01, 1140
    up = 100.0 ** (1 / k)
    first = run_cell(False, k, 1.0, True, False, lr, b1, b2, 0.0, 0.0, 1.0, 1.0, steps, up, steps - 114)
    assert first[7] == STATE_OVERFLOW and first[8] == 1125
    d = 2.0 ** -12
    kw = dict(k=k, x=("beta1", b1 - d, b1 + d, 1), y=("beta2", b2 - d, b2 + d, 1), lr=lr, steps=steps, progress=False)
    ds = phase_diagram("adam", **kw)
    ref = phase_diagram("adam", reference=True, **kw)
    for v in ds.data_vars:
        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=v)
    cell = ds.isel(beta1=0, beta2=0)
    assert float(cell.beta1) == b1 and float(cell.beta2) == b2
    logs = _adam_log10_losses_mpmath(k, b1, b2, lr, 1.0, steps, digits=60)
    final = logs.pop()
    assert max(logs) < 0 and logs[1125] - logs[1124] > 300  # the giant spike, far from any overflow
    assert int(cell.status) == OK and not bool(cell.diverged) and int(cell.regime) == R.SPIKING
    assert float(cell.final_loss) == pytest.approx(final, rel=1e-12)
    assert int(cell.min_step) == 1126 and float(cell.min_loss) == -np.inf  # the exact 0 of float64


def test_adamw_converging_by_weight_decay_is_followed_and_diverges_exactly_past_lr_wd_2():
    """AdamW on x^4/4 (b1 = 0.9, b2 = 0.999, eps = 1e-8) over lr x weight_decay: x_{t+1} =
    (1 - lr wd) x_t - lr u_t with |u_t| bounded, so |x| grows geometrically when lr wd > 2 and stays
    bounded (here: converges) when lr wd < 2. Converging cells shrink x by |1 - lr wd| per step,
    faster than m decays (b1), so m outgrows g = x^3 by more than float64's range in the gradient's
    units: 39 of these 64 cells stopped with status 8 before 2026-12-06. Careful runs now give m its
    own units (``_momentum_units``): every cell is followed, its final and minimum loss equal to the
    log-space trajectory's to 1e-12, and the cells diverge exactly where lr wd > 2 and the growth
    |1 - lr wd|^steps carries the loss past 1e301."""
    from dynsys.kernels.status import SCAN_RANGE

    steps = 4000
    ds = phase_diagram("adamw", k=4, x="lr:0.01:1:8:log", y="weight_decay:0.5:20:8", steps=steps, eps=1e-8,
                       progress=False)
    assert not np.any(ds.status.values == SCAN_RANGE)
    lr, wd = ds.lr.values[None, :], ds.weight_decay.values[:, None]
    growth = np.log10(np.abs(1 - lr * wd))
    assert np.array_equal(ds.diverged.values, (lr * wd > 2) & (4 * steps * growth > 301))
    assert np.all((lr * wd < 2) | ds.diverged.values)  # no cell in between on this grid
    for iy, ix in zip(*np.nonzero(~ds.diverged.values)):
        cell = ds.isel(weight_decay=iy, lr=ix)
        opt = O.adamw(float(cell.lr), 0.9, 0.999, eps=1e-8, weight_decay=float(cell.weight_decay),
                      bias_correction=False)  # the scan's default
        ll = simulate.trajectory(opt, J.power(4), 1.0, steps).log10_loss.values
        assert float(cell.final_loss) == pytest.approx(ll[-1], rel=1e-12)
        assert float(cell.min_loss) == pytest.approx(ll.min(), rel=1e-12)
        assert ll[-1] < -100  # converged


def test_divergence_matches_direct_runs_gd_lr_by_x0():
    """GD on x^4/4 (eta x x0 scan): a cell diverges exactly when the direct trajectory does."""
    ds = phase_diagram("gd", k=4, x="lr:0.2:4:8", y="x0:0.5:1.5:4", steps=200, progress=False)
    assert ds.diverged.values.any() and not ds.diverged.values.all()
    for iy, x0 in enumerate(ds.x0.values):
        for ix, lr in enumerate(ds.lr.values):
            d, tr = _direct(O.gd(float(lr)), 200, x0=float(x0))
            assert bool(ds.diverged.values[iy, ix]) == d["diverged"]
            assert (ds.regime.values[iy, ix] == R.DIVERGED) == d["diverged"]
            if d["diverged"]:
                assert int(ds.fail_step.values[iy, ix]) >= int(tr.attrs["diverged_step"]) - 1
            else:
                assert float(ds.min_loss.values[iy, ix]) == pytest.approx(d["min_loss"], rel=1e-9)
    assert np.isnan(ds.coupling_ratio.values).all()  # no v for gd
    assert np.all(ds.predicted_regime.values == -1) and np.isnan(ds.attrs["agreement"])


# ----------------------------------------------------------------------------- kernels

@pytest.mark.parametrize("optimizer, kw", [
    ("adam", dict(x="beta1:0:1:13", y="beta2:0:1:11", lr=0.01, k=4)),
    ("adam", dict(x="beta1:0:1:7", y="eps:0:1e-3:5", lr=0.05, k=6, bias_correction=True)),
    ("adamw", dict(x="lr:1e-3:0.3:6:log", y="weight_decay:0:0.5:4", k=4, eps=1e-8, bias_correction=True)),
    ("momentum", dict(x="beta1:0:1:9", y="lr:0.01:2:5", k=4)),
    # k != 4: the gradient power in separate passes (adaptive without bias correction; plain)
    ("rmsprop", dict(x="beta2:0:1:9", y="lr:0.001:0.1:4:log", k=6)),
    ("gd", dict(x="lr:0.01:1:7", y="x0:-1.5:1.5:5", k=8)),
])
def test_lane_kernel_bit_identical_to_scalar_reference(optimizer, kw):
    # chunk 37: not a multiple of the 32 lanes, so padded lanes are exercised
    a = phase_diagram(optimizer, steps=700, progress=False, chunk=37, **kw)
    b = phase_diagram(optimizer, steps=700, progress=False, chunk=37, reference=True, **kw)
    for v in a.data_vars:
        assert a[v].dtype == b[v].dtype
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    assert a.attrs == b.attrs or all(a.attrs[k] == b.attrs[k] or a.attrs[k] != a.attrs[k] for k in a.attrs)


def test_lane_kernel_bit_identical_with_failures_in_fast_blocks():
    """The fast path (adaptive, no decay, no weight decay) with lanes that stop in mid-block:
    0/0 at x0 = 0 (eps = 0), state and loss overflow at huge learning rates, next to lanes that run
    to the end; the vectorized window end must hand those lanes to the general one and agree with
    the scalar reference on every output."""
    kw = dict(k=4, x="lr:1e-3:1e120:23:log", y="x0:-1:1:5", eps=0.0, steps=900, progress=False, chunk=41)
    a = phase_diagram("adam", **kw)
    b = phase_diagram("adam", reference=True, **kw)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    reasons = set(np.unique(a.status.values))
    assert len(reasons) >= 3, reasons  # ok plus at least two kinds of failure
    assert a.diverged.values.any() and not a.diverged.values.all()


def test_statistics_of_windows_finished_before_a_failure_inside_a_span():
    """Adam with b1 = b2 = 0, eps = 0 takes the exact sign step x <- x - lr sign(x); from
    x0 = n lr (lr a power of two) it reaches x = 0 exactly at step n and the next update is 0/0.
    The units are checked every SPAN = 64 steps, the window statistics every BLOCK = 32: a cell
    failing in either window of a span must keep exactly the windows it finished: sustained level
    = max |x| of its last finished window, x0 - 32 (W - 1) lr with W = n // 32 (infinite if none),
    and one coupling sample v/g^2 = 1 per finished window end at or after the coupling start."""
    from dynsys.kernels.status import ZERO_BY_ZERO

    assert SPAN == 2 * BLOCK == 64
    steps = 120
    # cell centres x0 = 0.625 i (i = 1..5), lr = 1/32, 1/16 (exact binary fractions)
    kw = dict(k=4, x="x0:0.3125:3.4375:5", y="lr:0.015625:0.078125:2", beta1=0.0, beta2=0.0, eps=0.0, steps=steps,
              coupling_window=0.75, progress=False)  # coupling start 30: every window end is sampled
    a = phase_diagram("adam", **kw)
    b = phase_diagram("adam", reference=True, **kw)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    seen_windows = set()
    for iy, lr in enumerate(a.lr.values):
        for ix, x0 in enumerate(a.x0.values):
            cell = a.isel(lr=iy, x0=ix)
            n = int(round(x0 / lr))  # 10 .. 100: failures in the first and in the second window of a span
            assert n * lr == x0
            assert int(cell.status) == ZERO_BY_ZERO and int(cell.fail_step) == n and bool(cell.diverged)
            assert int(cell.min_step) == n  # x_n = 0 exactly
            w = n // BLOCK  # windows finished before the failing one
            seen_windows.add((n % SPAN) // BLOCK)
            if w == 0:
                assert float(cell.sustained_loss) == np.inf
                assert np.isnan(float(cell.coupling_ratio))
            else:
                level = x0 - BLOCK * (w - 1) * lr
                assert float(cell.sustained_loss) == pytest.approx(np.log10(level ** 4 / 4), abs=1e-12)
                assert float(cell.coupling_ratio) == 0.0  # log10 of the geometric mean of v/g^2 = 1
    assert seen_windows == {0, 1}


def test_chunk_size_does_not_change_the_cells():
    kw = dict(k=4, x="beta1:0:1:10", y="beta2:0:1:9", lr=LR, steps=600, progress=False)
    a = phase_diagram("adam", chunk=7, **kw)
    b = phase_diagram("adam", chunk=10_000, **kw)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


# ----------------------------------------------------------------------------- Dataset

def test_dataset_layout_attrs_and_netcdf_round_trip(tmp_path):
    ds = phase_diagram("adam", k=4, x="beta1:0:1:6", y="beta2:0.5:1:5", lr=LR, steps=300, x0=0.7, progress=False)
    for v in VARS:
        assert ds[v].dims == ("beta2", "beta1")
    assert set(ds.coords) == {"beta1", "beta2"}
    np.testing.assert_allclose(ds.beta1.values, (np.arange(6) + 0.5) / 6)  # cell centres
    np.testing.assert_allclose(ds.beta2.values, 0.5 + 0.5 * (np.arange(5) + 0.5) / 5)
    a = ds.attrs
    assert (a["optimizer"], a["objective"], a["k"], a["lr"], a["steps"], a["x0"], a["eps"]) == ("adam", "power", 4, LR, 300, 0.7, 0.0)
    assert a["bias_correction"] == 0 and a["spike_factor"] == 100.0 and "agreement" in a
    assert "beta1" not in a and "beta2" not in a  # swept: coordinates, not attrs
    assert "0: diverged" in a["regime_codes"] and "3: III" in a["regime_codes"]
    path = tmp_path / "p.nc"
    ds.to_netcdf(path)
    import xarray as xr

    with xr.open_dataset(path) as back:
        back.load()
    for v in ds.data_vars:
        np.testing.assert_array_equal(back[v].values, ds[v].values, err_msg=v)
    for key, val in ds.attrs.items():
        bv = back.attrs[key]
        assert (bv == val) or (val != val and bv != bv), key


def test_other_pairs_eta_b2_and_b1_k():
    # eta x b2 (log lr axis): the fixed point's stability does not involve eta (Thm 4.1), so with
    # b1 = 0.2 every cell with b2 > 0.3 converges, whatever eta
    ds = phase_diagram("adam", k=4, x="lr:1e-3:0.1:5:log", y="beta2:0.3:0.95:6", beta1=0.2, steps=2000, progress=False)
    assert ds.regime.dims == ("beta2", "lr") and ds.attrs["beta1"] == 0.2
    np.testing.assert_allclose(ds.lr.values, np.geomspace(1e-3, 0.1, 11)[1::2])
    assert np.all(ds.regime.values == 1) and ds.attrs["agreement"] == 1.0
    # b1 x k: the I/II line b1 = b2^{k/(2(k-2))} moves right as k grows (Remark 4.2, D6)
    dk = phase_diagram("adam", x="beta1:0:1:40", y="k:4:8:3", beta2=0.5, lr=LR, steps=3000, progress=False)
    np.testing.assert_array_equal(dk.k.values, [4, 6, 8])
    for i, k in enumerate((4, 6, 8)):
        b1 = dk.beta1.values
        edge = R.stability_boundary_beta1(0.5, k)
        assert np.all(dk.regime.values[i][b1 < edge] == 1)
        assert np.all(dk.regime.values[i][b1 > edge + 0.025] != 1)
    # eta x eps: eps > 0 is outside Thm 6.1, so no prediction; small eps keeps regime I
    de = phase_diagram("adam", k=4, x="lr:0.005:0.02:3", y="eps:0:1e-12:3", beta1=0.2, beta2=0.8, steps=1500,
                       progress=False)
    assert np.all(de.predicted_regime.values == -1) and np.isnan(de.attrs["agreement"])
    assert np.all(de.regime.values == 1)


def test_memory_grows_with_the_chunk_not_the_grid():
    """Working memory beyond the result (BYTES_PER_CELL per cell) is set by the chunk."""
    from dynsys.scan.phase import BYTES_PER_CELL

    def extra(n, chunk):
        phase_diagram("adam", k=4, x="beta1:0:1:4", y="beta2:0:1:4", lr=LR, steps=5, progress=False)  # warm up
        tracemalloc.start()
        try:
            ds = phase_diagram("adam", k=4, x=f"beta1:0:1:{n}", y=f"beta2:0:1:{n}", lr=LR, steps=5, chunk=chunk,
                               progress=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert ds.regime.size * BYTES_PER_CELL <= ds.nbytes
        return peak - n * n * BYTES_PER_CELL

    small, big = extra(64, 1024), extra(256, 1024)  # 16x the cells, same chunk
    assert big < small + 2e6, (small, big)  # the excess does not grow with the grid
    assert extra(256, 16384) > big + 2e6  # but it does with the chunk


def test_bad_arguments():
    kw = dict(k=4, lr=LR, steps=10, progress=False)
    with pytest.raises(ValueError, match="reversed"):
        phase_diagram("adam", x="beta1:1:0:5", **kw)
    with pytest.raises(ValueError, match="NUM"):
        phase_diagram("adam", x="beta1:0:1:0", **kw)
    with pytest.raises(ValueError, match="allowed: lr, beta1"):
        phase_diagram("adam", x="nope:0:1:5", **kw)
    with pytest.raises(ValueError, match="beta2"):
        phase_diagram("gd", x="beta2:0:1:5", y="lr:0.1:1:2", k=4, steps=10)
    with pytest.raises(ValueError, match="needs .* GiB"):
        phase_diagram("adam", x="beta1:0:1:1000000", y="beta2:0:1:1000000", **kw)
    with pytest.raises(ValueError, match="lr is missing"):
        phase_diagram("adam", k=4, steps=10)
    with pytest.raises(ValueError, match="counters"):
        phase_diagram("adam", counters=[], **kw)
