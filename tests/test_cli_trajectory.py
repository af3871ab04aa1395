"""``dynsys trajectory``: CSV/netCDF output carries the predicted numbers; bad input exits 2 in one line."""
import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from dynsys.cli import main
from dynsys.cli.trajectory import CSV_COLUMNS, CSV_LOG_COLUMNS


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array([[float(v) for v in row] for row in rows[1:]])


def test_csv_columns_and_gd_contraction(tmp_path):
    """GD on S x^2/2 with S eta = 1.5: the loss ratio is (1 - S eta)^2 = 0.25 per step (math.md E1)."""
    out = tmp_path / "gd.csv"
    rc = main(["trajectory", "--optimizer", "gd", "--objective", "quadratic", "--diag", "3", "--lr", "0.5",
               "--steps", "40", "--x0", "2", "--out", str(out)])
    assert rc == 0
    header, data = _read_csv(out)
    assert tuple(header[:9]) == CSV_COLUMNS == ("step", "loss", "log10_loss", "grad", "m", "v", "eff_lr",
                                                "precond_curvature", "diverged")
    assert tuple(header[9:]) == CSV_LOG_COLUMNS == ("log10_abs_grad", "log10_abs_m", "log10_v", "log10_eff_lr")
    np.testing.assert_allclose(data[:, 9], np.log10(np.abs(data[:, 3])), rtol=1e-12)  # gd: m = g, v = 0
    np.testing.assert_allclose(10 ** data[:, 12], 0.5, rtol=1e-12)  # gd: eff_lr = eta
    np.testing.assert_array_equal(data[:, 0], np.arange(41))
    np.testing.assert_allclose(data[1:, 1] / data[:-1, 1], 0.25, rtol=1e-12)
    np.testing.assert_allclose(data[:, 7], 3.0)  # GD: lambda_max(H) = S
    assert not data[:, 8].any()


def test_csv_adam_log_loss_slope_and_bias_flag(tmp_path, capsys):
    """Adam on x^4/4 (eps = 0, no bias correction): d ln L/dt = ln b2 (math.md D5, k = 4), far below 1e-308."""
    out = tmp_path / "adam.csv"
    rc = main(["trajectory", "--optimizer", "adam", "--objective", "power", "--k", "4", "--lr", "0.01",
               "--beta1", "0.5", "--beta2", "0.9", "--eps", "0", "--no-bias-correction", "--steps", "20000",
               "--record-every", "100", "--x0", "1", "--out", str(out)])
    assert rc == 0
    assert "wrote 201 rows" in capsys.readouterr().out
    _, data = _read_csv(out)
    half = len(data) // 2
    slope = np.polyfit(data[half:, 0], data[half:, 2] * math.log(10), 1)[0]
    assert slope == pytest.approx(math.log(0.9), rel=1e-8)
    assert data[-1, 2] < -700 and data[-1, 1] == 0.0  # loss underflows in the plain column, not in log10_loss


def test_csv_log_columns_report_values_outside_float64(tmp_path):
    """The issue's example: Adam on x^4/4, b1 = b2 = 0.9, eps = 0, no bias correction, 1e5 steps.

    v underflows below 1e-308 and eta/sqrt(v) exceeds 1e308 within a few thousand steps: the plain
    columns show 0.0 / inf there, the log10 columns the exact values with the D13 rates
    (log10 v falls by log10 b2 per step, log10 eff_lr rises by -log10(b2)/2), never a silent inf.
    """
    out = tmp_path / "adam.csv"
    rc = main(["trajectory", "--optimizer", "adam", "--objective", "power", "--k", "4", "--lr", "0.01",
               "--beta1", "0.9", "--beta2", "0.9", "--eps", "0", "--no-bias-correction", "--steps", "100000",
               "--record-every", "1000", "--x0", "1", "--out", str(out)])
    assert rc == 0
    header, data = _read_csv(out)
    col = {name: data[:, i] for i, name in enumerate(header)}
    assert not col["diverged"].any()
    for name in CSV_LOG_COLUMNS + ("log10_loss",):
        assert np.all(np.isfinite(col[name])), name
    lb = math.log10(0.9)
    half = len(data) // 2
    t = col["step"][half:]
    assert np.polyfit(t, col["log10_v"][half:], 1)[0] == pytest.approx(lb, rel=1e-9)
    assert np.polyfit(t, col["log10_eff_lr"][half:], 1)[0] == pytest.approx(-lb / 2, rel=1e-9)
    # b1 = 0.9 = b2^{k/(2(k-2))} sits on the I/II boundary (D4, det J = 1): the loss rate settles slowly
    assert np.polyfit(t, col["log10_loss"][half:], 1)[0] == pytest.approx(lb, rel=1e-5)  # k ln b2/(2(k-2))
    # plain eff_lr is inf exactly where its logarithm exceeds float64's range, and equals 10**log10 elsewhere
    big = col["log10_eff_lr"] > math.log10(np.finfo(float).max)
    assert big[-1] and not big[0]
    assert np.all(np.isinf(col["eff_lr"][big])) and np.all(np.isfinite(col["eff_lr"][~big]))
    np.testing.assert_allclose(np.log10(col["eff_lr"][~big]), col["log10_eff_lr"][~big], rtol=1e-12, atol=1e-12)
    assert col["v"][-1] == 0.0 and col["log10_v"][-1] == pytest.approx(lb * 100_000, rel=1e-3)


