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
