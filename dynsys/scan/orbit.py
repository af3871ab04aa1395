"""Orbit (bifurcation) diagrams of any :class:`dynsys.systems.MapSystem`.

For each value of one swept parameter the map is iterated ``discard`` steps (transient),
then ``keep`` steps whose observable is stored (the attractor). Per value the scanner
reports

* ``period``: the smallest ``p <= max_period`` with ``|o_{t+p} - o_t| <= tol (1 + |o_t|)``
  over the last ``min(keep, 4 max_period)`` kept points (0: none found, e.g. chaos, or escaped);
* ``lyapunov``: the largest Lyapunov exponent from the map's *Jacobian* (generated from its
  sympy definition), ``lambda = (1/keep) sum_t ln |J(s_t) v_t|`` with the tangent vector
  ``v`` renormalized every step (for a 1-D map ``(1/keep) sum ln |f'(s_t)|``); the tangent
  vector is aligned during the last ``min(discard, 64)`` transient steps;
* ``escaped`` / ``escape_step``: the orbit left the map's domain (``in_domain`` false, e.g.
  the effective sharpness left ``(0, 2)``, or a non-finite state) after ``escape_step``
  steps counted from the initial state; orbit points after the escape are NaN, ``period`` is
  0 and ``lyapunov`` is NaN exactly for escaped values.

Theory for the effective-sharpness map ``s -> gamma s (1-s)^{k-2}`` (Prop. 5.6 of the
degenerate-polynomials paper, math.md D10): period 1 with ``lambda = ln|1 - (k-2) s*/(1-s*)|``
for ``1 < gamma < (k/(k-2))^{k-2}``, period doubling beyond (see :mod:`dynsys.regimes`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dynsys._validate import check_finite_array, check_int, check_positive

__all__ = ["orbit_diagram", "component"]

_LN2 = math.log(2.0)
#: largest number of orbit points one call may store (param x keep)
MAX_ORBIT_POINTS = 200_000_000


@njit(cache=True)
def component(state, params, index):
    """Default observable: ``state[index]``."""
    return state[index]


@njit(inline="always")
def _detect_period(orbit_row, max_period, tol):
    """Smallest ``p <= max_period`` with ``|o_{t+p} - o_t| <= tol (1 + |o_t|)`` over the last
    ``min(len, 4 max_period)`` stored points (0: none)."""
    nstore = orbit_row.shape[0]
    window = min(nstore, 4 * max_period)
    base = nstore - window
    for p in range(1, max_period + 1):
        if 2 * p > window:
            break
        ok = True
        for i in range(base, nstore - p):
            a = orbit_row[i]
            if not (abs(orbit_row[i + p] - a) <= tol * (1.0 + abs(a))):
                ok = False
                break
        if ok:
            return p
    return 0


@njit(inline="always")
def _nan_after_escape(orbit_row, t, discard, keep):
    """Orbit points from the escape on are NaN (the escape happened at step ``t + 1``)."""
    nstore = orbit_row.shape[0]
    kept = t + 1 - discard
    start = kept - 1 if kept > 0 else 0
    first = start - (keep - nstore)
    if first < 0:
        first = 0
    for i in range(first, nstore):
        orbit_row[i] = math.nan


@njit(inline="always")
def _in_domain(s):
    """The effective sharpness stays in its domain ``(0, 2)`` (and is finite)."""
    return math.isfinite(s) and s > 0.0 and s < 2.0


@njit(inline="always")
def _sharpness_step(gamma, k, c2, s):
    """One step of the effective-sharpness map and the factor of the Lyapunov product at ``s``:
    ``(gamma s (1-s)^{k-2}, |gamma (1-s)^{k-3} (1 - (k-1) s)|)`` with ``c2 = k - 1``, the powers as
    repeated products (shared by :func:`_sharpness_one` and the CUDA kernel)."""
    q = 1.0 - s
    r = 1.0  # (1-s)^{k-3}
    p = q  # (1-s)^{k-2}
    for _ in range(k - 3):
        r = p
        p = p * q
    return gamma * s * p, abs((gamma * r) * (1.0 - c2 * s))


@njit(inline="always")
def _rescaled_product(prod, pexp):
    """The Lyapunov product ``prod 2^pexp`` brought back near 1 by an exact power of two when it
    leaves ``(1e-250, 1e250)`` (zero and non-finite values stay)."""
    if not (1e-250 < prod < 1e250) and prod != 0.0 and math.isfinite(prod):
        m, e = math.frexp(prod)
        return m, pexp + e
    return prod, pexp


@njit(inline="always")
def _lyapunov_of_product(prod, pexp, keep):
    """``(ln prod + pexp ln 2) / keep`` (``-inf`` for a zero product)."""
    return (math.log(prod) + pexp * _LN2) / keep if prod > 0.0 else (-math.inf if prod == 0.0 else math.log(prod))


@njit(inline="always")
def _histogram_bin(o, lo, hi, nbins):
    """Bin of the observable ``o`` among ``nbins`` equal bins of ``[lo, hi)`` (outside: < 0 or >= nbins)."""
    return int(math.floor((o - lo) / (hi - lo) * nbins))


@njit(error_model="numpy", cache=True)
def _sharpness_one(gamma, k, s, discard, keep, orbit_row, max_period, tol, use_hist, hist, hist_lo, hist_hi):
    """The effective-sharpness map ``s -> gamma s (1-s)^{k-2}`` (integer ``k >= 3``), inlined.

    The same iteration, escape rule, Lyapunov sum and period detection as ``_orbit_one`` of :data:`_RUNNER_TEMPLATE`
    with the map's generated kernels, but with ``(1-s)^{k-2}`` as repeated products, no calls
    through function pointers, the derivative in the division-free form
    ``f'(s) = gamma (1-s)^{k-3} (1 - (k-1) s)`` (the printed sympy form
    ``gamma (1-s)^{k-2} (1 + (k-2) s/(s-1))`` simplified; equal up to rounding) and the Lyapunov
    sum ``sum_t ln|f'(s_t)|`` taken as the log of the running product (exactly rescaled by powers
    of two): about 20x faster. Returns ``(escape_step, lyapunov, period, s)``.
    """
    nstore = orbit_row.shape[0]
    nbins = hist.shape[0]
    c2 = k - 1.0
    if not _in_domain(s):
        for i in range(nstore):
            orbit_row[i] = math.nan
        return 0, math.nan, 0, s
    prod = 1.0  # running product of |f'(s_t)| = prod 2^pexp (one log at the end, not one per step)
    pexp = 0
    for t in range(discard + keep):
        sn, d = _sharpness_step(gamma, k, c2, s)
        if t >= discard:
            prod, pexp = _rescaled_product(prod * d, pexp)
        s = sn
        if not _in_domain(s):
            _nan_after_escape(orbit_row, t, discard, keep)
            return t + 1, math.nan, 0, s
        if t >= discard:
            kk = t - discard
            pos = kk - (keep - nstore)
            if pos >= 0:
                orbit_row[pos] = s
            if use_hist:
                b = _histogram_bin(s, hist_lo, hist_hi, nbins)
                if 0 <= b < nbins:
                    hist[b] += 1.0
    return -1, _lyapunov_of_product(prod, pexp, keep), _detect_period(orbit_row, max_period, tol), s


@njit(error_model="numpy", cache=True)
def _finish_rows(orbit, esc, discard, keep, max_period, tol, lyap, period):
    """After the CUDA kernel: orbit points from an escape on are NaN, period 0 and Lyapunov NaN
    there; elsewhere the period is detected (the steps of :func:`_sharpness_one`)."""
    for i in range(orbit.shape[0]):
        if esc[i] >= 0:
            _nan_after_escape(orbit[i], esc[i] - 1, discard, keep)
            lyap[i] = math.nan
            period[i] = 0
        else:
            period[i] = _detect_period(orbit[i], max_period, tol)


#: parameter values iterated together by :func:`_sharpness_lanes` (the inner loop LLVM vectorizes)
_ORBIT_LANES = 32


@njit(inline="always", error_model="numpy")
def _sharpness_steps(S, P, R, G, PR, c2, k, keep_phase, logistic):
    """One step of the effective-sharpness map for every lane (vectorizable: no branch on a lane),
    in the operation order of :func:`_sharpness_one`; returns how many lanes left the domain and
    how many Lyapunov products need rescaling."""
    L = _ORBIT_LANES
    if not logistic:  # (1-s)^{k-2}, (1-s)^{k-3} in their own passes (a runtime trip count inside the lane loop stops vectorization)
        for j in range(L):
            P[j] = 1.0 - S[j]
            R[j] = 1.0
        for _ in range(k - 3):
            for j in range(L):
                R[j] = P[j]
                P[j] = P[j] * (1.0 - S[j])
    nbad = 0
    nren = 0
    for j in range(L):
        s = S[j]
        p = (1.0 - s) if logistic else P[j]
        if keep_phase:
            pr = PR[j] * abs((G[j] * (1.0 if logistic else R[j])) * (1.0 - c2 * s))
            PR[j] = pr
            nren += 0 if (((pr > 1e-250) & (pr < 1e250)) | (pr == 0.0) | (abs(pr) == math.inf) | (pr != pr)) else 1
        sn = G[j] * s * p
        S[j] = sn
        nbad += 0 if ((sn > 0.0) & (sn < 2.0)) else 1  # NaN fails both
    return nbad, nren


@njit(error_model="numpy", cache=True)
def _sharpness_lanes(i0, gammas, k, s0, discard, keep, orbit, max_period, tol, final, esc, lyap, period):
    """:func:`_sharpness_one` for the values ``i0 .. i0 + _ORBIT_LANES - 1`` (all with the same ``k``)
    at once: one orbit is a chain of dependent operations (latency-bound); several chains side by
    side overlap, and the lane loop is vectorized. The same operations in the same order, so the
    same bits as :func:`_sharpness_one`. A lane that leaves the domain is recorded (rare path) and
    then iterates the harmless ``gamma = 1, s = 1/2`` until the block ends; its orbit points from
    the escape on are set to NaN at the end."""
    L = _ORBIT_LANES
    n = gammas.shape[0]
    nstore = orbit.shape[1]
    S = np.empty(L)
    P = np.empty(L)
    R = np.empty(L)
    G = np.empty(L)
    PR = np.ones(L)
    PE = np.zeros(L, np.int64)
    ESC = np.full(L, -1, np.int64)
    FIN = np.empty(L)
    for j in range(L):
        i = min(i0 + j, n - 1)
        G[j] = gammas[i]
        S[j] = s0[i]
        if not _in_domain(S[j]):
            ESC[j] = 0
            FIN[j] = S[j]
            G[j] = 1.0
            S[j] = 0.5
    c2 = k - 1.0
    nlanes = min(L, n - i0)
    for t in range(discard + keep):
        keep_phase = t >= discard
        if k == 3:  # constant flags: four specialised copies of the lane loop
            if keep_phase:
                nbad, nren = _sharpness_steps(S, P, R, G, PR, c2, k, True, True)
            else:
                nbad, nren = _sharpness_steps(S, P, R, G, PR, c2, k, False, True)
        elif keep_phase:
            nbad, nren = _sharpness_steps(S, P, R, G, PR, c2, k, True, False)
        else:
            nbad, nren = _sharpness_steps(S, P, R, G, PR, c2, k, False, False)
        if nren > 0:  # rescale the products by powers of two (exact), as _sharpness_one
            for j in range(L):
                pr = PR[j]
                if not (1e-250 < pr < 1e250) and pr != 0.0 and math.isfinite(pr):
                    m, e = math.frexp(pr)
                    PR[j] = m
                    PE[j] += e
        if nbad > 0:
            for j in range(L):
                if ESC[j] < 0 and not _in_domain(S[j]):
                    ESC[j] = t + 1
                    FIN[j] = S[j]
                    G[j] = 1.0
                    S[j] = 0.5
        if keep_phase:
            pos = t - discard - (keep - nstore)
            if pos >= 0:
                for j in range(nlanes):
                    orbit[i0 + j, pos] = S[j]
    for j in range(nlanes):
        i = i0 + j
        if ESC[j] >= 0:
            _nan_after_escape(orbit[i], ESC[j] - 1, discard, keep)
            esc[i] = ESC[j]
            lyap[i] = math.nan
            period[i] = 0
            final[i] = FIN[j]
        else:
            prod = PR[j]
            esc[i] = -1
            lyap[i] = ((math.log(prod) + PE[j] * _LN2) / keep if prod > 0.0
                       else (-math.inf if prod == 0.0 else math.log(prod)))
            period[i] = _detect_period(orbit[i], max_period, tol)
            final[i] = S[j]


@njit(parallel=True, error_model="numpy", cache=True)
def _sharpness_parallel(gammas, ks, s0, discard, keep, orbit, max_period, tol, use_hist, hist, hist_lo, hist_hi,
                        final, esc, lyap, period):
    """Every value independently: blocks of :data:`_ORBIT_LANES` values with one ``k`` through
    :func:`_sharpness_lanes`, the rest (density histograms, mixed ``k``) one by one."""
    n = gammas.shape[0]
    L = _ORBIT_LANES
    for b in prange((n + L - 1) // L):
        i0 = b * L
        i1 = min(i0 + L, n)
        same_k = True
        for i in range(i0, i1):
            if ks[i] != ks[i0]:
                same_k = False
        if same_k and not use_hist:
            _sharpness_lanes(i0, gammas, ks[i0], s0, discard, keep, orbit, max_period, tol, final, esc, lyap, period)
            continue
        for i in range(i0, i1):
            e, ly, pe, s = _sharpness_one(gammas[i], ks[i], s0[i], discard, keep, orbit[i], max_period, tol,
                                          use_hist, hist[i], hist_lo, hist_hi)
            esc[i] = e
            lyap[i] = ly
            period[i] = pe
            final[i] = s


@njit(error_model="numpy", cache=True)
def _sharpness_continuation(gammas, ks, s0, discard, keep, orbit, max_period, tol, use_hist, hist, hist_lo, hist_hi,
                            final, esc, lyap, period):
    s = s0[0]
    for i in range(gammas.shape[0]):
        e, ly, pe, s = _sharpness_one(gammas[i], ks[i], s, discard, keep, orbit[i], max_period, tol, use_hist,
                                      hist[i], hist_lo, hist_hi)
        esc[i] = e
        lyap[i] = ly
        period[i] = pe
        final[i] = s
        if e >= 0 and i + 1 < gammas.shape[0]:  # escaped: the next value starts fresh
            s = s0[i + 1]


_RUNNER_TEMPLATE = '''"""Orbit-diagram runners of the map module {sysmod!r} with the observable {obs!r}.

