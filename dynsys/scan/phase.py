"""Phase diagrams: an optimizer on ``c x^k/k`` over a grid of two hyperparameters.

Every cell is one run of :mod:`dynsys.scan.lanes` (compiled, lane-vectorized, exact far below
1e-308); its statistics, observed regime (:mod:`dynsys.scan.classify`) and the regime the theory
predicts (:func:`dynsys.regimes.predicted_regime`, Thm 6.1 of the degenerate-polynomials paper)
are returned as an ``xarray.Dataset`` with the two swept hyperparameters as coordinates.

Cells are computed in chunks (``chunk`` cells, in row-major ``(y, x)`` order). Peak memory is
the result grid (56 bytes per cell, filled chunk by chunk) plus working memory proportional to the
chunk. With a ``store`` each finished chunk is written to disk
(:class:`dynsys.scan.store.ChunkStore`) and ``resume=True`` computes only the missing ones; the
result is bit-identical to an uninterrupted run. ``scheduler`` runs the chunks on a Dask distributed cluster.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from dynsys._validate import check_choice, check_in_range, check_int, check_positive, check_real
from dynsys.kernels.status import SCAN_RANGE, STATUS_REASONS
from dynsys.scan import episodes as _ep
from dynsys.scan import lanes as _lanes
from dynsys.scan.grid import SWEEPABLE, Axis, check_value, parse_axis

__all__ = ["phase_diagram", "PhaseJob", "compute_chunk", "BYTES_PER_CELL", "KERNEL_VERSION"]

OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam", "adamw")
OBJECTIVES = ("power", "quadratic")
#: bytes of result per cell (all output variables, :data:`_RESULT`)
BYTES_PER_CELL = 78
#: bumped whenever the kernels' arithmetic or outputs change (a store from another version is refused);
#: 2: the exponential-phase statistics of :mod:`dynsys.scan.episodes` are stored with each chunk;
#: 4: the phase pass also records arrival_step and phase_start (the onset of the first phase)
KERNEL_VERSION = 4
#: largest number of steps per cell
MAX_STEPS = 10**9

_LOG10_2 = math.log10(2.0)


@dataclass(frozen=True)
class PhaseJob:
    """Everything that determines a scan's numbers (picklable; sent to Dask workers)."""

    optimizer: str
    objective: str
    x: Axis
    y: Axis
    fixed: tuple  # ((name, value), ...) for every sweepable parameter not on an axis
    bias_correction: bool
    steps: int
    spike_factor: float
    plateau_depth: float
    coupling_window: float
    chunk: int
    phase_length: int | None = 8
    confidence_margin: float = 0.02
    coupled_cycles: bool = False

    @property
    def shape(self):
        return (self.y.num, self.x.num)

    @property
    def ncells(self):
        return self.x.num * self.y.num

    @property
    def nchunks(self):
        return (self.ncells + self.chunk - 1) // self.chunk

    def settings(self) -> dict:
        """Plain JSON-able settings (the resume manifest and the Dataset attrs)."""
        d = {
            "optimizer": self.optimizer, "objective": self.objective,
            "x": self.x.spec(), "y": self.y.spec(),
            "bias_correction": int(self.bias_correction), "steps": self.steps,
            "spike_factor": self.spike_factor, "plateau_depth": self.plateau_depth,
            "coupling_window": self.coupling_window, "chunk": self.chunk, "kernel_version": KERNEL_VERSION,
            "phase_length": -1 if self.phase_length is None else self.phase_length,
            "confidence_margin": self.confidence_margin, "coupled_cycles": int(self.coupled_cycles),
        }
        for name, val in self.fixed:
            d[name] = val
        return d

    def cell_params(self, start: int, stop: int) -> dict:
        """Per-cell hyperparameter arrays of cells ``start..stop-1`` (row-major ``(y, x)``)."""
        idx = np.arange(start, stop)
        iy, ix = np.divmod(idx, self.x.num)
        out = {name: np.full(idx.size, float(val)) for name, val in self.fixed}
        out[self.x.name] = self.x.values()[ix]
        out[self.y.name] = self.y.values()[iy]
        return out


