"""``dynsys predict`` (issue 4, section 3 and the API contract): the exact command line of the
issue, a netCDF record whose numbers match a dense, independently computed reference, the
printed spike/predictor table, and one-line exit-2 errors for bad input."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
xr = pytest.importorskip("xarray")

from dynsys.cli import main  # noqa: E402
from dynsys.cli.predict import MAIN_VARIABLES  # noqa: E402
from dynsys.nn import CONTRACT_VARIABLES, get_experiment  # noqa: E402
from dynsys.nn.experiments import build_optimizer  # noqa: E402
from dynsys.nn.params import flatten, parameter_layout, unflatten  # noqa: E402

ALL = ("lambda_max_H,lambda_max_Hhat,lambda_grad_H,lambda_grad_Hhat,lambda_update_Hhat,"
       "lambda_grad_Hhat_sustained,critical_sharpness")


def _argv(out, *, experiment="fnn-sin", optimizer="adam", lr="0.01", wd="0", steps="12", every="3",
          predictors=ALL, device="cpu", plot=None, extra=()):
    """The issue's command line, every option spelled out."""
    argv = ["predict", "--experiment", experiment, "--optimizer", optimizer, "--lr", lr, "--beta1", "0.9",
            "--beta2", "0.999", "--eps", "1e-8", "--weight-decay", wd, "--steps", steps, "--every", every,
            "--predictors", predictors, "--device", device, "--seed", "3", "--out", str(out), "--quiet", *extra]
    if plot is not None:
        argv += ["--plot", str(plot)]
    return argv


def _dense_hessian(model, loss_fn, data):
    layout = parameter_layout(model)
    theta = flatten([p.detach() for p in layout.params])
    names = list(layout.names)

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, d):
            return loss_fn(self.model, d)

    wrap = Wrap()

    def f(flat):
        pd = {"model." + n: t for n, t in zip(names, unflatten(flat, layout))}
        return torch.func.functional_call(wrap, pd, (data,))

    h = torch.autograd.functional.hessian(f, theta)
    return 0.5 * (h + h.T), layout


def test_issue_command_line_writes_contract_netcdf_matching_dense_reference(tmp_path, capsys):
    """The record of a 12-step Adam run (fnn-sin, width 8) against an independent replay:
    lambda_max(H) and lambda_max(Hhat) (Eq. 7 from the replayed Adam state) equal eigvalsh of the
    dense matrices to 1e-6 relative, lambda_grad(H) = g^T H g / g^T g; the Rayleigh quotients lie
    below lambda_max; the sustained predictor is the min over neighbouring records; the
    threshold is 2/eta."""
    out, png = tmp_path / "rec.nc", tmp_path / "rec.png"
    rc = main(_argv(out, plot=png, extra=("--set", "width=8")))
    assert rc == 0
    text = capsys.readouterr().out
    assert "predictor" in text and "false alarms" in text and "median lead" in text  # the summary table
    for name in ALL.split(","):
        assert name in text
    assert f"wrote {out}" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    ds = xr.open_dataset(out)
    try:
        assert list(ds.coords) == ["step"]
        np.testing.assert_array_equal(ds["step"].values, [3, 6, 9, 12])
        assert set(ds.data_vars) == set(CONTRACT_VARIABLES) == set(MAIN_VARIABLES)
        assert np.all(ds["threshold"].values == 2 / 0.01)
        for v in ("lambda_grad_H", "critical_sharpness"):
            assert np.all(np.isfinite(ds[v].values))
        assert np.all(ds["lambda_grad_H"].values <= ds["lambda_max_H"].values * (1 + 1e-9))
        assert np.all(ds["lambda_grad_Hhat"].values <= ds["lambda_max_Hhat"].values * (1 + 1e-9))
        assert np.all(ds["lambda_update_Hhat"].values <= ds["lambda_max_Hhat"].values * (1 + 1e-9))
        g = ds["lambda_grad_Hhat"].values
        expect = [min(g[0], g[1]), min(g[0:3]), min(g[1:4]), min(g[2], g[3])]
        np.testing.assert_array_equal(ds["lambda_grad_Hhat_sustained"].values, expect)
        rec = {k: float(ds[k].values[-1]) for k in ds.data_vars}
        diag = xr.open_dataset(out, group="diagnostics")
        assert diag["sqrt_vhat_norm"].dims == ("step", "block")
        diag.close()
    finally:
        ds.close()

    # independent replay of the same run, then dense references at step 12
    exp = get_experiment("fnn-sin", width=8, seed=3)
    opt = build_optimizer(exp.model, "adam", 0.01)
    for _ in range(12):
        opt.zero_grad()
        exp.loss_fn(exp.model, exp.data).backward()
        opt.step()
    opt.zero_grad()
    assert rec["loss"] == pytest.approx(exp.loss(), rel=1e-12)
    H, layout = _dense_hessian(exp.model, exp.loss_fn, exp.data)
    assert rec["lambda_max_H"] == pytest.approx(torch.linalg.eigvalsh(H)[-1].item(), rel=1e-6)
    b1, b2 = 0.9, 0.999
    d = []
    for p in layout.params:
        st = opt.state[p]
        t = float(st["step"])
        vhat = st["exp_avg_sq"].reshape(-1) / (1 - b2 ** t)
        d.append((1 - b1) / ((1 + b1) * (1 - b1 ** t)) / (vhat.sqrt() + 1e-8))
    d = torch.cat(d)
    S = torch.diag(d.sqrt()) @ H @ torch.diag(d.sqrt())
    assert rec["lambda_max_Hhat"] == pytest.approx(torch.linalg.eigvalsh(0.5 * (S + S.T))[-1].item(), rel=1e-6)
    loss = exp.loss_fn(exp.model, exp.data)
    grad = flatten(torch.autograd.grad(loss, layout.params))
    assert rec["lambda_grad_H"] == pytest.approx(float(grad @ H @ grad / (grad @ grad)), rel=1e-9)
    dg = d * grad  # lambda_grad(Hhat) = (Dg)^T H (Dg) / g^T D g
    assert rec["lambda_grad_Hhat"] == pytest.approx(float(dg @ H @ dg / (grad @ dg)), rel=1e-9)


