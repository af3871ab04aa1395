"""The finite-time II/III edge (theory/ii_iii_edge.py, docs/regime-agreement.md item 11).

What is asserted: the oracle of "best cut per row" recovers a known cut exactly and is an upper bound of the
theory's own line; the stricter phase statistics follow the scan's trajectory (their plain run equals the scan's
``phase_steps`` cell by cell) and are what their definitions say on cells whose behaviour the theory fixes (a
converging regime-I cell falls monotonically with one sign, decoupled (v >> g^2, D8), a regime-III cell far past the existence line has
no phase under any rule); with the plain rule the relabelling gives back the Dataset's own agreements.
"""
import numpy as np
import pytest

from theory.ii_iii_edge import RULES, best_row_cuts, issue13_scan, phase_rule_statistics, rule_agreements


def test_best_row_cuts_recovers_a_known_edge():
    rng = np.random.default_rng(3)
    rows, cols = 30, 40
    lo = rng.integers(0, 15, rows)  # first column predicted II or III
    cut = lo + rng.integers(1, 20, rows)  # the observed edge
    pred = np.ones((rows, cols), int)
    obs = np.ones((rows, cols), int)
    for r in range(rows):
        pred[r, lo[r]:] = 3
        pred[r, lo[r]:lo[r] + 2] = 2  # the theory's line: 2 columns in, wrong almost everywhere
        obs[r, lo[r]:cut[r]] = 2
        obs[r, cut[r]:] = 3
    a2, a3, cuts, _ = best_row_cuts(obs, pred)
    assert a2 == 1.0 and a3 == 1.0 and np.array_equal(cuts, cut)
    # with 5 % of the II/III cells flipped, the oracle still beats the theory's line in both regimes
    noisy = obs.copy()
    flip = (pred >= 2) & (rng.random(obs.shape) < 0.05)
    noisy[flip] = 5 - noisy[flip]
    a2n, a3n, _, _ = best_row_cuts(noisy, pred)
    theory2 = np.mean(noisy[pred == 2] == 2)
    theory3 = np.mean(noisy[pred == 3] == 3)
    assert min(a2n, a3n) > 0.9 and a2n >= theory2 and a3n > theory3
    with pytest.raises(ValueError, match="2-D"):
        best_row_cuts(obs[0], pred[0])


def test_plain_run_is_the_scans_phase_steps_and_rules_are_stricter():
    k, n, steps = 6, 16, 3000
    ds = issue13_scan(k, n, steps)
    b2g, b1g = np.meshgrid(ds.beta2.values, ds.beta1.values, indexing="ij")
    st = phase_rule_statistics(b1g, b2g, k, steps=steps)
    assert np.array_equal(st[:, 0], ds.phase_steps.values.ravel())
    assert np.all(st[:, 1:5] <= st[:, :1])
    agr = rule_agreements(ds, k, st)
    assert set(agr) == set(RULES)
    for code in (1, 2, 3):
        assert agr["plain"][code - 1] == pytest.approx(ds.attrs[f"agreement_regime{code}"], abs=0, nan_ok=True)
    # every rule only turns phases into non-phases: regime III can only gain
    for rule in RULES:
        assert agr[rule][2] >= agr["plain"][2]


def test_rules_on_cells_the_theory_fixes():
    # regime I (k = 4, b1 = 0.5 < b2 = 0.9, Eq. 8): the fixed point has s = rho > 0, so the converging run
    # falls at every step with one sign for thousands of steps; regime III far past the existence line: none
    st = phase_rule_statistics(np.array([0.5, 0.99]), np.array([0.9, 0.3]), 4, steps=5000)
    conv, osc = st
    assert np.all(conv[:5] > 4000) and conv[5] > 0.9 * (5000 - conv[6])
    assert np.all(osc[:5] < 8) and osc[5] == 0


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="k = 5"):
        phase_rule_statistics([0.5], [0.9], 5)
    with pytest.raises(ValueError, match="beta2"):
        phase_rule_statistics([0.5], [1.0], 4)
    with pytest.raises(ValueError, match="same number"):
        phase_rule_statistics([0.5, 0.6], [0.9], 4)
    with pytest.raises(ValueError, match="lr = -1"):
        phase_rule_statistics([0.5], [0.9], 4, lr=-1)


