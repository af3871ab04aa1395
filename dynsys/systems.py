"""Maps of the theory as systems: one sympy definition, two forms.

Each :class:`MapSystem` is written once, as sympy expressions for the next
state (:meth:`MapSystem.symbolic`). From that single definition this module
generates Python source for numba kernels - the step, the Jacobian (sympy's
derivative of the same expressions), a domain test and an orbit runner -
writes it to a content-addressed file in a cache folder and compiles it with
``@njit(cache=True)``. A test evaluates both forms at random states and checks
that they agree to 1e-12 relative, so the compiled map can never drift from
the symbolic one.

Systems (``SYSTEMS``):

``sharpness``
    Effective-sharpness map ``s -> gamma s (1 - s)^(k-2)`` (Eq. 18 of the
    degenerate-polynomials paper, D10); domain ``0 < s < 2``.
``adam-normalized``
    Adam with ``eps = 0``, no bias correction, on ``x^k/k`` in the normalized
    state ``u = m/x^(k-1)``, ``w = eta x^(k-2)/sqrt(v)``, ``z = x^2/eta^2``
    (Eqs. 3-5 of the degenerate-polynomials paper, D1). ``beta1 = 0`` is
    RMSProp.
``gd-power``
    Gradient descent on ``x^k/k``: ``x -> x - lr x^(k-1)``.
``gd-exp-power``
    GD with the schedule ``eta_t = eta_0 gamma^t`` on ``x^k/k`` as an
    autonomous map of ``(x, eta)`` (Eq. 17 of the degenerate-polynomials paper).
``rmsprop-power``, ``adam-power``
    Raw RMSProp / Adam (``eps = 0``, no bias correction, PyTorch order) on
    ``x^k/k``; state ``(x_t, m_{t-1}, v_{t-1})`` (``(x, v)`` for RMSProp).
``llas-gd``
    GD on the LLAS toy ``f(x, y) = (50x + 200) y^2 - x + 5`` (Eq. 2 of the
    loss-spike-in-training-neural-networks paper), domain ``x > -4``.

Build your own with :func:`map_system` from any sympy map.

Kernels use numba's ``error_model='numpy'``: a division by zero gives inf or
nan instead of raising inside the kernel, and ``in_domain`` (which also checks
finiteness) reports that state as escaped.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

from dynsys._validate import check_choice, check_even_k, check_in_range, check_int, check_real

__all__ = ["MapSystem", "get_system", "map_system", "SYSTEMS"]

SYSTEMS = (
    "sharpness",
    "adam-normalized",
    "gd-power",
    "gd-exp-power",
    "rmsprop-power",
    "adam-power",
    "llas-gd",
)


# ----------------------------------------------------------------------------- the system value

@dataclass(frozen=True)
class MapSystem:
    """A discrete map ``state_{t+1} = F(state_t; params)`` in two forms.

    Attributes
    ----------
    name : str
    state_names, param_names : tuple of str (order of the state and params arrays)
    defaults : dict of default parameter values (``k`` an int)
    state_defaults : dict of default initial state values
    description : one line
    step : numba function ``(state, params, out) -> None`` writing ``F(state)`` into ``out``
    jacobian : numba function ``(state, params, out2d) -> None`` writing ``dF/dstate``
    in_domain : numba function ``(state, params) -> bool`` (finite and inside the domain)
    orbit : numba function ``(state0, params, steps, traj) -> int``: iterates
        ``steps`` times, writes states ``0..steps`` into the rows of ``traj``
        and returns the number of steps taken before the state left the domain
        (``steps`` when it never did; rows after an escape are nan).
    """

    name: str
    state_names: tuple
    param_names: tuple
    defaults: dict
    state_defaults: dict
    description: str
    step: Any = field(repr=False, compare=False)
    jacobian: Any = field(repr=False, compare=False)
    in_domain: Any = field(repr=False, compare=False)
    orbit: Any = field(repr=False, compare=False)
    _definition: Callable = field(repr=False, compare=False)
    _validators: dict = field(repr=False, compare=False)
    _domain: Callable = field(repr=False, compare=False)

    @property
    def dim(self) -> int:
        return len(self.state_names)

    # -- symbolic form --------------------------------------------------------
    def symbolic(self, k=None):
        """The definition: ``(state_symbols, param_symbols, next_state_exprs)``.

        Parameters
        ----------
        k : optional int; substitute this exponent (it then leaves the
            parameter symbols). Only for systems with a parameter ``k``.
        """
        states, params, exprs = self._definition()
        if k is not None:
            if "k" not in self.param_names:
                raise ValueError(f"k = {k!r} is not a parameter of system {self.name!r}; allowed: k=None")
            k = self._validators["k"](k)
            ksym = params[self.param_names.index("k")]
            exprs = [sp.sympify(e).subs(ksym, sp.Integer(k)) for e in exprs]
            params = [p for p in params if p != ksym]
        return list(states), list(params), list(exprs)

    def symbolic_jacobian(self, k=None) -> sp.Matrix:
        """Jacobian of :meth:`symbolic` with respect to the state."""
        states, _, exprs = self.symbolic(k)
        return sp.Matrix(exprs).jacobian(sp.Matrix(states))

    def domain(self, k=None) -> list:
        """Domain as sympy relations in the state and parameter symbols (all must hold)."""
        conds = list(self._domain())
        if k is not None:
            states, params, _ = self._definition()
            ksym = params[self.param_names.index("k")]
            conds = [c.subs(ksym, k) for c in conds]
        return conds

    # -- arrays -------------------------------------------------------------
    def params_array(self, **values) -> np.ndarray:
        """Parameters as a float64 array in ``param_names`` order (defaults filled in, validated)."""
        for key in values:
            if key not in self.param_names:
                raise ValueError(f"{key} is not a parameter of system {self.name!r}; allowed: {', '.join(self.param_names)}")
        merged = {**self.defaults, **values}
        out = np.empty(len(self.param_names))
        for i, p in enumerate(self.param_names):
            out[i] = float(self._validators[p](merged[p]))
        return out

    def default_state(self, **values) -> np.ndarray:
        """Initial state as a float64 array in ``state_names`` order (defaults filled in, finite)."""
        for key in values:
            if key not in self.state_names:
                raise ValueError(f"{key} is not a state variable of system {self.name!r}; allowed: {', '.join(self.state_names)}")
        merged = {**self.state_defaults, **values}
        return np.array([check_real(s, merged[s]) for s in self.state_names], dtype=np.float64)

    # -- convenience ----------------------------------------------------------
    def iterate(self, state0, params, steps: int):
        """Run the compiled map: returns ``(traj, n)`` with ``traj`` of shape ``(steps+1, dim)``.

        ``n`` is the number of steps taken before the state left the domain
        (``steps`` if it never did); rows after the escape are nan.
        """
        steps = check_int("steps", steps, low=1)
        state0 = np.ascontiguousarray(state0, dtype=np.float64)
        params = np.ascontiguousarray(params, dtype=np.float64)
        if state0.shape != (self.dim,):
            raise ValueError(f"state0 has shape {state0.shape}; allowed: ({self.dim},) for system {self.name!r}")
        if params.shape != (len(self.param_names),):
            raise ValueError(f"params has shape {params.shape}; allowed: ({len(self.param_names)},) for system {self.name!r}")
        traj = np.empty((steps + 1, self.dim))
        n = self.orbit(state0, params, steps, traj)
        return traj, int(n)

    def evaluate_symbolic(self, state, params) -> tuple[np.ndarray, np.ndarray]:
        """Step and Jacobian from the sympy form at one numeric point (high precision, for tests)."""
        states, psyms, exprs = self.symbolic()
        def exact(v):  # integer-valued parameters (the exponent k) stay integers: (-a)**k is real
            v = float(v)
            return sp.Integer(int(v)) if v.is_integer() else sp.Float(v, 40)

        subs = {**{s: sp.Float(float(v), 40) for s, v in zip(states, state)},
                **{p: exact(v) for p, v in zip(psyms, params)}}
        nxt = np.array([float(sp.N(sp.sympify(e).subs(subs), 30)) for e in exprs])
        J = sp.Matrix(exprs).jacobian(sp.Matrix(states))
        jac = np.array([[float(sp.N(J[i, j].subs(subs), 30)) for j in range(J.cols)] for i in range(J.rows)])
        return nxt, jac


# ----------------------------------------------------------------------------- code generation

_PRINT_LOCK = threading.Lock()


def _cache_dir() -> str:
    base = os.environ.get("DYNSYS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "dynsys")
    path = os.path.join(base, "maps")
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe{os.getpid()}")
        with open(probe, "w") as fh:
            fh.write("")
        os.remove(probe)
        return path
    except OSError:
        path = os.path.join(tempfile.gettempdir(), f"dynsys-maps-{os.getuid() if hasattr(os, 'getuid') else 'u'}")
        os.makedirs(path, exist_ok=True)
        return path


def _printer():
    from sympy.printing.pycode import PythonCodePrinter

    return PythonCodePrinter({"fully_qualified_modules": True, "standard": "python3"})


def _assignments(exprs, printer, prefix="_c"):
    """Common-subexpression elimination, then source lines."""
    syms = sp.numbered_symbols(prefix)
    repl, reduced = sp.cse(exprs, symbols=syms, optimizations="basic")
    lines = [f"    {printer.doprint(s)} = {printer.doprint(e)}" for s, e in repl]
    return lines, reduced


def generate_source(name, states, params, exprs, domain) -> str:
    """Python source of the numba kernels of one map (step, jacobian, in_domain, orbit)."""
    printer = _printer()
    n = len(states)
    # unpack lines: readable names (state and parameter names) inside the kernels
    unpack = [f"    {printer.doprint(s)} = state[{i}]" for i, s in enumerate(states)]
    unpack += [f"    {printer.doprint(p)} = params[{i}]" for i, p in enumerate(params)]

    src = [
        f'"""numba kernels of the map {name!r}, generated from its sympy definition by dynsys.systems."""',
        "import math",
        "import numba",
        "",
        "",
        "@numba.njit(cache=True, error_model='numpy')",
        "def step(state, params, out):",
        *unpack,
    ]
    lines, reduced = _assignments(exprs, printer)
    src += lines
    src += [f"    out[{i}] = {printer.doprint(e)}" for i, e in enumerate(reduced)]
    src += ["", "", "@numba.njit(cache=True, error_model='numpy')", "def jacobian(state, params, out):", *unpack]
    J = sp.Matrix(exprs).jacobian(sp.Matrix(states))
    flat = [J[i, j] for i in range(n) for j in range(n)]
    lines, reduced = _assignments(flat, printer)
    src += lines
    src += [f"    out[{i // n}, {i % n}] = {printer.doprint(e)}" for i, e in enumerate(reduced)]
    src += ["", "", "@numba.njit(cache=True, error_model='numpy')", "def in_domain(state, params):", *unpack]
    src += [f"    if not math.isfinite(state[{i}]):\n        return False" for i in range(n)]
    for cond in domain:
        src += [f"    if not ({printer.doprint(cond)}):\n        return False"]
    src += ["    return True"]
    src += [
        "",
        "",
        "@numba.njit(cache=True, error_model='numpy')",
        "def orbit(state0, params, steps, traj):",
        f"    n = {n}",
        "    for i in range(n):",
        "        traj[0, i] = state0[i]",
        "    if not in_domain(state0, params):",
        "        for t in range(1, steps + 1):",
        "            for i in range(n):",
        "                traj[t, i] = math.nan",
        "        return 0",
        "    for t in range(steps):",
        "        step(traj[t], params, traj[t + 1])",
        "        if not in_domain(traj[t + 1], params):",
        "            for s in range(t + 2, steps + 1):",
        "                for i in range(n):",
        "                    traj[s, i] = math.nan",
        "            return t + 1",
        "    return steps",
        "",
    ]
    return "\n".join(src)


def _load_kernels(name: str, source: str):
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    modname = f"dynsys_map_{name.replace('-', '_')}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    path = os.path.join(_cache_dir(), modname + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)  # atomic: parallel test workers never read half a file
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


def map_system(
    name: str,
    states,
    params,
    exprs,
    *,
    defaults: dict,
    state_defaults: dict | None = None,
    domain=(),
    validators: dict | None = None,
    description: str = "",
) -> MapSystem:
    """Build a :class:`MapSystem` from any sympy map (user-supplied maps welcome).

    Parameters
    ----------
    name : str
    states, params : sequences of sympy.Symbol (their names become ``state_names``/``param_names``)
    exprs : next-state sympy expressions, one per state
    defaults : default value for every parameter
    state_defaults : default initial state (zeros where missing)
    domain : sympy relations in states and params that must all hold (finiteness is always required)
    validators : ``{param: callable(value) -> value}`` raising ValueError; default: finite real
    description : one line

    Example
    -------
    >>> import sympy as sp
    >>> x, r = sp.symbols("x r")
    >>> logistic = map_system("logistic", [x], [r], [r * x * (1 - x)], defaults={"r": 3.5},
    ...                       domain=[x >= 0, x <= 1])
    >>> traj, n = logistic.iterate(logistic.default_state(x=0.2), logistic.params_array(), 100)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name = {name!r} is not a non-empty string; allowed: a non-empty string")
    states = list(states)
    params = list(params)
    for label, syms in (("states", states), ("params", params)):
        for s in syms:
            if not isinstance(s, sp.Symbol):
                raise ValueError(f"{label} contains {s!r}; allowed: sympy Symbols")
    if not states:
        raise ValueError("states is empty; allowed: at least one sympy Symbol")
    names = [s.name for s in states + params]
    if len(set(names)) != len(names):
        raise ValueError(f"states and params repeat a name among {names}; allowed: distinct names")
    for nm in names:
        if not nm.isidentifier() or nm in ("state", "params", "out", "math", "numba", "traj", "steps", "n", "t", "i", "s0"):
            raise ValueError(f"symbol name {nm!r} cannot be used in a kernel; allowed: identifiers other than reserved kernel names")
    exprs = [sp.sympify(e) for e in exprs]
    if len(exprs) != len(states):
        raise ValueError(f"exprs has {len(exprs)} entries; allowed: exactly {len(states)} (one per state)")
    extra = set().union(*(e.free_symbols for e in exprs)) - set(states) - set(params)
    if extra:
        raise ValueError(f"exprs use symbols {sorted(map(str, extra))} that are neither states nor params; allowed: {names}")
    if not isinstance(defaults, dict) or set(defaults) != {p.name for p in params}:
        raise ValueError(f"defaults = {defaults!r} must give a value for every parameter; allowed keys: {[p.name for p in params]}")
    domain = list(domain)
    validators = dict(validators or {})
    for p in params:
        validators.setdefault(p.name, lambda v, _n=p.name: check_real(_n, v))
    sd = {s.name: 0.0 for s in states}
    sd.update(state_defaults or {})
    with _PRINT_LOCK:
        source = generate_source(name, states, params, exprs, domain)
    mod = _load_kernels(name, source)
    return MapSystem(
        name=name,
        state_names=tuple(s.name for s in states),
        param_names=tuple(p.name for p in params),
        defaults=dict(defaults),
        state_defaults=sd,
        description=description,
        step=mod.step,
        jacobian=mod.jacobian,
        in_domain=mod.in_domain,
        orbit=mod.orbit,
        _definition=lambda: (tuple(states), tuple(params), tuple(exprs)),
        _validators=validators,
        _domain=lambda: tuple(domain),
    )