Generated by dynsys.scan.orbit (digest of its source and of the observable's file: {digest}). The
map's functions are module globals, not arguments: numba can cache a kernel on disk only then (a
kernel that receives functions as arguments is recompiled in every process).
"""
import math
import sys

import numba
import numpy as np
from numba import prange

from dynsys.scan.orbit import _detect_period, _nan_after_escape
{bindings}

@numba.njit(error_model="numpy", cache={cache})
def _orbit_one(obs_index, params, state, discard, keep, orbit_row, max_period, tol, use_hist, hist, hist_lo,
               hist_hi):
    """Iterate one parameter value in place (``state`` ends as the final state).

    Returns ``(escape_step, lyapunov, period)``; ``escape_step = -1`` when the orbit stayed.
    """
    dim = state.shape[0]
    nxt = np.empty(dim)
    J = np.empty((dim, dim))
    v = np.empty(dim)
    w = np.empty(dim)
    for i in range(dim):
        v[i] = 1.0 / math.sqrt(dim)
    nstore = orbit_row.shape[0]
    nbins = hist.shape[0]
    warm = min(discard, 64)
    if not in_domain(state, params):
        for i in range(nstore):
            orbit_row[i] = math.nan
        return 0, math.nan, 0
    lsum = 0.0
    total = discard + keep
    for t in range(total):
        tangent = t >= discard - warm
        if tangent:
            jacobian(state, params, J)
        step(state, params, nxt)
        for i in range(dim):
            state[i] = nxt[i]
        if not in_domain(state, params):
            _nan_after_escape(orbit_row, t, discard, keep)
            return t + 1, math.nan, 0
        if tangent:
            nrm = 0.0
            for i in range(dim):
                s = 0.0
                for j in range(dim):
                    s += J[i, j] * v[j]
                w[i] = s
                nrm += s * s
            nrm = math.sqrt(nrm)
            if t >= discard:
                lsum += math.log(nrm) if nrm > 0.0 else -math.inf
            if nrm > 0.0 and math.isfinite(nrm):
                for i in range(dim):
                    v[i] = w[i] / nrm
        if t >= discard:
            kk = t - discard
            o = observe(state, params, obs_index)
            pos = kk - (keep - nstore)
            if pos >= 0:
                orbit_row[pos] = o
            if use_hist:
                b = int(math.floor((o - hist_lo) / (hist_hi - hist_lo) * nbins))
                if 0 <= b < nbins:
                    hist[b] += 1.0
    return -1, lsum / keep, _detect_period(orbit_row, max_period, tol)


@numba.njit(parallel=True, error_model="numpy", cache={cache})
def orbit_parallel(obs_index, P, S0, discard, keep, orbit, max_period, tol, use_hist, hist, hist_lo, hist_hi,
                   final, esc, lyap, period):
    n = P.shape[0]
    for i in prange(n):
        st = S0[i].copy()
        e, ly, pe = _orbit_one(obs_index, P[i], st, discard, keep, orbit[i], max_period, tol, use_hist, hist[i],
                               hist_lo, hist_hi)
        esc[i] = e
        lyap[i] = ly
        period[i] = pe
        final[i, :] = st


@numba.njit(error_model="numpy", cache={cache})
def orbit_continuation(obs_index, P, S0, discard, keep, orbit, max_period, tol, use_hist, hist, hist_lo, hist_hi,
                       final, esc, lyap, period):
    n = P.shape[0]
    st = S0[0].copy()
    for i in range(n):
        e, ly, pe = _orbit_one(obs_index, P[i], st, discard, keep, orbit[i], max_period, tol, use_hist, hist[i],
                               hist_lo, hist_hi)
        esc[i] = e
        lyap[i] = ly
        period[i] = pe
        final[i, :] = st
        if e >= 0 and i + 1 < n:  # escaped: the next value starts fresh
            st = S0[i + 1].copy()
'''

#: (system.step, observable) -> (step, observable, orbit_parallel, orbit_continuation); the functions
#: are kept so that their ids are never reused
_RUNNERS: dict = {}


def _file_digest(obj) -> str | None:
    """sha256 of the source file defining ``obj`` (None when there is none)."""
    import hashlib
    import inspect

    try:
        path = inspect.getsourcefile(obj)
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except (OSError, TypeError):
        return None


def _runners(system, obs_fn):
    """``(orbit_parallel, orbit_continuation)`` of ``system`` with the observable ``obs_fn``.

    Generated from :data:`_RUNNER_TEMPLATE` into a content-addressed module next to the map's
    kernels and compiled with ``cache=True`` (the digest covers this file and the observable's
    file, so a change of either recompiles): a fresh process loads them from disk instead of
    compiling them (about 10 s). When the map's kernels or the observable cannot be imported
    again by module and name (a closure, a function typed at the prompt), the same source is
    compiled in memory, once per process.
    """
    import hashlib
    import sys

    from dynsys.systems import _load_kernels

    key = (id(system.step), id(obs_fn))
    if key in _RUNNERS:
        return _RUNNERS[key][2:]
    sysmod = getattr(getattr(system.step, "py_func", None), "__module__", None)
    py_obs = getattr(obs_fn, "py_func", None)
    obsmod = getattr(py_obs, "__module__", None)
    obsname = getattr(py_obs, "__qualname__", "")
    importable = (sysmod in sys.modules and obsmod in sys.modules and obsname.isidentifier()
                  and getattr(sys.modules[sysmod], "step", None) is system.step
                  and getattr(sys.modules[sysmod], "jacobian", None) is system.jacobian
                  and getattr(sys.modules[sysmod], "in_domain", None) is system.in_domain
                  and getattr(sys.modules[obsmod], obsname, None) is obs_fn)
    d_self = _file_digest(_detect_period.py_func)
    d_obs = _file_digest(py_obs) if importable else None
    if importable and d_self is not None and d_obs is not None:
        digest = hashlib.sha256(f"{d_self} {d_obs}".encode()).hexdigest()[:16]
        bindings = (f"_map = sys.modules[{sysmod!r}]\nstep, jacobian, in_domain = _map.step, _map.jacobian, "
                    f"_map.in_domain\nobserve = getattr(sys.modules[{obsmod!r}], {obsname!r})\n")
        src = _RUNNER_TEMPLATE.format(sysmod=sysmod, obs=f"{obsmod}.{obsname}", digest=digest, bindings=bindings,
                                      cache=True)
        mod = _load_kernels(f"orbit_{sysmod}_{obsname}", src)
        res = (mod.orbit_parallel, mod.orbit_continuation)
    else:
        src = _RUNNER_TEMPLATE.format(sysmod=sysmod, obs=getattr(py_obs, "__qualname__", repr(obs_fn)), digest="-",
                                      bindings="", cache=False)
        ns = {"__name__": "dynsys_orbit_runners_uncached", "step": system.step, "jacobian": system.jacobian,
              "in_domain": system.in_domain, "observe": obs_fn}
        exec(compile(src, "<dynsys.scan.orbit runners>", "exec"), ns)
        res = (ns["orbit_parallel"], ns["orbit_continuation"])
    _RUNNERS[key] = (system.step, obs_fn, *res)
    return res


def _orbit_device(device, supported, system, continuation):
    """``"cpu"`` or ``"cuda"`` for the orbit diagram's ``device`` argument (see :func:`orbit_diagram`)."""
    from dynsys.scan.cuda_backend import resolve_device

    if device == "auto":
        return resolve_device("auto") if supported else "cpu"
    dev = resolve_device(device)
    if dev == "cuda" and not supported:
        what = ("continuation = True (sequential over the values)" if continuation
                else f"system {system.name!r} with this observable")
        raise ValueError(f"device = 'cuda' does not run {what}; allowed: device = 'cuda' for the sharpness map "
                         "(integer k, observe its state, continuation = False), else device = 'cpu'")
    return dev