def compute_chunk(job: PhaseJob, index: int, *, reference: bool = False, device: str = "cpu") -> dict:
    """Raw kernel outputs of chunk ``index`` (a dict of arrays; deterministic). ``device``:
    ``"cpu"`` (the lane kernel, or the scalar reference) or ``"cuda"``
    (:mod:`dynsys.scan.cuda_backend`: the same outputs)."""
    start = index * job.chunk
    stop = min(start + job.chunk, job.ncells)
    p = job.cell_params(start, stop)
    n = stop - start
    out = {key: np.empty(n, dt) for key, dt in _lanes.OUTPUTS.items()}
    adaptive = job.optimizer in ("rmsprop", "adam", "adamw")
    bc = bool(job.bias_correction) and adaptive
    b1 = p["beta1"] if job.optimizer in ("momentum", "adam", "adamw") else np.zeros(n)
    b2 = p["beta2"] if adaptive else np.zeros(n)
    eps = p["eps"] if adaptive else np.zeros(n)
    wd = p["weight_decay"] if job.optimizer == "adamw" else np.zeros(n)
    curv = p["curvature"] if job.objective == "quadratic" else np.ones(n)
    coupling_start = job.steps - max(1, int(math.ceil(job.coupling_window * job.steps)))
    if device == "cuda":
        from dynsys.scan.cuda_backend import scan_cells_cuda as kernel
    else:
        kernel = _lanes.scan_cells_reference if reference else _lanes.scan_cells
    ks = p["k"].astype(np.int64)
    for kk in np.unique(ks):
        for cc in np.unique(curv):
            sel = np.flatnonzero((ks == kk) & (curv == cc))
            sub = {key: np.empty(sel.size, arr.dtype) for key, arr in out.items()}
            kernel(int(kk), float(cc), adaptive, bc, np.ascontiguousarray(p["lr"][sel]), np.ascontiguousarray(b1[sel]),
                   np.ascontiguousarray(b2[sel]), np.ascontiguousarray(eps[sel]), np.ascontiguousarray(wd[sel]),
                   np.ascontiguousarray(p["lr_decay"][sel]), np.ascontiguousarray(p["x0"][sel]), job.steps,
                   job.spike_factor ** (1.0 / kk), coupling_start,
                   *[sub[key] for key in _lanes.OUTPUTS])
            for key in sub:
                out[key][sel] = sub[key]
    # second pass: exponential phases (dynsys.scan.episodes) of the cells it covers, same trajectories
    for key, dt in _ep.PHASE_OUTPUTS.items():
        out[key] = np.full(n, -1, dt)
    cov = _ep.covered(job.optimizer, p) & (job.phase_length is not None)  # phase_length=None: the first rule, no pass
    for kk in np.unique(ks):
        for cc in np.unique(curv):
            sel = np.flatnonzero(cov & (ks == kk) & (curv == cc))
            if sel.size == 0:
                continue
            sub = _ep.phase_statistics(int(kk), float(cc), bc, p["lr"][sel], b1[sel], b2[sel], eps[sel], p["x0"][sel],
                                       job.steps, depth=job.plateau_depth, spike_factor=job.spike_factor,
                                       phase_length=job.phase_length, device=device)
            for key in sub:
                out[key][sel] = sub[key]
    return out


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def _build_job(optimizer, objective, k, x, y, lr, steps, x0, beta1, beta2, eps, weight_decay, lr_decay,
               bias_correction, curvature, spike_factor, plateau_depth, coupling_window, chunk, phase_length=8,
               confidence_margin=0.02, coupled_cycles=False) -> PhaseJob:
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("objective", objective, OBJECTIVES)
    xa = parse_axis("x", x)
    ya = parse_axis("y", y)
    if xa.name == ya.name:
        raise ValueError(f"x and y both sweep {xa.name!r}; allowed: two different parameters")
    # which hyperparameters this optimizer/objective has
    has = {"lr", "lr_decay", "x0", "k"}
    if optimizer in ("momentum", "adam", "adamw"):
        has.add("beta1")
    if optimizer in ("rmsprop", "adam", "adamw"):
        has |= {"beta2", "eps"}
    if optimizer == "adamw":
        has.add("weight_decay")
    if objective == "quadratic":
        has.add("curvature")
    for ax, label in ((xa, "x"), (ya, "y")):
        if ax.name not in has:
            raise ValueError(f"{label} parameter {ax.name!r} is not a hyperparameter of {optimizer} on {objective}; "
                             f"allowed: {', '.join(sorted(has))}")
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction = {bias_correction!r} is not a bool; allowed: True or False")
    steps = check_int("steps", steps, low=1, high=MAX_STEPS)
    given = {"lr": lr, "x0": x0, "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay,
             "lr_decay": lr_decay, "curvature": curvature, "k": k}
    fixed = []
    for name in SWEEPABLE:
        if name in (xa.name, ya.name):
            continue
        val = given[name]
        if name == "lr" and val is None:
            raise ValueError("lr is missing; allowed: a real number lr > 0 (or sweep lr on an axis)")
        if name == "k":
            kk = check_int("k", val, low=2)
            if kk % 2:
                raise ValueError(f"k = {kk!r} is odd; allowed: even integer k >= 2")
            val = kk
        else:
            val = check_real(name, val)
            check_value(name, val)
        if name not in has and name not in ("k", "curvature") and val != _NEUTRAL[name]:
            raise ValueError(f"{name} = {val!r} is not a hyperparameter of {optimizer}; allowed: {name} = {_NEUTRAL[name]!r} "
                             f"or an optimizer with {name}")
        fixed.append((name, val))
    fx = dict(fixed)
    kvals = xa.values() if xa.name == "k" else (ya.values() if ya.name == "k" else [fx["k"]])
    for kk in kvals:
        if objective == "quadratic" and int(kk) != 2:
            raise ValueError(f"k = {int(kk)} with objective quadratic; allowed: k = 2 (quadratic is c x^2/2)")
        if int(kk) > 1000:
            raise ValueError(f"k = {int(kk)} is out of range; allowed: even integer 2 <= k <= 1000")
    if objective == "quadratic" and "k" not in (xa.name, ya.name):
        fixed = [(n_, 2 if n_ == "k" else v) for n_, v in fixed]
    spike_factor = check_in_range("spike_factor", spike_factor, 1.0, None, low_open=True)
    plateau_depth = check_in_range("plateau_depth", plateau_depth, 0.0, None)
    coupling_window = check_in_range("coupling_window", coupling_window, 0.0, 1.0, low_open=True)
    chunk = check_int("chunk", chunk, low=1, high=1 << 26)
    if phase_length is not None:
        phase_length = check_int("phase_length", phase_length, low=1, high=MAX_STEPS)
    confidence_margin = check_in_range("confidence_margin", confidence_margin, 0.0, 1.0)
    if not isinstance(coupled_cycles, (bool, np.bool_)):
        raise ValueError(f"coupled_cycles = {coupled_cycles!r} is not a bool; allowed: True or False")
    return PhaseJob(optimizer, objective, xa, ya, tuple(fixed), bool(bias_correction), steps, spike_factor,
                    plateau_depth, coupling_window, chunk, phase_length, confidence_margin, bool(coupled_cycles))


