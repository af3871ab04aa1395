"""Observed regime of a phase-diagram cell (codes of :data:`dynsys.regimes.REGIME_CODES`).

From the per-cell statistics (log10 losses, spikes, status), with ``plateau = log10(c eta^k/k)``
the SignGD-like oscillation level of regime III (Thm 6.1 of the degenerate-polynomials paper,
"loss about eta^k"; math.md D12):

* 0 **diverged**: the run left float64 or met 0/0 (``status`` not 0, and not 8);
* 3 **III oscillating**: no exponential phase. With ``phase_steps`` (the longest run of
  consecutive steps whose loss is at least ``depth`` decades below the plateau,
  :mod:`dynsys.scan.episodes`): ``phase_steps < phase_length``. A regime-III oscillation dips that
  deep only by chance, when ``x`` lands near 0, and such a dip lasts about one step (at most 11-19
  steps on the 96 x 96 scans, 7 for 99.8-99.9 % of the cells far from the boundary); the exponential phases of
  regime II last longer (20-50 steps for a 30-decade phase at ``beta2 ~ 0.2``). Where
  ``phase_steps`` is not known (-1, or ``phase_steps=None``), the rule of the first scanner:
  ``sustained_loss >= plateau - depth``, where ``sustained_loss`` is the lowest level the loss
  stays below for a whole aligned 32-step window (it misses the short phases of small ``beta2``);
* 1 **I converging**: an exponential phase that is still going at the end: no completed spike
  and ``final_loss <= min_loss + log10(spike_factor)``;
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


def classify(min_loss, sustained_loss, final_loss, n_spikes, status, plateau, *, spike_factor, depth,
             phase_steps=None, phase_length=8):
    """Regime codes (int8 array) from the cell statistics; see the module docstring.

    Decided from the trajectory's statistics alone (no theory): ``plateau`` is ``log10(c lr^k/k)``.
    """
    min_loss = np.asarray(min_loss)
    reached = np.asarray(sustained_loss) < np.asarray(plateau) - depth
    if phase_steps is not None:
        ps = np.asarray(phase_steps)
        reached = np.where(ps >= 0, ps >= phase_length, reached)
    still = (np.asarray(n_spikes) == 0) & (np.asarray(final_loss) <= min_loss + np.log10(spike_factor))
    out = np.where(reached, np.where(still, CONVERGING, SPIKING), OSCILLATING)
    status = np.asarray(status)
    out = np.where(status == SCAN_RANGE, np.where(reached, SPIKING, OSCILLATING), out)
    out = np.where((status != 0) & (status != SCAN_RANGE), DIVERGED, out)
    return out.astype(np.int8)
