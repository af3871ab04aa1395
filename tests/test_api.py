"""The top-level API: every documented name resolves, and the toolkit works without torch."""
import subprocess
import sys

import dynsys


def test_every_public_name_resolves():
    for name in dynsys.__all__:
        assert getattr(dynsys, name) is not None, name


def test_lazy_api_runs_the_degenerate_rate():
    """Adam on x^4/4 in the linear regime: ln L falls by k ln(b2)/(2(k-2)) = ln(b2) per step (math.md D5)."""
    import math

    ds = dynsys.trajectory(dynsys.adam(1e-2, beta1=0.5, beta2=0.9, eps=0.0, bias_correction=False),
                           dynsys.power(4), x0=1.0, steps=20_000)
    slope = (float(ds.log10_loss[-1]) - float(ds.log10_loss[-5001])) / 5000 * math.log(10)
    assert abs(slope - math.log(0.9)) < 1e-6


_NO_TORCH = """
import sys
sys.modules['torch'] = None  # any 'import torch' now raises ImportError
import dynsys, dynsys.scan, dynsys.figures, dynsys.cli, theory
for name in dynsys.__all__:
    getattr(dynsys, name)
from theory.registry import all_claims
assert len(all_claims()) >= 29
from dynsys.cli import main
try:
    main(['predict', '--help'])
except SystemExit:
    pass
print('ok')
"""


def test_toolkit_imports_without_torch():
    out = subprocess.run([sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
