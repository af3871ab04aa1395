"""Claims A1-A6: symbolic derivation and numeric measurement pass; a wrong prediction fails."""

import pytest
import sympy as sp

import theory.adam_spikes  # noqa: F401  (registers the claims)
from theory.registry import get_claim, run_claim

from _claims import derivation, perturbed


@pytest.mark.parametrize("cid", ["A1", "A2", "A3", "A4", "A5", "A6"])
def test_claim_passes_symbolically_and_numerically(cid):
    res = run_claim(get_claim(cid))
    assert res.error is None, res.error
    assert res.symbolic, f"{cid} derivation failed"
    assert res.numeric, f"{cid} measurement failed: {res.measurement.detail}"
    assert res.seconds < 30




@pytest.mark.parametrize(
    "cid, key",
    [("A2", "h_star"), ("A3", "factor"), ("A4", "threshold"), ("A6", "threshold")],
)
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_threshold_off_by_ten_percent_fails(cid, key, factor):
    meas = perturbed(cid, key, sp.Rational(str(factor)))
    assert not meas.passed, meas.detail


def test_a5_bounds_are_lower_bounds_not_exact():
    """Stretching the statement's t0 by 10% breaks the bound in some case (the bound is tight-ish)."""
    assert not perturbed("A5", "t0_stmt", sp.Rational(11, 10)).passed
    assert not perturbed("A5", "t0_proof", sp.Rational(11, 10)).passed


def test_a5_proof_inequality_direction():
    """The proof's t0 expression is a lower bound on the step where eta/sqrt(v) reaches 3/2."""
    der = derivation("A5")
    v = der.values
    f = sp.lambdify((v["theta0"], v["eta"], v["b2"]), v["t0_proof"])
    import numpy as np

    from theory.adam_spikes import _a5_run

    tr = _a5_run(1.0, 0.01, 0.99, 3000)
    first = int(np.argmax(0.01 / np.sqrt(tr[:, 1]) >= 1.5))
    assert f(1.0, 0.01, 0.99) < first  # the proof claims t0 < T(3/2)-expression: reversed


def test_spike_onset_ignores_dips():
    import numpy as np

    from theory.adam_spikes import spike_onset

    ll = np.array([0, -1, -2, -8, -2, -3, -4, -5, -4, -3, -2, -1, 0.5])  # dip at 3, real rise from 7
    assert spike_onset(ll, rise=2.0, window=5) == 7
    assert spike_onset(np.arange(10.0)[::-1]) == -1
