"""The CUDA backend of the phase and orbit scans (issue 11): device="cuda" gives the CPU scan's Dataset.

Here and in CI the kernels run on numba's CUDA simulator (tests/conftest.py sets
NUMBA_ENABLE_CUDASIM=1 unless it is set): each simulated thread runs the CPU compilation of the
very per-cell function the GPU runs (dynsys.scan.lanes.cell.scan_cell), so every output must equal the
CPU lane kernel's bit for bit. With NUMBA_ENABLE_CUDASIM=0 on a machine with a GPU the same tests
run on the device, where the iteration is still bit for bit (no fma contraction) and only libdevice's
log2 in the logarithmic outputs may differ in the last bit (compared to 1e-12 relative); the tests
marked gpu run only there."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dynsys.kernels.status import OK, SCAN_RANGE, STATE_OVERFLOW, ZERO_BY_ZERO
from dynsys.scan import cuda_backend as cb
from dynsys.scan import phase_diagram
from dynsys.scan.store import ChunkStore

ROOT = Path(__file__).resolve().parents[1]
SIM = cb.simulator()
pytestmark = pytest.mark.skipif(not cb.cuda_available(), reason="needs numba-cuda and a GPU or the CUDA simulator")
gpu = pytest.mark.skipif(SIM or not cb.cuda_available(), reason="needs a CUDA GPU (not the simulator)")
#: float outputs formed with log2 (libdevice on a GPU): last-bit differences allowed there
LOG_VARS = {"min_loss", "final_loss", "sustained_loss", "coupling_ratio"}


def assert_same_scan(gpu_ds, cpu_ds):
    """Every variable and attr of the CUDA scan equals the CPU scan's (bit for bit on the simulator)."""
    assert set(gpu_ds.data_vars) == set(cpu_ds.data_vars)
    for v in cpu_ds.data_vars:
        a, b = gpu_ds[v].values, cpu_ds[v].values
        assert a.dtype == b.dtype, v
        if SIM or v not in LOG_VARS:
            np.testing.assert_array_equal(a, b, err_msg=v)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=v)
    assert set(gpu_ds.attrs) == set(cpu_ds.attrs)
    for key, val in cpu_ds.attrs.items():
        assert np.array_equal(np.asarray(gpu_ds.attrs[key]), np.asarray(val),
                              equal_nan=np.asarray(val).dtype.kind == "f"), key


@pytest.mark.parametrize("optimizer, kw", [
    # the paper's diagram (k = 4, no bias correction, eps = 0): regimes I, II and III all occur
    ("adam", dict(k=4, x="beta1:0:1:8", y="beta2:0:1:8", lr=0.1, steps=1000)),
    ("adam", dict(k=6, x="beta1:0:1:5", y="eps:0:1e-3:4", lr=0.05, steps=300, bias_correction=True)),
    ("adamw", dict(k=4, x="lr:1e-3:0.3:5:log", y="weight_decay:0:0.5:4", eps=1e-8, bias_correction=True, steps=300)),
    # converging by weight decay (m outgrows g: careful runs with m in its own units) and diverging past lr wd = 2
    ("adamw", dict(k=4, x="lr:0.01:1:4:log", y="weight_decay:0.5:20:4", eps=1e-8, steps=4000)),
    ("rmsprop", dict(k=6, x="beta2:0:1:6", y="lr:0.001:0.1:4:log", lr_decay=0.999, steps=300)),
    ("momentum", dict(k=4, x="beta1:0:1:6", y="lr:0.01:2:4", steps=300)),
    ("gd", dict(objective="quadratic", x="lr:0.1:2.5:6", y="curvature:0.5:1.5:4", k=2, steps=200)),
])
def test_cuda_scan_equals_the_cpu_scan(optimizer, kw):
    cpu = phase_diagram(optimizer, progress=False, **kw)
    dev = phase_diagram(optimizer, progress=False, device="cuda", **kw)
    assert_same_scan(dev, cpu)
    if optimizer == "adam" and kw["k"] == 4:  # the theory's three regimes are all in this small grid
        assert {1, 2, 3} <= set(np.unique(dev.regime.values))


