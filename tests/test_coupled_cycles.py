"""Stable coupled cycles of Adam on x^k/k (claim D18, dynsys.coupled_cycles): checked against the raw update rule."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dynsys import regimes as R
from dynsys.coupled_cycles import stable_coupled_cycle, two_cycle

LR = 0.01


def _raw(x, m, v, b1, b2, k, lr=LR):
    """One Adam step (PyTorch order, eps = 0, no bias correction) on x^k/k."""
    g = x ** (k - 1)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return x - lr * m / math.sqrt(v), m, v


def _settled_orbit(state, b1, b2, k, settle, p):
    """The raw rule run ``settle`` steps from ``state``, then the next ``p`` states (``p + 1`` in all)."""
    x, m, v = state
    for _ in range(settle):
        x, m, v = _raw(x, m, v, b1, b2, k)
    orbit = [(x, m, v)]
    for _ in range(p):
        orbit.append(_raw(*orbit[-1], b1, b2, k))
    return orbit


def _radius_by_differences(state, p, b1, b2, k, h=1e-7):
    """Spectral radius of the p-step map's Jacobian by central differences in relative coordinates."""
    s0 = np.array(state)

    def fp(s):
        x, m, v = s
        for _ in range(p):
            x, m, v = _raw(x, m, v, b1, b2, k)
        return np.array([x, m, v])

    J = np.empty((3, 3))
    for i in range(3):
        d = np.zeros(3)
        d[i] = h * abs(s0[i])
        J[:, i] = (fp(s0 + d) - fp(s0 - d)) / (2 * d[i]) * abs(s0[i]) / np.abs(s0)
    return float(np.max(np.abs(np.linalg.eigvals(J))))


@pytest.mark.parametrize("k", [4, 6, 8])
def test_the_two_cycle_is_exact_and_its_stability_matches_finite_differences(k):
    for b1, b2 in ((0.0469, 0.026), (0.3, 0.9)):
        a, m, v = (float(val) * s for val, s in zip(two_cycle(b1, k), (LR, LR ** (k - 1), LR ** (2 * (k - 1)))))
        x1, m1, v1 = _raw(a, m, v, b1, b2, k)
        assert x1 == pytest.approx(-a, rel=1e-12) and m1 == pytest.approx(-m, rel=1e-12) and v1 == pytest.approx(v, rel=1e-12)
        want = _radius_by_differences((a, m, v), 2, b1, b2, k)
        p, r = stable_coupled_cycle(b1, b2, k)
        if want < 0.99:  # stable: found as period 2 with the same multipliers
            assert p == 2 and r == pytest.approx(want, rel=1e-5)
        else:
            assert p != 2


def test_a_stable_period_four_orbit_is_found_and_attracts_the_raw_rule():
    """k = 6, b1 = 0.1094, b2 = 0.0365 (a predicted-II cell observed III on the 96-grid): the 2-cycle is
    unstable (Floquet radius 1.53) and a stable 4-cycle around it captures the raw Adam rule at lr = 0.01."""
    k, b1, b2 = 6, 0.1094, 0.0365
    assert R.predicted_regime(b1, b2, k) == R.SPIKING
    p, r = stable_coupled_cycle(b1, b2, k)
    assert p == 4 and 0 < r < 1
    a, m, v = (float(val) * s for val, s in zip(two_cycle(b1, k), (LR, LR ** (k - 1), LR ** (2 * (k - 1)))))
    assert _radius_by_differences((a, m, v), 2, b1, b2, k) > 1  # the 2-cycle itself is unstable
    orbit = _settled_orbit((1.01 * a, m, v), b1, b2, k, 4000, 4)
    assert orbit[4] == pytest.approx(orbit[0], rel=1e-9)
    assert orbit[2][0] != pytest.approx(orbit[0][0], rel=1e-3)  # not the 2-cycle
    assert abs(orbit[0][0]) > 0.1 * LR  # coupled: at the SignGD scale, not converging
    assert _radius_by_differences(orbit[0], 4, b1, b2, k) == pytest.approx(r, rel=1e-4)


def test_converging_cells_have_no_coupled_cycle_and_arrays_broadcast():
    p, r = stable_coupled_cycle(np.array([0.5, 0.9]), 0.99, 4)  # regime I and a III cell near b2 = 1
    assert p.dtype == np.int8 and p.shape == (2,) and p[0] == 0 and math.isnan(r[0])
    grid_p, _ = stable_coupled_cycle(np.linspace(0.05, 0.5, 3)[:, None], np.array([[0.1, 0.5]]), 6)
    assert grid_p.shape == (3, 2)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="beta1"):
        stable_coupled_cycle(1.2, 0.5, 4)
    with pytest.raises(ValueError, match="beta2"):
        stable_coupled_cycle(0.5, 0.0, 4)
    with pytest.raises(ValueError, match="k"):
        stable_coupled_cycle(0.5, 0.5, 3)
    with pytest.raises(ValueError, match="max_period"):
        stable_coupled_cycle(0.5, 0.5, 4, max_period=0)
    with pytest.raises(ValueError, match="beta1"):
        two_cycle(-0.1, 4)


