"""Shared helpers of the claim tests: derive once per session, re-measure against a perturbed prediction."""
import dataclasses

from theory.registry import get_claim

_DERIVATIONS = {}


def derivation(cid):
    """Derive once per test session (the sympy work is the same for every perturbation)."""
    if cid not in _DERIVATIONS:
        _DERIVATIONS[cid] = get_claim(cid).derive()
    return _DERIVATIONS[cid]


def perturbed(cid, key, factor):
    """Measure claim ``cid`` against its derived value ``key`` scaled by ``factor`` (must then fail)."""
    der = derivation(cid)
    values = dict(der.values)
    values[key] = values[key] * factor
    return get_claim(cid).measure(dataclasses.replace(der, values=values))


def assert_claim_holds(cid, *perturbations):
    """The claim derives and measures as passed, and each ``(key, factor)`` perturbation of a derived
    value makes the measurement fail (the check can fail). Returns the derivation."""
    der = derivation(cid)
    assert der.passed, cid
    meas = get_claim(cid).measure(der)
    assert meas.passed, meas.detail
    for key, factor in perturbations:
        assert not perturbed(cid, key, factor).passed, (cid, key, factor)
    return der