def test_cuda_scan_equals_cpu_on_cells_that_fail_diverge_or_leave_the_range():
    """0/0 at x0 = 0 (eps = 0), state overflows at huge learning rates (diverged) next to cells whose
    g^2 leaves float64 while their loss does not (lr 3e58 and 5e69: loss 1e228 and 1e273, followed
    with units renewed every step), the giant spikes of b1 = b2 = 6.5/256 and 0.0225 that leave one
    span's range (the second by 2^1074 in one step, redone in fresh units), the k = 6 spike that
    the first run reports as a state overflow (run again, kept: status 0), and the exact sign step
    of b1 = b2 = 0 reaching x = 0 at step n = x0/lr (0/0 at step n)."""
    statuses = set()
    cases = [
        dict(k=4, x="lr:1e-3:1e120:11:log", y="x0:-1:1:5", eps=0.0, steps=500),
        dict(k=4, x=("beta1", 6.5 / 256 - 2.0**-10, 6.5 / 256 + 2.0**-10, 1),
             y=("beta2", 6.5 / 256 - 2.0**-10, 6.5 / 256 + 2.0**-10, 1), lr=0.01, steps=1000),
        dict(k=4, x=("beta1", 0.0225 - 2.0**-10, 0.0225 + 2.0**-10, 1),
             y=("beta2", 0.0225 - 2.0**-10, 0.0225 + 2.0**-10, 1), lr=0.01, steps=1500),
        dict(k=6, x=("beta1", 32.5 / 96 - 2.0**-12, 32.5 / 96 + 2.0**-12, 1),
             y=("beta2", 22.5 / 96 - 2.0**-12, 22.5 / 96 + 2.0**-12, 1), lr=0.01, steps=1140),
        dict(k=4, x="x0:0.3125:3.4375:5", y="lr:0.015625:0.078125:2", beta1=0.0, beta2=0.0, steps=120,
             coupling_window=0.75),
    ]
    for kw in cases:
        cpu = phase_diagram("adam", progress=False, **kw)
        dev = phase_diagram("adam", progress=False, device="cuda", **kw)
        assert_same_scan(dev, cpu)
        statuses |= set(np.unique(dev.status.values).tolist())
        if kw is cases[0]:
            huge = dev.sel(lr=slice(1e58, 1e70)).isel(x0=[0, 1, 3, 4])  # g^2 ~ lr^6 > 1e308, loss ~ lr^4 < 1e301
            assert huge.sizes["lr"] == 2 and np.all(huge.status.values == OK)
            assert np.all(dev.sel(lr=slice(1e80, None)).isel(x0=[0, 1, 3, 4]).status.values == STATE_OVERFLOW)
        else:
            assert np.all(dev.status.values != SCAN_RANGE)
    last = dev  # the sign-step grid: x reaches 0 exactly at step n = x0 / lr, then 0/0
    n = np.rint(last.x0.values[None, :] / last.lr.values[:, None]).astype(int)
    assert np.all(last.status.values == ZERO_BY_ZERO) and np.array_equal(last.fail_step.values, n)
    assert {OK, STATE_OVERFLOW, ZERO_BY_ZERO} <= statuses, statuses


def test_cuda_chunks_resume_a_cpu_store_bit_identical(tmp_path):
    """Chunks are the same unit on both devices: a store begun on the CPU, with chunks lost, is
    finished on CUDA (only the missing chunks computed) and equals the uninterrupted CPU scan."""
    kw = dict(k=4, x="beta1:0:1:12", y="beta2:0:1:10", lr=0.01, steps=600, chunk=16, progress=False)
    store = tmp_path / "st"
    first = phase_diagram("adam", store=store, **kw)
    st = ChunkStore(store)
    for i in (0, 3, 7):
        os.remove(st.chunk_path(i))
    counters = {}
    again = phase_diagram("adam", store=store, resume=True, counters=counters, device="cuda",
                          **{**kw, "chunk": None})  # chunk=None on resume: the store's chunk (16)
    assert counters == {"nchunks": 8, "resumed": 5, "computed": 3}
    assert_same_scan(again, first)


