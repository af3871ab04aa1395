"""Generic symbolic analysis of any map (or flow) written in sympy.

A discrete map ``x_{t+1} = F(x_t; p)`` is given as a list of state symbols and
a list of sympy expressions (the next state). :func:`analyze_map` returns its
fixed points, its Jacobian, the Jacobian's eigenvalues at each fixed point and
the Jury (Schur) stability conditions built from the characteristic
polynomial. Every claim of ``theory/`` is built on these functions; they are
equally usable on a user-supplied map::

    >>> import sympy as sp
    >>> x, r = sp.symbols("x r", positive=True)
    >>> an = analyze_map([x], [r * x * (1 - x)], params=[r])
    >>> an.fixed_points                                     # doctest: +SKIP
    [{x: 0}, {x: (r - 1)/r}]

Stability conventions
---------------------
A fixed point of a map is locally asymptotically stable when every eigenvalue
of the Jacobian lies strictly inside the unit circle (Appendix A.1.1 of the
degenerate-polynomials paper, Eq. 23). For a monic characteristic polynomial
``p(lambda)`` of degree ``n`` this holds iff every expression returned by
:func:`jury_conditions` is strictly positive. The conditions come from the
bilinear map ``lambda = (1 + w)/(1 - w)``, which sends the unit disc to the
left half plane, followed by the Routh-Hurwitz determinants; for ``n = 2`` they
are exactly the classical Jury conditions ``1 - det > 0``,
``1 - tr + det > 0``, ``1 + tr + det > 0`` (:func:`jury_conditions_2x2`).

Flows ``x' = f(x)`` are handled by :func:`analyze_flow` (equilibria,
Jacobian, Routh-Hurwitz conditions) and :func:`solve_flow` /
:func:`check_flow_solution` (``sympy.dsolve`` and ``checkodesol``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import sympy as sp

__all__ = [
    "MapAnalysis",
    "FlowAnalysis",
    "analyze_map",
    "analyze_flow",
    "fixed_points",
    "jacobian",
    "compose_map",
    "periodic_points",
    "characteristic_polynomial",
    "jury_conditions",
    "jury_conditions_2x2",
    "hurwitz_conditions",
    "stable_by_conditions",
    "spectral_radius",
    "solve_flow",
    "check_flow_solution",
    "is_zero",
    "equal_at_points",
    "LAMBDA",
]

#: the variable of characteristic polynomials
LAMBDA = sp.Symbol("lambda")


# ----------------------------------------------------------------------------- validation

def _as_symbols(name: str, symbols) -> list[sp.Symbol]:
    if isinstance(symbols, sp.Symbol):
        symbols = [symbols]
    try:
        symbols = list(symbols)
    except TypeError:
        raise ValueError(f"{name} = {symbols!r} is not a sequence of sympy Symbols; allowed: a list of sympy.Symbol") from None
    if not symbols:
        raise ValueError(f"{name} is empty; allowed: a non-empty list of sympy.Symbol")
    for s in symbols:
        if not isinstance(s, sp.Symbol):
            raise ValueError(f"{name} contains {s!r}, which is not a sympy Symbol; allowed: a list of sympy.Symbol")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"{name} = {symbols!r} repeats a symbol; allowed: distinct symbols")
    return symbols


def _as_exprs(name: str, exprs, n: int | None = None) -> list[sp.Expr]:
    if isinstance(exprs, (sp.Basic, int, float)) and not isinstance(exprs, sp.MatrixBase):
        exprs = [exprs]
    try:
        exprs = [sp.sympify(e) for e in exprs]
    except (TypeError, sp.SympifyError):
        raise ValueError(f"{name} = {exprs!r} is not a sequence of sympy expressions; allowed: a list of sympy expressions") from None
    if n is not None and len(exprs) != n:
        raise ValueError(f"{name} has {len(exprs)} entries; allowed: exactly {n} (one per state symbol)")
    for e in exprs:
        if not isinstance(e, sp.Expr):
            raise ValueError(f"{name} contains {e!r}, which is not a sympy expression; allowed: sympy expressions")
    return exprs


def _as_square_matrix(name: str, J) -> sp.Matrix:
    try:
        J = sp.Matrix(J)
    except (TypeError, ValueError, sp.SympifyError):
        raise ValueError(f"{name} = {J!r} is not a matrix; allowed: a square sympy Matrix") from None
    if J.rows != J.cols or J.rows == 0:
        raise ValueError(f"{name} has shape {J.shape}; allowed: a non-empty square matrix")
    return J


# ----------------------------------------------------------------------------- basic pieces

def jacobian(state_symbols, exprs) -> sp.Matrix:
    """Jacobian ``J_ij = d F_i / d x_j`` of a map or vector field.

    Parameters
    ----------
    state_symbols : sequence of sympy.Symbol
    exprs : sequence of sympy expressions, one per state symbol
    """
    states = _as_symbols("state_symbols", state_symbols)
    exprs = _as_exprs("exprs", exprs, len(states))
    return sp.Matrix(exprs).jacobian(sp.Matrix(states))


def fixed_points(state_symbols, exprs, *, simplify: bool = True, real: bool = False) -> list[dict]:
    """All solutions of ``F(x) = x`` that sympy finds, as ``{symbol: value}`` dicts.

    Parameters
    ----------
    state_symbols, exprs : the map ``x -> F(x)``.
    simplify : simplify each coordinate of each solution.
    real : drop solutions with a coordinate that is provably non-real.

    Notes
    -----
    Solutions are found with ``sympy.solve`` on the numerators of
    ``F_i(x) - x_i`` (denominators are kept as conditions: a candidate that
    makes a denominator vanish is dropped). Families (free symbols among the
    states) are returned with the free state symbol left in the dict values.
    """
    return _find_fixed_points(state_symbols, exprs, simplify=simplify, real=real)


def _find_fixed_points(state_symbols, exprs, *, simplify: bool = True, real: bool = False) -> list[dict]:
    states = _as_symbols("state_symbols", state_symbols)
    exprs = _as_exprs("exprs", exprs, len(states))
    eqs, dens = [], []
    for x, f in zip(states, exprs):
        num, den = sp.fraction(sp.together(f - x))
        eqs.append(num)
        if den.free_symbols & set(states):
            dens.append(den)
    # solve over plain symbols: assumptions on the state symbols (positive=True, ...)
    # would silently drop fixed points such as x = 0
    plain = [sp.Dummy(x.name) for x in states]
    to_plain = dict(zip(states, plain))
    back = dict(zip(plain, states))
    peqs = [e.subs(to_plain) for e in eqs]
    try:
        sols = _branch_solve(peqs, plain)
    except _BranchFailed:
        sols = sp.solve(peqs, plain, dict=True)
    out = []
    for sol in sols:
        full = {x: sp.sympify(sol.get(xp, xp)).subs(back) for x, xp in zip(states, plain)}
        bad = False
        for den in dens:
            d = sp.simplify(den.subs(full))
            if d == 0:
                bad = True
                break
        if bad:
            continue
        if simplify:
            full = {x: sp.simplify(v) for x, v in full.items()}
        if real and any(v.is_real is False or (v.has(sp.I) and sp.simplify(sp.im(v)) != 0) for v in full.values()):
            continue
        if full not in out:
            out.append(full)
    # drop isolated points that are members of a family (free state symbols) found too
    families = [f for f in out if any(v.free_symbols & set(states) for v in f.values())]
    keep = []
    for p in out:
        member = False
        if p not in families:
            for fam in families:
                free = set().union(*(v.free_symbols for v in fam.values())) & set(states)
                inst = {x: sp.simplify(v.subs({f: p[f] for f in free})) for x, v in fam.items()}
                if all(sp.simplify(inst[x] - p[x]) == 0 for x in states):
                    member = True
                    break
        if not member:
            keep.append(p)
    keep.sort(key=lambda p: [sp.default_sort_key(p[x]) for x in states])  # deterministic order
    return keep


class _BranchFailed(Exception):
    pass


def _factors(expr):
    try:
        _, facs = sp.factor_list(expr)
        return [f for f, _ in facs]
    except (sp.PolynomialError, NotImplementedError):
        return [expr]


def _branch_solve(eqs, unknowns, depth: int = 0) -> list[dict]:
    """Solve ``eqs = 0`` by factoring and branching (one unknown at a time).

    ``sympy.solve`` on a whole system with square roots (the normalized Adam
    map) can silently miss branches; splitting every product ``A B = 0`` into
    ``A = 0`` or ``B = 0`` and isolating one unknown at a time finds them all
    for the maps of the theory. Raises :class:`_BranchFailed` when a factor
    cannot be solved for any unknown (the caller then falls back to
    ``sympy.solve``).
    """
    if depth > 12:
        raise _BranchFailed("too deep")
    unknowns = list(unknowns)
    live = []
    for e in eqs:
        e = sp.sympify(e)
        if e.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            return []  # a substitution made an equation undefined: not a solution
        num = sp.numer(sp.together(e))
        if num == 0:
            continue
        if not (num.free_symbols & set(unknowns)):
            if sp.simplify(num) == 0:
                continue
            # inconsistent, or a condition on the parameters alone: not a solution
            # for generic parameter values
            return []
        live.append(num)
    if not live:
        return [{}]
    live.sort(key=sp.count_ops)
    eq, rest = live[0], live[1:]
    sols: list[dict] = []
    for f in _factors(eq):
        vars_f = [v for v in unknowns if v in f.free_symbols]
        if not vars_f:
            continue  # a factor free of unknowns vanishes only for special parameters

        def degree(v, f=f):
            try:
                return (sp.Poly(f, v).degree(), sp.count_ops(f))
            except sp.PolynomialError:
                return (99, sp.count_ops(f))

        roots, var = None, None
        for v in sorted(vars_f, key=degree):
            try:
                r = sp.solve(f, v)
            except NotImplementedError:
                continue
            if r:
                roots, var = r, v
                break
        if roots is None:
            raise _BranchFailed(f"cannot solve {f}")
        others = [v for v in unknowns if v != var]
        for r in roots:
            sub_eqs = [sp.simplify(e.subs(var, r)) for e in rest]
            for ss in _branch_solve(sub_eqs, others, depth + 1):
                val = sp.simplify(sp.sympify(r).subs(ss))
                if val.has(sp.zoo, sp.nan):
                    continue
                sol = {**ss, var: val}
                if sol not in sols:
                    sols.append(sol)
    return sols


def compose_map(state_symbols, exprs, n: int) -> list[sp.Expr]:
    """The ``n``-fold composition ``F^n`` (for periodic orbits: fixed points of ``F^n``)."""
    states = _as_symbols("state_symbols", state_symbols)
    exprs = _as_exprs("exprs", exprs, len(states))
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n = {n!r} is out of range; allowed: integer n >= 1")
    cur = list(states)
    for _ in range(n):
        cur = [f.subs(dict(zip(states, cur)), simultaneous=True) for f in exprs]
    return cur


def periodic_points(state_symbols, exprs, period: int, *, exclude_lower: bool = True) -> list[dict]:
    """Points of exact period ``period``: fixed points of ``F^period`` that are not of a lower period."""
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period = {period!r} is out of range; allowed: integer period >= 1")
    states = _as_symbols("state_symbols", state_symbols)
    pts = fixed_points(states, compose_map(states, exprs, period))
    if not exclude_lower or period == 1:
        return pts
    lower = []
    for q in range(1, period):
        if period % q == 0:
            lower += fixed_points(states, compose_map(states, exprs, q))
    return [p for p in pts if p not in lower]


def characteristic_polynomial(J, lam: sp.Symbol = LAMBDA) -> sp.Expr:
    """Monic characteristic polynomial ``det(lambda I - J)`` as an expression in ``lam``."""
    J = _as_square_matrix("J", J)
    return sp.expand(J.charpoly(lam).as_expr())


def hurwitz_conditions(poly, var: sp.Symbol) -> list[sp.Expr]:
    """Routh-Hurwitz conditions: all roots of ``poly`` (in ``var``) have negative real part.

    For ``a_n var^n + ... + a_0`` the roots lie in the open left half plane iff
    ``a_n > 0`` (after normalising the sign), every Hurwitz determinant
    ``Delta_1 .. Delta_{n-1} > 0`` and ``a_0 > 0`` (``Delta_n = a_0 Delta_{n-1}``).
    Returned as a list of expressions, each of which must be strictly positive
    (the leading coefficient comes first).
    """
    if not isinstance(var, sp.Symbol):
        raise ValueError(f"var = {var!r} is not a sympy Symbol; allowed: a sympy Symbol")
    P = sp.Poly(sp.expand(sp.sympify(poly)), var)
    n = P.degree()
    if n < 1:
        raise ValueError(f"poly = {poly!r} has degree {n} in {var}; allowed: degree >= 1")
    a = P.all_coeffs()[::-1]  # a[i] is the coefficient of var**i

    def coef(i):
        return a[i] if 0 <= i <= n else sp.Integer(0)

    conds = [sp.factor(coef(n))]
    for m in range(1, n):
        H = sp.Matrix(m, m, lambda i, j: coef(n - (2 * (j + 1) - (i + 1))))
        conds.append(sp.factor(H.det()))
    conds.append(sp.factor(coef(0)))
    return conds


def jury_conditions(charpoly, lam: sp.Symbol = LAMBDA) -> list[sp.Expr]:
    """Schur-Jury conditions: every root of ``charpoly`` lies strictly inside the unit circle.

    Parameters
    ----------
    charpoly : sympy expression, polynomial in ``lam`` (monic or with positive
        leading coefficient).
    lam : the polynomial variable (default :data:`LAMBDA`).

    Returns
    -------
    list of sympy expressions; the roots lie in ``|lambda| < 1`` iff **every**
    expression is strictly positive.

    Notes
    -----
    Substituting ``lambda = (1 + w)/(1 - w)`` and multiplying by ``(1 - w)^n``
    gives a polynomial whose roots are in ``Re w < 0`` exactly when those of
    ``charpoly`` are in the unit disc; the Routh-Hurwitz determinants of that
    polynomial are the conditions. The first is ``(-1)^n p(-1) > 0``, the last
    ``p(1) > 0``. For ``n = 2`` (``p = lambda^2 - tr lambda + det``) the list is
    ``[1 + tr + det, 2 (1 - det), 1 - tr + det]`` up to positive factors: the
    classical Jury conditions used in Appendix A of the degenerate-polynomials
    paper (proof of Thm 4.1 ii).
    """
    if not isinstance(lam, sp.Symbol):
        raise ValueError(f"lam = {lam!r} is not a sympy Symbol; allowed: a sympy Symbol")
    p = sp.expand(sp.sympify(charpoly))
    P = sp.Poly(p, lam)
    n = P.degree()
    if n < 1:
        raise ValueError(f"charpoly = {charpoly!r} has degree {n} in {lam}; allowed: degree >= 1")
    lead = P.LC()
    w = sp.Dummy("w")
    q = sp.expand(sp.cancel(p.subs(lam, (1 + w) / (1 - w)) * (1 - w) ** n / lead))
    conds = hurwitz_conditions(q, w)
    return [sp.factor(c) for c in conds]


def jury_conditions_2x2(J) -> list[sp.Expr]:
    """Classical Jury conditions of a 2x2 Jacobian, each strictly positive iff stable.

    ``[1 - det J, 1 - tr J + det J, 1 + tr J + det J]``: both eigenvalues of
    ``J`` lie strictly inside the unit circle iff all three are ``> 0``
    (Appendix A of the degenerate-polynomials paper, proof of Thm 4.1 ii;
    Lemma B.2 of the Adam-preconditioners paper).
    """
    J = _as_square_matrix("J", J)
    if J.shape != (2, 2):
        raise ValueError(f"J has shape {J.shape}; allowed: a 2x2 matrix")
    tr, det = J.trace(), J.det()
    return [1 - det, 1 - tr + det, 1 + tr + det]


def stable_by_conditions(conditions: Sequence, subs: dict | None = None) -> bool:
    """Evaluate a list of ``> 0`` conditions at numeric ``subs``; True iff all hold strictly."""
    subs = subs or {}
    for c in conditions:
        v = sp.sympify(c).subs(subs)
        v = sp.N(v, 30)
        if not v.is_real:
            if v.free_symbols:
                raise ValueError(f"condition {c} still has free symbols {sorted(map(str, v.free_symbols))} after subs; allowed: substitute every symbol")
            v = sp.re(v)
        if not v > 0:
            return False
    return True


def spectral_radius(J, subs: dict | None = None) -> float:
    """Largest eigenvalue modulus of ``J`` at numeric ``subs`` (numpy on the evaluated matrix)."""
    import numpy as np

    J = _as_square_matrix("J", J)
    M = J.subs(subs or {})
    if M.free_symbols:
        raise ValueError(f"J still has free symbols {sorted(map(str, M.free_symbols))} after subs; allowed: substitute every symbol")
    A = np.array(M.evalf(30).tolist(), dtype=complex)
    return float(np.max(np.abs(np.linalg.eigvals(A))))


# ----------------------------------------------------------------------------- map analysis

@dataclass
class MapAnalysis:
    """Fixed points of a map and their linear stability.

    Attributes
    ----------
    states, exprs, params : the map ``x -> F(x; params)``.
    jacobian : symbolic Jacobian ``dF/dx`` at a general state.
    fixed_points : list of ``{state_symbol: value}`` dicts.
    jacobians : the Jacobian at each fixed point (same order).
    charpolys : ``det(lambda I - J)`` at each fixed point, in :data:`LAMBDA`.
    eigenvalues : ``{eigenvalue: multiplicity}`` at each fixed point (None when
        not computed).
    jury_conditions : at each fixed point, expressions that are all ``> 0``
        iff the fixed point is locally asymptotically stable.
    """

    states: list
    exprs: list
    params: list
    jacobian: sp.Matrix
    fixed_points: list[dict] = field(default_factory=list)
    jacobians: list[sp.Matrix] = field(default_factory=list)
    charpolys: list[sp.Expr] = field(default_factory=list)
    eigenvalues: list[dict | None] = field(default_factory=list)
    jury_conditions: list[list[sp.Expr]] = field(default_factory=list)

    def is_stable(self, index: int, subs: dict) -> bool:
        """Jury test of fixed point ``index`` at numeric parameter values ``subs``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.fixed_points):
            raise ValueError(f"index = {index!r} is out of range; allowed: integer 0 <= index < {len(self.fixed_points)}")
        return stable_by_conditions(self.jury_conditions[index], subs)

    def spectral_radius(self, index: int, subs: dict) -> float:
        """Spectral radius of the Jacobian at fixed point ``index`` at numeric ``subs``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.fixed_points):
            raise ValueError(f"index = {index!r} is out of range; allowed: integer 0 <= index < {len(self.fixed_points)}")
        return spectral_radius(self.jacobians[index], subs)


def analyze_map(
    state_symbols,
    exprs,
    params: Iterable[sp.Symbol] | None = None,
    *,
    fixed_points: Sequence[dict] | None = None,
    assumptions: dict | None = None,
    eigenvalues: bool = True,
    simplify: bool = True,
) -> MapAnalysis:
    """Fixed points, Jacobian, eigenvalues and Jury conditions of ``x -> F(x)``.

    Parameters
    ----------
    state_symbols : sequence of sympy.Symbol
    exprs : the next state, one sympy expression per state symbol.
    params : parameter symbols (informational; every other free symbol is
        treated as a parameter too).
    fixed_points : known fixed points (``{symbol: value}``) to analyse instead
        of solving ``F(x) = x`` (useful when ``sympy.solve`` is slow).
    assumptions : ``{symbol: expression}`` substitutions applied to every
        result before simplification (e.g. ``{b2: rho**(2*(k-2))}``).
    eigenvalues : compute the eigenvalues with ``Matrix.eigenvals``.
    simplify : simplify Jacobians and conditions.

    Returns
    -------
    MapAnalysis
    """
    states = _as_symbols("state_symbols", state_symbols)
    exprs = _as_exprs("exprs", exprs, len(states))
    params = [] if params is None else _as_symbols("params", params)
    if assumptions is not None and not isinstance(assumptions, dict):
        raise ValueError(f"assumptions = {assumptions!r} is not a dict; allowed: dict of symbol -> expression")
    J = sp.Matrix(exprs).jacobian(sp.Matrix(states))
    if fixed_points is None:
        pts = _find_fixed_points(states, exprs, simplify=simplify)
    else:
        pts = []
        for p in fixed_points:
            if not isinstance(p, dict) or set(p) != set(states):
                raise ValueError(f"fixed_points contains {p!r}; allowed: dicts with exactly the keys {states}")
            pts.append({x: sp.sympify(v) for x, v in p.items()})
    out = MapAnalysis(states=states, exprs=exprs, params=params, jacobian=J, fixed_points=pts)
    for p in pts:
        Jp = J.subs(p, simultaneous=True)
        if assumptions:
            Jp = Jp.subs(assumptions)
        if simplify:
            Jp = Jp.applyfunc(sp.simplify)
        cp = characteristic_polynomial(Jp)
        out.jacobians.append(Jp)
        out.charpolys.append(cp)
        out.eigenvalues.append(Jp.eigenvals() if eigenvalues else None)
        if Jp.shape == (2, 2):
            conds = jury_conditions_2x2(Jp)
        else:
            conds = jury_conditions(cp)
        if simplify:
            conds = [sp.factor(sp.simplify(c)) for c in conds]
        out.jury_conditions.append(conds)
    return out


# ----------------------------------------------------------------------------- flows

@dataclass
class FlowAnalysis:
    """Equilibria of a flow ``x' = f(x)`` and their linear stability (Routh-Hurwitz)."""

    states: list
    rhs: list
    jacobian: sp.Matrix
    equilibria: list[dict] = field(default_factory=list)
    jacobians: list[sp.Matrix] = field(default_factory=list)
    eigenvalues: list[dict | None] = field(default_factory=list)
    hurwitz_conditions: list[list[sp.Expr]] = field(default_factory=list)


