"""Resumable and distributed phase scans: a real subprocess killed by a real signal, resumed with
--resume; chunks on a Dask LocalCluster. Both must give the uninterrupted local run bit for bit."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dynsys.cli import main
from dynsys.scan import phase_diagram
from dynsys.scan.store import ChunkStore

ROOT = Path(__file__).resolve().parents[1]
# 32 chunks of one 32-lane block each; ~25-100 ms per chunk on the 2-core machine
GRID = dict(k=4, x="beta1:0:1:32", y="beta2:0:1:32", lr=0.01, steps=200_000, chunk=32)
ARGS = ["phase", "--optimizer", "adam", "--objective", "power", "--k", "4", "--x", GRID["x"], "--y", GRID["y"],
        "--lr", "0.01", "--steps", str(GRID["steps"]), "--chunk", str(GRID["chunk"])]
NCHUNKS = 32


def _same(a, b):
    """Bit-identical variables, coordinates and attrs (no timing attrs exist)."""
    assert set(a.data_vars) == set(b.data_vars)
    for v in list(a.data_vars) + list(a.coords):
        assert a[v].dtype == b[v].dtype, v
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    assert set(a.attrs) == set(b.attrs)
    for key, val in a.attrs.items():
        other = b.attrs[key]
        assert np.array_equal(np.asarray(val), np.asarray(other), equal_nan=np.asarray(val).dtype.kind == "f"), key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same scan, uninterrupted, through netCDF."""
    path = tmp_path_factory.mktemp("ref") / "ref.nc"
    phase_diagram("adam", "power", progress=False, **GRID).to_netcdf(path)
    with xr.open_dataset(path) as ds:
        return ds.load()


def test_killed_scan_resumes_only_missing_chunks_and_is_bit_identical(tmp_path, uninterrupted, capsys):
    out = tmp_path / "scan.nc"
    store = ChunkStore(str(out) + ".chunks")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dynsys", *ARGS, "--out", str(out)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(store.finished()) < 2:  # poll the store until some chunks are on disk
            assert proc.poll() is None, "the scan ended before it could be interrupted"
            assert time.monotonic() < deadline, "no chunk was stored in 120 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = store.finished()
    assert 2 <= len(done) < NCHUNKS, "killed after some but not all chunks"
    assert not out.exists()
    # without --resume the store is refused (no work lost), one line, exit 2
    assert main([*ARGS, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--resume" in err and "\n" not in err
    # a different setting is refused too, naming the setting
    bad = [a if a != "200000" else "1000" for a in ARGS]
    assert main([*bad, "--out", str(out), "--resume", "--no-progress"]) == 2
    assert "steps" in capsys.readouterr().err
    assert store.finished() == done  # nothing written by the refused runs
    # resume: only the missing chunks are computed
    assert main([*ARGS, "--out", str(out), "--resume", "--no-progress"]) == 0
    msg = capsys.readouterr().out
    m = re.search(r"computed (\d+) of (\d+) chunks \((\d+) resumed", msg)
    assert m, msg
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (NCHUNKS - len(done), NCHUNKS, len(done))
    assert not Path(store.path).exists()  # removed once the netCDF is written
    with xr.open_dataset(out) as ds:
        _same(ds.load(), uninterrupted)


def test_api_resume_recomputes_exactly_the_deleted_chunks(tmp_path):
    kw = dict(k=4, x="beta1:0:1:12", y="beta2:0:1:10", lr=0.01, steps=800, chunk=16, progress=False)
    store = tmp_path / "st"
    first = phase_diagram("adam", store=store, **kw)
    st = ChunkStore(store)
    assert st.finished() == set(range(8))
    for i in (0, 3, 7):  # lose three chunks (7: the short last one)
        os.remove(st.chunk_path(i))
    counters = {}
    again = phase_diagram("adam", store=store, resume=True, counters=counters, **kw)
    assert counters == {"nchunks": 8, "resumed": 5, "computed": 3}
    _same(again, first)
    with pytest.raises(ValueError, match="resume"):
        phase_diagram("adam", store=store, **kw)
    with pytest.raises(ValueError, match="lr"):
        phase_diagram("adam", store=store, resume=True, **{**kw, "lr": 0.02})


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


def test_dask_cluster_gives_the_local_result(cluster, tmp_path, capsys):
    from distributed import Client

    kw = dict(k=4, x="beta1:0:1:20", y="beta2:0:1:16", lr=0.01, steps=1500, chunk=48, progress=False)
    local = phase_diagram("adam", **kw)
    with Client(cluster) as client:
        counters = {}
        remote = phase_diagram("adam", scheduler=client, counters=counters, **kw)
        assert counters["computed"] == 7
    _same(remote, local)
    # the CLI with --scheduler ADDRESS
    out = tmp_path / "d.nc"
    args = ["phase", "--optimizer", "adam", "--k", "4", "--x", kw["x"], "--y", kw["y"], "--lr", "0.01", "--steps", "1500",
            "--chunk", "48", "--scheduler", cluster.scheduler_address, "--out", str(out), "--no-progress"]
    assert main(args) == 0
    with xr.open_dataset(out) as ds:
        _same(ds.load(), local)
    # an address where no scheduler runs: one line, exit 2
    assert main([*args[:-5], "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "e.nc"), "--no-progress"]) == 2
    assert "scheduler" in capsys.readouterr().err
    assert not (tmp_path / "e.nc").exists()
