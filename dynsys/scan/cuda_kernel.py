"""The ``@cuda.jit`` kernels of the phase scan and of the sharpness-map orbit diagram (imported only
when a CUDA scan runs, see :mod:`dynsys.scan.cuda_backend`): one thread per cell or parameter value,
built from the ``@njit`` functions the CPU kernels use."""
from __future__ import annotations

import math

from numba import cuda

from dynsys.scan.episodes import cell_phases
from dynsys.scan.lanes.cell import scan_cell
from dynsys.scan.orbit import _histogram_bin, _in_domain, _lyapunov_of_product, _rescaled_product, _sharpness_step

__all__ = ["phase_kernel", "phase_kernel_signature", "episodes_kernel", "episodes_kernel_signature", "sharpness_kernel",
           "sharpness_kernel_signature"]


def phase_kernel(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up, coupling_start,
                 min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                 fail_step):
    """Cell ``c = cuda.grid(1)``: :func:`~dynsys.scan.lanes.cell.scan_cell`, then its nine outputs (the
    arguments of :func:`dynsys.scan.lanes.scan_cells`, as device arrays)."""
    c = cuda.grid(1)
    if c < lr.shape[0]:
        (o_min, o_mstep, o_final, o_sus, o_nspk, o_csum, o_cn, o_st,
         o_fail) = scan_cell(k, curv, adaptive, bias_correction, lr[c], b1[c], b2[c], eps[c], wd[c], lrd[c], x0[c],
                             steps, up, coupling_start)
        min_log2x[c] = o_min
        min_step[c] = o_mstep
        final_log2x[c] = o_final
        sustained_log2x[c] = o_sus
        n_spikes[c] = o_nspk
        coupling_sum[c] = o_csum
        coupling_n[c] = o_cn
        status[c] = o_st
        fail_step[c] = o_fail


def phase_kernel_signature():
    """The one signature the kernel is compiled for (eagerly, with the chosen NVVM options)."""
    from numba import boolean, float64, int8, int64, void

    f = float64[::1]
    i = int64[::1]
    return void(int64, float64, boolean, boolean, f, f, f, f, f, f, f, int64, float64, int64,
                f, i, f, f, i, f, i, int8[::1], i)


def episodes_kernel(k, curv, bias_correction, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen, phase_steps,
                    phase_steps_half, min_log2x_half, final_log2x_half, n_spikes_half, arrival_step, phase_start):
    """Cell ``c = cuda.grid(1)`` of the exponential-phase pass: :func:`~dynsys.scan.episodes.cell_phases` (the
    function the CPU pass's lanes reproduce bit for bit), then its seven outputs
    (:data:`dynsys.scan.episodes.PHASE_OUTPUTS`, as device arrays)."""
    c = cuda.grid(1)
    if c < lr.shape[0]:
        (o_long, o_long_half, o_min_half, o_final_half, o_nspk_half, o_arrival,
         o_start) = cell_phases(k, curv, bias_correction, lr[c], b1[c], b2[c], eps[c], x0[c], steps, depth, spike_up,
                                half, plen)
        phase_steps[c] = o_long
        phase_steps_half[c] = o_long_half
        min_log2x_half[c] = o_min_half
        final_log2x_half[c] = o_final_half
        n_spikes_half[c] = o_nspk_half
        arrival_step[c] = o_arrival
        phase_start[c] = o_start


def episodes_kernel_signature():
    """The one signature :func:`episodes_kernel` is compiled for."""
    from numba import boolean, float64, int64, void

    f = float64[::1]
    i = int64[::1]
    return void(int64, float64, boolean, f, f, f, f, f, int64, float64, float64, int64, int64, i, i, f, f, i, i, i)


def sharpness_kernel(gammas, ks, s0, discard, keep, orbit, use_hist, hist, hist_lo, hist_hi, final, esc, lyap):
    """Orbit diagram of the effective-sharpness map ``s -> gamma s (1-s)^{k-2}``, one thread per
    parameter value ``i = cuda.grid(1)``: the iteration, escape rule, Lyapunov product and histogram of
    :func:`dynsys.scan.orbit._sharpness_one` from the same shared functions
    (:func:`~dynsys.scan.orbit._sharpness_step`, ``_rescaled_product``, ``_lyapunov_of_product``,
    ``_histogram_bin``, ``_in_domain``). Writes the kept points (``orbit`` rows start as NaN), the
    final state, the escape step (-1: none) and the Lyapunov exponent; the host then sets the points
    after an escape to NaN and detects the period (:func:`dynsys.scan.orbit._finish_rows`)."""
    i = cuda.grid(1)
    if i >= gammas.shape[0]:
        return
    nstore = orbit.shape[1]
    nbins = hist.shape[1]
    gamma = gammas[i]
    k = ks[i]
    c2 = k - 1.0
    s = s0[i]
    if not _in_domain(s):
        esc[i] = 0
        final[i] = s
        lyap[i] = math.nan
        return
    prod = 1.0
    pexp = 0
    for t in range(discard + keep):
        sn, d = _sharpness_step(gamma, k, c2, s)
        if t >= discard:
            prod, pexp = _rescaled_product(prod * d, pexp)
        s = sn
        if not _in_domain(s):
            esc[i] = t + 1
            final[i] = s
            lyap[i] = math.nan
            return
        if t >= discard:
            pos = t - discard - (keep - nstore)
            if pos >= 0:
                orbit[i, pos] = s
            if use_hist:
                b = _histogram_bin(s, hist_lo, hist_hi, nbins)
                if 0 <= b < nbins:
                    hist[i, b] += 1.0
    esc[i] = -1
    final[i] = s
    lyap[i] = _lyapunov_of_product(prod, pexp, keep)


def sharpness_kernel_signature():
    from numba import boolean, float64, int64, void

    f = float64[::1]
    return void(f, int64[::1], f, int64, int64, float64[:, ::1], boolean, float64[:, ::1], float64, float64, f,
                int64[::1], f)
