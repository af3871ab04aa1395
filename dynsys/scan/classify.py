"""Observed regime of a phase-diagram cell (codes of :data:`dynsys.regimes.REGIME_CODES`).

From the per-cell statistics (log10 losses, spikes, status), with ``plateau = log10(c eta^k/k)``
the SignGD-like oscillation level of regime III (Thm 6.1 of the degenerate-polynomials paper,
"loss about eta^k"; math.md D12):

* 0 **diverged**: the run left float64 or met 0/0 (``status`` not 0, and not 8);
* 3 **III oscillating**: no exponential phase: ``sustained_loss >= plateau - depth``, where
  ``sustained_loss`` is the lowest level the loss stays below for a whole 32-step window (an
  oscillation that touches 0 by chance does not count);
* 1 **I converging**: an exponential phase (``sustained_loss < plateau - depth``) that is still
  going at the end: no completed spike and ``final_loss <= min_loss + log10(spike_factor)``;
* 2 **II spiking after convergence**: an exponential phase followed by a spike
  (``n_spikes >= 1`` or a final loss more than ``spike_factor`` above the minimum).

A cell the scanner stopped following because ``|x|`` jumped beyond the exponent range of one
window (status 8, :data:`dynsys.kernels.status.SCAN_RANGE`: a loss spike by a factor above about
``2^(k 1023/(2(k-1)))``) is labelled II if it had an exponential phase before, III otherwise.
"""
from __future__ import annotations

import numpy as np

from dynsys.kernels.status import SCAN_RANGE
from dynsys.regimes import CONVERGING, DIVERGED, OSCILLATING, SPIKING

__all__ = ["classify"]


def classify(min_loss, sustained_loss, final_loss, n_spikes, status, plateau, *, spike_factor, depth):
    """Regime codes (int8 array) from the cell statistics; see the module docstring."""
    min_loss = np.asarray(min_loss)
    reached = np.asarray(sustained_loss) < np.asarray(plateau) - depth
    still = (np.asarray(n_spikes) == 0) & (np.asarray(final_loss) <= min_loss + np.log10(spike_factor))
    out = np.where(reached, np.where(still, CONVERGING, SPIKING), OSCILLATING)
    status = np.asarray(status)
    out = np.where(status == SCAN_RANGE, np.where(reached, SPIKING, OSCILLATING), out)
    out = np.where((status != 0) & (status != SCAN_RANGE), DIVERGED, out)
    return out.astype(np.int8)