def test_dask_places_cuda_chunks_on_gpu_workers():
    """device="cuda" with a scheduler: every chunk task asks for the worker resource GPU; a
    LocalCluster whose worker offers GPU=1 runs them and gives the local CPU scan."""
    distributed = pytest.importorskip("distributed")
    kw = dict(k=4, x="beta1:0:1:9", y="beta2:0:1:7", lr=0.01, steps=400, chunk=16, progress=False)
    local = phase_diagram("adam", **kw)
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Restrictions(SchedulerPlugin):
        """Records each task's resource restrictions as it moves (the scheduler forgets finished tasks,
        so reading them after the scan races with their release)."""

        def __init__(self, scheduler):
            self.scheduler, self.seen = scheduler, set()

        def transition(self, key, start, finish, *args, **kwargs):
            ts = self.scheduler.tasks.get(key)
            if ts is not None:
                self.seen.add(str(ts.resource_restrictions))

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  resources={"GPU": 1}) as cluster, distributed.Client(cluster) as client:
        rec = Restrictions(cluster.scheduler)
        cluster.scheduler.add_plugin(rec)
        counters = {}
        remote = phase_diagram("adam", scheduler=client, counters=counters, device="cuda", **kw)
        assert counters["computed"] == 4
    assert rec.seen == {str({"GPU": 1})}
    assert_same_scan(remote, local)


def test_device_argument_is_validated():
    kw = dict(k=4, x="beta1:0:1:2", y="beta2:0:1:2", lr=0.01, steps=10, progress=False)
    with pytest.raises(ValueError, match=r"device = 'gpu' is not a device; allowed: 'cpu', 'cuda' or 'auto'"):
        phase_diagram("adam", device="gpu", **kw)
    with pytest.raises(ValueError, match="reference = True with device = 'cuda'"):
        phase_diagram("adam", device="cuda", reference=True, **kw)
    assert cb.resolve_device("auto") == "cuda" and cb.resolve_device("cpu") == "cpu"


def test_gpu_chunk_fits_a_quarter_of_free_memory():
    # 1 GiB free: a quarter of it at 121 bytes per cell
    assert cb.DEVICE_BYTES_PER_CELL == 7 * 8 + 8 * 8 + 1
    assert cb.chunk_for_device(10**9, free_bytes=2**30) == 2**30 // 4 // 121
    assert cb.chunk_for_device(10**9, free_bytes=2**40) == cb.MAX_GPU_CHUNK
    assert cb.chunk_for_device(1000, free_bytes=2**40) == 1000