# ----------------------------------------------------------------------------- the definitions

class _IntervalCheck:
    """Validator of a parameter with an interval domain (``low < v``, ``v < high``, ...): called
    with one value it is :func:`~dynsys._validate.check_in_range`; :meth:`check_array` checks a
    whole sweep at once (orbit diagrams: one comparison per value instead of one Python call)."""

    def __init__(self, name, low=None, high=None, *, low_open=False, high_open=False):
        self.name, self.low, self.high, self.low_open, self.high_open = name, low, high, low_open, high_open

    def __call__(self, value):
        return check_in_range(self.name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def check_array(self, values):
        """``values`` (finite float64, 1-D) checked as a whole; the first value out of range
        raises the scalar check's message."""
        ok = np.isfinite(values)
        if self.low is not None:
            ok &= (values > self.low) if self.low_open else (values >= self.low)
        if self.high is not None:
            ok &= (values < self.high) if self.high_open else (values <= self.high)
        if not ok.all():
            self(float(values[np.argmin(ok)]))  # raises
        return values


def _v_beta(name):
    return _IntervalCheck(name, 0.0, 1.0, high_open=True)


def _v_lr(name):
    return _IntervalCheck(name, 0.0, None, low_open=True)


def _v_even_k(minimum=2):
    return lambda v: check_even_k("k", v, minimum)


def _sharpness():
    """D10, Eq. 18: ``s_{t+1} = gamma s_t (1 - s_t)^(k-2)``."""
    s = sp.Symbol("s")
    gamma, k = sp.symbols("gamma k")
    exprs = [gamma * s * (1 - s) ** (k - 2)]
    return map_system(
        "sharpness", [s], [gamma, k], exprs,
        defaults={"gamma": 2.0, "k": 4}, state_defaults={"s": 0.5},
        domain=[s > 0, s < 2],
        validators={"gamma": _v_lr("gamma"), "k": lambda v: check_int("k", v, low=3)},
        description="effective sharpness s = eta_t x^(k-2) of GD with eta_t = eta_0 gamma^t on x^k/k (Eq. 18)",
    )


def _adam_normalized():
    """D1, Eqs. 3-5: Adam (eps = 0, no bias correction) on x^k/k in normalized coordinates."""
    u, w, z = sp.symbols("u w z")
    b1, b2, k = sp.symbols("beta1 beta2 k")
    s = 1 - u * w
    exprs = [
        b1 * u / s ** (k - 1) + (1 - b1),
        w * s ** (k - 2) / sp.sqrt(b2 + (1 - b2) * z * w**2 * s ** (2 * k - 2)),
        z * s**2,
    ]
    return map_system(
        "adam-normalized", [u, w, z], [b1, b2, k], exprs,
        defaults={"beta1": 0.9, "beta2": 0.999, "k": 4},
        state_defaults={"u": 1.0, "w": 1e-3, "z": 1e6},
        domain=[w >= 0, z >= 0],
        validators={"beta1": _v_beta("beta1"), "beta2": _v_beta("beta2"), "k": _v_even_k(2)},
        description="Adam on x^k/k: u = m/x^(k-1), w = eta x^(k-2)/sqrt(v), z = x^2/eta^2 (Eqs. 3-5)",
    )


def _gd_power():
    x = sp.Symbol("x")
    lr, k = sp.symbols("lr k")
    return map_system(
        "gd-power", [x], [lr, k], [x - lr * x ** (k - 1)],
        defaults={"lr": 0.1, "k": 4}, state_defaults={"x": 1.0},
        validators={"lr": _v_lr("lr"), "k": _v_even_k(2)},
        description="gradient descent on x^k/k: x -> x - lr x^(k-1)",
    )


def _gd_exp_power():
    x, eta = sp.symbols("x eta")
    gamma, k = sp.symbols("gamma k")
    return map_system(
        "gd-exp-power", [x, eta], [gamma, k], [x - eta * x ** (k - 1), gamma * eta],
        defaults={"gamma": 1.1, "k": 4}, state_defaults={"x": 1.0, "eta": 0.1},
        domain=[eta > 0],
        validators={"gamma": _v_lr("gamma"), "k": _v_even_k(2)},
        description="GD with eta_t = eta_0 gamma^t on x^k/k (Eq. 17), state (x, eta)",
    )


def _rmsprop_power():
    x, v = sp.symbols("x v")
    lr, b2, k = sp.symbols("lr beta2 k")
    g = x ** (k - 1)
    v_new = b2 * v + (1 - b2) * g**2
    return map_system(
        "rmsprop-power", [x, v], [lr, b2, k], [x - lr * g / sp.sqrt(v_new), v_new],
        defaults={"lr": 1e-3, "beta2": 0.999, "k": 4}, state_defaults={"x": 1.0, "v": 0.0},
        domain=[v >= 0],
        validators={"lr": _v_lr("lr"), "beta2": _v_beta("beta2"), "k": _v_even_k(2)},
        description="RMSProp (eps = 0, no bias correction) on x^k/k, state (x_t, v_{t-1})",
    )


def _adam_power():
    x, m, v = sp.symbols("x m v")
    lr, b1, b2, k = sp.symbols("lr beta1 beta2 k")
    g = x ** (k - 1)
    m_new = b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * g**2
    return map_system(
        "adam-power", [x, m, v], [lr, b1, b2, k], [x - lr * m_new / sp.sqrt(v_new), m_new, v_new],
        defaults={"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "k": 4},
        state_defaults={"x": 1.0, "m": 0.0, "v": 0.0},
        domain=[v >= 0],
        validators={"lr": _v_lr("lr"), "beta1": _v_beta("beta1"), "beta2": _v_beta("beta2"), "k": _v_even_k(2)},
        description="Adam (eps = 0, no bias correction) on x^k/k, state (x_t, m_{t-1}, v_{t-1})",
    )


def _llas_gd():
    x, y = sp.symbols("x y")
    lr = sp.Symbol("lr")
    f = (50 * x + 200) * y**2 - x + 5
    return map_system(
        "llas-gd", [x, y], [lr], [x - lr * sp.diff(f, x), y - lr * sp.diff(f, y)],
        defaults={"lr": 5e-3}, state_defaults={"x": 0.5, "y": 1e-5},
        domain=[x > -4],
        validators={"lr": _v_lr("lr")},
        description="GD on the LLAS toy f(x, y) = (50x + 200) y^2 - x + 5 on x > -4",
    )


_BUILDERS = {
    "sharpness": _sharpness,
    "adam-normalized": _adam_normalized,
    "gd-power": _gd_power,
    "gd-exp-power": _gd_exp_power,
    "rmsprop-power": _rmsprop_power,
    "adam-power": _adam_power,
    "llas-gd": _llas_gd,
}


@lru_cache(maxsize=None)
def _get(name: str) -> MapSystem:
    return _BUILDERS[name]()


def get_system(name: str) -> MapSystem:
    """The named system of :data:`SYSTEMS` (built once; kernels compile lazily on first call)."""
    check_choice("name", name, SYSTEMS)
    return _get(name)
