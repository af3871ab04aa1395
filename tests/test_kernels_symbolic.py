"""The compiled kernels and the symbolic update rules are the same map.

The raw update rules of math.md (Adam, PyTorch convention, with decoupled weight
decay and the exponential schedule) are written here in sympy, independently of
the kernels, and evaluated with 40-digit arithmetic at random states. Both
compiled forms -- plain coordinates (``kernels.raw.update``) and log coordinates
(``kernels.logpower.update``) -- must agree to 1e-12 relative (relative to the
size of the terms of the update, since ``x_{t+1} = x_t - step`` may cancel).
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from dynsys.kernels import logpower, raw
from dynsys.kernels.status import OK
from dynsys.objectives import llas, power, powerlaw_fit, quadratic

X, M, V, T = sp.symbols("x m v t", real=True)
LR, GAMMA, B1, B2, EPS, WD = sp.symbols("eta gamma beta1 beta2 epsilon lambda", real=True)


def symbolic_update(g, x, m, v, adaptive, bias_correction):
    """math.md: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; hats; x' = (1 - eta_t wd) x - eta_t mhat/(sqrt(vhat)+eps)."""
    eta_t = LR * GAMMA ** T
    m1 = B1 * m + (1 - B1) * g
    v1 = B2 * v + (1 - B2) * g ** 2 if adaptive else v
    mhat = m1 / (1 - B1 ** (T + 1)) if bias_correction else m1
    vhat = v1 / (1 - B2 ** (T + 1)) if bias_correction else v1
    den = sp.sqrt(vhat) + EPS if adaptive else 1
    x1 = (1 - eta_t * WD) * x - eta_t * mhat / den
    return x1, m1, v1


def _random_hyper(rng, adaptive, bias):
    return {
        LR: rng.uniform(1e-3, 0.5),
        GAMMA: rng.uniform(0.9, 1.1),
        B1: rng.choice([0.0, rng.uniform(0, 0.999)]),
        B2: rng.uniform(0, 0.9999) if adaptive else 0.0,
        EPS: rng.choice([0.0, 10 ** rng.uniform(-12, -2)]) if adaptive else 0.0,
        WD: rng.choice([0.0, rng.uniform(0, 0.5)]),
        T: int(rng.integers(0, 60)),
    }


def _num(expr, subs):
    """Evaluate ``expr`` at ``subs`` with 40-digit mpmath arithmetic (lambdified once per expression)."""
    keys = sorted(subs, key=str)
    fn = _LAMBDIFIED.get((expr, tuple(keys)))
    if fn is None:
        fn = _LAMBDIFIED[(expr, tuple(keys))] = sp.lambdify(keys, expr, "mpmath")
    with mpmath.workdps(40):
        return float(fn(*[mpmath.mpf(float(subs[key])) if not isinstance(subs[key], int) else subs[key]
                          for key in keys]))


_LAMBDIFIED = {}


def _close(a, b, scale, rtol=1e-12):
    assert abs(a - b) <= rtol * max(abs(scale), abs(b)), (a, b, scale)


CASES = [(adaptive, bias) for adaptive in (True, False) for bias in (True, False)]


@pytest.mark.parametrize("k", [2, 4, 6, 8])
@pytest.mark.parametrize("adaptive, bias", CASES)
def test_power_kernels_equal_symbolic_rules(k, adaptive, bias):
    rng = np.random.default_rng(1000 * k + 10 * adaptive + bias)
    g_expr = sp.diff(X ** k / k, X)
    x1, m1, v1 = symbolic_update(g_expr, X, M, V, adaptive, bias)
    for _ in range(25):
        hyp = _random_hyper(rng, adaptive, bias)
        x = rng.choice([-1, 1]) * 10 ** rng.uniform(-2, 0.3)
        m = rng.normal() * abs(x) ** (k - 1)
        v = (abs(x) ** (k - 1) * 10 ** rng.uniform(-1, 1)) ** 2 if adaptive else 0.0
        subs = {**hyp, X: x, M: m, V: v}
        ref_x, ref_m, ref_v = _num(x1, subs), _num(m1, subs), _num(v1, subs)
        step_scale = abs(ref_x - x) + abs(x)
        args = (hyp[LR], hyp[GAMMA], hyp[B1], hyp[B2], hyp[EPS], hyp[WD], adaptive, bias)

        # plain coordinates
        xa, ma, va = np.array([x]), np.array([m]), np.array([v])
        g = np.array([x ** (k - 1)])
        den, xn = np.empty(1), np.empty(1)
        status, _, _ = raw.update(xa, ma, va, g, hyp[T], *args[:6], adaptive, bias, den, xn)
        assert status == OK
        _close(xn[0], ref_x, step_scale)
        _close(ma[0], ref_m, abs(ref_m))
        _close(va[0], ref_v, abs(ref_v))

        # extended-exponent coordinates (mantissa, exponent), at a shifted scale 2**-3000 too:
        # the map is homogeneous only without eps and weight decay, so the shift is checked there
        lr, gamma, b1, b2, eps, wd = args[:6]
        for shift in (0, -3000):
            if shift and (eps > 0 or wd > 0 or not adaptive):
                continue
            xa, xe = math.frexp(x)
            ma, me = math.frexp(m)
            va, ve = math.frexp(v)
            out = logpower.update(k, xa, xe + shift, ma, me + (k - 1) * shift, va, ve + 2 * (k - 2) * shift,
                                  hyp[T], lr, gamma, b1, b2, eps, wd, adaptive, bias)
            status, na, ne, ma2, me2, va2, ve2 = out[:7]
            assert status == OK
            if shift == 0:
                _close(math.ldexp(na, ne), ref_x, step_scale)
                _close(math.ldexp(ma2, me2), ref_m, abs(ref_m))
                _close(math.ldexp(va2, ve2), ref_v, abs(ref_v))
            else:  # x scaled by 2**shift, m by 2**((k-1) shift), v by 2**(2(k-2) shift): the map of D1
                _close(math.ldexp(na, ne - shift), ref_x_scaled(x, m, v, k, hyp, shift, bias), step_scale)


