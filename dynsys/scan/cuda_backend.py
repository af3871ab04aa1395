"""CUDA backend of the phase scan (numba-cuda): one GPU thread per cell.

The kernel calls :func:`dynsys.scan.lanes.cell.scan_cell`, an ``@numba.njit`` function of scalars built
from the same shared inline functions as the CPU kernels (:mod:`dynsys.scan.lanes`); numba-cuda
compiles an ``@njit`` function called from a ``@cuda.jit`` kernel for the CUDA target, so the GPU
runs the very arithmetic of the scalar reference, not a copy of it.

Bit-identity on a GPU
---------------------
* ``+ - * /`` and ``sqrt`` of float64 are IEEE correctly rounded on the GPU as on the CPU
  (numba-cuda without ``fastmath`` passes ``-prec-div=1 -prec-sqrt=1`` defaults to NVVM;
  ``ftz`` does not apply to float64).
* NVVM *contracts* ``a*b + c`` into one fused multiply-add by default (its option ``-fma=1``), and
  numba-cuda 0.30 has no ``cuda.jit`` option to turn that off (NVIDIA/numba-cuda issue 118,
  pull request 839 adding ``fma=`` is still open). Contraction changes the rounding of
  ``b1 m + (1-b1) g`` and ``b2 v + cv g^2``, so the trajectories would drift from the CPU's. The
  kernel is therefore compiled with ``-fma=0`` (:func:`_no_contraction`: NVVM's own option, put
  into the options numba-cuda hands to NVVM while this kernel compiles; a ``cuda.jit(fma=...)``
  option is used instead when numba-cuda has one). Checked on the PTX (compiled here without a
  GPU, for compute capability 9.0, numba-cuda 0.30.4, NVVM of CUDA 13.0): 258 ``fma.rn.f64`` by
  default; with ``-fma=0`` every multiply and add of the iteration is a separately rounded
  ``mul.rn``/``add.rn``/``sub.rn`` (plus ``div.rn``, ``sqrt.rn``), and the 238 ``fma.rn.f64`` left
  are the 14 inlined copies of libdevice's ``log2`` (17 each, part of its algorithm, checked on a
  kernel computing only ``log2``; 7 per copy of the cell's run, and the kernel holds two: the run
  and the careful rerun of a status-8 cell), which only the logarithmic outputs use. (Counted before
  the careful run's fresh-unit step ``_wide_step`` was added; it is compiled with the same option.
  The count was not repeated: compiling this kernel's PTX here now stops at CUDA driver
  initialization, with no GPU.)
* ``frexp``/``ldexp`` are exact; the iteration itself uses no other transcendental function, so
  every state, status code, step and regime is bit for bit the CPU's. ``log2`` (libdevice on the GPU,
  the C library on the CPU) is used only for the logarithmic outputs (``min_log2x``,
  ``final_log2x``, ``sustained_log2x``, the coupling samples): these may differ in the last bit
  (libdevice's ``log2`` has at most 1 ulp error), i.e. below 1e-15 relative.

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) each simulated thread calls the CPU
compilation of :func:`~dynsys.scan.lanes.cell.scan_cell`: the outputs are the CPU's bit for bit, which
is what the tests check on every status code.

Memory: a cell needs :data:`DEVICE_BYTES_PER_CELL` bytes on the GPU (7 float64 inputs, the 9
outputs); :func:`chunk_for_device` picks a chunk that fits in a quarter of the free GPU memory.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import threading

import numpy as np

__all__ = ["DEVICES", "resolve_device", "cuda_available", "simulator", "scan_cells_cuda", "chunk_for_device",
           "DEVICE_BYTES_PER_CELL", "orbit_sharpness_cuda"]

#: values of the ``device`` argument
DEVICES = ("cpu", "cuda", "auto")
#: GPU bytes per cell: 7 float64 inputs and the outputs (8 x 8 bytes and the int8 status)
DEVICE_BYTES_PER_CELL = 7 * 8 + 8 * 8 + 1
#: threads per block
THREADS_PER_BLOCK = 128
#: largest chunk chosen for a GPU (cells): fills an H100 many times over (132 SMs x 2048 threads)
#: while keeping progress and resume granular
MAX_GPU_CHUNK = 1 << 22

_lock = threading.Lock()
_kernels: dict = {}


def simulator() -> bool:
    """Is numba's CUDA simulator on (``NUMBA_ENABLE_CUDASIM=1``)?"""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def _why_no_cuda():
    """None when a CUDA device (or the simulator) can run the kernels, else the reason."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'dynsys[cuda]')"
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - broken installation
        return f"numba.cuda cannot be imported ({type(exc).__name__}: {exc})"
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # pragma: no cover - driver errors
        return f"numba.cuda.is_available() failed ({type(exc).__name__})"
    return "numba.cuda.is_available() is False: no CUDA GPU or driver on this machine"


def cuda_available() -> bool:
    """A CUDA device (or the simulator) is there and numba-cuda can use it."""
    return _why_no_cuda() is None


def resolve_device(device, name="device") -> str:
    """``"cpu"`` or ``"cuda"`` for ``device`` in :data:`DEVICES` (``"auto"``: CUDA when
    ``numba.cuda.is_available()``); ``"cuda"`` without a usable GPU is a ValueError naming ``name``."""
    if not isinstance(device, str) or device not in DEVICES:
        raise ValueError(f"{name} = {device!r} is not a device; allowed: 'cpu', 'cuda' or 'auto'")
    if device == "cpu":
        return "cpu"
    why = _why_no_cuda()
    if device == "auto":
        return "cpu" if why else "cuda"
    if why:
        raise ValueError(f"{name} = 'cuda' cannot run here: {why}; allowed: {name} = 'cpu' or 'auto' "
                         "(or numba's CUDA simulator, NUMBA_ENABLE_CUDASIM=1, for tiny checks)")
    return "cuda"


@contextlib.contextmanager
def _no_contraction():
    """Compile with NVVM's ``-fma=0`` (no ``a*b + c`` -> fma contraction): see the module docstring.
    numba-cuda 0.30 builds the NVVM options inside its compiler; they are handed to
    ``numba.cuda.cudadrv.nvvm.compile_ir``, so that call gets ``fma=False`` added while the kernel
    compiles (under a lock: nothing else compiles then)."""
    from numba.cuda.cudadrv import nvvm

    original = nvvm.compile_ir

    def compile_ir(llvmir, **options):
        options.setdefault("fma", False)
        return original(llvmir, **options)

    nvvm.compile_ir = compile_ir
    try:
        yield
    finally:
        nvvm.compile_ir = original


def _compiled_kernel(name="phase"):
    """A ``@cuda.jit`` kernel of :mod:`dynsys.scan.cuda_kernel` (``"phase"``, ``"episodes"`` or ``"sharpness"``),
    compiled once per process; on a GPU eagerly for its one signature without fma contraction
    (:func:`_no_contraction`)."""
    with _lock:
        if name not in _kernels:
            from numba import cuda

            from dynsys.scan import cuda_kernel

            fn = getattr(cuda_kernel, f"{name}_kernel")
            if simulator():
                _kernels[name] = cuda.jit(fn)
            else:
                import inspect

                sig = getattr(cuda_kernel, f"{name}_kernel_signature")()
                kw = {"fma": False} if "fma" in inspect.signature(cuda.jit).parameters else {}
                with _no_contraction():
                    _kernels[name] = cuda.jit(sig, **kw)(fn)
        return _kernels[name]


def _launch_per_cell(name, leading, ins, trailing, outs):
    """Run kernel ``name`` (:func:`_compiled_kernel`) one thread per cell: the float64 input arrays ``ins`` copied to
    the device, called as ``kernel(*leading, *ins, *trailing, *device outputs)``, the outputs copied back into the
    host arrays ``outs`` (their dtypes)."""
    from numba import cuda

    n = ins[0].shape[0]
    if n == 0:
        return
    kern = _compiled_kernel(name)
    dins = [cuda.to_device(np.ascontiguousarray(a, np.float64)) for a in ins]
    douts = [cuda.device_array(n, a.dtype) for a in outs]
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kern[blocks, THREADS_PER_BLOCK](*leading, *dins, *trailing, *douts)
    for host, dev in zip(outs, douts):
        dev.copy_to_host(host)


def scan_cells_cuda(k, curv, adaptive, bias_correction, lr, b1, b2, eps, wd, lrd, x0, steps, spike_up,
                    coupling_start, min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum,
                    coupling_n, status, fail_step):
    """:func:`dynsys.scan.lanes.scan_cells` on the GPU (same arguments, same outputs written into
    the host arrays): inputs copied to the device, one thread per cell, outputs copied back."""
    _launch_per_cell("phase", (int(k), float(curv), bool(adaptive), bool(bias_correction)),
                     (lr, b1, b2, eps, wd, lrd, x0), (int(steps), float(spike_up), int(coupling_start)),
                     [min_log2x, min_step, final_log2x, sustained_log2x, n_spikes, coupling_sum, coupling_n, status,
                      fail_step])


def phase_statistics_cuda(k, curv, bias_correction, lr, b1, b2, eps, x0, steps, depth, spike_up, half, plen, outs):
    """The exponential-phase pass (:func:`dynsys.scan.episodes.phase_statistics`) on the GPU: one thread per cell
    runs :func:`~dynsys.scan.episodes.cell_phases`; ``outs`` are the host arrays of
    :data:`~dynsys.scan.episodes.PHASE_OUTPUTS`, in that order, filled in place."""
    _launch_per_cell("episodes", (int(k), float(curv), bool(bias_correction)), (lr, b1, b2, eps, x0),
                     (int(steps), float(depth), float(spike_up), int(half), int(plen)), outs)


def chunk_for_device(ncells: int, free_bytes: int | None = None) -> int:
    """Cells per chunk on the GPU: what fits in a quarter of its free memory (``free_bytes``,
    default: asked from the device), at most :data:`MAX_GPU_CHUNK` and at most the grid. Under the
    simulator 16384, the CPU's default (so that both scans have the same settings)."""
    if free_bytes is None:
        if simulator():
            return 16384
        from numba import cuda

        free_bytes, _total = cuda.current_context().get_memory_info()
    fit = max(THREADS_PER_BLOCK, int(free_bytes) // 4 // DEVICE_BYTES_PER_CELL)
    return int(min(fit, MAX_GPU_CHUNK, max(int(ncells), 1)))


def orbit_sharpness_cuda(gammas, ks, s0, discard, keep, orbit, max_period, tol, use_hist, hist, hist_lo, hist_hi,
                         final, esc, lyap, period):
    """:func:`dynsys.scan.orbit._sharpness_parallel` on the GPU (same arguments and outputs): one
    thread per parameter value (:func:`dynsys.scan.cuda_kernel.sharpness_kernel`), then the escape
    masking and period detection on the host (:func:`dynsys.scan.orbit._finish_rows`)."""
    from numba import cuda

    from dynsys.scan.orbit import _finish_rows

    n = gammas.shape[0]
    if n == 0:
        return
    kern = _compiled_kernel("sharpness")
    d_orbit = cuda.to_device(np.full(orbit.shape, np.nan))
    d_hist = cuda.to_device(np.ascontiguousarray(hist))
    d_final = cuda.device_array(n)
    d_esc = cuda.device_array(n, np.int64)
    d_lyap = cuda.device_array(n)
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kern[blocks, THREADS_PER_BLOCK](cuda.to_device(np.ascontiguousarray(gammas, np.float64)),
                                    cuda.to_device(np.ascontiguousarray(ks, np.int64)),
                                    cuda.to_device(np.ascontiguousarray(s0, np.float64)), int(discard), int(keep),
                                    d_orbit, bool(use_hist), d_hist, float(hist_lo), float(hist_hi), d_final, d_esc,
                                    d_lyap)
    d_orbit.copy_to_host(orbit)
    d_hist.copy_to_host(hist)
    d_final.copy_to_host(final)
    d_esc.copy_to_host(esc)
    d_lyap.copy_to_host(lyap)
    _finish_rows(orbit, esc, int(discard), int(keep), int(max_period), float(tol), lyap, period)
