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

# Property tests: the default profile is derandomized, so `make test` (and CI on a fresh clone)
# draws the same examples every run and a red run is reproducible. Explore new examples with
# `HYPOTHESIS_PROFILE=explore pytest tests` (random seeds; 1000 examples where a test sets none).
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("default-derandomized", derandomize=True, database=None)
    _hypothesis_settings.register_profile("explore", max_examples=1000)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default-derandomized"))
except ImportError:
    pass