def test_the_decoupled_map_in_the_s_w_chart_has_the_invariant_moebius_line():
    """Question 3's chart, derived from the toolkit's own decoupled map (theory.regime_boundaries): with u = (1-s)/w,
    s' = 1 - (b1/sqrt(b2)) (1-s)/s - (1-b1) w s^(k-2)/sqrt(b2) and w' = w s^(k-2)/sqrt(b2), so w = 0 is invariant with
    s' = 1 + s_g - s_g/s, whose fixed points are s = 1 and s = s_g = b1/sqrt(b2)."""
    import sympy as sp

    from theory import regime_boundaries as rb

    s = sp.Symbol("s", positive=True)
    w, b1, b2 = rb.w, rb.b1, rb.b2
    for k in (4, 6, 8):
        un, wn = (e.subs(rb.u, (1 - s) / w) for e in rb._decoupled_map(k))  # the map of dynsys.systems, z = 0
        s_next = sp.simplify(1 - un * wn)
        claim = 1 - b1 / sp.sqrt(b2) * (1 - s) / s - (1 - b1) * w * s ** (k - 2) / sp.sqrt(b2)
        assert sp.simplify(s_next - claim) == 0
        assert sp.simplify(wn - w * s ** (k - 2) / sp.sqrt(b2)) == 0
        line = sp.simplify(claim.subs(w, 0))
        sg = b1 / sp.sqrt(b2)
        assert sp.simplify(line - (1 + sg - sg / s)) == 0
        assert sp.simplify(line.subs(s, 1) - 1) == 0 and sp.simplify(line.subs(s, sg) - sg) == 0


def test_trivial_saddle_phase_on_cells_the_theory_fixes():
    from theory.ii_iii_edge import trivial_saddle_phase

    # k = 4: regime I (b1 = 0.3 < b2 = 0.5) converges along the manifold for the whole run; the middle of the II band
    # (b1 = 0.55 between Eq. 8's 0.5 and the existence line 0.595) has a phase of tens of steps; far past the line none
    run = trivial_saddle_phase(np.array([0.3, 0.55, 0.99]), np.array([0.5, 0.5, 0.3]), 4, steps=5000)
    assert run[0] > 4800 and 8 <= run[1] < 1000 and run[2] < 8
    with pytest.raises(ValueError, match="beta1"):
        trivial_saddle_phase([1.0], [0.5], 4)


def test_initial_convergence_rule():
    """Question 4: the onset limit only turns II cells into III (II agreement can only fall as the limit tightens,
    III only rise; no limit gives the Dataset's own agreements), and a cell in the middle of the II band converges
    *initially*, as Sec. 6.2 says: its first phase starts within a few tens of steps of arrival."""
    from dynsys.scan import phase_diagram
    from theory.ii_iii_edge import onset_rule_agreements, onsets_across_line

    ds = issue13_scan(6, 16, 3000)
    agr = onset_rule_agreements(ds, limits=(10, 100, 1000))
    assert agr[None][:2] == (ds.attrs["agreement_regime2"], ds.attrs["agreement_regime3"])
    ii = [agr[d][0] for d in (10, 100, 1000, None)]
    iii = [agr[d][1] for d in (10, 100, 1000, None)]
    assert ii == sorted(ii) and iii == sorted(iii, reverse=True) and ii[0] < ii[-1]
    for d in agr:  # the oracle is an upper bound of the theory's line on every relabelled map
        assert min(agr[d][2:]) >= min(agr[d][:2])
    # k = 4, b2 = 0.63, b1 = 0.67: halfway between Eq. 8 (0.63) and the existence line (0.707)
    cell = phase_diagram("adam", "power", k=4, x=("beta1", 0.66, 0.68, 1), y=("beta2", 0.62, 0.64, 1), lr=0.01,
                         steps=3000, eps=0.0, bias_correction=False, progress=False)
    assert cell.regime.item() == 2 and 0 <= cell.phase_onset.item() <= 60
    b1, q, ons = onsets_across_line(ds, 0.8, cells=2)
    assert np.all(np.diff(b1) > 0) and np.sum(q < 1) <= 2 and np.all(q[q >= 1] >= 1)
    with pytest.raises(ValueError, match="limits"):
        onset_rule_agreements(ds, limits=(-1,))


def test_loss_envelope_slope_is_the_fixed_points_rate_in_regime_one():
    from theory.ii_iii_edge import loss_envelope_slope

    # k = 4, b1 = 0.5 < b2 = 0.9 (Eq. 8): the loss falls log10(b2) decades per step (D5), decoupled (C grows, D13)
    slope, fixed, coupling = loss_envelope_slope(4, 0.5, 0.9, 400, 1400)
    assert fixed == pytest.approx(np.log10(0.9), rel=1e-12)
    assert slope == pytest.approx(fixed, rel=1e-3) and coupling > 10
    with pytest.raises(ValueError, match="stop"):
        loss_envelope_slope(4, 0.5, 0.9, 400, 410)