def ref_x_scaled(x, m, v, k, hyp, shift, bias):
    """Next x of the raw rules at (x 2^s, m 2^{(k-1)s}, v 2^{2(k-2)s}), divided by 2^s, in 60-digit mpmath
    (eps = wd = 0; v scaled like x^{2(k-2)} as at Adam's converging point, math.md D1/D2)."""
    with mpmath.workdps(60):
        S = mpmath.mpf(2) ** shift
        X, Mm, Vv = mpmath.mpf(x) * S, mpmath.mpf(m) * S ** (k - 1), mpmath.mpf(v) * S ** (2 * (k - 2))
        t = hyp[T]
        b1, b2 = mpmath.mpf(float(hyp[B1])), mpmath.mpf(float(hyp[B2]))
        eta = mpmath.mpf(float(hyp[LR])) * mpmath.mpf(float(hyp[GAMMA])) ** t
        g = X ** (k - 1)
        m1 = b1 * Mm + (1 - b1) * g
        v1 = b2 * Vv + (1 - b2) * g ** 2
        bc1 = 1 - b1 ** (t + 1) if bias else 1
        bc2 = 1 - b2 ** (t + 1) if bias else 1
        return float((X - eta * (m1 / bc1) / mpmath.sqrt(v1 / bc2)) / S)


@pytest.mark.parametrize("make", [lambda: quadratic(np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.4], [0.0, -0.4, 0.5]])),
                                  llas, lambda: powerlaw_fit(n=16)], ids=["quadratic", "llas", "powerlaw-fit"])
@pytest.mark.parametrize("adaptive, bias", CASES)
def test_vector_kernel_equals_symbolic_rules(make, adaptive, bias):
    obj = make()
    syms, L = obj.symbolic()
    d = obj.dim
    rng = np.random.default_rng(7 + d + 2 * adaptive + bias)
    grads = [sp.diff(L, s) for s in syms]
    Ms = sp.symbols(f"m0:{d}", real=True)
    Vs = sp.symbols(f"v0:{d}", real=True)
    rules = [symbolic_update(grads[i], syms[i], Ms[i], Vs[i], adaptive, bias) for i in range(d)]
    for _ in range(6):
        hyp = _random_hyper(rng, adaptive, bias)
        x = rng.uniform(-1.5, 1.5, d)
        if obj.name == "powerlaw-fit":
            x = np.array([rng.uniform(0.05, 0.5), rng.uniform(-1.5, -0.5)])
        g = obj.grad(x)
        m = rng.normal(size=d) * np.abs(g)
        v = (np.abs(g) * 10 ** rng.uniform(-1, 1, d)) ** 2 if adaptive else np.zeros(d)
        subs = dict(hyp)
        subs.update({s: val for s, val in zip(syms, x)})
        subs.update({s: val for s, val in zip(Ms, m)})
        subs.update({s: val for s, val in zip(Vs, v)})
        xa, ma, va = x.copy(), m.copy(), v.copy()
        den, xn = np.empty(d), np.empty(d)
        status, _, _ = raw.update(xa, ma, va, g, hyp[T], hyp[LR], hyp[GAMMA], hyp[B1], hyp[B2], hyp[EPS], hyp[WD],
                                  adaptive, bias, den, xn)
        assert status == OK
        for i in range(d):
            ref_x, ref_m, ref_v = (_num(e, subs) for e in rules[i])
            _close(xn[i], ref_x, abs(ref_x - x[i]) + abs(x[i]))
            _close(ma[i], ref_m, abs(ref_m))
            _close(va[i], ref_v, abs(ref_v))