# value a hyperparameter must have when the optimizer does not use it
_NEUTRAL = {"beta1": 0.9, "beta2": 0.999, "eps": 0.0, "weight_decay": 0.0, "lr": None, "x0": None,
            "lr_decay": 1.0, "k": None, "curvature": 1.0}


def phase_diagram(optimizer="adam", objective="power", *, k=4, x=("beta1", 0.0, 1.0, 50), y=("beta2", 0.0, 1.0, 50),
                  lr=None, steps=10_000, x0=1.0, beta1=0.9, beta2=0.999, eps=0.0, weight_decay=0.0, lr_decay=1.0,
                  bias_correction=False, curvature=1.0, spike_factor=100.0, plateau_depth=5.0, coupling_window=0.1,
                  phase_length=8, confidence_margin=0.02, coupled_cycles=False, chunk=None, store=None, resume=False,
                  scheduler=None, progress=True, reference=False, counters=None, device="cpu"):
    """Phase diagram of ``optimizer`` on ``objective`` over two hyperparameters.

    Each cell runs ``steps`` updates of the optimizer (PyTorch convention, see
    :mod:`dynsys.optimizers`) on ``L(x) = c x^k/k`` from ``x0`` with ``m_0 = v_0 = 0``, carried
    exactly in scaled coordinates (:mod:`dynsys.scan.lanes`), and is labelled with the regimes
    of Thm 6.1 of the degenerate-polynomials paper (math.md D12).

    Parameters
    ----------
    optimizer : {"gd", "momentum", "rmsprop", "adam", "adamw"}
    objective : {"power", "quadratic"}
        ``power``: ``x^k/k``; ``quadratic``: ``c x^2/2`` (``k = 2``, ``c = curvature``).
    k : int
        Even exponent ``>= 2`` (unless swept).
    x, y : axis
        ``(name, start, stop, num[, "log"])`` or ``"name:start:stop:num[:log]"``, any two of
        ``lr, beta1, beta2, eps, weight_decay, lr_decay, x0, k, curvature`` that the optimizer
        has (``beta`` is an alias of ``beta1``). Cell-centred (see :mod:`dynsys.scan.grid`).
    lr, x0, beta1, beta2, eps, weight_decay, lr_decay, curvature : float
        Values of the hyperparameters that are not swept (those the optimizer lacks must keep
        their neutral default). ``eps = 0`` and ``bias_correction=False`` are the paper's setting.
    steps : int
        Updates per cell.
    spike_factor : float
        A spike: the loss rises above ``spike_factor`` times its running minimum, and is
        counted once it has fallen back by ``spike_factor`` from its peak.
    plateau_depth : float
        Decades below ``log10(c lr^k/k)`` (the regime-III level) the loss must be for an
        exponential phase (see :mod:`dynsys.scan.classify`).
    phase_length : int or None
        An exponential phase: at least ``phase_length`` consecutive steps ``plateau_depth`` decades
        below ``c lr^k/k`` (``phase_steps``, :mod:`dynsys.scan.episodes`; the second pass costs 3-5x
        the main kernel's time, docs/performance.md). ``None``: the rule before 2026-12-06 (a whole
        aligned 32-step window that deep, ``sustained_loss``) and no second pass (``phase_steps`` and
        ``settled`` are -1).
    confidence_margin : float
        Cells at least this far (in beta1) from every theory boundary and ``settled`` count in
        ``agreement_confident_regime1..3``.
    coupled_cycles : bool
        Also search every cell with a prediction for a stable *coupled* periodic orbit (``|x| ~ lr``,
        ``v`` coupled to ``g^2``), an attractor Thm 6.1 does not consider
        (:func:`dynsys.coupled_cycles.stable_coupled_cycle`, claim D18; about 0.13 ms per cell on 2 threads):
        ``coupled_cycle`` holds its period (0: none found) and the attrs split the agreement by it.
    coupling_window : float
        Fraction of the run (at its end) over which the coupling ratio is averaged.
    chunk : int, optional
        Cells per chunk (memory, progress and resume granularity). Default: 16384 on the CPU; on a
        GPU what fits in a quarter of its free memory (at most 2^22); when resuming, the store's.
    store : path, optional
        Directory for finished chunks (resumable); removed by the caller when done.
    resume : bool
        Continue an existing ``store`` (refused, naming the setting, if its settings differ).
        Without ``resume`` an existing non-empty store is refused, so no work is lost.
    scheduler : str or distributed.Client, optional
        Address of a Dask scheduler (or a client): chunks run on its workers.
    progress : bool
        Show a tqdm progress bar (cells).
    reference : bool
        Use the scalar reference kernel (bit-identical, slower; for checks).
    device : {"cpu", "cuda", "auto"}
        Where the cells run: the CPU lane kernel, or the GPU (numba-cuda, one thread per cell,
        :mod:`dynsys.scan.cuda_backend`; the same Dataset: statistics, status and regimes bit for
        bit, logarithms to the last bit). ``"auto"``: CUDA when ``numba.cuda.is_available()``.
        With a ``scheduler``, ``"cuda"`` chunks go to workers with the resource ``GPU``.
    counters : dict, optional
        Filled with ``nchunks``, ``resumed`` (chunks read from the store) and ``computed``
        (chunks run by this call): a resumed scan computes only ``nchunks - resumed``.

    Returns
    -------
    xarray.Dataset
        Dimensions ``(y.name, x.name)``; variables ``min_loss`` and ``final_loss`` (log10 of the
        loss; ``-inf`` only for a loss exactly 0, ``+inf`` after an overflow), ``min_step``,
        ``n_spikes``, ``coupling_ratio`` (log10 of the geometric mean of ``v/g^2`` over the last
        ``coupling_window`` of the run, math.md D13; NaN where undefined: gd/momentum, or a
        run that failed before the window), ``diverged``, ``status`` and ``fail_step`` (why and
        when a run stopped), ``regime`` (observed) and ``predicted_regime`` (theory; -1 where
        the theory makes no prediction); the confidence of each cell: ``phase_steps`` (longest
        exponential phase, -1 where not followed), ``settled`` (1: the first half of the run gives
        the same regime, 0: it does not, -1: unknown) and ``boundary_distance`` (beta1 distance to
        the nearest theory boundary at the cell's beta2, NaN without a prediction), ``arrival_step`` and
        ``phase_onset`` (first step with ``|x| <= 2 lr``; steps from it to the first exponential phase)
        and ``coupled_cycle`` (period of a stable coupled cycle, 0: none, -1: not searched).
        ``attrs``: every setting, ``agreement`` (fraction of cells with a prediction whose observed
        regime equals it; NaN if none), ``agreement_regime1..3``, ``agreement_confident_regime1..3``
        (the same over settled cells at least ``confidence_margin`` from every boundary),
        ``cells_unsettled``, ``agreement_nonmarginal_regime1..3`` (the same over the cells not exactly on
        a boundary, ``boundary_distance > 0``: on ``beta1 == beta2`` for ``k = 4``, ``det J = 1``, the
        linear theory is inconclusive and the cells are predicted I by claim D17 (Lyapunov stable);
        ``cells_marginal`` counts the others), with ``coupled_cycles``: ``cells_with_cycle_regime1..3``,
        ``agreement_with_cycle_regime1..3`` and ``agreement_cycle_free_regime1..3`` (predicted cells
        with / without a stable coupled cycle), ``regime_codes`` and ``status_codes``.
    """
    from dynsys import regimes

    device = _resolve_device(device, scheduler, reference)
    if chunk is None:
        chunk = _default_chunk(device, store, resume, scheduler, _grid_cells(x, y))
    job = _build_job(optimizer, objective, k, x, y, lr, steps, x0, beta1, beta2, eps, weight_decay, lr_decay,
                     bias_correction, curvature, spike_factor, plateau_depth, coupling_window, chunk, phase_length,
                     confidence_margin, coupled_cycles)
    need = job.ncells * BYTES_PER_CELL
    avail = _available_memory()
    if need > avail // 2:
        raise ValueError(f"grid {job.y.num} x {job.x.num} = {job.ncells} cells needs {need / 2**30:.1f} GiB for its result; "
                         f"allowed: at most half the available memory ({avail / 2**30:.1f} GiB), i.e. about "
                         f"{avail // 2 // BYTES_PER_CELL} cells")
    if not isinstance(resume, (bool, np.bool_)):
        raise ValueError(f"resume = {resume!r} is not a bool; allowed: True or False")
    if counters is not None and not isinstance(counters, dict):
        raise ValueError(f"counters = {counters!r} is not a dict; allowed: None or a dict to fill")
    from dynsys.scan.store import ChunkStore

    st = ChunkStore(store) if store is not None else None
    settings = job.settings()
    if resume and st is None:
        raise ValueError("resume = True without a store; allowed: resume with store=PATH")
    if st is not None:
        if st.exists():
            if not resume:
                raise ValueError(f"store {str(st.path)!r} already holds {len(st.finished())} finished chunks; "
                                 "allowed: resume=True (--resume) to continue it, or delete it")
            st.check_settings(settings)
        elif st.path.exists() and any(st.path.iterdir()):
            raise ValueError(f"store {str(st.path)!r} exists and is not a scan store; allowed: a new path or an empty directory")
    client = _client(scheduler)
    if st is not None and not st.exists():
        st.create(settings)

    res = _Result(job, regimes)
    done = st.finished() if st is not None else set()
    done &= set(range(job.nchunks))
    todo = [i for i in range(job.nchunks) if i not in done]
    if counters is not None:
        counters.update({"nchunks": job.nchunks, "resumed": len(done), "computed": 0})

    def finished(i, arrays):
        if st is not None:
            st.write(i, arrays)
        res.put(i, arrays)
        if counters is not None:
            counters["computed"] += 1
        if bar is not None:
            bar.update(min(job.chunk, job.ncells - i * job.chunk))

    for i in sorted(done):
        res.put(i, st.read(i))
    bar = _progress(progress, job, done)
    try:
        if client is None:
            for i in todo:
                finished(i, compute_chunk(job, i, reference=reference, device=device))
        else:
            from distributed import as_completed

            extra = {"resources": {"GPU": 1}} if device == "cuda" else {}
            futures = client.map(_dask_chunk, [job] * len(todo), todo, [reference] * len(todo), [device] * len(todo),
                                 pure=False, **extra)
            for fut in as_completed(futures):
                i, arrays = fut.result()
                finished(i, arrays)
    finally:
        if bar is not None:
            bar.close()
        if client is not None and isinstance(scheduler, str):
            client.close()
    return res.dataset()


