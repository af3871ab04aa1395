"""`dynsys phase` and `dynsys bifurcation`: the command lines of issue 3, their Datasets, plots with the
theory's boundaries, and one-line exit-2 errors for bad input."""
import numpy as np
import pytest
import xarray as xr

from dynsys import regimes as R
from dynsys.cli import main
from dynsys.scan import orbit_diagram, phase_diagram

PHASE_VARS = {"min_loss", "final_loss", "n_spikes", "coupling_ratio", "diverged", "regime", "predicted_regime"}


def _cli(args, capsys):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _png(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    return img


# ----------------------------------------------------------------------------- phase

def test_phase_command_line_of_the_issue(tmp_path, capsys):
    out, png = tmp_path / "k4.nc", tmp_path / "k4.png"
    args = ["phase", "--optimizer", "adam", "--objective", "power", "--k", "4", "--x", "beta1:0:1:24",
            "--y", "beta2:0:1:20", "--lr", "0.01", "--steps", "2000", "--x0", "1.0", "--eps", "0",
            "--no-bias-correction", "--chunk", "100", "--out", str(out), "--plot", str(png), "--no-progress"]
    rc, stdout, _ = _cli(args, capsys)
    assert rc == 0
    assert "agreement with theory" in stdout and "computed 5 of 5 chunks" in stdout
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert PHASE_VARS <= set(ds.data_vars) and {"beta1", "beta2"} <= set(ds.coords)
    api = phase_diagram("adam", "power", k=4, x="beta1:0:1:24", y="beta2:0:1:20", lr=0.01, steps=2000, chunk=100,
                        progress=False)
    for v in PHASE_VARS:
        np.testing.assert_array_equal(ds[v].values, api[v].values, err_msg=v)
    assert ds.attrs["agreement"] == api.attrs["agreement"] > 0.85
    _png(png)
    assert not (tmp_path / "k4.nc.chunks").exists()


def test_phase_plot_draws_the_d4_d12_boundaries_log_scales_and_zoom():
    from matplotlib.colors import LogNorm

    from dynsys.plot.phase import phase_figure, plot_phase

    ds = phase_diagram("adam", k=4, x="beta1:0:1:16", y="beta2:0:1:16", lr=0.01, steps=500, progress=False)
    ax = plot_phase(ds, "min_loss", zoom="0:0.2,0:0.1")
    assert ax.get_xlim() == (0.0, 0.2) and ax.get_ylim() == (0.0, 0.1)
    lines = {ln.get_label().split(":")[0]: ln for ln in ax.lines}
    i_ii, ii_iii, pd = lines["I/II"], lines["II/III"], lines["period doubling (Eq. 9)"]
    # beta1 on x: the curves are b1 = b2^{k/(2(k-2))}, b2^{(k-1)/(2(k-2))} and the root of Eq. 9
    np.testing.assert_allclose(i_ii.get_xdata(), i_ii.get_ydata() ** 1.0)
    np.testing.assert_allclose(ii_iii.get_xdata(), ii_iii.get_ydata() ** 0.75)
    b2 = pd.get_ydata()
    assert b2.max() < R.period_doubling_beta2_max(4) == pytest.approx(1 / 16)
    np.testing.assert_allclose(R.period_doubling_residual(pd.get_xdata(), b2, 4), 0, atol=1e-9)
    # the second flip (claim D19): the period-2 orbit's multipliers have modulus 1 on the drawn curve
    flip = lines["period-2 orbit loses stability (claim D19)"]
    xs, ys = flip.get_xdata(), flip.get_ydata()
    keep = xs > 0
    assert keep.sum() > 20 and ys[keep].max() < 1 / 16
    np.testing.assert_allclose(R.period_two_spectral_radius(xs[keep], ys[keep], 4), 1.0, atol=1e-8)
    # losses are log10 values: the colour bar is in decades
    assert "log10" in ax.figure.axes[-1].get_ylabel()
    ax = plot_phase(ds, "n_spikes")
    assert isinstance(ax.collections[0].norm, LogNorm)
    # axes swapped (beta2 on x): the curves are transposed
    dt = phase_diagram("adam", k=6, x="beta2:0.2:1:6", y="beta1:0:1:5", lr=0.01, steps=300, progress=False)
    ax = plot_phase(dt, "regime")
    ln = next(ln for ln in ax.lines if ln.get_label().startswith("I/II"))
    np.testing.assert_allclose(ln.get_ydata(), ln.get_xdata() ** 0.75)
    fig = phase_figure(ds)
    assert len([a for a in fig.axes if a.get_visible() and a.get_title()]) == 4


@pytest.mark.parametrize("args, words", [
    (["--x", "beta1:1:0:5"], ["reversed"]),
    (["--x", "beta1:0:0:5"], ["empty"]),
    (["--x", "beta1:0:1:0"], ["NUM"]),
    (["--x", "gamma:0:1:5"], ["gamma", "allowed", "beta1"]),
    (["--y", "beta2:0:1.5:5"], ["beta2", "1.5"]),
    (["--lr", "-1"], ["lr", "allowed"]),
    (["--k", "5"], ["odd"]),
    (["--x", "beta1:0:1:100000", "--y", "beta2:0:1:100000"], ["GiB", "allowed"]),
    (["--optimizer", "nope"], ["invalid choice"]),
    (["--out", "x.txt"], [".nc"]),
    (["--plot", "x.jpg"], [".png"]),
    (["--zoom", "1:0,0:1"], ["zoom"]),
])
def test_phase_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    base = {"--optimizer": "adam", "--k": "4", "--x": "beta1:0:1:4", "--y": "beta2:0:1:4", "--lr": "0.01",
            "--steps": "10", "--out": "p.nc"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = ["phase", "--no-progress"] + [t for kv in base.items() for t in kv]
    rc, _, err = _cli(argv, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bifurcation

def test_bifurcation_sharpness_map_command_line(tmp_path, capsys):
    out, png = tmp_path / "o.nc", tmp_path / "o.png"
    args = ["bifurcation", "--map", "sharpness", "--k", "4", "--param", "gamma:1.5:12:106", "--discard", "2000",
            "--keep", "128", "--out", str(out), "--plot", str(png)]
    rc, stdout, _ = _cli(args, capsys)
    assert rc == 0 and "escaped" in stdout
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert {"orbit", "period", "lyapunov", "escaped"} <= set(ds.data_vars)
    assert ds.orbit.dims == ("gamma", "keep") and ds.orbit.shape == (106, 128)
    g = ds.gamma.values
    gstar = R.sharpness_critical_gamma(4)  # 4: period doubling of s -> gamma s (1-s)^2 (D10)
    assert np.all(ds.period.values[(g > 1.6) & (g < 0.97 * gstar)] == 1)
    assert np.all(ds.period.values[(g > 1.02 * gstar) & (g < 1.1 * gstar)] == 2)
    # for gamma < 27/4 the orbit stays in (0, 4 gamma/27) inside (0, 1): never escapes; once
    # gamma M (M-1)^2 > 2 at M = 4 gamma/27 (gamma > 9.39) the chaotic orbit is thrown past s = 2
    assert not ds.escaped.values[g < 27 / 4].any()
    assert ds.escaped.values[g > 9.4].all()
    assert np.all(np.isnan(ds.lyapunov.values[ds.escaped.values]))
    _png(png)
    # the same through the API
    api = orbit_diagram("sharpness", "gamma", g, fixed={"k": 4}, discard=2000, keep=128)
    np.testing.assert_array_equal(api.orbit.values, ds.orbit.values)


def test_bifurcation_continuation_and_adam_normalized_map(tmp_path, capsys):
    out = tmp_path / "a.nc"
    args = ["bifurcation", "--map", "adam-normalized", "--k", "4", "--param", "beta1:0.1:0.5:5", "--set", "beta2=0.6",
            "--state0", "u=1", "--state0", "w=0.01", "--state0", "z=1", "--discard", "3000", "--keep", "200",
            "--continuation", "--out", str(out)]
    rc, _, _ = _cli(args, capsys)
    assert rc == 0
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert ds.attrs["continuation"] == 1 and ds.attrs["fixed_beta2"] == 0.6
    # regime I for b1 < b2 = 0.6 (Eq. 8, k = 4): period 1 on the fixed point u* of D2
    assert np.all(ds.period.values == 1)
    for i, b1 in enumerate(ds.beta1.values):
        np.testing.assert_allclose(ds.final_state.values[i, 0], R.adam_fixed_point(b1, 0.6, 4)[1], rtol=1e-6)


@pytest.mark.parametrize("args, words", [
    (["--map", "nope"], ["nope", "sharpness", "adam-normalized"]),
    (["--param", "beta:1:2:3"], ["beta", "gamma, k"]),
    (["--param", "gamma:3:2:5"], ["reversed"]),
    (["--param", "gamma:2:3:0"], ["NUM"]),
    (["--param", "gamma:2:3"], ["NAME:START:STOP:NUM"]),
    (["--param", "gamma:-1:3:4"], ["gamma"]),
    (["--keep", "0"], ["keep"]),
    (["--set", "zeta=1"], ["zeta", "gamma, k"]),
    (["--out", "o.csv"], [".nc"]),
])
def test_bifurcation_bad_input_one_line_exit_2(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    base = {"--map": "sharpness", "--k": "4", "--param": "gamma:1.5:3:4", "--discard": "10", "--keep": "10",
            "--out": "o.nc"}
    extra = []
    for i in range(0, len(args), 2):
        if args[i] == "--set":
            extra += args[i:i + 2]
        else:
            base[args[i]] = args[i + 1]
    rc, _, err = _cli(["bifurcation"] + [t for kv in base.items() for t in kv] + extra, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert list(tmp_path.iterdir()) == []
