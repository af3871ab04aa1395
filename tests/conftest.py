import os

os.environ.setdefault("MPLBACKEND", "Agg")

try:  # small torch ops: one thread (the machine's second core comes and goes)
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is an optional extra
    pass
