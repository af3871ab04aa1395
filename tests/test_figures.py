"""Every figure script runs in quick mode, writes its PNG, and its data carry the science.

Each test calls the script's ``compute(quick=True)`` and ``plot(data, tmpdir)``
(the same code path as ``make``) and asserts a number the theory predicts:
a slope, a threshold, a boundary, a fixed point.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from dynsys.figures import available, load_figure, make_figures, resolve_names

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _run(name, tmp_path):
    module = load_figure(name)
    data = module.compute(quick=True)
    paths = module.plot(data, tmp_path)
    assert paths, name
    for p in paths:
        assert p.exists() and p.suffix == ".png" and p.stat().st_size > 5_000, p
    return data["numbers"]


# ----------------------------------------------------------------------------- registry and CLI

def test_registry_lists_every_script_with_make_compute_plot():
    names = available()
    assert len(names) >= 9
    assert not any(n.startswith("_") for n in names)
    for name in names:
        mod = load_figure(name)
        assert mod.__doc__ and ("Fig" in mod.__doc__.splitlines()[0]), name


def test_resolve_names_by_substring_and_unknown_name():
    assert resolve_names(["blog_fig02_04_quadratic"]) == ["blog_fig02_04_quadratic"]
    assert all(n.startswith("adam_spikes") for n in resolve_names(["adam_spikes"]))
    with pytest.raises(ValueError, match="matches no figure"):
        resolve_names(["no-such-figure"])


def test_cli_only_quick_writes_png(tmp_path):
    from dynsys.cli import main

    assert main(["figures", "--quick", "--only", "blog_fig02_04_quadratic", "--outdir", str(tmp_path)]) == 0
    assert (tmp_path / "blog_fig02_04_quadratic.png").exists()


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    from dynsys.cli import main

    assert main(["figures", "--only", "nope", "--outdir", str(tmp_path)]) == 2
    assert main(["figures", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("dynsys figures: error:") for line in err)
    assert not any(tmp_path.iterdir())


def test_cli_subprocess_list():
    out = subprocess.run([sys.executable, "-m", "dynsys", "figures", "--list"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "degenerate_fig01_02_adam_vs_gd" in out.stdout


def test_make_figures_returns_paths(tmp_path):
    written = make_figures(tmp_path, quick=True, only=["adam_spikes_figD3_delay"])
    assert list(written) == ["adam_spikes_figD3_delay"]
    assert written["adam_spikes_figD3_delay"][0].parent == tmp_path


# ----------------------------------------------------------------------------- Adam-preconditioners paper

def test_adam_spikes_fig02_threshold_38_and_slope_1(tmp_path):
    num = _run("adam_spikes_fig02_lr_sweep", tmp_path)
    assert num["n_spikes"] == num["n_runs"]
    # eta/sqrt(vhat) at the spike is 2(1+b1)/(1-b1) = 38 for every eta (Lemma 1, math.md A4)
    assert num["threshold"] == pytest.approx(38.0)
    for ratio in num["ratio_onset"]:
        assert ratio == pytest.approx(38.0, rel=0.1)
    assert num["loglog_slope"] == pytest.approx(1.0, abs=0.1)


def test_adam_spikes_fig03_v_decays_at_beta2(tmp_path):
    num = _run("adam_spikes_fig03_beta2", tmp_path)
    b99, b90 = num["beta2=0.99"], num["beta2=0.9"]
    # decoupled second moment decays freely at beta2 (paper: alpha ~ 0.99)
    assert b99["alpha"] == pytest.approx(0.99, abs=2e-3)
    # the spike starts where lambda_max(Hhat) crosses 2/eta
    assert abs(b99["onset"] - b99["crossing"]) <= 0.02 * b99["crossing"] + 5
    assert b99["spike_decades"] > 20
    # beta2 = 0.9 stays coupled: decay slower than beta2 (paper: 0.93), no large spike
    assert 0.9 < b90["alpha"] < 0.97
    assert b90["onset"] is None


def test_adam_spikes_figD2_onset_at_crossing(tmp_path):
    num = _run("adam_spikes_figD2_hyperparams", tmp_path)
    for delta in num["onset_minus_crossing"]:
        assert delta is not None and abs(delta) <= 20


def test_adam_spikes_figD3_delay_only_in_2d(tmp_path):
    num = _run("adam_spikes_figD3_delay", tmp_path)
    assert num["delay_1d"] == 0
    assert num["delay_2d"] >= 20


# ----------------------------------------------------------------------------- blog and LLAS

def test_blog_fig02_04_matches_exact_quadratic_theory(tmp_path):
    num = _run("blog_fig02_04_quadratic", tmp_path)
    assert num["max_rel_err_vs_exact"] < 1e-10
    for key, conv in num["converged"].items():
        eta = float(key.split("=")[1])
        crit = num["eta_crit_1d"] if key.startswith("1d") else num["eta_crit_2d"]
        assert conv == (eta < crit), key


def test_blog_fig06_07_spikes_need_sharpness_above_2_over_eta(tmp_path):
    num = _run("blog_fig06_07_powerlaw", tmp_path)
    # every run whose loss rises had sharpness above 2/eta (E3); the first spike comes after the first crossing
    assert num["spiking_runs_that_crossed"] == 1.0
    assert num["eta_spike"] >= num["eta_c"]
    # along v1 the gradient grows iff S > 2/eta (linear theory of E2)
    assert num["fig7_growth_agreement"] > 0.8


def test_llas_fig3_2_spike_and_level_set(tmp_path):
    num = _run("llas_fig3_2_toy", tmp_path)
    assert num["threshold"] == pytest.approx(400.0)
    assert num["peak_loss"] > 10 * num["start_loss"]
    assert num["agreement_rise_vs_unstable"] > 0.8
    # df/dx changes sign exactly on the level set f = 9 (F1)
    assert num["gradx_sign_vs_level9"] == 1.0


# ----------------------------------------------------------------------------- degenerate-polynomials paper

def test_degenerate_fig01_02_rates(tmp_path):
    num = _run("degenerate_fig01_02_adam_vs_gd", tmp_path)
    # Adam on x^4/4: ln L falls by k ln(b2)/(2(k-2)) per step (Thm 4.1 iii, D5)
    assert num["adam_k4_log10_slope"] == pytest.approx(num["adam_k4_log10_slope_theory"], rel=0.02)
    # GD: L ~ t^(-2) (Thm 5.1, D7)
    assert num["gd_k4_loglog_slope"] == pytest.approx(-2.0, abs=0.15)
    assert num["momentum_k4_loglog_slope"] == pytest.approx(-2.0, abs=0.2)
    # x^2/2: Adam spikes when its effective curvature reaches 2; on x^4/4 it settles at the fixed point
    assert num["adam_k2_spike_onset"] is not None
    assert num["adam_k2_eff_curv_at_onset"] == pytest.approx(2.0, rel=0.1)
    assert num["adam_k4_eff_curv_final"] == pytest.approx(num["adam_k4_eff_curv_theory"], rel=0.02)


def test_degenerate_fig06_three_regimes(tmp_path):
    num = _run("degenerate_fig06_regime_examples", tmp_path)
    assert num["I"]["log10_slope"] == pytest.approx(num["I"]["log10_slope_theory"], rel=0.02)
    assert num["I"]["uw_median_tail"] == pytest.approx(num["uw_fixed_point"], rel=0.02)
    # II: linear convergence far below the SignGD level, then a spike of many decades
    assert num["II"]["min_log10_loss"] < -30
    assert num["II"]["final_log10_loss"] > num["II"]["min_log10_loss"] + 15
    # coupling ratio v/g^2: decoupled in I, tight in III
    assert num["I"]["final_log10_coupling"] > 10
    assert num["III"]["final_log10_coupling"] < 2


def test_degenerate_fig09_quadratic_rates(tmp_path):
    num = _run("degenerate_fig09_quadratic", tmp_path)
    # Adam's momentum-limited linear rate ln(b1) - ln(b2)/4 per step (Lemma F.2, discrete form)
    assert num["adam_ln_slope"] == pytest.approx(num["adam_ln_slope_theory"], rel=0.03)
    # v decouples and decays freely at beta2 (D8)
    assert num["adam_v_decay"] == pytest.approx(0.99, abs=1e-3)
    assert num["rmsprop_v_decay"] == pytest.approx(0.99, abs=1e-3)
    # RMSProp is super-linear before its spike; m stays coupled to g for Adam
    assert num["rmsprop_slope_steepening"] > 3
    assert abs(num["adam_log10_m_over_g_median"]) < 1.5


def test_degenerate_fig04_period_doubling_at_gamma_4(tmp_path):
    num = _run("degenerate_fig04_sharpness_orbit", tmp_path)
    # the fixed point loses stability at gamma* = (k/(k-2))^(k-2) = 4 (Prop. 5.6, D10);
    # near the bifurcation convergence is slow, so allow two grid steps
    assert num["gamma_critical_theory"] == 4.0
    assert abs(num["gamma_first_period_not_1"] - 4.0) <= 2 * num["grid_step"] + 1e-9
    assert num["gamma_first_period_4"] > 4.0
    # on the period-1 branch the Lyapunov exponent is ln|f'(s*)| and the orbit sits on s*
    assert num["lyapunov_max_abs_err_period1"] < 1e-6
    assert num["fixed_point_max_abs_err"] < 1e-6
    assert num["gamma_first_escape"] > 6.75  # the orbit stays in (0, 2) through chaos before escaping


def test_degenerate_fig03_stable_region_converges(tmp_path):
    num = _run("degenerate_fig03_phase_k4", tmp_path)
    # cells the theory calls stable (Eq. 8 and Eq. 9) converge (Thm 4.1), and vice versa
    assert num["predicted_I_observed_I"] > 0.97
    assert num["observed_I_predicted_I"] > 0.9
    assert num["median_final_loss_predicted_I"] < num["median_final_loss_other"] - 20
    # the spectral radius of the Jacobian < 1 region is the predicted regime I
    assert num["radius_vs_predicted_I"] > 0.95


def test_degenerate_fig05_07_regime_statistics(tmp_path):
    num = _run("degenerate_fig05_07_regimes", tmp_path)
    r1, r2, r3 = num["regime1"], num["regime2"], num["regime3"]
    assert r1["agreement"] > 0.95
    # II: exponential phase (low min loss) then a spike (final loss much higher)
    assert r2["median_final_loss"] > r2["median_min_loss"] + 5
    assert r1["median_final_loss"] < r2["median_final_loss"] - 20
    # coupling ratio v/g^2: decoupled in I, tightly coupled in III (D13)
    assert r1["median_coupling"] > 10
    assert r3["median_coupling"] < 3


@pytest.mark.slow
def test_degenerate_fig12_13_corner_period_doubling(tmp_path):
    num = _run("degenerate_fig12_13_corner", tmp_path)
    # Eq. 9 at beta2 = 0.03: rho = beta2^(1/4), beta1 = rho^3 (2 - 4 rho)/(4 - 2 rho)
    rho = 0.03 ** 0.25
    assert num["b1_period_doubling_at_b2_low"] == pytest.approx(rho ** 3 * (2 - 4 * rho) / (4 - 2 * rho))
    # the orbit of u w is period 1 in the stable band and period-doubled left of Eq. 9, staying below 2
    assert num["orbit_low_period1_fraction_in_stable_band"] > 0.95
    assert num["orbit_low_period_gt1_fraction_left_of_eq9"] > 0.9
    assert num["orbit_low_max_uw_left_of_eq9"] < 2.0
    # the paper's observation: many cells unstable by Eq. 9 alone still converge
    assert num["zoom_pd_only_cells"] > 0 and num["zoom_pd_only_converged_fraction"] > 0.5
    # high momentum: past beta1 = beta2 the product jumps above 2 at once
    assert num["orbit_high_period1_fraction_below_b2"] > 0.95
    assert num["orbit_high_max_uw_above_b2"] > 2.0
    # loss: stable band and period-doubling case converge far below the SignGD level; the unstable one does not
    stable, doubling, unstable = num["min_loss_cases"]
    assert stable < -100 and doubling < -100 and unstable > -30


def test_degenerate_fig10_quadratic_trends(tmp_path):
    num = _run("degenerate_fig10_quadratic_phase", tmp_path)
    # k = 2: no fixed point, every cell is predicted to spike (D14), and almost all do
    assert num["predicted_regime_values"] == [2]
    assert num["fraction_final_above_min_by_5_decades"] > 0.9
    # the paper's column-wise and row-wise observations (Appendix F)
    assert num["columns_min_loss_rises_as_beta2_falls"] > 0.8
    assert num["rows_min_loss_rises_with_beta1"] > 0.8