def _no_gpu_env():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.skipif(not SIM, reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_one_clear_error(tmp_path):
    """Without a GPU (and without the simulator): the API raises one ValueError naming device,
    the CLI exits 2 with one line and writes nothing; device="auto" runs on the CPU."""
    code = ("from dynsys.scan import phase_diagram\n"
            "kw = dict(k=4, x='beta1:0:1:2', y='beta2:0:1:2', lr=0.01, steps=50, progress=False)\n"
            "assert phase_diagram('adam', device='auto', **kw).attrs['chunk'] == 16384\n"
            "try:\n    phase_diagram('adam', device='cuda', **kw)\nexcept ValueError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], env=_no_gpu_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("device = 'cuda' cannot run here: ") and "allowed: device = 'cpu' or 'auto'" in r.stdout
    out = tmp_path / "p.nc"
    r = subprocess.run([sys.executable, "-m", "dynsys", "phase", "--x", "beta1:0:1:2", "--y", "beta2:0:1:2", "--lr",
                        "0.01", "--steps", "50", "--device", "cuda", "--out", str(out), "--no-progress"],
                       env=_no_gpu_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "device = 'cuda' cannot run here" in lines[0], r.stderr
    assert not out.exists()


@pytest.mark.gpu
@gpu
def test_gpu_scan_256x256_equals_cpu():
    """On the device: a 256 x 256 paper diagram equals the CPU scan (every step bit for bit: status,
    steps, spike and sample counts exactly; logs to 1e-12 relative) and its chunk is the whole grid."""
    kw = dict(k=4, x="beta1:0:1:256", y="beta2:0:1:256", lr=0.01, steps=2000, progress=False)
    dev = phase_diagram("adam", device="cuda", **{**kw, "chunk": None})
    cpu = phase_diagram("adam", **kw)
    assert dev.attrs["chunk"] == 256 * 256
    dev.attrs["chunk"] = cpu.attrs["chunk"]
    assert_same_scan(dev, cpu)


@pytest.mark.gpu
@gpu
def test_gpu_update_compiles_without_fma_contraction():
    """NVVM contracts b1 m + (1 - b1) g into an fma by default; _no_contraction turns that off."""
    from numba import cuda

    from dynsys.scan.lanes.arithmetic import _update_adaptive

    def step(a, out):
        i = cuda.grid(1)
        if i < a.shape[0]:
            out[i] = _update_adaptive(a[i], a[i], a[i], a[i], 0.1, 0.9, 0.1, 0.99, 0.01, 0.0, 0.0, 1.0)[0]

    sig = "void(float64[::1], float64[::1])"
    def ptx(kernel):
        return "".join(kernel.inspect_asm().values())

    assert "fma.rn.f64" in ptx(cuda.jit(sig)(step))
    with cb._no_contraction():
        k2 = cuda.jit(sig)(step)
    assert "fma.rn.f64" not in ptx(k2)
    a = np.linspace(0.5, 2.0, 64)
    out = np.empty(64)
    k2[1, 64](a, out)
    from numba import njit

    ref = njit(lambda a: _update_adaptive(a, a, a, a, 0.1, 0.9, 0.1, 0.99, 0.01, 0.0, 0.0, 1.0)[0])
    np.testing.assert_array_equal(out, [ref(v) for v in a])


@pytest.mark.gpu
@gpu
def test_gpu_phase_pass_compiles_without_fma_contraction():
    """The exponential-phase kernel is compiled like the scan kernel: no fused multiply-add in its PTX."""
    kern = cb._compiled_kernel("episodes")
    assert "fma.rn.f64" not in "".join(kern.inspect_asm().values())


# ----------------------------------------------------------------------------- orbit diagrams

def assert_same_orbit(dev, cpu):
    assert set(dev.data_vars) == set(cpu.data_vars)
    for v in cpu.data_vars:
        a, b = dev[v].values, cpu[v].values
        assert a.dtype == b.dtype, v
        if SIM or v != "lyapunov":  # ln of the product: libdevice's log on a GPU
            np.testing.assert_array_equal(a, b, err_msg=v)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=v)
    assert dev.attrs == cpu.attrs


@pytest.mark.parametrize("k, kw", [
    (4, dict(discard=300, keep=200)),
    (3, dict(discard=100, keep=300, store_points=64)),  # the logistic map, only the last points stored
    (6, dict(discard=200, keep=400, histogram_bins=16)),
])
def test_cuda_orbit_diagram_equals_cpu(k, kw):
    """The sharpness map s -> gamma s (1-s)^{k-2} over gamma, across period 1, the doubling cascade,
    chaos and escape (s leaves (0, 2)): the same points, escapes and periods as the CPU. Theory
    (Prop. 5.6, math.md D10): the fixed point s* = 1 - gamma^{-1/(k-2)} is stable with
    lambda = ln|1 - (k-2) s*/(1-s*)| below gamma = (k/(k-2))^{k-2}."""
    top = {3: 4.2, 4: 12.0, 6: 20.0}[k]
    gammas = np.linspace(1.05, top, 40)
    from dynsys.scan import orbit_diagram

    cpu = orbit_diagram("sharpness", "gamma", gammas, fixed={"k": k}, **kw)
    dev = orbit_diagram("sharpness", "gamma", gammas, fixed={"k": k}, device="cuda", **kw)
    assert_same_orbit(dev, cpu)
    stable = gammas < (k / (k - 2)) ** (k - 2) * 0.97
    s_star = 1 - gammas[stable] ** (-1.0 / (k - 2))
    assert np.all(dev.period.values[stable] == 1)
    np.testing.assert_allclose(dev.lyapunov.values[stable], np.log(np.abs(1 - (k - 2) * s_star / (1 - s_star))),
                               rtol=1e-3, atol=5e-3)
    assert dev.escaped.values.any() and not dev.escaped.values.all()
    esc = dev.escaped.values
    assert np.isnan(dev.lyapunov.values[esc]).all() and np.all(dev.period.values[esc] == 0)


def test_cuda_orbit_refuses_what_it_does_not_run():
    from dynsys.scan import orbit_diagram

    with pytest.raises(ValueError, match=r"device = 'cuda' does not run continuation = True"):
        orbit_diagram("sharpness", "gamma", [2.0, 2.5], fixed={"k": 4}, continuation=True, device="cuda")
    with pytest.raises(ValueError, match=r"device = 'cuda' does not run system 'adam-normalized'"):
        orbit_diagram("adam-normalized", "beta2", [0.5, 0.6], device="cuda")
    with pytest.raises(ValueError, match=r"device = 'tpu' is not a device"):
        orbit_diagram("sharpness", "gamma", [2.0], fixed={"k": 4}, device="tpu")
    # auto: CUDA where it applies, the CPU elsewhere (same results either way)
    a = orbit_diagram("sharpness", "gamma", [2.0, 2.5], fixed={"k": 4}, continuation=True, device="auto")
    b = orbit_diagram("sharpness", "gamma", [2.0, 2.5], fixed={"k": 4}, continuation=True)
    assert_same_orbit(a, b)


def test_cli_device_cuda_on_phase_and_bifurcation(tmp_path, capsys):
    import xarray as xr

    from dynsys.cli import main

    out = tmp_path / "b.nc"
    args = ["bifurcation", "--map", "sharpness", "--k", "4", "--param", "gamma:1.5:6.5:24", "--discard", "200",
            "--keep", "100"]
    assert main([*args, "--device", "cuda", "--out", str(out)]) == 0
    assert main([*args, "--out", str(tmp_path / "c.nc")]) == 0
    with xr.open_dataset(out) as a, xr.open_dataset(tmp_path / "c.nc") as b:
        assert_same_orbit(a.load(), b.load())
    assert main([*args, "--continuation", "--device", "cuda", "--out", str(tmp_path / "d.nc")]) == 2
    err = capsys.readouterr().err.strip()
    assert "device = 'cuda' does not run continuation" in err and "\n" not in err
    ph = ["phase", "--x", "beta1:0:1:4", "--y", "beta2:0:1:4", "--lr", "0.05", "--steps", "300", "--no-progress"]
    assert main([*ph, "--device", "cuda", "--out", str(tmp_path / "p.nc")]) == 0
    assert main([*ph, "--out", str(tmp_path / "q.nc")]) == 0
    with xr.open_dataset(tmp_path / "p.nc") as a, xr.open_dataset(tmp_path / "q.nc") as b:
        assert_same_scan(a.load(), b.load())


@pytest.mark.parametrize("k, curv, bc, eps", [(4, 1.0, False, 0.0), (6, 1.0, True, 1e-8), (2, 3.0, False, 0.0)])
def test_cuda_phase_pass_equals_the_cpu_lanes(k, curv, bc, eps):
    """The exponential-phase pass on the device (one thread per cell, dynsys.scan.episodes.cell_phases) gives the
    CPU lanes' outputs: on the simulator bit for bit, on a GPU up to libdevice's log2 in the two log2 outputs."""
    from dynsys.scan.episodes import PHASE_OUTPUTS, phase_statistics

    rng = np.random.default_rng(k)
    n, steps = 37, 600
    b1, b2 = rng.uniform(0, 0.99, n), rng.uniform(0.001, 0.999, n)
    x0 = np.where(np.arange(n) == 3, 0.0, 1.0)
    args = (k, curv, bc, np.full(n, 0.05), b1, b2, eps, x0, steps)
    cpu = phase_statistics(*args, depth=5.0, spike_factor=100.0)
    dev = phase_statistics(*args, depth=5.0, spike_factor=100.0, device="cuda")
    assert "episodes" in cb._kernels
    for key in PHASE_OUTPUTS:
        if SIM or key not in ("min_log2x_half", "final_log2x_half"):
            np.testing.assert_array_equal(dev[key], cpu[key], err_msg=key)
        else:
            np.testing.assert_allclose(dev[key], cpu[key], rtol=1e-12, atol=0, err_msg=key)
    assert np.any(cpu["phase_steps"] >= 8) and np.any(cpu["phase_steps"] < 8)
    with pytest.raises(ValueError, match="device = 'gpu'"):
        phase_statistics(*args, depth=5.0, spike_factor=100.0, device="gpu")
