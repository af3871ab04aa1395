"""Claims E1-E3 (edge-of-stability blog) and F1-F2 (LLAS paper): derivations and measurements pass;
a prediction off by 10% fails."""

import numpy as np
import pytest
import sympy as sp

import theory.eos_blog  # noqa: F401  (registers the claims)
import theory.llas  # noqa: F401
from theory.registry import get_claim, run_claim

from _claims import perturbed


@pytest.mark.parametrize("cid", ["E1", "E2", "E3", "F1", "F2"])
def test_claim_passes_symbolically_and_numerically(cid):
    res = run_claim(get_claim(cid))
    assert res.error is None, res.error
    assert res.symbolic, f"{cid} derivation failed"
    assert res.numeric, f"{cid} measurement failed: {res.measurement.detail}"




@pytest.mark.parametrize("cid, key", [("E1", "upper"), ("E3", "eta_c"), ("F1", "threshold")])
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_threshold_off_by_ten_percent_fails(cid, key, factor):
    assert not perturbed(cid, key, sp.Rational(str(factor))).passed


def test_e2_wrong_order_fails():
    assert not perturbed("E2", "order", 2).passed


def test_e3_start_sharper_than_minimum_crosses_before_spiking():
    """Crossing 2/eta is necessary for a spike but not sufficient (from (0, -0.8))."""
    from theory.eos_blog import _e3_run, _fit_minimum

    obj, _ = _fit_minimum()
    r = _e3_run(54.0, obj, (0.0, -0.8), 300)
    assert r["sharp_cross"] and not r["spike"]
    r = _e3_run(45.0, obj, (0.0, -0.8), 300)
    assert not r["sharp_cross"] and not r["spike"]