def orbit_diagram(system, param, values, *, fixed=None, discard=1000, keep=1000, continuation=False,
                  state0=None, max_period=64, tol=1e-6, observe=None, histogram_bins=None,
                  histogram_range=None, store_points=None, device="cpu"):
    """Orbit diagram of ``system`` over ``param`` (math.md D10; Fig. 4 of the degenerate-polynomials paper).

    Parameters
    ----------
    system : MapSystem or str
        A system of :mod:`dynsys.systems` (or its name, e.g. ``"sharpness"``).
    param : str
        The swept parameter (one of ``system.param_names``).
    values : array_like
        Its values (1-D, finite, each valid for the system).
    fixed : dict, optional
        Values of the other parameters (defaults: ``system.defaults``).
    discard, keep : int
        Transient steps and kept steps (``discard >= 0``, ``keep >= 1``).
    continuation : bool
        Start each value from the previous value's final state (fresh ``state0`` after an
        escape) instead of ``state0`` every time.
    state0 : dict or array, optional
        Initial state (default ``system.state_defaults``).
    max_period, tol : int, float
        Period detection bound and relative tolerance.
    observe : str or numba function, optional
        What the orbit records: a state name (default: the first state) or an ``@njit``
        function ``(state, params, index) -> float``.
    histogram_bins, histogram_range : int, (float, float), optional
        Also accumulate a density histogram of all ``keep`` points per value (for long keeps);
        the range defaults to the domain ``(0, 2)`` for ``sharpness`` and is required otherwise.
    store_points : int, optional
        Keep only the last ``store_points`` points in ``orbit`` (default: all of ``keep``, or
        ``min(keep, 1000)`` when a histogram is requested).
    device : {"cpu", "cuda", "auto"}
        ``"cuda"``: one GPU thread per value (numba-cuda, :mod:`dynsys.scan.cuda_backend`; the same
        orbit points bit for bit, the Lyapunov exponent to the last bit) for the effective-sharpness
        map with integer ``k``, its state as the observable and no continuation (each value is
        independent); ``"auto"``: CUDA when available and applicable, else the CPU.

    Returns
    -------
    xarray.Dataset
        Coordinates ``param`` (named after the parameter, dimension ``param``), ``keep``;
        variables ``orbit`` (param, keep), ``period``, ``lyapunov``, ``escaped``, ``escape_step``,
        ``final_state`` (param, state); with a histogram ``density`` (param, bin) normalized to
        sum 1 per value over the in-range points and ``bin_center``. ``attrs``: every setting.
    """
    import xarray as xr

    from dynsys import __version__
    from dynsys.systems import MapSystem, get_system

    if isinstance(system, str):
        system = get_system(system)
    if not isinstance(system, MapSystem):
        raise ValueError(f"system = {system!r} is not a MapSystem or a system name; allowed: a name in dynsys.systems.SYSTEMS")
    if param not in system.param_names:
        raise ValueError(f"param = {param!r} is not a parameter of system {system.name!r}; allowed: {', '.join(system.param_names)}")
    values = check_finite_array("values", values, ndim=1)
    discard = check_int("discard", discard, low=0)
    keep = check_int("keep", keep, low=1)
    max_period = check_int("max_period", max_period, low=1)
    tol = check_positive("tol", tol)
    if not isinstance(continuation, (bool, np.bool_)):
        raise ValueError(f"continuation = {continuation!r} is not a bool; allowed: True or False")
    fixed = dict(fixed or {})
    if param in fixed:
        raise ValueError(f"fixed sets the swept parameter {param!r}; allowed: the other parameters {', '.join(p for p in system.param_names if p != param)}")
    P = np.empty((values.size, len(system.param_names)))
    if values.size:
        # the fixed parameters are validated once (params_array), each swept value by its validator
        P[:] = system.params_array(**{**fixed, param: float(values[0])})
        col = system.param_names.index(param)
        check = system._validators[param]
        if hasattr(check, "check_array"):  # an interval domain: checked as a whole
            P[:, col] = check.check_array(values)
        else:
            P[:, col] = [float(check(float(val))) for val in values]
    if state0 is None:
        s0 = system.default_state()
    elif isinstance(state0, dict):
        s0 = system.default_state(**state0)
    else:
        s0 = check_finite_array("state0", state0, ndim=1)
        if s0.shape != (system.dim,):
            raise ValueError(f"state0 has shape {s0.shape}; allowed: ({system.dim},) for system {system.name!r}")
    S0 = np.ascontiguousarray(np.broadcast_to(s0, (values.size, system.dim)))

    if observe is None:
        observe = system.state_names[0]
    if isinstance(observe, str):
        if observe not in system.state_names:
            raise ValueError(f"observe = {observe!r} is not a state of system {system.name!r}; allowed: {', '.join(system.state_names)}")
        obs_name, obs_index, obs_fn = observe, system.state_names.index(observe), component
    else:
        obs_name, obs_index, obs_fn = getattr(observe, "__name__", "observable"), 0, observe

    use_hist = histogram_bins is not None
    if use_hist:
        histogram_bins = check_int("histogram_bins", histogram_bins, low=1, high=100_000)
        if histogram_range is None:
            if system.name != "sharpness":
                raise ValueError(f"histogram_range = None for system {system.name!r}; allowed: (low, high) with low < high")
            histogram_range = (0.0, 2.0)
        lo, hi = (float(v) for v in histogram_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"histogram_range = {histogram_range!r} is not an increasing pair; allowed: (low, high) with low < high")
    else:
        histogram_bins, lo, hi = 1, 0.0, 1.0
    if store_points is None:
        store_points = min(keep, 1000) if use_hist else keep
    store_points = check_int("store_points", store_points, low=1, high=keep)
    if values.size * store_points > MAX_ORBIT_POINTS:
        raise ValueError(f"values x keep = {values.size} x {store_points} = {values.size * store_points} orbit points "
                         f"({values.size * store_points * 8 / 2**30:.1f} GiB) do not fit; allowed: at most {MAX_ORBIT_POINTS} "
                         "(use histogram_bins with store_points for long keeps)")

    orbit = np.empty((values.size, store_points))
    hist = np.zeros((values.size, histogram_bins))
    final = np.empty((values.size, system.dim))
    esc = np.empty(values.size, np.int64)
    lyap = np.empty(values.size)
    period = np.empty(values.size, np.int64)
    fast = system.name == "sharpness" and obs_fn is component and bool(np.all(P[:, 1] == np.round(P[:, 1])))
    device = _orbit_device(device, fast and not continuation, system, continuation)
    if fast:
        # compiled fast path of the effective-sharpness map (same iteration, no function pointers)
        if device == "cuda":
            from dynsys.scan.cuda_backend import orbit_sharpness_cuda as runner
        else:
            runner = _sharpness_continuation if continuation else _sharpness_parallel
        fin = np.empty(values.size)
        runner(np.ascontiguousarray(P[:, 0]), P[:, 1].astype(np.int64), np.ascontiguousarray(S0[:, 0]), discard, keep,
               orbit, max_period, tol, use_hist, hist, lo, hi, fin, esc, lyap, period)
        final[:, 0] = fin
    else:
        par, cont = _runners(system, obs_fn)  # compiled once, then loaded from numba's disk cache
        runner = cont if continuation else par
        runner(obs_index, P, S0, discard, keep, orbit, max_period, tol, use_hist, hist, lo, hi, final, esc, lyap,
               period)

    coords = {param: (param, values), "keep": ("keep", np.arange(keep - store_points, keep)),
              "state": ("state", list(system.state_names))}
    data = {
        "orbit": ((param, "keep"), orbit, {"long_name": f"{obs_name} on the attractor", "observable": obs_name}),
        "period": (param, period.astype(np.int32), {"long_name": f"detected period (0: none <= {max_period} or escaped)"}),
        "lyapunov": (param, lyap, {"long_name": "largest Lyapunov exponent (NaN where escaped)"}),
        "escaped": (param, esc >= 0, {"long_name": "orbit left the domain"}),
        "escape_step": (param, esc, {"long_name": "steps before leaving the domain (-1: never)"}),
        "final_state": ((param, "state"), final, {"long_name": "state after discard + keep steps"}),
    }
    if use_hist:
        edges = np.linspace(lo, hi, histogram_bins + 1)
        coords["bin"] = ("bin", 0.5 * (edges[1:] + edges[:-1]))
        tot = hist.sum(axis=1, keepdims=True)
        dens = np.divide(hist, tot, out=np.zeros_like(hist), where=tot > 0)
        data["density"] = ((param, "bin"), dens, {"long_name": f"fraction of the {keep} kept points per bin"})
    ds = xr.Dataset({k: xr.Variable(*v) for k, v in data.items()}, coords=coords)
    fixed_full = {p: float(P[0, i]) for i, p in enumerate(system.param_names) if p != param}
    ds.attrs.update({
        "kind": "orbit_diagram", "system": system.name, "param": param, "discard": discard, "keep": keep,
        "continuation": int(bool(continuation)), "max_period": max_period, "tol": tol, "observe": obs_name,
        "state0": s0.tolist(), "dynsys_version": __version__,
        **{f"fixed_{p}": v for p, v in fixed_full.items()},
    })
    if use_hist:
        ds.attrs.update({"histogram_bins": histogram_bins, "histogram_range": [lo, hi]})
    return ds
