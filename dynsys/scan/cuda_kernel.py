"""The ``@cuda.jit`` kernel of the phase scan (imported only when a CUDA scan runs, see
:mod:`dynsys.scan.cuda_backend`): one thread per cell, :func:`dynsys.scan.cell.scan_cell`."""
from __future__ import annotations

from numba import cuda

from dynsys.scan.cell import scan_cell

__all__ = ["phase_kernel", "phase_kernel_signature"]


def phase_kernel(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, up, coupling_start,
                 min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                 fail_step):
    """Cell ``c = cuda.grid(1)``: :func:`~dynsys.scan.cell.scan_cell`, then its nine outputs (the
    arguments of :func:`dynsys.scan.kernels.scan_cells`, as device arrays)."""
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
