"""Claims C1-C4 (critical sharpness): derivations and measurements pass; a 10% error fails."""

import pytest
import sympy as sp

import theory.critical_sharpness  # noqa: F401  (registers the claims)
from theory.registry import get_claim, run_claim

from _claims import derivation, perturbed


@pytest.mark.parametrize("cid", ["C1", "C2", "C3", "C4"])
def test_claim_passes_symbolically_and_numerically(cid):
    res = run_claim(get_claim(cid))
    assert res.error is None, res.error
    assert res.symbolic, f"{cid} derivation failed"
    assert res.numeric, f"{cid} measurement failed: {res.measurement.detail}"




@pytest.mark.parametrize(
    "cid, key",
    [("C1", "eta_c"), ("C2", "factor"), ("C3", "gd"), ("C3", "adamw"), ("C4", "eta_c")],
)
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_prediction_off_by_ten_percent_fails(cid, key, factor):
    assert not perturbed(cid, key, sp.Rational(str(factor))).passed


def test_c3_weight_decay_shift_is_visible():
    """The thresholds with weight decay differ from those without by more than the tolerance."""
    der = derivation("C3")
    v = der.values
    eta = sp.Rational(1, 5)
    assert v["gd"].subs({v["eta"]: eta, v["lam"]: sp.Rational(1, 2)}) == sp.Rational(19, 2)
    assert v["adamw"].subs({v["eta"]: eta, v["lam"]: 0, v["b1"]: sp.Rational(9, 10)}) == 190