def _dask_chunk(job, index, reference, device="cpu"):
    """A chunk on a Dask worker (``device="cuda"``: a worker with the resource ``GPU``)."""
    return index, compute_chunk(job, index, reference=reference, device=device)


#: chunk of a CPU scan when none is given
CPU_CHUNK = 16384


def _resolve_device(device, scheduler, reference):
    from dynsys.scan import cuda_backend

    if scheduler is not None and device == "cuda":
        return "cuda"  # checked on the GPU workers
    dev = cuda_backend.resolve_device(device)
    if dev == "cuda" and reference:
        raise ValueError("reference = True with device = 'cuda'; allowed: reference (the scalar CPU kernel) with "
                         "device = 'cpu'")
    return dev


def _grid_cells(x, y):
    try:
        return parse_axis("x", x).num * parse_axis("y", y).num
    except ValueError:
        return 1  # reported by _build_job


def _default_chunk(device, store, resume, scheduler, ncells):
    """``chunk=None``: the store's chunk when resuming, else 16384 cells on the CPU and what fits the
    GPU on CUDA (:func:`dynsys.scan.cuda_backend.chunk_for_device`)."""
    if resume and store is not None:
        from dynsys.scan.store import ChunkStore

        st = ChunkStore(store)
        if st.exists():
            old = st.read_manifest().get("chunk")
            if isinstance(old, int) and old >= 1:
                return old
    if device != "cuda":
        return CPU_CHUNK
    if scheduler is not None:
        from dynsys.scan.cuda_backend import MAX_GPU_CHUNK

        return min(MAX_GPU_CHUNK // 4, max(ncells, 1))
    from dynsys.scan.cuda_backend import chunk_for_device

    return chunk_for_device(ncells)


def _client(scheduler):
    if scheduler is None:
        return None
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is an optional extra
        raise ValueError("scheduler needs the optional dependency 'distributed'; install it, e.g. pip install 'dynsys[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(f"scheduler = {scheduler!r} is not a Dask scheduler address; allowed: e.g. 'tcp://host:8786' or a distributed.Client")
    if scheduler.startswith("tcp://"):  # fail at once (not after the client's timeout) when nothing listens
        import socket
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(scheduler)
            with socket.create_connection((parts.hostname, parts.port or 8786), timeout=10):
                pass
        except (OSError, ValueError) as exc:
            raise ValueError(f"scheduler = {scheduler!r} cannot be reached ({type(exc).__name__}); "
                             "allowed: the address of a running Dask scheduler") from None
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"scheduler = {scheduler!r} cannot be reached ({type(exc).__name__}); allowed: the address of a running Dask scheduler") from None


def _progress(progress, job, done):
    if not progress:
        return None
    from tqdm.auto import tqdm

    initial = sum(min(job.chunk, job.ncells - i * job.chunk) for i in done)
    return tqdm(total=job.ncells, initial=initial, unit="cell", desc=f"phase {job.y.name} x {job.x.name}",
                leave=False)


#: per-cell variables of the Dataset and their dtypes
_RESULT = {
    "min_loss": np.float64, "final_loss": np.float64, "sustained_loss": np.float64, "min_step": np.int64,
    "n_spikes": np.int32, "coupling_ratio": np.float64, "diverged": np.bool_, "status": np.int8,
    "fail_step": np.int64, "regime": np.int8, "predicted_regime": np.int8,
    "phase_steps": np.int32, "settled": np.int8, "boundary_distance": np.float64,
    "arrival_step": np.int32, "phase_onset": np.int32, "coupled_cycle": np.int8,
}


class _Result:
    """The result grid, filled chunk by chunk: each chunk's raw kernel outputs are turned into
    the Dataset's variables at once, so only the result (``BYTES_PER_CELL`` per cell) and one
    chunk's working memory are ever held."""

    def __init__(self, job, regimes):
        self.job = job
        self.regimes = regimes
        self.data = {key: np.empty(job.ncells, dt) for key, dt in _RESULT.items()}

    def put(self, i, raw):
        job = self.job
        start = i * job.chunk
        stop = min(start + job.chunk, job.ncells)
        if any(key not in raw or raw[key].shape != (stop - start,) for key in (*_lanes.OUTPUTS, *_ep.PHASE_OUTPUTS)):
            raise ValueError(f"chunk {i} holds arrays of the wrong length; allowed: {stop - start} cells (a corrupt store?)")
        p = job.cell_params(start, stop)
        ks = p["k"]
        curv = p["curvature"] if job.objective == "quadratic" else np.ones(stop - start)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            offset = np.log10(curv / ks)
            min_loss = offset + ks * raw["min_log2x"] * _LOG10_2
            final_loss = offset + ks * raw["final_log2x"] * _LOG10_2
            sustained = offset + ks * raw["sustained_log2x"] * _LOG10_2
            coupling = np.where(raw["coupling_n"] > 0,
                                raw["coupling_sum"] / np.maximum(raw["coupling_n"], 1) * _LOG10_2, np.nan)
            plateau = np.log10(curv * p["lr"] ** ks / ks)
            min_half = offset + ks * raw["min_log2x_half"] * _LOG10_2
            final_half = offset + ks * raw["final_log2x_half"] * _LOG10_2
        from dynsys.scan.classify import classify

        plen = job.phase_length
        phase = raw["phase_steps"] if plen is not None else None
        regime = classify(min_loss, sustained, final_loss, raw["n_spikes"], raw["status"], plateau,
                          spike_factor=job.spike_factor, depth=job.plateau_depth, phase_steps=phase, phase_length=plen)
        # settled: the first half of the run (steps // 2) gives the same label
        half = job.steps // 2
        failed_by_half = (raw["status"] != 0) & (raw["fail_step"] >= 0) & (raw["fail_step"] <= half)
        regime_half = classify(min_half, sustained, final_half, raw["n_spikes_half"],
                               np.where(failed_by_half, raw["status"], 0), plateau, spike_factor=job.spike_factor,
                               depth=job.plateau_depth, phase_steps=raw["phase_steps_half"] if plen is not None else None,
                               phase_length=plen)
        known = (raw["phase_steps"] >= 0) & (plen is not None)
        settled = np.where(known, (regime_half == regime).astype(np.int8), -1).astype(np.int8)
        d = self.data
        sl = slice(start, stop)
        d["min_loss"][sl] = min_loss
        d["final_loss"][sl] = final_loss
        d["sustained_loss"][sl] = sustained
        d["min_step"][sl] = raw["min_step"]
        d["n_spikes"][sl] = raw["n_spikes"]
        d["coupling_ratio"][sl] = coupling
        d["diverged"][sl] = (raw["status"] != 0) & (raw["status"] != SCAN_RANGE)
        d["status"][sl] = raw["status"]
        d["fail_step"][sl] = raw["fail_step"]
        d["regime"][sl] = regime
        d["predicted_regime"][sl] = _predicted(job, p, self.regimes)
        d["phase_steps"][sl] = raw["phase_steps"]
        d["settled"][sl] = settled
        d["boundary_distance"][sl] = _distance(job, p, self.regimes, d["predicted_regime"][sl])
        d["arrival_step"][sl] = raw["arrival_step"]
        d["phase_onset"][sl] = np.where((raw["phase_start"] >= 0) & (raw["arrival_step"] >= 0),
                                        raw["phase_start"] - raw["arrival_step"], -1)
        d["coupled_cycle"][sl] = _cycles(job, p, d["predicted_regime"][sl])

    def dataset(self):
        import xarray as xr

        from dynsys import __version__

        job, regimes, d = self.job, self.regimes, self.data
        regime, predicted = d["regime"], d["predicted_regime"]
        has_pred = predicted >= 0
        n_pred = int(np.count_nonzero(has_pred))
        agreement = float(np.count_nonzero(has_pred & (regime == predicted)) / n_pred) if n_pred else float("nan")
        dims = (job.y.name, job.x.name)
        attrs_of = {
            "min_loss": {"long_name": "log10 of the minimum loss over steps 0..steps", "units": "log10"},
            "final_loss": {"long_name": "log10 of the loss at the last step", "units": "log10"},
            "sustained_loss": {"long_name": f"log10 of min over {_lanes.BLOCK}-step windows of the max loss in the window",
                               "units": "log10"},
            "min_step": {"long_name": "first step at which the minimum loss is reached"},
            "n_spikes": {"long_name": f"completed loss spikes (rise > {job.spike_factor:g} x running min, "
                                      "fall back by the same factor)"},
            "coupling_ratio": {"long_name": "log10 geometric mean of v/g^2 over the last "
                                            f"{job.coupling_window:g} of the run (NaN: undefined)", "units": "log10"},
            "diverged": {"long_name": "run left float64 or met 0/0 (see status; status 8 is not a divergence)"},
            "status": {"long_name": "0 ok; " + "; ".join(f"{c} {r}" for c, r in STATUS_REASONS.items() if c)},
            "fail_step": {"long_name": "step at which the run stopped (-1: none)"},
            "regime": {"long_name": "observed regime", "codes": _codes_text(regimes)},
            "predicted_regime": {"long_name": "regime predicted by Thm 6.1 (-1: no prediction)",
                                 "codes": _codes_text(regimes)},
            "phase_steps": {"long_name": f"longest run of consecutive steps with the loss >= {job.plateau_depth:g} decades "
                                         "below c lr^k/k (exponential phase; -1: not followed)", "units": "steps"},
            "settled": {"long_name": f"1: the first {job.steps // 2} steps give the same regime; 0: they do not; "
                                     "-1: unknown (cell not followed by the phase pass)"},
            "boundary_distance": {"long_name": "beta1 distance to the nearest theory boundary (Eq. 8, existence, "
                                               "the second flip of claim D19 where Eq. 9 binds) at the cell's beta2 "
                                               "(NaN: no prediction)"},
            "arrival_step": {"long_name": f"first step with |x| <= {_ep.ARRIVAL:g} lr: the run has come down to the "
                                          "SignGD-like scale (-1: never, or not followed)", "units": "steps"},
            "phase_onset": {"long_name": f"steps from arrival_step to the first exponential phase of at least "
                                         f"{job.phase_length} steps (-1: none, or not followed)", "units": "steps"},
            "coupled_cycle": {"long_name": "period of a stable coupled periodic orbit (|x| ~ lr, v coupled to g^2; "
                                           "claim D18) found from the exact 2-cycle: 0 none, -1 not searched"},
        }
        data = {key: xr.Variable(dims, arr.reshape(job.shape), attrs_of[key]) for key, arr in d.items()}
        coords = {job.x.name: (job.x.name, job.x.values()), job.y.name: (job.y.name, job.y.values())}
        ds = xr.Dataset(data, coords=coords)
        attrs = {"kind": "phase_diagram", **job.settings(), "dynsys_version": __version__,
                 "agreement": agreement, "regime_codes": _codes_text(regimes),
                 "status_codes": "; ".join(f"{c}: {r or 'ok'}" for c, r in STATUS_REASONS.items()),
                 "x_name": job.x.name, "y_name": job.y.name}
        for code in (1, 2, 3):
            sel = predicted == code
            n = int(np.count_nonzero(sel))
            attrs[f"agreement_regime{code}"] = float(np.count_nonzero(sel & (regime == code)) / n) if n else float("nan")
            attrs[f"cells_predicted_regime{code}"] = n
            conf = sel & (d["settled"] == 1) & (d["boundary_distance"] >= job.confidence_margin)
            nc = int(np.count_nonzero(conf))
            attrs[f"agreement_confident_regime{code}"] = (float(np.count_nonzero(conf & (regime == code)) / nc)
                                                          if nc else float("nan"))
            attrs[f"cells_confident_regime{code}"] = nc
        attrs["cells_unsettled"] = int(np.count_nonzero(d["settled"] == 0))
        # cells exactly on a theory boundary (boundary_distance == 0: e.g. beta1 == beta2 for k = 4, det J = 1) are
        # marginal: the linear theory is inconclusive there (predicted I since claim D17: an elliptic point of an
        # area-preserving map, Lyapunov stable). The agreements above count them; these do not.
        marginal = d["boundary_distance"] == 0
        attrs["cells_marginal"] = int(np.count_nonzero(marginal & (predicted >= 0)))
        for code in (1, 2, 3):
            sel = (predicted == code) & ~marginal
            n = int(np.count_nonzero(sel))
            attrs[f"agreement_nonmarginal_regime{code}"] = (float(np.count_nonzero(sel & (regime == code)) / n)
                                                            if n else float("nan"))
            attrs[f"cells_nonmarginal_regime{code}"] = n
        if job.coupled_cycles:
            # claim D18: a stable coupled cycle is an attractor of its own (bistable with an unstable fixed point)
            cyc = d["coupled_cycle"]
            for code in (1, 2, 3):
                for name, sel in (("with_cycle", (predicted == code) & (cyc > 0)),
                                  ("cycle_free", (predicted == code) & (cyc == 0))):
                    n = int(np.count_nonzero(sel))
                    attrs[f"agreement_{name}_regime{code}"] = (float(np.count_nonzero(sel & (regime == code)) / n)
                                                               if n else float("nan"))
                attrs[f"cells_with_cycle_regime{code}"] = int(np.count_nonzero((predicted == code) & (cyc > 0)))
        ds.attrs.update(attrs)
        return ds


def _codes_text(regimes):
    return "; ".join(f"{c}: {t}" for c, t in regimes.REGIME_CODES.items())


def _per_k_theory(job, p, predicted, fn, out):
    """``out[sel] = fn(beta1, beta2, k)`` for the cells with a prediction (k >= 4, beta2 > 0), one ``k`` at a
    time (RMSProp: beta1 = 0); the other cells keep ``out``'s fill value."""
    b1 = p["beta1"] if job.optimizer != "rmsprop" else np.zeros(predicted.shape[0])
    for kk in np.unique(p["k"]):
        sel = (predicted >= 0) & (p["k"] == kk) & (p["beta2"] > 0)
        if kk >= 4 and sel.any():
            out[sel] = fn(b1[sel], p["beta2"][sel], int(kk))
    return out


def _distance(job, p, regimes, predicted):
    """beta1 distance to the nearest theory boundary where a prediction exists (k >= 4), else NaN."""
    return _per_k_theory(job, p, predicted, regimes.boundary_distance, np.full(predicted.shape[0], np.nan))


def _cycles(job, p, predicted):
    """Period of a stable coupled cycle (claim D18) for the cells with a prediction (k >= 4), 0 none found;
    -1 where not searched (``coupled_cycles`` off, or no prediction)."""
    out = np.full(predicted.shape[0], -1, dtype=np.int8)
    if not job.coupled_cycles:
        return out
    from dynsys.coupled_cycles import stable_coupled_cycle

    return _per_k_theory(job, p, predicted, lambda b1, b2, k: stable_coupled_cycle(b1, b2, k)[0], out)


def _predicted(job, p, regimes):
    """Thm 6.1 where it applies: Adam/RMSProp/AdamW without weight decay, eps = 0, constant lr."""
    n = p["lr"].shape[0]
    out = np.full(n, regimes.NO_PREDICTION, dtype=np.int8)
    if job.optimizer not in ("rmsprop", "adam", "adamw"):
        return out
    ok = (p["eps"] == 0) & (p["lr_decay"] == 1.0)
    if job.optimizer == "adamw":
        ok &= p["weight_decay"] == 0
    b1 = p["beta1"] if job.optimizer != "rmsprop" else np.zeros(n)
    for kk in np.unique(p["k"]):
        sel = ok & (p["k"] == kk)
        if sel.any():
            out[sel] = regimes.predicted_regime(b1[sel], p["beta2"][sel], int(kk))
    return out