def analyze_flow(state_symbols, rhs, *, eigenvalues: bool = True) -> FlowAnalysis:
    """Equilibria ``f(x) = 0``, Jacobian and Routh-Hurwitz conditions of ``x' = f(x)``.

    An equilibrium is asymptotically stable when every eigenvalue of the
    Jacobian has negative real part (Eq. 25 of the degenerate-polynomials
    paper); the returned conditions are all ``> 0`` exactly then.
    """
    states = _as_symbols("state_symbols", state_symbols)
    rhs = _as_exprs("rhs", rhs, len(states))
    J = sp.Matrix(rhs).jacobian(sp.Matrix(states))
    sols = sp.solve(rhs, states, dict=True)
    out = FlowAnalysis(states=states, rhs=rhs, jacobian=J)
    for sol in sols:
        full = {x: sp.simplify(sol.get(x, x)) for x in states}
        Jp = J.subs(full, simultaneous=True).applyfunc(sp.simplify)
        out.equilibria.append(full)
        out.jacobians.append(Jp)
        out.eigenvalues.append(Jp.eigenvals() if eigenvalues else None)
        cp = characteristic_polynomial(Jp)
        out.hurwitz_conditions.append(hurwitz_conditions(cp, LAMBDA))
    return out


def solve_flow(ode, func, t: sp.Symbol, ics: dict | None = None, **kwargs):
    """``sympy.dsolve`` of an ODE, returning the solution(s) as ``Eq`` objects.

    Parameters
    ----------
    ode : an ``Eq`` or an expression ``== 0`` in ``func(t)`` and its derivatives,
        or the right-hand side ``f`` of ``x' = f(x, t)`` (then ``func`` is the
        unknown function applied to ``t``).
    func : the unknown, e.g. ``x(t)`` (an applied sympy ``Function``).
    t : the time symbol.
    ics : initial conditions, e.g. ``{x(0): x0}``.
    kwargs : passed to ``sympy.dsolve`` (e.g. ``hint``).
    """
    if not isinstance(t, sp.Symbol):
        raise ValueError(f"t = {t!r} is not a sympy Symbol; allowed: a sympy Symbol")
    if not (isinstance(func, sp.Expr) and isinstance(getattr(func, "func", None), sp.core.function.UndefinedFunction)):
        raise ValueError(f"func = {func!r} is not an applied undefined function like x(t); allowed: sympy Function('x')(t)")
    ode = sp.sympify(ode)
    if not isinstance(ode, sp.Eq) and not ode.has(sp.Derivative):
        ode = sp.Eq(func.diff(t), ode)
    return sp.dsolve(ode, func, ics=ics, **kwargs)


