"""``dynsys verify``: every claim of math.md runs, passes and is reported in the documented formats."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy as sp

from dynsys.cli import main
from dynsys.cli.verify import JSON_KEYS
from theory import registry
from theory.registry import Claim, Derivation, Measurement

MATH_MD_IDS = ([f"A{i}" for i in range(1, 7)] + [f"D{i}" for i in range(1, 15)] + ["E1", "E2", "E3", "F1", "F2"]
               + [f"C{i}" for i in range(1, 5)])
#: claims the toolkit adds beyond math.md (theory/regime_boundaries.py: why D12's II/III boundary is approximate;
#: theory/periodic_orbits.py: the periodic orbits the phases past it sit on;
#: theory/conservative_line.py: the decoupled map is area-preserving on the I/II line;
#: theory/coupled_cycles.py: the stable coupled cycles Thm 6.1 leaves out)
TOOLKIT_IDS = ["D15", "D16", "D17", "D18", "D19"]


def _dynsys(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "dynsys", "verify", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def full_run():
    return _dynsys("--json")


def test_every_claim_passes(full_run):
    assert full_run.returncode == 0, full_run.stderr[-2000:]
    rows = json.loads(full_run.stdout)
    by_id = {row["id"]: row for row in rows}
    assert sorted(by_id) == sorted(MATH_MD_IDS + TOOLKIT_IDS)
    for row in rows:
        assert set(JSON_KEYS) <= set(row), row.keys()
        assert set(row) - set(JSON_KEYS) <= {"seconds", "detail", "error"}
        assert row["passed"] is True and row["symbolic"] is True and row["numeric"] is True, row
        assert row["predicted"] is not None and row["measured"] is not None
        assert row["seconds"] >= 0


def test_only_one_claim_json():
    res = _dynsys("--only", "D5", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == ["D5"]
    assert rows[0]["paper"] == "adam-degenerate-polynomials"
    pred = [float(v) for v in rows[0]["predicted"].split(";")]
    meas = [float(v) for v in rows[0]["measured"].split(";")]
    assert meas == pytest.approx(pred, rel=1e-6)  # slope of ln L = k ln(b2)/(2(k-2)), k = 4, 6, 8


def test_markdown_has_latex(tmp_path, capsys):
    out = tmp_path / "theory.md"
    assert main(["verify", "--only", "D10", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "dynsys verify --markdown" in text.splitlines()[2]
    assert "## D10" in text
    # sympy.latex of the effective-sharpness map gamma s (1-s)^(k-2) (Eq. 18) and of gamma* = (k/(k-2))^(k-2)
    k, s, g = sp.Symbol("k", positive=True, integer=True), sp.Symbol("s"), sp.Symbol("gamma", positive=True)
    assert sp.latex(g * s * (1 - s) ** (k - 2)) in text
    assert sp.latex(k ** (k - 2) * (k - 2) ** (2 - k)) in text
    assert "$$" in text and "predicted" in text and "measured" in text
    assert "D10" in capsys.readouterr().out


def test_paper_filter(capsys):
    assert main(["verify", "--paper", "llm-loss-spike-does-not-exist"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--paper" in err[0]


def test_unknown_claim_exits_2():
    res = _dynsys("--only", "XX", timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "XX" in lines[0] and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_failing_claim_exits_1(capsys):
    registry.all_claims()  # load the paper modules first

    def derive():
        return Derivation(passed=True, steps=[("1 + 1", 2)])

    def measure(d):
        return Measurement(predicted=2.0, measured=3.0, passed=False, detail="deliberately wrong")

    registry.register(Claim(id="Z99", paper="test", statement="deliberately failing", derive=derive, measure=measure))
    try:
        status = main(["verify", "--only", "Z99,D8", "--json"])
        rows = json.loads(capsys.readouterr().out)
    finally:
        del registry._REGISTRY["Z99"]
    assert status == 1
    by_id = {r["id"]: r for r in rows}
    assert by_id["Z99"]["passed"] is False and by_id["Z99"]["numeric"] is False
    assert by_id["D8"]["passed"] is True
    assert "Z99" not in {c.id for c in registry.all_claims()}


def test_closed_pipe_ends_quietly():
    """`dynsys verify --json | head -c 0`: the reader has left before the output; no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dynsys", "verify", "--only", "D8,D5,A4", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the claims finish: the write meets a closed pipe
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert "Traceback" not in err, err