def test_netcdf_round_trip_keeps_settings(tmp_path):
    xr = pytest.importorskip("xarray")
    out = tmp_path / "t.nc"
    rc = main(["trajectory", "--optimizer", "adamw", "--objective", "quadratic", "--matrix", "2,0.5;0.5,1",
               "--lr", "0.01", "--weight-decay", "0.1", "--steps", "50", "--x0", "1,-1", "--out", str(out)])
    assert rc == 0
    ds = xr.open_dataset(out)
    assert ds.attrs["optimizer"] == "adamw" and ds.attrs["weight_decay"] == 0.1
    np.testing.assert_array_equal(ds.attrs["A"], [2.0, 0.5, 0.5, 1.0])
    assert ds.sizes["step"] == 51 and ds.sizes["dim"] == 2
    np.testing.assert_array_equal(ds.x.values[0], [1.0, -1.0])
    ds.close()


def test_diverged_column_and_plot(tmp_path):
    """GD on x^2/2 with eta = 2.5 > 2: |x| grows by 1.5 per step until overflow; the last row is flagged."""
    out, png = tmp_path / "d.csv", tmp_path / "d.png"
    rc = main(["trajectory", "--optimizer", "gd", "--objective", "power", "--k", "2", "--lr", "2.5",
               "--steps", "5000", "--x0", "1", "--out", str(out), "--plot", str(png)])
    assert rc == 0
    _, data = _read_csv(out)
    assert data[-1, 8] == 1 and not data[:-1, 8].any()
    # log space: the loss x^2/2 = 1.5^{2t}/2 leaves float64 at t = ceil((ln DBL_MAX + ln 2)/(2 ln 1.5))
    t_pred = math.ceil((math.log(np.finfo(float).max) + math.log(2)) / (2 * math.log(1.5)))
    assert abs(data[-1, 0] - t_pred) <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, word", [
    (["--out", "x.txt"], "--out"),
    (["--out", "x.csv", "--lr", "-1"], "lr"),
    (["--out", "x.csv", "--beta2", "1.0"], "beta2"),
    (["--out", "x.csv", "--k", "3"], "k"),
    (["--out", "x.csv", "--x0", "1,2"], "--x0"),
    (["--out", "x.csv", "--x0", "abc"], "--x0"),
    (["--out", "x.csv", "--x0", "nan"], "x0"),
    (["--out", "x.csv", "--steps", "0"], "steps"),
    (["--out", "x.csv", "--plot", "p.jpg2"], "--plot"),
    (["--out", "x.csv", "--weight-decay", "0.1"], "--weight-decay"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, word):
    base = {"--optimizer": "adam", "--objective": "power", "--lr": "0.01", "--steps": "10"}
    for i in range(0, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    if base["--out"].endswith(".csv"):
        base["--out"] = str(tmp_path / base["--out"])
    args = ["trajectory"] + [tok for kv in base.items() for tok in kv]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and word in err and "Traceback" not in err


def test_quadratic_needs_diag_or_matrix(capsys):
    rc = main(["trajectory", "--optimizer", "gd", "--objective", "quadratic", "--lr", "0.1", "--steps", "5",
               "--out", "q.csv"])
    assert rc == 2 and "--diag" in capsys.readouterr().err


def test_asymmetric_matrix_is_refused(capsys, tmp_path):
    rc = main(["trajectory", "--optimizer", "gd", "--objective", "quadratic", "--matrix", "1,2;0,1", "--lr", "0.1",
               "--steps", "5", "--out", str(tmp_path / "q.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "symmetric" in err and len(err.strip().splitlines()) == 1


def test_real_subprocess(tmp_path):
    out = tmp_path / "llas.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "dynsys", "trajectory", "--optimizer", "gd", "--objective", "llas", "--lr", "5e-3",
         "--steps", "120", "--x0", "0.5,1e-5", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    _, data = _read_csv(out)
    assert data[0, 7] == pytest.approx(450.0)  # sharpness 100x + 400 at x = 0.5 (math.md F1) > 2/eta = 400
    assert data[:, 1].max() > 2 * data[0, 1]  # the spike
    bad = subprocess.run([sys.executable, "-m", "dynsys", "trajectory", "--optimizer", "adam", "--objective",
                          "power", "--lr", "0.1", "--beta1", "1.5", "--steps", "3", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "beta1" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_help_lists_every_option():
    proc = subprocess.run([sys.executable, "-m", "dynsys", "trajectory", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0
    for opt in ("--optimizer", "--objective", "--k", "--lr", "--beta1", "--beta2", "--eps", "--no-bias-correction",
                "--weight-decay", "--steps", "--x0", "--out", "--plot", "--lr-decay", "--momentum", "--diag",
                "--record-every"):
        assert opt in proc.stdout
