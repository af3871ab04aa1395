import os

os.environ.setdefault("MPLBACKEND", "Agg")
# numba-cuda kernels (device="cuda") run on numba's CUDA simulator here and in CI (no GPU); on a
# machine with a GPU run `NUMBA_ENABLE_CUDASIM=0 pytest tests/test_scan_cuda.py` to check the real device
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

try:  # small torch ops: one thread (the machine's second core comes and goes)
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is an optional extra
    pass