def check_flow_solution(ode, solution, func=None) -> bool:
    """True iff ``solution`` (an ``Eq`` ``x(t) = ...`` or a list of them) satisfies ``ode`` exactly.

    Uses ``sympy.checkodesol`` (substitution and simplification).
    """
    ode = sp.sympify(ode)
    ok, _ = sp.checkodesol(ode, solution, func=func) if func is not None else sp.checkodesol(ode, solution)
    return bool(ok)


# ----------------------------------------------------------------------------- equality helpers

def is_zero(expr, assumptions: dict | None = None) -> bool:
    """``simplify(expr) == 0`` after optional substitutions."""
    e = sp.sympify(expr)
    if assumptions:
        e = e.subs(assumptions)
    return sp.simplify(e) == 0


def equal_at_points(a, b, points: Sequence[dict], *, tol: float = 0.0) -> bool:
    """``a == b`` at every substitution in ``points`` (exact for rationals, else to ``tol`` relative).

    For identities where ``simplify`` is hopeless: evaluate both sides exactly
    at several rational points (``tol = 0``) or numerically with 50 digits.
    """
    if not points:
        raise ValueError("points is empty; allowed: a non-empty list of substitution dicts")
    for p in points:
        da = sp.sympify(a).subs(p)
        db = sp.sympify(b).subs(p)
        if tol == 0.0:
            if sp.simplify(da - db) != 0:
                return False
        else:
            va, vb = complex(sp.N(da, 50)), complex(sp.N(db, 50))
            if abs(va - vb) > tol * max(1.0, abs(va), abs(vb)):
                return False
    return True