@pytest.mark.parametrize("optimizer, wd, threshold", [
    ("gd", "0.5", 2 / 0.05 - 0.5),     # C3: coupled L2, 2/eta - wd
    ("adamw", "0.5", 2 / 0.05 - 0.5),  # C3: decoupled decay, 2/eta - wd
    ("adam", "0.5", 2 / 0.05),         # coupled L2 inside Hhat: threshold stays 2/eta
])
def test_weight_decay_shifted_threshold_in_the_record(tmp_path, capsys, optimizer, wd, threshold):
    out = tmp_path / f"{optimizer}.nc"
    preds = "lambda_max_H,lambda_grad_H" if optimizer == "gd" else "lambda_max_Hhat"
    rc = main(_argv(out, optimizer=optimizer, lr="0.05", wd=wd, steps="4", every="2", predictors=preds,
                    extra=("--set", "width=6")))
    assert rc == 0
    with xr.open_dataset(out) as ds:
        np.testing.assert_allclose(ds["threshold"].values, threshold, rtol=1e-15)
        assert ds.attrs["weight_decay"] == 0.5
    assert f"stability threshold: {threshold:.6g}" in capsys.readouterr().out


def _one_line_error(capsys, argv, match):
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert match in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("change, match", [
    ({"every": "0"}, "--every"),
    ({"steps": "0"}, "--steps"),
    ({"lr": "-1"}, "lr"),
    ({"predictors": "lambda_spike"}, "lambda_spike"),
    ({"optimizer": "gd", "predictors": "lambda_max_Hhat"}, "lambda_max_Hhat"),
    ({"experiment": "resnet"}, "resnet"),
    ({"optimizer": "lion"}, "lion"),
    ({"device": "tpu"}, "tpu"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, change, match):
    _one_line_error(capsys, _argv(tmp_path / "x.nc", **change), match)


def test_bad_out_directory_and_setting(tmp_path, capsys):
    _one_line_error(capsys, _argv(tmp_path / "missing" / "x.nc"), "does not exist")
    _one_line_error(capsys, _argv(tmp_path / "x.nc", extra=("--set", "colour=blue")), "--set")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_exits_2_with_one_line(tmp_path, capsys):
    _one_line_error(capsys, _argv(tmp_path / "x.nc", device="cuda"), "does not exist here")
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_matches_cpu_run(tmp_path, capsys):
    """The same float64 run on cuda and cpu records the same predictors (to 1e-6 relative)."""
    recs = {}
    for dev in ("cpu", "cuda"):
        out = tmp_path / f"{dev}.nc"
        assert main(_argv(out, device=dev, extra=("--set", "width=8"))) == 0
        with xr.open_dataset(out) as ds:
            recs[dev] = ds.load()
    for v in ("loss", "lambda_max_H", "lambda_max_Hhat", "lambda_grad_Hhat"):
        np.testing.assert_allclose(recs["cuda"][v].values, recs["cpu"][v].values, rtol=1e-6)
    assert math.isfinite(float(recs["cuda"]["critical_sharpness"].values[-1]))