def test_phase_dataset_carries_the_cycles_and_splits_the_agreement():
    from dynsys.scan import phase_diagram

    kw = dict(k=6, x=("beta1", 0.0, 0.4, 12), y=("beta2", 0.0, 0.2, 12), lr=LR, steps=3000, progress=False)
    off = phase_diagram("adam", "power", **kw)
    assert np.all(off.coupled_cycle.values == -1) and "agreement_cycle_free_regime2" not in off.attrs
    on = phase_diagram("adam", "power", coupled_cycles=True, **kw)
    b1, b2 = np.meshgrid(on.beta1.values, on.beta2.values)
    want, _ = stable_coupled_cycle(b1, b2, 6)
    np.testing.assert_array_equal(on.coupled_cycle.values, want)
    assert (want > 0).any() and (want == 0).any()
    pred, obs, cyc = on.predicted_regime.values, on.regime.values, on.coupled_cycle.values
    for c in (1, 2, 3):
        sel = (pred == c) & (cyc > 0)
        assert on.attrs[f"cells_with_cycle_regime{c}"] == int(sel.sum())
        free = (pred == c) & (cyc == 0)
        if free.any():
            assert on.attrs[f"agreement_cycle_free_regime{c}"] == pytest.approx(float(np.mean(obs[free] == c)))
    for var in ("regime", "min_loss", "phase_steps"):  # the search changes no other output
        np.testing.assert_array_equal(on[var].values, off[var].values)
    with pytest.raises(ValueError, match="coupled_cycles"):
        phase_diagram("adam", "power", coupled_cycles="yes", **kw)


def test_cli_coupled_cycles(tmp_path, capsys):
    import xarray as xr

    from dynsys.cli import main

    out = tmp_path / "p.nc"
    assert main(["phase", "--optimizer", "adam", "--objective", "power", "--k", "6", "--x", "beta1:0:0.4:6",
                 "--y", "beta2:0:0.2:6", "--lr", "0.01", "--steps", "500", "--out", str(out), "--no-progress",
                 "--coupled-cycles"]) == 0
    ds = xr.open_dataset(out)
    assert ds.attrs["coupled_cycles"] == 1 and (ds.coupled_cycle.values >= 0).all()


def test_claim_d18_coupled_cycles():
    from tests._claims import assert_claim_holds

    assert_claim_holds("D18", ("amplitude", 1.01))  # a wrong 2-cycle amplitude does not return


def test_regime_plot_marks_the_bistable_cells():
    from dynsys.plot.phase import plot_phase
    from dynsys.scan import phase_diagram

    ds = phase_diagram("adam", "power", k=6, x=("beta1", 0.0, 0.4, 12), y=("beta2", 0.0, 0.2, 12), lr=LR, steps=500,
                       coupled_cycles=True, progress=False)
    n = int(np.sum((ds.coupled_cycle.values > 0) & (ds.predicted_regime.values == 2)))
    assert n > 0
    ax = plot_phase(ds, "regime")
    marks = [c for c in ax.collections if c.get_label().startswith("bistable")]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == n
    assert not [c for c in plot_phase(ds, "regime", mark_bistable=False).collections
                if c.get_label().startswith("bistable")]


def test_figure_coupled_cycles(tmp_path):
    from dynsys.figures import load_figure

    mod = load_figure("degenerate_coupled_cycles")
    data = mod.compute(quick=True)  # 32 x 32, 3000 steps
    assert mod.plot(data, tmp_path)[0].stat().st_size > 5_000
    for k in (4, 6, 8):
        num = data["numbers"][f"k{k}"]
        # measured: II->III misses on a cycle 6/12, 3/4, 2/3; III->II misses on a cycle 0/21, 1/34, 0/38;
        # II agreement 0.797 / 0.909 / 0.909 -> 0.875 / 0.970 / 0.962 without a cycle
        assert num["misses_II_to_III_on_a_cycle"] >= 0.4 * num["misses_II_to_III"]
        assert num["misses_III_to_II_on_a_cycle"] <= 0.05 * num["misses_III_to_II"]
        assert num["agreement_cycle_free_regime2"] > num["agreement_regime2"] + 0.04
        assert num["agreement_with_cycle_regime3"] >= 0.97


def test_a_long_cycle_is_refined_by_newton_and_needs_max_period():
    """k = 4, b1 = 0.3594, b2 = 0.2656 (predicted II, observed III on the 96-grid): a stable 20-cycle; the
    raw rule started on the reported cycle's neighbourhood stays on it, and a search limited to period 16
    does not report it."""
    k, b1, b2 = 4, 0.3594, 0.2656
    p, r = stable_coupled_cycle(b1, b2, k)
    assert p == 20 and 0 < r < 1
    assert stable_coupled_cycle(b1, b2, k, max_period=16)[0] != 20
    a, m, v = (float(val) * s for val, s in zip(two_cycle(b1, k), (LR, LR ** (k - 1), LR ** (2 * (k - 1)))))
    orbit = _settled_orbit((a, m, v), b1, b2, k, 20_000, 20)
    assert orbit[20] == pytest.approx(orbit[0], rel=1e-9)
    assert not any(orbit[q][0] == pytest.approx(orbit[0][0], rel=1e-6) for q in (1, 2, 4, 5, 10))
    assert _radius_by_differences(orbit[0], 20, b1, b2, k, h=1e-8) == pytest.approx(r, rel=1e-3)
